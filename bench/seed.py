"""Migrate and seed one fresh database for the benchmark, through the service functions.

    DATABASE_URL=… GATEWAY_FROZEN_NOW=… python -m bench.seed OUT.json

Run by ``bench.checks`` in a subprocess (the app reads ``DATABASE_URL`` once per process).
Writes what the load generator needs: the dialer key, the campaign, and the callee pools.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

CAMPAIGN = "bench"
CALLER_ID = "+33162000001"  # ARCEP canvassing range (01 62)
#: BENCH_CONSENTS overrides it (bench.sip needs a callee per 3 allowed calls: at several
#: hundred calls/s for 10 s a step, 5,000 callees run out)
CONSENTS = int(os.environ.get("BENCH_CONSENTS", "5000"))
BLOCTEL_FROM_CONSENTED = 300
BLOCTEL_OTHERS = 700
BLOCTEL_AS_OF = date(2026, 11, 20)
SEED = 20261123
HISTORY = 20_000  # past attempts over the 60 days before the frozen instant
FROZEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
#: Consented callees no load phase dials and no past attempt names: each takes one invariant
#: burst (50 concurrent checks → exactly 4 allowed, art. D223-9) in ``bench.cluster``.
INVARIANT_CALLEES = [f"+33699000{i:03d}" for i in range(20)]


def pools(rng: random.Random) -> dict[str, list[str]]:
    consented = sorted({f"+3361{rng.randrange(10_000_000):07d}" for _ in range(CONSENTS * 2)})
    rng.shuffle(consented)
    consented = consented[:CONSENTS]
    others = [f"+3362{n:07d}" for n in rng.sample(range(10_000_000), BLOCTEL_OTHERS)]
    listed = rng.sample(consented, BLOCTEL_FROM_CONSENTED) + others
    return {"consented": consented, "bloctel": listed}


def bloctel_file(listed: list[str]) -> bytes:
    """A plain-text list as BLOCTEL ships it, national format, with a duplicate and junk."""
    lines = ["0" + n[3:] for n in listed]
    lines += [lines[0], "not-a-number", ""]
    return ("\n".join(lines) + "\n").encode()


def history(engine: Any, tenant_id: str, consented: list[str], rng: random.Random) -> int:
    """A ledger with a past, then ANALYZE, so the database plans queries as in production.

    Without it the attempts table starts empty, PostgreSQL has no statistics for it, and until
    autovacuum's first ANALYZE (up to a minute later) it picks a tenant-wide index scan for the
    per-callee look-ups: the benchmark would measure a freshly created database, not a
    running one. These rows are written with Core (the service has no back-dating API); the
    columns are the ledger's, as ``app.calls.service`` writes them.
    """
    from sqlalchemy import insert, text

    from app.calls.models import Attempt

    table = Attempt.__table__
    rows = []
    for i in range(HISTORY):
        at = FROZEN - timedelta(days=rng.uniform(0.5, 60))
        if rng.random() < 0.5:
            callee, allowed = rng.choice(consented), True
        else:
            callee, allowed = f"+336{rng.randrange(30_000_000, 99_999_999)}", False
        reasons = [] if allowed else [{
            "code": "CONSENT_REQUIRED", "severity": "block",
            "legal_basis": "Code de la consommation, art. L223-1", "message": "bench history"}]
        rows.append({
            "id": f"att_hist{i:08d}", "tenant_id": tenant_id, "campaign_id": CAMPAIGN,
            "external_id": f"hist-{i}", "callee": callee, "caller_id": CALLER_ID,
            "agent_id": None, "contract_ref": None, "checked_at": at,
            "decision": "allow" if allowed else "deny",
            "reason_codes": " ".join(r["code"] for r in reasons), "reasons": reasons,
            "regime": "opt_in", "ruleset_version": "bench-history",
            "callee_time_zone": "Europe/Paris", "next_allowed_at": None,
            "penalty_micros": 0 if allowed else 20_000, "counted": allowed,
            "outcome_status": None, "sip_code": None, "duration_s": None,
            "consumer_refused": None, "consumer_opposed": None, "outcome_at": None,
        })
    with engine.begin() as conn:
        for i in range(0, len(rows), 5_000):
            conn.execute(insert(table), rows[i : i + 5_000])
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return len(rows)


def seed(url: str) -> dict[str, Any]:
    from app.bloctel.importer import import_file
    from app.campaigns.service import register_caller_id, upsert_campaign
    from app.db import get_engine, session_scope
    from app.migrate import upgrade
    from app.registries.service import add_consent
    from app.tenancy.service import create_key, create_tenant

    timings: dict[str, float] = {}
    t = time.perf_counter()
    upgrade(url)
    timings["migrate_s"] = time.perf_counter() - t

    rng = random.Random(SEED)
    p = pools(rng)
    t = time.perf_counter()
    with session_scope(write=True) as s:
        tenant = create_tenant(s, "Bench Centre d'appels", "legal_person")
        register_caller_id(s, tenant.id, CALLER_ID, None)
        upsert_campaign(
            s, tenant.id, id=CAMPAIGN, purpose="commercial", audience="consumers",
            sector="general", automated=True, caller_ids=[CALLER_ID], create_only=True,
        )
        _, dialer_key = create_key(s, "dialer", tenant.id)
        tenant_id = tenant.id
    given = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    with session_scope(write=True) as s:
        for i, callee in enumerate(p["consented"] + INVARIANT_CALLEES):
            add_consent(
                s, tenant_id, callee=callee, scope="canvassing", given_at=given,
                channel="web_form",
                evidence={"form": "https://example.fr/optin", "ip": "203.0.113.7", "n": i},
                expires_at=None,
            )
    timings["seed_s"] = time.perf_counter() - t

    t = time.perf_counter()
    result = import_file(
        get_engine(), io.BufferedReader(io.BytesIO(bloctel_file(p["bloctel"]))),  # type: ignore[arg-type]
        mode="replace", as_of=BLOCTEL_AS_OF,
    )
    timings["bloctel_s"] = time.perf_counter() - t

    t = time.perf_counter()
    try:
        past = history(get_engine(), tenant_id, p["consented"], rng)
    except Exception as exc:  # the ledger's columns changed: run without a past, say so
        print(f"bench.seed: no attempt history ({type(exc).__name__}: {exc})", file=sys.stderr)
        past = 0
    timings["history_s"] = time.perf_counter() - t
    return {
        "tenant_id": tenant_id, "key": dialer_key, "campaign": CAMPAIGN, "caller_id": CALLER_ID,
        "pools": p, "invariant_callees": INVARIANT_CALLEES, "consents": len(p["consented"]),
        "history_attempts": past,
        "bloctel": {k: result[k] for k in ("version", "accepted", "duplicates", "rejected",
                                            "total_numbers")},
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def main(argv: list[str]) -> int:
    (out_path,) = argv
    url = os.environ["DATABASE_URL"]
    out = seed(url)
    with open(out_path, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
