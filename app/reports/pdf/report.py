"""The audit report as a PDF a compliance officer signs (``GET /v1/reports/audit.pdf``,
``gateway report audit``).

It draws only aggregates: ``app.reports.service.summary`` streams the ledger once, and this
module lays out what it returns, in French (the readers are French compliance officers): a
cover page (tenant, period, generation time, the ledger seal, key figures, signature block),
then totals, charts (attempts per day stacked by decision, per hour, top deny reasons, penalties
per week), tables per campaign and per caller ID (split across pages with their header
repeated), and the rule-set versions in force with their legal bases. Every key of the summary
beyond the original ones (``by_caller_id``, ``short_calls``, ``bloctel``…) is optional: what is
absent is said to be unavailable, never guessed. Dates are Paris civil dates.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    LongTable,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from rules_fr.data import code_label, rule_label

log = logging.getLogger("gateway.reports")

PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"  # Helvetica (WinAnsi) has no narrow no-break space
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")
MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
                "oct.", "nov.", "déc.")

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


# --- French formatting ---------------------------------------------------------------------------


def fr_int(n: Any) -> str:
    try:
        return f"{int(n):,}".replace(",", NBSP)
    except (TypeError, ValueError):
        return "—"


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def fr_eur(value: Any) -> str:
    """``"1500"`` → ``1 500,00 €`` (more decimals only when the amount has them)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    cents = amount.quantize(Decimal("0.01"))
    text = f"{cents if cents == amount else amount.normalize():f}"
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = text.partition(".")
    return f"{sign}{int(whole):,}".replace(",", NBSP) + f",{frac or '00'}{NBSP}€"


def fr_pct(share: Any) -> str:
    """0.125 → ``12,5 %``."""
    value = _decimal(share)
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}".replace(".", ",") + f"{NBSP}%"


def fr_date(day: date) -> str:
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {MONTHS[day.month - 1]} {day.year}"


def fr_datetime(instant: datetime) -> str:
    local = instant.astimezone(PARIS)
    return f"{fr_date(local.date())} à {local:%H:%M}"


def _parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fr_when(value: Any) -> str:
    """An ISO date or instant from the summary, in Paris; anything else as it is."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return fr_date(date.fromisoformat(value))
    instant = _parse_instant(value)
    return fr_datetime(instant) if instant else str(value)


def _value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "oui" if v else "non"
    if isinstance(v, int):
        return fr_int(v)
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(v, Mapping):
        return " ; ".join(f"{_label(k)} : {_value(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, str) and (re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) or _parse_instant(v)):
        return _fr_when(v)
    return str(v)


def _label(key: Any) -> str:
    return _BLOCTEL_FR.get(str(key), str(key).replace("_", " "))


# --- the period ----------------------------------------------------------------------------------


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


# --- styles and small building blocks ------------------------------------------------------------

_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=12, textColor=INK)
STYLES = {
    "body": _BASE,
    "small": ParagraphStyle("small", parent=_BASE, fontSize=7.5, leading=9.5, textColor=MUTED),
    "cell": ParagraphStyle("cell", parent=_BASE, fontSize=8, leading=10),
    "cell_any": ParagraphStyle("cell_any", parent=_BASE, fontSize=8, leading=10,
                               wordWrap="CJK"),  # breaks anywhere: ids without spaces
    "cell_in": ParagraphStyle("cell_in", parent=_BASE, fontSize=8, leading=10, leftIndent=12),
    "cell_b": ParagraphStyle("cell_b", parent=_BASE, fontName="Helvetica-Bold", fontSize=8,
                             leading=10, wordWrap="CJK"),
    "basis": ParagraphStyle("basis", parent=_BASE, fontSize=7.5, leading=9.5),
    "title": ParagraphStyle("title", parent=_BASE, fontName="Helvetica-Bold", fontSize=22,
                            leading=28, spaceAfter=4),
    "subtitle": ParagraphStyle("subtitle", parent=_BASE, fontSize=11, leading=15,
                               textColor=MUTED, spaceAfter=14),
    "h1": ParagraphStyle("h1", parent=_BASE, fontName="Helvetica-Bold", fontSize=13,
                         leading=17, spaceBefore=10, spaceAfter=6),
    "h2": ParagraphStyle("h2", parent=_BASE, fontName="Helvetica-Bold", fontSize=10,
                         leading=13, spaceBefore=8, spaceAfter=4),
    "empty": ParagraphStyle("empty", parent=_BASE, fontSize=10, leading=14, textColor=MUTED,
                            alignment=TA_CENTER),
    "num": ParagraphStyle("num", parent=_BASE, fontSize=8, leading=10, alignment=TA_RIGHT),
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


def _grid(data: list[list[Any]], widths: list[float], *, numeric_from: int = 1,
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


def _key_values(rows: list[tuple[str, Any]], widths: tuple[float, float]) -> Table:
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


def _empty(text: str = "Aucune tentative sur la période.") -> Table:
    """A framed notice where a chart or a table would be."""
    box = Table([[P(escape(text), "empty")]], colWidths=[BODY_W], hAlign="LEFT",
                spaceBefore=4, spaceAfter=8)
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, RULE),
                             ("TOPPADDING", (0, 0), (-1, -1), 10),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
    return box


# --- charts --------------------------------------------------------------------------------------


def _nice_axis(maximum: float, ticks: int = 5, unit: float = 1.0) -> tuple[float, float]:
    """(valueMax, valueStep): a 1-2-2.5-5 step, a whole multiple of ``unit`` (1 for counts,
    0.01 for euros: a €0.02 week gets ticks 0,00 · 0,01 · 0,02 €, not 0 € · 1 €), and a top
    at least ``maximum``."""
    if maximum <= 0:
        return unit * ticks if unit < 1 else 1.0, unit if unit < 1 else 1.0
    raw = maximum / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    cents = round(1 / unit)  # steps are compared in units, as integers: no float drift
    step_units = next(
        (n for n in (round(m * magnitude * cents, 6) for m in (1, 2, 2.5, 5, 10))
         if n >= raw * cents - 1e-9 and float(n).is_integer() and n >= 1),
        max(1, math.ceil(raw * cents)))
    step = int(step_units) / cents
    top = step * math.ceil(round(maximum / step, 9))
    return float(round(top, 6)), float(step)


def _eur_tick(value: float, step: float) -> str:
    """An axis label in euros: cents when the step has cents (``0,02 €``), else whole euros
    (``1 500 €``)."""
    amount = round(value, 2)
    return fr_eur(f"{amount:.2f}") if step < 1 else fr_eur(f"{amount:.2f}").replace(",00", "")


def _legend(x: float, y: float, pairs: list[tuple[colors.Color, str]]) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.fontName, legend.fontSize = "Helvetica", 7.5
    legend.boxAnchor = "ne"
    legend.columnMaximum = 1
    legend.deltax = 62
    legend.autoXPadding = 12
    legend.dx = legend.dy = 7
    legend.colorNamePairs = pairs
    legend.strokeWidth = 0
    return legend


def _axis_title(d: Drawing, text: str, x: float, y: float, angle: float = 0) -> None:
    s = String(0, 0, text, fontName="Helvetica", fontSize=7.5, fillColor=MUTED,
               textAnchor="middle")
    if angle:
        from reportlab.graphics.shapes import Group

        g = Group(s)
        g.translate(x, y)
        g.rotate(angle)
        d.add(g)
    else:
        s.x, s.y = x, y
        d.add(s)


def _title(d: Drawing, text: str) -> None:
    d.add(String(0, d.height - 10, text, fontName="Helvetica-Bold", fontSize=9, fillColor=INK))


def _stacked_bars(title: str, labels: list[str], series: list[tuple[str, colors.Color,
                  list[float]]], *, y_title: str, x_title: str, money: bool = False,
                  height: float = 190) -> Drawing:
    d = Drawing(BODY_W, height)
    _title(d, title)
    chart = VerticalBarChart()
    chart.x, chart.y = 46, 34
    chart.width, chart.height = BODY_W - 58, height - 62
    chart.data = [values for _, _, values in series]
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.categoryAxis.labels.dy = -2
    chart.categoryAxis.tickDown = 2
    chart.categoryAxis.strokeColor = MUTED
    n = max(len(labels), 1)
    chart.barSpacing = 0
    chart.groupSpacing = 1 if n > 60 else 3 if n > 20 else 6
    totals = [sum(v) for v in zip(*chart.data, strict=True)] if chart.data else [0]
    top, step = _nice_axis(max(totals, default=0), unit=0.01 if money else 1.0)
    axis = _value_axis(chart.valueAxis, top, step)
    axis.labelTextFormat = (lambda v: _eur_tick(v, step)) if money else (
        lambda v: fr_int(v) if float(v).is_integer() else f"{v:.1f}".replace(".", ","))
    chart.bars.strokeColor = None
    for i, (_, color, _) in enumerate(series):
        chart.bars[i].fillColor = color
    d.add(chart)
    _axis_title(d, y_title, 9, chart.y + chart.height / 2, angle=90)
    _axis_title(d, x_title, chart.x + chart.width / 2, 6)
    if len(series) > 1 or series[0][0]:
        d.add(_legend(BODY_W, height - 3, [(c, name) for name, c, _ in series]))
    return d


def _value_axis(axis: Any, top: float, step: float) -> Any:
    """A value axis from 0 to ``top`` by ``step``, light grid, small labels (every chart)."""
    axis.valueMin, axis.valueMax, axis.valueStep = 0, top, step
    axis.labels.fontName, axis.labels.fontSize = "Helvetica", 7
    axis.strokeColor = MUTED
    axis.visibleGrid = True
    axis.gridStrokeColor = RULE
    axis.gridStrokeWidth = 0.3
    return axis


def _hbars(title: str, labels: list[str], values: list[float], *, x_title: str,
           color: colors.Color) -> Drawing:
    font = ("Helvetica", 7)
    left = min(max((stringWidth(s, *font) for s in labels), default=40) + 12, BODY_W * 0.45)
    row = 15
    height = 48 + row * len(labels)
    d = Drawing(BODY_W, height)
    _title(d, title)
    chart = HorizontalBarChart()
    chart.x, chart.y = left, 30
    chart.width, chart.height = BODY_W - left - 40, row * len(labels)
    chart.data = [list(reversed(values))]  # the first label on top
    chart.categoryAxis.categoryNames = list(reversed(labels))
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = font
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -4
    chart.categoryAxis.strokeColor = MUTED
    chart.categoryAxis.tickLeft = 0
    chart.barSpacing, chart.groupSpacing = 0, 4
    top, step = _nice_axis(max(values, default=0))
    axis = _value_axis(chart.valueAxis, top, step)
    axis.labelTextFormat = fr_int
    chart.bars.strokeColor = None
    chart.bars[0].fillColor = color
    chart.barLabelFormat = fr_int
    chart.barLabels.fontName, chart.barLabels.fontSize = "Helvetica", 7
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    d.add(chart)
    _axis_title(d, x_title, chart.x + chart.width / 2, 4)
    return d


def _day_labels(days: list[date]) -> list[str]:
    n = len(days)
    if n <= 16:
        return [f"{d:%d/%m}" for d in days]
    if n <= 62:  # Mondays
        return [f"{d:%d/%m}" if d.weekday() == 0 else "" for d in days]
    if n <= 200:  # first of each month
        return [f"{MONTHS_SHORT[d.month - 1]}" if d.day == 1 else "" for d in days]
    return [f"{MONTHS_SHORT[d.month - 1]} {d:%y}" if d.day == 1 and d.month % 2 else ""
            for d in days]


# --- the report ----------------------------------------------------------------------------------


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _counts(row: Any) -> tuple[int, int, int]:
    total, allowed, denied = (_get(row, k) for k in ("total", "allowed", "denied"))
    allowed = int(allowed or 0)
    denied = int(denied or 0)
    return int(total if total is not None else allowed + denied), allowed, denied


def _share(part: int, whole: int) -> str:
    return fr_pct(part / whole) if whole else "—"


@dataclass
class _Report:
    summary: Mapping[str, Any]
    tenant_name: str
    tenant_id: str
    period: Period
    generated_at: datetime
    seal: Mapping[str, Any] | None

    @property
    def total(self) -> int:
        return int(self.summary.get("total") or 0)

    # --- cover -----------------------------------------------------------------------------

    def cover(self) -> list[Flowable]:
        s = self.summary
        total, allowed, denied = _counts(s)
        story: list[Flowable] = [
            Spacer(1, 8 * mm),
            P("Rapport d'audit", "title"),
            P("Démarchage téléphonique : conformité des appels sortants "
              "(code de la consommation, plan de numérotation de l'ARCEP)", "subtitle"),
            _key_values([
                ("Client", T(self.tenant_name, "cell_b")),
                ("Identifiant du client", self.tenant_id),
                ("Période", self.period.label() + " (heure de Paris)"),
                ("Généré le", fr_datetime(self.generated_at) + " (heure de Paris)"),
                ("Référentiel", ", ".join(v["version"] for v in self.versions()) or "—"),
            ], (45 * mm, BODY_W - 45 * mm)),
            Spacer(1, 6 * mm),
            P("Sceau du registre des tentatives", "h2"),
            self.seal_block(),
            Spacer(1, 6 * mm),
            P("Chiffres clés", "h2"),
        ]
        if total == 0:
            story.append(_empty())
        figures = [
            ("Tentatives", fr_int(total)),
            ("Autorisées", f"{fr_int(allowed)} ({_share(allowed, total)})"),
            ("Refusées", f"{fr_int(denied)} ({_share(denied, total)})"),
            ("Pénalités", fr_eur(s.get("penalty_eur", "0"))),
        ]
        cells = [[T(k, "small") for k, _ in figures],
                 [Paragraph(escape(v), ParagraphStyle("fig", parent=_BASE, fontSize=13,
                                                      leading=16, fontName="Helvetica-Bold"))
                  for _, v in figures]]
        boxes = Table(cells, colWidths=[BODY_W / 4] * 4, hAlign="LEFT")
        boxes.setStyle(TableStyle([
            ("BOX", (0, 0), (-1, -1), 0.5, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.5, RULE),
            ("LINEBELOW", (0, 0), (-1, 0), 0, colors.white),
            ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ("LEFTPADDING", (0, 0), (-1, -1), 7),
        ]))
        story += [boxes, Spacer(1, 10 * mm), P("Visa", "h2"),
                  P("Je soussigné(e) atteste avoir pris connaissance du présent rapport.", "small"),
                  Spacer(1, 3 * mm), self.signature()]
        return story

    def seal_block(self) -> Flowable:
        seal = self.seal
        if not seal:
            return _key_values([
                ("Sceau du registre", "aucun pour l'instant : rien n'a encore été scellé"),
                ("Pourquoi", Paragraph(escape(_no_seal_yet()), STYLES["cell"])),
            ], (45 * mm, BODY_W - 45 * mm))
        rows: list[tuple[str, Any]] = []
        if seal.get("error"):
            rows.append(("Sceau du registre", f"non disponible ({seal['error']})"))
        chain = seal.get("chain_hash")
        rows.append(("Empreinte de tête de chaîne", Paragraph(
            escape(str(chain or "—")),
            ParagraphStyle("hash", parent=_BASE, fontName="Courier", fontSize=8, leading=10,
                           wordWrap="CJK"))))
        until = _parse_instant(seal.get("sealed_until"))
        rows.append(("Scellé jusqu'au", fr_datetime(until) + " (heure de Paris)" if until
                     else str(seal.get("sealed_until") or "—")))
        rows.append(("Nombre de sceaux", fr_int(seal.get("seals"))))
        verified = seal.get("verified")
        if verified is True:
            status = "<font color='#2f855a'><b>vérifié : chaîne intacte</b></font>"
        elif verified is False:
            broken = seal.get("first_broken")
            status = ("<font color='#c53030'><b>ÉCHEC de la vérification</b></font>"
                      + (f" : première rupture à {escape(str(broken))}" if broken else ""))
        else:
            status = "non vérifié"
        rows.append(("Vérification", Paragraph(status, STYLES["cell"])))
        return _key_values(rows, (45 * mm, BODY_W - 45 * mm))

    def signature(self) -> Table:
        head = [T(x, "cell_b") for x in ("Nom et fonction", "Date", "Signature")]
        table = Table([head, ["", "", ""]], colWidths=[BODY_W * 0.4, BODY_W * 0.2, BODY_W * 0.4],
                      rowHeights=[None, 26 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, MUTED),
                                   ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG)]))
        return table

    # --- body ------------------------------------------------------------------------------

    def totals(self) -> list[Flowable]:
        s = self.summary
        total, allowed, denied = _counts(s)
        rows: list[list[Any]] = [
            [T("Indicateur", "cell_b"), "Valeur", "Part"],
            [T("Tentatives"), fr_int(total), ""],
            [T("Autorisées"), fr_int(allowed), _share(allowed, total)],
            [T("Refusées"), fr_int(denied), _share(denied, total)],
            [T("Pénalités"), fr_eur(s.get("penalty_eur", "0")), ""],
        ]
        for code, amount in (s.get("penalties_by_code") or {}).items():
            rows.append([T(f"dont {code_label(code)} ({code})", "cell_in"),
                         fr_eur(amount), ""])
        breaches = s.get("dialled_despite_deny")
        if breaches is not None:
            # rules-fr.md §7: denied, then reported dialled — a breach of the operator's terms
            rows.append([T("Appels composés malgré un refus de la passerelle (manquement ; "
                           f"sur {fr_int(denied)} tentatives refusées)"), fr_int(breaches),
                         _share(int(breaches), denied)])
        short = s.get("short_calls")
        if isinstance(short, Mapping):
            under = (f"de moins de {fr_int(short['under_s'])} s, "
                     if short.get("under_s") is not None else "")
            rows.append([T(f"Appels courts ({under}sur {fr_int(short.get('answered'))} appels "
                           "aboutis)"), fr_int(short.get("short")), fr_pct(short.get("share"))])
        else:
            rows.append([T("Appels courts"), "non disponible", ""])
        unassigned = s.get("unassigned")
        if isinstance(unassigned, Mapping):
            among = (f" (sur {fr_int(unassigned['dialled'])} appels composés)"
                     if unassigned.get("dialled") is not None else "")
            rows.append([T(f"Appels vers des numéros non attribués{among}"),
                         fr_int(unassigned.get("attempts")), fr_pct(unassigned.get("share"))])
        else:
            rows.append([T("Appels vers des numéros non attribués"), "non disponible", ""])
        coverage = s.get("consent_coverage")
        if isinstance(coverage, Mapping):
            base = fr_int(coverage.get("consumer_allowed"))
            rows += [
                [T("Appels autorisés vers des consommateurs"), base, ""],
                [T("couverts par un consentement", "cell_in"), fr_int(coverage.get("consent")),
                 fr_pct(coverage.get("share_consent"))],
                [T("couverts par un contrat en cours", "cell_in"),
                 fr_int(coverage.get("contract")), fr_pct(coverage.get("share_contract"))],
            ]
            if coverage.get("neither") is not None:
                rows.append([T("ni consentement ni contrat", "cell_in"),
                             fr_int(coverage["neither"]),
                             _share(int(coverage["neither"]),
                                    int(coverage.get("consumer_allowed") or 0))])
        else:
            rows.append([T("Couverture du consentement"), "non disponible", ""])
        story: list[Flowable] = [
            P("1. Synthèse", "h1"),
            _grid(rows, [BODY_W - 60 * mm, 35 * mm, 25 * mm]),
        ]
        bloctel = s.get("bloctel")
        story.append(P("Fraîcheur de la liste BLOCTEL sur la période", "h2"))
        if isinstance(bloctel, Mapping) and bloctel:
            story += _bloctel(bloctel)
        else:
            story.append(P("non disponible", "small"))
        return story

    def activity(self) -> list[Flowable]:
        story: list[Flowable] = [CondPageBreak(80 * mm), P("2. Activité", "h1")]
        if self.total == 0:
            return [*story, _empty()]
        by_day = self.summary.get("by_day") or {}
        days = self._days(by_day)
        allowed = [float(_counts(by_day.get(d.isoformat()))[1]) for d in days]
        denied = [float(_counts(by_day.get(d.isoformat()))[2]) for d in days]
        story.append(_stacked_bars(
            "Tentatives par jour, selon la décision", _day_labels(days),
            [("Autorisées", ALLOWED, allowed), ("Refusées", DENIED, denied)],
            y_title="Tentatives", x_title="Jour (heure de Paris)"))
        by_hour = self.summary.get("by_hour")
        if isinstance(by_hour, Mapping) and by_hour:
            hours = [f"{h:02d}" for h in range(24)]
            story += [Spacer(1, 4 * mm), _stacked_bars(
                "Tentatives par heure de la journée", [f"{int(h)}h" for h in hours],
                [("Autorisées", ALLOWED, [float(_counts(by_hour.get(h))[1]) for h in hours]),
                 ("Refusées", DENIED, [float(_counts(by_hour.get(h))[2]) for h in hours])],
                y_title="Tentatives", x_title="Heure (Paris)", height=160)]
        return story

    def _days(self, by_day: Mapping[str, Any]) -> list[date]:
        seen = sorted(date.fromisoformat(k) for k in by_day if _is_day(k))
        first = self.period.first_day() or (seen[0] if seen else None)
        last = self.period.last_day() or (seen[-1] if seen else None)
        if first is None or last is None or last < first:
            return seen
        if (last - first).days > 3660:  # an absurd period: draw the days with attempts
            return seen
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def reasons(self) -> list[Flowable]:
        from rules_fr import catalog

        story: list[Flowable] = [CondPageBreak(70 * mm), P("3. Motifs de refus", "h1")]
        by_reason = {k: int(v) for k, v in (self.summary.get("by_reason") or {}).items()}
        if not by_reason:
            return [*story, _empty("Aucun refus sur la période." if self.total else
                                   "Aucune tentative sur la période.")]
        top = sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = top[:12]
        story.append(_hbars(
            "Principaux motifs de refus" + (f" ({len(shown)} sur {len(top)})"
                                            if len(top) > len(shown) else ""),
            [code_label(code) for code, _ in shown], [float(n) for _, n in shown],
            x_title="Tentatives refusées (une tentative peut avoir plusieurs motifs)",
            color=DENIED))
        bases = {e.code: e.legal_basis for e in catalog()}
        denied = _counts(self.summary)[2]
        rows: list[list[Any]] = [[T("Motif", "cell_b"), "Refus", "Part", T("Fondement", "cell_b")]]
        for code, n in top:
            rows.append([
                Paragraph(f"{escape(code_label(code))}<br/>"
                          f"<font size='6.5' color='#616e7c'>{escape(code)}</font>",
                          STYLES["cell"]),
                fr_int(n), _share(n, denied), T(bases.get(code, "—"), "basis")])
        story += [Spacer(1, 3 * mm),
                  _grid(rows, [62 * mm, 18 * mm, 16 * mm, BODY_W - 96 * mm], long=True)]
        return story

    def penalties(self) -> list[Flowable]:
        story: list[Flowable] = [CondPageBreak(70 * mm), P("4. Pénalités", "h1")]
        weeks = self.summary.get("penalties_by_week")
        if isinstance(weeks, Mapping) and weeks:
            keys = sorted(weeks)
            story.append(_stacked_bars(
                "Pénalités par semaine", _thin([_week_label(k) for k in keys], 14),
                [("", PENALTY, [float(_decimal(weeks[k]) or 0) for k in keys])],
                y_title="Euros", x_title="Semaine ISO", money=True, height=170))
        elif isinstance(weeks, Mapping):
            story.append(_empty("Aucune pénalité sur la période."))
        else:
            story.append(P("Pénalités par semaine : non disponible.", "small"))
        by_code = self.summary.get("penalties_by_code") or {}
        if by_code:
            rows: list[list[Any]] = [[T("Pénalité", "cell_b"), "Montant"]]
            rows += [[Paragraph(f"{escape(code_label(c))} "
                                f"<font size='6.5' color='#616e7c'>{escape(c)}</font>",
                                STYLES["cell"]), fr_eur(v)] for c, v in by_code.items()]
            rows.append([T("Total", "cell_b"), fr_eur(self.summary.get("penalty_eur", "0"))])
            story.append(KeepTogether([
                P("Pénalités par nature", "h2"),
                _grid(rows, [BODY_W - 40 * mm, 40 * mm], total_row=True)]))
        return story

    def breakdown(self, number: int, title: str, key: str, head: str,
                  rename: Callable[[str], str] = str) -> list[Flowable]:
        story: list[Flowable] = [CondPageBreak(50 * mm), P(f"{number}. {title}", "h1")]
        groups = self.summary.get(key)
        if not isinstance(groups, Mapping):
            return [*story, P(f"{title} : non disponible.", "small")]
        if not groups:
            return [*story, _empty()]
        with_penalty = any(_get(v, "penalty_eur") is not None for v in groups.values())
        rows: list[list[Any]] = [[T(head, "cell_b"), "Tentatives", "Autorisées", "Refusées",
                                  "Taux de refus"] + (["Pénalités"] if with_penalty else [])]
        order = sorted(groups.items(), key=lambda kv: (-_counts(kv[1])[0], str(kv[0])))
        sums = [0, 0, 0]
        penalty = Decimal(0)
        fixed = [20 * mm, 20 * mm, 20 * mm, 22 * mm] + ([26 * mm] if with_penalty else [])
        name_w = BODY_W - sum(fixed)
        for name, row in order:
            total, allowed, denied = _counts(row)
            sums = [sums[0] + total, sums[1] + allowed, sums[2] + denied]
            line = [T(rename(str(name)), width=name_w), fr_int(total), fr_int(allowed),
                    fr_int(denied), _share(denied, total)]
            if with_penalty:
                amount = _decimal(_get(row, "penalty_eur"))
                penalty += amount or 0
                line.append(fr_eur(amount) if amount is not None else "—")
            rows.append(line)
        rows.append([T(f"Total ({fr_int(len(groups))})", "cell_b"), fr_int(sums[0]),
                     fr_int(sums[1]), fr_int(sums[2]), _share(sums[2], sums[0])]
                    + ([fr_eur(penalty)] if with_penalty else []))
        story.append(_grid(rows, [name_w, *fixed], total_row=True, long=True))
        return story

    def _span(self) -> tuple[date, date]:
        """The Paris days the report covers: its period, else the days with attempts, else the
        day it was generated."""
        today = self.generated_at.astimezone(PARIS).date()
        last = self.period.last_day() or _last_day(self.summary) or today
        first = self.period.first_day() or _first_day(self.summary) or last
        return first, last

    def versions(self) -> list[dict[str, Any]]:
        """Every rule set version the report's period spans (from the rules: effective date,
        last day, the rules that changed that day), with what the summary saw of each
        (attempts, first and last seen); a version the attempts saw outside the span too."""
        from rules_fr.data import ruleset_versions_between

        given = self.summary.get("ruleset_versions")
        seen = {str(v["version"]): v for v in given if isinstance(v, Mapping)
                and v.get("version")} if isinstance(given, list) else {}
        first, last = self._span()
        out: list[dict[str, Any]] = []
        for span in ruleset_versions_between(first, last):
            entry: dict[str, Any] = {
                "version": span.id,
                "effective": span.effective.isoformat() if span.effective else None,
                "until": span.until.isoformat() if span.until else None,
                "changes": list(span.changes),
            }
            if isinstance(given, list):
                entry["attempts"] = 0  # the summary counts per version: none seen here
            entry.update({k: v for k, v in seen.pop(span.id, {}).items() if v is not None
                          and k not in ("effective", "changes")})
            out.append(entry)
        out += [dict(v) for v in seen.values()]
        return sorted(out, key=lambda e: str(e.get("effective") or _version_day(
            str(e["version"])) or ""))

    def rulesets(self) -> list[Flowable]:
        from rules_fr.data import ruleset_for

        first, last = self._span()
        story: list[Flowable] = [CondPageBreak(60 * mm),
                                 P("7. Référentiel juridique appliqué", "h1"),
                                 P(f"Versions du jeu de règles en vigueur du {fr_date(first)} au "
                                   f"{fr_date(last)} (chaque tentative enregistre la version "
                                   "qui l'a jugée), avec leurs dates d'effet, les changements "
                                   "entrés en vigueur à chacune et le fondement juridique de "
                                   "chaque règle. Le détail de chaque règle et le journal des "
                                   "changements figurent dans docs/law.md.", "small")]
        entries = self.versions()
        overview: list[list[Any]] = [[T("Version", "cell_b"), T("En vigueur", "cell_b"),
                                      "Tentatives", T("Changements à cette date", "cell_b")]]
        for entry in entries:
            overview.append([
                T(str(entry["version"]), width=30 * mm),
                T(_in_force_fr(entry).removeprefix("en vigueur ")),
                fr_int(entry["attempts"]) if entry.get("attempts") is not None else "—",
                T(", ".join(rule_label(r) for r in _changed_rules(entry)) or "—", "basis")])
        if len(overview) > 1:
            story += [Spacer(1, 2 * mm), _grid(
                overview, [30 * mm, 52 * mm, 20 * mm, BODY_W - 102 * mm], numeric_from=2,
                long=True)]
        for entry in entries:
            version = str(entry["version"])
            effective = _version_day(version)
            if _is_day(entry.get("effective")):
                effective = date.fromisoformat(entry["effective"])
            facts = [_in_force_fr(entry)]
            if entry.get("attempts") is not None:
                facts.append(f"{fr_int(entry['attempts'])} tentatives")
            if entry.get("first_seen") and entry.get("last_seen"):
                facts.append(f"du {_fr_when(entry['first_seen'])} au "
                             f"{_fr_when(entry['last_seen'])}")
            head = P(f"<b>{escape(version)}</b> — " + escape(", ".join(f for f in facts if f)),
                     "body")
            block: list[Flowable] = [Spacer(1, 3 * mm), head]
            changes = entry.get("changes")
            if isinstance(changes, list) and changes and effective is not None:
                rows_c: list[list[Any]] = [[T(f"Changements entrés en vigueur le "
                                              f"{fr_date(effective)}", "cell_b"),
                                            T("Fondement juridique", "cell_b")]]
                for change in changes:
                    rule, basis = (change if isinstance(change, (list, tuple)) else
                                   (_get(change, "rule", ""), _get(change, "legal_basis", "")))
                    rows_c.append([T(rule_label(str(rule))), T(basis, "basis")])
                block += [Spacer(1, 1.5 * mm),
                          _grid(rows_c, [74 * mm, BODY_W - 74 * mm], numeric_from=2, long=True)]
            rows: list[list[Any]] = [[T("Règle en vigueur", "cell_b"), "Depuis",
                                      T("Fondement juridique", "cell_b")]]
            in_force = ruleset_for(effective or first).rules
            bases = entry.get("legal_bases")
            if bases:
                items = bases.items() if isinstance(bases, Mapping) else (
                    (_get(b, "rule", ""), _get(b, "legal_basis", b)) if isinstance(b, Mapping)
                    else ("", b) for b in bases)
            else:
                items = ((rule, v.legal_basis) for rule, v in in_force.items() if v is not None)
            for rule, basis in items:
                v = in_force.get(str(rule))
                since = ("" if v is None else fr_date(v.since) if v.since.year > 1
                         else "toujours")
                rows.append([T(rule_label(str(rule))), T(since), T(basis, "basis")])
            if len(rows) == 1:
                rows.append([T("—"), "", T("fondements non disponibles", "basis")])
            story += [*block, Spacer(1, 1.5 * mm),
                      _grid(rows, [48 * mm, 26 * mm, BODY_W - 74 * mm], numeric_from=3,
                            long=True)]
        return story

    def method(self) -> list[Flowable]:
        return [CondPageBreak(30 * mm), P("Méthode", "h2"), P(
            "Les chiffres proviennent du registre des tentatives de la passerelle : chaque appel "
            "que le numéroteur souhaite passer y est jugé puis enregistré, autorisé ou refusé, "
            "avec ses motifs et sa pénalité. Une tentative refusée peut avoir plusieurs motifs. "
            "Les jours et les heures sont ceux de Paris ; les montants sont en euros. Les "
            "pénalités sont comptées à la date de leur constatation.", "small")]

    def story(self) -> list[Flowable]:
        return [
            *self.cover(), PageBreak(), *self.totals(), *self.activity(), *self.reasons(),
            *self.penalties(),
            *self.breakdown(5, "Par campagne", "by_campaign", "Campagne"),
            *self.breakdown(6, "Par numéro présenté", "by_caller_id", "Numéro présenté", _caller),
            *self.rulesets(), *self.method(),
        ]


def _fr_duration(seconds: float) -> str:
    """300 → ``5 min``, 90 → ``90 s``, 7200 → ``2 h``."""
    s = round(seconds)
    if s and s % 3600 == 0:
        return f"{s // 3600} h"
    if s and s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def _no_seal_yet() -> str:
    """Why the cover shows no seal: the sealer's schedule, read from the settings."""
    from app.config import get_settings

    settings = get_settings()
    command = f"«{NBSP}gateway audit seal{NBSP}»"
    grace = f"{_fr_duration(settings.seal_grace_s)} (GATEWAY_SEAL_GRACE_S)"
    if not settings.seal_interval_s:
        return ("Le serveur ne scelle pas de lui-même (GATEWAY_SEAL_INTERVAL_S = 0) : le "
                f"registre est scellé par la commande {command}, chaque tentative une fois "
                f"âgée de {grace}. Générez à nouveau le rapport après le premier scellement.")
    return (f"Le serveur scelle le registre toutes les {_fr_duration(settings.seal_interval_s)}"
            f" (GATEWAY_SEAL_INTERVAL_S), chaque tentative une fois âgée de {grace} ; on peut "
            f"aussi sceller aussitôt avec la commande {command}. Générez à nouveau le rapport "
            "après le premier scellement pour y lire le sceau.")


def _bloctel(bloctel: Mapping[str, Any]) -> list[Flowable]:
    """The lists in force over the period (a table), then every other fact as key/value."""
    story: list[Flowable] = []
    versions = bloctel.get("versions")
    facts = [(_label(k), _value(v)) for k, v in bloctel.items()
             if k not in ("versions", "period")]
    if facts:
        story.append(_key_values(facts, (60 * mm, BODY_W - 60 * mm)))
    if isinstance(versions, list):
        if not versions:
            story.append(P("Aucune liste BLOCTEL en vigueur sur la période.", "small"))
        else:
            rows: list[list[Any]] = [["Version", "Liste du", "Activée le", "Remplacée le",
                                      "Numéros"]]
            for v in versions:
                rows.append([_value(_get(v, "version")), _value(_get(v, "as_of")),
                             _value(_get(v, "activated_at")),
                             _value(_get(v, "superseded_at")) if _get(v, "superseded_at")
                             else "en vigueur", _value(_get(v, "total_numbers"))])
            story += [Spacer(1, 2 * mm), _grid(
                rows, [18 * mm, 32 * mm, 48 * mm, 48 * mm, BODY_W - 146 * mm], numeric_from=4,
                long=True)]
    return story


def _caller(number: str) -> str:
    return "(aucun)" if number in ("(none)", "") else number


def _is_day(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def _first_day(summary: Mapping[str, Any]) -> date | None:
    days = [k for k in (summary.get("by_day") or {}) if _is_day(k)]
    return date.fromisoformat(min(days)) if days else None


def _last_day(summary: Mapping[str, Any]) -> date | None:
    days = [k for k in (summary.get("by_day") or {}) if _is_day(k)]
    return date.fromisoformat(max(days)) if days else None


def _version_day(version: str) -> date | None:
    match = re.fullmatch(r"fr-(\d{4}-\d{2}-\d{2})", version)
    try:
        return date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        return None


def _in_force_fr(entry: Mapping[str, Any]) -> str:
    """``en vigueur du 2 juillet 2025 au 10 août 2026`` / ``… depuis le 11 août 2026``."""
    effective = entry.get("effective")
    since = date.fromisoformat(effective) if _is_day(effective) else _version_day(
        str(entry.get("version", "")))
    until = date.fromisoformat(entry["until"]) if _is_day(entry.get("until")) else None
    if since and until:
        return f"en vigueur du {fr_date(since)} au {fr_date(until)}"
    if since:
        return f"en vigueur depuis le {fr_date(since)}"
    if until:
        return f"en vigueur jusqu'au {fr_date(until)}"
    return ""


def _changed_rules(entry: Mapping[str, Any]) -> list[str]:
    changes = entry.get("changes")
    if isinstance(changes, list):
        return [str(c[0] if isinstance(c, (list, tuple)) else _get(c, "rule", "")) for c in changes]
    changed = entry.get("changed_rules")
    return [str(r) for r in changed] if isinstance(changed, list) else []


def _thin(labels: list[str], most: int) -> list[str]:
    """Every k-th label only, so that at most ``most`` are written under an axis."""
    step = -(-len(labels) // most)
    return [label if i % step == 0 else "" for i, label in enumerate(labels)]


def _week_label(key: str) -> str:
    match = re.fullmatch(r"(\d{4})-W(\d{2})", key)
    return f"S{int(match.group(2))}" if match else key


def _fit(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _canvas_class(left: str, right_title: str) -> type[rl_canvas.Canvas]:
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


def render_audit_pdf(
    summary: Mapping[str, Any], *, tenant_name: str, tenant_id: str, generated_at: datetime,
    start: datetime | None = None, end: datetime | None = None,
    seal: Mapping[str, Any] | None = None,
) -> bytes:
    """The report as PDF bytes. ``summary`` is ``app.reports.service.summary``'s answer (keys
    beyond the original ones are optional); ``start``/``end`` the period's bounds (default: the
    summary's ``from``/``to``); ``seal`` the ledger head (``chain_hash``, ``sealed_until``,
    ``seals``, ``verified``, ``first_broken``) or None when there is none."""
    period = Period(start or _parse_instant(summary.get("from")),
                    end or _parse_instant(summary.get("to")))
    report = _Report(summary, tenant_name, tenant_id, period, generated_at, seal)
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
              canvasmaker=_canvas_class(left, f"généré le {fr_datetime(generated_at)}"))
    return buffer.getvalue()


# --- data: the tenant, the summary and the seal --------------------------------------------------


def ledger_seal(tenant_id: str) -> dict[str, Any] | None:
    """The ledger's head seal for the cover page, with the tenant's verification
    (``app.audit.service.ledger_head``: ``chain_hash``, ``sealed_until``, ``seals``,
    ``verified``, ``first_broken``)."""
    from app.audit.service import ledger_head

    try:
        head = ledger_head(tenant_id)
    except Exception as exc:  # the report still says what it could not verify
        log.exception("ledger seal unavailable for tenant %s", tenant_id)
        return {"error": f"lecture impossible : {type(exc).__name__}", "verified": None}
    return dict(head) if head else None


class UnknownTenant(LookupError):
    pass


def tenant_name(tenant_id: str) -> str:
    from app.db import session_scope
    from app.tenancy.models import Tenant

    with session_scope() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise UnknownTenant(tenant_id)
        return tenant.name


def audit_report(tenant_id: str, start: datetime | None, end: datetime | None,
                 *, on_phase: Callable[[str], None] | None = None) -> tuple[bytes, str]:
    """(PDF bytes, file name) for one tenant and period, from the configured database."""
    from app.clock import now
    from app.reports.service import summary

    step = on_phase or (lambda _: None)
    name = tenant_name(tenant_id)
    generated_at = now()
    step("reading the ledger")
    data = summary(tenant_id, start, end)
    step("reading the ledger seal")
    seal = ledger_seal(tenant_id)
    step("drawing the PDF")
    pdf = render_audit_pdf(data, tenant_name=name, tenant_id=tenant_id,
                           generated_at=generated_at, start=start, end=end, seal=seal)
    return pdf, file_name(name, Period(start, end))
