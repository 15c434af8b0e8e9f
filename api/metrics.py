"""Prometheus metrics: request counts and latencies per endpoint, and what the index holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

disable_created_metrics()  # `*_created` samples only add noise to a scrape

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class IndexCollector(Collector):
    """Read the index sizes at scrape time, so they are never stale."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        """Keep the function that reports the current counts."""
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        """Yield one gauge per count (documents, sentences, passages, vectors)."""
        try:
            counts = self.counts()
        except Exception:  # noqa: BLE001 - before start-up or mid-shutdown: report nothing
            return
        for name, value in counts.items():
            yield GaugeMetricFamily(f"verbatim_index_{name}", f"Indexed {name}.", value=value)

    def describe(self) -> list[Metric]:
        """Declare nothing up front so registering never calls `collect` early."""
        return []


class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        """Create the request metrics and hook up the index gauges."""
        self.registry = CollectorRegistry()
        self.requests = Counter("verbatim_http_requests", "HTTP requests by endpoint and status.",
                                ["method", "endpoint", "status"], registry=self.registry)
        self.latency = Histogram("verbatim_http_request_duration_seconds",
                                 "Time to answer HTTP requests, by endpoint.",
                                 ["method", "endpoint"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.registry.register(IndexCollector(counts))

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(method, endpoint, str(status)).inc()
        self.latency.labels(method, endpoint).observe(seconds)
