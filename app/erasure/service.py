"""Erasure of one number's personal data (GDPR art. 17), keeping the number blocked.

``erase(tenant, number)`` — the whole request in one transaction:

* **Consents**: ``evidence`` is replaced by a minimal record
  (``{"erased": true, "erased_at": …, "erasure_id": …}``) while ``evidence_sha256`` is KEPT: the
  stored hash still proves what evidence was held and when (whoever kept the original can show it
  matches), without the gateway holding it. A consent not yet revoked is revoked ("erasure
  request"): an erased consent can never again authorise a call.
* **Consents, contracts, refusals, quarantines, oppositions**: ``callee`` is replaced by the
  tombstone key ``app.registries.tombstones.tombstone(tenant_id, e164)``. Dates, scopes,
  sectors, contract references, channels and opposition sources stay: without the number they no
  longer identify the consumer inside the gateway, and they are the tenant's proof of what it did.
* **Blocked for good**: an opposition under the tombstone key (source ``erasure request``; an
  existing opposition of the number is re-keyed instead, keeping its source and date). The check
  path looks the opposition up under the tombstone key too (``app.calls.facts``), so a later check
  of the number is denied with ``INTERNAL_OPPOSITION`` — erasing must not make the consumer
  callable again.
* **Legal hold of the consent evidence** (rules-fr.md §5; GDPR art. 17(3)(b): the professional
  must prove a consent for three years from its collection): before the evidence is replaced,
  each consent whose ``given_at`` + 3 years (``CONSENT_PROOF_YEARS``, calendar years in UTC; a
  29 February gives 1 March) is still ahead gets a ``consent_holds`` row — its evidence, the
  stored hash, the erasure, the end of the hold — which no answer, export or import shows. It is
  sealed in the ledger (stream ``holds``, app.audit) and deleted by ``gateway audit purge`` once
  the hold ends, in a sealed purge record. The held record keeps no number: the consent stays
  under the tombstone key, which a complainant's number finds again. The erasure record says how
  many consents are held and until when (``consents_held``, ``legal_hold_until``: the latest
  end). Readings: the hold covers the evidence of every consent of the number, revoked or not (a
  revoked consent still proves the calls made under it); a consent collected more than three
  years ago is erased at once, as before.
* **Record**: one ``erasures`` row per request — tenant, tombstone key, instant, the API key id
  that asked, and how many records of each registry were erased — which proves what was done
  without the number. The request is idempotent: a second one finds nothing left under the number,
  reports zero everywhere (and is recorded as such).

**Principals** (rules-fr.md §1). Contracts, refusals and oppositions belong to a principal
(``principal_id``) and are re-keyed under **their principal's** tombstone,
``tombstone(principal_id, e164)``, which is what the check path computes for a campaign of that
principal; a tenant's own principal has the tenant's id, so every tombstone written before
principals existed is still found. Consents, quarantines and the ``erasures`` record keep the
tenant's key (the principals a consent names are re-keyed with it). The number is blocked for
**every principal the tenant holds a mandate from** (an opposition under each one's tombstone,
unless one is there already): the request reached the tenant, which must not call the consumer
again for any of the professionals it calls for; the oppositions, being the principals', also
block the other call centres of those principals (reading chosen: the conservative one — the
consumer asked a call centre to forget them, and that call centre acts only for them).
Only the tenant's own records are erased: another call centre's records are its own data.

**Not erased, and why.** The attempts ledger (``attempts``, ``penalty_lines``) keeps the callee in
clear: each attempt is the tenant's compliance evidence (proof that a call was checked, allowed or
denied under the rules in force) and the basis of the operator's penalties, which the
tenant and the operator must be able to produce to the DGCCRF or a court (GDPR art. 17(3)(b) and
(e): legal obligation, establishment or defence of legal claims); they are kept for the ledger's
retention (``gateway audit purge``, 3 years by default). BLOCTEL lists are the national list, not
this tenant's data. Numbers received after the erasure (a new consent, a new opposition) are new
data and are stored as given.

**The tombstone is a pseudonym, not anonymisation.** ``sha256(tenant_id | e164)`` is keyed only by
the tenant id, which is not secret from whoever holds the database: hashing every French number
(about 10^9) finds an erased number again in minutes. It protects against casual reading, exports
and logs, and it keeps the key per tenant (the same number erased by two tenants gives two unrelated
keys); it does not protect against an attacker with the database. A secret pepper would, at the
cost of a key that must never be lost (losing it would unblock every erased number); it is left
out on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from app.clock import now
from app.db import CALLEE_LOCK, callee_lock_key
from app.ids import new_id
from app.numbers.models import NumberRekey
from app.principals.models import ConsentPrincipal
from app.principals.service import held_principals
from app.registries.models import (
    Consent,
    ConsentHold,
    Contract,
    Erasure,
    Opposition,
    Quarantine,
    Refusal,
)
from app.registries.service import normalise_callee
from app.registries.tombstones import tombstone, tombstones
from rules_fr.data import CONSENT_PROOF_YEARS

SOURCE = "erasure request"
REKEYED_REGISTRIES = ("consents", "consent_principals", "contracts", "oppositions", "refusals",
                      "quarantines")


@dataclass(frozen=True)
class Result:
    erasure: Erasure
    erased_anything: bool


def erase(s: Session, tenant_id: str, number: str, requested_by: str) -> Result:
    """Erase ``number`` (any written form; 422 when invalid) from this tenant's registries."""
    e164 = normalise_callee(number)
    key = tombstone(tenant_id, e164)
    at = now()
    erasure_id = new_id("era")
    # every principal the tenant calls for is blocked (module docstring, "Principals")
    held = sorted(held_principals(s, tenant_id))
    conn = s.connection()
    if conn.dialect.name == "postgresql":  # SQLite: session_scope(write=True) already serialises
        for principal in held:  # one order everywhere: no deadlock between two erasures
            conn.execute(CALLEE_LOCK, {"key": callee_lock_key(principal, e164)})

    def mine(model: Any) -> Any:
        return (model.tenant_id == tenant_id) & (model.callee == e164)

    kept, hold_until = hold_evidence(s, tenant_id, e164, erasure_id, at)

    def principals_of(model: Any) -> set[str]:
        return {p or tenant_id for p in s.scalars(select(model.principal_id).where(mine(model))
                                                  .distinct())}

    def of(model: Any, principal: str) -> Any:
        if principal == tenant_id:  # rows from before principals (none should be NULL)
            return mine(model) & ((model.principal_id == principal)
                                  | model.principal_id.is_(None))
        return mine(model) & (model.principal_id == principal)

    minimal = {"erased": True, "erased_at": at.isoformat(), "erasure_id": erasure_id}
    # the principals a consent names keep its number beside it: re-keyed first
    s.execute(
        update(ConsentPrincipal)
        .where(ConsentPrincipal.consent_id.in_(select(Consent.id).where(mine(Consent))))
        .values(callee=key).execution_options(synchronize_session=False)
    )
    consents = s.execute(
        update(Consent).where(mine(Consent), Consent.revoked_at.is_(None))
        .values(callee=key, evidence=minimal, revoked_at=at, revoke_reason=SOURCE)
        .execution_options(synchronize_session=False)
    ).rowcount
    consents += s.execute(
        update(Consent).where(mine(Consent)).values(callee=key, evidence=minimal)
        .execution_options(synchronize_session=False)
    ).rowcount
    counts = {"consents": consents}
    for name, model in (("contracts", Contract), ("refusals", Refusal)):
        counts[name] = sum(
            s.execute(update(model).where(of(model, principal))
                      .values(callee=tombstone(principal, e164))
                      .execution_options(synchronize_session=False)).rowcount
            for principal in sorted(principals_of(model))
        )
    counts["quarantines"] = s.execute(
        update(Quarantine).where(mine(Quarantine)).values(callee=key)
        .execution_options(synchronize_session=False)
    ).rowcount

    counts["oppositions"] = 0
    added = False
    for principal in sorted(set(held) | principals_of(Opposition)):
        pkey = tombstone(principal, e164)
        # the legacy tombstone too (app.registries.tombstones)
        blocked = s.scalar(select(exists().where(
            Opposition.tenant_id == tenant_id, Opposition.principal_id == principal,
            Opposition.callee.in_(tombstones(principal, e164)),
        )))
        if blocked:  # erased before: the number's later opposition goes, the tombstone's stays
            counts["oppositions"] += s.execute(
                delete(Opposition).where(of(Opposition, principal))
                .execution_options(synchronize_session=False)
            ).rowcount
            continue
        # the number's own opposition, if any, keeps blocking it under the tombstone key
        n = s.execute(
            update(Opposition).where(of(Opposition, principal)).values(callee=pkey)
            .execution_options(synchronize_session=False)
        ).rowcount
        counts["oppositions"] += n
        if not n and principal in held:
            s.add(Opposition(id=new_id("opp"), tenant_id=tenant_id, principal_id=principal,
                             callee=pkey, source=SOURCE, attempt_id=None, created_at=at))
            added = True

    # what migration 0010 kept of these records' old keys goes with them (app.numbers.models)
    s.execute(delete(NumberRekey).where(
        NumberRekey.tenant_id == tenant_id, NumberRekey.new_value == e164,
        NumberRekey.table_name.in_(REKEYED_REGISTRIES)))

    row = Erasure(id=erasure_id, tenant_id=tenant_id, tombstone=key, requested_at=at,
                  requested_by=requested_by, opposition_added=added, consents_held=kept,
                  legal_hold_until=hold_until, **counts)
    s.add(row)
    s.flush()
    return Result(row, added or any(counts.values()))


def proof_until(given_at: datetime) -> datetime:
    """The end of a consent's legal hold: ``CONSENT_PROOF_YEARS`` calendar years after its
    collection (UTC; a 29 February gives 1 March: the longer reading of "three years")."""
    years = given_at.year + CONSENT_PROOF_YEARS
    if years > MAXYEAR:  # a row stored with an extreme date before dates were bounded
        return datetime.max.replace(tzinfo=UTC)
    try:
        return given_at.replace(year=years)
    except ValueError:  # 29 February
        return given_at.replace(year=years, month=3, day=1)


def hold_evidence(
    s: Session, tenant_id: str, e164: str, erasure_id: str, at: datetime
) -> tuple[int, datetime | None]:
    """Keep the evidence of the number's consents still within their three years under legal
    hold (``consent_holds``), before the erasure replaces it: (how many, the latest end)."""
    rows = s.execute(
        select(Consent.id, Consent.given_at, Consent.evidence, Consent.evidence_sha256)
        .where(Consent.tenant_id == tenant_id, Consent.callee == e164)
        .order_by(Consent.id)
    ).all()
    holds = [
        ConsentHold(consent_id=cid, tenant_id=tenant_id, erasure_id=erasure_id, held_at=at,
                    hold_until=until, evidence=evidence, evidence_sha256=sha)
        for cid, given_at, evidence, sha in rows
        if (until := proof_until(given_at)) > at
    ]
    s.add_all(holds)
    s.flush()
    return len(holds), max((h.hold_until for h in holds), default=None)


def list_erasures(s: Session, tenant_id: str, limit: int = 10_000) -> list[Erasure]:
    q = select(Erasure).where(Erasure.tenant_id == tenant_id)
    return list(s.scalars(q.order_by(Erasure.requested_at, Erasure.id).limit(limit)))
