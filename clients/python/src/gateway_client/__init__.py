"""Client for the canvassing compliance gateway: ``GatewayClient`` (sync) and
``AsyncGatewayClient`` (async), on httpx.

A dialer asks ``decide(...)`` before every call and dials only when ``decision.dial`` is True
(any error means do not dial), then reports ``outcome(...)``. See the README.
"""

from gateway_client._async import AsyncGatewayClient
from gateway_client._core import (
    DEFAULT_BULK_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    new_external_id,
)
from gateway_client._sync import GatewayClient
from gateway_client.errors import (
    Conflict,
    Forbidden,
    GatewayClientError,
    GatewayError,
    GatewayTimeout,
    GatewayUnreachable,
    IdempotencyConflict,
    MalformedResponse,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from gateway_client.models import (
    Attempt,
    CheckResult,
    Decision,
    ImportReport,
    OutcomeResult,
    Penalty,
    Reason,
    RejectedRow,
    ScrubResult,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BULK_TIMEOUT", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "DEFAULT_TOTAL_TIMEOUT",
    "AsyncGatewayClient", "Attempt", "CheckResult", "Conflict", "Decision", "Forbidden",
    "GatewayClient", "GatewayClientError", "GatewayError", "GatewayTimeout",
    "GatewayUnreachable", "IdempotencyConflict", "ImportReport", "MalformedResponse",
    "NotFound", "OutcomeResult", "PayloadTooLarge", "Penalty", "RateLimited", "Reason",
    "RejectedRow", "ScrubResult", "ServerError", "Unauthorized", "Unavailable",
    "UnsupportedMediaType", "ValidationFailed", "new_external_id",
]
