"""Acceptance: an alert raised through the service reaches a webhook by the server's own
deliverer threads — ``gateway serve --workers 2``, SQLite and PostgreSQL — signed, and once.

The test process only writes the alert (as a monitor would) and never delivers anything
itself: the POST the local receiver gets can only come from a worker's deliverer thread. The
server's operator allows 127.0.0.1 (``GATEWAY_WEBHOOK_ALLOW`` in ``conftest.server``), where
the receivers listen; nothing else internal.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
import pytest

from app.alerts.service import raise_alert
from app.config import get_settings
from app.db import write_transaction
from tests.api.test_alerts import Receiver, readme_verify
from tests.factories import auth, make_tenant
from tests.integration.conftest import FROZEN_NOW, Server

pytestmark = pytest.mark.integration


def test_an_alert_reaches_its_webhook_through_the_workers_deliverer_signed_and_once(
    live: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_FROZEN_NOW", FROZEN_NOW)  # the server's clock, here too
    get_settings.cache_clear()
    verify = readme_verify()
    with httpx.Client(base_url=live.base_url, timeout=30) as client, Receiver() as receiver:
        tenant = make_tenant(client, "Acme")
        r = client.post("/v1/webhooks", json={"url": receiver.url, "description": "SOC"},
                        headers=auth(tenant.admin))
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]

        with write_transaction() as conn:
            raised = raise_alert(conn, tenant_id=tenant.id, monitor="attempts_per_minute",
                                 scope="campaign:spring-2026", action="throttle", value=180,
                                 threshold=120, window="1m", details={"per_minute": 180})

        deadline = time.monotonic() + 15
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, f"nothing delivered in 15 s\n{live.stderr()[-3000:]}"

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            log = client.get(f"/v1/alerts/{raised['id']}", headers=auth(tenant.compliance))
            assert log.status_code == 200, log.text
            if log.json()["deliveries"][0]["state"] != "pending":
                break
            time.sleep(0.05)
        time.sleep(1.5)  # three more polls of each worker: nothing is sent twice

        (request,) = receiver.requests
        (delivery,) = log.json()["deliveries"]
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == (
        "delivered", 1, 200)
    assert request["headers"]["x-gateway-delivery"] == delivery["id"]
    assert request["headers"]["x-gateway-event"] == "alert"
    assert json.loads(request["body"]) == raised
    at = datetime.fromisoformat(FROZEN_NOW).timestamp()
    signature = request["headers"]["x-gateway-signature"]
    assert verify(secret, signature, request["body"], now=at)
    assert not verify(secret + "x", signature, request["body"], now=at)


def test_the_server_refuses_internal_targets_and_its_workers_follow_no_redirect(
    live: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real server (its operator allows 127.0.0.1 only, for the local receivers): an
    internal target is a 422 naming ``url``; a receiver answering "302, go to <an internal
    service>" is not followed by the workers' deliverer, and the tenant sees the 302."""
    monkeypatch.setenv("GATEWAY_FROZEN_NOW", FROZEN_NOW)
    get_settings.cache_clear()
    with httpx.Client(base_url=live.base_url, timeout=30) as client, \
            Receiver() as internal, Receiver(then=302, location=internal.url) as moved:
        tenant = make_tenant(client, "Acme")
        for url in ("https://169.254.169.254/latest/meta-data/", "https://[::1]/hook",
                    "https://10.0.0.1/hook", "https://[::ffff:10.0.0.1]/hook",
                    "http://1.2.3.4/hook", "https://u:p@1.2.3.4/hook"):
            r = client.post("/v1/webhooks", json={"url": url}, headers=auth(tenant.admin))
            assert r.status_code == 422, (url, r.text)
            assert "url" in r.text
        r = client.post("/v1/webhooks", json={"url": moved.url}, headers=auth(tenant.admin))
        assert r.status_code == 201, r.text

        with write_transaction() as conn:
            raised = raise_alert(conn, tenant_id=tenant.id, monitor="denied_share",
                                 scope="tenant", action="notice", value=0.6, threshold=0.5,
                                 window="1h")
        deadline = time.monotonic() + 15
        entry: dict[str, object] = {}
        while time.monotonic() < deadline:
            log = client.get(f"/v1/alerts/{raised['id']}", headers=auth(tenant.compliance))
            (entry,) = log.json()["deliveries"]
            if entry["attempts"]:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        assert moved.requests, f"nothing delivered in 15 s\n{live.stderr()[-3000:]}"
        assert internal.requests == []
    assert (entry["state"], entry["last_status"], entry["last_error"]) == (
        "pending", 302, "HTTP 302 (redirects are not followed)")
