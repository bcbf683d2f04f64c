"""schemathesis against the real app: every operation of ``/openapi.json``, with the keys of
every role, must answer without a server error and as documented (a documented status code,
the documented content type and headers, a body that conforms to the documented schema).

Bounded and deterministic: for each operation at most 25 generated examples (valid and invalid
input, and valid input on objects that exist: the tenant's campaign, consent, attempt, number;
Hypothesis derandomised, no example database, no shrinking), each sent with the operator's,
the admin's, the compliance officer's and the dialer's key; ``BUDGET_S`` per
database. Rate limits are lifted for the run (429s would hide the answers).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import get_settings
from app.main import create_app
from app.tenancy import ratelimit
from tests.factories import CALLEE, Tenant, add_consent

#: examples per operation: generated valid input, generated invalid input, and valid input on
#: objects that exist (path parameters of the tenant's campaign, consent, attempt, number)
EXAMPLES = {"positive": 10, "negative": 7, "existing": 8}  # 25 per operation
BUDGET_S = 90.0  # per database: 3 minutes for both
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
ROLES = ("operator", "admin", "compliance", "dialer")

#: Failures found in other agents' areas while issue 11 is being merged, each with its owner;
#: reported by this test, not failed on. TEMPORARY: the integrator removes each entry once its
#: fix is merged (an entry whose operation passes is reported as removable).
TEMPORARY_EXCLUSIONS: dict[str, str] = {}


@pytest.fixture
def unlimited(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GATEWAY_RATE_LIMITS", "off")
    get_settings.cache_clear()
    ratelimit.reset()
    yield
    monkeypatch.delenv("GATEWAY_RATE_LIMITS", raising=False)
    get_settings.cache_clear()
    ratelimit.reset()


def _explore(operation: Any, mode: str, keys: dict[str, str], existing: dict[str, str],
             found: dict[str, list[str]], deadline: float) -> int:
    sent = 0
    if mode == "existing":
        known = {p.name: existing[p.name] for p in operation.path_parameters
                 if p.name in existing}
        if not known:
            return 0
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                         path_parameters=known)
    else:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

    @settings(max_examples=EXAMPLES[mode], derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def explore(case: Any) -> None:
        nonlocal sent
        if time.monotonic() > deadline:
            return
        for role, key in keys.items():
            sent += 1
            try:
                case.call_and_validate(headers={"Authorization": f"Bearer {key}"},
                                       checks=CHECKS)
            except FailureGroup as group:
                for failure in group.exceptions:
                    title = f"{role}, {mode}: {failure.title}"
                    if not any(x.startswith(title) for x in found.setdefault(
                            operation.label, [])):
                        found[operation.label].append(f"{title}\n{failure.message[:600]}\n"
                                                      f"{case.as_curl_command()}")

    # Unsatisfiable: no such example exists (e.g. negative data for an operation without input)
    with contextlib.suppress(Unsatisfiable):
        explore()
    return sent


def test_every_operation_answers_as_documented_for_every_role(
    tenant: Tenant, unlimited: None
) -> None:
    keys = {role: getattr(tenant, role) for role in ROLES}
    existing = {
        "tenant_id": tenant.id, "campaign_id": "spring-2026", "number": CALLEE,
        "principal_id": tenant.id,  # the tenant's own principal
        "consent_id": add_consent(tenant)["id"],
        "attempt_id": tenant.check(callee=CALLEE).json()["attempt_id"],
    }
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    started = time.monotonic()
    deadline = started + BUDGET_S
    found: dict[str, list[str]] = {}
    operations = sent = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in EXAMPLES:
                sent += _explore(operation, mode, keys, existing, found, deadline)
    finally:
        shutdown_lifespans()
    elapsed = time.monotonic() - started
    print(f"schemathesis: {operations} operations, {sent} requests, {elapsed:.0f} s")
    excluded = {k: v for k, v in found.items() if k in TEMPORARY_EXCLUSIONS}
    for label, failures in excluded.items():
        print(f"EXCLUDED (temporary, {TEMPORARY_EXCLUSIONS[label]}): {label}\n"
              + "\n".join(failures))
    for label in sorted(set(TEMPORARY_EXCLUSIONS) - set(found)):
        print(f"REMOVABLE exclusion (no failure left): {label}")
    failing = {k: v for k, v in found.items() if k not in TEMPORARY_EXCLUSIONS}
    assert not failing, "\n\n".join(f"{k}:\n" + "\n".join(v) for k, v in failing.items())
    assert operations >= 50
    assert elapsed < BUDGET_S + 30, f"over budget: {elapsed:.0f} s"
