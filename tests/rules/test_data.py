"""The legal data: versions, rule set ids, the catalogue, the holiday calendars."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from rules_fr import catalog, data, regime_on, ruleset_version, ruleset_versions
from rules_fr.days import holidays_for, national_holidays

from .factories import PARIS, UTC

L3133 = data.HOURS[-1].national_holidays


@pytest.mark.parametrize("year", range(2023, 2036))
def test_exactly_eleven_national_holidays(year):
    days = national_holidays(year, L3133)
    assert len(days) == 11
    assert {date(year, 1, 1), date(year, 5, 1), date(year, 5, 8), date(year, 7, 14),
            date(year, 8, 15), date(year, 11, 1), date(year, 11, 11),
            date(year, 12, 25)} <= set(days)


def test_moveable_holidays_2026_2027():
    assert {d for d, n in national_holidays(2026, L3133).items() if d.month in (4, 5)} == {
        date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 8), date(2026, 5, 14),
        date(2026, 5, 25)}
    assert {d for d, n in national_holidays(2027, L3133).items() if d.month in (3, 5)} == {
        date(2027, 3, 29), date(2027, 5, 1), date(2027, 5, 6), date(2027, 5, 8),
        date(2027, 5, 17)}


def test_local_calendars_add_days():
    assert date(2026, 4, 3) in holidays_for(2026, L3133, "57")  # Good Friday, Moselle
    assert date(2026, 12, 26) in holidays_for(2026, L3133, "6AE")
    assert date(2026, 12, 20) in holidays_for(2026, L3133, "974")
    assert date(2026, 4, 3) not in holidays_for(2026, L3133, None)


@pytest.mark.parametrize(
    ("at", "version", "regime"),
    [
        (datetime(2026, 6, 15, 12, tzinfo=PARIS), "fr-2025-07-02", "opt_out"),
        (datetime(2026, 11, 23, 12, tzinfo=PARIS), "fr-2026-08-11", "opt_in"),
        (datetime(2026, 8, 10, 23, 59, 59, tzinfo=PARIS), "fr-2025-07-02", "opt_out"),
        (datetime(2026, 8, 10, 22, 0, tzinfo=UTC), "fr-2026-08-11", "opt_in"),  # 00:00 Paris
        (datetime(2023, 2, 28, 12, tzinfo=PARIS), "fr-2023-01-01", "opt_out"),
        (datetime(2023, 3, 1, 0, 0, tzinfo=PARIS), "fr-2023-03-01", "opt_out"),
        (datetime(2024, 6, 6, 12, tzinfo=PARIS), "fr-2024-06-06", "opt_out"),
        (datetime(2015, 1, 1, 12, tzinfo=PARIS), "fr-2004-06-22", "opt_out"),  # L34-5 (LCEN)
        (datetime(2004, 6, 21, 12, tzinfo=PARIS), "fr-base", "opt_out"),
    ],
)
def test_ruleset_version_and_regime(at, version, regime):
    assert ruleset_version(at) == version
    assert regime_on(data.paris_date(at)) == regime


def test_versions_are_sorted_and_ids_unique():
    for rule, versions in data.RULES.items():
        sinces = [v.since for v in versions]
        assert sinces == sorted(sinces) and len(set(sinces)) == len(sinces), rule
        assert all(v.legal_basis for v in versions), rule
    ids = [v.id for v in ruleset_versions()]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert "fr-2026-08-11" in ids and "fr-2023-03-01" in ids


def test_ruleset_versions_name_their_changes():
    by_id = {v.id: v for v in ruleset_versions()}
    assert {r for r, _ in by_id["fr-2026-08-11"].changes} >= {"opposition"}
    assert {r for r, _ in by_id["fr-2023-03-01"].changes} == {
        "hours", "frequency", "refusal_cooldown"}


def test_parameters_as_in_the_decree():
    hours = data.HOURS[-1]
    assert hours.since == date(2023, 3, 1)
    assert [(a.hour, b.hour) for a, b in hours.windows] == [(10, 13), (14, 20)]
    assert hours.weekdays == frozenset(range(5))
    assert (data.FREQUENCY[-1].max_attempts, data.FREQUENCY[-1].window_days) == (4, 30)
    assert data.REFUSAL_COOLDOWN[-1].full_days == 60
    assert data.BLOCTEL_FRESHNESS[0].max_age_days == 30
    tariff = data.TARIFFS[-1]
    assert (str(tariff.denied_attempt_eur), str(tariff.unassigned_eur)) == ("0.02", "0.02")
    assert tariff.quarantine_days == 30


def test_catalog_lists_every_code_the_rules_can_return():
    package = Path(data.__file__).parent / "rules"  # the rule modules (not its __all__)
    source = "".join(p.read_text() for p in package.glob("*.py") if p.name != "__init__.py")
    used = set(re.findall(r'"([A-Z][A-Z_]{3,})"', source))  # every code literal in the rules
    entries = {e.code: e for e in catalog()}
    assert len(used) >= 26
    assert used == set(entries)
    assert len(entries) == len(catalog())
    for e in entries.values():
        assert e.severity in ("block", "notice")
        assert e.legal_basis and e.description
    assert entries["CONSENT_REQUIRED"].since == date(2026, 8, 11)
    assert entries["BLOCTEL_LIST_STALE"].until == date(2026, 8, 10)
    assert "D223-9" in entries["OUTSIDE_HOURS"].legal_basis
    assert "L3133-1" in entries["PUBLIC_HOLIDAY"].legal_basis
    assert "2022-1583" in entries["CALLER_ID_MOBILE_AUTOMATED"].legal_basis


def test_sectors_are_data():
    assert set(data.SECTORS) == {"general", "energy_renovation", "home_adaptation",
                                 "cpf_training", "premium_rate_callback", "press_subscription"}
    assert data.sector_version("energy_renovation", date(2020, 7, 25)) is None
    assert data.sector_version("unknown", date(2026, 1, 1)) is None
