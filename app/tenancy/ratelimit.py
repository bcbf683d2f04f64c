"""Request rate limits per API key, so that one runaway client cannot starve the others.

A token bucket per API key, sized by the key's role (``GATEWAY_RATE_LIMITS``): the bucket holds
at most ``burst`` tokens, refills at ``rate`` tokens per second, and every authenticated request
spends one. An empty bucket is a 429 with ``Retry-After`` (whole seconds until the next token).

* **Where.** ``app.tenancy.auth.authenticate`` spends the token once the key is resolved, so
  unauthenticated requests (401) and the unauthenticated ``/healthz``, ``/readyz``, ``/metrics``
  are never counted.
* **Cost.** One dict look-up, one uncontended lock and a few float operations: well under a
  microsecond on the check path (``tests/api/test_ratelimit.py`` measures it); no I/O.
* **Per worker process.** Buckets live in the worker's memory. A server with W workers (and R
  replicas) therefore lets one key through at up to W × R × ``rate`` (and W × R × ``burst`` at
  once) — and at least ``rate``: a keep-alive connection stays on one worker, so dividing the
  rate by the worker count would throttle a client using few connections. The configured
  figures are per worker; the bound is documented in the README and docs/architecture.md.
* **Memory.** One small entry per API key that made a request (keys only exist in the database,
  so the count is bounded by the keys issued); past ``MAX_KEYS`` the full buckets are dropped
  (a full bucket is the same as no bucket).

Syntax of ``GATEWAY_RATE_LIMITS`` (comma-separated, roles not named keep their default)::

    dialer=500/s:1000,admin=20/s:40,compliance=1200/m,operator=off

``ROLE=RATE/UNIT[:BURST]``: ``RATE`` a positive number per ``s``, ``m`` (minute) or ``h``
(hour); ``BURST`` a whole number ≥ 1, by default one second's worth of the rate (at least 1).
``ROLE=off`` or ``ROLE=0`` disables that role's limit; the whole value ``off`` disables all.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.cache import on_clear
from app.errors import ApiError

#: the roles of ``app.tenancy.auth.ROLES`` (not imported: auth imports this module)
ROLES = ("operator", "admin", "compliance", "dialer")

#: per worker process. Dialers are the high-volume clients (a call centre runs hundreds of checks
#: per second per key); 1,000/s is about one worker's whole capacity on the development machine,
#: so ``make bench`` (one dialer key, ~1,000–1,300 checks/s over 2 workers) is not throttled.
#: The other roles are people and integrations: generous for a script, far below a tight loop.
DEFAULT_LIMITS = "dialer=1000/s:2000,admin=200/s:400,compliance=50/s:100,operator=50/s:100"

SYNTAX = "ROLE=RATE/s[:BURST] (also /m, /h), ROLE=off, comma-separated; e.g. dialer=500/s:1000"

MAX_KEYS = 100_000

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_ITEM = re.compile(
    r"(?P<rate>\d+(?:\.\d*)?|\.\d+)\s*/\s*(?P<unit>s|min|m|h)\s*(?::\s*(?P<burst>\d+))?"
)


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second
    burst: float  # bucket size (a whole number)
    text: str  # as written, for messages

    def __str__(self) -> str:
        return self.text


def parse_limits(spec: str | None) -> dict[str, Limit | None]:
    """The limit of every role (``None``: unlimited): the defaults, overlaid by ``spec``.
    Raises ``ValueError`` with a message naming the faulty item."""
    limits = _parse(DEFAULT_LIMITS, {})
    spec = (spec or "").strip()
    if spec.lower() == "off":
        return dict.fromkeys(ROLES)
    return _parse(spec, limits) if spec else limits


def _parse(spec: str, base: dict[str, Limit | None]) -> dict[str, Limit | None]:
    out = dict(base)
    seen: set[str] = set()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        role, eq, value = (p.strip() for p in item.partition("="))
        where = f"GATEWAY_RATE_LIMITS: {item!r}"
        if not eq or not value:
            raise ValueError(f"{where}: expected {SYNTAX}")
        if role not in ROLES:
            raise ValueError(f"{where}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        if role in seen:
            raise ValueError(f"{where}: role {role} is given twice")
        seen.add(role)
        if value.lower() in {"off", "0"}:
            out[role] = None
            continue
        m = _ITEM.fullmatch(value)
        if m is None:
            raise ValueError(f"{where}: expected {SYNTAX}")
        rate = float(m["rate"]) / _UNITS[m["unit"]]
        if rate <= 0:
            raise ValueError(f"{where}: the rate must be above 0 (write {role}=off to disable)")
        burst = int(m["burst"]) if m["burst"] is not None else max(1, math.ceil(rate))
        if burst < 1:
            raise ValueError(f"{where}: the burst must be a whole number of at least 1")
        text = f"{m['rate']}/{m['unit']}:{burst}"
        out[role] = Limit(rate=rate, burst=float(burst), text=text)
    return out


class RateLimiter:
    """Token buckets per key. Thread-safe; ``clock`` is injectable (monotonic seconds)."""

    def __init__(
        self, limits: Mapping[str, Limit | None],
        clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS,
    ) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}  # key id → [tokens, at, rate, burst]

    def take(self, key: str, role: str) -> float:
        """Spend one token of ``key``'s bucket: ``0.0`` when allowed, else the seconds until
        the next token (nothing is spent)."""
        limit = self.limits.get(role)
        if limit is None:
            return 0.0
        rate = limit.rate
        with self._lock:  # the clock is read inside: each bucket sees its time move forward
            bucket = self._buckets.get(key)
            if bucket is None:
                now = self._clock()
                if len(self._buckets) >= self._max_keys:
                    self._prune(now)
                self._buckets[key] = [limit.burst - 1.0, now, rate, limit.burst]
                return 0.0
            tokens, at = bucket[0], bucket[1]
            now = self._clock()
            tokens += (now - at) * rate
            if tokens > limit.burst:
                tokens = limit.burst
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return 0.0
            bucket[0] = tokens
            return (1.0 - tokens) / rate

    def _prune(self, now: float) -> None:
        """Drop the buckets that are full by now (called under the lock); all if none is."""
        full = [k for k, (tokens, at, rate, burst) in self._buckets.items()
                if tokens + (now - at) * rate >= burst]
        for k in full or list(self._buckets):
            del self._buckets[k]


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


def rate_limited(role: str, limit: Limit, wait_s: float) -> RateLimited:
    """The 429: ``Retry-After`` in whole seconds (at least 1) until the next token."""
    retry_after = max(1, math.ceil(wait_s))
    return RateLimited(
        f"too many requests for this API key (role {role}: {limit} per server worker); "
        f"retry in {wait_s:.2f} s",
        extra={"retry_after_s": round(wait_s, 3)},
        headers={"Retry-After": str(retry_after)},
    )


_limiter: RateLimiter | None = None
_build_lock = threading.Lock()


def limiter() -> RateLimiter:
    """This worker's limiter, built from the settings at first use."""
    global _limiter
    current = _limiter
    if current is None:
        with _build_lock:
            if _limiter is None:
                from app.config import get_settings

                _limiter = RateLimiter(parse_limits(get_settings().rate_limits))
            current = _limiter
    return current


def reset(clock: Callable[[], float] | None = None) -> RateLimiter:
    """Forget every bucket and re-read ``GATEWAY_RATE_LIMITS`` (tests: after changing the
    settings; optionally with a fake clock)."""
    global _limiter
    from app.config import get_settings

    with _build_lock:
        _limiter = RateLimiter(parse_limits(get_settings().rate_limits),
                               clock=clock or time.monotonic)
        return _limiter


def _forget() -> None:
    global _limiter
    with _build_lock:
        _limiter = None


on_clear(_forget)
