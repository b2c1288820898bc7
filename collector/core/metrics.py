"""Prometheus metrics of one collector app, in a registry of its own (tests build many apps).

Ingest rate is `rate(crenel_ingest_measurements_total[1m])`; queue depth, commit latency and
errors are exported as gauges, histograms and counters; blocking per country as gauges that
`report_gauges.ReportGauges` refreshes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROW_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)


class Metrics:
    """Every metric the collector exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "crenel_http_requests", "HTTP requests answered.", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "crenel_http_request_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "crenel_http_errors", "Error responses by error code.", ["code"], registry=r
        )
        self.ingested = Counter(
            "crenel_ingest_measurements",
            "Measurements uploaded: stored, duplicate (already stored) or rejected.",
            ["result"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "crenel_ingest_queue_depth", "Measurements waiting for the writer.", registry=r
        )
        self.commit_seconds = Histogram(
            "crenel_ingest_commit_seconds",
            "Time of one group commit (insert and fsync).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_rows = Histogram(
            "crenel_ingest_commit_rows",
            "Measurements per group commit.",
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.analysis_pending = Gauge(
            "crenel_analysis_pending",
            "Stored measurements the collector has not analysed (yet or again).",
            registry=r,
        )
        self.analysed = Counter(
            "crenel_analysed_measurements", "Measurements analysed by the collector.", registry=r
        )
        self.rate_limited = Counter(
            "crenel_rate_limited_requests", "Requests refused by the per-source limits.", registry=r
        )
        self.geo_mismatches = Counter(
            "crenel_geo_mismatch_measurements",
            "Measurements whose claimed network disagrees with the uploader's address.",
            registry=r,
        )

        self.report_domains = Gauge(
            "crenel_report_domains",
            "Domains per regional verdict (blocked, mixed) in each country over the last 7 days.",
            ["cc", "verdict"],
            registry=r,
        )
        self.report_measurements = Gauge(
            "crenel_report_measurements",
            "Analysed measurements per country over the last 7 days.",
            ["cc"],
            registry=r,
        )
        self.report_answers = Counter(
            "crenel_report_answers",
            "Country reports asked for, by how they were answered: cached (rollups unchanged "
            "since the report was built) or built.",
            ["answer"],
            registry=r,
        )
        self.report_refreshed = Gauge(
            "crenel_report_refreshed_timestamp_seconds",
            "When the report gauges were last computed (Unix time).",
            registry=r,
        )

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
