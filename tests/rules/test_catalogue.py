"""One catalogue of labels: every reason code the rules can return, every penalty code the
ledger records, every rule and every sector declares its French label once, in
``rules_fr.data``; the audit report and ``GET /v1/rules`` read them from there."""

from __future__ import annotations

import re
from pathlib import Path

from rules_fr import catalog, data

ROOT = Path(data.__file__).resolve().parents[1]
CODE = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})"')


def emitted_codes() -> set[str]:
    """Every code literal in the rules (``rules_fr`` and its ``rules`` package; not the
    catalogue's own file, nor the packages' lists of exported names)."""
    return {code for path in (ROOT / "rules_fr").rglob("*.py")
            if path.name not in ("data.py", "__init__.py")
            for code in CODE.findall(path.read_text(encoding="utf-8"))}


def penalty_codes() -> set[str]:
    """Every ``code="…"`` of a penalty line the ledger records (``app.calls``)."""
    return {code for path in (ROOT / "app" / "calls").glob("*.py")
            for code in re.findall(r'code="([A-Z_]+)"', path.read_text(encoding="utf-8"))}


def test_every_code_the_rules_can_return_has_a_label() -> None:
    codes = emitted_codes()
    assert {"RATE_THROTTLED", "TENANT_SUSPENDED", "CONSENT_REQUIRED"} <= codes
    missing = sorted(code for code in codes if code not in data.CODES)
    assert missing == [], "codes returned by the rules but absent from rules_fr.data._CODES"
    unlabelled = sorted(c for c in codes if not data.CODES[c].label.strip()
                        or data.code_label(c) == c)
    assert unlabelled == []


def test_every_catalogue_entry_carries_its_label() -> None:
    for entry in catalog():
        assert entry.label == data.CODES[entry.code].label != entry.code, entry.code


def test_every_penalty_code_has_a_label() -> None:
    codes = penalty_codes()
    assert {"ILLEGITIMATE_ATTEMPT", "CALLEE_UNASSIGNED"} <= codes
    assert sorted(c for c in codes if data.code_label(c) == c) == []


def test_every_rule_has_a_label() -> None:
    unlabelled = sorted(rule for rule in data.RULES
                        if not data.RULE_LABELS.get(rule, "").strip()
                        or data.rule_label(rule) == rule)
    assert unlabelled == []
    assert set(data.RULE_LABELS) == set(data.RULES)
    # the rule of every reason code is labelled (``sector``: every sector's rule)
    assert sorted(spec.rule for spec in data.CODES.values()
                  if data.rule_label(spec.rule) == spec.rule) == []
    assert data.rule_label("throttle") == "Seuils d'abus (limitation)"


def test_every_sector_has_a_label_and_names_its_rule() -> None:
    assert set(data.SECTOR_LABELS) == set(data.SECTORS)
    assert all(label.strip() for label in data.SECTOR_LABELS.values())
    for name, versions in data.SECTORS.items():
        if versions:
            assert data.rule_label(f"sector:{name}") == "Secteur : " + data.SECTOR_LABELS[name]


def test_labels_are_declared_once() -> None:
    """No other module restates a label: the audit report, the API and the console read
    ``rules_fr.data``."""
    labels = ({spec.label for spec in data.CODES.values()} | set(data.RULE_LABELS.values())
              | set(data.SECTOR_LABELS.values()) | set(data.PENALTY_LABELS.values()))
    labels = {label for label in labels if len(label) > 20}  # distinctive enough to grep for
    restated = []
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "rules_fr").glob("*.py")]:
        if path.name == "data.py" and path.parent.name == "rules_fr":
            continue
        text = path.read_text(encoding="utf-8")
        restated += [f"{path.relative_to(ROOT)}: {label}" for label in labels
                     if f'"{label}"' in text]
    assert restated == []


def test_unknown_codes_and_rules_read_as_themselves() -> None:
    assert data.code_label("NOT_A_CODE") == "NOT_A_CODE"
    assert data.rule_label("not_a_rule") == "not_a_rule"
    assert data.rule_label("sector:new_sector") == "Secteur : new sector"
