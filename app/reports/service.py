"""Audit reports: the attempt export (``app.reports.export``) and the summary.

Filters are validated here, before anything is streamed: a bad value is a 422 with a message
that names it, never a 500 halfway through a download.

The summary is a handful of ``GROUP BY`` queries over the period (index
``ix_attempts_tenant_checked``), folded in Python. Instants are grouped by **UTC hour** in the
database and each hour is placed in Paris time here: Paris is a whole number of hours from UTC,
so every UTC hour falls in exactly one Paris hour, day and ISO week — and SQLite, which has no
time zones, gives the same answer as PostgreSQL.

Readings chosen (documented in README.md, "Reports"):

* ``penalty_eur``, ``penalties_by_code``, ``penalties_by_week`` and ``by_campaign[…].penalty_eur``
  count the penalty lines *recorded* in the period (a denial's line at the check, an
  unassigned-number line when the outcome is reported), attributed to their attempt's campaign.
* ``short_calls``: attempts reported ``answered`` with ``duration_s < 60`` (rules-fr.md §7) over
  all answered attempts.
* ``unassigned``: attempts reported unassigned — status ``unassigned`` or a SIP code the
  gateway reads as unassigned (404, 410, 484, 604, as ``app.calls.service`` does) — over the
  *dialled* attempts: those with an outcome other than ``not_dialed`` (an attempt without an
  outcome is not known to have been dialled). A share is ``null`` when its denominator is 0.
* ``by_principal``: the tenant's attempts by the principal they were made for (app.principals;
  the tenant's id for its own); ``principal=`` keeps one principal's. Only the tenant's own
  attempts, ever: another call centre's calls for the same principal count toward the
  principal's limits but are not shown.
* ``dialled_despite_deny`` (total, and per campaign in ``by_campaign``): attempts the gateway
  denied that were reported dialled anyway — an outcome other than ``not_dialed``
  (rules-fr.md §7: a breach of the operator's terms).
* ``consent_coverage``: the attempt row records the decision, not which exception let a consumer
  call through, so it is derived from the registries as the rules read them
  (``rules_fr.rules``): among allowed attempts of commercial consumer campaigns, ``consent``
  had a canvassing consent naming the attempt's principal valid at the check (given before,
  within its lifetime — 365 days from 2026-08-11, the tenant policy's shorter one not applied
  here —, not expired, not revoked — a refusal in the opt-in era revokes it at the refusal
  instant —, not void: a tied sale or no notice), ``contract`` had no such consent but an
  ongoing contract of the principal in the campaign's sector (the named ``contract_ref`` when
  given) on the day of the check, ``neither`` had none (opt-out-era calls need neither;
  registries erased since, or edited campaigns, also land there). The campaign is read as it is
  now. The contract's day is the callee's local day on PostgreSQL and the UTC day on SQLite
  (the same day for any call within legal hours in every French zone).
* ``bloctel``: the list versions in force at some instant of the period (from their activation
  to the next activation), and the oldest the list in force got (Paris days since its
  ``as_of``); ``stale`` when, while rules-fr.md §5 required a fresh list (until 2026-08-10),
  it was older than the limit or missing. A period without ``from`` starts at its first
  attempt; one without ``to`` (or ending later) ends now.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Interval,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)

from app import clock
from app.bloctel.models import BloctelVersion
from app.calls.models import Attempt, PenaltyLine
from app.calls.service import UNASSIGNED_SIP
from app.campaigns.models import Campaign
from app.clock import PARIS, iso, parse_bound
from app.db import get_engine, session_scope
from app.errors import Unprocessable
from app.money import format_eur
from app.principals.models import ConsentPrincipal
from app.registries.models import Consent, Contract
from app.reports import export
from app.reports.export import Filters
from app.schemas import control_character, storable
from app.tenancy.models import Tenant
from rules_fr import data as rules_data
from rules_fr.numbering import classify

log = logging.getLogger("gateway.reports")
COLUMNS = export.COLUMNS
SHORT_CALL_S = 60
_a = Attempt.__table__
_p = PenaltyLine.__table__


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if value == "" or value != value.strip():
        raise Unprocessable(f"{name}: empty, or with leading or trailing spaces: {value!r}")
    if control_character(value) is not None or not storable(value):
        raise Unprocessable(f"{name}: control characters are not allowed: {value!r}")
    return value


def filters(
    from_: str | None = None, to: str | None = None, *, campaign: str | None = None,
    decision: str | None = None, reason: str | None = None, caller_id: str | None = None,
    agent_id: str | None = None, principal: str | None = None,
) -> Filters:
    """Validated filters, or a 422 naming the bad one."""
    start = parse_bound(from_, end=False, name="from")
    end = parse_bound(to, end=True, name="to")
    if start is not None and end is not None and start >= end:
        raise Unprocessable(f"from, to: an empty period: {from_} is not before {to}")
    if decision is not None and decision not in ("allow", "deny"):
        raise Unprocessable(f"decision: 'allow' or 'deny', not {decision!r}")
    if reason is not None and reason not in rules_data.CODES:
        raise Unprocessable(f"reason: unknown reason code {reason!r} (GET /v1/rules lists them)")
    caller = _text("caller_id", caller_id)
    if caller is not None:
        # the ledger stores a caller ID as E.164 when it parsed, as sent (trimmed) otherwise
        info = classify(caller)
        caller = info.e164 if info.valid and info.e164 else caller
    return Filters(start=start, end=end, campaign=_text("campaign", campaign), decision=decision,
                   reason=reason, caller_id=caller, agent_id=_text("agent_id", agent_id),
                   principal=_text("principal", principal))


def attempts_csv(tenant_id: str, f: Filters | None = None, *, excel_fr: bool = False,
                 **legacy: Any) -> Iterator[str]:
    return export.csv_chunks(tenant_id, f or Filters(**legacy), excel_fr=excel_fr)


def attempts_jsonl(tenant_id: str, f: Filters | None = None, **legacy: Any) -> Iterator[str]:
    return export.jsonl_chunks(tenant_id, f or Filters(**legacy))


# --- summary ----------------------------------------------------------------------------------


def _where(query: Select[Any], tenant_id: str, f: Filters) -> Select[Any]:
    c = _a.c
    query = query.where(c.tenant_id == tenant_id)
    if f.start is not None:
        query = query.where(c.checked_at >= f.start)
    if f.end is not None:
        query = query.where(c.checked_at < f.end)
    for column, value in ((c.campaign_id, f.campaign), (c.decision, f.decision),
                          (c.caller_id, f.caller_id), (c.agent_id, f.agent_id),
                          (c.principal_id, f.principal)):
        if value is not None:
            query = query.where(column == value)
    if f.reason is not None:
        query = query.where(
            (literal(" ") + c.reason_codes + literal(" ")).like(
                "% " + f.reason.replace("_", "!_") + " %", escape="!")
        )
    return query


def _hour(column: Any, dialect: str) -> Any:
    """The UTC hour of an instant as ``YYYY-MM-DD HH`` text, on either backend."""
    if dialect == "sqlite":
        return func.substr(column, 1, 13)
    return func.to_char(func.timezone("UTC", column), literal_column("'YYYY-MM-DD HH24'"))


def _paris(hour: str) -> datetime:
    return datetime(int(hour[:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]),
                    tzinfo=UTC).astimezone(PARIS)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _split() -> dict[str, int]:
    return {"total": 0, "allowed": 0, "denied": 0}


def _add(bucket: dict[str, int], decision: str, n: int) -> None:
    bucket["total"] += n
    bucket["allowed" if decision == "allow" else "denied"] += n


def _within_lifetime(given_at: Any, checked_at: Any, dialect: str) -> Any:
    """SQL: a consent collected at ``given_at`` is within the lifetime in force at
    ``checked_at`` (``rules_fr.data.CONSENT_LIFETIME``: collection + 365 days from 2026-08-11;
    no ceiling before). The tenant policy's shorter lifetime is not applied here."""
    versions = rules_data.CONSENT_LIFETIME
    conditions = []
    for i, v in enumerate(versions):
        if v.max_days is None:
            continue
        start = datetime.combine(v.since, time.min, PARIS).astimezone(UTC)
        outside = [checked_at < start]
        if i + 1 < len(versions):
            outside.append(checked_at >= datetime.combine(versions[i + 1].since, time.min,
                                                          PARIS).astimezone(UTC))
        if dialect == "sqlite":  # naive UTC text: compare Julian days
            within = func.julianday(given_at) >= func.julianday(checked_at) - v.max_days
        else:
            within = given_at >= checked_at - literal(timedelta(days=v.max_days), Interval())
        conditions.append(or_(*outside, within))
    return and_(*conditions) if conditions else true()


def _consent_coverage(conn: Any, tenant_id: str, f: Filters, dialect: str) -> dict[str, Any]:
    a, cons, ctr, camp = _a.c, Consent.__table__.c, Contract.__table__.c, Campaign.__table__.c
    cp = ConsentPrincipal.__table__.c
    principal = func.coalesce(a.principal_id, a.tenant_id)
    # a consent naming the attempt's principal (from any tenant holding its mandate), valid at
    # the check as the rules read it: given before, within its lifetime, not expired, not
    # revoked, not void (a tied sale, or no information notice)
    consent = exists().where(
        cp.principal_id == principal, cp.callee == a.callee, cons.id == cp.consent_id,
        cons.scope == "canvassing", cons.given_at <= a.checked_at,
        or_(cons.expires_at.is_(None), cons.expires_at > a.checked_at),
        or_(cons.revoked_at.is_(None), cons.revoked_at > a.checked_at),
        cons.conditional_on_sale.is_(False),
        or_(cons.notice_given.is_(None), cons.notice_given.is_(True)),
        _within_lifetime(cons.given_at, a.checked_at, dialect),
    )
    if dialect == "sqlite":
        day: Any = func.date(a.checked_at)
    else:
        day = func.date(func.timezone(a.callee_time_zone, a.checked_at))
    contract = exists().where(
        ctr.principal_id == principal, ctr.callee == a.callee, ctr.sector == camp.sector,
        ctr.starts_on <= day, or_(ctr.ends_on.is_(None), ctr.ends_on >= day),
        or_(a.contract_ref.is_(None), ctr.reference == a.contract_ref),
    )
    has_consent = case((consent, 1), else_=0).label("consent")
    has_contract = case((contract, 1), else_=0).label("contract")
    q = _where(
        select(has_consent, has_contract, func.count()).select_from(
            _a.join(Campaign.__table__, and_(camp.tenant_id == a.tenant_id,
                                             camp.id == a.campaign_id))
        ), tenant_id, f,
    ).where(a.decision == "allow", camp.purpose == "commercial", camp.audience == "consumers")
    counts = {(int(x), int(y)): n for x, y, n in conn.execute(q.group_by(has_consent,
                                                                         has_contract))}
    total = sum(counts.values())
    by_consent = counts.get((1, 0), 0) + counts.get((1, 1), 0)
    by_contract = counts.get((0, 1), 0)
    return {
        "consumer_allowed": total, "consent": by_consent, "contract": by_contract,
        "neither": total - by_consent - by_contract,
        "share_consent": _share(by_consent, total), "share_contract": _share(by_contract, total),
    }


def _bloctel(conn: Any, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """Versions in force during [start, end) and the list's worst age then (module docstring)."""
    v = BloctelVersion.__table__.c
    rows = conn.execute(
        select(v.version, v.as_of, v.activated_at, v.total_numbers)
        .where(v.activated_at.is_not(None), v.status.in_(("active", "superseded")))
        .order_by(v.activated_at, v.version)
    ).all()
    now = clock.now()
    end = min(end, now) if end is not None else now
    if start is None:
        start = rows[0].activated_at if rows else end
    limits = rules_data.BLOCTEL_FRESHNESS
    # segments of constant (list in force, freshness limit): cut at activations and rule dates
    cuts = sorted({start, end}
                  | {r.activated_at for r in rows if start < r.activated_at < end}
                  | {t for t in (datetime.combine(x.since, time.min, PARIS).astimezone(UTC)
                                 for x in limits) if start < t < end})
    versions: list[dict[str, Any]] = []
    worst: int | None = None
    stale = missing = False
    for seg_start, seg_end in zip(cuts, cuts[1:], strict=False):
        in_force = [r for r in rows if r.activated_at <= seg_start]
        row = in_force[-1] if in_force else None
        limit = rules_data.in_force(limits, rules_data.paris_date(seg_start))
        max_days = limit.max_age_days if limit is not None else None
        if row is None:
            missing |= max_days is not None
            stale |= max_days is not None
            continue
        if not versions or versions[-1]["version"] != row.version:
            nxt = next((r.activated_at for r in rows if r.activated_at > row.activated_at), None)
            versions.append({
                "version": row.version, "as_of": row.as_of.isoformat(),
                "activated_at": iso(row.activated_at),
                "superseded_at": iso(nxt),
                "total_numbers": row.total_numbers,
            })
        last_day = (seg_end - timedelta(microseconds=1)).astimezone(PARIS).date()
        age = (last_day - row.as_of).days
        worst = age if worst is None else max(worst, age)
        if max_days is not None and age > max_days:
            stale = True
    required = [x.max_age_days for x in limits if x.max_age_days is not None]
    return {
        "versions": versions, "max_age_days": worst, "stale": stale, "missing": missing,
        "stale_after_days": required[-1] if required else None,
        "period": {"from": iso(start), "to": iso(end)} if start < end else None,
    }


def _ruleset_entry(version: str, first: datetime, last: datetime, n: int) -> dict[str, Any]:
    info = next((i for i in rules_data.ruleset_versions() if i.id == version), None)
    bases: dict[str, str] = {}
    if info is not None:
        for rule, v in rules_data.ruleset_for(info.effective).rules.items():
            if v is not None:
                bases[rule] = v.legal_basis
    return {
        "version": version, "first_seen": iso(first), "last_seen": iso(last),
        "attempts": n, "effective": info.effective.isoformat() if info else None,
        "changed_rules": [rule for rule, _ in info.changes] if info else [],
        "legal_bases": bases,
    }


def summary(tenant_id: str, start: datetime | None = None, end: datetime | None = None,
            f: Filters | None = None) -> dict[str, Any]:
    f = f or Filters(start=start, end=end)
    c, pl = _a.c, _p.c
    engine = get_engine()
    dialect = engine.dialect.name
    hour = _hour(c.checked_at, dialect).label("hour")
    by_campaign: dict[str, dict[str, Any]] = defaultdict(_split)
    by_principal: dict[str, dict[str, int]] = defaultdict(_split)
    by_caller: dict[str, dict[str, int]] = defaultdict(_split)
    by_day: dict[str, dict[str, int]] = defaultdict(_split)
    by_hour = {f"{h:02d}": _split() for h in range(24)}
    by_reason: Counter[str] = Counter()
    breaches: Counter[str] = Counter()
    total = allowed = 0
    with engine.connect() as conn:
        breach = func.coalesce(func.sum(case((c.dialled_despite_deny.is_(True), 1), else_=0)), 0)
        principal = func.coalesce(c.principal_id, c.tenant_id)
        q = _where(select(hour, c.campaign_id, c.caller_id, c.decision, func.count(), breach,
                          principal), tenant_id, f
                   ).group_by(hour, c.campaign_id, c.caller_id, c.decision, principal)
        for h, campaign, caller, decision, n, n_breach, prn in conn.execute(q):
            paris = _paris(h)
            total += n
            allowed += n if decision == "allow" else 0
            breaches[campaign] += int(n_breach)
            _add(by_campaign[campaign], decision, n)
            _add(by_principal[prn], decision, n)
            _add(by_caller[caller or "(none)"], decision, n)
            _add(by_day[paris.date().isoformat()], decision, n)
            _add(by_hour[f"{paris.hour:02d}"], decision, n)

        q = _where(select(c.reason_codes, func.count()), tenant_id, f).where(
            c.reason_codes != "").group_by(c.reason_codes)
        for codes, n in conn.execute(q):
            for code in codes.split():
                by_reason[code] += n

        answered = c.outcome_status == "answered"
        unassigned = or_(c.outcome_status == "unassigned", c.sip_code.in_(sorted(UNASSIGNED_SIP)))
        dialled = and_(c.outcome_status.is_not(None), c.outcome_status != "not_dialed")

        def n_of(cond: Any) -> Any:
            return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

        q = _where(select(n_of(answered), n_of(and_(answered, c.duration_s < SHORT_CALL_S)),
                          n_of(and_(dialled, unassigned)), n_of(dialled)), tenant_id, f)
        n_answered, n_short, n_unassigned, n_dialled = (int(x) for x in conn.execute(q).one())

        q = _where(select(c.ruleset_version, func.min(c.checked_at), func.max(c.checked_at),
                          func.count()), tenant_id, f).group_by(c.ruleset_version)
        rulesets = sorted(conn.execute(q).all(), key=lambda r: (r[1], r[0]))

        # penalty lines recorded in the period, with their attempt's campaign
        p_hour = _hour(pl.created_at, dialect).label("hour")
        pq = select(pl.code, p_hour, c.campaign_id, func.sum(pl.amount_micros)).select_from(
            _p.join(_a, and_(c.id == pl.attempt_id, c.tenant_id == pl.tenant_id))
        ).where(pl.tenant_id == tenant_id)
        if f.start is not None:
            pq = pq.where(pl.created_at >= f.start)
        if f.end is not None:
            pq = pq.where(pl.created_at < f.end)
        for column, value in ((c.campaign_id, f.campaign), (c.caller_id, f.caller_id),
                              (c.principal_id, f.principal)):
            if value is not None:
                pq = pq.where(column == value)
        by_code: Counter[str] = Counter()
        by_week: Counter[str] = Counter()
        campaign_pen: Counter[str] = Counter()
        for code, h, campaign, micros in conn.execute(pq.group_by(pl.code, p_hour,
                                                                  c.campaign_id)):
            micros = int(micros or 0)
            year, week, _ = _paris(h).isocalendar()
            by_code[code] += micros
            by_week[f"{year}-W{week:02d}"] += micros
            campaign_pen[campaign] += micros

        coverage = _consent_coverage(conn, tenant_id, f, dialect)
        first_attempt = rulesets[0][1] if rulesets else None
        bloctel = _bloctel(conn, f.start or first_attempt, f.end)

    campaigns = sorted(set(by_campaign) | set(campaign_pen))
    return {
        "from": iso(f.start),
        "to": iso(f.end),
        "filters": {"campaign": f.campaign, "caller_id": f.caller_id,
                    "principal": f.principal},
        "total": total, "allowed": allowed, "denied": total - allowed,
        "penalty_eur": format_eur(sum(by_code.values())),
        "penalties_by_code": {k: format_eur(v) for k, v in sorted(by_code.items())},
        "penalties_by_week": {k: format_eur(v) for k, v in sorted(by_week.items())},
        "by_reason": dict(by_reason.most_common()),
        "dialled_despite_deny": sum(breaches.values()),
        "by_campaign": {
            k: (by_campaign[k] if k in by_campaign else _split())
            | {"penalty_eur": format_eur(campaign_pen.get(k, 0)),
               "dialled_despite_deny": breaches.get(k, 0)}
            for k in campaigns
        },
        "by_caller_id": dict(sorted(by_caller.items())),
        "by_principal": dict(sorted(by_principal.items())),
        "by_day": dict(sorted(by_day.items())),
        "by_hour": by_hour,
        "short_calls": {"answered": n_answered, "short": n_short,
                        "share": _share(n_short, n_answered), "under_s": SHORT_CALL_S},
        "unassigned": {"attempts": n_unassigned, "dialled": n_dialled,
                       "share": _share(n_unassigned, n_dialled)},
        "consent_coverage": coverage,
        "bloctel": bloctel,
        "ruleset_versions": [_ruleset_entry(v, first, last, n) for v, first, last, n in rulesets],
    }


# --- what the audit report reads besides the summary ---------------------------------------


class UnknownTenant(LookupError):
    """No such tenant (an API key that outlived its tenant, a mistyped ``--tenant``)."""


def tenant_name(tenant_id: str) -> str:
    """The tenant's name, or ``UnknownTenant``."""
    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise UnknownTenant(tenant_id)
        return tenant.name


def ledger_seal(tenant_id: str) -> dict[str, Any] | None:
    """The ledger's head seal for the report's cover, with the tenant's verification
    (``app.audit.service.ledger_head``: ``chain_hash``, ``sealed_until``, ``seals``,
    ``verified``, ``first_broken``); None before the first seal; on a failure to read it, an
    ``error`` the report shows (it still says what it could not verify)."""
    from app.audit.service import ledger_head  # at call time: tests substitute the module

    try:
        head = ledger_head(tenant_id)
    except Exception as exc:
        log.exception("ledger seal unavailable for tenant %s", tenant_id)
        return {"error": f"lecture impossible : {type(exc).__name__}", "verified": None}
    return dict(head) if head else None


# --- the dashboard: summary's headline figures for nested periods, from an hourly rollup ------
#
# ``summary`` reads every row of its period several times: at a million attempts in a month
# that is seconds. The console's dashboard shows, for today, the last 7 days and the month,
# a subset of its figures (``HEADLINE``); ``headlines`` computes exactly those, with the same
# definitions (``_answered`` …), from per-UTC-hour aggregates kept in memory per tenant and
# brought up to date on each call. Exact, not approximate: the ledger only changes in ways the
# rollup can follow, so every figure equals ``summary``'s at the same instant
# (tests/api/console/test_tableau.py compares them):
#
# * an attempt is inserted with ``checked_at`` = now and its counted columns (decision,
#   reasons) never change; its outcome columns (status, SIP code, duration, the breach flag)
#   are written once, together with ``outcome_at`` = now (``app.calls.service.record_outcome``);
#   a penalty line is inserted with ``created_at`` = now. So the rollup at mark ``T`` holds the
#   rows checked before ``T`` with the outcomes recorded before ``T`` (or none) and the penalty
#   lines created before ``T``; each call adds what lies after ``T`` — rows checked since,
#   outcomes recorded since (index ``ix_attempts_tenant_outcome_at``), lines created since —
#   a partition, so nothing is counted twice or missed. The mark trails the clock by
#   ``_SETTLE`` (a transaction that wrote a row stamped before the mark has committed by
#   then), and moves forward at most every ``_STEP`` (folding what is settled into the rollup).
# * a purge deletes rows (``app.audit.service.purge`` appends a ``purge`` link to the chain):
#   any new ``purge`` link, a clock that went backwards, or another database drops the rollup,
#   rebuilt from the ledger. Erasure does not touch the ledger's counted columns.

HEADLINE = ("total", "allowed", "denied", "penalty_eur", "dialled_despite_deny", "by_reason",
            "by_day", "by_hour", "short_calls", "unassigned")
_SETTLE = timedelta(minutes=5)
_STEP = timedelta(minutes=1)
_FIGS = ("allowed", "denied", "breach", "answered", "short", "unassigned", "dialled")


def _answered() -> Any:
    return _a.c.outcome_status == "answered"


def _unassigned() -> Any:
    c = _a.c
    return or_(c.outcome_status == "unassigned", c.sip_code.in_(sorted(UNASSIGNED_SIP)))


def _dialled() -> Any:
    c = _a.c
    return and_(c.outcome_status.is_not(None), c.outcome_status != "not_dialed")


def _n_of(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


class _Hours:
    """One tenant's rollup: per UTC hour (``YYYY-MM-DD HH``) the counts, the reasons and the
    penalty micros, for ``[lower, mark)`` as described above."""

    def __init__(self, db: str, lower: datetime, mark: datetime, built: datetime,
                 purge_seq: int) -> None:
        self.db, self.lower, self.mark, self.built, self.purge_seq = (db, lower, mark, built,
                                                                      purge_seq)
        self.figs: dict[str, Counter[str]] = defaultdict(Counter)
        self.reasons: dict[str, Counter[str]] = defaultdict(Counter)
        self.pens: Counter[str] = Counter()


_ROLLUPS: dict[str, _Hours] = {}  # by tenant, least recently used first
_MAX_TENANTS = 200  # a rollup of a month is some hundreds of KB
_LOCKS: dict[str, threading.Lock] = {}  # per tenant: one fold at a time, readers merge under it
_LOCKS_LOCK = threading.Lock()


def _lock(tenant_id: str) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(tenant_id, threading.Lock())


def _collect(conn: Any, dialect: str, tenant_id: str, lo: datetime, hi: datetime | None,
             out_lo: datetime | None, out_hi: datetime | None, *, counts: bool,
             figs: dict[str, Counter[str]], reasons: dict[str, Counter[str]]) -> None:
    """Add to ``figs``/``reasons`` the rows checked in ``[lo, hi)``: their counts (if
    ``counts``) and the outcome figures of those recorded in ``[out_lo, out_hi)`` (None: no
    bound; a row without outcome counts as recorded before any bound)."""
    c = _a.c
    hour = _hour(c.checked_at, dialect).label("hour")
    span = [c.tenant_id == tenant_id]
    if not counts and out_lo is not None:
        # outcomes recorded since ``out_lo``: few, found by (tenant_id, outcome_at) — the
        # bound on checked_at is wrapped so that no planner walks (tenant_id, checked_at)
        # instead, every row before ``hi``; rows checked before ``lo`` fall outside every
        # period asked for (filtered by hour)
        span.append(func.coalesce(c.checked_at, c.checked_at) < hi)
    else:
        span.append(c.checked_at >= lo)
        if hi is not None:
            span.append(c.checked_at < hi)
    if counts:
        q = select(hour, c.decision, c.reason_codes, func.count()).where(*span).group_by(
            hour, c.decision, c.reason_codes)
        for h, decision, codes, n in conn.execute(q):
            figs[h]["allowed" if decision == "allow" else "denied"] += n
            for code in (codes or "").split():
                reasons[h][code] += n
    when = list(span)
    if out_lo is not None:
        when.append(c.outcome_at >= out_lo)
    if out_hi is not None:
        when.append(or_(c.outcome_at.is_(None), c.outcome_at < out_hi))
    answered = _answered()
    q = select(hour, _n_of(c.dialled_despite_deny.is_(True)), _n_of(answered),
               _n_of(and_(answered, c.duration_s < SHORT_CALL_S)),
               _n_of(and_(_dialled(), _unassigned())), _n_of(_dialled())).where(*when)
    if out_lo is None:  # rows without an outcome add nothing: skip them when they are many
        q = q.where(or_(c.outcome_status.is_not(None), c.dialled_despite_deny.is_(True)))
    for h, breach, ans, short, unas, dialled in conn.execute(q.group_by(hour)):
        f = figs[h]
        f["breach"] += int(breach)
        f["answered"] += int(ans)
        f["short"] += int(short)
        f["unassigned"] += int(unas)
        f["dialled"] += int(dialled)


def _penalties(conn: Any, dialect: str, tenant_id: str, lo: datetime, hi: datetime | None,
               into: Counter[str]) -> None:
    """Penalty micros by UTC hour of the lines created in ``[lo, hi)`` (as ``summary``: joined
    to their attempt)."""
    c, pl = _a.c, _p.c
    p_hour = _hour(pl.created_at, dialect).label("hour")
    q = select(p_hour, func.sum(pl.amount_micros)).select_from(
        _p.join(_a, and_(c.id == pl.attempt_id, c.tenant_id == pl.tenant_id))
    ).where(pl.tenant_id == tenant_id, pl.created_at >= lo)
    if hi is not None:
        q = q.where(pl.created_at < hi)
    for h, micros in conn.execute(q.group_by(p_hour)):
        into[h] += int(micros or 0)


def _purge_seq(conn: Any, since: int) -> int:
    """The last ``purge`` link's seq after ``since`` (``since`` if none)."""
    from app.audit.models import LedgerSeal

    s = LedgerSeal.__table__.c
    found = conn.execute(select(func.max(s.seq)).where(s.seq > since, s.kind == "purge"))
    return int(found.scalar() or since)


def _rollup(conn: Any, dialect: str, tenant_id: str, lower: datetime, now: datetime,
            db: str) -> _Hours:
    """The tenant's rollup covering ``lower``, brought up to ``now - _SETTLE``."""
    r = _ROLLUPS.pop(tenant_id, None)  # put back last: the most recently used
    mark = now - _SETTLE
    if r is not None and (r.db != db or now < r.built or lower < r.lower
                          or _purge_seq(conn, r.purge_seq) != r.purge_seq):
        r = None
    if r is not None and lower > r.lower:  # hours no period asks for any more
        cut = lower.astimezone(UTC).strftime("%Y-%m-%d %H")
        for hours in (r.figs, r.reasons, r.pens):
            for h in [h for h in hours if h < cut]:
                del hours[h]
        r.lower = lower
    if r is None:
        lower = min(lower, mark)
        r = _Hours(db, lower, mark, now, _purge_seq(conn, -1))
        _collect(conn, dialect, tenant_id, lower, mark, None, mark, counts=True,
                 figs=r.figs, reasons=r.reasons)
        _penalties(conn, dialect, tenant_id, lower, mark, r.pens)
    elif mark - r.mark >= _STEP:
        # fold what settled since the last mark: rows checked since (with outcomes recorded
        # before the new mark), outcomes recorded since for older rows, lines created since
        _collect(conn, dialect, tenant_id, r.mark, mark, None, mark, counts=True,
                 figs=r.figs, reasons=r.reasons)
        _collect(conn, dialect, tenant_id, r.lower, r.mark, r.mark, mark, counts=False,
                 figs=r.figs, reasons=r.reasons)
        _penalties(conn, dialect, tenant_id, r.mark, mark, r.pens)
        r.mark, r.built = mark, now
    _ROLLUPS[tenant_id] = r
    while len(_ROLLUPS) > _MAX_TENANTS:  # the least recently viewed go (rebuilt if viewed)
        _ROLLUPS.pop(next(iter(_ROLLUPS)), None)
    return r


def headlines(tenant_id: str, periods: list[tuple[datetime, datetime]]) -> list[dict[str, Any]]:
    """For each ``[start, end)`` (UTC instants on whole hours — Paris days are), the values of
    ``summary(tenant_id, start, end)`` under the keys ``HEADLINE``, equal to them (module
    comment above), in one pass over what the rollup does not hold yet."""
    engine = get_engine()
    dialect = engine.dialect.name
    lower = min(s for s, _ in periods)
    with _lock(tenant_id), engine.connect() as conn:
        now = clock.now()
        r = _rollup(conn, dialect, tenant_id, lower, now, str(engine.url))
        figs: dict[str, Counter[str]] = defaultdict(Counter)
        reasons: dict[str, Counter[str]] = defaultdict(Counter)
        pens: Counter[str] = Counter()
        # since the mark: rows checked, outcomes recorded for older rows, lines created
        _collect(conn, dialect, tenant_id, r.mark, None, None, None, counts=True,
                 figs=figs, reasons=reasons)
        _collect(conn, dialect, tenant_id, r.lower, r.mark, r.mark, None, counts=False,
                 figs=figs, reasons=reasons)
        _penalties(conn, dialect, tenant_id, r.mark, None, pens)
        conn.rollback()
        for h, f in r.figs.items():
            figs[h].update(f)
        for h, f in r.reasons.items():
            reasons[h].update(f)
        pens.update(r.pens)
    return [_headline(figs, reasons, pens, start, end) for start, end in periods]


def _headline(figs: dict[str, Counter[str]], reasons: dict[str, Counter[str]],
              pens: Counter[str], start: datetime, end: datetime) -> dict[str, Any]:
    lo = start.astimezone(UTC).strftime("%Y-%m-%d %H")
    hi = end.astimezone(UTC).strftime("%Y-%m-%d %H")
    total = Counter[str]()
    by_reason: Counter[str] = Counter()
    by_day: dict[str, dict[str, int]] = defaultdict(_split)
    by_hour = {f"{h:02d}": _split() for h in range(24)}
    for h in sorted(figs):
        if not lo <= h < hi:
            continue
        f = figs[h]
        total.update(f)
        by_reason.update(reasons.get(h, Counter()))
        paris = _paris(h)
        for decision, key in (("allow", "allowed"), ("deny", "denied")):
            if f[key]:
                _add(by_day[paris.date().isoformat()], decision, f[key])
                _add(by_hour[f"{paris.hour:02d}"], decision, f[key])
    micros = sum(v for h, v in pens.items() if lo <= h < hi)
    n = total["allowed"] + total["denied"]
    ranked = sorted(((k, v) for k, v in by_reason.items() if v), key=lambda kv: (-kv[1], kv[0]))
    return {
        "total": n, "allowed": total["allowed"], "denied": total["denied"],
        "penalty_eur": format_eur(micros),
        "dialled_despite_deny": total["breach"],
        "by_reason": dict(ranked),
        "by_day": dict(sorted(by_day.items())),
        "by_hour": by_hour,
        "short_calls": {"answered": total["answered"], "short": total["short"],
                        "share": _share(total["short"], total["answered"]),
                        "under_s": SHORT_CALL_S},
        "unassigned": {"attempts": total["unassigned"], "dialled": total["dialled"],
                       "share": _share(total["unassigned"], total["dialled"])},
    }
