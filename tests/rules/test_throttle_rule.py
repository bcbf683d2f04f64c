"""RATE_THROTTLED: an abuse monitor's throttle blocks the call until it ends, and says when."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules_fr import evaluate

from .factories import OPT_IN_MONDAY, at_day, make

AT = at_day(OPT_IN_MONDAY)


@pytest.mark.parametrize(("until", "blocked"), [
    (None, False),
    (AT - timedelta(seconds=1), False),
    (AT, False),  # ends at this instant: no longer throttled
    (AT + timedelta(seconds=1), True),
    (AT + timedelta(minutes=15), True),
])
def test_throttle(until: datetime | None, blocked: bool) -> None:
    decision = evaluate(make(AT, throttled_until=until, throttled_by="denied_share"))
    got = [r for r in decision.reasons if r.code == "RATE_THROTTLED"]
    assert bool(got) is blocked
    assert decision.decision == ("deny" if blocked else "allow")
    if blocked:
        assert got[0].severity == "block" and "denied_share" in got[0].message
        assert "seuils de fraude" in got[0].legal_basis
        assert decision.next_allowed_at == until
