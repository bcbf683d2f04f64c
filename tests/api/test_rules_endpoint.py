"""``GET /v1/rules``: codes, rules with their dated versions, rule set versions, and the
versions a period spans (``from``/``to``, validated: 422 for a bad or reversed range)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.rules_schemas import Rules
from rules_fr import catalog
from rules_fr.data import CODES, RULE_LABELS, RULES


@pytest.fixture(scope="module")
def web() -> Iterator[TestClient]:
    """The app without its lifespan: the rules are data, no database is read."""
    yield TestClient(create_app())


def get(web: TestClient, **params: str) -> dict[str, Any]:
    r = web.get("/v1/rules", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_answer_keeps_its_keys_and_adds_rules_and_period(web: TestClient) -> None:
    body = get(web)
    assert set(body) == set(Rules.model_fields)  # nothing served untyped
    assert body["period"] is None
    assert [c["code"] for c in body["codes"]] == [e.code for e in catalog()]
    for entry in body["codes"]:
        assert {"code", "rule", "severity", "legal_basis", "description", "severity_note",
                "since", "until"} <= set(entry)
    assert [r["id"] for r in body["rules"]] == list(RULES)


def test_codes_and_rules_carry_their_french_label(web: TestClient) -> None:
    body = get(web)
    codes = {c["code"]: c["label"] for c in body["codes"]}
    assert codes == {code: spec.label for code, spec in CODES.items()}
    assert codes["RATE_THROTTLED"] and codes["RATE_THROTTLED"] != "RATE_THROTTLED"
    rules = {r["id"]: r["label"] for r in body["rules"]}
    assert rules == dict(RULE_LABELS)
    assert rules["throttle"] == "Seuils d'abus (limitation)"
    assert rules["sector:press_subscription"] == "Secteur : abonnements de presse"


def test_rules_show_each_version_with_since_and_until(web: TestClient) -> None:
    rules = {r["id"]: r["versions"] for r in get(web)["rules"]}
    assert [(v["since"], v["until"]) for v in rules["opposition"]] == [
        ("2016-06-01", "2026-08-10"), ("2026-08-11", None)]
    assert [(v["since"], v["until"]) for v in rules["sector:press_subscription"]] == [
        ("2016-06-01", "2026-08-10"), ("2026-08-11", None)]
    assert rules["suspension"] == [{"since": None, "until": None, "legal_basis": rules[
        "suspension"][0]["legal_basis"], "note": ""}]
    assert "R223-1" in rules["consent_lifetime"][0]["legal_basis"]
    assert rules["prerecorded"][0]["since"] == "2004-06-22"


def test_ruleset_versions_chain_without_gaps(web: TestClient) -> None:
    versions = get(web)["versions"]
    assert versions[-1]["until"] is None
    for a, b in zip(versions, versions[1:], strict=False):
        assert a["until"] < b["effective"]  # ISO dates compare as text
    by_id = {v["id"]: v for v in versions}
    assert by_id["fr-2025-07-02"]["until"] == "2026-08-10"
    changed = {c["rule"] for c in by_id["fr-2026-08-11"]["changes"]}
    assert {"opposition", "consent_lifetime", "sector:press_subscription"} <= changed


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"from": "2026-06-01", "to": "2026-12-31"}, ["fr-2025-07-02", "fr-2026-08-11"]),
        ({"from": "2026-08-11", "to": "2026-08-11"}, ["fr-2026-08-11"]),
        ({"from": "2026-08-10", "to": "2026-08-10"}, ["fr-2025-07-02"]),
        ({"from": "2026-08-10", "to": "2026-08-11"}, ["fr-2025-07-02", "fr-2026-08-11"]),
        ({"from": "2022-12-31", "to": "2023-03-01"},
         ["fr-2022-12-21", "fr-2023-01-01", "fr-2023-03-01"]),
        ({"from": "2026-09-01"}, ["fr-2026-08-11"]),
        ({"to": "2004-06-22"}, ["fr-base", "fr-2004-06-22"]),
    ],
    ids=["2026-h2", "switch-day", "eve", "eve-and-switch", "2023-changes", "from-only",
         "to-only"],
)
def test_a_period_names_the_versions_it_spans(
    web: TestClient, params: dict[str, str], ids: list[str]
) -> None:
    period = get(web, **params)["period"]
    assert [v["id"] for v in period["versions"]] == ids
    assert period["from"] == params.get("from", "2000-01-01")
    assert period["to"] == params.get("to", "2100-12-31")
    first = period["versions"][0]
    assert (first["effective"] is None) == (first["id"] == "fr-base")


def test_each_spanned_version_carries_its_dates_and_changes(web: TestClient) -> None:
    spans = get(web, **{"from": "2026-06-01", "to": "2026-12-31"})["period"]["versions"]
    assert [(v["effective"], v["until"]) for v in spans] == [
        ("2025-07-02", "2026-08-10"), ("2026-08-11", None)]
    assert any("R223-1" in c["legal_basis"] for c in spans[1]["changes"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-12-01", "to": "2026-01-01"}, "from, to"),
        ({"from": "not a day"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "1999-12-31"}, "from"),
        ({"to": "2101-01-01"}, "to"),
    ],
    ids=["reversed", "garbage", "no-such-day", "too-early", "too-late"],
)
def test_a_bad_period_is_422_naming_the_field(
    web: TestClient, params: dict[str, str], field: str
) -> None:
    r = web.get("/v1/rules", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid"
    detail = body["detail"]
    if isinstance(detail, str):
        assert detail.startswith(field)
    else:
        assert [d["loc"] for d in detail] == [["query", field]]


def test_the_period_is_documented(web: TestClient) -> None:
    op = web.get("/openapi.json").json()["paths"]["/v1/rules"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"from", "to"}
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Rules"}
    assert "422" in op["responses"]
