"""A tiny per-process TTL cache for what the check path reads on every call but rarely changes
(API keys, tenants, campaigns, caller IDs).

Writes made through this process invalidate their entries at once; other workers and replicas
see a change within ``GATEWAY_CACHE_TTL_S`` (default 1 s). This is the documented bound on how
long a suspension, a revoked key or a campaign edit takes to reach every worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from app.config import get_settings

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(self, maxsize: int = 10_000) -> None:
        self._data: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        hit, value = self.peek(key)
        if hit:
            return value  # type: ignore[return-value]
        value = load()
        self.put(key, value)
        return value

    def peek(self, key: Hashable) -> tuple[bool, V | None]:
        """``(True, value)`` when a fresh entry exists, else ``(False, None)``."""
        hit = self._data.get(key)
        if hit is not None and time.monotonic() - hit[0] < get_settings().cache_ttl_s:
            return True, hit[1]
        return False, None

    def put(self, key: Hashable, value: V) -> None:
        if get_settings().cache_ttl_s <= 0:
            return
        with self._lock:
            if len(self._data) >= self._maxsize:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def invalidate(self, key: Hashable | None = None) -> None:
        with self._lock:
            if key is None:
                self._data.clear()
            else:
                self._data.pop(key, None)


_ALL: list[TTLCache[object]] = []


def cache() -> TTLCache[V]:  # type: ignore[type-var]
    c: TTLCache[V] = TTLCache()
    _ALL.append(c)  # type: ignore[arg-type]
    return c


_HOOKS: list[Callable[[], None]] = []


def on_clear(hook: Callable[[], None]) -> None:
    """Also run ``hook`` on ``clear_all`` (other per-process state, e.g. the BLOCTEL index)."""
    _HOOKS.append(hook)


def clear_all() -> None:
    for c in _ALL:
        c.invalidate()
    for hook in _HOOKS:
        hook()
