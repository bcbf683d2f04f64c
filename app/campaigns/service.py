"""Caller IDs and campaigns, and the cached facts the check path reads about them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.cache import cache
from app.campaigns.models import CallerId, Campaign, CampaignCallerId
from app.clock import now
from app.db import session_scope
from app.errors import Conflict, NotFound, Unprocessable
from app.ids import new_id
from rules_fr.data import SECTORS
from rules_fr.model import CampaignFacts, NumberKind, RegisteredCallerId
from rules_fr.numbering import classify

_campaign_facts = cache()
_caller_facts = cache()


def register_caller_id(
    s: Session, tenant_id: str, number: str, assigned_to: str | None
) -> CallerId:
    info = classify(number)
    if not info.valid or info.e164 is None or not info.e164.startswith("+"):
        raise Unprocessable(
            f"{number!r} is not a valid number in international (E.164) numbering",
            code="CALLER_ID_INVALID",
        )
    if info.kind is NumberKind.MOBILE and not (assigned_to and assigned_to.strip()):
        raise Unprocessable(
            "a mobile caller ID must be assigned to one agent (a natural person): "
            "set assigned_to",
            code="CALLER_ID_MOBILE_UNASSIGNED",
        )
    existing = s.scalar(
        select(CallerId).where(CallerId.tenant_id == tenant_id, CallerId.number == info.e164)
    )
    if existing is not None:
        raise Conflict(f"{info.e164} is already registered")
    row = CallerId(
        id=new_id("cli"), tenant_id=tenant_id, number=info.e164, kind=info.kind.value,
        assigned_to=assigned_to.strip() if assigned_to else None, created_at=now(),
    )
    s.add(row)
    s.flush()
    _caller_facts.invalidate((tenant_id, info.e164))
    return row


def list_caller_ids(s: Session, tenant_id: str) -> list[CallerId]:
    return list(
        s.scalars(select(CallerId).where(CallerId.tenant_id == tenant_id).order_by(CallerId.number))
    )


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
    automated: bool, caller_ids: list[str], create_only: bool,
) -> tuple[Campaign, list[str]]:
    check_sector(sector)
    numbers = _normalise_campaign_caller_ids(s, tenant_id, caller_ids)
    row = s.get(Campaign, (tenant_id, id))
    if row is not None and create_only:
        raise Conflict(f"campaign {id!r} exists: PUT /v1/campaigns/{id} to change it")
    if row is None:
        row = Campaign(tenant_id=tenant_id, id=id, created_at=now())
        s.add(row)
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
                number=row.number, kind=NumberKind(row.kind), assigned_to=row.assigned_to
            )

    return _caller_facts.get_or_load((tenant_id, e164), load)
