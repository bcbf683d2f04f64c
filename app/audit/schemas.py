"""The typed answer of ``GET /v1/audit/verify`` (``app.audit.service.verify``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class BrokenSeal(_Open):
    seq: int
    kind: str = Field(description='"seal" or "purge".')
    sealed_at: str
    covers_from: str | None
    covers_to: str
    reason: str = Field(description='e.g. "1 row(s) sealed, 0 found", "seal 41 is missing".')


class Unsealed(_Open):
    attempts: int
    outcomes: int
    holds: int = Field(description="Consent evidence put under legal hold by an erasure.")


class Verification(_Open):
    ok: bool
    tenant_id: str | None
    seals: int
    head: str | None = Field(description="The chain head: print it, keep it.")
    sealed_until: str | None
    rows_checked: int
    unsealed: Unsealed = Field(description="Rows written since the last seal.")
    first_broken: BrokenSeal | None
    problems: int
    keyed: bool = Field(description="The chain is an HMAC under GATEWAY_LEDGER_KEY.")
