"""French canvassing rule engine: pure functions from call facts to a decision.

>>> from rules_fr import classify, evaluate
"""

from rules_fr.data import catalog, regime_on, ruleset_version, ruleset_versions
from rules_fr.engine import evaluate
from rules_fr.model import (
    SPECIAL_SERVICE_KINDS,
    BloctelFacts,
    CallFacts,
    CampaignFacts,
    ConsentFacts,
    ContractFacts,
    Decision,
    NumberInfo,
    NumberKind,
    Policy,
    Reason,
    RegisteredCallerId,
)
from rules_fr.numbering import (
    classify,
    is_mobile,
    is_special_service,
    national_format,
    national_significant_number,
    time_zone_for_region,
)

__all__ = [
    "SPECIAL_SERVICE_KINDS",
    "BloctelFacts",
    "CallFacts",
    "CampaignFacts",
    "ConsentFacts",
    "ContractFacts",
    "Decision",
    "NumberInfo",
    "NumberKind",
    "Policy",
    "Reason",
    "RegisteredCallerId",
    "catalog",
    "classify",
    "evaluate",
    "is_mobile",
    "is_special_service",
    "national_format",
    "national_significant_number",
    "regime_on",
    "ruleset_version",
    "ruleset_versions",
    "time_zone_for_region",
]
