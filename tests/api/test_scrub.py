"""``POST /v1/scrub``: the same rows back, annotated as ``/v1/calls/evaluate`` would judge them."""

from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from app.calls.models import Attempt
from app.db import session_scope
from app.ids import new_id
from app.registries.models import Opposition
from app.registries.tombstones import tombstone
from app.scrub.numbers import Normaliser
from rules_fr.numbering import classify_uncached
from tests.api.conftest import MONDAY, OPT_OUT_MONDAY, blocking, outcome
from tests.factories import CANVASSING_CLI, Tenant, add_consent, auth

ANNOTATIONS = ["e164", "callable_now", "blocking_reasons", "next_allowed_at"]


def scrub(t: Tenant, body: bytes, role: str = "dialer", **params: Any) -> Any:
    params.setdefault("campaign", "spring-2026")
    return t.client.post("/v1/scrub", params=params, content=body,
                         headers=auth(getattr(t, role)))


def rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def attempts() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Attempt)) or 0


def add_tombstoned_opposition(t: Tenant, e164: str) -> None:
    """What the erasure of ``e164`` leaves behind: its opposition under the tombstone key."""
    with session_scope(write=True) as s:
        s.add(Opposition(id=new_id("opp"), tenant_id=t.id, callee=tombstone(t.id, e164),
                         source="erasure", created_at=datetime.now(UTC)))


def import_bloctel(t: Tenant, numbers: bytes, as_of: str = "2026-06-10") -> None:
    r = t.client.post("/v1/bloctel/imports", params={"mode": "replace", "as_of": as_of},
                      content=numbers, headers=auth(t.operator))
    assert r.status_code == 201, r.text


def test_annotations_equal_what_evaluate_says(tenant: Tenant, freeze) -> None:
    freeze(OPT_OUT_MONDAY)
    import_bloctel(tenant, b"0611111111\n0611111112\n")
    add_consent(tenant, "+33611111112", given_at="2026-06-01T10:00:00+02:00")
    add_consent(tenant, "+33622222222", given_at="2026-06-01T10:00:00+02:00")
    r = tenant.post("/v1/contracts", {"callee": "+33633333333", "reference": "C-1",
                                      "sector": "general", "starts_on": "2026-01-01"})
    assert r.status_code == 201, r.text
    assert tenant.post("/v1/oppositions", {"callee": "+33644444444", "source": "web"}
                       ).status_code == 201
    add_tombstoned_opposition(tenant, "+33655555555")
    refused = tenant.check(callee="+33666666666").json()
    outcome(tenant, refused["attempt_id"], "answered", duration_s=5, consumer_refused=True)
    for _ in range(4):  # the fifth attempt in 30 days is over the limit
        tenant.check(callee="+33677777777")
    numbers = ["0611111111", "06 11 11 11 12", "+33622222222", "0633333333", "0644444444",
               "0655555555", "0666666666", "0677777777", "0612345678", "0590 27 12 34",
               "not a number", "0899123456", "+4915112345678", "06123", ""]
    before = attempts()
    for instant in (OPT_OUT_MONDAY, MONDAY, "2026-06-14T10:30:00+02:00",  # a Sunday
                    "2026-06-15T21:30:00+02:00"):
        freeze(instant)
        body = "\n".join(f"{n};x{i}" for i, n in enumerate(numbers)).encode()
        r = scrub(tenant, body)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        out = rows(r.text, ";")
        assert [row[:2] for row in out] == [[n, f"x{i}"] for i, n in enumerate(numbers)]
        for row in out:
            number, _, e164, ok, reasons, nxt = row
            d = tenant.evaluate(callee=number, caller_id=CANVASSING_CLI).json()
            assert ok == ("true" if d["decision"] == "allow" else "false"), (instant, row, d)
            assert reasons.split() == blocking(d), (instant, row, d)
            assert nxt == (d["next_allowed_at"] or ""), (instant, row, d)
            if d["callee"].startswith("+") and "CALLEE_INVALID" not in reasons:
                assert e164 == d["callee"]
    assert attempts() == before  # nothing logged


def test_opposition_under_the_tombstone_blocks_check_and_scrub(tenant: Tenant) -> None:
    add_consent(tenant, "+33655555555")
    add_tombstoned_opposition(tenant, "+33655555555")
    d = tenant.check(callee="0655555555").json()
    assert "INTERNAL_OPPOSITION" in blocking(d), d
    out = rows(scrub(tenant, b"0655555555\n").text)
    assert out[0][2] == "false" and "INTERNAL_OPPOSITION" in out[0][3].split()
    # another tenant's tombstone is another key: it does not block this tenant
    add_consent(tenant, "+33656565656")
    with session_scope(write=True) as s:
        s.add(Opposition(id=new_id("opp"), tenant_id=tenant.id,
                         callee=tombstone("someone-else", "+33656565656"), source="erasure",
                         created_at=datetime.now(UTC)))
    assert rows(scrub(tenant, b"0656565656\n").text)[0][2] == "true"


def test_header_extra_columns_and_quoting_are_preserved(tenant: Tenant) -> None:
    add_consent(tenant, "+33612345678")
    body = (b'nom,telephone,ville\n"Dupont, Jean",06 12 34 56 78,Paris\n'
            b'Martin,0699999999,"Lyon"\nDurand,garbage,Metz\n')
    r = scrub(tenant, body)
    lines = r.text.splitlines()
    assert lines[0] == "nom,telephone,ville," + ",".join(ANNOTATIONS)
    assert lines[1].startswith('"Dupont, Jean",06 12 34 56 78,Paris,+33612345678,true,,')
    assert lines[2].startswith('Martin,0699999999,"Lyon",+33699999999,false,')
    out = rows(r.text)
    assert out[3][:5] == ["Durand", "garbage", "Metz", "", "false"]
    assert "CALLEE_INVALID" in out[3][5].split()


def test_no_header_semicolons_crlf_and_gzip(tenant: Tenant) -> None:
    add_consent(tenant, "+33612345678")
    body = b"0612345678;a;b\r\n0699999999;c;d\r\n"
    plain = scrub(tenant, body)
    zipped = scrub(tenant, gzip.compress(body))
    assert plain.text == zipped.text
    out = rows(plain.text, ";")
    assert [r[:3] for r in out] == [["0612345678", "a", "b"], ["0699999999", "c", "d"]]
    assert [r[4] for r in out] == ["true", "false"]
    # one number per line, no header: a comma-separated answer
    single = rows(scrub(tenant, b"0612345678\n+33699999999\n").text)
    assert [r[:3] for r in single] == [["0612345678", "+33612345678", "true"],
                                      ["+33699999999", "+33699999999", "false"]]


def test_another_tenants_consents_never_make_a_number_callable(tenant: Tenant,
                                                                other: Tenant) -> None:
    add_consent(other, "+33612345678")
    out = rows(scrub(tenant, b"0612345678\n").text)
    assert out[0][2] == "false", out
    assert rows(scrub(other, b"0612345678\n").text)[0][2] == "true"


def test_roles_and_unknown_campaign(tenant: Tenant) -> None:
    assert scrub(tenant, b"0612345678\n", role="admin").status_code == 200
    assert scrub(tenant, b"0612345678\n", role="compliance").status_code == 403
    assert scrub(tenant, b"0612345678\n", role="operator").status_code == 403
    assert tenant.client.post("/v1/scrub", params={"campaign": "spring-2026"},
                              content=b"0612345678\n").status_code == 401
    r = scrub(tenant, b"0612345678\n", campaign="nope")
    assert r.status_code == 404, r.text


def test_unreadable_upload_is_422(tenant: Tenant) -> None:
    r = scrub(tenant, b"\x1f\x8bnot really gzip" * 10)
    assert r.status_code == 422, r.text


def test_many_rows_in_several_batches_come_back_in_order(tenant: Tenant) -> None:
    add_consent(tenant, "+33612345678")
    n = 4500
    body = "".join(f"06{i:08d},{i}\n" if i != 3333 else "0612345678,3333\n"
                   for i in range(n)).encode()
    out = rows(scrub(tenant, body).text)
    assert len(out) == n
    assert [int(r[1]) for r in out] == list(range(n))
    assert [r[1] for r in out if r[3] == "true"] == ["3333"]


def test_normaliser_answers_what_classify_answers() -> None:
    """The prefix templates (app.scrub.numbers) against classify, on numbers of every French
    range and written form, overseas ones included (0590 87 is Saint-Barthelemy, not
    Guadeloupe), plus forms the templates leave to classify."""
    rnd = random.Random(20261123)
    leads = ["01", "02", "03", "04", "05", "06", "07", "09", "0262", "0269", "0590", "05908",
             "0594", "0596", "0639", "0690", "0691", "0692", "0693", "0694", "0696", "0697",
             "0976", "0508", "08", "0162", "0948"]
    normalise = Normaliser()
    for _ in range(3000):
        lead = rnd.choice(leads)
        d = lead + "".join(rnd.choice("0123456789") for _ in range(10 - len(lead)))
        text = rnd.choice([d, "+33" + d[1:], "0033" + d[1:], f"{d[:2]} {d[2:4]} {d[4:6]} "
                           f"{d[6:8]} {d[8:]}", "+33 (0)" + d[1:], d[:9], "x" + d])
        a, b = normalise(text), classify_uncached(text)
        assert (a.e164, a.kind, a.region, a.time_zone) == (b.e164, b.kind, b.region,
                                                           b.time_zone), text


# --------------------------------------------------------------------------- hostile files

import pytest  # noqa: E402

from app.cells import neutralise  # noqa: E402


@pytest.mark.parametrize(("cell", "shown"), [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),  # a number stays a number
    ("Dupont", "Dupont"),
])
def test_scrub_output_neutralises_formulas_like_the_reports(
        tenant: Tenant, cell: str, shown: str) -> None:
    """Every cell of the file that a spreadsheet would run as a formula comes back with a
    ``'`` before it (``app.cells.neutralise``, what the reports' CSV export does),
    header included; numbers written ``+33 …`` stay intact; the number is still judged."""
    quoted = '"' + cell.replace('"', '""') + '"'
    body = f"nom,telephone\n{quoted},+33 6 12 34 56 78\n=1+2,0612345678\n".encode()
    out = rows(scrub(tenant, body).text)
    assert out[1][:4] == [shown, "+33 6 12 34 56 78", "+33612345678", "false"]
    assert out[2][:3] == ["'=1+2", "0612345678", "+33612345678"]
    assert shown == neutralise(cell)  # the reports' own rule, not a copy of it
    header = rows(scrub(tenant, b"@nom,telephone\nx,0612345678\n").text)[0]
    assert header[:2] == ["'@nom", "telephone"]


def test_one_number_per_line_files_are_neutralised_too(tenant: Tenant) -> None:
    out = rows(scrub(tenant, b"0612345678\n=0612345678\n+33612345678\n").text)
    assert [r[0] for r in out] == ["0612345678", "'=0612345678", "+33612345678"]


def test_a_file_of_junk_is_refused_early_unless_forced(tenant: Tenant) -> None:
    """A scrub has no rejected rows (an invalid number is an answer), but a file where, past
    its first 1,000 rows, more than half the rows hold no valid number is junk or the wrong
    column: 422 ``scrub_refused`` with samples, at once; ``force=true`` scrubs it."""
    body = ("telephone,nom\n" + "0612345678,a\n" * 400 + "n/a,b\n" * 100_000).encode()
    r = scrub(tenant, body)
    assert r.status_code == 422, r.text
    got = r.json()
    assert got["error"] == "scrub_refused" and "GATEWAY_SCRUB_MAX_INVALID" in got["detail"]
    assert got["scrub"]["rows"] < 10_000
    assert got["scrub"]["rejected_samples"][0] == {
        "line": 402, "value": "n/a", "error": "not a valid telephone number"}
    forced = scrub(tenant, body, force="true")
    assert forced.status_code == 200 and forced.headers["X-Scrub-Rows"] == "100400"
    # an ordinary prospect file with some bad numbers is scrubbed
    mixed = ("telephone\n" + "0612345678\n" * 700 + "n/a\n" * 600).encode()
    assert scrub(tenant, mixed).status_code == 200


def test_scrub_limits(tenant: Tenant, settings: Any) -> None:
    settings(GATEWAY_SCRUB_MAX_ROWS=3000, GATEWAY_SCRUB_MAX_BYTES=100_000)
    r = scrub(tenant, b"0612345678\n" * 3001)
    assert r.status_code == 413, r.text
    assert (r.json()["error"], r.json()["limit"]) == ("too_many_rows", 3000)
    assert scrub(tenant, b"0612345678\n" * 3000).status_code == 200
    bomb = gzip.compress(b"0612345678\n" * 20_000)
    r = scrub(tenant, bomb)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "upload_too_large"
    assert "GATEWAY_SCRUB_MAX_BYTES" in r.json()["detail"]


from hypothesis import given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CELL = st.text(alphabet=st.sampled_from(list("=+-@\t\r 0369a,;\"'²")), max_size=8)


@hsettings(max_examples=500, deadline=None)
@given(cells=st.lists(_CELL, min_size=1, max_size=5), delimiter=st.sampled_from([",", ";"]))
def test_every_cell_comes_back_as_the_reports_neutralise_it(
        cells: list[str], delimiter: str) -> None:
    """Whatever a row holds and however it is quoted, each cell read back from the scrub's
    row is ``neutralise(cell)``; a row with nothing to neutralise comes back byte for byte."""
    from app.scrub.service import _safe_row

    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerow(cells)
    line = buf.getvalue()[:-2]  # the row as a line of the file, without its CRLF
    out = _safe_row(line, delimiter=delimiter, one_column=False)
    assert next(csv.reader([out], delimiter=delimiter)) == [neutralise(c) for c in cells]
    if all(neutralise(c) == c for c in cells):
        assert out == line
