"""Request and response bodies of the alerts and webhooks API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from app.alerts import targets
from app.schemas import ApiModel


def check_url(url: str) -> str:
    """The URL's syntax, without the network: absolute http(s), a host, no spaces or control
    characters, no credentials, no fragment, and a host every parser reads alike. Where it
    may point (public addresses, https) is checked with its resolution by
    ``targets.check``. Raises ``ValueError``."""
    if url != url.strip() or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise ValueError("the URL must not contain spaces or control characters")
    if "\\" in url:
        raise ValueError("the URL must not contain a backslash")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("the URL must start with https://")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    try:
        parts.port  # noqa: B018 (raises on a port out of range or not a number)
        parsed = targets.parse(url)
    except ValueError as exc:  # targets.Refused included
        raise ValueError(f"not a usable URL: {exc}" if not isinstance(exc, targets.Refused)
                         else str(exc)) from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL must not contain credentials (user:password@)")
    ours = parsed.raw_host.decode("ascii").lower().rstrip(".")
    try:
        theirs = parts.hostname.encode("idna").decode("ascii").rstrip(".")
    except UnicodeError:
        raise ValueError("the URL's host is not a valid name") from None
    if ours != theirs.lower():
        raise ValueError("the URL's host is ambiguous")
    return url


class WebhookIn(ApiModel):
    url: str = Field(min_length=1, max_length=2000,
                     description="https:// URL that receives the signed alerts: its host "
                     "must resolve to public addresses only (or be allowed by the operator's "
                     "GATEWAY_WEBHOOK_ALLOW, which also permits http://); no "
                     "credentials, no fragment.")
    description: str | None = Field(default=None, max_length=200)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str | None
    active: bool
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: signs every delivery (X-Gateway-Signature).")


class AlertOut(BaseModel):
    id: str
    tenant: str
    monitor: str
    scope: str
    action: str
    value: float
    threshold: float
    window: str
    created_at: str
    until: str | None
    details: dict[str, Any]


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    state: str = Field(description="pending | delivered | failed")
    attempts: int
    last_status: int | None = Field(description="HTTP status of the last attempt, if any.")
    last_error: str | None = Field(description=(
        '"HTTP <status>" when the receiver answered, "delivery failed" otherwise (the cause '
        'is in the server log, not here), "webhook deleted"; null once delivered.'))
    next_attempt_at: str | None
    delivered_at: str | None
    created_at: str


class AlertDetail(AlertOut):
    deliveries: list[DeliveryOut]


class AlertsPage(BaseModel):
    items: list[AlertOut]
    limit: int
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next (older) page; null on the last page.")


class TestDelivery(BaseModel):
    alert: AlertOut
    delivery_id: str
