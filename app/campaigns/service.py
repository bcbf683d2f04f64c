"""Caller IDs and campaigns, and the cached facts the check path reads about them."""

from __future__ import annotations

import io
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cache import cache
from app.campaigns.models import CallerId, Campaign, CampaignCallerId
from app.cells import csv_cell
from app.clock import now
from app.config import get_settings
from app.db import session_scope
from app.errors import Conflict, NotFound, Unprocessable
from app.ids import new_id
from app.principals.service import require_mandates
from app.tenancy.models import Tenant
from rules_fr.data import SECTORS, paris_date
from rules_fr.model import CampaignFacts, NumberKind, RegisteredCallerId
from rules_fr.numbering import classify
from rules_fr.rules import never_caller_id

_campaign_facts = cache()
_caller_facts = cache()


def _e164(number: str) -> str:
    info = classify(number)
    if not info.valid or info.e164 is None or not info.e164.startswith("+"):
        short = " (a short number)" if info.kind is NumberKind.SHORT_CODE else ""
        raise Unprocessable(
            f"number: {number!r}{short} is not a valid number in international (E.164) "
            "numbering", code="CALLER_ID_INVALID", extra={"field": "number"},
        )
    return info.e164


def _presentable(number: str) -> None:
    """422 for a number that may never be a caller ID (089, 118 XYZ, forbidden short numbers:
    rules-fr.md §2), rather than a registration every call presenting it would be denied."""
    info = classify(number)
    never = never_caller_id(info, paris_date(now()))
    if never is not None:
        why, basis = never
        raise Unprocessable(
            f"number: {why}, which may never be presented as a caller ID ({basis})",
            code="CALLER_ID_SPECIAL_SERVICE", extra={"field": "number"},
        )


def _taken(e164: str, *, mine: bool) -> Conflict:
    """The 409 for a number already held: the same answer whoever the other holder is (which
    tenant holds a number is the operator's business, not another tenant's)."""
    if mine:
        return Conflict(f"{e164} is already registered by this tenant")
    return Conflict(
        f"{e164} is held by another customer of the operator: a number is registered by one "
        "tenant only (L221-17); if it is yours, ask the operator"
    )


def register_caller_id(
    s: Session, tenant_id: str, number: str, assigned_to: str | None
) -> CallerId:
    """Register a number as the tenant's. A number held by any tenant is a 409, decided by the
    database's unique number (race-free: of two simultaneous registrations one wins). A number
    that can never be a caller ID is a 422 (``CALLER_ID_SPECIAL_SERVICE``)."""
    _presentable(number)
    e164 = _e164(number)
    info = classify(number)
    if info.kind is NumberKind.MOBILE and not (assigned_to and assigned_to.strip()):
        raise Unprocessable(
            "a mobile caller ID must be assigned to one agent (a natural person): "
            "set assigned_to",
            code="CALLER_ID_MOBILE_UNASSIGNED",
        )
    holder = s.scalar(select(CallerId.tenant_id).where(CallerId.number == e164))
    if holder is not None:
        raise _taken(e164, mine=holder == tenant_id)
    row = CallerId(
        id=new_id("cli"), tenant_id=tenant_id, number=e164, kind=info.kind.value,
        assigned_to=assigned_to.strip() if assigned_to else None, created_at=now(),
    )
    try:
        with s.begin_nested():  # a savepoint: the holder can still be read after a loss
            s.add(row)
    except IntegrityError:  # registered by someone else since the look-up above
        holder = s.scalar(select(CallerId.tenant_id).where(CallerId.number == e164))
        raise _taken(e164, mine=holder == tenant_id) from None
    _caller_facts.invalidate((tenant_id, e164))
    return row


def list_caller_ids(s: Session, tenant_id: str) -> list[CallerId]:
    return list(
        s.scalars(select(CallerId).where(CallerId.tenant_id == tenant_id).order_by(CallerId.number))
    )


# --- the operator's view: every tenant's caller IDs, and its verification --------------------

ALL_COLUMNS = (
    "number", "kind", "tenant_id", "tenant_name", "assigned_to", "created_at", "verified_at",
)


def list_all_caller_ids(s: Session, tenant_id: str | None = None) -> list[tuple[CallerId, str]]:
    """Every tenant's caller IDs with the tenant's name, by number (the list ARCEP decision
    2025-2215 asks originating operators to keep)."""
    q = select(CallerId, Tenant.name).join(Tenant, Tenant.id == CallerId.tenant_id)
    if tenant_id is not None:
        q = q.where(CallerId.tenant_id == tenant_id)
    return [(c, name) for c, name in s.execute(q.order_by(CallerId.number))]


def caller_ids_csv(rows: Iterable[dict[str, str | None]]) -> str:
    """RFC 4180 (CRLF, quoted when needed), tenant-written cells neutralised against formulas
    like the reports' CSV (``app.cells.csv_cell``)."""
    out = io.StringIO()
    out.write(",".join(ALL_COLUMNS) + "\r\n")
    for r in rows:
        out.write(",".join(csv_cell(r[c] or "") for c in ALL_COLUMNS) + "\r\n")
    return out.getvalue()


def set_verified(s: Session, number: str, verified: bool) -> tuple[CallerId, str]:
    """The operator verifies a number (any written form), or withdraws its verification.
    Verifying twice keeps the first instant. 404 when no tenant holds the number."""
    e164 = _e164(number)
    found = s.execute(
        select(CallerId, Tenant.name)
        .join(Tenant, Tenant.id == CallerId.tenant_id)
        .where(CallerId.number == e164)
    ).first()
    if found is None:
        raise NotFound(f"no tenant holds the caller ID {e164}")
    row, name = found
    if not verified:
        row.verified_at = None
    elif row.verified_at is None:
        row.verified_at = now()
    s.flush()
    _caller_facts.invalidate((row.tenant_id, e164))
    return row, name


def verification_required() -> bool:
    """``GATEWAY_CALLER_ID_VERIFICATION=required``: the fact the caller-ID rule reads."""
    return get_settings().caller_id_verification == "required"


def delete_caller_id(s: Session, tenant_id: str, number: str) -> None:
    info = classify(number)
    e164 = info.e164 or number
    row = s.scalar(select(CallerId).where(CallerId.tenant_id == tenant_id, CallerId.number == e164))
    if row is None:
        raise NotFound(f"no caller ID {number}")
    s.execute(
        delete(CampaignCallerId).where(
            CampaignCallerId.tenant_id == tenant_id, CampaignCallerId.number == e164
        )
    )
    s.delete(row)
    _caller_facts.invalidate((tenant_id, e164))
    _campaign_facts.invalidate()


def _normalise_campaign_caller_ids(s: Session, tenant_id: str, numbers: list[str]) -> list[str]:
    registered = {c.number for c in list_caller_ids(s, tenant_id)}
    out: list[str] = []
    for raw in numbers:
        info = classify(raw)
        if info.e164 is None or not info.valid:
            raise Unprocessable(f"caller ID {raw!r} is not a valid number")
        if info.e164 not in registered:
            raise Unprocessable(
                f"caller ID {info.e164} is not registered by this tenant: POST /v1/caller-ids first"
            )
        if info.e164 not in out:
            out.append(info.e164)
    return out


def check_sector(sector: str) -> None:
    """A sector the rule set knows (rules_fr.data.SECTORS), or a clear 422."""
    if sector not in SECTORS:
        raise Unprocessable(f"unknown sector {sector!r}; one of {', '.join(sorted(SECTORS))}")


def upsert_campaign(
    s: Session, tenant_id: str, *, id: str, purpose: str, audience: str, sector: str,
    automated: bool, caller_ids: list[str], create_only: bool, principal: str | None = None,
    prerecorded: bool = False,
) -> tuple[Campaign, list[str]]:
    """Create (or replace) a campaign. ``principal``: the principal it calls for, which the
    tenant must hold a mandate from (403 otherwise); ``None`` keeps a replaced campaign's
    principal and gives a new one the tenant's own (reading chosen: a client that does not
    know the field must not move a campaign's calls to another principal's counts)."""
    check_sector(sector)
    numbers = _normalise_campaign_caller_ids(s, tenant_id, caller_ids)
    row = s.get(Campaign, (tenant_id, id))
    if row is not None and create_only:
        raise Conflict(f"campaign {id!r} exists: PUT /v1/campaigns/{id} to change it")
    if principal is not None:
        principal = require_mandates(s, tenant_id, [principal])[0]
    if row is None:
        row = Campaign(tenant_id=tenant_id, id=id, created_at=now())
        s.add(row)
    row.principal_id = principal or row.principal_id or tenant_id
    row.prerecorded = prerecorded
    row.purpose, row.audience, row.sector, row.automated = purpose, audience, sector, automated
    s.flush()
    s.execute(
        delete(CampaignCallerId).where(
            CampaignCallerId.tenant_id == tenant_id, CampaignCallerId.campaign_id == id
        )
    )
    s.add_all(CampaignCallerId(tenant_id=tenant_id, campaign_id=id, number=n) for n in numbers)
    s.flush()
    _campaign_facts.invalidate((tenant_id, id))
    return row, numbers


def get_campaign(s: Session, tenant_id: str, campaign_id: str) -> tuple[Campaign, list[str]]:
    row = s.get(Campaign, (tenant_id, campaign_id))
    if row is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return row, _campaign_numbers(s, tenant_id, campaign_id)


def list_campaigns(s: Session, tenant_id: str) -> list[tuple[Campaign, list[str]]]:
    rows = s.scalars(select(Campaign).where(Campaign.tenant_id == tenant_id).order_by(Campaign.id))
    return [(r, _campaign_numbers(s, tenant_id, r.id)) for r in rows]


def _campaign_numbers(s: Session, tenant_id: str, campaign_id: str) -> list[str]:
    return list(
        s.scalars(
            select(CampaignCallerId.number)
            .where(
                CampaignCallerId.tenant_id == tenant_id,
                CampaignCallerId.campaign_id == campaign_id,
            )
            .order_by(CampaignCallerId.number)
        )
    )


# --- facts for the check path (cached per worker, see app.cache) -------------------------


def campaign_facts(tenant_id: str, campaign_id: str) -> CampaignFacts | None:
    def load() -> CampaignFacts | None:
        with session_scope() as s:
            row = s.get(Campaign, (tenant_id, campaign_id))
            if row is None:
                return None
            return CampaignFacts(
                id=row.id, purpose=row.purpose, audience=row.audience,  # type: ignore[arg-type]
                sector=row.sector, automated=row.automated,
                caller_ids=frozenset(_campaign_numbers(s, tenant_id, campaign_id)),
                principal=row.principal_id or tenant_id, prerecorded=bool(row.prerecorded),
            )

    return _campaign_facts.get_or_load((tenant_id, campaign_id), load)


def caller_registration(tenant_id: str, e164: str) -> RegisteredCallerId | None:
    def load() -> RegisteredCallerId | None:
        with session_scope() as s:
            row = s.scalar(
                select(CallerId).where(CallerId.tenant_id == tenant_id, CallerId.number == e164)
            )
            if row is None:
                return None
            return RegisteredCallerId(
                number=row.number, kind=NumberKind(row.kind), assigned_to=row.assigned_to,
                verified=row.verified_at is not None,
            )

    return _caller_facts.get_or_load((tenant_id, e164), load)
