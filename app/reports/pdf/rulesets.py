"""The report's last section: the rule-set versions the period spans, each with its dates, the
attempts it judged, the rules that changed that day and the legal basis of every rule in force
(from ``rules_fr.data``; labels from its catalogue)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer

from app.reports.pdf.labels import (
    fr_date,
    fr_int,
    fr_when,
    in_force_fr,
    is_day,
    lookup,
    version_day,
)
from app.reports.pdf.styles import BODY_W, P, T, grid
from rules_fr.data import rule_label


def versions(summary: Mapping[str, Any], first: date, last: date) -> list[dict[str, Any]]:
    """Every rule set version the report's period spans (from the rules: effective date,
    last day, the rules that changed that day), with what the summary saw of each
    (attempts, first and last seen); a version the attempts saw outside the span too."""
    from rules_fr.data import ruleset_versions_between

    given = summary.get("ruleset_versions")
    seen = {str(v["version"]): v for v in given if isinstance(v, Mapping)
            and v.get("version")} if isinstance(given, list) else {}
    out: list[dict[str, Any]] = []
    for span in ruleset_versions_between(first, last):
        entry: dict[str, Any] = {
            "version": span.id,
            "effective": span.effective.isoformat() if span.effective else None,
            "until": span.until.isoformat() if span.until else None,
            "changes": list(span.changes),
        }
        if isinstance(given, list):
            entry["attempts"] = 0  # the summary counts per version: none seen here
        entry.update({k: v for k, v in seen.pop(span.id, {}).items() if v is not None
                      and k not in ("effective", "changes")})
        out.append(entry)
    out += [dict(v) for v in seen.values()]
    return sorted(out, key=lambda e: str(e.get("effective") or version_day(
        str(e["version"])) or ""))


def section(entries: list[dict[str, Any]], first: date, last: date) -> list[Flowable]:
    """The section: an overview of ``entries`` (``versions``' answer), then each version with
    the changes of its day and the legal basis of every rule in force."""
    from rules_fr.data import ruleset_for

    story: list[Flowable] = [CondPageBreak(60 * mm),
                             P("7. Référentiel juridique appliqué", "h1"),
                             P(f"Versions du jeu de règles en vigueur du {fr_date(first)} au "
                               f"{fr_date(last)} (chaque tentative enregistre la version "
                               "qui l'a jugée), avec leurs dates d'effet, les changements "
                               "entrés en vigueur à chacune et le fondement juridique de "
                               "chaque règle. Le détail de chaque règle et le journal des "
                               "changements figurent dans docs/law.md.", "small")]
    overview: list[list[Any]] = [[T("Version", "cell_b"), T("En vigueur", "cell_b"),
                                  "Tentatives", T("Changements à cette date", "cell_b")]]
    for entry in entries:
        overview.append([
            T(str(entry["version"]), width=30 * mm),
            T(in_force_fr(entry).removeprefix("en vigueur ")),
            fr_int(entry["attempts"]) if entry.get("attempts") is not None else "—",
            T(", ".join(rule_label(r) for r in _changed_rules(entry)) or "—", "basis")])
    if len(overview) > 1:
        story += [Spacer(1, 2 * mm), grid(
            overview, [30 * mm, 52 * mm, 20 * mm, BODY_W - 102 * mm], numeric_from=2,
            long=True)]
    for entry in entries:
        version = str(entry["version"])
        effective = version_day(version)
        if is_day(entry.get("effective")):
            effective = date.fromisoformat(entry["effective"])
        facts = [in_force_fr(entry)]
        if entry.get("attempts") is not None:
            facts.append(f"{fr_int(entry['attempts'])} tentatives")
        if entry.get("first_seen") and entry.get("last_seen"):
            facts.append(f"du {fr_when(entry['first_seen'])} au "
                         f"{fr_when(entry['last_seen'])}")
        head = P(f"<b>{escape(version)}</b> — " + escape(", ".join(f for f in facts if f)),
                 "body")
        block: list[Flowable] = [Spacer(1, 3 * mm), head]
        changes = entry.get("changes")
        if isinstance(changes, list) and changes and effective is not None:
            rows_c: list[list[Any]] = [[T(f"Changements entrés en vigueur le "
                                          f"{fr_date(effective)}", "cell_b"),
                                        T("Fondement juridique", "cell_b")]]
            for change in changes:
                rule, basis = (change if isinstance(change, (list, tuple)) else
                               (lookup(change, "rule", ""), lookup(change, "legal_basis", "")))
                rows_c.append([T(rule_label(str(rule))), T(basis, "basis")])
            block += [Spacer(1, 1.5 * mm),
                      grid(rows_c, [74 * mm, BODY_W - 74 * mm], numeric_from=2, long=True)]
        rows: list[list[Any]] = [[T("Règle en vigueur", "cell_b"), "Depuis",
                                  T("Fondement juridique", "cell_b")]]
        in_force = ruleset_for(effective or first).rules
        bases = entry.get("legal_bases")
        if bases:
            items = bases.items() if isinstance(bases, Mapping) else (
                (lookup(b, "rule", ""), lookup(b, "legal_basis", b)) if isinstance(b, Mapping)
                else ("", b) for b in bases)
        else:
            items = ((rule, v.legal_basis) for rule, v in in_force.items() if v is not None)
        for rule, basis in items:
            v = in_force.get(str(rule))
            since = ("" if v is None else fr_date(v.since) if v.since.year > 1
                     else "toujours")
            rows.append([T(rule_label(str(rule))), T(since), T(basis, "basis")])
        if len(rows) == 1:
            rows.append([T("—"), "", T("fondements non disponibles", "basis")])
        story += [*block, Spacer(1, 1.5 * mm),
                  grid(rows, [48 * mm, 26 * mm, BODY_W - 74 * mm], numeric_from=3,
                        long=True)]
    return story


def _changed_rules(entry: Mapping[str, Any]) -> list[str]:
    changes = entry.get("changes")
    if isinstance(changes, list):
        return [str(c[0] if isinstance(c, (list, tuple)) else lookup(c, "rule", ""))
                for c in changes]
    changed = entry.get("changed_rules")
    return [str(r) for r in changed] if isinstance(changed, list) else []
