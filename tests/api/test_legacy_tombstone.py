"""An overseas line erased before one line, one key (migration 0010) left a tombstone made from
its legacy +33 key ("+33 2 69…" was keyed +33269…). Tombstones are hashes and cannot be
re-keyed, so every look-up also tries the legacy one: the line stays blocked in the check and
in a batch (scrub), its history shows the erasure, and erasing it again adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.calls.facts import batch_facts
from app.db import get_engine, session_scope
from app.ids import new_id
from app.registries.models import Erasure, Opposition
from app.registries.tombstones import tombstone
from tests.api.conftest import blocking
from tests.factories import Tenant, add_consent

LEGACY, CANONICAL = "+33269601234", "+262269601234"  # Mayotte, 12:30 there at the frozen time
FORMS = ("0269 60 12 34", "+33 2 69 60 12 34", "+262 269 60 12 34")


def erased_before_0010(t: Tenant) -> str:
    """What an erasure made by the old code left: an opposition under the legacy tombstone."""
    key = tombstone(t.id, LEGACY)
    at = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    with session_scope(write=True) as s:
        s.add(Opposition(id=new_id("opp"), tenant_id=t.id, principal_id=t.id, callee=key,
                         source="erasure request", attempt_id=None, created_at=at))
        s.add(Erasure(id=new_id("era"), tenant_id=t.id, tombstone=key, requested_at=at,
                      requested_by="key_old", opposition_added=True, consents=0, contracts=0,
                      refusals=0, quarantines=0, oppositions=0))
    return key


def test_a_line_erased_under_its_legacy_key_stays_blocked_in_every_form(tenant: Tenant) -> None:
    add_consent(tenant, callee=FORMS[0])
    assert tenant.check(callee=FORMS[0]).json()["decision"] == "allow"
    erased_before_0010(tenant)
    for form in FORMS:
        d = tenant.check(callee=form).json()
        assert "INTERNAL_OPPOSITION" in blocking(d), (form, d)


def test_the_batch_path_finds_the_legacy_tombstone(tenant: Tenant) -> None:
    erased_before_0010(tenant)
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    with get_engine().connect() as conn:
        facts = batch_facts(conn, tenant.id, [CANONICAL, "+33612345678"], at - timedelta(30), at)
    assert facts[CANONICAL].internal_opposition
    assert "+33612345678" not in facts


def test_history_shows_it_and_a_second_erasure_adds_no_opposition(tenant: Tenant) -> None:
    key = erased_before_0010(tenant)
    h = tenant.get(f"/v1/numbers/{FORMS[0]}/history").json()
    assert h["callee"] == CANONICAL
    assert len(h["erasures"]) == 1 and h["erasures"][0]["opposition_added"] is True
    r = tenant.post(f"/v1/numbers/{FORMS[1]}/erasure")
    assert r.status_code == 200, r.text  # a repeated request: nothing to erase
    assert (r.json()["opposition_added"], r.json()["nothing_to_erase"]) == (False, True)
    with session_scope() as s:
        keys = {o.callee for o in s.query(Opposition).filter(Opposition.tenant_id == tenant.id)}
    assert keys == {key}
