"""Console sessions: server-side, named by a random cookie, bound to the API key that opened
them.

* The key is typed once, on the sign-in page, resolved as the API resolves it
  (``app.tenancy.auth.resolve``: a revoked or unknown key is refused, a rate-limit token
  spent) and then forgotten: the session row names the key *row*, never the secret, and the
  browser holds only the session's random token (an HttpOnly, SameSite=Strict cookie; Secure
  when the console is served over https). Only the token's SHA-256 is stored.
* Every page loads the session with its key and tenant in one query: a session whose key was
  revoked, that was signed out, idle longer than ``GATEWAY_CONSOLE_IDLE_S`` or older than
  ``GATEWAY_CONSOLE_MAX_S`` does not load.
* Each session has its CSRF token (the synchroniser pattern): every form carries it, every
  POST is refused without it (``app.console.deps``).

Session times are wall-clock times (``datetime.now``), not the rules' clock: a demo or test
with ``GATEWAY_FROZEN_NOW`` must still see its sessions expire.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.config import get_settings
from app.console.models import ConsoleSession
from app.db import session_scope
from app.tenancy.auth import Principal, principal_of
from app.tenancy.models import ApiKey, Tenant

COOKIE = "gw_console"
#: ``last_seen_at`` is written at most this often (a page view is then a read only)
TOUCH_EVERY_S = 30.0
#: the roles that may sign in (dialer keys may not: a dialer has the API)
CONSOLE_ROLES = ("operator", "admin", "compliance")


def wall_now() -> datetime:
    return datetime.now(UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a console page: the key's principal, its session and tenant."""

    principal: Principal
    session_id: str
    csrf: str
    tenant_name: str | None
    key_label: str | None
    key_prefix: str

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def tenant_id(self) -> str | None:
        return self.principal.tenant_id

    def can(self, role: str) -> bool:
        return self.principal.can(role)


def open_session(principal: Principal, user_agent: str | None) -> str:
    """A new session for a resolved principal; its cookie token (shown to the browser once)."""
    token = secrets.token_urlsafe(32)
    at = wall_now()
    with session_scope(write=True) as s:
        s.add(ConsoleSession(id=_hash(token), key_id=principal.key_id,
                             csrf=secrets.token_urlsafe(32), created_at=at, last_seen_at=at,
                             user_agent=(user_agent or "")[:200] or None))
    return token


def load(token: str | None) -> Viewer | None:
    """The session's viewer, or None: no such session, signed out, expired, or its key
    revoked. A live session's ``last_seen_at`` moves on (at most every ``TOUCH_EVERY_S``)."""
    if not token or len(token) > 100:
        return None
    settings = get_settings()
    at = wall_now()
    sid = _hash(token)
    with session_scope() as s:
        row = s.execute(
            select(ConsoleSession, ApiKey, Tenant)
            .join(ApiKey, ApiKey.id == ConsoleSession.key_id)
            .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ConsoleSession.id == sid, ConsoleSession.ended_at.is_(None),
                   ApiKey.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        sess, key, tenant = row
        if (at - sess.last_seen_at).total_seconds() > settings.console_idle_s or (
            at - sess.created_at
        ).total_seconds() > settings.console_max_s or key.role not in CONSOLE_ROLES:
            return None
        viewer = Viewer(principal=principal_of(key, tenant), session_id=sid, csrf=sess.csrf,
                        tenant_name=tenant.name if tenant else None, key_label=key.label,
                        key_prefix=key.prefix)
        stale = (at - sess.last_seen_at).total_seconds() >= TOUCH_EVERY_S
    if stale:
        with session_scope(write=True) as s:
            s.execute(update(ConsoleSession).where(ConsoleSession.id == sid)
                      .values(last_seen_at=at))
    return viewer


def close(session_id: str) -> None:
    """Sign-out: the session ends now (its cookie no longer loads anything)."""
    with session_scope(write=True) as s:
        s.execute(update(ConsoleSession)
                  .where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
                  .values(ended_at=wall_now()))


def expires_in(viewer: Viewer) -> timedelta:
    return timedelta(seconds=get_settings().console_idle_s)
