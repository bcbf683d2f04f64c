"""No date or instant in any request causes a 500 (issue 11, item 8).

The targets are found in ``app.openapi()``, not listed by hand: every operation's JSON request
body properties and query or path parameters of format ``date`` / ``date-time``, and the
parameters the code parses as dates (their description says "date" or "instant": the report
periods, ``since``…). Each gets extreme and odd values — years 1 and 9999, zero dates, offsets
±23:59 and -00:00, leap days, 24:00:00, fractional seconds, huge years, non-strings — sent with
a key of the role the operation needs, on a tenant built like a customer's
(``tests.factories.make_tenant``). The only assertion: never a 5xx. Bounded: a fixed table of
values for every target, then a few hundred generated ones in all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ids import new_id
from tests.api.conftest import MONDAY
from tests.factories import CALLEE, CANVASSING_CLI, Tenant, auth

DATE_WORDS = re.compile(r"\bdate\b|\binstant\b", re.IGNORECASE)
ROLES = ("dialer", "compliance", "admin", "operator")

#: Values every target gets (JSON bodies take them as they are; query parameters as text).
FIXED: list[Any] = [
    "0001-01-01", "9999-12-31", "0000-00-00", "0000-01-01", "1999-12-31", "2000-01-01",
    "2100-12-31", "2101-01-01", "2024-02-29", "2026-02-29", "2100-02-29", "2000-02-29",
    "2026-13-01", "2026-00-10", "2026-11-31", "+10000-01-01", "-0001-01-01", "99999-12-31",
    "123456789012345678901234567890-01-01", "2026-W48-1", "20261123", "2026-11-23 ", "",
    " ", "null", "٢٠٢٦-١١-٢٣", "2026-11-23\x00",
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59+23:59",
    "2026-11-23T24:00:00+01:00", "2026-11-23T23:59:60+01:00", "2026-11-23T10:30:00-00:00",
    "2026-11-23T10:30:00+24:00", "2026-11-23T10:30:00+99:99", "2026-11-23T10:30:00",
    "2026-11-23T10:30:00.123456789Z", "2026-11-23T10:30:00,5+01:00", "2026-11-23T10:30Z",
    "2100-12-31T23:59:59.999999+00:00", "2101-01-01T00:59:00+01:00",
    "1999-12-31T23:59:59-01:00", "2024-02-29T12:00:00+14:00", "2026-11-23T10:30:00+01:00:30",
    "T10:30:00Z", "2026-11-23TZ",
    0, -1, 2**63, 1e308, True, None, [], {}, ["2026-11-23"], {"date": "2026-11-23"},
]


def _pad(n: int, width: int) -> str:
    return str(n).zfill(width) if n >= 0 else "-" + str(-n).zfill(width)


YEARS = st.sampled_from([0, 1, 999, 1999, 2000, 2024, 2026, 2100, 2101, 9999]) | st.integers(
    -10, 10**7)
DAYS = st.builds(lambda y, m, d: f"{_pad(y, 4)}-{_pad(m, 2)}-{_pad(d, 2)}",
                 YEARS, st.integers(0, 13), st.integers(0, 32))
OFFSETS = st.sampled_from(["Z", "", "-00:00", "+00:00"]) | st.builds(
    lambda sign, h, m: f"{sign}{h:02d}:{m:02d}", st.sampled_from("+-"), st.integers(0, 24),
    st.integers(0, 60))
TIMES = st.builds(
    lambda h, mi, s, frac, off: f"{h:02d}:{mi:02d}:{s:02d}{frac}{off}",
    st.integers(0, 25), st.integers(0, 60), st.integers(0, 61),
    st.sampled_from(["", ".5", ".123456", ".123456789", ",25"]), OFFSETS)
VALUES = (DAYS | st.builds(lambda d, t: f"{d}T{t}", DAYS, TIMES)
          | st.text(alphabet="0123456789-:+TZ. ", max_size=30))


@dataclass
class Target:
    method: str
    path: str  # path parameters filled in
    where: str  # body | query | path
    name: str
    body: Callable[[], Any] | None  # a fresh valid body (or raw bytes) for the other fields
    params: dict[str, str]
    good: Any  # a value of this field the operation accepts
    role: str = "admin"

    def send(self, t: Tenant, value: Any, role: str | None = None) -> Any:
        params, body = dict(self.params), self.body() if self.body else None
        if self.where == "body":
            body[self.name] = value  # type: ignore[index]
        else:
            params[self.name] = value if isinstance(value, str) else str(value)
        key = getattr(t, role or self.role)
        kw: dict[str, Any] = {"params": params, "headers": auth(key)}
        if isinstance(body, bytes):
            kw["content"], kw["headers"] = body, kw["headers"] | {"Content-Type": "text/csv"}
        elif body is not None:
            kw["json"] = body
        return t.client.request(self.method.upper(), self.path, **kw)


# --- finding the targets in the OpenAPI document ----------------------------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _formats(schema: dict[str, Any]) -> set[str]:
    return {v.get("format") for v in schema.get("anyOf", [schema]) if isinstance(v, dict)} - {
        None}


#: Good values for the other fields, by name (the rest is built from the schema).
KNOWN: dict[str, Any] = {
    "callee": CALLEE, "caller_id": CANVASSING_CLI, "campaign": "spring-2026",
    "scope": "canvassing", "given_at": "2026-09-01T10:00:00+02:00", "channel": "web_form",
    "evidence": {"form": "v1"}, "sector": "general", "starts_on": "2026-01-01",
    "from": "2026-11-01", "to": "2026-11-30", "as_of": "2026-11-20", "mode": "add",
    "number": "0612345678",
}


def _example(spec: dict[str, Any], schema: dict[str, Any], name: str = "") -> Any:
    if name in KNOWN:
        return KNOWN[name]
    if name == "reference" or name == "external_id":
        return new_id("ref")
    schema = _resolve(spec, schema)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _example(spec, options[0]) if options else None
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        return {k: _example(spec, v, k) for k, v in schema.get("properties", {}).items()
                if k in required}
    fmt = schema.get("format")
    return {"string": "2026-11-23" if fmt == "date" else MONDAY if fmt == "date-time" else "x",
            "integer": max(schema.get("minimum", 0), 0), "number": 0, "boolean": False,
            "array": []}.get(kind)


GOOD = {"date": "2026-11-20", "date-time": MONDAY, "expires_at": "2027-09-01T00:00:00Z",
        "ends_on": "2026-12-31", "to": "2026-11-30"}


def _good(name: str, formats: set[str]) -> Any:
    if name in GOOD:
        return GOOD[name]
    return GOOD["date-time"] if "date-time" in formats else GOOD["date"]


def targets(spec: dict[str, Any]) -> list[Target]:
    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            filled = path
            for p in params:
                if p["in"] == "path":
                    filled = filled.replace("{" + p["name"] + "}",
                                            str(_example(spec, p.get("schema", {}), p["name"])))
            required = {p["name"]: str(_example(spec, p.get("schema", {}), p["name"]))
                        for p in params if p["in"] == "query" and p.get("required")}
            content = op.get("requestBody", {}).get("content", {})
            schema = _resolve(spec, content["application/json"]["schema"]) \
                if "application/json" in content else None

            def body(schema: dict[str, Any] | None = schema, method: str = method) -> Any:
                if schema is not None:
                    return _example(spec, schema)
                return b"0611111111\n" if method == "post" else None

            for p in params:
                s = p.get("schema", {})
                text = p.get("description", "") + s.get("description", "")
                if _formats(s) & {"date", "date-time"} or DATE_WORDS.search(text):
                    found.append(Target(method, filled, p["in"], p["name"], body, required,
                                        _good(p["name"], _formats(s))))
            for name, prop in (schema or {}).get("properties", {}).items():
                if _formats(prop) & {"date", "date-time"}:
                    found.append(Target(method, filled, "body", name, body, required,
                                        _good(name, _formats(prop))))
    return found


def _with_roles(t: Tenant, found: list[Target]) -> list[Target]:
    """Each target with the first role the operation lets in (a valid request)."""
    for target in found:
        for role in ROLES:
            r = target.send(t, target.good, role)
            assert r.status_code < 500, (target, r.status_code, r.text)
            if r.status_code not in (401, 403):
                target.role = role
                break
        assert r.status_code < 300, (target.method, target.path, target.name, r.text)
    return found


MUST_FIND = {  # a sample the walk must reach (the walk itself finds new ones)
    ("post", "/v1/consents", "given_at"), ("post", "/v1/consents", "expires_at"),
    ("post", "/v1/contracts", "starts_on"), ("post", "/v1/contracts", "ends_on"),
    ("post", "/v1/calls/evaluate", "at"), ("get", "/v1/reports/summary", "from"),
    ("get", "/v1/reports/attempts", "to"), ("get", "/v1/reports/audit.pdf", "to"),
    ("get", "/v1/alerts", "since"), ("get", "/v1/numbers/0612345678/next-window", "at"),
    ("post", "/v1/bloctel/imports", "as_of"),
}


def _check(r: Any, target: Target, value: Any) -> None:
    assert r.status_code < 500, (target.method, target.path, target.name, value, r.text[:300])


def test_no_date_in_any_request_causes_a_500(tenant: Tenant) -> None:
    found = _with_roles(tenant, targets(tenant.client.app.openapi()))
    assert {(t.method, t.path, t.name) for t in found} >= MUST_FIND
    for target in found:
        for value in FIXED:
            _check(target.send(tenant, value), target, value)

    @settings(max_examples=6 * len(found), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(found), VALUES)
    def generated(target: Target, value: str) -> None:
        _check(target.send(tenant, value), target, value)

    generated()
