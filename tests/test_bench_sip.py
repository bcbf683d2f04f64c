"""``bench.sip`` measures what it says: its trace parser on a fixed sipp trace, and one short
run of ``python -m bench.sip --quick --backends sqlite`` (gateway, Kamailio, sipp, the stub)
whose results file has both paths measured with sane figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sip import ROOT, parse_calls, percentiles, step_passes, summarize
from cluster.sip import kamailio_binary, sipp_binary

SEP = "-" * 47


def _block(stamp: str, direction: str, first: str, call_id: str, cseq: str) -> str:
    what = "UDP message sent (300 bytes):" if direction == "sent" else \
        "UDP message received [300] bytes :"
    return (f"{SEP} 2026-12-04 01:25:{stamp}\n{what}\n\n{first}\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\nCall-ID: {call_id}\n"
            f"CSeq: {cseq}\nContent-Length: 0\n\n\n")


def test_a_call_is_timed_from_its_first_invite_to_its_first_final_response(
        tmp_path: Path) -> None:
    trace = tmp_path / "uac-messages.log"
    trace.write_text("".join([
        _block("18.000000", "sent", "INVITE sip:+33611111111@127.0.0.1 SIP/2.0", "a", "1 INVITE"),
        _block("18.001000", "received", "SIP/2.0 100 trying", "a", "1 INVITE"),
        _block("18.500000", "sent", "INVITE sip:+33611111111@127.0.0.1 SIP/2.0", "a", "1 INVITE"),
        _block("18.004500", "received", "SIP/2.0 200 OK", "a", "1 INVITE"),
        _block("18.005000", "received", "SIP/2.0 200 OK", "a", "1 INVITE"),  # retransmitted
        _block("18.006000", "sent", "BYE sip:carrier@127.0.0.1 SIP/2.0", "a", "2 BYE"),
        _block("18.007000", "received", "SIP/2.0 200 OK", "a", "2 BYE"),
        _block("18.020000", "sent", "INVITE sip:+33622222222@127.0.0.1 SIP/2.0", "b", "1 INVITE"),
        _block("18.520000", "received", "SIP/2.0 503 Service Unavailable", "b", "1 INVITE"),
        _block("18.040000", "sent", "INVITE sip:+33633333333@127.0.0.1 SIP/2.0", "c", "1 INVITE"),
    ]))
    a, b, c = parse_calls(trace)
    # the 100 Trying, the retransmitted INVITE and 200, and the BYE's 200 do not count
    assert (a.status, round(a.ms, 3)) == (200, 4.5)
    assert (b.status, round(b.ms, 3)) == (503, 500.0)
    assert (c.status, c.ms) == (None, None)  # no final response: counted, not timed
    s = summarize([a, b, c], warmup_s=0.0, rate=50.0)
    assert s["finals"] == {"200": 1, "403": 0, "503": 1, "other": 0, "none": 1}
    assert s["latency_ms"]["n"] == 2 and s["latency_ms"]["max"] == 500.0
    assert s["ok_share"] == pytest.approx(1 / 3, abs=1e-3)
    # a step with a third of its calls refused does not pass, whatever its latency
    assert not step_passes(s, budget_ms=500)


def test_percentiles_are_nearest_rank() -> None:
    q = percentiles([float(x) for x in range(1, 101)])
    assert (q["p50"], q["p90"], q["p99"], q["max"]) == (50.0, 90.0, 99.0, 100.0)
    assert percentiles([])["p50"] is None


@pytest.mark.slow
@pytest.mark.integration
def test_a_quick_run_measures_both_paths_and_a_hung_gateway(tmp_path: Path) -> None:
    missing = [n for n, b in (("kamailio", kamailio_binary()), ("sipp", sipp_binary())) if not b]
    if missing:
        reason = f"{', '.join(missing)} not installed (.ci/run installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true bench.sip's test never skips: {reason}", pytrace=False)
        pytest.skip(reason)
    out = tmp_path / "sip.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.sip", "--quick", "--backends", "sqlite", "--steps", "50",
         "--hung-s", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=150,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads(out.read_text())
    lat = results["backends"]["sqlite"]["latency"]
    stub, gateway = lat["stub"], lat["gateway"]
    for path in (stub, gateway):
        q = path["latency_ms"]
        assert q["n"] >= 100, q  # 3 s at 50 calls/s after the warm-up
        assert 0 < q["p50"] <= q["p90"] <= q["p99"] <= q["max"] < 500, q
    # every call through the gateway was allowed and answered by the carrier: like for like
    assert gateway["finals"]["200"] == sum(gateway["finals"].values()) >= 150, gateway
    assert stub["finals"]["200"] == sum(stub["finals"].values()) >= 150, stub
    assert lat["added_ms"]["p50"] == pytest.approx(
        gateway["latency_ms"]["p50"] - stub["latency_ms"]["p50"], abs=1e-3)
    assert results["backends"]["sqlite"]["callees"]["allowed_callees"] > 0
    cap = results["backends"]["sqlite"]["capacity"]
    assert [s["offered_per_s"] for s in cap["gateway"]["steps"]] == [50.0]
    assert cap["stub"]["sustained_per_s"] == 50.0, cap["stub"]
    for run in lat["rounds"]:
        assert run["machine_busy_before"] >= 0
        if run["mode"] == "gateway":  # every call in the ledger, answered, its outcome in
            assert run["ledger"] == {"allow/counted/answered": run["calls"]}, run
            assert run["phantom_attempts"] == 0
    # the gateway hangs: every INVITE ends 503 at about the 500 ms budget, and the SIP
    # workers still answer OPTIONS at once meanwhile
    for v in results["hung"]["variants"]:
        assert v["finals"]["503"] == v["calls"] >= 30, v
        assert 450 <= v["invite_to_503_ms"]["p50"] <= v["invite_to_503_ms"]["max"] < 1000, v
        assert v["options_during_ms"]["n"] > 20 and v["options_during_ms"]["p50"] < 50, v
    assert {v["check_workers"] for v in results["hung"]["variants"]} == {8, 1}
