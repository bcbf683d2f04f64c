"""What the commands print: tables and JSON on stdout (``out``), progress and messages on
stderr (``console``), and the formats they share (JSON, counts, Paris times, dates)."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import date, datetime
from typing import Any

import typer
from rich.console import Console

from app.clock import PARIS

console = Console(stderr=True)  # progress bars and messages
out = Console()  # tables: stdout

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def dumps(value: Any) -> str:
    def default(o: Any) -> Any:
        return o.item() if hasattr(o, "item") else str(o)  # numpy scalars, dates…

    return json.dumps(value, default=default)


def figure(value: Any) -> str:
    """A count with thousands separators; ``—`` for none."""
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def paris(instant: str | None) -> str:
    """An ISO instant as Paris wall time (``YYYY-MM-DD HH:MM:SS``)."""
    if not instant:
        return "—"
    try:
        return datetime.fromisoformat(instant).astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError):  # a stored extreme (9999-12-31T23:59:59Z): as given
        return instant


def iso_date(value: str | date) -> date:
    """A Typer parser for a ``YYYY-MM-DD`` option, within the clock's range."""
    if isinstance(value, date):
        return value
    text = value.strip()
    from app.clock import OutOfRange, check_day

    if _ISO_DATE.fullmatch(text):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(text)
            try:
                return check_day(day)
            except OutOfRange as exc:
                raise typer.BadParameter(str(exc)) from None
    raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}")
