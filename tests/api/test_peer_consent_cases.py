"""The test cases of the open-source peer ``demarchage-consent`` (0.2.0, "extracted from a
production consent gate": décret n° 2026-662, art. R223-1), translated into gateway scenarios
and run through the public API on both databases.

The peer judges one consent at an instant: ``valide``, ``expire``, ``revoque`` or
``preuve_manquante`` (no proof, or a proof dated in the future), with a ceiling of 365 days
from collection (the anniversary instant still valid), a ``max_age_days`` that only tightens,
a revocation that wins over everything, and the proof kept three years. Here each case is a
consent registered through ``/v1/consents`` and a call judged through ``/v1/calls/evaluate``
at the peer's instant (moved into the calling hours where the peer's instant is a midnight),
or the API answer the peer's verdict maps to: ``valide`` → allow; ``expire`` →
``CONSENT_EXPIRED``; ``revoque`` → ``CONSENT_REVOKED``; ``preuve_manquante`` →
``CONSENT_REQUIRED`` (no consent counts) or 422 at registration (a proof more than 5 minutes in
the future is refused, rules-fr.md §5). Where the peer clamps a bad ``max_age_days`` silently,
the gateway refuses it (422) and keeps the law's ceiling. Before this issue every expiry case
here failed: consents never expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.conftest import blocking
from tests.factories import Tenant, add_consent, auth

CALLEE = "06 12 34 56 78"


@dataclass(frozen=True)
class Case:
    collected: str | None  # the consent's given_at; None: no consent at all
    at: str  # the instant the call is judged
    expect: str  # "allow" or the one blocking code
    registered_at: str = "2026-03-01T10:05:00+00:00"  # the service clock at registration
    revoked_at: str | None = None  # the service clock when the consent is revoked
    max_age_days: int | None = None  # tenant policy consent_max_age_days
    expires_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # "evaluate_consent('2026-03-01T10:00:00Z') → 'valide'   (moins d'un an)"
    "valide: less than a year": Case("2026-03-01T10:00:00+00:00", "2026-09-16T12:00:00+00:00",
                                     "allow"),
    # "evaluate_consent('2024-03-01T10:00:00Z') → 'expire'   (plus d'un an)"
    "expire: more than a year": Case("2024-03-01T10:00:00+00:00", "2026-09-16T12:00:00+00:00",
                                     "CONSENT_EXPIRED"),
    # "evaluate_consent(..., revoked_at='2026-06-01T00:00:00Z') → 'revoque'"
    "revoque": Case("2026-03-01T10:00:00+00:00", "2026-09-16T12:00:00+00:00",
                    "CONSENT_REVOKED", revoked_at="2026-06-01T00:00:00+00:00"),
    # "evaluate_consent(None) → 'preuve_manquante'"
    "preuve_manquante: no consent": Case(None, "2026-09-16T12:00:00+00:00", "CONSENT_REQUIRED"),
    # "evaluate_consent('2026-08-01T00:00:00Z', max_age_days=30) → 'expire'"
    "max_age_days=30 tightens": Case("2026-08-01T00:00:00+00:00", "2026-09-16T12:00:00+00:00",
                                     "CONSENT_EXPIRED", registered_at="2026-08-01T00:05:00+00:00",
                                     max_age_days=30),
    # "evaluate_consent('2026-03-01', now='2027-03-01') → 'valide' (jour anniversaire)", at
    # the instant of collection (the peer's midnights moved into the calling hours)
    "anniversary instant still valid": Case("2026-03-01T10:00:00+00:00",
                                            "2027-03-01T10:00:00+00:00", "allow"),
    # "evaluate_consent('2026-03-01', now='2027-03-02') → 'expire'": one second is enough
    "one second after the anniversary": Case("2026-03-01T10:00:00+00:00",
                                             "2027-03-01T10:00:01+00:00", "CONSENT_EXPIRED"),
    "the day after the anniversary": Case("2026-03-01T10:00:00+00:00",
                                          "2027-03-02T10:00:00+00:00", "CONSENT_EXPIRED"),
    # "une preuve datée du futur n'est pas recevable": judged before its date, it counts not
    "a proof dated after the call": Case("2026-09-16T12:03:00+00:00",
                                         "2026-09-16T12:00:00+00:00", "CONSENT_REQUIRED",
                                         registered_at="2026-09-16T12:00:00+00:00"),
    # "la révocation prime": revoked, and expired too
    "revocation wins over expiry": Case("2024-03-01T10:00:00+00:00",
                                        "2026-09-16T12:00:00+00:00", "CONSENT_REVOKED",
                                        revoked_at="2026-06-01T00:00:00+00:00"),
    # "le plafond légal borne tout": a tighter max_age still allows inside its window
    "max_age_days=300 inside its window": Case("2026-03-01T10:00:00+00:00",
                                               "2026-09-16T12:00:00+00:00", "allow",
                                               max_age_days=300),
    "max_age_days=365 is the law's ceiling": Case("2026-03-01T10:00:00+00:00",
                                                  "2027-03-01T10:00:01+00:00",
                                                  "CONSENT_EXPIRED", max_age_days=365),
    # collected before the decree (2026-08-11), judged after it by the same ceiling
    "collected in January 2025": Case("2025-01-15T10:00:00+00:00", "2026-09-16T12:00:00+00:00",
                                      "CONSENT_EXPIRED"),
    # an earlier expires_at wins over the year
    "expires_at shorter than the year": Case("2026-03-01T10:00:00+00:00",
                                             "2026-09-16T12:00:00+00:00", "CONSENT_EXPIRED",
                                             expires_at="2026-06-01T00:00:00+00:00"),
}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _judge(t: Tenant, freeze: Any, case: Case) -> dict[str, Any]:
    if case.max_age_days is not None:
        r = t.client.patch("/v1/policy", json={"consent_max_age_days": case.max_age_days},
                           headers=auth(t.admin))
        assert r.status_code == 200, r.text
    if case.collected is not None:
        freeze(case.registered_at)
        consent = add_consent(t, CALLEE, given_at=case.collected, expires_at=case.expires_at)
        if case.revoked_at is not None:
            freeze(case.revoked_at)
            r = t.post(f"/v1/consents/{consent['id']}/revoke", {"reason": "peer case"})
            assert r.status_code == 200, r.text
    freeze(case.at)
    r = t.evaluate(callee=CALLEE, at=case.at)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("name", list(CASES))
def test_peer_case(tenant: Tenant, freeze: Any, name: str) -> None:
    case = CASES[name]
    d = _judge(tenant, freeze, case)
    if case.expect == "allow":
        assert (d["decision"], d["reasons"]) == ("allow", []), d
    else:
        assert (d["decision"], blocking(d)) == ("deny", [case.expect]), d


def test_peer_case_proof_in_the_future_is_refused(tenant: Tenant, freeze: Any) -> None:
    """"une date de recueil ... dans le futur ne vaut JAMAIS « valide »": beyond 5 minutes of
    clock skew it is not even a proof the gateway records."""
    freeze("2026-09-16T12:00:00+00:00")
    body = {"callee": CALLEE, "scope": "canvassing", "channel": "web_form",
            "evidence": {"form": "optin"}, "given_at": "2026-09-17T12:00:00+00:00"}
    r = tenant.post("/v1/consents", body)
    assert r.status_code == 422, r.text
    assert "given_at" in r.text


@pytest.mark.parametrize("max_age_days", [0, -1, 400])
def test_peer_case_a_bad_max_age_never_widens(tenant: Tenant, max_age_days: int) -> None:
    """The peer reads 0, negative or > 365 as the decree's 365; the gateway refuses them (422)
    and keeps the law's ceiling."""
    r = tenant.client.patch("/v1/policy", json={"consent_max_age_days": max_age_days},
                            headers=auth(tenant.admin))
    assert r.status_code == 422, r.text
    assert tenant.get("/v1/policy", role="admin").json()["consent_max_age_days"] is None


def test_peer_case_days_remaining_and_proof_retention(tenant: Tenant, freeze: Any) -> None:
    """``assess_consent('2026-03-01T10:00:00Z', now='2026-09-16T12:00:00Z')``: expires_at (the
    last valid instant) 2027-03-01T10:00Z, 165 days remaining, proof kept until 2029-03-01;
    here: ``valid_until``, the expiring list, and the erasure's legal hold."""
    freeze("2026-03-01T10:05:00+00:00")
    consent = add_consent(tenant, CALLEE, given_at="2026-03-01T10:00:00+00:00")
    assert consent["valid_until"] is None  # shown in March 2026: no ceiling before 2026-08-11
    freeze("2026-09-16T12:00:00+00:00")
    consent = tenant.get(f"/v1/consents/{consent['id']}").json()
    assert _at(consent["valid_until"]) == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    listed = {w: [c["id"] for c in tenant.get("/v1/consents/expiring",
                                               params={"within_days": w}).json()["consents"]]
              for w in (165, 166)}
    assert listed == {165: [], 166: [consent["id"]]}  # 165 days and 22 hours remain
    r = tenant.post(f"/v1/numbers/{CALLEE}/erasure")
    assert r.status_code == 201, r.text
    erasure = r.json()
    assert erasure["consents_held"] == 1
    assert _at(erasure["legal_hold_until"]) == datetime(2029, 3, 1, 10, 0, tzinfo=UTC)
    assert _at(erasure["legal_hold_until"]) - _at(consent["valid_until"]) > timedelta(days=730)
