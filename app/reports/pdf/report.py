"""The sections of the audit report, in order (cover, totals, activity, deny reasons,
penalties, per campaign and per caller ID, rule sets, method), laid out from the summary's
aggregates; ``document`` puts them on pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.clock import PARIS
from app.reports.pdf import rulesets
from app.reports.pdf.charts import day_labels, hbars, stacked_bars, thin
from app.reports.pdf.labels import (
    NBSP,
    Period,
    caller_fr,
    fact_label,
    fr_datetime,
    fr_duration,
    fr_eur,
    fr_int,
    fr_pct,
    fr_value,
    instant_or_none,
    is_day,
    lookup,
    to_decimal,
    week_label,
)
from app.reports.pdf.styles import (
    ALLOWED,
    BASE,
    BODY_W,
    DENIED,
    HEAD_BG,
    MUTED,
    PENALTY,
    RULE,
    STYLES,
    P,
    T,
    empty,
    grid,
    key_values,
)
from rules_fr.data import code_label


def _counts(row: Any) -> tuple[int, int, int]:
    total, allowed, denied = (lookup(row, k) for k in ("total", "allowed", "denied"))
    allowed = int(allowed or 0)
    denied = int(denied or 0)
    return int(total if total is not None else allowed + denied), allowed, denied


def _share(part: int, whole: int) -> str:
    return fr_pct(part / whole) if whole else "—"


@dataclass
class AuditReport:
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
            key_values([
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
            story.append(empty())
        figures = [
            ("Tentatives", fr_int(total)),
            ("Autorisées", f"{fr_int(allowed)} ({_share(allowed, total)})"),
            ("Refusées", f"{fr_int(denied)} ({_share(denied, total)})"),
            ("Pénalités", fr_eur(s.get("penalty_eur", "0"))),
        ]
        cells = [[T(k, "small") for k, _ in figures],
                 [Paragraph(escape(v), ParagraphStyle("fig", parent=BASE, fontSize=13,
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
            return key_values([
                ("Sceau du registre", "aucun pour l'instant : rien n'a encore été scellé"),
                ("Pourquoi", Paragraph(escape(_no_seal_yet()), STYLES["cell"])),
            ], (45 * mm, BODY_W - 45 * mm))
        rows: list[tuple[str, Any]] = []
        if seal.get("error"):
            rows.append(("Sceau du registre", f"non disponible ({seal['error']})"))
        chain = seal.get("chain_hash")
        rows.append(("Empreinte de tête de chaîne", Paragraph(
            escape(str(chain or "—")),
            ParagraphStyle("hash", parent=BASE, fontName="Courier", fontSize=8, leading=10,
                           wordWrap="CJK"))))
        until = instant_or_none(seal.get("sealed_until"))
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
        return key_values(rows, (45 * mm, BODY_W - 45 * mm))

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
            grid(rows, [BODY_W - 60 * mm, 35 * mm, 25 * mm]),
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
            return [*story, empty()]
        by_day = self.summary.get("by_day") or {}
        days = self._days(by_day)
        allowed = [float(_counts(by_day.get(d.isoformat()))[1]) for d in days]
        denied = [float(_counts(by_day.get(d.isoformat()))[2]) for d in days]
        story.append(stacked_bars(
            "Tentatives par jour, selon la décision", day_labels(days),
            [("Autorisées", ALLOWED, allowed), ("Refusées", DENIED, denied)],
            y_title="Tentatives", x_title="Jour (heure de Paris)"))
        by_hour = self.summary.get("by_hour")
        if isinstance(by_hour, Mapping) and by_hour:
            hours = [f"{h:02d}" for h in range(24)]
            story += [Spacer(1, 4 * mm), stacked_bars(
                "Tentatives par heure de la journée", [f"{int(h)}h" for h in hours],
                [("Autorisées", ALLOWED, [float(_counts(by_hour.get(h))[1]) for h in hours]),
                 ("Refusées", DENIED, [float(_counts(by_hour.get(h))[2]) for h in hours])],
                y_title="Tentatives", x_title="Heure (Paris)", height=160)]
        return story

    def _days(self, by_day: Mapping[str, Any]) -> list[date]:
        seen = sorted(date.fromisoformat(k) for k in by_day if is_day(k))
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
            return [*story, empty("Aucun refus sur la période." if self.total else
                                   "Aucune tentative sur la période.")]
        top = sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = top[:12]
        story.append(hbars(
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
                  grid(rows, [62 * mm, 18 * mm, 16 * mm, BODY_W - 96 * mm], long=True)]
        return story

    def penalties(self) -> list[Flowable]:
        story: list[Flowable] = [CondPageBreak(70 * mm), P("4. Pénalités", "h1")]
        weeks = self.summary.get("penalties_by_week")
        if isinstance(weeks, Mapping) and weeks:
            keys = sorted(weeks)
            story.append(stacked_bars(
                "Pénalités par semaine", thin([week_label(k) for k in keys], 14),
                [("", PENALTY, [float(to_decimal(weeks[k]) or 0) for k in keys])],
                y_title="Euros", x_title="Semaine ISO", money=True, height=170))
        elif isinstance(weeks, Mapping):
            story.append(empty("Aucune pénalité sur la période."))
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
                grid(rows, [BODY_W - 40 * mm, 40 * mm], total_row=True)]))
        return story

    def breakdown(self, number: int, title: str, key: str, head: str,
                  rename: Callable[[str], str] = str) -> list[Flowable]:
        story: list[Flowable] = [CondPageBreak(50 * mm), P(f"{number}. {title}", "h1")]
        groups = self.summary.get(key)
        if not isinstance(groups, Mapping):
            return [*story, P(f"{title} : non disponible.", "small")]
        if not groups:
            return [*story, empty()]
        with_penalty = any(lookup(v, "penalty_eur") is not None for v in groups.values())
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
                amount = to_decimal(lookup(row, "penalty_eur"))
                penalty += amount or 0
                line.append(fr_eur(amount) if amount is not None else "—")
            rows.append(line)
        rows.append([T(f"Total ({fr_int(len(groups))})", "cell_b"), fr_int(sums[0]),
                     fr_int(sums[1]), fr_int(sums[2]), _share(sums[2], sums[0])]
                    + ([fr_eur(penalty)] if with_penalty else []))
        story.append(grid(rows, [name_w, *fixed], total_row=True, long=True))
        return story

    def _span(self) -> tuple[date, date]:
        """The Paris days the report covers: its period, else the days with attempts, else the
        day it was generated."""
        today = self.generated_at.astimezone(PARIS).date()
        last = self.period.last_day() or _last_day(self.summary) or today
        first = self.period.first_day() or _first_day(self.summary) or last
        return first, last

    def versions(self) -> list[dict[str, Any]]:
        return rulesets.versions(self.summary, *self._span())

    def rulesets(self) -> list[Flowable]:
        return rulesets.section(self.versions(), *self._span())

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
            *self.breakdown(6, "Par numéro présenté", "by_caller_id", "Numéro présenté", caller_fr),
            *self.rulesets(), *self.method(),
        ]


def _no_seal_yet() -> str:
    """Why the cover shows no seal: the sealer's schedule, read from the settings."""
    from app.config import get_settings

    settings = get_settings()
    command = f"«{NBSP}gateway audit seal{NBSP}»"
    grace = f"{fr_duration(settings.seal_grace_s)} (GATEWAY_SEAL_GRACE_S)"
    if not settings.seal_interval_s:
        return ("Le serveur ne scelle pas de lui-même (GATEWAY_SEAL_INTERVAL_S = 0) : le "
                f"registre est scellé par la commande {command}, chaque tentative une fois "
                f"âgée de {grace}. Générez à nouveau le rapport après le premier scellement.")
    return (f"Le serveur scelle le registre toutes les {fr_duration(settings.seal_interval_s)}"
            f" (GATEWAY_SEAL_INTERVAL_S), chaque tentative une fois âgée de {grace} ; on peut "
            f"aussi sceller aussitôt avec la commande {command}. Générez à nouveau le rapport "
            "après le premier scellement pour y lire le sceau.")


def _bloctel(bloctel: Mapping[str, Any]) -> list[Flowable]:
    """The lists in force over the period (a table), then every other fact as key/value."""
    story: list[Flowable] = []
    versions = bloctel.get("versions")
    facts = [(fact_label(k), fr_value(v)) for k, v in bloctel.items()
             if k not in ("versions", "period")]
    if facts:
        story.append(key_values(facts, (60 * mm, BODY_W - 60 * mm)))
    if isinstance(versions, list):
        if not versions:
            story.append(P("Aucune liste BLOCTEL en vigueur sur la période.", "small"))
        else:
            rows: list[list[Any]] = [["Version", "Liste du", "Activée le", "Remplacée le",
                                      "Numéros"]]
            for v in versions:
                rows.append([fr_value(lookup(v, "version")), fr_value(lookup(v, "as_of")),
                             fr_value(lookup(v, "activated_at")),
                             fr_value(lookup(v, "superseded_at")) if lookup(v, "superseded_at")
                             else "en vigueur", fr_value(lookup(v, "total_numbers"))])
            story += [Spacer(1, 2 * mm), grid(
                rows, [18 * mm, 32 * mm, 48 * mm, 48 * mm, BODY_W - 146 * mm], numeric_from=4,
                long=True)]
    return story


def _first_day(summary: Mapping[str, Any]) -> date | None:
    days = [k for k in (summary.get("by_day") or {}) if is_day(k)]
    return date.fromisoformat(min(days)) if days else None


def _last_day(summary: Mapping[str, Any]) -> date | None:
    days = [k for k in (summary.get("by_day") or {}) if is_day(k)]
    return date.fromisoformat(max(days)) if days else None
