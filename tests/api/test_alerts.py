"""Alerts and webhooks: ``raise_alert`` stores and queues, the deliverer signs, retries with
back-off and gives up, concurrent deliverers never send twice, and the API keeps tenants apart.

Deliveries go to a real HTTP server on 127.0.0.1 (``Receiver``), and signatures are checked
with the recipe printed in the README (executed from it, so the README cannot drift). The
server's own deliverer thread is switched off here: the tests call ``deliver_due(now=…)`` to
step through the back-off on a fixed clock.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app import db as app_db
from app.alerts.delivery import backoff_s, deliver_due
from app.alerts.models import Alert, WebhookDelivery
from app.alerts.service import raise_alert
from app.config import get_settings
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

    def __init__(self, plan: list[int] | None = None, then: int = 200, delay_s: float = 0.0):
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


@pytest.fixture(autouse=True)
def no_deliverer_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests drive ``deliver_due`` themselves (before ``client`` starts the app)."""
    monkeypatch.setenv("GATEWAY_WEBHOOK_POLL_S", "0")
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def closed_port_url() -> str:
    """A URL nobody listens on (the port is bound then released)."""
    import socket

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
            log[nobody]["next_attempt_at"]) == ("failed", 3, None, None)
    assert "ConnectError" in log[nobody]["last_error"]
    assert all(d["delivered_at"] is None for d in log.values())


def test_a_redirect_is_not_followed_and_counts_as_a_failure(tenant: Tenant) -> None:
    with Receiver(then=301) as moved:
        add_webhook(tenant, moved.url)
        (queued,) = deliveries(alert(tenant.id)["id"])
        assert deliver_due(now=T0) == 1
    row = delivery(queued.id)
    assert (row.state, row.last_status, row.last_error) == (
        "pending", 301, "HTTP 301 (redirects are not followed)")


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
    second = add_webhook(tenant, "http://localhost:8080/x")
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
