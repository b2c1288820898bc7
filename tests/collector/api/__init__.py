"""Tests of the collector's HTTP API."""
