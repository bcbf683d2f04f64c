"""The key an erased number leaves behind (GDPR art. 17 tombstone).

``tombstone(tenant, "+33612345678")`` is stored in place of the number in every registry
(consents, contracts, oppositions, refusals, quarantines): the check path computes the same key
for each callee and still finds the opposition, while the registries no longer hold the number
in clear. It is a pseudonym, not anonymisation: whoever has
the database and a tenant id can hash every French number (about 10^9) and find it again; the
trade-off is documented in ``app.erasure.service``. It lives with the registries that store
it, below the domains that compute it (the check path, the number history, the erasure).

A tombstone cannot be re-keyed (it is a hash): before one line, one key (migration 0010) an
overseas line written "+33 2 69…" was keyed +33269…, and its tombstone was made from that key.
``tombstones(tenant, e164)`` gives every tombstone the line may have: the canonical one first
and, for an overseas line, the one made from its legacy +33 key. Look-ups use all of them.
"""

from __future__ import annotations

import hashlib

from rules_fr.numbering import legacy_key

PREFIX = "erased:"


def tombstone(tenant_id: str, e164: str) -> str:
    return PREFIX + hashlib.sha256(f"{tenant_id}|{e164}".encode()).hexdigest()


def tombstones(tenant_id: str, e164: str) -> tuple[str, ...]:
    """The canonical tombstone of ``e164`` and, for an overseas line, its legacy one."""
    canonical = tombstone(tenant_id, e164)
    legacy = legacy_key(e164)
    return (canonical,) if legacy is None else (canonical, tombstone(tenant_id, legacy))
