"""The audit report as a PDF a compliance officer signs (``GET /v1/reports/audit.pdf``,
``gateway report audit``).

It draws only aggregates: ``app.reports.service.summary`` streams the ledger once, and this
package lays out what it returns, in French (the readers are French compliance officers): a
cover page (tenant, period, generation time, the ledger seal, key figures, signature block),
then totals, charts (attempts per day stacked by decision, per hour, top deny reasons, penalties
per week), tables per campaign and per caller ID (split across pages with their header
repeated), and the rule-set versions in force with their legal bases. Every key of the summary
beyond the original ones (``by_caller_id``, ``short_calls``, ``bloctel``…) is optional: what is
absent is said to be unavailable, never guessed. Dates are Paris civil dates.
"""

from app.reports.pdf.document import audit_report, render_audit_pdf
from app.reports.pdf.labels import Period, file_name, fr_date, fr_eur, fr_int, fr_pct

__all__ = [
    "Period",
    "audit_report",
    "file_name",
    "fr_date",
    "fr_eur",
    "fr_int",
    "fr_pct",
    "render_audit_pdf",
]
