"""The report's charts (reportlab graphics): stacked bars per day, hour and week, horizontal
bars of the top deny reasons, with French axes."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from app.reports.pdf.labels import MONTHS_SHORT, fr_eur, fr_int
from app.reports.pdf.styles import BODY_W, INK, MUTED, RULE


def nice_axis(maximum: float, ticks: int = 5, unit: float = 1.0) -> tuple[float, float]:
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


def eur_tick(value: float, step: float) -> str:
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
        g = Group(s)
        g.translate(x, y)
        g.rotate(angle)
        d.add(g)
    else:
        s.x, s.y = x, y
        d.add(s)


def _title(d: Drawing, text: str) -> None:
    d.add(String(0, d.height - 10, text, fontName="Helvetica-Bold", fontSize=9, fillColor=INK))


def stacked_bars(title: str, labels: list[str], series: list[tuple[str, colors.Color,
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
    top, step = nice_axis(max(totals, default=0), unit=0.01 if money else 1.0)
    axis = _value_axis(chart.valueAxis, top, step)
    axis.labelTextFormat = (lambda v: eur_tick(v, step)) if money else (
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


def hbars(title: str, labels: list[str], values: list[float], *, x_title: str,
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
    top, step = nice_axis(max(values, default=0))
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


def day_labels(days: list[date]) -> list[str]:
    n = len(days)
    if n <= 16:
        return [f"{d:%d/%m}" for d in days]
    if n <= 62:  # Mondays
        return [f"{d:%d/%m}" if d.weekday() == 0 else "" for d in days]
    if n <= 200:  # first of each month
        return [f"{MONTHS_SHORT[d.month - 1]}" if d.day == 1 else "" for d in days]
    return [f"{MONTHS_SHORT[d.month - 1]} {d:%y}" if d.day == 1 and d.month % 2 else ""
            for d in days]


def thin(labels: list[str], most: int) -> list[str]:
    """Every k-th label only, so that at most ``most`` are written under an axis."""
    step = -(-len(labels) // most)
    return [label if i % step == 0 else "" for i, label in enumerate(labels)]
