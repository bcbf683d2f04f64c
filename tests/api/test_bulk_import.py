"""``POST /v1/{consents,contracts,oppositions}/import``: row outcomes, idempotence, delimiters,
header mapping, number forms, tenant isolation, roles, and the effect on check decisions."""

from __future__ import annotations

import gzip
from typing import Any

from app.registries.service import evidence_sha256
from tests.api.conftest import codes
from tests.factories import CALLEE, Tenant, add_consent, auth

RESPONSE_KEYS = {"import_id", "kind", "lines", "created", "updated", "unchanged", "rejected",
                 "rejected_samples", "reasons", "sha256", "seconds"}


def upload(t: Tenant, kind: str, text: str | bytes, role: str = "admin") -> Any:
    body = text.encode() if isinstance(text, str) else text
    return t.client.post(f"/v1/{kind}/import", content=body,
                         headers=auth(getattr(t, role)) | {"Content-Type": "text/csv"})


def ok(t: Tenant, kind: str, text: str | bytes) -> dict[str, Any]:
    r = upload(t, kind, text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= RESPONSE_KEYS
    assert body["kind"] == kind
    assert body["lines"] == (body["created"] + body["updated"] + body["unchanged"]
                             + body["rejected"] + body["blank"])
    return body


def outcome(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["created"], body["updated"], body["unchanged"], body["rejected"]


CONSENTS = """numero;date_consentement;canal;portee;preuve;expire
06 12 34 56 78;2026-09-01T10:00:00+02:00;web_form;canvassing;{"form": "optin-v3"};
+33698765432;2026-09-02 09:00;shop;outside_hours;signed in shop;2027-09-02T00:00:00+02:00
0612;2026-09-01T10:00:00+02:00;web_form;canvassing;;
06 11 22 33 44;yesterday;web_form;canvassing;;
06 11 22 33 45;2026-09-01T10:00:00+02:00;web_form;sometimes;;
06 11 22 33 46;2026-09-01T10:00:00+02:00;web_form;canvassing;[1, 2];
06 11 22 33 47;2026-09-01T10:00:00+02:00;web_form;canvassing;;2026-08-01T00:00:00+02:00
;2026-09-01T10:00:00+02:00;web_form;canvassing;;

"""


def test_consents_created_updated_unchanged_rejected(tenant: Tenant) -> None:
    first = ok(tenant, "consents", CONSENTS)
    assert outcome(first) == (2, 0, 0, 6)
    assert first["blank"] == 1 and first["lines"] == 9
    lines = {s["line"]: s["error"] for s in first["rejected_samples"]}
    assert set(lines) == {4, 5, 6, 7, 8, 9}
    assert "10 digits" in lines[4]
    assert "given_at" in lines[5]
    assert "scope" in lines[6]
    assert "evidence" in lines[7]
    assert lines[8] == "expires_at must be after given_at"
    assert lines[9] == "no number"
    assert sum(first["reasons"].values()) == 6
    assert first["rejected_samples"][0]["value"].startswith("0612;")

    stored = {c["callee"]: c for c in tenant.get("/v1/consents").json()}
    assert set(stored) == {CALLEE, "+33698765432"}
    web = stored[CALLEE]
    assert web["evidence"] == {"form": "optin-v3"}
    assert web["evidence_sha256"] == evidence_sha256({"form": "optin-v3"})
    assert web["given_at"].startswith("2026-09-01T08:00:00")
    shop = stored["+33698765432"]
    assert shop["evidence"] == {"text": "signed in shop"}  # text evidence, hashed as an object
    assert shop["evidence_sha256"] == evidence_sha256({"text": "signed in shop"})
    assert shop["given_at"].startswith("2026-09-02T07:00:00")  # no offset: Paris time
    assert shop["scope"] == "outside_hours" and shop["expires_at"] is not None

    again = ok(tenant, "consents", CONSENTS)  # idempotent: the natural key matches
    assert outcome(again) == (0, 0, 2, 6)
    changed = CONSENTS.replace("signed in shop", "signed in shop, copy kept")
    assert outcome(ok(tenant, "consents", changed)) == (0, 1, 1, 6)
    shop = {c["callee"]: c for c in tenant.get("/v1/consents").json()}["+33698765432"]
    assert shop["evidence"] == {"text": "signed in shop, copy kept"}
    assert len(tenant.get("/v1/consents").json()) == 2
    # same callee and scope, another given_at: another consent
    other = "telephone,given_at\n0612345678,2026-10-01T10:00:00+02:00\n"
    assert outcome(ok(tenant, "consents", other)) == (1, 0, 0, 0)


def test_an_import_matches_consents_made_through_the_api(tenant: Tenant) -> None:
    made = add_consent(tenant, given_at="2026-09-01T10:00:00+02:00")
    same = ("phone,given_at,channel,evidence\n"
            '06 12 34 56 78,2026-09-01T08:00:00Z,web_form,"{""form"": ""optin-v3"", '
            '""ip"": ""203.0.113.7""}"\n')
    assert outcome(ok(tenant, "consents", same)) == (0, 0, 1, 0)
    revoked = tenant.post(f"/v1/consents/{made['id']}/revoke", {"reason": "asked"})
    assert revoked.status_code == 200
    changed = same.replace("web_form", "paper")
    assert outcome(ok(tenant, "consents", changed)) == (0, 1, 0, 0)
    row = tenant.get(f"/v1/consents/{made['id']}").json()
    assert row["channel"] == "paper" and row["revoked_at"] is not None  # never un-revoked


def test_a_key_repeated_in_the_file_last_row_wins(tenant: Tenant) -> None:
    text = ("callee;given_at;channel\n0612345678;2026-09-01T10:00:00+02:00;a\n"
            "+33 6 12 34 56 78;2026-09-01T10:00:00+02:00;b\n")
    assert outcome(ok(tenant, "consents", text)) == (1, 1, 0, 0)  # in file order
    assert [c["channel"] for c in tenant.get("/v1/consents").json()] == ["b"]
    assert outcome(ok(tenant, "consents", text)) == (0, 1, 1, 0)  # "a" then "b" again


def test_delimiters_header_names_encodings_and_number_forms(tenant: Tenant) -> None:
    rows = ["06 12 34 56 78", "+33 6 12 34 56 79", "0033612345680", "0692 12 34 56",
            "+262 692 12 34 57", "06.12.34.56.81", "06 12 34 56 8"]
    semi = "Numéro de téléphone;Date du consentement;CANAL\n" + "".join(
        f"{n};2026-09-01T10:00:00+02:00;web\n" for n in rows)
    body = ok(tenant, "consents", semi)
    assert body["created"] == 6 and body["rejected"] == 1, body
    assert body["columns"]["callee"] == "Numéro de téléphone"
    callees = {c["callee"] for c in tenant.get("/v1/consents").json()}
    assert {"+33612345678", "+33612345679", "+33612345680", "+262692123456",
            "+262692123457", "+33612345681"} == callees
    # the same rows, comma-separated, CRLF, UTF-8 BOM, gzip: all unchanged
    comma = "\ufeffphone,given_at,channel\r\n" + "".join(
        f"{n},2026-09-01T10:00:00+02:00,web\r\n" for n in rows)
    again = ok(tenant, "consents", gzip.compress(comma.encode()))
    assert outcome(again) == (0, 0, 6, 1) and again["delimiter"] == ","
    # a spreadsheet's CP-1252 export
    latin = "Numéro;Date consentement;Canal\n06 12 34 56 78;2026-09-01T10:00:00+02:00;web\n"
    assert outcome(ok(tenant, "consents", latin.encode("cp1252"))) == (0, 0, 1, 0)
    # UTF-16
    assert outcome(ok(tenant, "consents", latin.encode("utf-16"))) == (0, 0, 1, 0)


def test_files_that_cannot_be_imported(tenant: Tenant) -> None:
    cases = {
        "empty": "",
        "no number column": "name;given_at\nDupont;2026-09-01T10:00:00+02:00\n",
        "no given_at": "numero;canal\n0612345678;web\n",
        "two number columns": "numero;phone;given_at\n0612345678;0612345678;2026-09-01\n",
    }
    for name, text in cases.items():
        r = upload(tenant, "consents", text)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"] == "import_invalid"
    assert tenant.get("/v1/consents").json() == []
    r = upload(tenant, "contracts", "numero;debut\n0612345678;2026-01-01\n")
    assert r.status_code == 422 and "reference" in r.json()["detail"]
    r = tenant.client.post("/v1/consents/import", files={"f": ("a.csv", b"numero\n")},
                           headers=auth(tenant.admin))
    assert r.status_code == 415


CONTRACTS = """contrat,numero,secteur,debut,fin
C-1,06 12 34 56 78,general,2026-01-01,
C-2,+33698765432,press_subscription,01/02/2026,31/12/2026
C-3,06 12 34 56 78,astrology,2026-01-01,
C-4,06 12 34 56 78,general,soon,
C-5,06 12 34 56 78,general,2026-06-01,2026-05-01
,06 12 34 56 78,general,2026-01-01,
C-6,12,general,2026-01-01,
"""


def test_contracts_by_reference(tenant: Tenant) -> None:
    first = ok(tenant, "contracts", CONTRACTS)
    assert outcome(first) == (2, 0, 0, 5)
    reasons = {s["line"]: s["error"] for s in first["rejected_samples"]}
    assert reasons[4] == "unknown sector" and "starts_on" in reasons[5]
    assert "ends_on" in reasons[6] and reasons[7] == "missing reference" and 8 in reasons
    stored = {c["reference"]: c for c in tenant.get("/v1/contracts").json()}
    assert stored["C-2"]["starts_on"] == "2026-02-01" and stored["C-2"]["ends_on"] == "2026-12-31"
    assert stored["C-2"]["sector"] == "press_subscription"
    assert outcome(ok(tenant, "contracts", CONTRACTS)) == (0, 0, 2, 5)
    moved = CONTRACTS.replace("C-1,06 12 34 56 78,general,2026-01-01,",
                              "C-1,06 12 34 56 99,general,2026-01-01,2026-11-22")
    assert outcome(ok(tenant, "contracts", moved)) == (0, 1, 1, 5)
    c1 = {c["reference"]: c for c in tenant.get("/v1/contracts").json()}["C-1"]
    assert (c1["callee"], c1["ends_on"]) == ("+33612345699", "2026-11-22")
    # the API's own contract is matched by its reference too
    assert tenant.post("/v1/contracts", {"callee": CALLEE, "reference": "API-1",
                                         "starts_on": "2026-01-01"}).status_code == 201
    text = "reference;telephone;starts_on\nAPI-1;0612345678;2026-01-01\n"
    assert outcome(ok(tenant, "contracts", text)) == (0, 0, 1, 0)


def test_oppositions_by_number(tenant: Tenant) -> None:
    assert tenant.post("/v1/oppositions", {"callee": CALLEE, "source": "letter"}).status_code \
        == 201
    text = "numero\n06 12 34 56 78\n0698765432\n+33698765432\nnot a number\n"
    first = ok(tenant, "oppositions", text)
    assert outcome(first) == (1, 0, 2, 1)  # the repeated number: unchanged the second time
    assert first["rejected_samples"][0]["line"] == 5
    stored = {o["callee"]: o["source"] for o in tenant.get("/v1/oppositions").json()}
    assert stored == {CALLEE: "letter", "+33698765432": "import"}  # no source column: kept
    with_source = "numero;source\n06 12 34 56 78;crm\n0698765432;import\n"
    assert outcome(ok(tenant, "oppositions", with_source)) == (0, 1, 1, 0)
    stored = {o["callee"]: o["source"] for o in tenant.get("/v1/oppositions").json()}
    assert stored == {CALLEE: "crm", "+33698765432": "import"}


def test_imports_change_check_decisions(tenant: Tenant) -> None:
    callee2, callee3 = "+33698765432", "+33611223344"
    for c in (CALLEE, callee2, callee3):
        assert codes(tenant.check(callee=c).json()) == ["CONSENT_REQUIRED"]
    ok(tenant, "consents", f"numero;given_at\n{CALLEE};2026-09-01T10:00:00+02:00\n")
    ok(tenant, "contracts", f"reference;numero;debut\nR1;{callee2};2026-01-01\n")
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    assert tenant.check(callee=callee2).json()["decision"] == "allow"
    ok(tenant, "oppositions", f"numero\n{CALLEE}\n{callee2}\n")
    for c in (CALLEE, callee2):
        assert codes(tenant.check(callee=c).json()) == ["INTERNAL_OPPOSITION"]
    # an expired consent imported does not allow the call
    ok(tenant, "consents", f"numero;given_at;expire\n{callee3};2026-09-01T10:00:00+02:00;"
                           "2026-10-01T10:00:00+02:00\n")
    assert tenant.check(callee=callee3).json()["decision"] == "deny"


def test_an_import_never_touches_another_tenant(tenant: Tenant, other: Tenant) -> None:
    add_consent(other)
    assert other.post("/v1/oppositions", {"callee": CALLEE, "source": "x"}).status_code == 201
    assert other.post("/v1/contracts", {"callee": CALLEE, "reference": "R1",
                                        "starts_on": "2026-01-01"}).status_code == 201
    before = [other.get(f"/v1/{k}").json() for k in ("consents", "contracts", "oppositions")]
    assert outcome(ok(tenant, "consents", "numero;given_at;canal\n"
                      f"{CALLEE};2026-09-01T10:00:00+02:00;paper\n")) == (1, 0, 0, 0)
    assert outcome(ok(tenant, "contracts", "reference;numero;debut;fin\n"
                      f"R1;{CALLEE};2025-01-01;2025-02-01\n")) == (1, 0, 0, 0)
    assert outcome(ok(tenant, "oppositions", f"numero;source\n{CALLEE};mine\n")) == (1, 0, 0, 0)
    after = [other.get(f"/v1/{k}").json() for k in ("consents", "contracts", "oppositions")]
    assert after == before
    assert len(tenant.get("/v1/consents").json()) == 1


def test_roles(tenant: Tenant) -> None:
    text = f"numero\n{CALLEE}\n"
    for role in ("dialer", "compliance", "operator"):
        assert upload(tenant, "oppositions", text, role=role).status_code in (401, 403), role
    r = tenant.client.post("/v1/oppositions/import", content=text.encode())
    assert r.status_code == 401
    assert tenant.get("/v1/oppositions").json() == []
    assert upload(tenant, "oppositions", text).status_code == 200


def test_many_rows_in_several_batches(tenant: Tenant, monkeypatch: Any) -> None:
    from app.registries.bulk import importer

    monkeypatch.setattr(importer, "BATCH", 1000)
    monkeypatch.setattr(importer, "SQLITE_BATCH", 1000)
    n = 3500
    rows = "".join(f"06{i:08d};2026-09-01T10:00:00+02:00;web;{{\"n\": {i % 7}}}\n"
                   for i in range(n))
    text = "numero;date_consentement;canal;preuve\n" + rows + "garbage;x;y;z\n" * 150
    first = ok(tenant, "consents", text)
    assert outcome(first) == (n, 0, 0, 150)
    assert len(first["rejected_samples"]) == 100  # samples capped, counts complete
    assert first["rejected_samples"][0]["line"] == n + 2
    assert outcome(ok(tenant, "consents", text)) == (0, 0, n, 150)


def test_a_large_import_refreshes_postgresql_statistics(tenant: Tenant, db: Any) -> None:
    """Right after a large import PostgreSQL must not plan with the old row count (a scrub
    measured 6k rows/s instead of 40k): the import ANALYZEs the table. SQLite needs nothing."""
    from sqlalchemy import text

    from app.db import get_engine
    from app.registries import bulk

    rows = "".join(f"+3361{i:07d},2026-09-01T10:00:00+02:00\n" for i in range(bulk.ANALYZE_AFTER))
    body = ok(tenant, "consents", "callee,given_at\n" + rows)
    assert body["created"] == bulk.ANALYZE_AFTER
    if db.backend != "postgresql":
        return
    with get_engine().connect() as conn:
        analyzed = conn.execute(text(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'consents'")).scalar()
    assert analyzed is not None


# --------------------------------------------------------------------------- limits, early stop

import pytest  # noqa: E402

HEADERS = {"consents": "numero;date_consentement\n", "contracts": "numero;contrat;debut\n",
           "oppositions": "numero;source\n"}


def good_rows(kind: str, n: int, start: int = 0) -> str:
    row = {"consents": "06{:08d};2026-09-01T10:00:00+02:00\n",
           "contracts": "06{0:08d};C-{0};2026-01-01\n", "oppositions": "06{:08d};crm\n"}[kind]
    return "".join(row.format(i) for i in range(start, start + n))


JUNK = "pas un numéro;n'importe quoi;rien\n"


def registry(t: Tenant, kind: str) -> list[Any]:
    return t.get(f"/v1/{kind}").json() if kind != "contracts" else []


@pytest.mark.parametrize("kind", ["consents", "contracts", "oppositions"])
def test_a_mostly_rejected_file_stops_early_writes_nothing_unless_forced(
        tenant: Tenant, kind: str) -> None:
    """Past the first 1,000 rows, more than 5 % rejected: 422 ``import_refused`` with the
    rejected samples (line, value, error), read no further than needed, nothing written;
    ``force=true`` imports the good rows."""
    text = HEADERS[kind] + good_rows(kind, 900) + JUNK * 20_000
    r = upload(tenant, kind, text)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "import_refused"
    assert "GATEWAY_IMPORT_MAX_REJECTED" in body["detail"] and "force" in body["detail"]
    report = body["import"]
    assert report["stopped_after_lines"] < 10_000  # not the 20,900 lines of the file
    assert report["created"] == 0
    first = report["rejected_samples"][0]
    assert (first["line"], first["value"]) == (902, JUNK.strip())
    assert first["error"]
    assert registry(tenant, kind) == []
    forced = tenant.client.post(f"/v1/{kind}/import", params={"force": "true"},
                                content=text.encode(),
                                headers=auth(tenant.admin) | {"Content-Type": "text/csv"})
    assert forced.status_code == 200, forced.text
    assert outcome(forced.json()) == (900, 0, 0, 20_000)


@pytest.mark.parametrize(("good", "junk", "status"), [
    (950, 50, 200),  # 5.0 % of 1,000: at the threshold, imported
    (949, 51, 422),  # 5.1 %: refused, at the end of the file
    (10, 5, 200),  # a third rejected, but fewer than 1,000 rows: a sample too small to judge
])
def test_the_rejected_share_threshold(tenant: Tenant, good: int, junk: int, status: int) -> None:
    r = upload(tenant, "oppositions", HEADERS["oppositions"] + good_rows("oppositions", good)
               + JUNK * junk)
    assert r.status_code == status, r.text
    if status == 200:
        assert outcome(r.json()) == (good, 0, 0, junk)
    else:
        assert registry(tenant, "oppositions") == []


def test_the_threshold_is_a_setting(tenant: Tenant, settings: Any) -> None:
    settings(GATEWAY_IMPORT_MAX_REJECTED="0.5")
    text = HEADERS["oppositions"] + good_rows("oppositions", 600) + JUNK * 400
    assert outcome(ok(tenant, "oppositions", text)) == (600, 0, 0, 400)


def test_rejections_found_by_worker_processes_stop_the_import(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``PARALLEL_AFTER`` rows worker processes judge the rows: their rejected rows stop
    the import just the same."""
    from app.registries.bulk import importer, workers

    monkeypatch.setenv("GATEWAY_IMPORT_WORKERS", "2")
    monkeypatch.setattr(importer, "PARALLEL_AFTER", 2000)
    monkeypatch.setattr(workers, "WORKER_CHUNK", 1000)
    text = HEADERS["consents"] + good_rows("consents", 2000) + JUNK * 30_000
    r = upload(tenant, "consents", text)
    assert r.status_code == 422, r.text
    report = r.json()["import"]
    assert report["rejected_samples"][0]["line"] == 2002
    assert report["stopped_after_lines"] < 32_000
    assert tenant.get("/v1/consents").json() == []


def test_row_and_byte_limits_are_413_naming_the_limit(tenant: Tenant, settings: Any) -> None:
    settings(GATEWAY_IMPORT_MAX_ROWS=100, GATEWAY_IMPORT_MAX_BYTES=50_000)
    r = upload(tenant, "oppositions", HEADERS["oppositions"] + good_rows("oppositions", 101))
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "too_many_rows" and r.json()["limit"] == 100
    assert "GATEWAY_IMPORT_MAX_ROWS" in r.json()["detail"]
    assert upload(tenant, "oppositions", HEADERS["oppositions"] + good_rows(
        "oppositions", 100)).status_code == 200
    cases = {
        "raw": ("x" * 60_000).encode(),
        "gzip bomb": gzip.compress((HEADERS["oppositions"] + "0612345678;crm\n" * 10_000)
                                   .encode()),
    }
    for name, body in cases.items():
        r = upload(tenant, "oppositions", body)
        assert r.status_code == 413, (name, r.text)
        assert r.json()["error"] == "upload_too_large" and r.json()["limit"] == 50_000
        assert "GATEWAY_IMPORT_MAX_BYTES" in r.json()["detail"]
    assert len(cases["gzip bomb"]) < 50_000


UPLOADS = [("/v1/consents/import", {}, "admin"), ("/v1/contracts/import", {}, "admin"),
           ("/v1/oppositions/import", {}, "admin"),
           ("/v1/scrub", {"campaign": "spring-2026"}, "dialer"),
           ("/v1/bloctel/imports", {"as_of": "2026-11-20"}, "operator")]


@pytest.mark.parametrize(("path", "params", "role"), UPLOADS)
def test_every_upload_refuses_a_form_or_json_with_415(
        tenant: Tenant, path: str, params: dict[str, str], role: str) -> None:
    key = auth(getattr(tenant, role))
    r = tenant.client.post(path, params=params, files={"f": ("a.csv", b"0612345678\n")},
                           headers=key)
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_media_type"
    assert "--data-binary" in r.json()["detail"]
    r = tenant.client.post(path, params=params, json={"callee": "0612345678"}, headers=key)
    assert r.status_code == 415, r.text
    for declared in ("text/csv", "application/gzip", "application/octet-stream",
                     "application/x-www-form-urlencoded"):  # the last: curl's default
        r = tenant.client.post(path, params=params | {"force": "true"},
                               content=b"\xff\xfe\x00", headers=key | {"Content-Type": declared})
        assert r.status_code != 415, (declared, r.text)


def test_upload_endpoints_are_documented() -> None:
    """OpenAPI: the file as the request body (so /docs offers an upload), the scrub's answer
    as text/csv, typed import reports and BLOCTEL answers, every refusal with its envelope."""
    from app.main import app

    spec = app.openapi()
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]
    for path, _, _ in UPLOADS:
        op = paths[path]["post"]
        content = op["requestBody"]["content"]
        assert set(content) >= {"text/csv", "text/plain", "application/gzip",
                                "application/octet-stream"}, path
        assert content["text/csv"]["schema"] == {"type": "string", "format": "binary"}
        assert {"408", "413", "415", "422"} <= set(op["responses"]), path
        for status in ("408", "413", "415"):
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert set(schemas[ref.rsplit("/", 1)[1]]["properties"]) >= {"error", "detail"}
    scrub_ok = paths["/v1/scrub"]["post"]["responses"]["200"]["content"]
    assert list(scrub_ok) == ["text/csv"]

    def model(path: str, method: str, status: str) -> dict[str, Any]:
        schema = paths[path][method]["responses"][status]["content"]["application/json"][
            "schema"]
        ref = schema.get("items", schema)["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]

    assert {"created", "rejected_samples", "reasons"} <= set(
        model("/v1/consents/import", "post", "200")["properties"])
    assert "import" in model("/v1/consents/import", "post", "422")["properties"]
    assert {"accepted", "total_numbers", "activated_at"} <= set(
        model("/v1/bloctel/imports", "post", "201")["properties"])
    assert {"stale", "age_days", "last_import"} <= set(
        model("/v1/bloctel", "get", "200")["properties"])
    assert {"status", "version", "error"} <= set(
        model("/v1/bloctel/imports", "get", "200")["properties"])
    assert "force" in {p["name"] for p in paths["/v1/consents/import"]["post"]["parameters"]}


HOSTILE_BODIES = {
    "empty": b"",
    "binary": bytes(range(256)) * 64,
    "NUL bytes": b"\x00" * 5000,
    "broken gzip": b"\x1f\x8b\x08\x00" + b"\xff" * 500,
    "gzip of binary": gzip.compress(bytes(range(256)) * 64),
    "BOM only": b"\xef\xbb\xbf",
    "UTF-16 junk": "numéro;☎\n\ud7ff\n".encode("utf-16"),
    "a 100 KB line": b"0" * (100 << 10),
    "header only": b"numero;date_consentement;reference;debut;source\n",
    "quotes unbalanced": b'numero;source\n"0612345678;crm\n"06;"x\n',
    "CR only": b"numero\r0612345678\r\r\r",
    "control characters": b"numero;source\n\x01\x02\x03;\x1b[31m\n",
}


@pytest.mark.parametrize("body", list(HOSTILE_BODIES.values()), ids=list(HOSTILE_BODIES))
def test_no_hostile_upload_is_a_server_error(tenant: Tenant, body: bytes) -> None:
    """Whatever the body, every upload endpoint answers a documented 2xx or 4xx envelope."""
    for path, params, role in UPLOADS:
        r = tenant.client.post(path, params=params, content=body,
                               headers=auth(getattr(tenant, role))
                               | {"Content-Type": "application/octet-stream"})
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert set(r.json()) >= {"error", "detail"}, (path, r.text[:300])
