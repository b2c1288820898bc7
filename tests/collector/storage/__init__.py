"""Tests of the collector's storage."""
