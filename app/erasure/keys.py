"""The key an erased number leaves behind (GDPR art. 17 tombstone).

``tombstone(tenant, "+33612345678")`` is stored in place of the number in every registry
(consents, contracts, oppositions, refusals, quarantines): the check path computes the same key
for each callee and still finds the opposition, while the registries no longer hold the number
in clear. It is a pseudonym, not anonymisation: whoever has
the database and a tenant id can hash every French number (about 10^9) and find it again; the
trade-off is documented in ``app.erasure.service``.
"""

from __future__ import annotations

import hashlib

PREFIX = "erased:"


def tombstone(tenant_id: str, e164: str) -> str:
    return PREFIX + hashlib.sha256(f"{tenant_id}|{e164}".encode()).hexdigest()
