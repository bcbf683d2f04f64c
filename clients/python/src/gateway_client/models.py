"""Typed results. Each keeps the gateway's JSON as ``raw`` (fields added later stay reachable).

Parsing is strict where a dialer's safety depends on it (``decision`` must be ``allow`` or
``deny``, money a decimal, instants ISO 8601 with an offset): anything else is a
``MalformedResponse``, which ``decide`` turns into "do not dial".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from gateway_client.errors import GatewayClientError, MalformedResponse

DecisionValue = Literal["allow", "deny"]
OutcomeStatus = Literal[
    "answered", "no_answer", "busy", "rejected", "unassigned", "failed", "not_dialed"]


def _obj(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise MalformedResponse(f"{what}: expected a JSON object, got {type(raw).__name__}",
                                body=raw)
    return raw


def _get(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str,
         *, optional: bool = False) -> Any:
    if key not in raw:
        if optional:
            return None
        raise MalformedResponse(f"{what}: no {key!r}", body=raw)
    value = raw[key]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedResponse(f"{what}: {key!r} is {value!r}", body=raw)
    return value


def _money(raw: Mapping[str, Any], key: str, what: str) -> Decimal:
    value = _get(raw, key, (str, int, float), what)
    try:
        out = Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedResponse(f"{what}: {key!r} is not a decimal: {value!r}",
                                body=raw) from exc
    if not out.is_finite():
        raise MalformedResponse(f"{what}: {key!r} is not a decimal: {value!r}", body=raw)
    return out


def _instant(raw: Mapping[str, Any], key: str, what: str, *,
             optional: bool = False) -> datetime | None:
    value = _get(raw, key, str, what, optional=optional)
    if value is None:
        return None
    try:
        out = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedResponse(f"{what}: {key!r} is not ISO 8601: {value!r}", body=raw) from exc
    if out.tzinfo is None:
        raise MalformedResponse(f"{what}: {key!r} has no offset: {value!r}", body=raw)
    return out


@dataclass(frozen=True)
class Reason:
    """Why a call is denied (``severity == "block"``) or a notice about it."""

    code: str
    severity: str
    legal_basis: str
    message: str

    @classmethod
    def from_json(cls, raw: Any) -> Reason:
        r = _obj(raw, "reason")
        return cls(code=_get(r, "code", str, "reason"),
                   severity=_get(r, "severity", str, "reason"),
                   legal_basis=_get(r, "legal_basis", str, "reason") or "",
                   message=_get(r, "message", str, "reason"))


@dataclass(frozen=True)
class CheckResult:
    """The answer to ``check`` (a logged attempt) or ``evaluate`` (``attempt_id`` None)."""

    attempt_id: str | None
    decision: DecisionValue
    callee: str
    callee_time_zone: str
    regime: str
    checked_at: datetime
    reasons: tuple[Reason, ...]
    penalty_eur: Decimal
    next_allowed_at: datetime | None
    ruleset_version: str | None
    campaign: str | None
    external_id: str | None
    replayed: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    @property
    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    @classmethod
    def from_json(cls, raw: Any, what: str = "decision") -> CheckResult:
        r = _obj(raw, what)
        decision = _get(r, "decision", str, what)
        if decision not in ("allow", "deny"):
            raise MalformedResponse(f"{what}: unexpected decision {decision!r}", body=raw)
        reasons = _get(r, "reasons", list, what)
        return cls(
            attempt_id=_get(r, "attempt_id", str, what, optional=True),
            decision=cast(DecisionValue, decision),
            callee=_get(r, "callee", str, what),
            callee_time_zone=_get(r, "callee_time_zone", str, what, optional=True) or "",
            regime=_get(r, "regime", str, what, optional=True) or "",
            checked_at=cast(datetime, _instant(r, "checked_at", what)),
            reasons=tuple(Reason.from_json(x) for x in reasons),
            penalty_eur=_money(r, "penalty_eur", what),
            next_allowed_at=_instant(r, "next_allowed_at", what, optional=True),
            ruleset_version=_get(r, "ruleset_version", str, what, optional=True),
            campaign=_get(r, "campaign", str, what, optional=True),
            external_id=_get(r, "external_id", str, what, optional=True),
            replayed=bool(_get(r, "replayed", bool, what, optional=True)),
            raw=dict(r),
        )


@dataclass(frozen=True)
class Attempt(CheckResult):
    """A stored attempt (``get_attempt``): its decision, then what its outcome said."""

    outcome_status: str | None = None
    dialled_despite_deny: bool = False

    @classmethod
    def from_json(cls, raw: Any, what: str = "attempt") -> Attempt:
        base = CheckResult.from_json(raw, what)
        r = base.raw
        return cls(**{k: getattr(base, k) for k in CheckResult.__dataclass_fields__},
                   outcome_status=_get(r, "outcome_status", str, what, optional=True),
                   dialled_despite_deny=bool(
                       _get(r, "dialled_despite_deny", bool, what, optional=True)))


@dataclass(frozen=True)
class Penalty:
    code: str
    amount_eur: Decimal


@dataclass(frozen=True)
class OutcomeResult:
    """The recorded outcome of an attempt (the same answer when reported twice)."""

    attempt_id: str
    decision: str
    status: str
    sip_code: int | None
    duration_s: int
    consumer_refused: bool
    consumer_opposed: bool
    recorded_at: datetime
    counted_for_frequency: bool
    penalties: tuple[Penalty, ...]
    penalty_eur: Decimal
    dialled_despite_deny: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: Any) -> OutcomeResult:
        w = "outcome"
        r = _obj(raw, w)
        penalties = tuple(
            Penalty(code=_get(_obj(p, w), "code", str, w),
                    amount_eur=_money(_obj(p, w), "amount_eur", w))
            for p in (_get(r, "penalties", list, w, optional=True) or []))
        return cls(
            attempt_id=_get(r, "attempt_id", str, w), decision=_get(r, "decision", str, w),
            status=_get(r, "status", str, w), sip_code=_get(r, "sip_code", int, w, optional=True),
            duration_s=_get(r, "duration_s", int, w),
            consumer_refused=_get(r, "consumer_refused", bool, w),
            consumer_opposed=_get(r, "consumer_opposed", bool, w),
            recorded_at=cast(datetime, _instant(r, "recorded_at", w)),
            counted_for_frequency=_get(r, "counted_for_frequency", bool, w),
            penalties=penalties, penalty_eur=_money(r, "penalty_eur", w),
            dialled_despite_deny=bool(_get(r, "dialled_despite_deny", bool, w, optional=True)),
            raw=dict(r),
        )


@dataclass(frozen=True)
class RejectedRow:
    line: int
    value: str
    error: str


@dataclass(frozen=True)
class ImportReport:
    """What a bulk import did: ``lines`` = created + updated + unchanged + rejected + blank."""

    import_id: str
    kind: str
    lines: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    blank: int
    rejected_samples: tuple[RejectedRow, ...]
    reasons: dict[str, int]
    sha256: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: Any) -> ImportReport:
        w = "import report"
        r = _obj(raw, w)
        samples = tuple(
            RejectedRow(line=_get(_obj(s, w), "line", int, w),
                        value=_get(_obj(s, w), "value", str, w),
                        error=_get(_obj(s, w), "error", str, w))
            for s in (_get(r, "rejected_samples", list, w, optional=True) or []))
        return cls(
            import_id=_get(r, "import_id", str, w), kind=_get(r, "kind", str, w),
            lines=_get(r, "lines", int, w), created=_get(r, "created", int, w),
            updated=_get(r, "updated", int, w), unchanged=_get(r, "unchanged", int, w),
            rejected=_get(r, "rejected", int, w), blank=_get(r, "blank", int, w),
            rejected_samples=samples,
            reasons=dict(_get(r, "reasons", dict, w, optional=True) or {}),
            sha256=_get(r, "sha256", str, w), raw=dict(r),
        )


@dataclass(frozen=True)
class ScrubResult:
    """The annotated prospect file (``content``, CSV bytes; ``None`` when written to ``into``)
    and the counts from the answer's headers."""

    content: bytes | None
    rows: int
    callable: int
    at: datetime | None
    content_type: str

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8-sig")


@dataclass(frozen=True)
class Decision:
    """``decide``'s answer. ``dial`` is True only for a 200 answer whose decision is ``allow``;
    on any error it is False and ``error`` says why. ``attempt_id`` is there whenever the
    gateway logged the attempt (report the outcome to it, ``not_dialed`` if you did not dial)."""

    dial: bool
    attempt_id: str | None
    reasons: tuple[Reason, ...] = ()
    error: GatewayClientError | Exception | None = None
    result: CheckResult | None = None
    external_id: str | None = None

    @property
    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def __bool__(self) -> bool:
        return self.dial

    @classmethod
    def of(cls, result: CheckResult, external_id: str) -> Decision:
        return cls(dial=result.decision == "allow" and result.attempt_id is not None,
                   attempt_id=result.attempt_id, reasons=result.reasons, result=result,
                   external_id=external_id)

    @classmethod
    def failed(cls, error: Exception, external_id: str | None) -> Decision:
        return cls(dial=False, attempt_id=None, error=error, external_id=external_id)


__all__ = [
    "Attempt", "CheckResult", "Decision", "DecisionValue", "ImportReport", "OutcomeResult",
    "OutcomeStatus", "Penalty", "Reason", "RejectedRow", "ScrubResult",
]
