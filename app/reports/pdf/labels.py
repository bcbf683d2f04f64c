"""French wording of the audit report that is presentation, not catalogue data: numbers,
amounts, dates and instants in French, the report's period, the file name, and the names of the
BLOCTEL facts the summary returns. The labels of reason codes, rules and sectors are declared
once in ``rules_fr.data`` (``code_label``, ``rule_label``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.clock import PARIS

NBSP = "\u00a0"  # Helvetica (WinAnsi) has no narrow no-break space
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")
MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
                "oct.", "nov.", "déc.")

#: French names of the facts of the summary's ``bloctel`` (its keys, not catalogue data).
_BLOCTEL_FR = {
    "version": "version",
    "as_of": "liste du",
    "age_days": "âge (jours)",
    "stale": "périmée",
    "missing": "absente à un moment de la période",
    "total_numbers": "numéros",
    "activated_at": "activée le",
    "stale_after_days": "périmée après (jours)",
    "max_age_days": "âge maximal atteint (jours)",
    "attempts": "tentatives",
    "stale_attempts": "tentatives sur liste périmée",
    "missing_attempts": "tentatives sans liste",
    "oldest_as_of": "liste la plus ancienne",
    "newest_as_of": "liste la plus récente",
    "share": "part",
    "fresh_share": "part à jour",
}


def fr_int(n: Any) -> str:
    try:
        return f"{int(n):,}".replace(",", NBSP)
    except (TypeError, ValueError):
        return "—"


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def fr_eur(value: Any) -> str:
    """``"1500"`` → ``1 500,00 €`` (more decimals only when the amount has them)."""
    amount = to_decimal(value)
    if amount is None:
        return "—"
    cents = amount.quantize(Decimal("0.01"))
    text = f"{cents if cents == amount else amount.normalize():f}"
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = text.partition(".")
    return f"{sign}{int(whole):,}".replace(",", NBSP) + f",{frac or '00'}{NBSP}€"


def fr_pct(share: Any) -> str:
    """0.125 → ``12,5 %``."""
    value = to_decimal(share)
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}".replace(".", ",") + f"{NBSP}%"


def fr_date(day: date) -> str:
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {MONTHS[day.month - 1]} {day.year}"


def fr_datetime(instant: datetime) -> str:
    local = instant.astimezone(PARIS)
    return f"{fr_date(local.date())} à {local:%H:%M}"


def instant_or_none(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fr_when(value: Any) -> str:
    """An ISO date or instant from the summary, in Paris; anything else as it is."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return fr_date(date.fromisoformat(value))
    instant = instant_or_none(value)
    return fr_datetime(instant) if instant else str(value)


def fr_value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "oui" if v else "non"
    if isinstance(v, int):
        return fr_int(v)
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(v, Mapping):
        return " ; ".join(f"{fact_label(k)} : {fr_value(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(fr_value(x) for x in v)
    if isinstance(v, str) and (re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) or instant_or_none(v)):
        return fr_when(v)
    return str(v)


def fact_label(key: Any) -> str:
    return _BLOCTEL_FR.get(str(key), str(key).replace("_", " "))

def lookup(mapping: Any, key: str, default: Any = None) -> Any:
    """``mapping[key]`` when the summary gave a mapping there, else ``default``."""
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


@dataclass(frozen=True)
class Period:
    """``start`` inclusive, ``end`` exclusive (UTC instants, as ``parse_bound`` returns them)."""

    start: datetime | None
    end: datetime | None

    @staticmethod
    def _midnight(instant: datetime) -> bool:
        return instant.astimezone(PARIS).time() == time.min

    def first_day(self) -> date | None:
        return self.start.astimezone(PARIS).date() if self.start else None

    def last_day(self) -> date | None:
        if self.end is None:
            return None
        local = self.end.astimezone(PARIS)
        return local.date() - timedelta(days=1) if self._midnight(self.end) else local.date()

    def _from(self) -> str:
        assert self.start is not None
        return (fr_date(self.first_day()) if self._midnight(self.start)  # type: ignore[arg-type]
                else fr_datetime(self.start))

    def _to(self) -> str:
        assert self.end is not None
        return (fr_date(self.last_day()) if self._midnight(self.end)  # type: ignore[arg-type]
                else f"{fr_datetime(self.end)} (exclu)")

    def label(self) -> str:
        if self.start and self.end:
            if (self._midnight(self.start) and self._midnight(self.end)
                    and self.first_day() == self.last_day()):
                return f"le {self._from()}"
            return f"du {self._from()} au {self._to()}"
        if self.start:
            return f"depuis le {self._from()}"
        if self.end:
            return f"jusqu'au {self._to()}"
        return "depuis l'origine du registre"

    def slug(self) -> str:
        first, last = self.first_day(), self.last_day()
        return f"{first.isoformat() if first else 'debut'}_{last.isoformat() if last else 'fin'}"


def file_name(tenant_name: str, period: Period) -> str:
    """``audit-acme-2026-11-01_2026-11-30.pdf`` (ASCII, safe in a Content-Disposition)."""
    ascii_name = unicodedata.normalize("NFKD", tenant_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40] or "client"
    return f"audit-{slug}-{period.slug()}.pdf"


def fr_duration(seconds: float) -> str:
    """300 → ``5 min``, 90 → ``90 s``, 7200 → ``2 h``."""
    s = round(seconds)
    if s and s % 3600 == 0:
        return f"{s // 3600} h"
    if s and s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def caller_fr(number: str) -> str:
    return "(aucun)" if number in ("(none)", "") else number


def is_day(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def version_day(version: str) -> date | None:
    match = re.fullmatch(r"fr-(\d{4}-\d{2}-\d{2})", version)
    try:
        return date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        return None


def in_force_fr(entry: Mapping[str, Any]) -> str:
    """``en vigueur du 2 juillet 2025 au 10 août 2026`` / ``… depuis le 11 août 2026``."""
    effective = entry.get("effective")
    since = date.fromisoformat(effective) if is_day(effective) else version_day(
        str(entry.get("version", "")))
    until = date.fromisoformat(entry["until"]) if is_day(entry.get("until")) else None
    if since and until:
        return f"en vigueur du {fr_date(since)} au {fr_date(until)}"
    if since:
        return f"en vigueur depuis le {fr_date(since)}"
    if until:
        return f"en vigueur jusqu'au {fr_date(until)}"
    return ""


def week_label(key: str) -> str:
    match = re.fullmatch(r"(\d{4})-W(\d{2})", key)
    return f"S{int(match.group(2))}" if match else key
