"""The audit report as a PDF (``report``); this package is split by job in the next commit."""

from app.reports.pdf.report import (
    Period,
    UnknownTenant,
    _eur_tick,
    _nice_axis,
    audit_report,
    file_name,
    fr_date,
    fr_eur,
    fr_int,
    fr_pct,
    render_audit_pdf,
)

__all__ = ["Period", "UnknownTenant", "_eur_tick", "_nice_axis", "audit_report", "file_name",
           "fr_date", "fr_eur", "fr_int", "fr_pct", "render_audit_pdf"]
