"""Money is stored as integer micro-euros (exact sums) and shown as decimal strings in euros."""

from __future__ import annotations

from decimal import Decimal

MICROS = Decimal(1_000_000)


def to_micros(eur: Decimal) -> int:
    return int((eur * MICROS).to_integral_value())


def format_eur(micros: int) -> str:
    """``20000`` → ``"0.02"``; keeps more decimals only when a tariff needs them."""
    value = Decimal(micros) / MICROS
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else str(value.normalize())
