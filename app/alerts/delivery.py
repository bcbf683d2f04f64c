"""Signed delivery of alerts to the tenants' webhooks.

Every worker runs a ``Deliverer`` thread (``GATEWAY_WEBHOOK_POLL_S``, 0.5 s; 0: none) that calls
``deliver_due``: one indexed read of the due deliveries, then for each one

1. **claim** it in a short write transaction — ``UPDATE … SET claimed_until = now + 60 s WHERE
   id = … AND state = 'pending' AND next_attempt_at <= now AND (claimed_until IS NULL OR
   claimed_until < now)``, claimed only if one row changed. On PostgreSQL a second UPDATE of the
   same row waits for the first to commit and then re-checks the WHERE clause against the new
   row (READ COMMITTED), finding it claimed; on SQLite write transactions are serialised. So
   threads, workers and replicas never send the same delivery at the same time;
2. **check** its URL again (``app.alerts.targets.check``: https, every address the name
   resolves to *now* public or allowed by the operator — a name re-pointed at 127.0.0.1 since
   registration is refused) and **POST** the alert's JSON to an address just checked, never
   resolving the name a second time, with the original name in ``Host`` and in TLS (SNI,
   certificate) (outside any transaction; ``TIMEOUT_S`` per connect/read/write; the response
   body is not read; redirects are not followed) with ``X-Gateway-Event``,
   ``X-Gateway-Delivery`` and ``X-Gateway-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret,
   "<t>.<body>")>``;
3. **record** it, guarded by the claim it holds: 2xx → ``delivered``; anything else (status,
   refused target, refused connection, timeout) → ``pending`` again after ``backoff_s`` (1, 2,
   4 … s, capped at 10 min, plus up to 25 % jitter), or ``failed`` after
   ``GATEWAY_WEBHOOK_MAX_ATTEMPTS`` (8). The tenant's log shows the receiver's status, or only
   ``delivery failed`` (a closed port, a filtered one and a refused target look the same:
   the log is no port scanner); the precise error goes to the server log.

Delivery is at least once: a worker killed between the POST and step 3 leaves a claim that
expires after 60 s, and the delivery is sent again (same ``X-Gateway-Delivery``: receivers
deduplicate on it). The work per delivery is two short transactions and one request; the HTTP
wait releases the GIL, so a worker's request threads barely notice the thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, Engine, and_, or_, select, update

from app.alerts import targets
from app.alerts.models import Alert, Webhook, WebhookDelivery
from app.alerts.service import alert_json
from app.clock import now as clock_now
from app.config import get_settings
from app.db import get_engine, write_transaction

log = logging.getLogger("gateway.alerts")

TIMEOUT_S = 5.0
LEASE_S = 60.0  # a claim outlives any attempt (connect + write + read ≤ 3 × TIMEOUT_S)
BACKOFF_BASE_S, BACKOFF_CAP_S, JITTER = 1.0, 600.0, 0.25
BATCH = 100
USER_AGENT = "canvassing-gateway-webhooks/1"
GENERIC_ERROR = "delivery failed"
MAX_ADDRESSES = 3  # addresses of one name tried per attempt (connection refused: the next)

_a = Alert.__table__
_w = Webhook.__table__
_d = WebhookDelivery.__table__


def backoff_s(attempts: int, rand: Callable[[], float] = random.random) -> float:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4 … s up to 10 min, stretched
    by up to 25 % at random (never shortened) so that failures at the same instant spread."""
    return min(BACKOFF_BASE_S * 2 ** (attempts - 1), BACKOFF_CAP_S) * (1 + JITTER * rand())


def body_of(alert: dict[str, Any]) -> bytes:
    """The bytes POSTed (and signed): the alert's JSON, keys sorted, no spaces, UTF-8."""
    return json.dumps(alert, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes, t: int) -> str:
    """``X-Gateway-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _due(at: datetime) -> ColumnElement[bool]:
    return and_(
        _d.c.state == "pending", _d.c.next_attempt_at <= at,
        or_(_d.c.claimed_until.is_(None), _d.c.claimed_until < at),
    )


def deliver_due(
    engine: Engine | None = None, now: datetime | None = None, *,
    max_attempts: int | None = None, client: httpx.Client | None = None, limit: int = BATCH,
    stop: threading.Event | None = None,
) -> int:
    """Send the deliveries due (at most ``limit``) and record each attempt; returns how many
    were sent (delivered or not). ``now`` fixes the clock for the whole call (tests step
    through the back-off with it); by default ``app.clock.now()`` is read at each step."""
    engine = engine or get_engine()
    tries = max_attempts or get_settings().webhook_max_attempts
    at: Callable[[], datetime] = (lambda: now) if now is not None else clock_now
    start = at()
    with engine.connect() as conn:
        due = conn.execute(
            select(_d.c.id).where(_due(start))
            .order_by(_d.c.next_attempt_at, _d.c.id).limit(limit)
        ).scalars().all()
    if not due:
        return 0
    http = client or new_client()
    sent = 0
    try:
        for delivery_id in due:
            if stop is not None and stop.is_set():
                break
            sent += _deliver(engine, http, delivery_id, at, tries)
    finally:
        if client is None:
            http.close()
    return sent


def _deliver(
    engine: Engine, http: httpx.Client, delivery_id: str, at: Callable[[], datetime],
    max_attempts: int,
) -> int:
    """Claim, send and record one delivery; 1 if it was sent, 0 if someone else holds it (or
    sent it), or its webhook has been deleted."""
    claimed_at = at()
    lease = claimed_at + timedelta(seconds=LEASE_S)
    with write_transaction(engine) as conn:
        claimed = conn.execute(
            update(_d).where(_d.c.id == delivery_id, _due(claimed_at)).values(claimed_until=lease)
        ).rowcount
        if claimed != 1:
            return 0
        row = conn.execute(
            select(_d.c.attempts, _d.c.webhook_id, _w.c.url, _w.c.secret,
                   _w.c.active.label("hook_active"), *_a.c)
            .select_from(_d.join(_w, _w.c.id == _d.c.webhook_id)
                         .join(_a, _a.c.id == _d.c.alert_id))
            .where(_d.c.id == delivery_id)
        ).one()
        if not row.hook_active:
            conn.execute(update(_d).where(_d.c.id == delivery_id).values(
                state="failed", next_attempt_at=None, claimed_until=None,
                last_error="webhook deleted"))
            return 0

    body = body_of(alert_json(row._mapping))
    t = int(at().timestamp())
    headers = {
        "Content-Type": "application/json", "X-Gateway-Event": "alert",
        "X-Gateway-Delivery": delivery_id, "X-Gateway-Signature": signature(row.secret, body, t),
    }
    status, error = _send(http, row.url, body, headers)
    if error is not None:  # the precise cause is the operator's; the tenant's log says less
        log.warning("webhook delivery %s (tenant %s, webhook %s, %s) failed: %s",
                    delivery_id, row.tenant_id, row.webhook_id, row.url, error)

    ended = at()
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status": status,
                              "claimed_until": None}
    if status is not None and 200 <= status < 300:
        values |= {"state": "delivered", "delivered_at": ended, "next_attempt_at": None,
                   "last_error": None}
    else:
        # what the tenant sees: the receiver's status if it answered, else nothing that
        # tells a closed port from a filtered one, a refused target or a TLS failure
        values["last_error"] = GENERIC_ERROR if status is None else (
            f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else ""))
        if attempts >= max_attempts:
            values |= {"state": "failed", "next_attempt_at": None}
        else:
            # counted from the attempt's start, not its end: how long it took (an instant
            # refusal, a 5 s timeout) would otherwise show through next_attempt_at
            values |= {"next_attempt_at": claimed_at + timedelta(seconds=backoff_s(attempts))}
    with write_transaction(engine) as conn:
        recorded = conn.execute(
            update(_d).where(_d.c.id == delivery_id, _d.c.claimed_until == lease)
            .values(**values)
        ).rowcount
    if recorded != 1:
        log.warning("webhook delivery %s: its claim expired before the attempt was recorded; "
                    "it may be sent again", delivery_id)
    return 1


def new_client() -> httpx.Client:
    """The deliverer's HTTP client: no redirects, no proxy or ``.netrc`` from the
    environment (the connection goes to the checked address itself), and no kept-alive
    connections (a pooled connection is keyed by address, not by host name: one host's
    verified TLS session must not carry another host's delivery)."""
    return httpx.Client(
        timeout=TIMEOUT_S, headers={"User-Agent": USER_AGENT}, follow_redirects=False,
        trust_env=False, limits=httpx.Limits(max_keepalive_connections=0),
    )


def _send(
    http: httpx.Client, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str | None]:
    """POST ``body`` to ``url`` if its target passes the rules now (``targets.check``: a
    name re-pointed since registration is refused), connecting to the addresses just checked
    (at most ``MAX_ADDRESSES``, the next one only if the previous refused the connection)
    with the original host name in ``Host`` and in TLS. Returns (status, None) when the
    receiver answered, else (None, the precise error for the server log)."""
    try:
        target = targets.check(url)
    except targets.Refused as exc:
        return None, f"target refused: {exc}"
    extensions: dict[str, Any] = {}
    if target.url.scheme == "https" and not target.literal:
        extensions["sni_hostname"] = target.host
    error = "no address"
    for ip in target.addresses[:MAX_ADDRESSES]:
        try:
            with http.stream("POST", target.pinned(ip), content=body,
                             headers=headers | {"Host": target.host_header},
                             extensions=extensions) as response:
                return response.status_code, None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing sent: next one
            error = f"{ip}: {_describe(exc)}"
        except Exception as exc:  # timeout, TLS, protocol error…: the request may have gone
            return None, f"{ip}: {_describe(exc)}"
    return None, error


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Deliverer:
    """A daemon thread per worker running ``deliver_due`` every ``poll_s`` seconds; workers
    and replicas share the work through the claims."""

    def __init__(self, poll_s: float, engine_of: Callable[[], Engine] = get_engine) -> None:
        self.poll_s, self.engine_of = poll_s, engine_of
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-deliverer", daemon=True)

    def start(self) -> Deliverer:
        self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        with new_client() as http:
            while not self._stop.wait(self.poll_s):
                try:
                    deliver_due(self.engine_of(), client=http, stop=self._stop)
                    failing = False
                except Exception:
                    if not failing:  # once per outage, not every half second
                        log.exception("webhook deliveries: a round failed; retrying")
                    failing = True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_S + 1)
