"""Prometheus metrics of one server (its own registry, so several apps in one process do not mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Request counts by model / api / HTTP code, latency histogram, batch sizes, open sessions."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("kerasless_serve_requests", "Requests answered", ["model", "api", "code"],
                                registry=self.registry)
        self.latency = Histogram("kerasless_serve_request_latency_seconds", "Time from request to answer",
                                 ["model", "api"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("kerasless_serve_batch_size", "Rows per predict run", ["model"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.sessions = Gauge("kerasless_serve_sessions", "Open streaming sessions", registry=self.registry)

    def observe(self, model: str, api: str, code: int, seconds: float) -> None:
        self.requests.labels(model, api, str(code)).inc()
        self.latency.labels(model, api).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
