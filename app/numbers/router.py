"""Per-number views for compliance officers and dialers.

* ``GET /v1/numbers/{number}/history`` (compliance, admin): one callee's whole story with this
  tenant; attempts paginated (``limit``, ``after``), registries whole.
* ``GET /v1/consents/{id}/proof`` (compliance, admin): a consent, its evidence re-hashed, its
  lifecycle and the attempts made while it was valid.
* ``GET /v1/numbers/{number}/next-window?campaign=`` (dialer, admin): when the number may next
  be called, judged by the full rule set without logging an attempt.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.clock import INSTANT_RANGE_DOC, Instant
from app.numbers import service
from app.numbers.schemas import HistoryOut, NextWindowOut, ProofOut
from app.tenancy.auth import Compliance, Principal, require

router = APIRouter(prefix="/v1", tags=["numbers"])

DialerOrAdmin = Annotated[Principal, Depends(require("dialer", "admin", tenant=True))]

LIMIT = Query(default=None, ge=1, le=service.MAX_PAGE,
              description=f"Attempts per page (default {service.DEFAULT_PAGE}).")
AFTER = Query(default=None, max_length=40,
              description="Id of the last attempt of the previous page (its next_after).")


@router.get("/numbers/{number}/history", response_model=HistoryOut)
def history(
    number: str, p: Compliance, limit: int | None = LIMIT, after: str | None = AFTER
) -> HistoryOut:
    """Consents, contracts, oppositions, refusals, quarantines and attempts of one callee (any
    written form; an invalid number is 422), oldest first, with the state now. Attempts come
    in pages: follow ``attempts.next_after`` until it is null."""
    return service.history(p.tenant_id or "", number, limit=limit, after=after,
                           max_age_days=p.policy.consent_max_age_days)


@router.get("/consents/{consent_id}/proof", response_model=ProofOut)
def proof(
    consent_id: str, p: Compliance, limit: int | None = LIMIT, after: str | None = AFTER
) -> ProofOut:
    """The proof of one consent: evidence with its stored and recomputed SHA-256, lifecycle,
    refusals after it and the attempts made while it was valid."""
    return service.proof(p.tenant_id or "", consent_id, limit=limit, after=after,
                         max_age_days=p.policy.consent_max_age_days)


@router.get("/numbers/{number}/next-window", response_model=NextWindowOut)
def next_window(
    number: str,
    p: DialerOrAdmin,
    campaign: str = Query(min_length=1, max_length=100),
    caller_id: str | None = Query(
        default=None, max_length=200,
        description="Caller ID to judge with (default: the campaign's first, in E.164 order).",
    ),
    at: Annotated[Instant | None, Query(
        description=f"Judge this instant, not now. {INSTANT_RANGE_DOC}")] = None,
) -> NextWindowOut:
    """When the number may next be called for the campaign, and why not before.
    ``next_allowed_at`` is null when waiting alone will never make the call lawful (no consent,
    opposition, campaign or caller ID not allowed…): ``blocking`` says what must change."""
    return service.next_window(p, number, campaign, caller_id, at)
