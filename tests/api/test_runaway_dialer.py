"""The issue's scenario: a runaway dialer loop hammering 1,000 invalid numbers is throttled by
the denied-share monitor, then suspended by the penalties monitor, and both alerts reach the
tenant's webhook (a real local HTTP server), signed — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.alerts.delivery import deliver_due
from app.config import get_settings
from app.monitors import service
from tests.api.conftest import codes
from tests.factories import Tenant, auth

T0 = datetime.fromisoformat("2026-11-23T10:30:00+01:00")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    monkeypatch.setenv("GATEWAY_WEBHOOK_ALLOW", "127.0.0.1")  # the operator allows it
    get_settings.cache_clear()
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/gateway", got
    server.shutdown()
    server.server_close()


def verified(secret: str, request: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The README's recipe: HMAC-SHA256 of "<t>.<body>", t within 5 minutes."""
    fields = dict(p.split("=", 1) for p in request["headers"]["X-Gateway-Signature"].split(","))
    t = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + request["body"],
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert abs(now.timestamp() - t) <= 300
    return json.loads(request["body"])


def test_a_runaway_dialer_is_throttled_then_suspended_and_told(
    tenant: Tenant, freeze: Callable[[str], None],
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    r = tenant.post("/v1/webhooks", {"url": url, "description": "NOC"})
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    r = tenant.client.patch("/v1/policy", headers=auth(tenant.admin), json={"monitors": {
        "denied_share": {"min_events": 100},  # default threshold 0.5 → throttle
        "penalties_per_day": {"threshold": 10},  # € → suspend
    }})
    assert r.status_code == 200, r.text
    invalid = [f"+3369{i:04d}" for i in range(1_000)]  # too short: CALLEE_INVALID
    seen: list[set[str]] = []
    for i, number in enumerate(invalid):
        now = T0 + timedelta(milliseconds=30 * i)  # 1,000 attempts in 30 s
        freeze(now.isoformat())
        decision = tenant.check(callee=number).json()
        assert decision["decision"] == "deny"
        seen.append(set(codes(decision)))
        if i % 100 == 99:  # the monitors' process, every few seconds
            service.tick(now=now + timedelta(milliseconds=1))
    throttled = next(i for i, c in enumerate(seen) if "RATE_THROTTLED" in c)
    suspended = next(i for i, c in enumerate(seen) if "TENANT_SUSPENDED" in c)
    assert throttled == 100  # right after the first turn that saw 100 attempts
    assert 500 < suspended <= 600  # €0.02 each: past €10 at the 501st
    assert all("RATE_THROTTLED" in c for c in seen[throttled:suspended])
    assert all("TENANT_SUSPENDED" in c for c in seen[suspended:])

    alerts = tenant.get("/v1/alerts").json()["items"]
    assert sorted((a["monitor"], a["scope"], a["action"]) for a in alerts) == [
        ("denied_share", "campaign:spring-2026", "throttle"),
        ("denied_share", "tenant", "throttle"),
        ("penalties_per_day", "tenant", "suspend")]
    assert alerts[0]["action"] == "suspend"  # newest first
    deliver_due(now=T0 + timedelta(seconds=31))  # (the app's deliverer thread may be first)
    deadline = time.monotonic() + 10
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(received) == 3  # each alert delivered once
    bodies = [verified(secret, req, T0 + timedelta(seconds=31)) for req in received]
    assert sorted(b["action"] for b in bodies) == ["suspend", "throttle", "throttle"]
    assert {b["tenant"] for b in bodies} == {tenant.id}
    with pytest.raises(AssertionError):  # a wrong secret does not verify
        verified("not-the-secret", received[0], T0 + timedelta(seconds=31))
