"""The sealed attempt ledger: seal, verify, purge.

**Scheme.** Time is cut into consecutive periods ``[covers_from, covers_to)``. A *seal* states,
for every tenant with activity in its period and for each of two streams — ``attempts`` (rows
by ``checked_at``: the columns fixed at the check, ``app.audit.ledger.ATTEMPT_FIELDS``) and
``outcomes`` (rows by ``outcome_at``: what the outcome set) — how many rows there are and the
SHA-256 over their canonical leaves in (time, id) order (``ledger_parts``). Each seal's hash
covers the previous seal's hash, its period and all its parts (``ledger_seals``: a hash chain;
HMAC-SHA-256 under ``GATEWAY_LEDGER_KEY`` when set). Changing, deleting or inserting a row of a
sealed period changes a part's count or digest; editing a seal breaks the chain after it.

**The check path is untouched.** A check inserts its row as before; nothing is chained per row,
so replicas never wait on each other. Sealing is a periodic job (every
``GATEWAY_SEAL_INTERVAL_S``, default 5 minutes, in whichever worker takes the ``try_lock``
first), which reads the new rows with two index range scans per tenant and writes one small
transaction. It seals up to ``now - GATEWAY_SEAL_GRACE_S`` (default 2 minutes): a check takes
its time inside its transaction, and a transaction older than the grace would be committed into
an already sealed period and reported as an insertion. So a row is sealed 2 to 7 minutes after
it is written; until then it is exposed (``verify`` counts the unsealed rows).

**What it does not prove.** Someone with write access to the database *and* to the code or the
key could re-seal a forged history; without a key, whoever can write the database can recompute
the chain. The chain head printed on every audit report (and returned by ``verify``) is the
anchor: an earlier printed head that is no longer in the chain, or no longer hashes the same,
shows a rewrite.

**Consent evidence under legal hold** (``consent_holds``, written by an erasure: app.erasure)
is a third stream, ``holds``, sealed by ``held_at`` like the others; ``purge`` deletes the
holds that ended (``hold_until`` passed: collection + 3 years) in one ``purge`` link per tenant
stating the count, the digest of the deleted rows and the ``holds`` parts it changed
(``overrides``). Attempts' cutoffs do not apply to it: a hold may outlive the attempts of its
period.

**Retention** (``purge``): attempts older than the tenant's retention (``ledger_retention_days``
in its policy, else ``GATEWAY_RETENTION_DAYS``, 3 years) are deleted with their penalty lines,
whole sealed periods at a time, each step sealed in the chain as a ``purge`` record (tenant,
cutoff, counts). Outcomes of purged attempts recorded in later periods leave those periods'
outcome parts: the purge record restates them (``overrides``), so the chain still verifies and
a purge can never hide a later edit.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select
from sqlalchemy.engine import Connection

from app import clock
from app.audit.ledger import (
    ATTEMPT_FIELDS,
    EMPTY,
    GENESIS,
    HOLD_FIELDS,
    OUTCOME_FIELDS,
    STREAMS,
    Digest,
    chain_hash,
    digest_of,
    leaf,
)
from app.audit.models import LedgerPart, LedgerSeal
from app.calls.models import Attempt, PenaltyLine
from app.clock import iso
from app.config import get_settings
from app.db import LockBusy, get_engine, try_lock, write_transaction
from app.jobs import LeaderProcess, run_every
from app.numbers.models import NumberRekey
from app.registries.models import ConsentHold
from app.tenancy.models import Tenant

log = logging.getLogger("gateway.audit")

_a = Attempt.__table__
_s = LedgerSeal.__table__
_p = LedgerPart.__table__
_pl = PenaltyLine.__table__
# A number migration 0010 re-keyed (one line, one key) was sealed with its old key: hash it so.
_rk = NumberRekey.__table__
_RK = {f: _rk.alias(f"rk_{f}") for f in ("callee", "caller_id")}


def _sealed(field: str) -> Any:
    if field not in _RK:
        return _a.c[field]
    return func.coalesce(_RK[field].c.old_value, _a.c[field]).label(field)


_h = ConsentHold.__table__
_COLS = {"attempts": [_sealed(f) for f in ATTEMPT_FIELDS],
         "outcomes": [_a.c[f] for f in OUTCOME_FIELDS],
         "holds": [_h.c[f] for f in HOLD_FIELDS]}
_FROM: dict[str, Any] = {"attempts": _a, "outcomes": _a, "holds": _h}
for _f, _alias in _RK.items():
    _FROM["attempts"] = _FROM["attempts"].outerjoin(_alias, and_(
        _alias.c.table_name == "attempts", _alias.c.row_key == _a.c.id,
        _alias.c.column_name == _f))
_TIME = {"attempts": _a.c.checked_at, "outcomes": _a.c.outcome_at, "holds": _h.c.held_at}
_TABLE = {"attempts": _a, "outcomes": _a, "holds": _h}
_ID = {"attempts": _a.c.id, "outcomes": _a.c.id, "holds": _h.c.consent_id}
_LOCK = ("ledger-seal", (0x6C656467, 0x7365616C))  # "ledg" "seal"
_LEADER = ("ledger-sealer", (0x6C656467, 0x6C656164))  # "ledg" "lead"
class LedgerBusy(RuntimeError):
    """Another process is sealing or purging."""


#: Rows of one tenant deleted per purge step (each step one transaction and one purge record).
PURGE_STEP_ROWS = 20_000


def _key() -> bytes | None:
    key = get_settings().ledger_key
    return key.encode("utf-8") if key else None


def _rows(conn: Connection, stream: str, tenant_id: str, start: datetime | None,
          end: datetime | None) -> Iterator[Any]:
    time = _TIME[stream]
    q = select(*_COLS[stream]).select_from(_FROM[stream]).where(
        _TABLE[stream].c.tenant_id == tenant_id)
    if stream == "outcomes":
        q = q.where(time.is_not(None))
    if start is not None:
        q = q.where(time >= start)
    if end is not None:
        q = q.where(time < end)
    yield from conn.execute(q.order_by(time, _ID[stream]).execution_options(yield_per=5000))


def _restated(conn: Connection, stream: str, tenant_id: str, periods: list[Any],
              late: Iterable[int]) -> list[dict[str, Any]]:
    """The sealed periods (indexes ``late`` of ``periods``) a purge changed, restated: their
    new count and digest of ``stream``. A period not sealed yet needs none: the next seal sees
    the rows as they are."""
    out = []
    for i in late:
        if i >= len(periods):
            continue
        p = periods[i]
        n, d = _digest(conn, stream, tenant_id, p.covers_from, p.covers_to)
        out.append({"seq": p.seq, "stream": stream, "count": n, "digest": d})
    return out


def _digest(conn: Connection, stream: str, tenant_id: str, start: datetime | None,
            end: datetime | None) -> tuple[int, str]:
    d = Digest()
    for row in _rows(conn, stream, tenant_id, start, end):
        d.add(leaf(row))
    return d.count, d.hexdigest()


def _head(conn: Connection) -> Any:
    return conn.execute(select(_s).order_by(_s.c.seq.desc()).limit(1)).first()


def _append(conn: Connection, head: Any, kind: str, sealed_at: datetime,
            covers_from: datetime | None, covers_to: datetime,
            parts: list[tuple[str, str, int, str]], body: dict[str, Any]) -> dict[str, Any]:
    seq = head.seq + 1 if head is not None else 1
    prev = head.hash if head is not None else GENESIS
    h = chain_hash(_key(), prev_hash=prev, seq=seq, kind=kind, sealed_at=sealed_at,
                   covers_from=covers_from, covers_to=covers_to, parts=parts, body=body)
    conn.execute(insert(_s).values(
        seq=seq, kind=kind, sealed_at=sealed_at, covers_from=covers_from, covers_to=covers_to,
        body=body, prev_hash=prev, hash=h))
    if parts:
        conn.execute(insert(_p), [
            {"seq": seq, "tenant_id": t, "stream": s, "count": n, "digest": d}
            for t, s, n, d in parts])
    return {"seq": seq, "kind": kind, "hash": h, "sealed_at": iso(sealed_at),
            "covers_from": iso(covers_from), "covers_to": iso(covers_to), "parts": len(parts),
            "rows": sum(p[2] for p in parts)}


# --------------------------------------------------------------------------- sealing


def seal(engine: Engine | None = None, until: datetime | None = None) -> dict[str, Any] | None:
    """Seal every row written since the last seal up to ``until`` (at most, and by default,
    now minus the grace). Returns the new seal, or None: nothing new, or another process is
    sealing (then it will)."""
    engine = engine or get_engine()
    now = clock.now()
    end = now - timedelta(seconds=get_settings().seal_grace_s)
    if until is not None:
        end = min(end, until)
    try:
        with try_lock(engine, *_LOCK):
            with engine.connect() as conn:
                head = _head(conn)
                start = head.covers_to if head is not None else None
                if start is not None and end <= start:
                    return None
                parts: list[tuple[str, str, int, str]] = []
                for (tenant_id,) in conn.execute(select(Tenant.id).order_by(Tenant.id)):
                    for stream in STREAMS:
                        n, digest = _digest(conn, stream, tenant_id, start, end)
                        if n:
                            parts.append((tenant_id, stream, n, digest))
                conn.rollback()
            if not parts:
                return None  # the next seal starts from the same point
            with write_transaction(engine) as conn:
                return _append(conn, _head(conn), "seal", now, start, end, parts, {})
    except LockBusy:
        return None


class Sealer(LeaderProcess):
    """Keeps one sealing process running per database (``python -m app.audit.sealer``), in
    whichever worker holds the ``ledger-sealer`` lock (``app.jobs.LeaderProcess``). Sealing
    runs in a process of its own, not in a thread of a worker: reading thousands of rows in a
    thread of a busy worker hands the GIL back and forth at every row with the thread serving
    requests (measured: checks/s fell by 27 % with a thread sealing every second; unchanged
    with a process)."""

    def __init__(self, interval: float, engine_of: Callable[[], Engine] = get_engine) -> None:
        super().__init__("app.audit.sealer", _LEADER, interval, engine_of)


def run_sealer(interval: float) -> None:
    """The sealing process: seal every ``interval`` seconds until its worker is gone."""

    def job() -> None:
        done = seal()
        if done:
            log.info("ledger sealed up to %s: seal %s, %s rows", done["covers_to"],
                     done["seq"], done["rows"])

    run_every(interval, job, "ledger sealer")


# --------------------------------------------------------------------------- verifying


@dataclass
class _Seal:
    seq: int
    kind: str
    sealed_at: datetime
    covers_from: datetime | None
    covers_to: datetime
    body: dict[str, Any]


def _problem(seal_: _Seal, reason: str, **extra: Any) -> dict[str, Any]:
    return {"seq": seal_.seq, "kind": seal_.kind, "sealed_at": iso(seal_.sealed_at),
            "covers_from": iso(seal_.covers_from), "covers_to": iso(seal_.covers_to),
            "reason": reason, **extra}


def verify(tenant_id: str | None = None, engine: Engine | None = None) -> dict[str, Any]:
    """Check the chain, then recompute every sealed part of ``tenant_id`` (None: every
    tenant) from the rows. ``ok`` is False at the first broken seal, which is named."""
    engine = engine or get_engine()
    key = _key()
    problems: list[dict[str, Any]] = []
    seals: list[_Seal] = []
    expected: dict[tuple[int, str, str], tuple[int, str]] = {}
    cutoffs: dict[str, datetime] = {}
    tenants: set[str] = set()
    with engine.connect() as conn:
        prev_hash, prev_to, prev_seq = GENESIS, None, 0
        parts_rows = conn.execute(
            select(_p.c.seq, _p.c.tenant_id, _p.c.stream, _p.c.count, _p.c.digest)
            .order_by(_p.c.seq, _p.c.tenant_id, _p.c.stream).execution_options(yield_per=10_000))
        pending = next(parts_rows, None)
        for r in conn.execute(select(_s).order_by(_s.c.seq).execution_options(yield_per=5000)):
            s = _Seal(r.seq, r.kind, r.sealed_at, r.covers_from, r.covers_to, r.body or {})
            parts: list[tuple[str, str, int, str]] = []
            while pending is not None and pending.seq <= s.seq:
                if pending.seq == s.seq:
                    parts.append((pending.tenant_id, pending.stream, pending.count,
                                  pending.digest))
                pending = next(parts_rows, None)
            recomputed = chain_hash(key, prev_hash=r.prev_hash, seq=s.seq, kind=s.kind,
                                    sealed_at=s.sealed_at, covers_from=s.covers_from,
                                    covers_to=s.covers_to, parts=parts, body=s.body)
            if s.seq != prev_seq + 1:
                problems.append(_problem(s, f"seal {prev_seq + 1} is missing"))
            elif r.prev_hash != prev_hash:
                problems.append(_problem(s, "does not follow the seal before it (prev_hash)"))
            elif recomputed != r.hash:
                problems.append(_problem(s, "the seal itself was changed (hash)"))
            elif s.kind == "seal" and s.covers_from != prev_to:
                problems.append(_problem(s, "its period does not start where the last ended"))
            prev_hash, prev_seq = r.hash, s.seq
            seals.append(s)
            if s.kind == "seal":
                prev_to = s.covers_to
                for t, stream, n, d in parts:
                    if tenant_id is None or t == tenant_id:
                        expected[(s.seq, t, stream)] = (n, d)
                        tenants.add(t)
            elif s.kind == "purge" and (tenant_id is None or s.body.get("tenant_id") == tenant_id):
                t = s.body["tenant_id"]
                tenants.add(t)
                if "cutoff" in s.body:  # attempts purged (a purge of holds has no cutoff)
                    cut = datetime.fromisoformat(s.body["cutoff"])
                    cutoffs[t] = max(cutoffs.get(t, cut), cut)
                for o in s.body.get("overrides", []):
                    expected[(o["seq"], t, o["stream"])] = (o["count"], o["digest"])
        if tenant_id is not None:
            tenants.add(tenant_id)
        else:
            tenants.update(t for (t,) in conn.execute(select(Tenant.id)))
        periods = [s for s in seals if s.kind == "seal"]
        ends = [s.covers_to for s in periods]
        sealed_until = ends[-1] if ends else None
        unsealed = dict.fromkeys(STREAMS, 0)
        rows_checked = 0
        for t in sorted(tenants):
            cutoff = cutoffs.get(t)
            for stream in STREAMS:
                digests: dict[int, Digest] = {}
                for row in _rows(conn, stream, t, None, None):
                    at = getattr(row, _TIME[stream].name)
                    i = bisect.bisect_right(ends, at)
                    if i == len(ends):
                        unsealed[stream] += 1
                        continue
                    rows_checked += 1
                    digests.setdefault(i, Digest()).add(leaf(row))
                for i, s in enumerate(periods):
                    got = digests.get(i)
                    n, d = (got.count, got.hexdigest()) if got else (0, EMPTY)
                    if cutoff is not None and s.covers_to <= cutoff and stream != "holds":
                        if n:
                            problems.append(_problem(s, f"{n} row(s) in a purged period",
                                                     tenant_id=t, stream=stream))
                        continue
                    want = expected.get((s.seq, t, stream), (0, EMPTY))
                    if (n, d) != want:
                        what = (f"{want[0]} row(s) sealed, {n} found" if n != want[0] else
                                f"{n} row(s) sealed and found, but a row was changed")
                        problems.append(_problem(s, what, tenant_id=t, stream=stream))
    problems.sort(key=lambda p: p["seq"])
    return {
        "ok": not problems, "tenant_id": tenant_id, "seals": len(seals),
        "head": prev_hash if seals else None,
        "sealed_until": iso(sealed_until),
        "rows_checked": rows_checked, "unsealed": unsealed,
        "first_broken": problems[0] if problems else None, "problems": len(problems),
        "keyed": key is not None,
    }


def ledger_head(tenant_id: str, engine: Engine | None = None) -> dict[str, Any] | None:
    """What an audit report prints: the chain head, how far it seals, and the tenant's
    verification (read by ``app.reports.service.ledger_seal`` for the PDF); None before the
    first seal."""
    result = verify(tenant_id, engine)
    if not result["seals"]:
        return None
    broken = result["first_broken"]
    return {"chain_hash": result["head"], "sealed_until": result["sealed_until"],
            "seals": result["seals"], "verified": result["ok"],
            "first_broken": f"seal {broken['seq']}: {broken['reason']}" if broken else None}


# --------------------------------------------------------------------------- retention


def retention_cutoff(tenant: Any, now: datetime) -> datetime:
    days = (tenant.policy or {}).get("ledger_retention_days") or get_settings().retention_days
    return now - timedelta(days=int(days))


def purge(tenant_id: str | None = None, before: datetime | None = None, *,
          engine: Engine | None = None, dry_run: bool = False,
          on_step: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Delete the attempts (and their penalty lines) of ``tenant_id`` (None: every tenant)
    checked before ``before`` (default: the tenant's retention), whole sealed periods at a
    time, each step sealed. Returns what was (or, ``dry_run``, would be) deleted per tenant."""
    engine = engine or get_engine()
    now = clock.now()
    out: list[dict[str, Any]] = []
    held = contextlib.ExitStack()
    try:
        held.enter_context(try_lock(engine, *_LOCK))
    except LockBusy:
        raise LedgerBusy("the ledger is being sealed or purged by another process; "
                         "try again in a minute") from None
    with held:
        with engine.connect() as conn:
            query = select(Tenant).order_by(Tenant.id)
            if tenant_id is not None:
                query = query.where(Tenant.id == tenant_id)
            tenants = list(conn.execute(query))
            periods = list(conn.execute(
                select(_s.c.seq, _s.c.covers_from, _s.c.covers_to)
                .where(_s.c.kind == "seal").order_by(_s.c.seq)))
            conn.rollback()
        for tenant in tenants:
            want = before if before is not None else retention_cutoff(tenant, now)
            result = _purge_tenant(engine, tenant.id, want, periods, now, dry_run, on_step)
            result["holds"] = _purge_holds(engine, tenant.id, periods, now, dry_run, on_step)
            out.append(result)
    return out


def _purge_holds(engine: Engine, tenant_id: str, periods: list[Any], now: datetime,
                 dry_run: bool, on_step: Callable[[dict[str, Any]], None] | None) -> int:
    """Delete the consent evidence whose legal hold ended (``hold_until`` <= now; app.erasure)
    in one sealed step: a ``purge`` link stating the tenant, the count, the digest of the rows
    deleted (their leaves, as sealed) and the ``holds`` parts of the sealed periods it changed
    (``overrides``, as for outcomes). Nothing is purged before the first seal (the purge link
    continues the chain from a seal); the server seals every few minutes. How many rows."""
    with write_transaction(engine) as conn:
        head = _head(conn)
        gone = list(conn.execute(
            select(*_COLS["holds"]).where(_h.c.tenant_id == tenant_id, _h.c.hold_until <= now)
            .order_by(_h.c.held_at, _h.c.consent_id)))
        if not gone or head is None or dry_run:
            conn.rollback()
            return len(gone) if dry_run else 0
        count, digest = digest_of(gone)
        ends = [p.covers_to for p in periods]
        late = sorted({bisect.bisect_right(ends, r.held_at) for r in gone})
        ids = [r.consent_id for r in gone]
        for i in range(0, len(ids), 1000):
            conn.execute(delete(_h).where(_h.c.consent_id.in_(ids[i : i + 1000])))
        overrides = _restated(conn, "holds", tenant_id, periods, late)
        body = {"tenant_id": tenant_id, "stream": "holds", "holds": count, "digest": digest,
                "held_until": max(r.hold_until for r in gone).isoformat(),
                "overrides": overrides}
        record = _append(conn, head, "purge", now, head.covers_to, head.covers_to, [], body)
    if on_step is not None:
        on_step(record | {"attempts": 0, "holds": count})
    return count


def _purge_tenant(engine: Engine, tenant_id: str, want: datetime, periods: list[Any],
                  now: datetime, dry_run: bool,
                  on_step: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """Steps of whole sealed periods, each at most ``PURGE_STEP_ROWS`` attempts (or one period)."""
    bounds = [p.covers_to for p in periods if p.covers_to <= want]
    result = {"tenant_id": tenant_id, "cutoff": None, "attempts": 0, "penalty_lines": 0,
              "steps": 0, "dry_run": dry_run}
    if not bounds:
        return result
    with engine.connect() as conn:
        done = conn.execute(
            select(func.min(_a.c.checked_at)).where(_a.c.tenant_id == tenant_id)).scalar()
        counts = {r.seq: r.count for r in conn.execute(
            select(_p.c.seq, _p.c.count).where(_p.c.tenant_id == tenant_id,
                                               _p.c.stream == "attempts"))}
        conn.rollback()
    if done is None or done >= bounds[-1]:
        return result  # nothing older than the cutoff
    # step ends: period ends where the attempts accumulated since the last step pass the budget
    steps: list[datetime] = []
    acc = 0
    for p in periods:
        if p.covers_to > bounds[-1]:
            break
        acc += counts.get(p.seq, 0)
        if acc >= PURGE_STEP_ROWS or p.covers_to == bounds[-1]:
            if p.covers_to > done:
                steps.append(p.covers_to)
            acc = 0
    ends = [p.covers_to for p in periods]
    for cutoff in steps:
        with write_transaction(engine) as conn:
            old = select(_a.c.id).where(_a.c.tenant_id == tenant_id, _a.c.checked_at < cutoff)
            n_att = conn.execute(select(func.count()).select_from(old.subquery())).scalar_one()
            if not n_att:
                continue
            # later periods whose outcome parts hold outcomes of these attempts
            late = sorted({bisect.bisect_right(ends, at) for (at,) in conn.execute(
                select(_a.c.outcome_at).where(
                    _a.c.tenant_id == tenant_id, _a.c.checked_at < cutoff,
                    _a.c.outcome_at >= cutoff))})
            n_pen = conn.execute(select(func.count()).select_from(_pl).where(
                _pl.c.attempt_id.in_(old))).scalar_one()
            if dry_run:
                result["attempts"] += n_att
                result["penalty_lines"] += n_pen
                result["cutoff"] = iso(cutoff)
                conn.rollback()
                continue
            conn.execute(delete(_pl).where(_pl.c.attempt_id.in_(old)))
            conn.execute(delete(_rk).where(_rk.c.table_name == "attempts",
                                           _rk.c.row_key.in_(old)))
            conn.execute(delete(_a).where(_a.c.tenant_id == tenant_id,
                                          _a.c.checked_at < cutoff))
            overrides = _restated(conn, "outcomes", tenant_id, periods, late)
            body = {"tenant_id": tenant_id, "cutoff": cutoff.isoformat(), "attempts": n_att,
                    "penalty_lines": n_pen, "overrides": overrides}
            head = _head(conn)
            record = _append(conn, head, "purge", now, head.covers_to, head.covers_to, [], body)
        result["attempts"] += n_att
        result["penalty_lines"] += n_pen
        result["cutoff"] = iso(cutoff)
        result["steps"] += 1
        if on_step is not None:
            on_step(record | {"attempts": n_att})
    return result
