"""The bulk import's machinery for large files — staged rows sorted in runs spilled to disk,
worker processes validating chunks of records, batches cut between numbers, concurrent
PostgreSQL writers — must give exactly what reading and writing row by row in one process
gives: the same report (counts, reasons, the first 100 rejected lines), the same rows."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.db import get_engine, session_scope
from app.principals.models import Professional
from app.registries import bulk
from app.registries.bulk import fields, importer, staging, workers
from app.registries.models import Consent, Contract, Opposition
from app.registries.service import evidence_sha256
from app.tenancy.models import Tenant

MONDAY = "2026-11-23T10:30:00+01:00"
TENANTS = ("t-plain", "t-piped")


@pytest.fixture
def tenants(db: Any, freeze: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    freeze(MONDAY)
    from app.clock import now

    with session_scope(write=True) as s:
        for t in TENANTS:
            s.add(Tenant(id=t, name=t, legal_form="legal_person", status="active", policy={},
                         created_at=now()))
            s.flush()  # its own principal, as create_tenant makes it (consents name it)
            s.add(Professional(id=t, name=t, tenant_id=t, created_at=now()))
    return TENANTS


def consents_text(n: int, seed: int = 7) -> bytes:
    """``n`` records meant to trip a pipeline: numbers repeated across the file (same key with
    the same or other values: unchanged, updated; same number, other given_at: other keys),
    blank lines, rejected rows, quoted evidence spanning lines, tabs, backslashes and accents
    (COPY's escapes), JSON evidence, CRLF line ends, national and E.164 forms."""
    rng = random.Random(seed)
    pool = [f"6{rng.randrange(10**8):08d}" for _ in range(max(3, n // 4))]
    out = ["numéro;date_consentement;canal;preuve;expire"]
    for i in range(n):
        roll = rng.random()
        nsn = rng.choice(pool)
        number = (f"0{nsn}", f"+33{nsn}", f"0{nsn[0]} {nsn[1:3]} {nsn[3:5]} {nsn[5:7]} {nsn[7:]}"
                  )[i % 3]
        day = rng.randrange(1, 4)
        if roll < 0.04:
            out.append("")
            continue
        if roll < 0.08:
            out.append(f"06 12;2026-09-0{day}T10:00:00+02:00;web;;")
            continue
        if roll < 0.11:
            out.append(f"{number};yesterday;web;;")
            continue
        evidence = rng.choice([
            "", "formulaire validé", '"ligne 1\nligne 2; suite"', "tab\there", "back\\slash",
            '"{""form"": ""v3"", ""ip"": ""203.0.113.9""}"', f"web form {i % 5}",
        ])
        channel = rng.choice(["web", "shop", "tél\\é"])
        expires = rng.choice(["", "2027-09-01T00:00:00Z"])
        out.append(f"{number};2026-09-0{day}T10:00:00+02:00;{channel};{evidence};{expires}")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def rows_of(model: Any, tenant: str, cols: tuple[str, ...]) -> list[tuple[Any, ...]]:
    with session_scope() as s:
        got = s.execute(select(*(getattr(model, c) for c in cols))
                        .where(model.tenant_id == tenant)).all()
    return sorted((tuple(r) for r in got), key=repr)


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("import_id", "seconds")}


def run(kind: bulk.Kind, tenant: str, data: bytes, **kw: Any) -> dict[str, Any]:
    return bulk.import_csv(get_engine(), io.BytesIO(data), kind=kind, tenant_id=tenant, **kw)


CONSENT_COLS = ("callee", "scope", "given_at", "channel", "evidence", "evidence_sha256",
                "expires_at", "revoked_at")


def test_workers_runs_and_concurrent_writers_change_nothing(
    tenants: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = consents_text(2_500)
    plain, piped = tenants
    monkeypatch.setenv("GATEWAY_IMPORT_WORKERS", "0")
    expected = run("consents", plain, data)
    assert expected["rejected"] > 100 and expected["updated"] and expected["unchanged"]
    assert expected["blank"] > 0
    # every path at once: in-process first, then worker processes in chunks, the main
    # process's run spilled, many small batches (on PostgreSQL: two writers at once)
    monkeypatch.setenv("GATEWAY_IMPORT_WORKERS", "2")
    monkeypatch.setattr(importer, "PARALLEL_AFTER", 300)
    monkeypatch.setattr(workers, "WORKER_CHUNK", 450)
    monkeypatch.setattr(importer, "RUN_ROWS", 120)
    chunks: list[int] = []
    submit = workers.Workers.submit
    monkeypatch.setattr(workers.Workers, "submit", lambda self, first, text: (
        chunks.append(first), submit(self, first, text))[1])
    got = run("consents", piped, data, batch=37)
    assert len(chunks) == 5 and chunks[0] > 300  # 2,200 records after the first 300
    assert comparable(got) == comparable(expected)
    assert rows_of(Consent, piped, CONSENT_COLS) == rows_of(Consent, plain, CONSENT_COLS)
    stored = rows_of(Consent, piped, ("evidence", "evidence_sha256"))
    assert all(evidence_sha256(e) == h for e, h in stored)
    assert {"text": "ligne 1\nligne 2; suite"} in [e for e, _ in stored]
    assert {"text": "tab\there"} in [e for e, _ in stored]
    # and again, over what is stored: nothing created, the same counts on both paths
    again = run("consents", piped, data, batch=37)
    monkeypatch.setenv("GATEWAY_IMPORT_WORKERS", "0")
    assert comparable(again) == comparable(run("consents", plain, data))
    assert again["created"] == 0 and again["unchanged"] > 0
    assert rows_of(Consent, piped, CONSENT_COLS) == rows_of(Consent, plain, CONSENT_COLS)


def test_a_number_repeated_beyond_a_batch_stays_in_one_batch(
    tenants: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are cut between numbers only (so that writers never share a key): 60 consents
    of one number with batches of 10 are written together, the last row of a key wins."""
    plain, _ = tenants
    rows = ["numero;date_consentement;canal"]
    rows += [f"0612345678;2026-09-{1 + i % 20:02d}T10:00:00Z;web-{i}" for i in range(60)]
    rows += [f"06000000{i:02d};2026-09-01T10:00:00Z;web" for i in range(30)]
    report = run("consents", plain, "\n".join(rows).encode(), batch=10)
    assert (report["created"], report["updated"], report["unchanged"]) == (50, 40, 0)
    with session_scope() as s:
        channels = dict(s.execute(
            select(Consent.given_at, Consent.channel).where(Consent.callee == "+33612345678")
        ).all())
    assert len(channels) == 20
    assert sorted(int(c.split("-")[1]) for c in channels.values()) == list(range(40, 60))


@pytest.mark.parametrize("kind", ["contracts", "oppositions"])
def test_other_registries_through_workers(
    kind: bulk.Kind, tenants: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, piped = tenants
    rng = random.Random(3)
    if kind == "contracts":
        lines = ["numero;reference;debut;fin;secteur"] + [
            f"06{rng.randrange(10**8):08d};REF-{rng.randrange(400)};2026-0{rng.randrange(1, 9)}"
            f"-01;{rng.choice(['', '2027-01-01', '2025-01-01'])};general" for _ in range(1_500)]
        model, cols = Contract, ("callee", "reference", "sector", "starts_on", "ends_on")
    else:
        lines = ["numero;source"] + [
            f"06{rng.randrange(600):08d};{rng.choice(['crm', 'store', 'x' * 300])}"
            for _ in range(1_500)]
        model, cols = Opposition, ("callee", "source")
    data = "\n".join(lines).encode()
    monkeypatch.setenv("GATEWAY_IMPORT_WORKERS", "0")
    expected = run(kind, plain, data)
    monkeypatch.setenv("GATEWAY_IMPORT_WORKERS", "2")
    monkeypatch.setattr(importer, "PARALLEL_AFTER", 200)
    monkeypatch.setattr(workers, "WORKER_CHUNK", 300)
    got = run(kind, piped, data, batch=25)
    assert comparable(got) == comparable(expected)
    assert rows_of(model, piped, cols) == rows_of(model, plain, cols)


def test_the_external_sort_is_stable_and_bounded() -> None:
    runs = staging.Runs(run_rows=10)
    rows = [(f"+3361234567{i % 7}", i, f"v{i}") for i in range(95)]
    for r in rows:
        runs.add(r)
    assert len(runs.files) == 9 and len(runs.rows) == 5
    try:
        assert list(runs.sorted()) == sorted(rows)  # by number, then line: file order kept
    finally:
        runs.close()


@given(st.text(max_size=80))
def test_evidence_text_is_stored_and_hashed_as_the_api_does(text: str) -> None:
    text = text.strip()  # as the importer hands it over
    got = fields.Evidence()(text)
    if not text:
        assert got == ("{}", evidence_sha256({}))
        return
    try:
        value = json.loads(text)
    except ValueError:
        value = {"text": text}
    if not isinstance(value, dict):
        if text.lstrip().startswith(("{", "[")):
            assert got is None  # JSON, but not an object: rejected
            return
        value = {"text": text}
    assert got is not None
    assert json.loads(got[0]) == value
    assert got[1] == evidence_sha256(value)
