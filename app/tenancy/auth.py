"""Bearer API keys and roles.

Keys are 256-bit random secrets shown once; only their SHA-256 is stored (a fast hash is the
right tool for high-entropy secrets: there is nothing to brute-force). A key resolves to a
``Principal``; the resolution is cached per worker for ``GATEWAY_CACHE_TTL_S``. Each resolved
key then spends a token of its rate-limit bucket (``app.tenancy.ratelimit``; 429 when empty).

A revoked key (``revoked_at`` set) no longer loads: 401 at once on the worker that revoked it,
on every other worker and replica within ``GATEWAY_CACHE_TTL_S``. A key's ``last_used_at`` is
written when a worker loads it from the database, never on the request path: see
``LAST_USED_PRECISION_S``.
"""


import asyncio
import hashlib
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select, update

from app.cache import cache
from app.clock import now
from app.db import session_scope
from app.errors import Forbidden, Unauthorized
from app.tenancy.models import ApiKey, Tenant
from app.tenancy.policy import policy_from_json
from app.tenancy.ratelimit import limiter, rate_limited
from rules_fr.model import Policy

ROLES = ("operator", "admin", "compliance", "dialer")
# what each role may act as, besides itself
IMPLIES = {"admin": {"compliance"}}


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    tenant_id: str | None
    tenant_suspended: bool
    policy: Policy

    def can(self, role: str) -> bool:
        return self.role == role or role in IMPLIES.get(self.role, set())


def new_key() -> tuple[str, str]:
    """A fresh key and its hash."""
    key = "gw_" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


_principals = cache()


#: ``last_used_at`` is written when a worker loads the key from the database (a cache miss: at
#: most once per ``GATEWAY_CACHE_TTL_S`` per worker), by a background thread so that no request
#: waits on a write, and only when the stored time is older than this: it is the key's last use
#: to within this many seconds (plus the cache TTL).
LAST_USED_PRECISION_S = 60.0

log = logging.getLogger("gateway.auth")
_touches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="key-last-used")


def _touch(key_id: str, at: datetime) -> None:
    try:
        with session_scope(write=True) as s:
            s.execute(update(ApiKey)
                      .where(ApiKey.id == key_id,
                             or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at))
                      .values(last_used_at=at))
    except Exception:  # best effort: a lost "last used" must never fail a request
        log.warning("could not record the last use of key %s", key_id, exc_info=True)


def _load(key_hash: str) -> Principal | None:
    with session_scope() as s:
        row = s.execute(
            select(ApiKey, Tenant)
            .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        key, tenant = row
        at = now()
        if key.last_used_at is None or (
            (at - key.last_used_at).total_seconds() >= LAST_USED_PRECISION_S
        ):
            _touches.submit(_touch, key.id, at)
        return principal_of(key, tenant)


def principal_of(key: ApiKey, tenant: Tenant | None) -> Principal:
    """The principal of a key row that is not revoked (and its tenant's row, if any): what
    a bearer key resolves to, and what the console's session acts as (``app.console``)."""
    return Principal(
        key_id=key.id,
        role=key.role,
        tenant_id=key.tenant_id,
        tenant_suspended=tenant is not None and tenant.status == "suspended",
        policy=policy_from_json(tenant.policy if tenant else None,
                                tenant.sanctions if tenant else None),
    )


_reload_locks: dict[int, asyncio.Lock] = {}


def _reload_lock() -> asyncio.Lock:
    """One lock per event loop (tests run several loops in one process)."""
    loop_id = id(asyncio.get_running_loop())
    lock = _reload_locks.get(loop_id)
    if lock is None:
        lock = _reload_locks[loop_id] = asyncio.Lock()
    return lock


def invalidate_principals() -> None:
    """After a suspension, a policy change or a revocation made by this process."""
    _principals.invalidate()


#: where the HTTP middleware (``app.http``) puts the principal it resolved before any body byte
PRINCIPAL_SCOPE_KEY = "gateway.principal"
#: declares the bearer scheme in the OpenAPI (the Authorize button of /docs); reads nothing
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def authenticate(request: Request, _: Bearer = None) -> Principal:
    """Dependency: the principal ``app.http`` resolved before the body was read (no second
    look-up, no second rate-limit token); resolved here only when no middleware did."""
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if principal is None:
        principal = await resolve(request.headers.get("authorization"))
    return principal


async def resolve(authorization: str | None) -> Principal:
    """The caller's principal. ``async`` on purpose: a cached key costs no thread-pool hop (the
    check path's budget is a few hundred microseconds); a miss reads the database off-loop."""
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <key>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected Authorization: Bearer <key>")
    key_hash = hash_key(token.strip())
    hit, principal = _principals.peek(key_hash)
    if not hit:
        # single flight: when an entry expires under load, one request reloads it and the
        # others wait for that, instead of all of them taking a thread and a connection
        async with _reload_lock():
            hit, principal = _principals.peek(key_hash)
            if not hit:
                principal = await run_in_threadpool(_load, key_hash)
                _principals.put(key_hash, principal)
    if principal is None:
        raise Unauthorized("unknown or revoked API key")
    # one token of this key's bucket (app.tenancy.ratelimit): in memory, well under 1 µs
    limits = limiter()
    wait_s = limits.take(principal.key_id, principal.role)
    if wait_s:
        raise rate_limited(principal.role, limits.limits[principal.role], wait_s)
    return principal


def permitted(principal: Principal, roles: tuple[str, ...], tenant: bool) -> bool:
    """What ``require(*roles, tenant=tenant)`` lets through (a route's fast path asks the
    same question: ``app.http.fast_path``)."""
    return any(principal.can(r) for r in roles) and not (tenant and principal.tenant_id is None)


def require(*roles: str, tenant: bool = False):  # type: ignore[no-untyped-def]
    """Dependency: the caller holds one of ``roles`` (admin also counts as compliance) and,
    with ``tenant=True``, acts for one tenant. One flat ``async`` dependency: no thread hop."""

    async def dependency(request: Request, _: Bearer = None) -> Principal:
        principal = await authenticate(request)
        if not permitted(principal, roles, tenant):
            if not any(principal.can(r) for r in roles):
                raise Forbidden(f"this endpoint needs the role {' or '.join(roles)}")
            raise Forbidden("this endpoint acts on one tenant: use a tenant's key")
        return principal

    return dependency


Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin", tenant=True))]
Compliance = Annotated[Principal, Depends(require("compliance", tenant=True))]
#: ``Dialer``'s requirement, for the check's fast path (``app.calls.router``)
DIALER_ROLES = ("dialer",)
Dialer = Annotated[Principal, Depends(require(*DIALER_ROLES, tenant=True))]
