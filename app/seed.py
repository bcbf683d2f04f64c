"""Demo data for ``make run``: one tenant, a campaign, caller IDs, a consent, fresh keys.

Its keys are labelled: the tenant's ``demo`` (admin, compliance, dialer) and the operator's
``demo-operator`` (for the README's BLOCTEL import). Seeding again revokes the keys an earlier
seed printed, so every ``make run`` leaves three tenant keys and one operator key alive.
"""

from __future__ import annotations

import json
from datetime import timedelta

from rich.console import Console
from sqlalchemy import select

from app import clock
from app.campaigns.service import register_caller_id, upsert_campaign
from app.db import session_scope
from app.registries.service import add_consent
from app.tenancy.models import Tenant
from app.tenancy.service import create_key, create_tenant, revoke_labelled

DEMO_NAME = "Démo Centre d'appels"
DEMO_CALLEE = "+33612345678"
DEMO_LABEL = "demo"
OPERATOR_LABEL = "demo-operator"


def seed_demo(base_url: str, console: Console) -> dict[str, str]:
    with session_scope(write=True) as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == DEMO_NAME))
        if tenant is None:
            tenant = create_tenant(s, DEMO_NAME, "legal_person")
            register_caller_id(s, tenant.id, "+33162000001", None)  # ARCEP canvassing range
            register_caller_id(s, tenant.id, "+33948000001", None)
            register_caller_id(s, tenant.id, "+33612000001", "agent-007")  # a mobile: one agent
            upsert_campaign(
                s, tenant.id, id="spring-2026", purpose="commercial", audience="consumers",
                sector="general", automated=True,
                caller_ids=["+33162000001", "+33948000001"], create_only=False,
            )
            add_consent(
                s, tenant.id, callee=DEMO_CALLEE, scope="canvassing",
                # a month old: valid for the next 335 days (a consent lasts a year at most,
                # R223-1), whenever the demo is seeded
                given_at=(clock.now() - timedelta(days=30)).replace(microsecond=0),
                channel="web_form",
                evidence={"form": "https://example.fr/optin", "ip": "203.0.113.7"},
                expires_at=None,
            )
        revoked = revoke_labelled(s, tenant.id, None, DEMO_LABEL)
        revoked += revoke_labelled(s, None, "operator", OPERATOR_LABEL)
        roles = ("admin", "compliance", "dialer")
        keys = {role: create_key(s, role, tenant.id, DEMO_LABEL)[1] for role in roles}
        keys["operator"] = create_key(s, "operator", None, OPERATOR_LABEL)[1]
        tenant_id = tenant.id
    body = {"campaign": "spring-2026", "callee": "06 12 34 56 78", "caller_id": "+33162000001"}
    console.print(f"[bold green]Demo tenant[/bold green] {DEMO_NAME} ({tenant_id})")
    for role in roles:
        console.print(f"  {role:<10} key: [bold]{keys[role]}[/bold]")
    console.print(f"  operator   key: [bold]{keys['operator']}[/bold]")
    console.print("  [dim](operator: the platform's key, for BLOCTEL imports and tenants)[/dim]")
    if revoked:
        console.print(f"  [dim]{revoked} demo key(s) of an earlier seed revoked[/dim]")
    console.print("\nTry a check (the answer says allow or deny, and why):")
    print(
        f"curl -s -X POST {base_url}/v1/calls/check -H 'Authorization: Bearer {keys['dialer']}' "
        f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'"
    )
    evaluate = body | {"at": "2026-11-23T10:30:00+01:00"}
    console.print("\nOr judge a given instant without logging (a Monday morning, Paris):")
    print(
        f"curl -s -X POST {base_url}/v1/calls/evaluate "
        f"-H 'Authorization: Bearer {keys['dialer']}' -H 'Content-Type: application/json' "
        f"-d '{json.dumps(evaluate)}'"
    )
    console.print(f"\nThe web console (French): [bold]{base_url}/console[/bold] — sign in with the "
                  "compliance or admin key (the operator key opens the operator's pages; "
                  "dialer keys cannot sign in).")
    return {"tenant": tenant_id, **keys}
