"""CSV cells a client wrote, made safe for spreadsheets (every CSV the gateway writes).

``neutralise``: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR gets a leading
``'`` so that a spreadsheet shows it as text instead of evaluating it (CSV injection) — except
``+`` or ``-`` followed by digits only (``+33612345678``, ``-5``), which a spreadsheet turns
into a number at worst, never into a formula. ``csv_cell``: neutralised, then quoted as RFC
4180 says. A foundation module: the reports' export, the scrub's output and the campaigns'
caller-ID listing use it.
"""

from __future__ import annotations

_DANGER = frozenset("=+-@\t\r")


def neutralise(value: str) -> str:
    """``'`` before a cell a spreadsheet would read as a formula (see the module docstring)."""
    first = value[:1]
    if first not in _DANGER:
        return value
    if first in "+-" and value[1:].replace(" ", "").isdigit():
        return value
    return "'" + value


def csv_cell(value: str, delimiter: str = ",") -> str:
    """A client-written text as one CSV cell: neutralised, then quoted as RFC 4180 says (when it
    holds the delimiter, a quote, CR or LF) — what ``csv.writer`` with QUOTE_MINIMAL writes."""
    value = neutralise(value)
    if delimiter in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value
