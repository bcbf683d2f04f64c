"""Prometheus metrics. With several worker processes, ``gateway serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` so that /metrics aggregates every worker."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

CHECKS = Counter("gateway_checks_total", "Calls checked, by decision", ["decision"])
REASONS = Counter("gateway_reasons_total", "Reasons returned by checks", ["code", "severity"])
CHECK_SECONDS = Histogram(
    "gateway_check_seconds", "Time to decide and log one check",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
OUTCOMES = Counter("gateway_outcomes_total", "Call outcomes reported", ["status"])


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
