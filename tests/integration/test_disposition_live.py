"""Issue 15: the agent's disposition, at once, on both workers of ``gateway serve --workers 2``,
on SQLite and PostgreSQL: after the proxy recorded ``answered`` (12 s), 10 dispositions saying
the consumer refused — half of them also that the consumer opposed — all answer 200, and the
database holds one refusal and one opposition: each flag's effects ran once. Each effect is
inserted in a savepoint (``app.calls.service.record_disposition``): without it, the posts that
lose the race on the unique index of refusals (or of oppositions) would fail their whole
transaction — a 500, or a 409 the dialer would take as "refusal not recorded".
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.registries.models import Consent, Opposition, Refusal
from tests.factories import CALLEE, add_consent, make_tenant, operator_key
from tests.integration.conftest import Server
from tests.integration.test_concurrency import TIMEOUT
from tests.integration.test_outcomes_live import _post_all, _rows

pytestmark = pytest.mark.integration

BODIES = [{"consumer_refused": True}] * 5 + [
    {"consumer_refused": True, "consumer_opposed": True}] * 5


def test_ten_concurrent_refusals_record_exactly_one(live: Server) -> None:
    with httpx.Client(base_url=live.base_url, timeout=TIMEOUT) as http:
        t = make_tenant(http, "Dispositions", operator=operator_key())
        add_consent(t)
        attempt = t.check(callee=CALLEE).json()
        assert attempt["decision"] == "allow", attempt["reasons"]
        attempt_id = attempt["attempt_id"]
        proxy = t.post(f"/v1/calls/{attempt_id}/outcome", {"status": "answered",
                                                           "duration_s": 12}, role="dialer")
        assert proxy.status_code == 200, proxy.text

        answers = asyncio.run(_post_all(live, t.dialer, f"/v1/calls/{attempt_id}/disposition",
                                        BODIES))

        assert [r.status_code for r, _ in answers] == [200] * len(BODIES), \
            [(r.status_code, r.text[:200]) for r, _ in answers]
        assert {w for _, w in answers} == live.worker_pids  # both workers raced
        for (r, _), body in zip(answers, BODIES, strict=True):
            got: dict[str, Any] = r.json()
            assert (got["status"], got["duration_s"], got["consumer_refused"]) == (
                "answered", 12, True)
            if body.get("consumer_opposed"):
                assert got["consumer_opposed"] is True
        # the database: one refusal, one opposition, the consent withdrawn once
        assert len(_rows(Refusal.__table__, attempt_id=attempt_id)) == 1
        assert len(_rows(Opposition.__table__, tenant_id=t.id, callee=CALLEE)) == 1
        (consent,) = _rows(Consent.__table__, tenant_id=t.id, callee=CALLEE)
        assert consent.revoked_at is not None
        assert consent.revoke_reason == f"refused during call {attempt_id}"
        # and the next call to that consumer is denied
        nxt = t.check(callee=CALLEE).json()
        assert nxt["decision"] == "deny"
        assert {"CONSENT_REVOKED", "REFUSAL_COOLDOWN", "INTERNAL_OPPOSITION"} <= {
            r["code"] for r in nxt["reasons"]}
