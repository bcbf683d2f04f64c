"""Every domain's models, imported once so that ``Base.metadata`` is complete (Alembic)."""

from app.alerts.models import Alert, Webhook, WebhookDelivery  # noqa: F401 (tables)
from app.audit.models import LedgerPart, LedgerSeal
from app.bloctel.models import BloctelChunk, BloctelVersion
from app.calls.models import Attempt, PenaltyLine
from app.campaigns.models import CallerId, Campaign, CampaignCallerId
from app.console.models import ConsoleJob, ConsoleSession
from app.db import Base
from app.numbers.models import NumberRekey
from app.principals.models import ConsentPrincipal, Mandate, Professional
from app.registries.models import (
    Consent,
    ConsentHold,
    Contract,
    Opposition,
    Quarantine,
    Refusal,
)
from app.tenancy.models import ApiKey, Tenant

__all__ = [
    "ApiKey", "Attempt", "Base", "BloctelChunk", "BloctelVersion", "CallerId", "Campaign",
    "CampaignCallerId", "ConsoleJob", "ConsoleSession", "Consent", "ConsentHold",
    "ConsentPrincipal", "Contract", "LedgerPart",
    "LedgerSeal", "Mandate", "NumberRekey", "Opposition", "PenaltyLine", "Professional",
    "Quarantine",
    "Refusal", "Tenant",
]
