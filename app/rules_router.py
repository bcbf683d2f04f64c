"""The rule catalogue: every reason code the gateway can return, with its French label and legal
basis; every rule with its label and dated versions; the rule set versions, and which of them a
period spans. Compliance officers read the same in ``docs/law.md``."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from fastapi import APIRouter, Query

from app.clock import FIRST_DAY, LAST_DAY, RANGE, Day
from app.errors import Unprocessable
from app.rules_schemas import (
    Change,
    CodeEntry,
    Period,
    RuleEntry,
    Rules,
    RulesetVersion,
    RuleVersion,
    SpannedVersion,
)
from rules_fr.data import (
    ALWAYS,
    RULES,
    catalog,
    rule_label,
    rule_versions,
    ruleset_versions,
    ruleset_versions_between,
)

router = APIRouter(prefix="/v1/rules", tags=["rules"])

FROM = Query(default=None, alias="from",
             description=f"First Paris day of a period (YYYY-MM-DD, {RANGE}); without it, the "
                         "period starts at the first accepted day.")
TO = Query(default=None,
           description=f"Last Paris day of the period, inclusive (YYYY-MM-DD, {RANGE}); "
                       "without it, the period runs to the last accepted day.")


def _changes(changes: tuple[tuple[str, str], ...]) -> list[Change]:
    return [Change(rule=r, legal_basis=b) for r, b in changes]


@lru_cache(maxsize=1)
def _static() -> Rules:
    """What does not depend on the query (the rules are data: built once per process)."""
    return Rules(
        codes=[CodeEntry.model_validate(e, from_attributes=True) for e in catalog()],
        versions=[
            RulesetVersion(id=v.id, effective=v.effective, until=v.until,
                           changes=_changes(v.changes))
            for v in ruleset_versions()
        ],
        rules=[
            RuleEntry(id=rule, label=rule_label(rule), versions=[
                RuleVersion(since=None if v.since == ALWAYS else v.since, until=until,
                            legal_basis=v.legal_basis, note=v.note)
                for v, until in rule_versions(rule)
            ])
            for rule in RULES
        ],
        period=None,
    )


def period(first: date | None, last: date | None) -> Period | None:
    """The rule set versions ``first`` … ``last`` spans (None when neither is given); a 422
    naming both when the period is reversed."""
    if first is None and last is None:
        return None
    first, last = first or FIRST_DAY, last or LAST_DAY
    if last < first:
        raise Unprocessable(f"from, to: a reversed period: {last} is before {first}")
    spans = ruleset_versions_between(first, last)
    return Period(from_=first, to=last, versions=[
        SpannedVersion(id=s.id, effective=s.effective, until=s.until,
                       changes=_changes(s.changes))
        for s in spans
    ])


@router.get("", response_model=Rules)
def rules(from_: Day | None = FROM, to: Day | None = TO) -> Rules:
    """Reason codes (severity, legal basis, dates), every rule with its dated versions, the
    rule set versions by effective date, and, given `from`/`to`, the versions a period spans."""
    return _static().model_copy(update={"period": period(from_, to)})
