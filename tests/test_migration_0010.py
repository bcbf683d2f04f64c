"""Migration 0010 (one line, one key), on SQLite and PostgreSQL: a database at the revision
before it, filled with numbers in their legacy +33 forms (and collisions on unique keys), is
re-keyed to canonical keys with the collisions merged, the ledger still hashes re-keyed attempts
as they were sealed, BLOCTEL versions hold canonical keys, and a downgrade gives back exactly
the rows there were. A line held by two tenants as caller ID refuses the upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app import db as app_db
from app.audit import service as audit
from app.audit.ledger import ATTEMPT_FIELDS, digest_of
from app.bloctel import store
from app.calls.models import Attempt
from app.migrate import MigrationRefused, alembic_config, downgrade, upgrade
from app.registries.tombstones import tombstone, tombstones
from bloctel.index import Index
from rules_fr.numbering import classify

BEFORE = ScriptDirectory.from_config(alembic_config()).get_revision("0010").down_revision
TABLES = ("tenants", "principals", "campaigns", "attempts", "consents", "consent_principals",
          "contracts", "oppositions", "refusals", "quarantines", "caller_ids",
          "campaign_caller_ids", "alerts", "bloctel_versions", "bloctel_chunks")

MAYOTTE_LEGACY, MAYOTTE = "+33269601234", "+262269601234"
REUNION_LEGACY, REUNION = "+33692123456", "+262692123456"  # was CALLEE_INVALID, stored so
NPV_LEGACY, NPV = "+33947512345", "+590947512345"  # overseas verified range (Guadeloupe)
SPM_LEGACY, SPM = "+33508411234", "+508411234"
METRO = "+33612345678"
BLOCTEL_BEFORE = [33269601234, 262269601234, 33612345678, 33692123456, 33508411234]
BLOCTEL_AFTER = [508411234, 33612345678, 262269601234, 262692123456]


@contextmanager
def connect(url: str) -> Iterator[sa.Connection]:
    engine = app_db.make_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _filler(column: sa.Column[Any], pg: bool) -> Any:
    t = column.type
    if isinstance(t, sa.DateTime):
        at = datetime(2026, 1, 2, 10, 0, 0, 123456)
        return at.replace(tzinfo=UTC) if pg else at
    if isinstance(t, sa.Date):
        return date(2026, 1, 1)
    if isinstance(t, sa.Boolean):
        return False
    if isinstance(t, sa.Integer):
        return 0
    if isinstance(t, sa.JSON):
        return {}
    if isinstance(t, sa.LargeBinary):
        return b""
    return "x"


def add(conn: sa.Connection, table: str, /, **values: Any) -> None:
    """Insert a row, every other NOT NULL column filled with a plausible value."""
    t = sa.Table(table, sa.MetaData(), autoload_with=conn)
    pg = conn.dialect.name == "postgresql"
    row = {c.name: _filler(c, pg) for c in t.columns if not c.nullable and c.name not in values
           and not (c.primary_key and c.autoincrement is True)}
    for k, v in values.items():
        if isinstance(v, datetime) and not pg:
            v = v.astimezone(UTC).replace(tzinfo=None)
        row[k] = v
    conn.execute(sa.insert(t).values(row))


def at(month: int) -> datetime:
    return datetime(2026, month, 1, 10, 0, 0, 654321, tzinfo=UTC)


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with connect(url) as conn:
        meta = sa.MetaData()
        out = {}
        for name in TABLES:
            t = sa.Table(name, meta, autoload_with=conn)
            out[name] = sorted(
                (tuple(r) for r in conn.execute(sa.select(t))), key=repr)
        return out


def fill(url: str, *, second_tenant_holds_npv: bool = False) -> None:
    with connect(url) as conn:
        for tenant in ("ten_a", "ten_b"):
            add(conn, "tenants", id=tenant, name=tenant, legal_form="legal_person",
                status="active", policy={}, created_at=at(1))
            add(conn, "principals", id=tenant, name=tenant, tenant_id=tenant, created_at=at(1))
            add(conn, "campaigns", tenant_id=tenant, id="camp", purpose="commercial",
                audience="consumers", sector="energy", automated=True, created_at=at(1),
                principal_id=tenant)
        attempt = {"tenant_id": "ten_a", "campaign_id": "camp", "principal_id": "ten_a",
                   "decision": "allow", "counted": True, "reasons": [], "reason_codes": "",
                   "callee_time_zone": "Indian/Mayotte"}
        add(conn, "attempts", id="att_1", callee=MAYOTTE_LEGACY, caller_id=NPV_LEGACY,
            checked_at=at(3), **attempt)
        add(conn, "attempts", id="att_2", callee=MAYOTTE, caller_id=NPV, checked_at=at(4),
            **attempt)
        add(conn, "attempts", id="att_3", callee=METRO, caller_id=NPV_LEGACY, checked_at=at(4),
            **attempt)
        add(conn, "attempts", id="att_4", callee=REUNION_LEGACY, caller_id=None,
            checked_at=at(5), **{**attempt, "decision": "deny", "counted": False})
        add(conn, "attempts", id="att_5", callee="06 12", caller_id=None, checked_at=at(5),
            **{**attempt, "decision": "deny", "counted": False})  # raw, unparsable: left alone
        add(conn, "consents", id="con_1", tenant_id="ten_a", callee=REUNION_LEGACY,
            scope="canvassing", given_at=at(2), evidence={"form": "web"})
        add(conn, "consent_principals", consent_id="con_1", principal_id="ten_a",
            callee=REUNION_LEGACY)
        add(conn, "contracts", id="ctr_1", tenant_id="ten_a", callee=SPM_LEGACY,
            reference="R1", sector="energy", starts_on=date(2026, 1, 1), principal_id="ten_a")
        # (tenant, principal, callee) collisions: the oldest stays
        add(conn, "oppositions", id="opp_1", tenant_id="ten_a", principal_id="ten_a",
            callee=MAYOTTE_LEGACY, source="api", created_at=at(1))
        add(conn, "oppositions", id="opp_2", tenant_id="ten_a", principal_id="ten_a",
            callee=MAYOTTE, source="import", created_at=at(2))
        add(conn, "oppositions", id="opp_3", tenant_id="ten_a", principal_id="ten_a",
            callee=REUNION_LEGACY, source="api", created_at=at(3))
        add(conn, "oppositions", id="opp_4", tenant_id="ten_a", principal_id="ten_a",
            callee=REUNION, source="import", created_at=at(1))
        add(conn, "oppositions", id="opp_5", tenant_id="ten_b", principal_id="ten_b",
            callee=MAYOTTE_LEGACY, source="api", created_at=at(4))
        add(conn, "refusals", id="ref_1", tenant_id="ten_a", callee=REUNION_LEGACY,
            refused_at=at(3), principal_id="ten_a")
        add(conn, "quarantines", id="qua_1", tenant_id="ten_a", callee=REUNION_LEGACY,
            until=at(6), created_at=at(3))
        # one line registered twice by one tenant: merged, the oldest stays
        add(conn, "caller_ids", id="cli_1", tenant_id="ten_a", number=NPV_LEGACY,
            kind="non_geographic", created_at=at(1))
        add(conn, "caller_ids", id="cli_2", tenant_id="ten_b" if second_tenant_holds_npv
            else "ten_a", number=NPV, kind="canvassing", created_at=at(2))
        for number in (NPV_LEGACY, NPV):
            add(conn, "campaign_caller_ids", tenant_id="ten_a", campaign_id="camp",
                number=number)
        add(conn, "alerts", id="alr_1", tenant_id="ten_a", monitor="attempts_per_minute",
            scope=f"caller_id:{NPV_LEGACY}", action="throttle", value=1.0, threshold=1.0,
            window="1m", created_at=at(1), until=at(12), details={})
        add(conn, "alerts", id="alr_2", tenant_id="ten_a", monitor="attempts_per_minute",
            scope="campaign:camp", action="notice", value=1.0, threshold=1.0,
            window="1m", created_at=at(1), details={})
        add(conn, "bloctel_versions", version=1, import_id="blk_1", mode="replace",
            status="active", as_of=date(2026, 1, 1), rejected_samples=[], sha256="",
            total_numbers=len(BLOCTEL_BEFORE), created_at=at(1))
        for seq, c in enumerate(Index.from_keys(np.array(BLOCTEL_BEFORE)).encode()):
            add(conn, "bloctel_chunks", version=1, seq=seq, bucket=c.bucket, count=c.count,
                first=c.first, data=c.data)


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def ledger_digest(url: str, tenant: str, *, as_sealed: bool) -> tuple[int, str]:
    engine = app_db.make_engine(url)
    try:
        with engine.connect() as conn:
            if as_sealed:
                return audit._digest(conn, "attempts", tenant, None, None)
            a = Attempt.__table__
            q = sa.select(*[a.c[f] for f in ATTEMPT_FIELDS]).where(a.c.tenant_id == tenant)
            return digest_of(conn.execute(q.order_by(a.c.checked_at, a.c.id)))
    finally:
        engine.dispose()


def bloctel_keys(url: str) -> tuple[list[int], int | None]:
    engine = app_db.make_engine(url)
    try:
        index = store.load(engine)
        return index.keys().tolist(), index.size
    finally:
        engine.dispose()


def test_upgrade_rekeys_merges_and_the_downgrade_restores_every_row(fresh_url: str) -> None:
    upgrade(fresh_url, BEFORE)
    fill(fresh_url)
    before = snapshot(fresh_url)
    sealed = ledger_digest(fresh_url, "ten_a", as_sealed=False)

    upgrade(fresh_url)

    assert rows(fresh_url, "SELECT id, callee, caller_id FROM attempts ORDER BY id") == [
        ("att_1", MAYOTTE, NPV), ("att_2", MAYOTTE, NPV), ("att_3", METRO, NPV),
        ("att_4", REUNION, None), ("att_5", "06 12", None)]
    assert rows(fresh_url, "SELECT callee FROM consents") == [(REUNION,)]
    assert rows(fresh_url, "SELECT callee FROM consent_principals") == [(REUNION,)]
    assert rows(fresh_url, "SELECT callee FROM contracts") == [(SPM,)]
    assert rows(fresh_url, "SELECT callee FROM refusals") == [(REUNION,)]
    assert rows(fresh_url, "SELECT callee FROM quarantines") == [(REUNION,)]
    assert rows(fresh_url, "SELECT id, tenant_id, callee, source FROM oppositions ORDER BY id") == [
        ("opp_1", "ten_a", MAYOTTE, "api"),  # older than opp_2, which merged into it
        ("opp_4", "ten_a", REUNION, "import"),  # older than opp_3
        ("opp_5", "ten_b", MAYOTTE, "api"),  # another tenant: no collision
    ]
    assert rows(fresh_url, "SELECT id, tenant_id, number, kind FROM caller_ids") == [
        ("cli_1", "ten_a", NPV, "canvassing")]
    assert rows(fresh_url, "SELECT number FROM campaign_caller_ids") == [(NPV,)]
    assert rows(fresh_url, "SELECT scope FROM alerts ORDER BY id") == [
        (f"caller_id:{NPV}",), ("campaign:camp",)]  # a throttle in force follows the line
    assert bloctel_keys(fresh_url) == (BLOCTEL_AFTER, len(BLOCTEL_AFTER))
    assert rows(fresh_url, "SELECT total_numbers FROM bloctel_versions") == [
        (len(BLOCTEL_AFTER),)]
    # every stored key is canonical now
    for (value,) in rows(fresh_url, "SELECT callee FROM attempts UNION ALL SELECT callee FROM "
                         "oppositions UNION ALL SELECT number FROM caller_ids"):
        info = classify(value)
        assert not info.valid or info.e164 == value
    # the ledger hashes a re-keyed attempt as it was sealed: earlier seals still verify
    assert ledger_digest(fresh_url, "ten_a", as_sealed=True) == sealed
    assert ledger_digest(fresh_url, "ten_a", as_sealed=False) != sealed

    downgrade(fresh_url, BEFORE)
    assert snapshot(fresh_url) == before
    assert bloctel_keys(fresh_url) == (sorted(BLOCTEL_BEFORE), len(BLOCTEL_BEFORE))
    with connect(fresh_url) as conn:
        assert "number_rekeys" not in sa.inspect(conn).get_table_names()

    upgrade(fresh_url)  # and up again, from the restored rows
    assert rows(fresh_url, "SELECT id FROM oppositions ORDER BY id") == [
        ("opp_1",), ("opp_4",), ("opp_5",)]


def test_a_line_two_tenants_registered_as_caller_id_refuses_the_upgrade(fresh_url: str) -> None:
    upgrade(fresh_url, BEFORE)
    fill(fresh_url, second_tenant_holds_npv=True)
    before = snapshot(fresh_url)
    with pytest.raises(MigrationRefused) as refused:
        upgrade(fresh_url)
    message = str(refused.value)
    assert "0010 refused" in message and "Nothing was changed" in message
    assert f"{NPV}: tenant ten_a as {NPV_LEGACY}" in message and f"tenant ten_b as {NPV}" in message
    assert snapshot(fresh_url) == before
    assert rows(fresh_url, "SELECT version_num FROM alembic_version") == [(BEFORE,)]


def test_an_overseas_line_erased_under_its_legacy_key_keeps_its_tombstone() -> None:
    """Tombstones are hashes and cannot be re-keyed: look-ups try the legacy one too."""
    assert tombstones("ten_a", MAYOTTE) == (
        tombstone("ten_a", MAYOTTE), tombstone("ten_a", MAYOTTE_LEGACY))
    assert tombstones("ten_a", SPM) == (tombstone("ten_a", SPM), tombstone("ten_a", SPM_LEGACY))
    assert tombstones("ten_a", METRO) == (tombstone("ten_a", METRO),)


def test_an_erasure_after_the_upgrade_drops_what_0010_kept_of_the_number(fresh_url: str) -> None:
    """The side table holds old keys in clear: an erased number's registry rows leave it too
    (the ledger's attempts keep theirs: attempts are not erased, their seals need them)."""
    from sqlalchemy.orm import Session

    from app.erasure.service import erase

    upgrade(fresh_url, BEFORE)
    fill(fresh_url)
    upgrade(fresh_url)
    sql = ("SELECT table_name FROM number_rekeys WHERE tenant_id = 'ten_a' AND new_value = "
           f"'{REUNION}' ORDER BY table_name")
    kept = [r[0] for r in rows(fresh_url, sql)]
    assert {"attempts", "consents", "consent_principals", "oppositions", "refusals",
            "quarantines"} <= set(kept)
    engine = app_db.make_engine(fresh_url)
    try:
        with Session(engine) as s, s.begin():
            erase(s, "ten_a", "0692 12 34 56", "key_test")
    finally:
        engine.dispose()
    assert [r[0] for r in rows(fresh_url, sql)] == ["attempts"]
