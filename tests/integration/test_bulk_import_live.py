"""A bulk import large enough for worker processes (past ``PARALLEL_AFTER`` records), uploaded
to a real 2-worker server: the server worker spawns them, the rows all land, nothing is left in
the temporary directory, and the server stays healthy — on SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest

from app.registries import bulk
from tests.factories import auth, make_tenant
from tests.integration.conftest import Server

pytestmark = pytest.mark.integration


def test_a_large_upload_is_validated_by_worker_processes_of_the_server(live: Server) -> None:
    n = bulk.PARALLEL_AFTER + 15_000
    body = ("numero;date_consentement;canal;preuve\n" + "".join(
        f"06{i:08d};2026-09-01T10:00:00+02:00;web;formulaire {i % 7}\n" for i in range(n))
        + "pas un numéro;2026-09-01;web;\n").encode()
    before = set(Path(tempfile.gettempdir()).glob("gateway-import-*"))
    with httpx.Client(base_url=live.base_url, timeout=120) as client:
        tenant = make_tenant(client, "Acme")
        r = client.post("/v1/consents/import", content=body,
                        headers=auth(tenant.admin) | {"Content-Type": "text/csv"})
        assert r.status_code == 200, f"{r.text}\n{live.stderr()[-3000:]}"
        got = r.json()
        assert (got["lines"], got["created"], got["rejected"]) == (n + 1, n, 1)
        assert got["rejected_samples"][0]["line"] == n + 2
        again = client.post("/v1/consents/import", content=body,
                            headers=auth(tenant.admin) | {"Content-Type": "text/csv"}).json()
        assert (again["created"], again["unchanged"]) == (0, n)
        assert client.get("/healthz").status_code == 200
    assert set(Path(tempfile.gettempdir()).glob("gateway-import-*")) == before
