"""Alerts and webhooks: ``raise_alert`` stores and queues, the deliverer signs, retries with
back-off and gives up, concurrent deliverers never send twice, and the API keeps tenants apart.

Deliveries go to a real HTTP server on 127.0.0.1 (``Receiver``), and signatures are checked
with the recipe printed in the README (executed from it, so the README cannot drift). The
server's own deliverer thread is switched off here: the tests call ``deliver_due(now=…)`` to
step through the back-off on a fixed clock.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app import db as app_db
from app.alerts import targets
from app.alerts.delivery import backoff_s, deliver_due, new_client
from app.alerts.models import Alert, WebhookDelivery
from app.alerts.service import raise_alert
from app.config import Settings, get_settings
from app.db import get_engine, write_transaction
from tests.factories import Tenant, auth

README = Path(__file__).resolve().parents[2] / "README.md"
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # the api tests' frozen Monday, 10:30 in Paris


def readme_verify() -> Callable[..., bool]:
    """``verify`` as the README's *Alerts and webhooks* section prints it."""
    text = README.read_text()
    section = text[text.index("## Alerts and webhooks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the README has no verification recipe"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


class Receiver:
    """A real HTTP server on 127.0.0.1 recording every POST; it answers the statuses of
    ``plan`` in turn (then ``then``), after ``delay_s``."""

    def __init__(self, plan: list[int] | None = None, then: int = 200, delay_s: float = 0.0,
                 location: str | None = None):
        self.plan, self.then, self.delay_s = list(plan or []), then, delay_s
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "body": body,
                         "headers": {k.lower(): v for k, v in self.headers.items()}})
                    status = receiver.plan.pop(0) if receiver.plan else receiver.then
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def deliveries(self) -> list[str]:
        with self.lock:
            return [r["headers"]["x-gateway-delivery"] for r in self.requests]


LOCAL = "127.0.0.1"  # the operator's allow-list in these tests: the local receivers
PUBLIC = "1.2.3.4"  # a public address the fake resolver gives the tests' example names


@pytest.fixture(autouse=True)
def no_deliverer_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests drive ``deliver_due`` themselves (before ``client`` starts the app), and
    the operator allows the local receivers (``GATEWAY_WEBHOOK_ALLOW``)."""
    monkeypatch.setenv("GATEWAY_WEBHOOK_POLL_S", "0")
    allow(monkeypatch, LOCAL)


def allow(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GATEWAY_WEBHOOK_ALLOW", value)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The resolver the gateway uses (``targets.resolve``), with names of the tests' own
    (edit the dict to re-point one); other names go to the system's resolver."""
    table: dict[str, list[str]] = {
        "soc.example.fr": [PUBLIC], "a.fr": [PUBLIC], "public-host.example": [PUBLIC],
        "mixed.example": [PUBLIC, "10.0.0.7"], "intranet.example": ["192.168.1.10"],
        "metadata.example": ["169.254.169.254"],
    }
    real = targets.resolve

    def fake(host: str, port: int) -> list[Any]:
        if host in table:
            return [ipaddress.ip_address(a) for a in table[host]]
        return real(host, port)

    monkeypatch.setattr(targets, "resolve", fake)
    return table


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def closed_port_url() -> str:
    """A URL nobody listens on (the port is bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody"


def add_webhook(t: Tenant, url: str, **body: Any) -> dict[str, Any]:
    r = t.post("/v1/webhooks", {"url": url, **body})
    assert r.status_code == 201, r.text
    return r.json()


def alert(tenant_id: str, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "monitor": "short_call_share", "scope": "tenant", "action": "notice", "value": 0.42,
        "threshold": 0.3, "window": "1h", "details": {"answered": 50, "short": 21},
    } | kw
    with write_transaction() as conn:
        return raise_alert(conn, tenant_id=tenant_id, **args)


def deliveries(alert_id: str | None = None) -> list[Any]:
    d = WebhookDelivery.__table__
    q = select(d).order_by(d.c.created_at, d.c.id)
    if alert_id is not None:
        q = q.where(d.c.alert_id == alert_id)
    with get_engine().connect() as conn:
        return list(conn.execute(q).all())


def delivery(delivery_id: str) -> Any:
    d = WebhookDelivery.__table__
    with get_engine().connect() as conn:
        return conn.execute(select(d).where(d.c.id == delivery_id)).one()


# --- raise_alert -----------------------------------------------------------------------------


def test_raise_alert_stores_the_alert_and_queues_one_delivery_per_active_webhook(
    tenant: Tenant, other: Tenant, receiver: Receiver
) -> None:
    first, second = (add_webhook(tenant, receiver.url)["id"] for _ in range(2))
    gone = add_webhook(tenant, receiver.url)["id"]
    assert tenant.client.delete(f"/v1/webhooks/{gone}", headers=auth(tenant.admin)).status_code \
        == 204
    add_webhook(other, receiver.url)

    until = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)
    raised = alert(tenant.id, monitor="attempts_per_minute", scope="campaign:spring-2026",
                   action="throttle", value=130, threshold=100, window="1m", until=until)

    assert raised == {
        "id": raised["id"], "tenant": tenant.id, "monitor": "attempts_per_minute",
        "scope": "campaign:spring-2026", "action": "throttle", "value": 130.0,
        "threshold": 100.0, "window": "1m", "created_at": "2026-11-23T09:30:00+00:00",
        "until": "2026-11-23T11:30:00+00:00", "details": {"answered": 50, "short": 21},
    }
    assert raised["id"].startswith("alr_")
    # what the API shows is what raise_alert returned
    shown = tenant.get(f"/v1/alerts/{raised['id']}").json()
    assert {k: v for k, v in shown.items() if k != "deliveries"} == raised
    queued = deliveries(raised["id"])
    assert sorted(d.webhook_id for d in queued) == sorted([first, second])
    assert {(d.state, d.attempts, d.next_attempt_at, d.tenant_id) for d in queued} == {
        ("pending", 0, T0, tenant.id)}
    assert receiver.requests == []  # raise_alert sends nothing itself


def test_an_alert_rolled_back_with_its_transaction_is_neither_stored_nor_queued(
    tenant: Tenant, receiver: Receiver
) -> None:
    add_webhook(tenant, receiver.url)
    with pytest.raises(RuntimeError), write_transaction() as conn:
        raise_alert(conn, tenant_id=tenant.id, monitor="short_call_share", scope="tenant",
                    action="notice", value=0.5, threshold=0.3, window="1h")
        raise RuntimeError("the monitor's transaction fails")
    with get_engine().connect() as conn:
        assert conn.execute(select(Alert.__table__)).all() == []
    assert deliveries() == []
    assert deliver_due(now=T0) == 0


@pytest.mark.parametrize("bad", [
    {"action": "ban"}, {"value": float("nan")}, {"threshold": float("inf")},
    {"until": datetime(2026, 11, 23, 12, 0)}, {"monitor": "m" * 41}, {"scope": ""},
    {"window": "x" * 21}, {"details": {"ratio": float("nan")}},
])
def test_raise_alert_refuses_bad_arguments(tenant: Tenant, bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        alert(tenant.id, **bad)
    with get_engine().connect() as conn:
        assert conn.execute(select(Alert.__table__)).all() == []


# --- delivery --------------------------------------------------------------------------------


def test_a_delivery_is_signed_with_the_webhook_secret_as_the_readme_verifies(
    tenant: Tenant, receiver: Receiver
) -> None:
    verify = readme_verify()
    hook = add_webhook(tenant, receiver.url, description="SOC")
    raised = alert(tenant.id)
    (queued,) = deliveries(raised["id"])

    assert deliver_due(now=T0) == 1
    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/alerts"
    assert headers["content-type"] == "application/json"
    assert headers["x-gateway-event"] == "alert"
    assert headers["x-gateway-delivery"] == queued.id
    assert json.loads(body) == raised

    signature, at = headers["x-gateway-signature"], T0.timestamp()
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
    assert signature.startswith(f"t={int(at)},")
    assert verify(hook["secret"], signature, body, now=at)
    assert verify(hook["secret"], signature, body, now=at + 299)
    assert not verify(hook["secret"], signature, body, now=at + 301)  # a replay, too late
    assert not verify(hook["secret"] + "x", signature, body, now=at)  # wrong secret
    assert not verify("whsec_" + "A" * 43, signature, body, now=at)
    assert not verify(hook["secret"], signature, body.replace(b"0.42", b"0.01"), now=at)
    assert not verify(hook["secret"], signature.replace(f"t={int(at)}", f"t={int(at) + 1}"),
                      body, now=at)  # the timestamp is signed too

    done = delivery(queued.id)
    assert (done.state, done.attempts, done.last_status, done.last_error, done.delivered_at,
            done.next_attempt_at, done.claimed_until) == ("delivered", 1, 200, None, T0, None,
                                                          None)
    assert deliver_due(now=T0 + timedelta(hours=1)) == 0  # delivered once, never again
    assert len(receiver.requests) == 1


def test_failed_attempts_are_retried_with_exponential_backoff_until_accepted(
    tenant: Tenant
) -> None:
    verify = readme_verify()
    with Receiver(plan=[500, 503]) as flaky:
        hook = add_webhook(tenant, flaky.url)
        raised = alert(tenant.id)
        (queued,) = deliveries(raised["id"])

        assert deliver_due(now=T0) == 1
        first = delivery(queued.id)
        assert (first.state, first.attempts, first.last_status, first.last_error) == (
            "pending", 1, 500, "HTTP 500")
        assert 1.0 <= (first.next_attempt_at - T0).total_seconds() <= 1.25
        assert deliver_due(now=first.next_attempt_at - timedelta(milliseconds=1)) == 0

        assert deliver_due(now=first.next_attempt_at) == 1
        second = delivery(queued.id)
        assert (second.state, second.attempts, second.last_status, second.last_error) == (
            "pending", 2, 503, "HTTP 503")
        assert 2.0 <= (second.next_attempt_at - first.next_attempt_at).total_seconds() <= 2.5

        assert deliver_due(now=second.next_attempt_at) == 1
        third = delivery(queued.id)
        assert (third.state, third.attempts, third.last_status, third.last_error,
                third.delivered_at) == ("delivered", 3, 200, None, second.next_attempt_at)

        sent_at = [T0, first.next_attempt_at, second.next_attempt_at]
        assert len(flaky.requests) == 3
        for request, at in zip(flaky.requests, sent_at, strict=True):
            assert request["headers"]["x-gateway-delivery"] == queued.id  # same id each time
            assert request["body"] == flaky.requests[0]["body"]
            assert verify(hook["secret"], request["headers"]["x-gateway-signature"],
                          request["body"], now=at.timestamp())
    log = tenant.get(f"/v1/alerts/{raised['id']}").json()["deliveries"]
    assert [(d["state"], d["attempts"], d["last_status"]) for d in log] == [("delivered", 3, 200)]


def test_a_delivery_gives_up_after_max_attempts_and_keeps_the_log(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_WEBHOOK_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    with Receiver(then=500) as broken:
        failing = add_webhook(tenant, broken.url)["id"]
        nobody = add_webhook(tenant, closed_port_url())["id"]
        raised = alert(tenant.id)
        now = T0
        for attempt in (1, 2, 3):
            assert deliver_due(now=now) == 2
            due = [d.next_attempt_at for d in deliveries() if d.state == "pending"]
            assert len(due) == (2 if attempt < 3 else 0)
            now = max(due, default=now)
        assert deliver_due(now=now + timedelta(days=1)) == 0
        assert len(broken.requests) == 3

    log = {d["webhook_id"]: d for d in
           tenant.get(f"/v1/alerts/{raised['id']}").json()["deliveries"]}
    assert (log[failing]["state"], log[failing]["attempts"], log[failing]["last_status"],
            log[failing]["last_error"], log[failing]["next_attempt_at"]) == (
        "failed", 3, 500, "HTTP 500", None)
    assert (log[nobody]["state"], log[nobody]["attempts"], log[nobody]["last_status"],
            log[nobody]["last_error"], log[nobody]["next_attempt_at"]) == (
        "failed", 3, None, "delivery failed", None)  # not "connection refused"
    assert all(d["delivered_at"] is None for d in log.values())


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_an_internal_address_is_not_followed_and_counts_as_a_failure(
    tenant: Tenant, status: int
) -> None:
    """An allowed receiver answering "go to <an internal service>": the deliverer does not
    go, whatever the address (here a second local server that records what reaches it)."""
    with Receiver() as internal, Receiver(then=status, location=internal.url) as moved:
        add_webhook(tenant, moved.url)
        (queued,) = deliveries(alert(tenant.id)["id"])
        assert deliver_due(now=T0) == 1
        assert len(moved.requests) == 1
        assert internal.requests == []
    row = delivery(queued.id)
    assert (row.state, row.last_status, row.last_error) == (
        "pending", status, f"HTTP {status} (redirects are not followed)")


def test_backoff_doubles_from_one_second_up_to_a_cap_with_jitter_that_only_delays() -> None:
    assert [backoff_s(n, lambda: 0.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 64]
    assert backoff_s(3, lambda: 1.0) == 5.0
    assert backoff_s(30, lambda: 0.0) == backoff_s(11, lambda: 0.0) == 600
    spread = {backoff_s(4) for _ in range(50)}
    assert len(spread) > 1 and all(8 <= s <= 10 for s in spread)


def test_a_claimed_delivery_waits_for_its_claim_to_expire(
    tenant: Tenant, receiver: Receiver
) -> None:
    add_webhook(tenant, receiver.url)
    (queued,) = deliveries(alert(tenant.id)["id"])
    d = WebhookDelivery.__table__
    with write_transaction() as conn:  # another deliverer holds it until T0 + 60 s
        conn.execute(update(d).where(d.c.id == queued.id)
                     .values(claimed_until=T0 + timedelta(seconds=60)))
    assert deliver_due(now=T0 + timedelta(seconds=59)) == 0
    assert receiver.requests == []
    assert deliver_due(now=T0 + timedelta(seconds=61)) == 1  # its holder died: taken over
    assert delivery(queued.id).state == "delivered"


def test_two_deliverers_at_once_never_send_a_delivery_twice(tenant: Tenant, db: Any) -> None:
    """Two engines (as two workers would have), started together on the same due deliveries,
    in the same order: each delivery reaches the receiver exactly once."""
    with Receiver(delay_s=0.005) as slow:
        for _ in range(2):
            add_webhook(tenant, slow.url)
        ids = {d.id for _ in range(15) for d in deliveries(alert(tenant.id)["id"])}
        assert len(ids) == 30
        engines = [app_db.make_engine(db.url) for _ in range(2)]
        start = threading.Barrier(2)
        sent = [0, 0]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                start.wait()
                while (n := deliver_due(engines[i], now=T0, limit=30)) > 0:
                    sent[i] += n
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for engine in engines:
            engine.dispose()
        assert not errors, errors
        received = slow.deliveries()
    assert sorted(received) == sorted(ids)  # every one, none twice
    assert sum(sent) == 30
    assert {(r.state, r.attempts) for r in deliveries()} == {("delivered", 1)}


# --- the API ---------------------------------------------------------------------------------


def test_a_webhook_secret_is_shown_once_and_never_listed(tenant: Tenant) -> None:
    created = add_webhook(tenant, "https://soc.example.fr/gateway", description="SOC")
    assert created["id"].startswith("whk_")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created | {"secret": "x"} == {
        "id": created["id"], "url": "https://soc.example.fr/gateway", "description": "SOC",
        "active": True, "created_at": "2026-11-23T09:30:00+00:00", "secret": "x"}
    listed = tenant.client.get("/v1/webhooks", headers=auth(tenant.admin))
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in created.items() if k != "secret"}]
    assert created["secret"] not in listed.text
    second = add_webhook(tenant, "https://a.fr:8443/x")
    assert second["secret"] != created["secret"]


@pytest.mark.parametrize("url", [
    "ftp://example.fr/x", "example.fr/hook", "http://", "https:///path", "javascript:alert(1)",
    "http://exa mple.fr/", " https://example.fr/", "https://example.fr/\n", "http://h:99999/",
    "http://h:port/", "", "https://example.fr/" + "a" * 2000, "file:///etc/passwd",
])
def test_a_webhook_url_that_is_not_http_or_https_is_a_422(tenant: Tenant, url: str) -> None:
    r = tenant.post("/v1/webhooks", {"url": url})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid"
    assert tenant.client.get("/v1/webhooks", headers=auth(tenant.admin)).json() == []


def test_webhook_bodies_are_checked(tenant: Tenant) -> None:
    for body in ({}, {"url": "https://a.fr", "secret": "mine"}, {"url": 7},
                 {"url": "https://a.fr", "description": "d" * 201}, [], None):
        assert tenant.post("/v1/webhooks", body).status_code == 422, body


def test_roles(tenant: Tenant) -> None:
    hook = add_webhook(tenant, "https://soc.example.fr/gateway")["id"]
    raised = alert(tenant.id)["id"]
    c = tenant.client
    admin_only = [("post", "/v1/webhooks", {"url": "https://a.fr"}), ("get", "/v1/webhooks", None),
                  ("delete", f"/v1/webhooks/{hook}", None),
                  ("post", f"/v1/webhooks/{hook}/test", None)]
    readers = [("get", "/v1/alerts", None), ("get", f"/v1/alerts/{raised}", None)]

    def call(method: str, path: str, body: Any, key: str | None) -> int:
        headers = auth(key) if key else {}
        kw: dict[str, Any] = {"headers": headers}
        if body is not None:
            kw["json"] = body
        return getattr(c, method)(path, **kw).status_code  # type: ignore[no-any-return]

    for method, path, body in admin_only + readers:
        assert call(method, path, body, tenant.dialer) == 403, path
        assert call(method, path, body, None) == 401, path
        assert call(method, path, body, tenant.operator) == 403, path  # no tenant
    for method, path, body in admin_only:
        assert call(method, path, body, tenant.compliance) == 403, path
    for method, path, body in readers:
        assert call(method, path, body, tenant.compliance) == 200, path
        assert call(method, path, body, tenant.admin) == 200, path


def test_tenants_never_see_each_others_alerts_webhooks_or_deliveries(
    tenant: Tenant, other: Tenant
) -> None:
    with Receiver() as mine, Receiver() as theirs:
        my_hook = add_webhook(tenant, mine.url)["id"]
        their_hook = add_webhook(other, theirs.url)["id"]
        my_alert, their_alert = alert(tenant.id)["id"], alert(other.id)["id"]
        assert deliver_due(now=T0) == 2
        assert [json.loads(r["body"])["id"] for r in mine.requests] == [my_alert]
        assert [json.loads(r["body"])["id"] for r in theirs.requests] == [their_alert]

    assert [a["id"] for a in tenant.get("/v1/alerts").json()["items"]] == [my_alert]
    assert tenant.get(f"/v1/alerts/{their_alert}").status_code == 404
    mine_log = tenant.get(f"/v1/alerts/{my_alert}").json()["deliveries"]
    assert [d["webhook_id"] for d in mine_log] == [my_hook]
    assert [w["id"] for w in tenant.client.get(
        "/v1/webhooks", headers=auth(tenant.admin)).json()] == [my_hook]
    r = tenant.client.delete(f"/v1/webhooks/{their_hook}", headers=auth(tenant.admin))
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    assert tenant.post(f"/v1/webhooks/{their_hook}/test").status_code == 404
    assert tenant.get(f"/v1/alerts?cursor={their_alert}").status_code == 422
    # the other tenant's webhook still works
    assert other.post(f"/v1/webhooks/{their_hook}/test").status_code == 202


def test_a_deleted_webhook_gets_nothing_more(tenant: Tenant, receiver: Receiver) -> None:
    hook = add_webhook(tenant, receiver.url)["id"]
    pending = alert(tenant.id)["id"]
    r = tenant.client.delete(f"/v1/webhooks/{hook}", headers=auth(tenant.admin))
    assert (r.status_code, r.content) == (204, b"")
    assert tenant.client.delete(f"/v1/webhooks/{hook}",
                                headers=auth(tenant.admin)).status_code == 404
    assert tenant.post(f"/v1/webhooks/{hook}/test").status_code == 404
    assert tenant.client.get("/v1/webhooks", headers=auth(tenant.admin)).json() == []
    later = alert(tenant.id)["id"]
    assert deliver_due(now=T0) == 0
    assert receiver.requests == []
    (log,) = tenant.get(f"/v1/alerts/{pending}").json()["deliveries"]
    assert (log["state"], log["attempts"], log["last_error"]) == ("failed", 0, "webhook deleted")
    assert tenant.get(f"/v1/alerts/{later}").json()["deliveries"] == []


def test_a_deletion_while_a_deliverer_holds_the_delivery_fails_it_at_the_next_claim(
    tenant: Tenant, receiver: Receiver
) -> None:
    hook = add_webhook(tenant, receiver.url)["id"]
    (queued,) = deliveries(alert(tenant.id)["id"])
    d = WebhookDelivery.__table__
    with write_transaction() as conn:
        conn.execute(update(d).where(d.c.id == queued.id)
                     .values(claimed_until=T0 + timedelta(seconds=60)))
    assert tenant.client.delete(f"/v1/webhooks/{hook}",
                                headers=auth(tenant.admin)).status_code == 204
    assert delivery(queued.id).state == "pending"  # its holder may be sending it right now
    assert deliver_due(now=T0 + timedelta(seconds=61)) == 0
    assert (delivery(queued.id).state, delivery(queued.id).last_error) == (
        "failed", "webhook deleted")
    assert receiver.requests == []


def test_a_test_delivery_goes_to_that_webhook_alone(tenant: Tenant) -> None:
    verify = readme_verify()
    with Receiver() as tested, Receiver() as untouched:
        hook = add_webhook(tenant, tested.url)
        add_webhook(tenant, untouched.url)
        r = tenant.post(f"/v1/webhooks/{hook['id']}/test")
        assert r.status_code == 202, r.text
        queued = r.json()
        assert (queued["alert"]["monitor"], queued["alert"]["action"],
                queued["alert"]["scope"]) == ("test", "notice", "tenant")
        assert queued["delivery_id"].startswith("whd_")
        assert deliver_due(now=T0) == 1
        (request,) = tested.requests
        assert untouched.requests == []
    assert request["headers"]["x-gateway-delivery"] == queued["delivery_id"]
    assert json.loads(request["body"]) == queued["alert"]
    assert verify(hook["secret"], request["headers"]["x-gateway-signature"], request["body"],
                  now=T0.timestamp())
    log = tenant.get(f"/v1/alerts/{queued['alert']['id']}").json()["deliveries"]
    assert [(d["id"], d["state"], d["last_status"]) for d in log] == [
        (queued["delivery_id"], "delivered", 200)]


def test_alerts_are_listed_newest_first_in_keyset_pages(
    tenant: Tenant, freeze: Callable[[str], None]
) -> None:
    raised = []
    for i, (instant, monitor, action) in enumerate([
        ("2026-11-23T09:00:00+00:00", "short_call_share", "notice"),
        ("2026-11-23T09:10:00+00:00", "attempts_per_minute", "throttle"),
        ("2026-11-23T09:10:00+00:00", "attempts_per_minute", "notice"),  # same instant:
        ("2026-11-23T09:10:00+00:00", "short_call_share", "suspend"),    # ties by id
        ("2026-11-23T09:20:00+00:00", "attempts_per_minute", "throttle"),
    ]):
        freeze(instant)
        raised.append((instant, alert(tenant.id, monitor=monitor, action=action,
                                      value=float(i))["id"]))
    newest_first = [a for _, a in sorted(raised, key=lambda x: (x[0], x[1]), reverse=True)]

    seen, cursor, pages = [], None, 0
    while True:
        page = tenant.get("/v1/alerts", params={"limit": 2} | (
            {"cursor": cursor} if cursor else {})).json()
        assert page["limit"] == 2 and len(page["items"]) <= 2
        seen += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (newest_first, 3)

    def ids(**params: Any) -> list[str]:
        r = tenant.get("/v1/alerts", params=params)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["items"]]

    assert ids() == newest_first
    assert ids(monitor="short_call_share") == [
        a for a in newest_first if a in (raised[0][1], raised[3][1])]
    assert ids(action="throttle") == [raised[4][1], raised[1][1]]
    assert ids(since="2026-11-23T10:10:00+01:00") == newest_first[:4]
    assert ids(since="2026-11-24") == []
    assert ids(since="2026-11-23") == newest_first  # a Paris day
    assert ids(monitor="nothing") == []


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"since": "yesterday"},
    {"since": "2026-11-23T10:00:00"}, {"action": "ban"}, {"cursor": "alr_nope"},
    {"monitor": "m" * 41},
])
def test_bad_alert_list_parameters_are_a_422(tenant: Tenant, params: dict[str, Any]) -> None:
    alert(tenant.id)
    r = tenant.get("/v1/alerts", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"] in ("invalid", "invalid_cursor", "invalid_limit")


def test_unknown_ids_are_404s(tenant: Tenant) -> None:
    for method, path in (("get", "/v1/alerts/alr_unknown"), ("delete", "/v1/webhooks/whk_x"),
                         ("post", "/v1/webhooks/whk_x/test"), ("get", "/v1/alerts/" + "a" * 300)):
        key = tenant.compliance if method == "get" else tenant.admin
        r = getattr(tenant.client, method)(path, headers=auth(key))
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"] == "not_found"
    for method, path in (("get", "/v1/alerts/alr%00x"), ("delete", "/v1/webhooks/whk%00x"),
                         ("post", "/v1/webhooks/whk%00x/test")):
        key = tenant.compliance if method == "get" else tenant.admin
        r = getattr(tenant.client, method)(path, headers=auth(key))
        assert r.status_code in (404, 422), (path, r.text)  # PostgreSQL refuses NUL: 422


# --- where a webhook may send (SSRF) ---------------------------------------------------------


@pytest.mark.parametrize(("url", "why"), [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.9.9.9:8443/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://10.0.0.1/hook", "private"),
    ("https://172.16.0.1/hook", "private"),
    ("https://192.168.1.1/hook", "private"),
    ("https://[fc00::1]/hook", "private"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://100.64.0.1/hook", "shared"),
    ("https://198.18.0.1/hook", "benchmarking"),
    ("https://240.0.0.1/hook", "reserved"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://[::]/hook", "unspecified"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://[ff02::1]/hook", "multicast"),
    ("https://255.255.255.255/hook", "broadcast"),
    ("https://[::ffff:127.0.0.1]/hook", "IPv4 address 127.0.0.1"),
    ("https://[::ffff:169.254.169.254]/hook", "IPv4 address 169.254.169.254"),
    ("https://[2002:7f00:1::]/hook", "IPv4 address 127.0.0.1"),  # 6to4
    ("https://2130706433/hook", "public addresses only"),  # 127.0.0.1 as one number
    ("https://localhost/hook", "public addresses only"),  # the system's resolver: 127.0.0.1
    ("https://intranet.example/hook", "public addresses only"),  # → 192.168.1.10
    ("https://metadata.example/hook", "public addresses only"),  # → 169.254.169.254
    ("https://mixed.example/hook", "public addresses only"),  # one public, one private
    ("https://no-such-host.invalid/hook", "public addresses only"),
    ("http://public-host.example/hook", "https://"),
    ("https://user:pass@public-host.example/hook", "credentials"),
    ("https://token@public-host.example/hook", "credentials"),
    ("https://public-host.example/hook#section", "fragment"),
])
def test_a_forbidden_webhook_target_is_refused_at_registration(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    allow(monkeypatch, "")  # no allow-list: the default
    r = tenant.post("/v1/webhooks", {"url": url})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid"
    assert "url" in json.dumps(body["detail"]) or body.get("field") == "url", body
    assert why in json.dumps(body["detail"]), body
    assert tenant.client.get("/v1/webhooks", headers=auth(tenant.admin)).json() == []


def test_a_name_is_not_answered_with_what_it_resolves_to(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intranet's names are not the tenant's to map: an internal name and an unknown one
    are refused with the same words, no address in them."""
    allow(monkeypatch, "")
    details = [tenant.post("/v1/webhooks", {"url": f"https://{host}/h"}).json()["detail"]
               for host in ("intranet.example", "no-such-host.invalid")]
    assert details[0].replace("intranet.example", "H") == \
        details[1].replace("no-such-host.invalid", "H")
    assert "192.168" not in details[0]


def test_a_public_https_target_is_accepted_on_any_port(tenant: Tenant) -> None:
    for url in ("https://public-host.example/hook", "https://public-host.example:8443/h?k=v",
                "https://1.2.3.4/hook", "https://[2606:4700:4700::1111]/hook"):
        add_webhook(tenant, url)


def test_the_allow_list_lets_local_receivers_through_even_over_http(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]]
) -> None:
    dns["hooks.corp.example"] = [LOCAL]
    dns["a.hooks.corp.example"] = [LOCAL]
    with Receiver() as local:
        port = local.server.server_address[1]
        by_name = [f"http://hooks.corp.example:{port}/n", f"http://a.hooks.corp.example:{port}/w"]
        for value, url in ((LOCAL, local.url), ("127.0.0.0/8", local.url),
                           ("hooks.corp.example", by_name[0]),
                           ("*.hooks.corp.example", by_name[1])):
            allow(monkeypatch, "")
            assert tenant.post("/v1/webhooks", {"url": url}).status_code == 422, url
            allow(monkeypatch, f"10.9.0.0/16, {value}")
            add_webhook(tenant, url)
        allow(monkeypatch, f"{LOCAL},hooks.corp.example,*.hooks.corp.example")
        raised = alert(tenant.id)["id"]
        assert deliver_due(now=T0) == 4
        hosts = sorted(r["headers"]["host"] for r in local.requests)
    # the names were resolved by the gateway (the system knows none of them) and the request
    # went to the address it checked, the name kept in Host
    assert hosts == sorted([f"127.0.0.1:{port}"] * 2 + [f"hooks.corp.example:{port}",
                                                         f"a.hooks.corp.example:{port}"])
    log = tenant.get(f"/v1/alerts/{raised}").json()["deliveries"]
    assert {(d["state"], d["last_status"]) for d in log} == {("delivered", 200)}


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not a host!", "*", "http://x.fr", "1.2.3.4/x"])
def test_a_malformed_allow_list_stops_the_server_at_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GATEWAY_WEBHOOK_ALLOW", value)
    # Settings() as the server builds it at start-up; not the process-wide get_settings()
    # cache, which background threads of this test process (the BLOCTEL poller) read
    with pytest.raises(ValueError, match="GATEWAY_WEBHOOK_ALLOW"):
        Settings()


_INTERNAL_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                "172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
                "240.0.0.0/4"]


@given(st.sampled_from(_INTERNAL_V4), st.integers(min_value=0), st.sampled_from(
    ["{a}", "[::ffff:{a}]", "[64:ff9b::{a}]", "[2002:{hi:x}:{lo:x}::1]"]))
@settings(max_examples=300, deadline=None)
def test_no_form_of_an_internal_ipv4_address_is_ever_a_target(
    network: str, offset: int, form: str
) -> None:
    """Whatever the address inside those networks, written as IPv4, IPv4-mapped IPv6, NAT64
    or 6to4, the rules refuse it (no allow-list)."""
    net = ipaddress.ip_network(network)
    a = net[offset % net.num_addresses]
    literal = form.format(a=a, hi=int(a) >> 16, lo=int(a) & 0xFFFF)
    with pytest.raises(targets.Refused):
        targets.check(f"https://{literal}/hook", allow=targets.AllowList())


@given(st.ip_addresses(v=4))
@settings(max_examples=300, deadline=None)
def test_an_ipv4_address_and_its_nat64_form_get_the_same_verdict(ip: Any) -> None:
    nat64 = ipaddress.ip_address(f"64:ff9b::{ip}")
    assert targets.is_public(ip) == targets.is_public(nat64)
    assert not targets.is_public(ipaddress.ip_address(f"::ffff:{ip}"))


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_a_name_re_pointed_at_loopback_after_registration_is_refused_at_delivery(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """DNS rebinding: public when registered, 127.0.0.1 when delivered. Nothing connects,
    and the tenant's log says only "delivery failed"; the server log says why."""
    allow(monkeypatch, "")
    dns["rebind.example"] = [PUBLIC]
    listener = Listener()
    try:
        add_webhook(tenant, f"https://rebind.example:{listener.port}/hook")
        dns["rebind.example"] = [LOCAL]
        raised = alert(tenant.id)["id"]
        with caplog.at_level(logging.WARNING, logger="gateway.alerts"):
            assert deliver_due(now=T0) == 1
        time.sleep(0.2)
        assert listener.accepted == 0
        (entry,) = tenant.get(f"/v1/alerts/{raised}").json()["deliveries"]
        assert (entry["state"], entry["attempts"], entry["last_status"], entry["last_error"]) \
            == ("pending", 1, None, "delivery failed")
        assert "target refused" in caplog.text and "rebind.example" in caplog.text

        # the control: the same delivery, once the operator allows 127.0.0.1, does connect
        # there (to the port of the URL) — so the refusal above was the check, not chance
        allow(monkeypatch, LOCAL)
        assert deliver_due(now=T0 + timedelta(minutes=1)) == 1
        deadline = time.monotonic() + 5
        while listener.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.accepted >= 1
    finally:
        listener.close()


def test_the_address_checked_is_the_address_connected_to(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]]
) -> None:
    """The name is resolved once per attempt, by the check: a resolver that answers a public
    address first and loopback afterwards (a rebinding attacker's TTL-0 trick) gets one
    question per attempt, and the connection goes to the first answer."""
    allow(monkeypatch, "")
    calls: list[str] = []
    answers = iter([[PUBLIC], [PUBLIC]] + [[LOCAL]] * 10)

    def flapping(host: str, port: int) -> list[Any]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(targets, "resolve", flapping)
    listener = Listener()
    connected: list[Any] = []
    real_connect = socket.create_connection

    def spy(address: Any, *args: Any, **kw: Any) -> Any:
        connected.append(address)
        raise ConnectionRefusedError("the test stops here")

    monkeypatch.setattr(socket, "create_connection", spy)
    try:
        add_webhook(tenant, f"https://flap.example:{listener.port}/hook")  # 1st answer
        alert(tenant.id)
        assert deliver_due(now=T0) == 1  # 2nd answer: public, pinned
    finally:
        monkeypatch.setattr(socket, "create_connection", real_connect)
        listener.close()
    assert calls == ["flap.example", "flap.example"]
    assert connected and {a[0] for a in connected} == {PUBLIC}
    assert listener.accepted == 0


def test_closed_ports_timeouts_and_refused_targets_look_the_same_to_the_tenant(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dns["gone-internal.example"] = [PUBLIC]
    with Receiver(delay_s=0.5) as slow, Receiver(then=503) as answering:
        urls = [closed_port_url(), slow.url, answering.url,
                "https://gone-internal.example/hook"]
        ids = [add_webhook(tenant, u)["id"] for u in urls]
        dns["gone-internal.example"] = ["10.0.0.1"]
        raised = alert(tenant.id)["id"]
        with caplog.at_level(logging.WARNING, logger="gateway.alerts"):
            assert deliver_due(now=T0, client=_short_timeout_client()) == 4
    log = {d["webhook_id"]: d for d in tenant.get(f"/v1/alerts/{raised}").json()["deliveries"]}
    shown = [(log[i]["last_status"], log[i]["last_error"]) for i in ids]
    assert shown == [(None, "delivery failed"), (None, "delivery failed"), (503, "HTTP 503"),
                     (None, "delivery failed")]
    # the operator's log has the precise causes
    assert "ConnectError" in caplog.text
    assert "ReadTimeout" in caplog.text
    assert "target refused" in caplog.text


def _short_timeout_client() -> httpx.Client:
    client = new_client()
    client.timeout = httpx.Timeout(0.2)
    return client


# --- TLS to a pinned address: SNI and certificate on the original name --------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.mark.parametrize("certified", ["hooks.corp.example", "someone-else.example"])
def test_tls_to_the_pinned_address_verifies_the_original_name(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]],
    tmp_path: Path, certified: str,
) -> None:
    """An https receiver allowed by name, resolved by the gateway to 127.0.0.1: the TLS
    handshake names ``hooks.corp.example`` (SNI) and the certificate must be for that name —
    one for another name is a failed delivery, not a silent success."""
    cert, key = _certificate(tmp_path, certified)
    dns["hooks.corp.example"] = [LOCAL]
    allow(monkeypatch, "hooks.corp.example")
    with Receiver() as secure:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
        sni: list[str | None] = []
        server_ctx.sni_callback = lambda _sock, name, _ctx: sni.append(name)  # type: ignore[assignment,misc]
        secure.server.socket = server_ctx.wrap_socket(secure.server.socket, server_side=True)
        port = secure.server.server_address[1]
        add_webhook(tenant, f"https://hooks.corp.example:{port}/hook")
        raised = alert(tenant.id)["id"]
        client_ctx = ssl.create_default_context(cafile=str(cert))  # the test's own "CA"
        with httpx.Client(verify=client_ctx, timeout=5, follow_redirects=False,
                          trust_env=False,
                          limits=httpx.Limits(max_keepalive_connections=0)) as client:
            assert deliver_due(now=T0, client=client) == 1
        got = list(secure.requests)
    (entry,) = tenant.get(f"/v1/alerts/{raised}").json()["deliveries"]
    assert sni == ["hooks.corp.example"]
    if certified == "hooks.corp.example":
        assert (entry["state"], entry["last_status"]) == ("delivered", 200)
        assert got[0]["headers"]["host"] == f"hooks.corp.example:{port}"
    else:
        assert (entry["state"], entry["last_error"]) == ("pending", "delivery failed")
        assert got == []


def test_recent_deliveries_are_each_alerts_deliveries_in_one_query(
    tenant: Tenant, other: Tenant, receiver: Receiver
) -> None:
    from app.alerts.service import get_alert, list_alerts, recent_deliveries

    for _ in range(2):
        add_webhook(tenant, receiver.url)
    add_webhook(other, receiver.url)
    for n in range(4):
        alert(tenant.id, monitor="attempts_per_minute", scope=f"campaign:c{n}",
              action="notice", value=130 + n, threshold=100, window="1m")
    alert(other.id, monitor="attempts_per_minute", scope="campaign:x", action="notice",
          value=500, threshold=100, window="1m")
    expected = [(a, d) for a in list_alerts(tenant.id, limit=3)["items"]
                for d in get_alert(tenant.id, a["id"])["deliveries"]]
    assert len(expected) == 6  # the 3 latest alerts, 2 webhooks each
    assert recent_deliveries(tenant.id, 3) == expected
    assert {a["tenant"] for a, _ in recent_deliveries(tenant.id)} == {tenant.id}
