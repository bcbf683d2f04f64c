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
from datetime import UTC, date, datetime
from typing import Any

CAMPAIGN = "bench"
CALLER_ID = "+33162000001"  # ARCEP canvassing range (01 62)
CONSENTS = 5_000
BLOCTEL_FROM_CONSENTED = 300
BLOCTEL_OTHERS = 700
BLOCTEL_AS_OF = date(2026, 11, 20)
SEED = 20261123


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


def seed(url: str) -> dict[str, Any]:
    from app.campaigns.service import register_caller_id, upsert_campaign
    from app.db import get_engine, session_scope
    from app.migrate import upgrade
    from app.registries.service import add_consent
    from app.tenancy.service import create_key, create_tenant
    from bloctel.importer import import_file

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
        for i, callee in enumerate(p["consented"]):
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
    return {
        "tenant_id": tenant_id, "key": dialer_key, "campaign": CAMPAIGN, "caller_id": CALLER_ID,
        "pools": p, "consents": len(p["consented"]),
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
