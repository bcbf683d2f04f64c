"""Properties of the calls API under arbitrary input (Hypothesis, through the TestClient)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.factories import CANVASSING_CLI, Tenant

SETTINGS = settings(
    max_examples=150, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# callee / caller ID text: arbitrary unicode, plus strings that look like phone numbers, plus
# the characters that hurt (NUL, line breaks, bidi override, quotes, CSV separators, formulas)
PHONE_ALPHABET = "0123456789 +-.()/\u00a0"
NASTY = st.text(st.sampled_from("0612+ \x00\r\n\t\u00a0\u202eé=;,\"'\\"), max_size=20)
numbers = st.one_of(
    st.text(max_size=200),
    st.text(st.characters(max_codepoint=0x7F), max_size=20),
    NASTY,
    st.text(alphabet=PHONE_ALPHABET, max_size=25),
    st.sampled_from(["06 12 34 56 78", "+33612345678", "0892 68 00 00", "3949", "118 712",
                     "+44 20 7946 0958", "+881 6 1234 5678", "0692 12 34 56", ""]),
    st.builds(lambda n: f"0{n}", st.integers(100_000_000, 999_999_999).map(str)),
)

# any text: arbitrary unicode, and ASCII with its control characters (NUL, CR, ESC…)
TEXT = st.text(max_size=300) | st.text(st.characters(max_codepoint=0x7F), max_size=20) | NASTY
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
FIELDS = ["campaign", "callee", "caller_id", "agent_id", "contract_ref", "external_id",
          "callee_department", "at"]


@SETTINGS
@given(callee=numbers, caller_id=st.one_of(st.none(), numbers))
def test_any_text_as_numbers_gets_a_coherent_decision(
    tenant: Tenant, callee: str, caller_id: str | None
) -> None:
    r = tenant.evaluate(callee=callee, caller_id=caller_id)
    assert r.status_code == 200, (callee, caller_id, r.text)
    body = r.json()
    blocks = [x for x in body["reasons"] if x["severity"] == "block"]
    assert (body["decision"] == "deny") == bool(blocks), body
    assert body["penalty_eur"] == ("0.02" if blocks else "0.00")
    assert body["attempt_id"] is None
    assert all(x["legal_basis"] and x["message"] for x in body["reasons"])
    if body["next_allowed_at"] is not None:
        assert body["decision"] == "deny"


maybe_text = st.none() | TEXT.filter(lambda t: len(t) <= 100)
# well-formed bodies with hostile strings: these reach the rules and the database
well_formed = st.fixed_dictionaries(
    {"campaign": st.sampled_from(["spring-2026"] * 3 + [""]).flatmap(
        lambda c: st.just(c) if c else TEXT),
     "callee": numbers},
    optional={"caller_id": st.just(CANVASSING_CLI) | st.none() | numbers,
              "agent_id": maybe_text, "contract_ref": maybe_text, "external_id": maybe_text},
)
arbitrary = st.one_of(
    # any JSON value in any field
    st.fixed_dictionaries(
        {"campaign": st.one_of(st.just("spring-2026"), JSON),
         "callee": st.one_of(numbers, JSON)},
        optional={name: JSON for name in FIELDS if name not in ("campaign", "callee")},
    ),
    st.dictionaries(st.sampled_from([*FIELDS, "status", "sip_code", "x"]), JSON, max_size=5),
    JSON,
)
bodies = st.one_of(well_formed, arbitrary)


@SETTINGS
@given(body=bodies, path=st.sampled_from(["/v1/calls/check", "/v1/calls/evaluate"]))
def test_any_json_never_causes_a_500(tenant: Tenant, body: Any, path: str) -> None:
    r = tenant.post(path, body, role="dialer")
    event(f"HTTP {r.status_code}")
    assert r.status_code in (200, 404, 409, 422), (body, r.status_code, r.text[:300])
    if r.status_code == 409:  # examples share a tenant: an external_id reused for another call
        assert r.json()["error"] == "idempotency_conflict", r.text
        assert path == "/v1/calls/check" and r.json()["differs"]
    if r.status_code == 200:
        decision = r.json()
        blocks = [x for x in decision["reasons"] if x["severity"] == "block"]
        assert (decision["decision"] == "deny") == bool(blocks)


outcomes = st.one_of(
    st.fixed_dictionaries(
        {"status": st.one_of(st.sampled_from(["answered", "no_answer", "busy", "rejected",
                                              "unassigned", "failed", "not_dialed"]), JSON)},
        optional={"sip_code": st.one_of(st.integers(-10, 1000), JSON),
                  "duration_s": st.one_of(st.integers(-10, 100_000), JSON),
                  "consumer_refused": st.one_of(st.booleans(), JSON),
                  "consumer_opposed": st.one_of(st.booleans(), JSON)},
    ),
    JSON,
)


@SETTINGS
@given(body=outcomes)
def test_any_outcome_body_never_causes_a_500(tenant: Tenant, body: Any) -> None:
    attempt = tenant.check(callee="not a number").json()["attempt_id"]
    r = tenant.post(f"/v1/calls/{attempt}/outcome", body, role="dialer")
    assert r.status_code in (200, 422), (body, r.status_code, r.text[:300])


NUL = "nul\x00byte"
# (role, method, path, body): every string a client can send, with a NUL byte in it
NUL_WRITES = [
    ("operator", "POST", "/v1/tenants", {"name": NUL}),
    ("operator", "POST", "/v1/tenants/{tenant}/suspend", {"reason": NUL}),
    ("admin", "POST", "/v1/caller-ids", {"number": "0162000009", "assigned_to": NUL}),
    ("admin", "POST", "/v1/caller-ids", {"number": NUL}),
    ("admin", "POST", "/v1/campaigns", {"id": NUL, "purpose": "commercial",
                                        "audience": "consumers", "automated": True}),
    ("admin", "POST", "/v1/campaigns", {"id": "c1", "purpose": "commercial", "sector": NUL,
                                        "audience": "consumers", "automated": True}),
    ("admin", "POST", "/v1/consents", {"callee": "0612345678", "scope": "canvassing",
                                       "given_at": "2026-09-01T10:00:00Z", "channel": NUL,
                                       "evidence": {}}),
    ("admin", "POST", "/v1/consents", {"callee": "0612345678", "scope": "canvassing",
                                       "given_at": "2026-09-01T10:00:00Z", "channel": "web",
                                       "evidence": {NUL: NUL}}),
    ("admin", "POST", "/v1/contracts", {"callee": "0612345678", "reference": NUL,
                                        "starts_on": "2026-01-01"}),
    ("admin", "POST", "/v1/oppositions", {"callee": "0612345678", "source": NUL}),
    ("admin", "POST", "/v1/oppositions", {"callee": NUL}),
    ("compliance", "GET", "/v1/consents?callee=%00", None),
    ("compliance", "GET", "/v1/campaigns/nul%00", None),
    ("compliance", "GET", "/v1/consents/nul%00", None),
    ("compliance", "GET", "/v1/reports/attempts?campaign=nul%00", None),
    ("dialer", "GET", "/v1/calls/nul%00", None),
    ("dialer", "POST", "/v1/calls/nul%00/outcome", {"status": "answered"}),
]


def test_nul_bytes_in_any_string_never_cause_a_500(tenant: Tenant) -> None:
    wrong = {}
    for role, method, path, body in NUL_WRITES:
        url = path.format(tenant=tenant.id)
        r = tenant.client.request(method, url, json=body,
                                  headers={"Authorization": f"Bearer {getattr(tenant, role)}"})
        if r.status_code >= 500:
            wrong[f"{method} {path} {body}"] = r.status_code
    assert wrong == {}
