"""The rule catalogue: every reason code the gateway can return, with its legal basis."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from rules_fr.data import catalog, ruleset_versions

router = APIRouter(prefix="/v1/rules", tags=["rules"])


def _plain(obj: Any) -> Any:
    data = dataclasses.asdict(obj)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


@router.get("")
def rules() -> dict[str, Any]:
    """Reason codes (severity, legal basis, dates) and the rule set versions by effective date."""
    return {
        "codes": [_plain(e) for e in catalog()],
        "versions": [
            {"id": v.id, "effective": v.effective.isoformat(),
             "changes": [{"rule": r, "legal_basis": b} for r, b in v.changes]}
            for v in ruleset_versions()
        ],
    }
