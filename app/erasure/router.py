"""``POST /v1/numbers/{number}/erasure`` (admin) and ``GET /v1/erasures`` (compliance)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.clock import InstantOut
from app.db import session_scope
from app.erasure import service
from app.registries.models import Erasure
from app.tenancy.auth import Admin, Compliance

router = APIRouter(prefix="/v1", tags=["erasure"])


class ErasedCounts(BaseModel):
    consents: int
    contracts: int
    refusals: int
    quarantines: int
    oppositions: int


class ErasureOut(BaseModel):
    id: str
    tombstone: str
    requested_at: InstantOut
    requested_by: str
    erased: ErasedCounts
    opposition_added: bool
    nothing_to_erase: bool
    consents_held: int = Field(
        description="Consents whose evidence is kept under legal hold (not shown, not exported) "
        "until three years after their collection (rules-fr.md §5; GDPR art. 17(3)(b)).")
    legal_hold_until: InstantOut | None = Field(
        description="When the last of those holds ends and `gateway audit purge` deletes the "
        "evidence; null when nothing is held.")


def _out(row: Erasure) -> ErasureOut:
    erased = ErasedCounts(consents=row.consents, contracts=row.contracts, refusals=row.refusals,
                          quarantines=row.quarantines, oppositions=row.oppositions)
    return ErasureOut(
        id=row.id, tombstone=row.tombstone, requested_at=row.requested_at,
        requested_by=row.requested_by, erased=erased, opposition_added=row.opposition_added,
        nothing_to_erase=not row.opposition_added and not any(erased.model_dump().values()),
        consents_held=row.consents_held or 0, legal_hold_until=row.legal_hold_until,
    )


@router.post(
    "/numbers/{number}/erasure", status_code=201, response_model=ErasureOut,
    responses={200: {"model": ErasureOut,
                     "description": "A repeated request: `nothing_to_erase`."}},
)
def erase_number(number: str, p: Admin, response: Response) -> ErasureOut:
    """Erase the personal data the registries hold for ``number``; it stays blocked
    (``INTERNAL_OPPOSITION``). 201 when records were erased or the blocking opposition added
    (even for a number never recorded), 200 with ``nothing_to_erase`` on a repeated request."""
    with session_scope(write=True) as s:
        result = service.erase(s, p.tenant_id or "", number, p.key_id)
        if not result.erased_anything:
            response.status_code = 200
        return _out(result.erasure)


@router.get("/erasures", response_model=list[ErasureOut])
def list_erasures(p: Compliance) -> list[ErasureOut]:
    with session_scope() as s:
        return [_out(r) for r in service.list_erasures(s, p.tenant_id or "")]
