"""Builders for rule-engine facts: a clean, allowed call unless a test says otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from rules_fr import (
    BloctelFacts,
    CallFacts,
    CampaignFacts,
    ConsentFacts,
    ContractFacts,
    Decision,
    Policy,
    RegisteredCallerId,
    classify,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
REUNION = ZoneInfo("Indian/Reunion")

CLI = "+33162000001"  # metropolitan canvassing range
MOBILE = "0612345678"
CALLEE = MOBILE

#: a Monday in the opt-out era and a Monday in the opt-in era
OPT_OUT_MONDAY = date(2026, 6, 15)
OPT_IN_MONDAY = date(2026, 11, 23)

OLD_CONSENT = ConsentFacts(scope="canvassing", given_at=datetime(2025, 1, 6, 12, tzinfo=PARIS))
#: a consent within a year of both Mondays (R223-1: at most 365 days from 2026-08-11)
RECENT_CONSENT = ConsentFacts(scope="canvassing",
                              given_at=datetime(2026, 1, 5, 12, tzinfo=PARIS))
#: ``make``'s default consent is this much older than the call, whatever its date: old enough
#: to precede the refusals tests place before the call, young enough to stay valid (365 days)
#: through the rescheduling a test follows (a refusal cooldown: 61 days)
DEFAULT_CONSENT_AGE = timedelta(days=200)


def paris(y: int, m: int, d: int, h: int = 11, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=PARIS)


def at_day(day: date, h: int = 11, mi: int = 0, s: int = 0, tz: ZoneInfo = PARIS) -> datetime:
    return datetime(day.year, day.month, day.day, h, mi, s, tzinfo=tz)


def consent(
    scope: str = "canvassing",
    given_at: datetime = RECENT_CONSENT.given_at,
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> ConsentFacts:
    return ConsentFacts(scope=scope, given_at=given_at, expires_at=expires_at,  # type: ignore[arg-type]
                        revoked_at=revoked_at)


def contract(
    sector: str = "general",
    starts_on: date = date(2024, 1, 1),
    ends_on: date | None = None,
    reference: str = "K-1",
) -> ContractFacts:
    return ContractFacts(reference=reference, sector=sector, starts_on=starts_on, ends_on=ends_on)


def make(
    at: datetime | None = None,
    *,
    callee: str = CALLEE,
    caller: str | None = CLI,
    registered: bool = True,
    assigned_to: str | None = None,
    in_campaign: bool = True,
    purpose: str = "commercial",
    audience: str = "consumers",
    sector: str = "general",
    automated: bool = False,
    listed: bool = False,
    as_of: date | None | str = "fresh",
    consents: tuple[ConsentFacts, ...] | None = None,
    **overrides: object,
) -> CallFacts:
    """A call that is allowed by default, in either regime, on a working Monday at 11:00
    (with a canvassing consent given ``DEFAULT_CONSENT_AGE`` before it, unless ``consents``)."""
    at = at or at_day(OPT_OUT_MONDAY)
    if consents is None:
        consents = (replace(OLD_CONSENT, given_at=at - DEFAULT_CONSENT_AGE),)
    caller_info = classify(caller) if caller is not None else None
    registration = None
    if registered and caller_info is not None and caller_info.e164:
        registration = RegisteredCallerId(caller_info.e164, caller_info.kind, assigned_to)
    cli_set = frozenset({caller_info.e164}) if in_campaign and caller_info and caller_info.e164 \
        else frozenset()
    if as_of == "fresh":
        as_of = at.astimezone(PARIS).date() - timedelta(days=1)
    campaign = CampaignFacts(
        id="spring", purpose=purpose, audience=audience,  # type: ignore[arg-type]
        sector=sector, automated=automated, caller_ids=cli_set,
    )
    facts = CallFacts(
        at=at,
        campaign=campaign,
        callee=classify(callee),
        caller=caller_info,
        caller_registration=registration,
        bloctel=BloctelFacts(listed=listed, as_of=as_of),  # type: ignore[arg-type]
        consents=consents,
        policy=Policy(),
    )
    return replace(facts, **overrides) if overrides else facts


def codes(decision: Decision) -> set[str]:
    return {r.code for r in decision.reasons}


def blocking(decision: Decision) -> set[str]:
    return {r.code for r in decision.reasons if r.severity == "block"}


def reason(decision: Decision, code: str):
    matches = [r for r in decision.reasons if r.code == code]
    assert len(matches) == 1, (code, decision.reasons)
    return matches[0]
