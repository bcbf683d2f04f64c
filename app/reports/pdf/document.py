"""The audit report as a PDF document: the sections of ``report`` on A4 pages with a numbered
header and footer, and ``audit_report``, which reads its data from ``app.reports.service`` (the
summary, the tenant's name, the ledger seal) — this package opens no session of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from io import BytesIO
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

from app.clock import now
from app.reports import service
from app.reports.pdf.labels import Period, file_name, fr_datetime, instant_or_none
from app.reports.pdf.report import AuditReport
from app.reports.pdf.styles import BODY_W, MARGIN, PAGE_H, canvas_class


def render_audit_pdf(
    summary: Mapping[str, Any], *, tenant_name: str, tenant_id: str, generated_at: datetime,
    start: datetime | None = None, end: datetime | None = None,
    seal: Mapping[str, Any] | None = None,
) -> bytes:
    """The report as PDF bytes. ``summary`` is ``app.reports.service.summary``'s answer (keys
    beyond the original ones are optional); ``start``/``end`` the period's bounds (default: the
    summary's ``from``/``to``); ``seal`` the ledger head (``chain_hash``, ``sealed_until``,
    ``seals``, ``verified``, ``first_broken``) or None when there is none."""
    period = Period(start or instant_or_none(summary.get("from")),
                    end or instant_or_none(summary.get("to")))
    report = AuditReport(summary, tenant_name, tenant_id, period, generated_at, seal)
    buffer = BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=20 * mm, title=f"Rapport d'audit — {tenant_name} — {period.label()}",
        author="Passerelle de conformité du démarchage téléphonique",
        subject="Audit du registre des tentatives d'appel", lang="fr-FR",
    )
    frame = Frame(MARGIN, 20 * mm, BODY_W, PAGE_H - MARGIN - 20 * mm, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    left = f"{tenant_name} — période : {period.label()}"
    doc.build(report.story(),
              canvasmaker=canvas_class(left, f"généré le {fr_datetime(generated_at)}"))
    return buffer.getvalue()


def audit_report(tenant_id: str, start: datetime | None, end: datetime | None,
                 *, on_phase: Callable[[str], None] | None = None) -> tuple[bytes, str]:
    """(PDF bytes, file name) for one tenant and period, from the configured database."""
    step = on_phase or (lambda _: None)
    name = service.tenant_name(tenant_id)
    generated_at = now()
    step("reading the ledger")
    data = service.summary(tenant_id, start, end)
    step("reading the ledger seal")
    seal = service.ledger_seal(tenant_id)
    step("drawing the PDF")
    pdf = render_audit_pdf(data, tenant_name=name, tenant_id=tenant_id,
                           generated_at=generated_at, start=start, end=end, seal=seal)
    return pdf, file_name(name, Period(start, end))

