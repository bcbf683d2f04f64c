"""The operator's sanctions (rules-fr.md §7): the tariff of penalties and the monitors' floors.

They are the operator's, not the tenant's: platform-wide from the settings (``GATEWAY_TARIFF``,
``GATEWAY_MONITOR_CEILINGS``, ``GATEWAY_MONITOR_FLOORS``), per tenant from ``tenants.sanctions``
(``PUT /v1/tenants/{id}/sanctions``, operator only), which replaces the platform's values field
by field. A tenant's policy may only tighten them: a higher penalty, a lower threshold, a
stronger action. In force: the higher of the operator's amount and the tenant's own
(``amounts_in_force``); the monitors: ``app.tenancy.monitor_policy.effective``.

Stored JSON (``tenants.sanctions``)::

    {"tariff": {"denied_attempt_penalty_eur": "0.05"},
     "monitors": {"denied_share": {"action": "suspend", "threshold": 0.4}}}

A penalty is computed when it is incurred (the check for a denied attempt, the outcome for an
unassigned number) and stored with it: a change of tariff applies from then on, never to lines
already written.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from rules_fr.model import Policy

#: the tariff's amounts, in euros: fields of ``rules_fr.model.Policy``
TARIFF_FIELDS: tuple[str, ...] = ("denied_attempt_penalty_eur", "unassigned_penalty_eur")
#: the largest amount a tariff may hold (euros per attempt)
MAX_EUR = Decimal(1000)


def valid_amount(field: str, value: Any) -> Decimal:
    """A tariff amount: a decimal of whole cents from 0 to 1000 euros."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{field}: expected a decimal string in euros (\"0.02\")")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{field}: {value!r} is not a decimal amount") from exc
    if not amount.is_finite() or not 0 <= amount <= MAX_EUR:
        raise ValueError(f"{field}: {value!r} is not between 0 and {MAX_EUR} euros")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{field}: {value!r} has fractions of a cent")
    return amount


@lru_cache(maxsize=8)
def parse_tariff(raw: str | None) -> dict[str, Decimal]:
    """``GATEWAY_TARIFF``: the platform's amounts over rules-fr.md's defaults."""
    default = Policy()
    out = {f: getattr(default, f) for f in TARIFF_FIELDS}
    if not raw:
        return out
    try:
        given = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"GATEWAY_TARIFF is not JSON: {exc}") from exc
    if not isinstance(given, dict) or set(given) - set(TARIFF_FIELDS):
        raise ValueError(f"GATEWAY_TARIFF: a JSON object of {', '.join(TARIFF_FIELDS)}")
    for field, value in given.items():
        out[field] = valid_amount(f"GATEWAY_TARIFF.{field}", value)
    return out


def platform_tariff() -> dict[str, Decimal]:
    from app.config import get_settings

    return parse_tariff(get_settings().tariff)


def tariff(sanctions: dict[str, Any] | None) -> dict[str, Decimal]:
    """The operator's amounts for a tenant: its own (``tenants.sanctions``) over the platform's."""
    out = dict(platform_tariff())
    own = (sanctions or {}).get("tariff") or {}
    for field in TARIFF_FIELDS:
        if own.get(field) is not None:
            out[field] = Decimal(str(own[field]))
    return out


def amounts_in_force(own: dict[str, Any], sanctions: dict[str, Any] | None
                     ) -> dict[str, Decimal]:
    """Each penalty in force: the tenant's own amount (``own``: its policy JSON) where it set
    one higher than the operator's, else the operator's."""
    floor = tariff(sanctions)
    out = {}
    for field in TARIFF_FIELDS:
        mine = own.get(field)
        out[field] = max(Decimal(str(mine)), floor[field]) if mine is not None else floor[field]
    return out
