"""Prometheus metrics: requests, task durations and failures, queue depth, and the durations of runs
(pricing runs, payment runs, ingests are tasks: their durations are the task histograms by name).

With several processes (gunicorn workers, Celery's prefork pool) set PROMETHEUS_MULTIPROC_DIR to an
empty directory shared by the processes of one host: each writes its figures there and the scrape
adds them up (docs/operations.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUESTS = Counter(
    "carebundle_http_requests_total", "Requests answered, by route and status", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "carebundle_http_request_duration_seconds",
    "Time to answer a request, by route",
    ["method", "route"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TASK_RUNS = Counter("carebundle_task_runs_total", "Celery task runs, by task and outcome", ["task", "state"])
TASK_SECONDS = Histogram(
    "carebundle_task_duration_seconds",
    "Time a Celery task ran, by task (a pricing or payment run is its task)",
    ["task"],
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class QueueDepthCollector(Collector):
    """Messages waiting in each Celery queue, read from the broker at scrape time (Redis keeps a
    queue as a list; the embedded filesystem broker has no queues worth watching)."""

    def __init__(self, broker_url: str, queues: list[str]):
        self.broker_url = broker_url
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "carebundle_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        if self.broker_url.startswith(("redis://", "rediss://")):
            import redis

            try:
                client = redis.Redis.from_url(self.broker_url, socket_timeout=1, socket_connect_timeout=1)
                for queue in self.queues:
                    gauge.add_metric([queue], client.llen(queue))
            except redis.RedisError:
                pass  # the scrape still answers; readiness (/readyz) is where a broker outage shows
        yield gauge


def exposition(broker_url: str, queues: list[str]) -> bytes:
    """The text a Prometheus scrape reads: this process's figures (or every process's, in multiprocess
    mode) and the queues' depth."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    queues_registry = CollectorRegistry()
    queues_registry.register(QueueDepthCollector(broker_url, queues))
    return generate_latest(registry) + generate_latest(queues_registry)


def serve(port: int) -> None:
    """A worker's own /metrics on ``port`` (a thread of the worker's main process), adding up its
    pool's processes in multiprocess mode."""
    from prometheus_client import start_http_server

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        start_http_server(port, registry=registry)
    else:
        start_http_server(port)
