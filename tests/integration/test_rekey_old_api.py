"""Acceptance (issue 12, item 4): the data migration on a database filled through the OLD API.

The code from before the issue (commit ``OLD``, whose schema stops at 0008) runs as a real
server on a fresh database (SQLite and PostgreSQL) and is filled through its HTTP API with
overseas lines written the +33 way: consents, an opposition, attempts that count toward the
frequency limit, a refusal, a caller ID, and a BLOCTEL list. The server stops; the new code
upgrades the database (0009, then 0010) and serves it: counts, consents, oppositions, refusals,
the caller ID and BLOCTEL apply to the canonical key whatever form the dialer now sends. A
downgrade to 0009 then gives back every row as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app import db as app_db
from tests.conftest import Database
from tests.integration.conftest import serve

pytestmark = pytest.mark.integration

OLD = "47b20c2"  # the last commit before issue 12
ROOT = Path(__file__).resolve().parents[2]

MAYOTTE = ("+33 2 69 60 12 34", "0269 60 12 34", "+262 269 60 12 34")
GUIANA_NPV = ("+33 9 47 65 05 71", "0947 65 05 71", "+594 947 65 05 71")
SPM = ("0033 5 08 41 12 34", "+508 41 12 34", "05 08 41 12 34")
MAYOTTE_2 = ("+33 2 69 61 12 34", "0269 61 12 34", "+262 269 61 12 34")
REUNION = ("+33 6 92 12 34 56", "0692 12 34 56")
CLI = ("+33 9 47 51 23 45", "0947 51 23 45")  # an overseas verified range (Guadeloupe)
SNAPSHOT = ("attempts", "consents", "oppositions", "refusals", "caller_ids",
            "campaign_caller_ids", "bloctel_versions", "bloctel_chunks")


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code from before the issue, unpacked from git."""
    where = tmp_path_factory.mktemp("old-code")
    archive = where / "old.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), OLD], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(where / "tree", filter="data")
    return where / "tree"


def gateway(tree: Path, url: str, *args: str, **settings: str) -> str:
    """``gateway ARGS`` run with the code of ``tree`` first on the path."""
    env = os.environ | {"DATABASE_URL": url, "PYTHONPATH": str(tree)} | settings
    out = subprocess.run([str(Path(sys.executable).parent / "gateway"), *args], env=env,
                         cwd=str(tree), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"gateway {' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out.stdout


def snapshot(url: str) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every row of the re-keyed tables, by primary key."""
    engine = app_db.make_engine(url)
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            out = {}
            for name in SNAPSHOT:
                t = sa.Table(name, meta, autoload_with=conn)
                pk = [c.name for c in t.primary_key.columns]
                out[name] = {
                    json.dumps([r._mapping[c] for c in pk], default=str): tuple(r)
                    for r in conn.execute(sa.select(t))
                }
            return out
    finally:
        engine.dispose()


def codes(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [x["code"] for x in r.json()["reasons"]]


class Api:
    def __init__(self, base_url: str, keys: dict[str, str]):
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self.keys = keys

    def post(self, path: str, body: Any = None, role: str = "admin", **kw: Any) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.auth(role), **kw)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def check(self, callee: str, caller_id: str = CLI[0]) -> httpx.Response:
        return self.post("/v1/calls/check", {"campaign": "manual", "callee": callee,
                                             "caller_id": caller_id}, role="dialer")

    def consent(self, callee: str) -> httpx.Response:
        return self.post("/v1/consents", {
            "callee": callee, "scope": "canvassing", "given_at": "2026-09-01T10:00:00+02:00",
            "channel": "web_form", "evidence": {"form": "optin-v3"}})


def fill_through_the_old_api(base_url: str, operator: str) -> dict[str, str]:
    op = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=base_url, timeout=30) as c:
        r = c.post("/v1/tenants", json={"name": "Acme", "legal_form": "legal_person"},
                   headers=op)
        assert r.status_code == 201, r.text
        tenant = r.json()["id"]
        keys = {"operator": operator}
        for role in ("admin", "dialer", "compliance"):
            k = c.post(f"/v1/tenants/{tenant}/keys", json={"role": role}, headers=op)
            assert k.status_code == 201, k.text
            keys[role] = k.json()["key"]
    api = Api(base_url, keys)
    assert api.post("/v1/caller-ids", {"number": CLI[0], "assigned_to": None}).status_code == 201
    r = api.post("/v1/campaigns", {"id": "manual", "purpose": "commercial",
                                   "audience": "consumers", "sector": "general",
                                   "automated": False, "caller_ids": [CLI[0]]})
    assert r.status_code == 201, r.text
    for callee in (MAYOTTE[0], GUIANA_NPV[0], SPM[0], MAYOTTE_2[0]):
        assert api.consent(callee).status_code == 201
    assert api.consent(REUNION[0]).status_code == 422  # the old code: CALLEE_INVALID
    r = api.post("/v1/oppositions", {"callee": GUIANA_NPV[0], "source": "api"})
    assert r.status_code == 201, r.text
    # the frequency limit is reached under the +33 key...
    for _ in range(4):
        assert codes(api.check(MAYOTTE[0])) == []
    assert "FREQUENCY_LIMIT" in codes(api.check(MAYOTTE[0]))
    # ...but the same line written nationally was another number: no count, no consent
    assert "FREQUENCY_LIMIT" not in codes(api.check(MAYOTTE[1]))
    assert "CONSENT_REQUIRED" in codes(api.check(MAYOTTE[1]))
    assert "INTERNAL_OPPOSITION" not in codes(api.check(GUIANA_NPV[1]))
    # a refusal recorded under the +33 key (12:30 in Mayotte: business hours)
    r = api.check(MAYOTTE_2[0])
    assert codes(r) == []
    out = api.post(f"/v1/calls/{r.json()['attempt_id']}/outcome",
                   {"status": "answered", "duration_s": 30, "consumer_refused": True},
                   role="dialer")
    assert out.status_code == 200, out.text
    assert "CALLEE_INVALID" in codes(api.check(REUNION[0]))
    # a BLOCTEL list written the +33 way
    r = api.client.post("/v1/bloctel/imports", params={"mode": "replace",
                                                       "as_of": "2026-08-01"},
                        content=b"+33269601234\n+33612345678\n",
                        headers=api.auth("operator") | {"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    assert "BLOCTEL_LISTED" in codes(api.check(MAYOTTE[0]))
    assert "BLOCTEL_LISTED" not in codes(api.check(MAYOTTE[1]))
    return keys


@pytest.fixture
def fresh_database(database: Database, fresh_url: str) -> Iterator[Database]:
    yield Database(database.backend, fresh_url)


def test_a_database_filled_through_the_old_api_is_rekeyed_and_restored(
    old_tree: Path, fresh_database: Database, tmp_path: Path
) -> None:
    url = fresh_database.url
    gateway(old_tree, url, "db", "upgrade")
    operator = json.loads(gateway(old_tree, url, "keys", "create", "--role", "operator",
                                  "--json"))["key"]
    (tmp_path / "old").mkdir()
    with serve(fresh_database, tmp_path / "old", PYTHONPATH=str(old_tree)) as old:
        keys = fill_through_the_old_api(old.base_url, operator)
    # the old code seals its ledger (half an hour later: past the grace period)
    later = {"GATEWAY_FROZEN_NOW": "2026-11-23T11:00:00+01:00"}
    sealed = json.loads(gateway(old_tree, url, "audit", "seal", "--json", **later))
    assert sealed["seq"] == 1

    gateway(ROOT, url, "db", "upgrade", "0009")
    before = snapshot(url)
    gateway(ROOT, url, "db", "upgrade")
    # re-keyed attempts are hashed as they were sealed: the old seal still verifies
    verified = json.loads(gateway(ROOT, url, "audit", "verify", "--json", **later))
    assert verified["ok"] and verified["rows_checked"] > 0, verified

    (tmp_path / "new").mkdir()
    with serve(fresh_database, tmp_path / "new", PYTHONPATH=str(ROOT)) as new:
        api = Api(new.base_url, keys)
        for form in MAYOTTE:  # the four calls counted under +33 count for every form
            got = codes(api.check(form))
            assert "FREQUENCY_LIMIT" in got and "CONSENT_REQUIRED" not in got, (form, got)
            assert "BLOCTEL_LISTED" in got, (form, got)  # the list holds the canonical key
        for form in GUIANA_NPV:  # the opposition given to the +33 form, and its consent
            got = codes(api.check(form))
            assert "INTERNAL_OPPOSITION" in got and "CONSENT_REQUIRED" not in got, (form, got)
        for form in MAYOTTE_2:  # the refusal recorded under the +33 form
            got = codes(api.check(form))
            assert "REFUSAL_COOLDOWN" in got and "CONSENT_REQUIRED" not in got, (form, got)
        for form in SPM:  # the consent given to "0033 5 08…" (06:30 there: outside hours)
            got = codes(api.check(form))
            assert got == ["OUTSIDE_HOURS"], (form, got)
        # the caller ID registered +33 is the tenant's line, however the dialer writes it
        got = codes(api.check(MAYOTTE[1], caller_id=CLI[1]))
        assert not [c for c in got if c.startswith("CALLER_ID")], got
        # the Réunion mobile written the CRM way is a valid line now, with one key
        assert api.consent(REUNION[0]).status_code == 201
        got = codes(api.check(REUNION[1]))  # 13:30 in Réunion: the lunch break
        assert got == ["OUTSIDE_HOURS"], got
        history = api.client.get(f"/v1/numbers/{REUNION[1]}/history",
                                 headers=api.auth("compliance"))
        assert history.status_code == 200, history.text
        assert history.json()["callee"] == "+262692123456"

    after = snapshot(url)
    engine = app_db.make_engine(url)
    try:
        with engine.connect() as conn:
            callees = {r[0] for r in conn.execute(sa.text(
                "SELECT callee FROM attempts UNION SELECT callee FROM consents "
                "UNION SELECT callee FROM oppositions UNION SELECT callee FROM refusals"))}
    finally:
        engine.dispose()
    assert not {c for c in callees if c.startswith(("+33269", "+33947", "+33508", "+33692"))}

    gateway(ROOT, url, "db", "downgrade", "0009")
    restored = snapshot(url)
    for name in SNAPSHOT:  # every row there was is back as it was
        assert {k: v for k, v in restored[name].items() if k in before[name]} == before[name], name
        # and the only others are what the new server wrote (its checks, the Réunion consent)
        assert set(restored[name]) - set(before[name]) <= set(after[name]), name
    assert len(restored["attempts"]) > len(before["attempts"])
