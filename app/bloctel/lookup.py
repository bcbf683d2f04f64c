"""The BLOCTEL look-up the check path calls: ``default_lookup().lookup(conn, e164)``.

Each worker process holds the active version in memory (``bloctel.index.Index``, ~4.3 bytes a
number) and answers without a database round trip. A background thread asks the database for
the active version every ``GATEWAY_BLOCTEL_POLL_S`` (0.25 s); when it changed, the thread loads
the new version *beside* the old one and swaps a single reference. A check therefore reads one
whole version — old or new, never a mixture, never an empty stand-in — and every worker of
every replica sharing the database serves a new version within a second of its activation
(poll interval + load time, ~0.3 s for 10 million numbers), without a restart.

Until the first version is loaded, a check waits for it (it cannot answer without the list).
If a reload fails (database briefly away) the worker keeps serving the version it has and
retries at the next poll; ``/metrics`` shows each worker's loaded version.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import threading
import time
from typing import Protocol

from prometheus_client import Gauge
from sqlalchemy import Connection

from app.bloctel import store
from app.cache import on_clear
from app.config import get_settings
from app.db import get_engine
from bloctel.index import Index
from rules_fr.model import BloctelFacts

log = logging.getLogger("gateway.bloctel")


def number_key(e164: str) -> int:
    """``+33612345678`` → ``33612345678`` (how numbers are keyed)."""
    return int(e164.lstrip("+"))


class BloctelLookup(Protocol):
    def lookup(self, conn: Connection | None, e164: str) -> BloctelFacts: ...


class _Held:
    """A loaded version and the two answers a look-up can give (built once, not per check)."""

    __slots__ = ("index", "answers")

    def __init__(self, index: Index) -> None:
        self.index = index
        self.answers = tuple(
            BloctelFacts(listed=listed, as_of=index.as_of, version=index.version)
            for listed in (False, True)
        )


class IndexedLookup:
    def __init__(self) -> None:
        self._held: _Held | None = None
        self._load_lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._generation = 0  # bumped by reset(): a load started before it is discarded
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)

    # -- the check path --------------------------------------------------------

    def lookup(self, conn: Connection | None, e164: str) -> BloctelFacts:
        held = self._held or self._load()
        return held.answers[number_key(e164) in held.index]

    def index(self) -> Index:
        return (self._held or self._load()).index

    def held(self) -> Index | None:
        """The version this process holds, without loading anything."""
        held = self._held
        return held.index if held is not None else None

    # -- loading ---------------------------------------------------------------

    def refresh_if_held(self) -> None:
        """After an activation by this process: swap now if it serves checks (a CLI import
        holds no list, and loads none)."""
        if self._held is not None:
            self.refresh()

    def refresh(self) -> Index:
        """Load the active version now if it is not the one held; return the one held."""
        return self._load().index

    def _load(self) -> _Held:
        with self._load_lock:
            self._ensure_poller()
            generation = self._generation
            engine = get_engine()
            with engine.connect() as conn:
                current = store.active(conn)
            held = self._held
            if held is not None and held.index.import_id == (
                current.import_id if current else None
            ):
                return held
            fresh = _Held(store.load(engine))
            if generation == self._generation:
                self._held = fresh  # the swap: one reference
                _observe(fresh.index)
            del held  # the old version, unless a check still reads it
            _give_back_memory()
            return fresh

    def reset(self) -> None:
        """Forget the held version (tests switch databases; the next check reloads)."""
        with self._load_lock:
            self._generation += 1
            self._held = None

    def _forked(self) -> None:
        """In a forked child: nothing held, no watcher thread (threads do not survive fork)."""
        self._load_lock = threading.Lock()
        self._held, self._poller = None, None

    def _ensure_poller(self) -> None:
        if self._poller is not None and self._poller.is_alive():
            return
        self._poller = threading.Thread(target=self._poll, name="bloctel-index", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        me = threading.current_thread()
        failing_since: float | None = None
        last_log = 0.0
        while self._poller is me:
            time.sleep(get_settings().bloctel_poll_s)
            if self._held is None:
                continue  # nothing held yet: the first check loads
            try:
                self.refresh()
            except Exception:  # keep serving the held version; retry at the next poll
                now = time.monotonic()
                failing_since = failing_since or now
                if now - last_log >= 60:  # once a minute, not four times a second
                    last_log = now
                    log.exception(
                        "BLOCTEL index reload failing for %.0f s; still serving version %s",
                        now - failing_since, self.held().version if self._held else None)
            else:
                if failing_since is not None:
                    log.warning("BLOCTEL index reloads work again")
                failing_since, last_log = None, 0.0


def _give_back_memory() -> None:
    """Return the load's freed buffers (compressed chunks, the old version) to the system:
    glibc keeps freed heap memory for reuse, which would count against the worker for good."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        _libc().malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


#: the version this worker holds (declared here, where it is set, so that BLOCTEL does not
#: climb into ``app.ops``, which reads BLOCTEL's status for /metrics)
BLOCTEL_INDEX_VERSION = Gauge(
    "gateway_bloctel_index_version", "BLOCTEL version held in memory by this worker (0: none)",
    multiprocess_mode="liveall",
)


def _observe(index: Index) -> None:
    BLOCTEL_INDEX_VERSION.set(index.version or 0)


_default = IndexedLookup()
on_clear(_default.reset)


def default_lookup() -> IndexedLookup:
    return _default

