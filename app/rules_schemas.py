"""The typed answer of ``GET /v1/rules``: reason codes, rules with their dated versions, rule
set versions, and (given ``from``/``to``) the rule set versions a period spans."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CodeEntry(BaseModel):
    code: str
    rule: str = Field(description="The rule id (see `rules`).")
    severity: Literal["block", "notice"]
    label: str = Field(description="French label (the audit report's).")
    legal_basis: str
    description: str
    severity_note: str = Field(description="When the severity differs (empty: never).")
    since: date | None = Field(description="First Paris day the code can be returned "
                                           "(null: always).")
    until: date | None = Field(description="Last Paris day (null: still in force).")


class Change(BaseModel):
    rule: str
    legal_basis: str


class RulesetVersion(BaseModel):
    id: str = Field(description='"fr-YYYY-MM-DD": the latest effective date of its rules.')
    effective: date = Field(description="First Paris day in force.")
    until: date | None = Field(description="Last Paris day in force (null: still in force).")
    changes: list[Change] = Field(description="The rule versions that start that day.")


class RuleVersion(BaseModel):
    since: date | None = Field(description="First Paris day in force (null: always, no "
                                           "effective date of its own).")
    until: date | None = Field(description="Last Paris day in force (null: still in force).")
    legal_basis: str
    note: str


class RuleEntry(BaseModel):
    id: str
    label: str = Field(description="French label (the audit report's).")
    versions: list[RuleVersion]


class SpannedVersion(BaseModel):
    id: str
    effective: date | None = Field(description='First Paris day in force (null: "fr-base", '
                                               "before any dated rule).")
    until: date | None = Field(description="Last Paris day in force (null: still in force).")
    changes: list[Change]


class Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    versions: list[SpannedVersion] = Field(
        description="The rule set versions in force on at least one day of the period, oldest "
                    "first.")


class Rules(BaseModel):
    codes: list[CodeEntry]
    versions: list[RulesetVersion] = Field(description="Every rule set version, oldest first.")
    rules: list[RuleEntry] = Field(description="Every rule with its dated versions.")
    period: Period | None = Field(
        description="Given `from` and/or `to`: the rule set versions the period spans "
                    "(null otherwise).")
