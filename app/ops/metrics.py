"""Prometheus metrics. With several worker processes, ``gateway serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` so that /metrics aggregates every worker."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
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

# BLOCTEL: the list in force (set at scrape time from the database) and, per worker, the
# version held in memory (a worker stuck on an old version shows here).
BLOCTEL_AGE = Gauge(
    "gateway_bloctel_list_age_days",
    "Age of the BLOCTEL list in force: days from its as_of to today (Paris); stale above 30",
    multiprocess_mode="livemostrecent",
)
BLOCTEL_STALE = Gauge(
    "gateway_bloctel_list_stale", "1 when the BLOCTEL list is missing or older than 30 days",
    multiprocess_mode="livemostrecent",
)
BLOCTEL_NUMBERS = Gauge(
    "gateway_bloctel_numbers", "Numbers on the BLOCTEL list in force",
    multiprocess_mode="livemostrecent",
)
BLOCTEL_VERSION = Gauge(
    "gateway_bloctel_active_version", "BLOCTEL version in force (0: none)",
    multiprocess_mode="livemostrecent",
)
# gateway_bloctel_index_version (per worker) is declared where it is set: app.bloctel.lookup


def _observe_bloctel() -> None:
    from app.bloctel import status

    try:
        s = status.current()
    except Exception:  # the database is away: /readyz says so; keep the last values
        return
    BLOCTEL_AGE.set(s["age_days"] if s["age_days"] is not None else float("nan"))
    BLOCTEL_STALE.set(1 if s["stale"] else 0)
    BLOCTEL_NUMBERS.set(s["total_numbers"])
    BLOCTEL_VERSION.set(s["version"] or 0)


def render() -> tuple[bytes, str]:
    _observe_bloctel()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
