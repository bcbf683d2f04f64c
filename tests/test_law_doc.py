"""``docs/law.md`` documents every rule and every reason code, and dates every rule-set version:
a code, a rule or a decree added later without its documentation fails the suite."""

from __future__ import annotations

import re
from pathlib import Path

from rules_fr import catalog
from rules_fr.data import RULES, ruleset_versions

LAW = (Path(__file__).resolve().parents[1] / "docs" / "law.md").read_text(encoding="utf-8")
HEADINGS = re.findall(r"^#{2,4} `([^`]+)`", LAW, flags=re.MULTILINE)
CHANGE_LOG = LAW[LAW.index("## Change log"):]


def test_every_rule_has_its_section() -> None:
    missing = [rule for rule in RULES if rule not in HEADINGS]
    assert missing == []
    assert len(HEADINGS) == len(set(HEADINGS))  # one section per rule


def test_every_reason_code_is_documented_under_its_rule() -> None:
    missing = []
    for entry in catalog():
        rule = entry.rule if entry.rule in HEADINGS else None
        assert rule is not None, f"{entry.code}: rule {entry.rule!r} has no section"
        start = LAW.index(f"`{rule}` —")
        end = LAW.find("\n## ", start)
        nxt = LAW.find("\n### `", start + 1)
        section = LAW[start:min(i for i in (end, nxt, len(LAW)) if i > 0)]
        if f"`{entry.code}`" not in section:
            missing.append(entry.code)
    assert missing == []


def test_every_ruleset_version_is_in_the_change_log() -> None:
    missing = [v.id for v in ruleset_versions()
               if f"**{v.effective.isoformat()}** (`{v.id}`)" not in CHANGE_LOG]
    assert missing == []
    assert "**2026-12**" in CHANGE_LOG


def test_every_rule_section_states_its_text_and_dates() -> None:
    sections = re.split(r"^#{3,4} ", LAW, flags=re.MULTILINE)[1:]
    for section in sections:
        name = section.split("\n", 1)[0]
        if not name.startswith("`sector` "):
            assert "**Text**" in section and "**In force**" in section, name
