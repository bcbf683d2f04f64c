"""Issue 4 acceptance scenarios: a consumer's story told through the public API, judged at
precise instants in the opt-in regime (loi 2025-594, from 2026-08-11), on both databases.

Each scenario is a table of steps: freeze the service clock, write to the registries
(``/v1/consents``, ``/v1/contracts``, ``/v1/oppositions``, the erasure), report an outcome, and
``/v1/calls/check`` (now, logged) or ``/v1/calls/evaluate`` (any instant, no side effect) with the
decision, the exact set of blocking reason codes and ``next_allowed_at`` expected.

Calendar (Europe/Paris, winter time +01:00): Monday 2026-11-23; Saturday 2027-01-23.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from tests.api.conftest import blocking, outcome
from tests.factories import CALLEE, Tenant, add_consent

NATIONAL = "06 12 34 56 78"


@dataclass(frozen=True)
class At:
    """Freeze the service clock (check, outcomes and registry writes happen then)."""

    instant: str


@dataclass(frozen=True)
class Consent:
    given_at: str
    expires_at: str | None = None


@dataclass(frozen=True)
class ContractStep:
    starts_on: str
    ends_on: str | None
    reference: str = "C-1"


@dataclass(frozen=True)
class OppositionStep:
    source: str = "consumer letter"


@dataclass(frozen=True)
class Erase:
    pass


@dataclass(frozen=True)
class Expect:
    """Check now (``at=None``: logged) or evaluate at ``at``; then maybe report an outcome."""

    decision: str
    blocks: frozenset[str] = frozenset()
    next_allowed_at: str | None = None
    at: str | None = None
    then: dict[str, Any] = field(default_factory=dict)  # an outcome body for the attempt


def deny(*codes: str, next_allowed_at: str | None = None, at: str | None = None,
         then: dict[str, Any] | None = None) -> Expect:
    return Expect("deny", frozenset(codes), next_allowed_at, at, then or {})


def allow(at: str | None = None, then: dict[str, Any] | None = None) -> Expect:
    return Expect("allow", frozenset(), None, at, then or {})


REFUSED = {"status": "answered", "duration_s": 40, "consumer_refused": True}
OPPOSED = {"status": "answered", "duration_s": 30, "consumer_opposed": True}

SCENARIOS: dict[str, list[Any]] = {
    # A refusal withdraws the consent (loi 2025-594) and starts the 60-day cooldown (D223-9). A
    # new consent restores the consent, not the cooldown (rules_fr.rules docstring): refused on
    # 2026-11-23, no contact through 2027-01-22 (day R+60); 2027-01-23 is a Saturday, so the
    # number is callable again on Monday 2027-01-25 at 10:00.
    "consent, refusal, new consent: callable only after the cooldown": [
        At("2026-11-23T10:30:00+01:00"),
        Consent(given_at="2026-09-01T10:00:00+02:00"),
        allow(then=REFUSED),
        At("2026-11-23T11:00:00+01:00"),
        deny("REFUSAL_COOLDOWN", "CONSENT_REVOKED"),  # no consent left: nothing to wait for
        At("2026-11-24T10:30:00+01:00"),
        Consent(given_at="2026-11-24T09:00:00+01:00"),
        # the refusal predates the new consent, so it does not withdraw it: only the cooldown
        deny("REFUSAL_COOLDOWN", next_allowed_at="2027-01-25T10:00:00+01:00"),
        deny("REFUSAL_COOLDOWN", next_allowed_at="2027-01-25T10:00:00+01:00",
             at="2027-01-22T19:59:00+01:00"),  # last day of the cooldown, inside the hours
        deny("WEEKEND", next_allowed_at="2027-01-25T10:00:00+01:00",
             at="2027-01-23T10:30:00+01:00"),  # the cooldown is over, the weekend is not
        allow(at="2027-01-25T10:00:00+01:00"),
    ],
    # A consent is valid while at < expires_at; then it has expired (CONSENT_EXPIRED, R223-1).
    "expired consent": [
        At("2026-11-23T10:30:00+01:00"),
        Consent(given_at="2026-09-01T10:00:00+02:00", expires_at="2026-11-24T12:00:00+01:00"),
        allow(),
        allow(at="2026-11-24T11:59:59+01:00"),
        deny("CONSENT_EXPIRED", at="2026-11-24T12:00:00+01:00"),
        deny("CONSENT_EXPIRED", at="2026-11-25T10:30:00+01:00"),
    ],
    # An ongoing related contract covers the call through its last day (ends_on, the consumer's
    # local date) and no longer the day after.
    "contract ended yesterday": [
        At("2026-11-23T10:30:00+01:00"),
        ContractStep(starts_on="2025-01-01", ends_on="2026-11-22"),
        deny("CONSENT_REQUIRED"),
        allow(at="2026-11-20T19:59:00+01:00"),  # Friday: the contract was ongoing
        deny("CONSENT_REQUIRED", at="2026-11-23T10:00:00+01:00"),
    ],
    "contract ending today": [
        At("2026-11-23T10:30:00+01:00"),
        ContractStep(starts_on="2025-01-01", ends_on="2026-11-23"),
        allow(),
        allow(at="2026-11-23T19:59:59+01:00"),
        deny("CONSENT_REQUIRED", at="2026-11-24T10:00:00+01:00"),
    ],
    # The internal opposition list wins over a valid consent, for good (no next_allowed_at).
    "opposition overrides consent": [
        At("2026-11-23T10:30:00+01:00"),
        Consent(given_at="2026-09-01T10:00:00+02:00"),
        allow(),
        OppositionStep(),
        deny("INTERNAL_OPPOSITION"),
        deny("INTERNAL_OPPOSITION", at="2027-06-01T10:30:00+02:00"),
    ],
    "opposition during a call overrides consent": [
        At("2026-11-23T10:30:00+01:00"),
        Consent(given_at="2026-09-01T10:00:00+02:00"),
        allow(then=OPPOSED),
        At("2026-11-23T11:00:00+01:00"),
        deny("INTERNAL_OPPOSITION"),
        At("2026-11-24T10:30:00+01:00"),
        Consent(given_at="2026-11-24T09:00:00+01:00"),  # a new consent does not lift it
        deny("INTERNAL_OPPOSITION"),
    ],
    # GDPR art. 17: the registries forget the number (consent gone), the number stays blocked.
    "erasure keeps the number blocked": [
        At("2026-11-23T10:30:00+01:00"),
        Consent(given_at="2026-09-01T10:00:00+02:00"),
        ContractStep(starts_on="2025-01-01", ends_on=None),
        allow(),
        At("2026-11-23T11:00:00+01:00"),
        Erase(),
        deny("INTERNAL_OPPOSITION", "CONSENT_REQUIRED"),
        At("2026-11-24T10:30:00+01:00"),
        Consent(given_at="2026-11-24T09:00:00+01:00"),
        deny("INTERNAL_OPPOSITION"),
        deny("INTERNAL_OPPOSITION", at="2027-06-01T10:30:00+02:00"),
    ],
    "erasure after an opposition during a call": [
        At("2026-11-23T10:30:00+01:00"),
        Consent(given_at="2026-09-01T10:00:00+02:00"),
        allow(then=OPPOSED),
        At("2026-11-23T11:00:00+01:00"),
        Erase(),
        deny("INTERNAL_OPPOSITION", "CONSENT_REQUIRED"),
    ],
}


def run(t: Tenant, freeze: Callable[[str], None], steps: list[Any]) -> None:
    for i, step in enumerate(steps):
        where = f"step {i}: {step}"
        if isinstance(step, At):
            freeze(step.instant)
        elif isinstance(step, Consent):
            add_consent(t, NATIONAL, given_at=step.given_at, expires_at=step.expires_at)
        elif isinstance(step, ContractStep):
            r = t.post("/v1/contracts", {"callee": NATIONAL, "reference": step.reference,
                                         "sector": "general", "starts_on": step.starts_on,
                                         "ends_on": step.ends_on})
            assert r.status_code == 201, (where, r.text)
        elif isinstance(step, OppositionStep):
            r = t.post("/v1/oppositions", {"callee": NATIONAL, "source": step.source})
            assert r.status_code in (200, 201), (where, r.text)
        elif isinstance(step, Erase):
            r = t.post(f"/v1/numbers/{NATIONAL}/erasure")
            assert r.status_code == 201, (where, r.text)
        elif isinstance(step, Expect):
            if step.at is None:
                r = t.check(callee=NATIONAL)
            else:
                r = t.evaluate(callee=NATIONAL, at=step.at)
            assert r.status_code == 200, (where, r.text)
            d = r.json()
            assert d["callee"] == CALLEE and d["regime"] == "opt_in", where
            assert (d["decision"], set(blocking(d))) == (step.decision, set(step.blocks)), (
                where, d["reasons"])
            expected_next = datetime.fromisoformat(step.next_allowed_at) \
                if step.next_allowed_at else None
            got_next = datetime.fromisoformat(d["next_allowed_at"]) \
                if d["next_allowed_at"] else None
            assert got_next == expected_next, (where, d["next_allowed_at"])
            if step.then:
                assert step.at is None, "an outcome needs a logged attempt"
                o = outcome(t, d["attempt_id"], **step.then)
                assert o.status_code in (200, 201), (where, o.text)
        else:  # pragma: no cover
            raise AssertionError(f"unknown step {step!r}")


@pytest.mark.parametrize("steps", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_scenario(tenant: Tenant, freeze: Callable[[str], None], steps: list[Any]) -> None:
    run(tenant, freeze, steps)
