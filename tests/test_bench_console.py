"""``bench.console`` measures what it says: its ledger lies where the dashboard's periods are,
its percentiles are nearest-rank, and one tiny run of ``python -m bench.console`` (SQLite, a
real ``gateway serve``, signed in through the form) times the dashboard from its
``Server-Timing`` header and reports a page this branch lacks as absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import console as bench
from bench.checks import ROOT


def test_the_ledger_fills_the_month_up_to_now_and_the_month_before() -> None:
    at = bench.instants(5000)
    assert at == sorted(at)
    month_start = bench.NOW.replace(day=1, hour=0, minute=30)
    in_month = [t for t in at if t >= month_start]
    assert len(in_month) == 4500 and min(at).month == 10
    assert max(at) < bench.NOW
    assert any(t.astimezone(bench.PARIS).date() == bench.NOW.date() for t in at)  # today too
    rows = [row for row, _ in bench.ledger("ten_x", 3000)]
    cols = bench.ATTEMPT_COLUMNS
    decisions = Counter(r[cols.index("decision")] for r in rows)
    assert 0.3 < decisions["deny"] / len(rows) < 0.46
    assert sum(r[cols.index("callee")] == bench.HOT for r in rows) >= 3
    assert any(r[cols.index("dialled_despite_deny")] for r in rows)
    statuses = Counter(r[cols.index("outcome_status")] for r in rows)
    assert statuses["answered"] and statuses["unassigned"] and statuses[None]


def test_percentiles_are_nearest_rank() -> None:
    q = bench.percentiles([float(x) for x in range(1, 101)])
    assert (q["p50"], q["p95"], q["max"], q["n"]) == (50.0, 95.0, 100.0, 100)
    assert bench.percentiles([])["p95"] is None


def test_a_tiny_run_times_the_dashboard(tmp_path: Path) -> None:
    out = tmp_path / "console.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.console", "--attempts", "3000", "--backends", "sqlite",
         "--n", "3", "--warmup", "1", "--seal-n", "1", "--wait-quiet", "0", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    sqlite = results["backends"]["sqlite"]
    assert "error" not in sqlite, sqlite
    assert sqlite["seed"]["attempts"] == 3000
    pages = sqlite["pages"]
    dash = pages["dashboard"]
    assert dash["statuses"] == {"200": 3}
    assert dash["server_ms"]["n"] == 3 and 0 < dash["server_ms"]["p50"] <= dash["server_ms"]["max"]
    assert dash["client_ms"]["p50"] >= dash["server_ms"]["p50"]
    assert pages["seal_panel"]["statuses"] == {"200": 1}
    assert pages["healthz"]["client_p50_over_healthz"] == 1.0
    for name in ("attempts", "attempts_filtered", "investigation"):
        p = pages[name]
        assert p["absent"] or p["statuses"] == {"200": 3}, (name, p)
    assert "load_before" in dash and len(dash["load_before"]["loadavg"]) == 3
