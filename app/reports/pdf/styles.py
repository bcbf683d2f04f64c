"""The report's page: geometry, colours, paragraph styles, the small building blocks every
section uses (paragraphs, escaped cells, shaded grids, key/value tables, empty notices), and the
canvas that writes each page's header and footer."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    LongTable,
    Paragraph,
    Table,
    TableStyle,
)

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
BODY_W = PAGE_W - 2 * MARGIN

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
RULE = colors.HexColor("#cbd2d9")
HEAD_BG = colors.HexColor("#e4e7eb")
ZEBRA = colors.HexColor("#f5f7fa")
ALLOWED = colors.HexColor("#2f855a")
DENIED = colors.HexColor("#c53030")
PENALTY = colors.HexColor("#b7791f")

BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=12, textColor=INK)
STYLES = {
    "body": BASE,
    "small": ParagraphStyle("small", parent=BASE, fontSize=7.5, leading=9.5, textColor=MUTED),
    "cell": ParagraphStyle("cell", parent=BASE, fontSize=8, leading=10),
    "cell_any": ParagraphStyle("cell_any", parent=BASE, fontSize=8, leading=10,
                               wordWrap="CJK"),  # breaks anywhere: ids without spaces
    "cell_in": ParagraphStyle("cell_in", parent=BASE, fontSize=8, leading=10, leftIndent=12),
    "cell_b": ParagraphStyle("cell_b", parent=BASE, fontName="Helvetica-Bold", fontSize=8,
                             leading=10, wordWrap="CJK"),
    "basis": ParagraphStyle("basis", parent=BASE, fontSize=7.5, leading=9.5),
    "title": ParagraphStyle("title", parent=BASE, fontName="Helvetica-Bold", fontSize=22,
                            leading=28, spaceAfter=4),
    "subtitle": ParagraphStyle("subtitle", parent=BASE, fontSize=11, leading=15,
                               textColor=MUTED, spaceAfter=14),
    "h1": ParagraphStyle("h1", parent=BASE, fontName="Helvetica-Bold", fontSize=13,
                         leading=17, spaceBefore=10, spaceAfter=6),
    "h2": ParagraphStyle("h2", parent=BASE, fontName="Helvetica-Bold", fontSize=10,
                         leading=13, spaceBefore=8, spaceAfter=4),
    "empty": ParagraphStyle("empty", parent=BASE, fontSize=10, leading=14, textColor=MUTED,
                            alignment=TA_CENTER),
    "num": ParagraphStyle("num", parent=BASE, fontSize=8, leading=10, alignment=TA_RIGHT),
}


def P(text: str, style: str = "body") -> Paragraph:  # noqa: N802 (reads like the markup)
    return Paragraph(text, STYLES[style])


def T(text: Any, style: str = "cell", width: float | None = None) -> Paragraph:  # noqa: N802
    """Untrusted text (names, ids) in a cell: escaped; with ``width``, a word too long for the
    column is broken anywhere rather than overflowing it."""
    text = str(text)
    if width is not None and style == "cell" and any(
            stringWidth(w, "Helvetica", 8) > width - 9 for w in text.split()):
        style = "cell_any"
    return Paragraph(escape(text), STYLES[style])


def grid(data: list[list[Any]], widths: list[float], *, numeric_from: int = 1,
          total_row: bool = False, long: bool = False) -> Table:
    """A table with a shaded header (repeated on every page it spans), right-aligned figures
    and zebra rows."""
    cls = LongTable if long else Table
    table = cls(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, MUTED),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, MUTED),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    last = len(data) - (1 if total_row else 0)
    style += [("BACKGROUND", (0, i), (-1, i), ZEBRA) for i in range(2, last, 2)]
    if total_row:
        style += [("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8),
                  ("LINEABOVE", (0, -1), (-1, -1), 0.8, MUTED)]
    table.setStyle(TableStyle(style))
    return table


def key_values(rows: list[tuple[str, Any]], widths: tuple[float, float]) -> Table:
    data = [[T(k, "cell_b"), v if isinstance(v, Flowable) else T(v)] for k, v in rows]
    table = Table(data, colWidths=list(widths), hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def empty(text: str = "Aucune tentative sur la période.") -> Table:
    """A framed notice where a chart or a table would be."""
    box = Table([[P(escape(text), "empty")]], colWidths=[BODY_W], hAlign="LEFT",
                spaceBefore=4, spaceAfter=8)
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, RULE),
                             ("TOPPADDING", (0, 0), (-1, -1), 10),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
    return box


def _fit(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def canvas_class(left: str, right_title: str) -> type[rl_canvas.Canvas]:
    """A canvas that knows the page count when it writes each footer ("page 2 / 5")."""

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            page = self._pageNumber
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, 13 * mm, PAGE_W - MARGIN, 13 * mm)
            self.setFont("Helvetica", 7.5)
            self.setFillColor(MUTED)
            number = f"page {page} / {total}"
            self.drawRightString(PAGE_W - MARGIN, 9 * mm, number)
            room = BODY_W - stringWidth(number, "Helvetica", 7.5) - 12
            self.drawString(MARGIN, 9 * mm, _fit(left, "Helvetica", 7.5, room))
            if page > 1:
                self.line(MARGIN, PAGE_H - 12 * mm, PAGE_W - MARGIN, PAGE_H - 12 * mm)
                self.drawString(MARGIN, PAGE_H - 10 * mm, "Rapport d'audit du démarchage "
                                "téléphonique")
                self.drawRightString(PAGE_W - MARGIN, PAGE_H - 10 * mm, right_title)
            self.restoreState()

    return NumberedCanvas
