"""The ledger's hashing, pure: what a row's leaf is, how leaves make a part's digest, how a seal
is chained to the one before. No database, no clock (``app.audit.service`` does the I/O)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

#: The columns of an attempt fixed when it is checked (``counted`` is not: an outcome
#: ``not_dialed`` releases it; it belongs to the outcome's leaf).
ATTEMPT_FIELDS = (
    "id", "tenant_id", "campaign_id", "external_id", "callee", "caller_id", "agent_id",
    "contract_ref", "checked_at", "decision", "reason_codes", "reasons", "regime",
    "ruleset_version", "callee_time_zone", "next_allowed_at", "penalty_micros",
)
#: The columns an outcome sets (once: a second, different outcome is refused).
OUTCOME_FIELDS = (
    "id", "outcome_status", "sip_code", "duration_s", "consumer_refused", "consumer_opposed",
    "outcome_at", "counted",
)
#: The evidence of an erased consent under legal hold (``consent_holds``, app.erasure): sealed
#: by ``held_at`` so that what is kept cannot change unseen, until its purge.
HOLD_FIELDS = (
    "consent_id", "tenant_id", "erasure_id", "held_at", "hold_until", "evidence",
    "evidence_sha256",
)
STREAMS = ("attempts", "outcomes", "holds")
GENESIS = "0" * 64
EMPTY = hashlib.sha256().hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def leaf(values: Sequence[Any]) -> bytes:
    """SHA-256 of one row's values as canonical JSON (an array; objects with sorted keys;
    instants in UTC ISO 8601 with microseconds), the same on SQLite and PostgreSQL."""
    return hashlib.sha256(orjson.dumps([_plain(v) for v in values],
                                       option=orjson.OPT_SORT_KEYS)).digest()


class Digest:
    """A part's digest: SHA-256 over its leaves in order (time, then id), and their count."""

    __slots__ = ("count", "_h")

    def __init__(self) -> None:
        self.count = 0
        self._h = hashlib.sha256()

    def add(self, leaf_: bytes) -> None:
        self.count += 1
        self._h.update(leaf_)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def digest_of(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    d = Digest()
    for row in rows:
        d.add(leaf(row))
    return d.count, d.hexdigest()


def chain_hash(key: bytes | None, *, prev_hash: str, seq: int, kind: str, sealed_at: datetime,
               covers_from: datetime | None, covers_to: datetime,
               parts: Iterable[tuple[str, str, int, str]], body: dict[str, Any]) -> str:
    """The seal's hash: over the previous seal's hash and everything this seal states (its
    parts sorted). HMAC-SHA-256 under ``key`` when one is configured — then whoever can write
    to the database but lacks the key cannot forge a chain — else plain SHA-256."""
    payload = orjson.dumps({
        "prev": prev_hash, "seq": seq, "kind": kind, "sealed_at": _plain(sealed_at),
        "covers_from": _plain(covers_from), "covers_to": _plain(covers_to),
        "parts": sorted([list(p) for p in parts]), "body": body,
    }, option=orjson.OPT_SORT_KEYS)
    if key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()
