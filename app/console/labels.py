"""The console's French vocabulary, declared once: the names the pages give to the API's
codes (roles, outcomes, consent states, monitors, caller-ID classes, import fields…).

The law's own labels — reason codes, rules, sectors — are not here: they are data of the rule
set (``rules_fr.data``: ``code_label``, ``rule_label``, ``SECTOR_LABELS``), which the pages
read from there.
"""

from __future__ import annotations

from collections.abc import Mapping

from rules_fr.data import SECTOR_LABELS

ROLE_FR: Mapping[str, str] = {"operator": "Opérateur", "admin": "Administrateur",
                              "compliance": "Conformité", "dialer": "Automate d'appel"}

#: an attempt's reported outcome (``POST /v1/calls/{id}/outcome``)
OUTCOME_FR: Mapping[str, str] = {
    "answered": "décroché", "no_answer": "sans réponse", "busy": "occupé", "failed": "échec",
    "unassigned": "non attribué", "not_dialed": "non composé", "voicemail": "messagerie",
    "rejected": "rejeté", "canceled": "annulé"}

#: a monitor's action, in an alert and in the policy
ACTION_FR: Mapping[str, str] = {"notice": "avertissement", "throttle": "ralentissement",
                                "suspend": "suspension"}

#: the abuse monitors (``app.tenancy.monitor_policy.MONITORS``)
MONITOR_FR: Mapping[str, str] = {
    "attempts_per_minute": "Tentatives par minute", "attempts_per_hour": "Tentatives par heure",
    "attempts_per_day": "Tentatives par jour",
    "denied_share": "Part de refus (15 minutes)", "penalties_per_day": "Pénalités par jour (€)",
    "unassigned_share": "Part de numéros non attribués (1 heure)",
    "short_call_share": "Part d'appels courts (24 heures)",
    "volume_jump": "Saut de volume (rapport à la médiane)",
}

#: a consent's state (``GET /v1/consents/{id}/proof``)
CONSENT_STATUS_FR: Mapping[str, str] = {
    "valid": "valide", "expired": "expiré", "revoked": "révoqué",
    "not_yet_valid": "pas encore valide", "withdrawn": "retiré par un refus"}

#: a consent's scope
SCOPE_FR: Mapping[str, str] = {"canvassing": "prospection", "outside_hours": "hors horaires"}

#: a campaign's sector: the rule set's labels
SECTOR_FR: Mapping[str, str] = SECTOR_LABELS

#: a caller ID's class (``app.campaigns``, ARCEP numbering plan)
CALLER_ID_CLASS_FR: Mapping[str, str] = {
    "canvassing": "polyvalent vérifié (démarchage)", "geographic": "géographique",
    "platform": "plateforme technique", "non_geographic": "non géographique",
    "mobile": "mobile", "toll_free": "gratuit (08 0x)", "shared_cost": "coût partagé",
    "premium_rate": "surtaxé", "short_code": "numéro court", "satellite": "satellite"}

#: the operator's tariff (``app.tenancy.sanctions.TARIFF_FIELDS``)
TARIFF_FR: Mapping[str, str] = {
    "denied_attempt_penalty_eur": "La pénalité par tentative refusée",
    "unassigned_penalty_eur": "La pénalité par numéro non attribué"}

#: the bulk importer's fields (``app.registries.bulk.fields.FIELDS``)
IMPORT_FIELD_FR: Mapping[str, str] = {
    "callee": "numéro", "given_at": "date du consentement", "scope": "portée",
    "channel": "canal", "evidence": "preuve", "expires_at": "expiration",
    "principals": "mandants", "source": "source", "notice_given": "information donnée",
    "conditional_on_sale": "vente liée", "reference": "référence", "sector": "secteur",
    "starts_on": "début", "ends_on": "fin"}
