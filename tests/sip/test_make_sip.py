"""``make sip`` (``python -m cluster.sip``): the proxy a newcomer starts by hand in front of
``make run``'s gateway, and the sipp command it prints, placing a real call through it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cluster.sip import free_udp_port
from tests.factories import CALLEE, add_consent, make_tenant
from tests.integration.conftest import Server
from tests.sip.conftest import _require_tools, attempts

ROOT = Path(__file__).resolve().parents[2]


def test_make_sip_starts_a_proxy_and_the_printed_command_places_a_call(
        live: Server, tmp_path: Path) -> None:
    _require_tools()
    with httpx.Client(base_url=live.base_url, timeout=10) as http:
        tenant = make_tenant(http, "Démo SIP")
        add_consent(tenant, CALLEE)
    port, carrier = free_udp_port(), free_udp_port()
    out = tmp_path / "out.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.sip", "--gateway", live.base_url,
             "--key", tenant.dialer, "--port", str(port), "--carrier-port", str(carrier),
             "--timeout-ms", "3000"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "sipp -sf" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        (command,) = [line for line in out.read_text().splitlines() if "sipp -sf" in line]
        argv = shlex.split(command)
        argv[argv.index("-d") + 1] = "0"  # hang up at once
        call = subprocess.run(argv + ["-nostdin", "-message_file", str(tmp_path / "m.log")],
                              cwd=tmp_path, capture_output=True, timeout=30)
        assert call.returncode == 0, (call.stdout[-2000:], out.read_text())
        (attempt,) = attempts()
        assert (attempt.decision, attempt.callee, attempt.campaign_id) == (
            "allow", CALLEE, "spring-2026")
        assert f"X-Attempt-Id: {attempt.id}" in (tmp_path / "m.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0, out.read_text()
