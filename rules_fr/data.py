"""The French canvassing rules as data: parameters, effective dates and legal bases.

Like ``python-holidays`` declares a country, this module declares, for each rule, the list of
its parameter *versions*. A version is in force from its ``since`` date (judged on the
Europe/Paris civil date of the call instant) until the next version of the same rule. The next
decree is therefore a new ``Version`` appended here, not a code change in ``rules.py``.

Each rule, sector and reason code declares its French label here, once, where it is declared
(``RULE_LABELS``, ``SECTOR_LABELS``, ``CodeSpec.label``; ``code_label``, ``rule_label``): the
audit report and ``GET /v1/rules`` read them from here.

``ruleset_version(at)`` names the set of versions in force at an instant: ``"fr-YYYY-MM-DD"``
is the latest ``since`` among all versions in force on that Paris date.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

#: ``since`` of rules that have no effective date of their own (operator terms, numbering
#: validity): always in force, and never the rule set's version date.
ALWAYS = date.min

# --------------------------------------------------------------------------------------------
# Version types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Version:
    """One version of one rule: in force from ``since`` (Paris civil date) to the next one."""

    since: date
    legal_basis: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class HoursVersion(Version):
    windows: tuple[tuple[time, time], ...]  # half-open [start, end) in the consumer's zone
    weekdays: frozenset[int]  # date.weekday(): 0 = Monday
    national_holidays: frozenset[str]  # holiday names (python-holidays, en_US) of L3133-1


@dataclass(frozen=True, kw_only=True)
class FrequencyVersion(Version):
    max_attempts: int  # attempts allowed in the window; the (max+1)th is refused
    window_days: int  # calendar days, the call's day included


@dataclass(frozen=True, kw_only=True)
class CooldownVersion(Version):
    full_days: int  # full calendar days after the refusal day


@dataclass(frozen=True, kw_only=True)
class RegimeVersion(Version):
    regime: Literal["opt_out", "opt_in"]
    refusal_withdraws_consent: bool = False


@dataclass(frozen=True, kw_only=True)
class ConsentLifetimeVersion(Version):
    max_days: int | None  # a consent is valid through collection + max_days; None: no ceiling


@dataclass(frozen=True, kw_only=True)
class BloctelFreshnessVersion(Version):
    max_age_days: int | None  # None: no list to keep fresh (the opposition list is gone)


@dataclass(frozen=True, kw_only=True)
class NumberingVersion(Version):
    # NSN prefixes of the numéros polyvalents vérifiés (NPV), the numbers an automated calling
    # system may present, by country calling code (kind ``canvassing``)
    canvassing_prefixes: Mapping[int, tuple[str, ...]]
    # 09 37-09 39: numbers for exchanges with a technical platform (plan § 2.3.9), not NPV
    platform_prefixes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CanvassingRangeVersion(Version):
    """What an automated calling system (any purpose) may present (rules-fr.md §2)."""

    # number kinds (``NumberKind`` values) that satisfy the requirement: the NPV
    accepted_kinds: frozenset[str]
    # +33 NSN prefixes of the free numbers that satisfy it (08 0x; not +800 international ones)
    free_prefixes: tuple[str, ...]
    # +33 NSN prefixes of the shared-cost numbers tenant policy ``automated_shared_cost_cli``
    # admits (08 1x / 08 2x); empty: the policy admits none
    policy_shared_cost_prefixes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CallerIdRangesVersion(Version):
    """Numbers that may never be presented as a caller ID (rules-fr.md §2)."""

    premium_prefixes: tuple[str, ...]  # +33 NSN prefixes: 089 premium-rate numbers
    # short numbers (whole-digit regular expressions): 118 XYZ, 3BPQ other than 30PQ/31PQ
    short_patterns: Mapping[str, str]  # pattern -> what it is
    # short numbers the text leaves out (30PQ, 31PQ): not forbidden by it, yet not
    # registrable either (caller IDs are registered in E.164 numbering)
    short_exempt: str


@dataclass(frozen=True, kw_only=True)
class SectorVersion(Version):
    banned: bool
    exception: Literal["ongoing_contract", "ongoing_training", "none"] = "none"
    bloctel_exempt: bool = False  # no Bloctel check (opt-out era), no stale/missing-list denial
    consent_exempt: bool = False  # no prior-consent requirement (opt-in era)


@dataclass(frozen=True, kw_only=True)
class TariffVersion(Version):
    """Operator tariff defaults; tenant ``Policy`` overrides them."""

    denied_attempt_eur: Decimal
    unassigned_eur: Decimal
    quarantine_days: int


# --------------------------------------------------------------------------------------------
# Legal bases
# --------------------------------------------------------------------------------------------

OPERATOR_TERMS = "Conditions d'utilisation de l'opérateur (lutte contre la fraude et les abus)"
ARCEP_2022_1583 = (
    "ARCEP, décision n° 2022-1583 du 1er septembre 2022 modifiant le plan national de "
    "numérotation et ses règles de gestion (en vigueur le 1er janvier 2023)"
)
ARCEP_2025_2215 = (
    "ARCEP, décision n° 2025-2215 (l'opérateur de départ tient la liste des numéros que chaque "
    "client est autorisé à présenter et restreint ses appels à ces numéros); code de la "
    "consommation, art. L221-17"
)
ARRETE_2016_CLI = (
    "Arrêté du 5 juillet 2016 (numéros ne pouvant être utilisés comme identifiant d'appelant: "
    "089, 3BPQ hors 30PQ et 31PQ, 118 XYZ; en vigueur le 1er août 2016), pris pour "
    "l'application de l'art. L221-17 du code de la consommation"
)
CE_2024_489787 = (
    "Conseil d'État, 6 juin 2024, n° 489787, Syntec Conseil (l'interdiction des numéros "
    "territorialisés vaut pour les systèmes automatisés d'appels utilisés pour les études, "
    "enquêtes d'opinion et sondages)"
)
#: short numbers outside the arrêté (10XY, 1XY emergency numbers, 116XXX…): the plan gives
#: them to services, not to an end user who could present them (conservative reading)
SHORT_NUMBERS_PLAN = (
    "Plan national de numérotation (ARCEP, décision n° 2018-0881 modifiée), numéros courts: "
    "accès à un service, non attribués à un utilisateur final"
)
D223_9 = "Code de la consommation, art. D223-9 (décret n° 2022-1313 du 13 octobre 2022)"
L223_1_OPT_OUT = (
    "Code de la consommation, art. L223-1 (liste d'opposition au démarchage téléphonique, "
    "rédaction issue de la loi n° 2020-901 du 24 juillet 2020)"
)
L223_1_OPT_IN = (
    "Code de la consommation, art. L223-1 (consentement préalable, rédaction issue de la "
    "loi n° 2025-594 du 30 juin 2025, art. 13)"
)

# --------------------------------------------------------------------------------------------
# Rule versions
# --------------------------------------------------------------------------------------------

#: The 11 public holidays of code du travail art. L3133-1, by their python-holidays name
#: (language "en_US"). Filtering by name keeps any extra day the package may add out.
L3133_1_HOLIDAYS = frozenset(
    {
        "New Year's Day",
        "Easter Monday",
        "Labor Day",
        "Victory Day",
        "Ascension Day",
        "Pentecost Monday",  # Whit Monday (also the "journée de solidarité": still L3133-1)
        "National Day",
        "Assumption Day",
        "All Saints' Day",
        "Armistice Day",
        "Christmas Day",
    }
)

_MON_FRI = frozenset(range(5))

HOURS: tuple[HoursVersion, ...] = (
    HoursVersion(
        since=date(2023, 3, 1),
        windows=((time(10), time(13)), (time(14), time(20))),
        weekdays=_MON_FRI,
        national_holidays=L3133_1_HOLIDAYS,
        legal_basis=D223_9 + "; code du travail, art. L3133-1",
    ),
)

FREQUENCY: tuple[FrequencyVersion, ...] = (
    FrequencyVersion(
        since=date(2023, 3, 1), max_attempts=4, window_days=30, legal_basis=D223_9
    ),
)

REFUSAL_COOLDOWN: tuple[CooldownVersion, ...] = (
    CooldownVersion(since=date(2023, 3, 1), full_days=60, legal_basis=D223_9),
)

OPPOSITION: tuple[RegimeVersion, ...] = (
    RegimeVersion(
        since=date(2016, 6, 1),
        regime="opt_out",
        legal_basis=L223_1_OPT_OUT,
        note="Bloctel opposition list (loi n° 2014-344 du 17 mars 2014, in service 2016-06-01)",
    ),
    RegimeVersion(
        since=date(2026, 8, 11),
        regime="opt_in",
        refusal_withdraws_consent=True,
        legal_basis=L223_1_OPT_IN,
        note="prior consent required; the Bloctel concession ended on 2026-08-10",
    ),
)

R223_1_LIFETIME = (
    "Code de la consommation, art. R223-1 (décret n° 2026-662 du 23 juillet 2026, JO du "
    "25 juillet 2026): durée de validité du consentement, un an au plus à compter de son "
    "recueil, sans reconduction tacite"
)

CONSENT_LIFETIME: tuple[ConsentLifetimeVersion, ...] = (
    ConsentLifetimeVersion(
        since=date(2026, 8, 11),
        max_days=365,
        legal_basis=R223_1_LIFETIME,
        note="a consent collected before 2026-08-11 is judged by the same ceiling",
    ),
)

#: A proof of consent dated further in the future than this is refused (clock skew allowance).
CONSENT_FUTURE_SKEW = timedelta(minutes=5)
#: The dated proof of a consent is kept this long from its collection, erasure notwithstanding
#: (rules-fr.md §5; RGPD art. 17(3)(b)): three years.
CONSENT_PROOF_YEARS = 3

L34_5 = (
    "Code des postes et des communications électroniques, art. L34-5 (loi n° 2004-575 du "
    "21 juin 2004 pour la confiance dans l'économie numérique, art. 22): prospection directe "
    "au moyen d'automates d'appel sans intervention humaine, consentement préalable de la "
    "personne physique"
)

#: Prerecorded messages (an automated calling machine with no human operator): the consumer's
#: prior consent, or an ongoing contract for analogous products, in both regimes.
PRERECORDED: tuple[Version, ...] = (
    Version(
        since=date(2004, 6, 22),
        legal_basis=L34_5,
        note="in force since the LCEN (JO 22 June 2004); independent of the L223-1 regime",
    ),
)

#: What makes a consent void whatever its age (loi 2025-594 art. 13; RGPD art. 4(11), 7): a
#: condition of a sale (tied sale) or collected without the information notice.
CONSENT_VALIDITY_BASIS = (
    L223_1_OPT_IN + "; règlement (UE) 2016/679 (RGPD), art. 4(11) et 7 (consentement libre, "
    "spécifique, éclairé); CNIL, délibérations SAN-2024-003 et SAN-2025-001 (consentements "
    "achetés à des courtiers en données)"
)

BLOCTEL_FRESHNESS: tuple[BloctelFreshnessVersion, ...] = (
    BloctelFreshnessVersion(
        since=date(2020, 7, 26),
        max_age_days=30,
        legal_basis=(
            "Code de la consommation, art. L223-1 (saisine au moins mensuelle de l'organisme "
            "gestionnaire, loi n° 2020-901) et R223-6"
        ),
    ),
    BloctelFreshnessVersion(
        since=date(2026, 8, 11),
        max_age_days=None,
        legal_basis=L223_1_OPT_IN,
        note="opt-in regime: the Bloctel concession ended on 2026-08-10",
    ),
)

NUMBERING: tuple[NumberingVersion, ...] = (
    NumberingVersion(
        since=date(2023, 1, 1),
        canvassing_prefixes={
            33: ("162", "163", "270", "271", "377", "378", "424", "425", "568", "569",
                 "948", "949"),
            590: ("9475",),  # Guadeloupe, Saint-Martin, Saint-Barthélemy
            594: ("9476",),  # Guiana
            596: ("9477",),  # Martinique
            262: ("9478", "9479"),  # Réunion, Mayotte
        },
        platform_prefixes=("937", "938", "939"),
        legal_basis=ARCEP_2022_1583,
    ),
)

MOBILE_CLI: tuple[Version, ...] = (
    Version(
        since=date(2023, 1, 1),
        legal_basis=ARCEP_2022_1583 + " (numéros mobiles réservés à la communication "
        "interpersonnelle)",
    ),
)

# The verified-number requirement binds every automated calling system, commercial or not,
# from 2023-01-01: the Conseil d'État (6 June 2024) rejected the request to exempt surveys and
# polls from it (it held ARCEP competent beyond canvassing), which confirms the rule as in
# force since 2023-01-01 rather than starting one. Reading (conservative, and the decision's):
# a non-commercial automated call presenting a geographic or a 09 number outside the NPV was
# already unlawful before 2024-06-06. The 2024-06-06 version changes no parameter: it adds the
# decision to the legal basis (and keeps the rule-set version of that date).
_NPV_KINDS = frozenset({"canvassing"})
_NPV_BASIS = (
    ARCEP_2022_1583 + " (systèmes automatisés d'appels: numéros polyvalents vérifiés ou "
    "numéros spéciaux hors 089)"
)
CANVASSING_RANGE: tuple[CanvassingRangeVersion, ...] = (
    CanvassingRangeVersion(
        since=date(2023, 1, 1),
        accepted_kinds=_NPV_KINDS,
        free_prefixes=("80",),
        policy_shared_cost_prefixes=("81", "82"),
        legal_basis=_NPV_BASIS,
    ),
    CanvassingRangeVersion(
        since=date(2024, 6, 6),
        accepted_kinds=_NPV_KINDS,
        free_prefixes=("80",),
        policy_shared_cost_prefixes=("81", "82"),
        legal_basis=_NPV_BASIS + "; " + CE_2024_489787,
        note="confirms the 2023-01-01 rule for surveys and polls; no parameter changes",
    ),
)

CALLER_ID: tuple[Version, ...] = (
    Version(
        since=ALWAYS,
        legal_basis=(
            "Code de la consommation, art. L221-17 (numéro masqué interdit); plan national de "
            "numérotation (ARCEP); " + OPERATOR_TERMS
        ),
    ),
)

#: Never a caller ID (any campaign; the arrêté binds professionals calling consumers, the
#: gateway applies it to every campaign: conservative). Before 2016-08-01 the operator's terms
#: already refused premium-rate and short-number caller IDs (``rules.caller_id``).
CALLER_ID_RANGES: tuple[CallerIdRangesVersion, ...] = (
    CallerIdRangesVersion(
        since=date(2016, 8, 1),
        premium_prefixes=("89",),
        short_patterns={
            r"118\d{3}": "a 118 XYZ directory-enquiry number",
            r"3[2-9]\d{2}": "a 3BPQ short number (other than 30PQ/31PQ)",
        },
        short_exempt=r"3[01]\d{2}",
        legal_basis=ARRETE_2016_CLI,
    ),
)

CALLEE_NUMBER: tuple[Version, ...] = (
    Version(since=ALWAYS, legal_basis="Plan national de numérotation (ARCEP); " + OPERATOR_TERMS),
)

SUSPENSION: tuple[Version, ...] = (Version(since=ALWAYS, legal_basis=OPERATOR_TERMS),)

#: A tenant's abuse monitor (``app.monitors``) throttling its calls for a while.
THROTTLE: tuple[Version, ...] = (
    Version(since=ALWAYS, legal_basis=OPERATOR_TERMS + " (seuils de fraude et d'abus)"),
)

QUARANTINE: tuple[Version, ...] = (
    Version(since=ALWAYS, legal_basis=OPERATOR_TERMS + " (numéro non attribué)"),
)

INTERNAL_OPPOSITION: tuple[Version, ...] = (
    Version(
        since=ALWAYS,
        legal_basis=(
            "Règlement (UE) 2016/679 (RGPD), art. 21 (droit d'opposition à la prospection); "
            "code de la consommation, art. L223-1"
        ),
    ),
)

TARIFFS: tuple[TariffVersion, ...] = (
    TariffVersion(
        since=ALWAYS,
        denied_attempt_eur=Decimal("0.02"),
        unassigned_eur=Decimal("0.02"),
        quarantine_days=30,
        legal_basis=OPERATOR_TERMS,
    ),
)

#: Penalty-line codes that are not reason codes, with their French label: every denied attempt
#: is an illegitimate attempt (``tariffs``); an unassigned number's line carries the reason code
#: ``CALLEE_UNASSIGNED``.
PENALTY_LABELS: Mapping[str, str] = {"ILLEGITIMATE_ATTEMPT": "Tentative illégitime"}

#: Regulated sectors (rules-fr.md §6), each with its French label and its versions. A sector
#: without versions has no sector rule.
_SECTORS: tuple[tuple[str, str, tuple[SectorVersion, ...]], ...] = (
    ("general", "général", ()),
    ("energy_renovation", "rénovation énergétique", (
        SectorVersion(
            since=date(2020, 7, 26),
            banned=True,
            exception="ongoing_contract",
            legal_basis="Code de la consommation, art. L223-1 (loi n° 2020-901 du 24 juillet "
            "2020): économies d'énergie, énergies renouvelables",
        ),
        SectorVersion(
            since=date(2025, 7, 2),
            banned=True,
            exception="ongoing_contract",
            legal_basis="Code de la consommation, art. L223-1 (loi n° 2025-594 du 30 juin "
            "2025, art. 13): économies d'énergie, énergies renouvelables, tous canaux",
        ),
    )),
    ("home_adaptation", "adaptation du logement", (
        SectorVersion(
            since=date(2025, 7, 2),
            banned=True,
            exception="ongoing_contract",
            legal_basis="Code de la consommation, art. L223-1 (loi n° 2025-594 du 30 juin "
            "2025, art. 13): adaptation du logement au vieillissement ou au handicap",
        ),
    )),
    ("cpf_training", "formation (CPF)", (
        SectorVersion(
            since=date(2022, 12, 21),
            banned=True,
            exception="ongoing_training",
            legal_basis="Code du travail, art. L6323-8-1 (loi n° 2022-1587 du 19 décembre "
            "2022): titulaires du compte personnel de formation",
        ),
    )),
    ("premium_rate_callback", "rappel de numéros surtaxés", (
        SectorVersion(
            since=ALWAYS,
            banned=True,
            exception="none",
            legal_basis=OPERATOR_TERMS + " (incitation au rappel de numéros surtaxés)",
        ),
    )),
    ("press_subscription", "abonnements de presse", (
        SectorVersion(
            since=date(2016, 6, 1),
            banned=False,
            bloctel_exempt=True,
            legal_basis="Code de la consommation, art. L223-5 (journaux, périodiques, "
            "magazines): exemption de la liste d'opposition",
        ),
        SectorVersion(
            since=date(2026, 8, 11),
            banned=False,
            bloctel_exempt=True,
            consent_exempt=True,
            legal_basis="Code de la consommation, art. L223-5 (journaux, périodiques, "
            "magazines): hors du champ des interdictions de l'article L223-1, donc sans "
            "consentement préalable (rédaction issue de la loi n° 2025-594)",
            note="press stays bound by days, hours, frequency, refusal and internal opposition",
        ),
    )),
)
SECTORS: Mapping[str, tuple[SectorVersion, ...]] = {name: v for name, _, v in _SECTORS}
SECTOR_LABELS: Mapping[str, str] = {name: label for name, label, _ in _SECTORS}
#: The label of the rule ``sector`` a reason code names (``SECTOR_BANNED``): every sector's.
SECTOR_RULE_LABEL = "Secteurs réglementés"

#: Every versioned rule: its id (the ``rule`` field of a ``Reason``), its French label and its
#: versions. A sector's rule is ``sector:<name>``, labelled from its sector.
_RULES: tuple[tuple[str, str, tuple[Version, ...]], ...] = (
    ("suspension", "Suspension du client", SUSPENSION),
    ("throttle", "Seuils d'abus (limitation)", THROTTLE),
    ("callee_number", "Numéro appelé", CALLEE_NUMBER),
    ("caller_id", "Numéro présenté", CALLER_ID),
    ("caller_id_ranges", "Numéros interdits comme numéro présenté", CALLER_ID_RANGES),
    ("numbering_plan", "Plan de numérotation", NUMBERING),
    ("mobile_cli", "Numéro mobile présenté", MOBILE_CLI),
    ("canvassing_range", "Tranches dédiées au démarchage", CANVASSING_RANGE),
    ("quarantine", "Quarantaine des numéros non attribués", QUARANTINE),
    ("internal_opposition", "Opposition interne", INTERNAL_OPPOSITION),
    ("hours", "Jours et horaires d'appel", HOURS),
    ("frequency", "Fréquence des sollicitations", FREQUENCY),
    ("refusal_cooldown", "Délai après un refus", REFUSAL_COOLDOWN),
    ("opposition", "Opposition / consentement préalable", OPPOSITION),
    ("bloctel_freshness", "Fraîcheur de la liste BLOCTEL", BLOCTEL_FRESHNESS),
    ("consent_lifetime", "Durée de validité du consentement", CONSENT_LIFETIME),
    ("prerecorded", "Messages préenregistrés (automates d'appel)", PRERECORDED),
    ("tariffs", "Pénalités contractuelles", TARIFFS),
    *((f"sector:{name}", "Secteur : " + label, versions)
      for name, label, versions in _SECTORS if versions),
)
RULES: Mapping[str, tuple[Version, ...]] = {rule: versions for rule, _, versions in _RULES}
RULE_LABELS: Mapping[str, str] = {rule: label for rule, label, _ in _RULES}

# --------------------------------------------------------------------------------------------
# Reason codes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CodeSpec:
    code: str
    rule: str
    severity: Literal["block", "notice"]
    label: str  # French, for the compliance officer (the audit report, GET /v1/rules)
    description: str
    legal_basis: str | None = None  # None: the basis of the rule's version in force
    severity_note: str = ""


_CODES: tuple[CodeSpec, ...] = (
    CodeSpec(code="TENANT_SUSPENDED", rule="suspension", severity="block",
             label="Client suspendu par l'opérateur",
             description="The operator suspended the tenant: every call is refused."),
    CodeSpec(code="RATE_THROTTLED", rule="throttle", severity="block",
             label="Appels limités : seuil d'abus franchi",
             description="An abuse monitor of the tenant (volume, denied share…) crossed its "
             "threshold: calls in its scope (the tenant, a campaign or a caller ID) are refused "
             "until its window clears (next_allowed_at)."),
    CodeSpec(code="CALLEE_INVALID", rule="callee_number", severity="block",
             label="Numéro appelé invalide",
             description="The called number is unparsable or outside the assigned ranges of "
             "the numbering plan."),
    CodeSpec(code="CALLEE_SPECIAL_SERVICE", rule="callee_number", severity="block",
             label="Numéro appelé : service spécial",
             description="The called number is a special service (toll-free 08 0x, shared-cost "
             "08 1x/08 2x, premium-rate 08 9x, short number, 118 xxx, satellite): calling it "
             "for canvassing generates artificial traffic."),
    CodeSpec(code="CALLEE_NOT_SERVED", rule="callee_number", severity="block",
             label="Numéro appelé hors numérotation française",
             severity_note="notice when the tenant policy allows foreign destinations",
             description="The called number is outside French numbering (metropolitan France, "
             "+262, +508, +590, +594, +596)."),
    CodeSpec(code="CALLER_ID_MISSING", rule="caller_id", severity="block",
             label="Numéro présenté absent (masqué)",
             description="No number is presented: a professional may not canvass with a "
             "masked number."),
    CodeSpec(code="CALLER_ID_INVALID", rule="caller_id", severity="block",
             label="Numéro présenté invalide",
             description="The presented number is not a valid number of the numbering plan."),
    CodeSpec(code="CALLER_ID_SPECIAL_SERVICE", rule="caller_id", severity="block",
             label="Numéro présenté interdit (089, 118, court, coût partagé)",
             legal_basis=ARRETE_2016_CLI + "; " + SHORT_NUMBERS_PLAN + "; " + OPERATOR_TERMS,
             severity_note="a shared-cost 08 1x/08 2x number is allowed on automated "
             "campaigns when the tenant policy automated_shared_cost_cli is on",
             description="The presented number may never be a caller ID: premium-rate 089 "
             "numbers, 118 XYZ directory numbers and short numbers 3BPQ other than 30PQ/31PQ "
             "(arrêté du 5 juillet 2016, L221-17), other short numbers (10XY, emergency "
             "numbers…), other premium-rate numbers, and shared-cost numbers (08 1x/08 2x) "
             "unless the tenant policy admits them for automated campaigns. A free 08 0x "
             "number is a lawful caller ID."),
    CodeSpec(code="CALLER_ID_NOT_OWNED", rule="caller_id", severity="block",
             label="Numéro présenté non enregistré par le client",
             description="The presented number is not registered by the tenant (presenting "
             "another person's number is spoofing)."),
    CodeSpec(code="CALLER_ID_NOT_IN_CAMPAIGN", rule="caller_id", severity="block",
             label="Numéro présenté hors campagne",
             description="The presented number is not attached to the campaign."),
    CodeSpec(code="CALLER_ID_NOT_VERIFIED", rule="caller_id", severity="block",
             label="Numéro présenté non vérifié par l'opérateur",
             legal_basis=ARCEP_2025_2215 + "; " + OPERATOR_TERMS + " (vérification des "
             "numéros présentés)",
             severity_note="only where the operator requires verification "
             "(GATEWAY_CALLER_ID_VERIFICATION=required)",
             description="The presented number is registered by the tenant but the operator "
             "has not yet verified that it is the tenant's (the operator restricts calls to "
             "the caller IDs it verified)."),
    CodeSpec(code="CALLER_ID_MOBILE_AUTOMATED", rule="mobile_cli", severity="block",
             label="Numéro mobile présenté pour des appels automatisés",
             description="Mobile numbers (06, 07, overseas mobile ranges) are reserved for "
             "interpersonal communication: an automated calling system may not present one."),
    CodeSpec(code="CALLER_ID_MOBILE_SHARED", rule="mobile_cli", severity="block",
             label="Numéro mobile partagé",
             description="A mobile number is assigned to a single natural person: it is "
             "presented for a call placed by another agent."),
    CodeSpec(code="CALLER_ID_MOBILE_VOLUME", rule="mobile_cli", severity="block",
             label="Volume quotidien d'un numéro mobile dépassé",
             description="Daily volume presented from one mobile number exceeds the tenant cap "
             "(Paris calendar day), a sign of non-interpersonal use."),
    CodeSpec(code="CALLER_ID_NOT_CANVASSING_RANGE", rule="canvassing_range", severity="block",
             label="Appel automatisé sans numéro polyvalent vérifié (NPV)",
             description="The presented number is not a verified number (NPV) for automated "
             "calls: an automated calling system, commercial or not, must present a numéro "
             "polyvalent vérifié (01 62, 01 63, 02 70, 02 71, 03 77, 03 78, 04 24, 04 25, "
             "05 68, 05 69, 09 48, 09 49; overseas 09 475 to 09 479) or a special-rate number "
             "other than 089: a free 08 0x number, or a shared-cost 08 1x/08 2x number where "
             "the tenant policy automated_shared_cost_cli allows it. Geographic, 09 (09 37-09 "
             "39 platform numbers included) and foreign numbers do not qualify."),
    CodeSpec(code="CALLEE_UNASSIGNED", rule="quarantine", severity="block",
             label="Numéro non attribué (quarantaine)",
             description="The number was reported unassigned and is quarantined."),
    CodeSpec(code="INTERNAL_OPPOSITION", rule="internal_opposition", severity="block",
             label="Opposition interne",
             description="The person asked this professional never to be called again."),
    CodeSpec(code="WEEKEND", rule="hours", severity="block",
             label="Samedi ou dimanche",
             description="Canvassing a consumer is allowed Monday to Friday only, unless the "
             "consumer gave express prior consent to be called outside these days."),
    CodeSpec(code="PUBLIC_HOLIDAY", rule="hours", severity="block",
             label="Jour férié",
             description="No canvassing on a public holiday of code du travail art. L3133-1 "
             "(and, per tenant policy, local holidays: Alsace-Moselle, overseas territories)."),
    CodeSpec(code="OUTSIDE_HOURS", rule="hours", severity="block",
             label="Hors des horaires autorisés",
             description="Canvassing a consumer is allowed 10:00-13:00 and 14:00-20:00 in the "
             "consumer's time zone only, unless express prior consent was given."),
    CodeSpec(code="FREQUENCY_LIMIT", rule="frequency", severity="block",
             label="Fréquence maximale atteinte",
             description="A professional may canvass or attempt to canvass one consumer at "
             "most 4 times in 30 calendar days."),
    CodeSpec(code="REFUSAL_COOLDOWN", rule="refusal_cooldown", severity="block",
             label="Délai après refus non écoulé",
             description="After the consumer refused during a conversation, no contact or "
             "attempt before 60 full calendar days have elapsed."),
    CodeSpec(code="BLOCTEL_LISTED", rule="opposition", severity="block",
             label="Inscrit sur BLOCTEL",
             legal_basis=L223_1_OPT_OUT,
             severity_note="from 2026-08-11 a notice whatever the consent or contract, "
             "unless the tenant policy keeps it blocking",
             description="The consumer is registered on the Bloctel opposition list (until "
             "2026-08-10: and no ongoing related contract or recorded consent exempts the call)."),
    CodeSpec(code="BLOCTEL_LIST_STALE", rule="bloctel_freshness", severity="block",
             label="Liste BLOCTEL périmée",
             description="The Bloctel list in use is more than 30 days old: files must be "
             "cleaned against the list at least monthly (until 2026-08-10)."),
    CodeSpec(code="BLOCTEL_LIST_MISSING", rule="bloctel_freshness", severity="block",
             label="Liste BLOCTEL absente",
             description="No Bloctel list was ever imported: the call cannot be checked against "
             "the opposition list (until 2026-08-10)."),
    CodeSpec(code="CONSENT_REQUIRED", rule="opposition", severity="block",
             label="Consentement préalable absent",
             legal_basis=L223_1_OPT_IN,
             description="From 2026-08-11 a consumer may be canvassed only with prior, free, "
             "specific, informed and unambiguous consent that the professional can prove, or "
             "within an ongoing contract and related to its subject."),
    CodeSpec(code="CONSENT_REVOKED", rule="opposition", severity="block",
             label="Consentement retiré",
             legal_basis=L223_1_OPT_IN,
             description="The consumer's consent was revoked or withdrawn (a refusal during a "
             "call withdraws it): a new consent is needed."),
    CodeSpec(code="CONSENT_EXPIRED", rule="consent_lifetime", severity="block",
             label="Consentement expiré (un an au plus)",
             description="The consumer's consent has lapsed: a consent is valid at most 365 "
             "days from its collection (the anniversary instant included, one second later "
             "expired), without tacit renewal, or less when its own expiry or the tenant "
             "policy (consent_max_age_days) is shorter. A consent collected before 2026-08-11 "
             "is judged by the same ceiling. A new consent is needed."),
    CodeSpec(code="CONSENT_INVALID", rule="opposition", severity="block",
             label="Consentement nul (vente liée ou sans information)",
             legal_basis=CONSENT_VALIDITY_BASIS,
             description="The only consent on record is void: it was a condition of a sale "
             "(tied sale), or it was collected without the information notice (not an "
             "informed consent). A new, free and informed consent is needed."),
    CodeSpec(code="PRERECORDED_WITHOUT_CONSENT", rule="prerecorded", severity="block",
             label="Message préenregistré sans consentement",
             description="A prerecorded message (automated calling machine with no human "
             "operator) for commercial purposes needs the person's prior consent to "
             "canvassing, or an ongoing contract related to the campaign's subject, in both "
             "regimes (CPCE art. L34-5)."),
    CodeSpec(code="SECTOR_BANNED", rule="sector", severity="block",
             label="Secteur interdit de démarchage",
             legal_basis="Code de la consommation, art. L223-1 (lois n° 2020-901 et "
             "n° 2025-594); code du travail, art. L6323-8-1; " + OPERATOR_TERMS,
             description="Canvassing is banned in this sector (energy renovation, home "
             "adaptation, personal training account, premium-rate callbacks), except within "
             "an ongoing contract where the law allows it."),
)

CODES: Mapping[str, CodeSpec] = {spec.code: spec for spec in _CODES}


def code_label(code: str) -> str:
    """The French label of a reason code or a penalty code; an unknown code as it is."""
    spec = CODES.get(code)
    return spec.label if spec else PENALTY_LABELS.get(code, code)


def rule_label(rule: str) -> str:
    """The French label of a rule id (``sector:<name>`` included); an unknown one as it is,
    an unknown sector by its name."""
    if rule in RULE_LABELS:
        return RULE_LABELS[rule]
    if rule == "sector":
        return SECTOR_RULE_LABEL
    if rule.startswith("sector:"):
        sector = rule.split(":", 1)[1]
        return "Secteur : " + SECTOR_LABELS.get(sector, sector.replace("_", " "))
    return rule

# --------------------------------------------------------------------------------------------
# Look-ups
# --------------------------------------------------------------------------------------------


def paris_date(at: datetime) -> date:
    """The Europe/Paris civil date of an aware instant (naive instants are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return at.astimezone(PARIS).date()


V = TypeVar("V", bound="Version")


def in_force(versions: tuple[V, ...], on: date) -> V | None:
    """The version in force on a Paris date, or None before the first one."""
    i = bisect_right([v.since for v in versions], on)
    return versions[i - 1] if i else None


@dataclass(frozen=True)
class RuleSet:
    """The versions in force on one Paris date."""

    day: date
    version: str
    rules: Mapping[str, Version | None] = field(repr=False)

    def get(self, rule: str) -> Version | None:
        return self.rules.get(rule)


@lru_cache(maxsize=4096)
def ruleset_for(day: date) -> RuleSet:
    rules = {rule: in_force(versions, day) for rule, versions in RULES.items()}
    sinces = [v.since for v in rules.values() if v is not None and v.since != ALWAYS]
    latest = max(sinces, default=None)
    name = f"fr-{latest.isoformat()}" if latest else "fr-base"
    return RuleSet(day=day, version=name, rules=rules)


def ruleset_version(at: datetime | date) -> str:
    """``"fr-YYYY-MM-DD"``: the latest ``since`` among the versions in force at ``at``."""
    day = at if not isinstance(at, datetime) else paris_date(at)
    return ruleset_for(day).version


def regime_on(day: date) -> Literal["opt_out", "opt_in"]:
    v = in_force(OPPOSITION, day)
    return v.regime if v else "opt_out"


def consent_valid_until(
    given_at: datetime, expires_at: datetime | None, on: date,
    max_age_days: int | None = None,
) -> datetime | None:
    """The last instant a consent collected at ``given_at`` is valid, judged under the rules in
    force on the Paris date ``on`` (rules-fr.md §5): collection + 365 days from 2026-08-11
    (inclusive: one second later it has expired), or earlier: the tenant policy's
    ``max_age_days`` (it only tightens) and ``expires_at`` (the first instant it is no longer
    valid, so the last valid instant is one second before). None: no limit at all (before
    2026-08-11, with neither an ``expires_at`` nor a policy)."""
    lifetime = ruleset_for(on).get("consent_lifetime")
    return consent_limit(given_at, expires_at, lifetime, max_age_days)


def consent_limit(
    given_at: datetime, expires_at: datetime | None, lifetime: Version | None,
    max_age_days: int | None = None,
) -> datetime | None:
    """``consent_valid_until`` with the ``consent_lifetime`` version in force already looked up
    (the rules have it in their rule set: no look-up per consent on the check path)."""
    ceiling = lifetime.max_days if isinstance(lifetime, ConsentLifetimeVersion) else None
    if ceiling is None or (max_age_days is not None and max_age_days < ceiling):
        ceiling = max_age_days
    until = given_at + timedelta(days=ceiling) if ceiling is not None else None
    if expires_at is not None:
        last = expires_at - timedelta(seconds=1)
        if until is None or last < until:
            until = last
    return until


@lru_cache(maxsize=4096)
def sector_version(sector: str, day: date) -> SectorVersion | None:
    return in_force(SECTORS.get(sector, ()), day)


@dataclass(frozen=True, kw_only=True)
class RulesetVersionInfo:
    id: str
    effective: date
    changes: tuple[tuple[str, str], ...]  # (rule id, legal basis) of the versions starting then
    until: date | None = None  # last Paris day in force; None: still in force


@lru_cache(maxsize=1)
def ruleset_versions() -> tuple[RulesetVersionInfo, ...]:
    """Every rule set version, oldest first, with the rule versions that start on its date and
    the last day it is in force (the day before the next one)."""
    by_day: dict[date, list[tuple[str, str]]] = {}
    for rule, versions in RULES.items():
        for v in versions:
            if v.since != ALWAYS:
                by_day.setdefault(v.since, []).append((rule, v.legal_basis))
    days = sorted(by_day)
    return tuple(
        RulesetVersionInfo(
            id=f"fr-{day.isoformat()}", effective=day, changes=tuple(by_day[day]),
            until=days[i + 1] - timedelta(days=1) if i + 1 < len(days) else None,
        )
        for i, day in enumerate(days)
    )


@dataclass(frozen=True, kw_only=True)
class RulesetSpan:
    """A rule set version in force during part of a period."""

    id: str
    effective: date | None  # None: "fr-base", before any dated rule
    until: date | None  # last Paris day in force; None: still in force
    changes: tuple[tuple[str, str], ...]


def ruleset_versions_between(first: date, last: date) -> tuple[RulesetSpan, ...]:
    """The rule set versions in force on at least one Paris day of ``first`` … ``last``
    (inclusive), oldest first; empty when ``last`` is before ``first``."""
    if last < first:
        return ()
    every = ruleset_versions()
    out = [
        RulesetSpan(id=v.id, effective=v.effective, until=v.until, changes=v.changes)
        for v in every
        if v.effective <= last and (v.until is None or first <= v.until)
    ]
    if not every or first < every[0].effective:
        until = every[0].effective - timedelta(days=1) if every else None
        out.insert(0, RulesetSpan(id="fr-base", effective=None, until=until, changes=()))
    return tuple(out)


def rule_versions(rule: str) -> tuple[tuple[Version, date | None], ...]:
    """The versions of one rule, oldest first, each with its last day in force (None: still
    in force)."""
    versions = RULES.get(rule, ())
    return tuple(
        (v, versions[i + 1].since - timedelta(days=1) if i + 1 < len(versions) else None)
        for i, v in enumerate(versions)
    )


@dataclass(frozen=True, kw_only=True)
class CatalogEntry:
    code: str
    rule: str
    severity: Literal["block", "notice"]
    label: str
    legal_basis: str
    description: str
    severity_note: str = ""
    since: date | None = None  # first day the code can be returned (None: always)
    until: date | None = None  # last day (None: still in force)


def _latest(versions: tuple[Version, ...]) -> Version | None:
    return versions[-1] if versions else None


def catalog() -> tuple[CatalogEntry, ...]:
    """Every reason code with its severity, French label, legal basis and description
    (GET /v1/rules)."""
    out = []
    for spec in _CODES:
        versions = RULES.get(spec.rule, ())
        latest = _latest(versions)
        basis = spec.legal_basis or (latest.legal_basis if latest else OPERATOR_TERMS)
        since = versions[0].since if versions and versions[0].since != ALWAYS else None
        until = None
        if spec.rule == "bloctel_freshness":
            basis = versions[0].legal_basis
            ended = [v.since for v in BLOCTEL_FRESHNESS if v.max_age_days is None]
            until = ended[0] - timedelta(days=1) if ended else None
        if spec.code in {"CONSENT_REQUIRED", "CONSENT_REVOKED", "CONSENT_INVALID"}:
            since = next(v.since for v in OPPOSITION if v.regime == "opt_in")
        out.append(
            CatalogEntry(
                code=spec.code,
                rule=spec.rule,
                severity=spec.severity,
                label=spec.label,
                legal_basis=basis,
                description=spec.description,
                severity_note=spec.severity_note,
                since=since,
                until=until,
            )
        )
    return tuple(out)
