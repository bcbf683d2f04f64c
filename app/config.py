"""Configuration from environment variables (12-factor).

* ``DATABASE_URL`` (``sqlite:///data/gateway.db``): SQLAlchemy URL; ``postgresql://…`` uses
  psycopg 3.
* ``GATEWAY_FROZEN_NOW`` (unset): ISO 8601 instant that freezes the rules' clock (tests, demos,
  replays).
* ``GATEWAY_CACHE_TTL_S`` (``1.0``): how long a worker trusts its cached keys, tenants and
  campaigns.
* ``GATEWAY_BLOCTEL_POLL_S`` (``0.25``): how often each worker asks which BLOCTEL version is
  active (a new version is served within this plus its load time).
* ``GATEWAY_BLOCTEL_MAX_REJECTED`` (``0.05``): share of rejected lines above which an import is
  refused unless forced.
* ``GATEWAY_LOG_LEVEL`` (``info``).
* PostgreSQL's connections (``app.db``; a lost database is a 503, never a hang):
  ``GATEWAY_DB_CONNECT_TIMEOUT_S`` (``2``, psycopg's floor), ``GATEWAY_DB_LOOP_TIMEOUT_MS``
  (``2000``), ``GATEWAY_DB_STATEMENT_TIMEOUT_MS`` (``0``: off), ``GATEWAY_DB_POOL_TIMEOUT_S``
  (``2``), ``GATEWAY_DB_TCP_USER_TIMEOUT_MS`` (``10000``), ``GATEWAY_DB_DOWN_HOLD_MS``
  (``500``), ``GATEWAY_READYZ_TIMEOUT_MS`` (``1000``).
* ``GATEWAY_CALLER_ID_VERIFICATION`` (``off``): ``required``: a caller ID is usable only once
  the operator verified it.
* Uploads (``app.uploads``): ``GATEWAY_UPLOAD_STALL_S`` (``60``), ``GATEWAY_UPLOAD_MAX_SECONDS``
  (``1800``), ``GATEWAY_IMPORT_MAX_BYTES`` / ``GATEWAY_SCRUB_MAX_BYTES`` (1 GiB),
  ``GATEWAY_BLOCTEL_MAX_BYTES`` (2 GiB), ``GATEWAY_IMPORT_MAX_ROWS`` /
  ``GATEWAY_SCRUB_MAX_ROWS`` (10 M), ``GATEWAY_IMPORT_MAX_REJECTED`` (``0.05``),
  ``GATEWAY_SCRUB_MAX_INVALID`` (``0.5``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(default="sqlite:///data/gateway.db", alias="DATABASE_URL")
    frozen_now: str | None = Field(default=None, alias="GATEWAY_FROZEN_NOW")
    clock_offset_s: float = Field(default=0.0, alias="GATEWAY_CLOCK_OFFSET_S")
    cache_ttl_s: float = Field(default=1.0, alias="GATEWAY_CACHE_TTL_S", ge=0)
    bloctel_poll_s: float = Field(default=0.25, alias="GATEWAY_BLOCTEL_POLL_S", gt=0)
    bloctel_max_rejected: float = Field(
        default=0.05, alias="GATEWAY_BLOCTEL_MAX_REJECTED", ge=0, le=1
    )
    log_level: str = Field(default="info", alias="GATEWAY_LOG_LEVEL")
    #: PostgreSQL only (``app.db.make_engine``): how long a database that does not answer can
    #: hold a request. Opening a connection: at most ``db_connect_timeout_s`` (libpq's
    #: ``connect_timeout``; psycopg rounds it to whole seconds, 2 at least). A statement sent
    #: from a worker's event loop (the check, authentication): no answer within
    #: ``db_loop_timeout_ms`` and the connection is closed, the request answered 503. Any other
    #: statement: PostgreSQL's ``statement_timeout`` (0: none, PostgreSQL's default), and the
    #: client gives up 1 s after it. A free pooled connection: waited for at most
    #: ``db_pool_timeout_s``. Unacknowledged data or a silent peer (kernel keepalives, 10 s idle,
    #: 3 probes 2 s apart): the socket is dropped after ``db_tcp_user_timeout_ms``. After a
    #: connection could not be opened, a worker does not try again for ``db_down_hold_ms``
    #: (its requests are 503 at once rather than each waiting).
    #: ``/readyz`` waits at most ``readyz_timeout_ms`` for its ``SELECT 1``.
    db_connect_timeout_s: int = Field(default=2, alias="GATEWAY_DB_CONNECT_TIMEOUT_S", ge=2)
    db_loop_timeout_ms: int = Field(default=2000, alias="GATEWAY_DB_LOOP_TIMEOUT_MS", ge=1)
    db_statement_timeout_ms: int = Field(
        default=0, alias="GATEWAY_DB_STATEMENT_TIMEOUT_MS", ge=0)
    db_pool_timeout_s: float = Field(default=2.0, alias="GATEWAY_DB_POOL_TIMEOUT_S", gt=0)
    db_tcp_user_timeout_ms: int = Field(
        default=10_000, alias="GATEWAY_DB_TCP_USER_TIMEOUT_MS", ge=0)
    db_down_hold_ms: int = Field(default=500, alias="GATEWAY_DB_DOWN_HOLD_MS", ge=0)
    readyz_timeout_ms: int = Field(default=1000, alias="GATEWAY_READYZ_TIMEOUT_MS", ge=1)
    #: the ledger (``app.audit.service``): how often a worker tries to seal (0: never; then
    #: ``gateway audit seal``), how long after a row's time it is sealed, the chain's HMAC key
    #: (without one, plain SHA-256), how long attempts are kept by ``gateway audit purge``
    seal_interval_s: float = Field(default=300.0, alias="GATEWAY_SEAL_INTERVAL_S", ge=0)
    seal_grace_s: float = Field(default=120.0, alias="GATEWAY_SEAL_GRACE_S", ge=0)
    ledger_key: str | None = Field(default=None, alias="GATEWAY_LEDGER_KEY")
    retention_days: int = Field(default=1096, alias="GATEWAY_RETENTION_DAYS", ge=1)
    #: alerts' webhooks (``app.alerts.delivery``): how often each worker sends what is due
    #: (0: no deliverer thread), attempts before a delivery is marked failed
    webhook_poll_s: float = Field(default=0.5, alias="GATEWAY_WEBHOOK_POLL_S", ge=0)
    webhook_max_attempts: int = Field(default=8, alias="GATEWAY_WEBHOOK_MAX_ATTEMPTS", ge=1)
    #: the operator's allow-list of on-premises webhook receivers (``app.alerts.targets``):
    #: comma-separated CIDRs and host names that may be private and use http
    webhook_allow: str = Field(default="", alias="GATEWAY_WEBHOOK_ALLOW")
    #: abuse monitors (``app.monitors``): how often they are evaluated (0: never), the
    #: operator's ceilings on tenants' thresholds (JSON object)
    monitor_interval_s: float = Field(default=5.0, alias="GATEWAY_MONITOR_INTERVAL_S", ge=0)
    monitor_ceilings: str | None = Field(default=None, alias="GATEWAY_MONITOR_CEILINGS")
    #: request rate limits per API key, by role (``app.tenancy.ratelimit``: syntax and
    #: defaults); per worker process. Empty: the defaults; ``off``: no limit.
    rate_limits: str = Field(default="", alias="GATEWAY_RATE_LIMITS")
    #: the operator's sanctions platform-wide (``app.tenancy.sanctions``): the tariff, JSON
    #: ``{"denied_attempt_penalty_eur": "0.02", "unassigned_penalty_eur": "0.02"}`` (default:
    #: rules-fr.md's amounts), and the monitors' floors, JSON ``{"monitor": {"action":
    #: "throttle", "min_events": 500}}`` (default: each monitor's documented action)
    tariff: str | None = Field(default=None, alias="GATEWAY_TARIFF")
    monitor_floors: str | None = Field(default=None, alias="GATEWAY_MONITOR_FLOORS")
    #: caller IDs (``app.campaigns``): ``required`` makes a registered caller ID usable only once
    #: the operator verified it (``CALLER_ID_NOT_VERIFIED`` until then); ``off``: no verification
    caller_id_verification: Literal["off", "required"] = Field(
        default="off", alias="GATEWAY_CALLER_ID_VERIFICATION"
    )
    #: the largest JSON request body, counted while it streams (``app.http``; uploads have
    #: their own limits): 413 above
    max_json_bytes: int = Field(default=1_048_576, alias="GATEWAY_MAX_JSON_BYTES", ge=1)
    #: the web console's sessions (``app.console``): ended after this many seconds without a
    #: page, and this many seconds after sign-in whatever the use (wall-clock time, not the
    #: rules' clock: a frozen GATEWAY_FROZEN_NOW does not keep a session alive)
    console_idle_s: float = Field(default=1800.0, alias="GATEWAY_CONSOLE_IDLE_S", gt=0)
    console_max_s: float = Field(default=43200.0, alias="GATEWAY_CONSOLE_MAX_S", gt=0)

    @field_validator("webhook_allow")
    @classmethod
    def _valid_webhook_allow(cls, value: str) -> str:
        from app.alerts.targets import parse_allow  # here: that module reads the settings

        parse_allow(value)  # a clear ValueError at start-up, not at the first delivery
        return value
    #: uploads (``app.uploads``; BLOCTEL, bulk imports, scrub): seconds without a byte before
    #: 408, seconds an upload may take to be read, bytes (raw, and once decompressed) and data
    #: rows per upload before 413; past the first rows, the rejected share at which a bulk
    #: import stops (422, ``force`` overrides) and the share of rows without a valid number at
    #: which a scrub stops
    upload_stall_s: float = Field(default=60.0, alias="GATEWAY_UPLOAD_STALL_S", gt=0)
    upload_max_seconds: float = Field(default=1800.0, alias="GATEWAY_UPLOAD_MAX_SECONDS", gt=0)
    import_max_bytes: int = Field(default=1 << 30, alias="GATEWAY_IMPORT_MAX_BYTES", gt=0)
    scrub_max_bytes: int = Field(default=1 << 30, alias="GATEWAY_SCRUB_MAX_BYTES", gt=0)
    bloctel_max_bytes: int = Field(default=2 << 30, alias="GATEWAY_BLOCTEL_MAX_BYTES", gt=0)
    import_max_rows: int = Field(default=10_000_000, alias="GATEWAY_IMPORT_MAX_ROWS", gt=0)
    scrub_max_rows: int = Field(default=10_000_000, alias="GATEWAY_SCRUB_MAX_ROWS", gt=0)
    import_max_rejected: float = Field(
        default=0.05, alias="GATEWAY_IMPORT_MAX_REJECTED", ge=0, le=1)
    scrub_max_invalid: float = Field(default=0.5, alias="GATEWAY_SCRUB_MAX_INVALID", ge=0, le=1)

    @field_validator("rate_limits")
    @classmethod
    def _valid_rate_limits(cls, value: str) -> str:
        from app.tenancy.ratelimit import parse_limits  # here: that module reads the settings

        parse_limits(value)  # a clear ValueError at start-up, not at the first request
        return value

    @field_validator("tariff")
    @classmethod
    def _valid_tariff(cls, value: str | None) -> str | None:
        from app.tenancy.sanctions import parse_tariff

        if value:
            parse_tariff(value)
        return value

    @field_validator("monitor_floors")
    @classmethod
    def _valid_floors(cls, value: str | None) -> str | None:
        import json

        from app.tenancy.monitor_policy import validate_floors

        if value:
            try:
                validate_floors(json.loads(value), where="GATEWAY_MONITOR_FLOORS")
            except ValueError as exc:
                raise ValueError(f"GATEWAY_MONITOR_FLOORS: {exc}") from exc
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the drivers we ship (pysqlite, psycopg 3)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
