"""Prometheus metrics of one service instance (its own registry, so test apps never collide).

With several server processes (``statcoder serve --workers N``), ``PROMETHEUS_MULTIPROC_DIR``
is set and every process writes its values to files there; ``render`` then sums all
processes (Prometheus' multiprocess mode), so ``/metrics`` is right whichever process answers.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    """Return the Prometheus multiprocess directory, or None in single-process mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServiceMetrics:
    """Request counts, latency histograms, records coded by decision, job chunk counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "statcoder_http_requests", "HTTP requests by route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "statcoder_http_request_duration_seconds", "HTTP request latency (s) by route template.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        # No project label: /metrics is unauthenticated and must not list the tenants.
        self.records = Counter(
            "statcoder_records_coded", "Records coded, by decision and path (sync/job).",
            ["decision", "via"], registry=self.registry,
        )
        self.job_chunks = Counter(
            "statcoder_job_chunks", "Job chunks committed to the store.", registry=self.registry,
        )
        self.model_calls = Histogram(
            "statcoder_model_call_records", "Records per model call of POST /code (micro-batches).",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.model_seconds = Counter(
            "statcoder_model_call_seconds", "Wall time spent in model calls of POST /code (s).",
            registry=self.registry,
        )
        self.cpu_reserve_holds = Counter(
            "statcoder_cpu_reserve_holds", "Times a busy project's next POST /code request was held back "
            "by the CPU reserve for a light project (STATCODER_PROJECT_CPU_CONTENDED).", registry=self.registry,
        )
        self.models_loaded = Gauge(
            "statcoder_models_loaded", "Model versions held in memory (summed over live processes).",
            registry=self.registry, multiprocess_mode="livesum",
        )

    def count_decisions(self, decisions: dict[str, int], via: str) -> None:
        """Add ``decisions`` (decision -> number of records) to the records counter."""
        for decision, n in decisions.items():
            if n:
                self.records.labels(decision, via).inc(n)

    def model_call(self, records: int, seconds: float) -> None:
        """Count one (micro-batched) model call of ``records`` records that took ``seconds``."""
        self.model_calls.observe(records)
        self.model_seconds.inc(seconds)

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text exposition format (all processes when several)."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)

    @staticmethod
    def process_exited(pid: int | None = None) -> None:
        """Drop a finished process's live gauges from the multiprocess files (no-op otherwise)."""
        directory = multiprocess_dir()
        if directory is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid(), directory)
