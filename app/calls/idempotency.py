"""``external_id`` idempotency, like Stripe's: the key names one request, not one answer.

A check that carries an ``external_id`` stores a fingerprint of its **normalised** request
(sha256 over the fields below). A later check with the same ``external_id``:

* with the same normalised request: the stored attempt, ``replayed: true`` (counted once);
* with a different one: 409 ``idempotency_conflict`` with ``differs``, the fields that differ —
  never the stored "allow" for a number nobody checked.

What counts (``FIELDS``), each normalised as the attempt stores it:

* ``campaign`` — as given (an id);
* ``callee`` — E.164 when it parses ("06 12 34 56 78" = "+33612345678" = "0033612345678"),
  otherwise the text as sent, trimmed;
* ``caller_id`` — the same; absent and blank are the same (no caller ID);
* ``agent_id``, ``contract_ref``, ``callee_department`` — as given (``null`` is a value).

``external_id`` is the key itself; ``at`` belongs to ``/evaluate``, which never stores.

Rows stored before revision 0006 have no fingerprint: they are compared column by column
(``callee_department`` was not stored then and is not compared). ``differs`` is always computed
from the stored columns; a fingerprint that differs while every column agrees can only come from
a number longer than its column (64 characters, stored truncated): that number is named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.calls.schemas import CheckIn
from rules_fr.model import NumberInfo

#: the request's fields that make it "the same request", in ``differs`` order
FIELDS = ("campaign", "callee", "caller_id", "agent_id", "contract_ref", "callee_department")
#: the attempt's column holding each field
COLUMNS = {"campaign": "campaign_id", "callee": "callee", "caller_id": "caller_id",
           "agent_id": "agent_id", "contract_ref": "contract_ref",
           "callee_department": "callee_department"}
NUMBER_WIDTH = 64  # attempts.callee and attempts.caller_id
_VERSION = 1  # bump if FIELDS or their normalisation change (old fingerprints then differ)


@dataclass(frozen=True, slots=True)
class Request:
    """A check's request, normalised (see the module docstring)."""

    campaign: str
    callee: str
    caller_id: str | None
    agent_id: str | None
    contract_ref: str | None
    callee_department: str | None

    def fingerprint(self) -> str:
        # the fields by hand, not ``dataclasses.astuple`` (a deep copy of each: 4× the cost)
        payload = json.dumps([_VERSION, self.campaign, self.callee, self.caller_id,
                              self.agent_id, self.contract_ref, self.callee_department],
                             ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def stored(self, field: str) -> str | None:
        """The value as the attempt's column holds it (numbers truncated to the column)."""
        value = getattr(self, field)
        if field in ("callee", "caller_id") and value is not None:
            return value[:NUMBER_WIDTH]
        return value


def normalise(body: CheckIn, callee: NumberInfo, caller: NumberInfo | None) -> Request:
    """``callee``/``caller``: ``classify`` of the body's numbers (``caller`` None when absent
    or blank), as the check computes them anyway."""
    return Request(
        campaign=body.campaign,
        callee=callee.e164 or body.callee.strip(),
        caller_id=(caller.e164 or (body.caller_id or "").strip()) if caller else None,
        agent_id=body.agent_id, contract_ref=body.contract_ref,
        callee_department=body.callee_department,
    )


def differs(row: Any, request: Request) -> list[str]:
    """The fields in which ``request`` differs from the stored attempt ``row``; ``[]``: the
    same request (replay)."""
    legacy = row.request_fingerprint is None
    if not legacy and row.request_fingerprint == request.fingerprint():
        return []
    out = [
        f for f in FIELDS
        if not (legacy and f == "callee_department")
        and getattr(row, COLUMNS[f]) != request.stored(f)
    ]
    if out or legacy:
        return out
    # the fingerprints differ yet every column agrees: a number longer than its column
    return [f for f in ("callee", "caller_id")
            if len(getattr(request, f) or "") > NUMBER_WIDTH] or ["callee"]
