"""``bench.capacity.plan``: the planning arithmetic that docs/operations.md quotes, on fixed
inputs (no measurement, no server)."""

from __future__ import annotations

import math

import pytest

from bench.capacity import plan

MEASURED = {
    "worker_cpu_ms": 2.0,  # 500 checks/s per worker core
    "pg_cpu_ms": 1.0,  # 1,000 checks/s per PostgreSQL core
    "worker_blocked_ms": 2.0,  # a worker serves 1 / (2 + 2 ms) = 250 checks/s
    "table_bytes": 1_000.0,
    "wal_bytes_steady": 2_000.0,
    "wal_bytes_after_checkpoint": 4_000.0,
}


def test_per_core_figures_and_storage_per_million() -> None:
    p = plan(MEASURED)
    assert p["checks_per_s_per_worker_core"] == pytest.approx(500)
    assert p["checks_per_s_per_worker"] == pytest.approx(250)
    assert p["checks_per_s_per_pg_core"] == pytest.approx(1_000)
    assert p["storage_gb_per_million_attempts"] == pytest.approx(1.0)
    assert p["wal_gb_per_million_attempts"] == pytest.approx(
        {"steady": 2.0, "after_checkpoint": 4.0})


def test_sizing_at_500_checks_per_second() -> None:
    x = plan(MEASURED)["rates"][500]
    # 500/s × 4 ms of a worker's time = 2 busy workers; at 55 % each: 3.6 → 4 workers
    assert x["workers"] == 4
    assert x["replicas"] == 2 and x["replica_cores"] == 4
    assert x["pg_cores_busy"] == pytest.approx(0.5)
    assert x["pg_cores"] == 1
    # 9 calling hours a day: 16.2 M attempts, 16.2 GB; 250 days; 3 years' retention
    assert x["attempts_per_day"] == pytest.approx(16_200_000)
    assert x["storage_gb_per_day"] == pytest.approx(16.2)
    assert x["storage_gb_per_year"] == pytest.approx(4_050)
    assert x["storage_gb_at_retention"] == pytest.approx(12_150)
    assert x["wal_mb_per_s"] == pytest.approx({"steady": 1.0, "after_checkpoint": 2.0})
    assert x["wal_gb_per_day"] == pytest.approx({"steady": 32.4, "after_checkpoint": 64.8})


def test_sizing_at_50000_checks_per_second() -> None:
    x = plan(MEASURED)["rates"][50_000]
    assert x["workers"] == math.ceil(200 / 0.55) == 364
    assert x["replicas"] == 182
    assert x["pg_cores"] == math.ceil(50 / 0.55) == 91


@pytest.mark.parametrize("blocked", [0.0, 0.5, 2.0, 10.0])
@pytest.mark.parametrize("rate", [500, 5_000, 50_000])
def test_sized_cores_run_at_or_under_the_target_utilisation(blocked: float, rate: int) -> None:
    p = plan(MEASURED | {"worker_blocked_ms": blocked}, rates=(rate,), utilisation=0.6)
    x = p["rates"][rate]
    assert x["worker_cpu_utilisation"] <= 0.6
    assert x["pg_cores_busy"] / x["pg_cores"] <= 0.6
    # each worker busy (CPU or waiting on the database) at most 60 % of the time
    assert rate * (2.0 + blocked) / 1000 / x["workers"] <= 0.6


def test_without_blocking_the_cores_decide() -> None:
    x = plan(MEASURED | {"worker_blocked_ms": 0.0})["rates"][5_000]
    assert x["worker_cores_busy"] == pytest.approx(10.0)
    assert x["workers"] == math.ceil(10 / 0.55) == 19
    assert x["replicas"] == 10
