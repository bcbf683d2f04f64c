"""Hostile uploads against real servers (``gateway serve --workers 2``), on SQLite and PostgreSQL.

* 100 million junk lines, gzipped (a few MB on the wire), are refused with 422 and rejected
  samples within 10 s by every upload endpoint — the finding was a consents import holding a
  request and two processes for 398 s before answering 200 with 100 % rejected.
* With tight limits (a second server, ``tight``): a gzip bomb and an oversized raw body are
  413 on every upload endpoint while the workers' peak memory stays flat; a stalled upload is
  408 and releases the import lock; an upload trickling in forever is 408 at the wall-clock
  limit.

The 100 M-line file is generated lazily: one gzip member of a million junk lines is compressed
once and sent a hundred times. Concatenated members are one gzip file (RFC 1952 §2.2; what
``pigz`` and ``bgzip`` write), read as one by the server; compressing a gigabyte in one member
would cost the client more CPU than the 10 s the server is given.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Database
from tests.factories import Tenant, auth, make_tenant, operator_key
from tests.integration.conftest import (
    Server,
    pointed_at,
    serve,
)

pytestmark = pytest.mark.integration

LINES = 100_000_000
MEMBER_LINES = 1_000_000
JUNK = b"pas un numero;n'importe quoi\n"


def junk_gzip(header: bytes, lines: int = LINES, line: bytes = JUNK) -> Iterator[bytes]:
    """``header`` then ``lines`` copies of ``line``, gzipped, generated as it is sent."""
    member = gzip.compress(line * MEMBER_LINES, compresslevel=9)
    if header:
        yield gzip.compress(header)
    for _ in range(lines // MEMBER_LINES):
        yield member


def endpoints(t: Tenant, operator: str) -> dict[str, tuple[str, dict[str, str], str, bytes]]:
    """name → (path, query, key, header line)."""
    return {
        "consents import": ("/v1/consents/import", {}, t.admin,
                            b"numero;date_consentement\n"),
        "oppositions import": ("/v1/oppositions/import", {}, t.admin, b"numero;source\n"),
        "scrub": ("/v1/scrub", {"campaign": "spring-2026"}, t.dialer, b"telephone;nom\n"),
        "bloctel import": ("/v1/bloctel/imports", {"as_of": "2026-11-20"}, operator, b""),
    }


@pytest.mark.parametrize("name", ["consents import", "oppositions import", "scrub",
                                  "bloctel import"])
def test_100_million_junk_lines_are_refused_within_10_s(live: Server, name: str) -> None:
    operator = operator_key()
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        t = make_tenant(client, "Acme", operator=operator)
        path, params, key, header = endpoints(t, operator)[name]
        started = time.monotonic()
        r = client.post(path, params=params, content=junk_gzip(header),
                        headers=auth(key) | {"Content-Type": "application/gzip"})
        elapsed = time.monotonic() - started
        assert r.status_code == 422, f"{r.status_code} {r.text[:500]}"
        assert elapsed < 10, f"{name}: {elapsed:.1f} s"
        body = r.json()
        assert body["error"] in ("import_refused", "scrub_refused"), body
        report = body.get("import") or body.get("scrub")
        sample = report["rejected_samples"][0]
        assert set(sample) == {"line", "value", "error"}
        assert sample["line"] == 2 and sample["value"].startswith("pas un numero")
        assert client.get("/readyz").status_code == 200  # the server is free again
        if name == "consents import":
            assert client.get("/v1/consents", headers=auth(t.compliance)).json() == []


# --------------------------------------------------------------------------- tight limits

LIMIT = 2 << 20  # bytes, every upload endpoint
STALL_S = 2.0  # five times the trickle's 0.4 s gaps: a busy event loop can add ~1 s
MAX_SECONDS = 8.0


@pytest.fixture(scope="module")
def tight_server(database: Database, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Server]:
    """A second server with tight upload limits (same database as ``server``)."""
    with serve(database, tmp_path_factory.mktemp(f"tight-{database.backend}"),
               GATEWAY_IMPORT_MAX_BYTES=str(LIMIT), GATEWAY_SCRUB_MAX_BYTES=str(LIMIT),
               GATEWAY_BLOCTEL_MAX_BYTES=str(LIMIT), GATEWAY_UPLOAD_STALL_S=str(STALL_S),
               GATEWAY_UPLOAD_MAX_SECONDS=str(MAX_SECONDS), GATEWAY_IMPORT_WORKERS="0") as srv:
        yield srv


@pytest.fixture
def tight(tight_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    with pointed_at(tight_server, monkeypatch) as srv:
        yield srv


def peak_rss_mb(pids: set[int]) -> dict[int, float]:
    """Each worker's peak resident memory so far (VmHWM), in MB."""
    out = {}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out[pid] = int(line.split()[1]) / 1024
    return out


VALID = {"consents import": b"0612345678;2026-09-01\n", "oppositions import": b"0612345678;x\n",
         "scrub": b"0612345678;Dupont\n", "bloctel import": b"0612345678\n"}


def pinned_clients(server: Server) -> list[httpx.Client]:
    """One open (kept-alive) connection to each worker process."""
    by_worker: dict[int, httpx.Client] = {}
    spare: list[httpx.Client] = []
    for _ in range(40):
        client = httpx.Client(base_url=server.base_url, timeout=60)
        stream = client.get("/healthz").extensions["network_stream"]
        port = stream.get_extra_info("client_addr")[1]
        pid = server.worker_by_client_port().get(port)
        (spare if pid is None or pid in by_worker else []).append(client)
        if pid is not None and pid not in by_worker:
            by_worker[pid] = client
        if len(by_worker) == len(server.worker_pids):
            break
    for c in spare:
        c.close()
    assert len(by_worker) == len(server.worker_pids), "could not reach every worker"
    return list(by_worker.values())


def test_bombs_and_oversized_bodies_are_413_with_flat_memory(tight: Server) -> None:
    """Flat: each worker first takes, on each endpoint, a legitimate file just under the limit
    (its working memory: a parsed block, a sorted run, a spool); then a gzip bomb of 1 GB,
    8 MB sent raw and a declared oversized length are 413 without raising either worker's
    peak memory by more than 50 MB over that."""
    operator = operator_key()
    pinned = pinned_clients(tight)
    with httpx.Client(base_url=tight.base_url, timeout=60) as client:
        t = make_tenant(client, "Acme", operator=operator)
        targets = endpoints(t, operator)
        for name, (path, params, key, header) in targets.items():
            legit = header + VALID[name] * (int(LIMIT * 0.9) // len(VALID[name]))
            for worker in pinned:
                r = worker.post(path, params=params | {"force": "true"}, content=legit,
                                headers=auth(key) | {"Content-Type": "text/csv"})
                assert r.status_code in (200, 201), f"{name}: {r.text[:300]}"
        for worker in pinned:
            worker.close()
        before = peak_rss_mb(tight.worker_pids)
        for name, (path, params, key, header) in targets.items():
            params = params | {"force": "true"}
            cases = {
                # ~1 GB of text once decompressed, ~1 MB sent
                "gzip bomb": junk_gzip(header, 50_000_000, VALID[name]),
                # 8 MB sent chunked, no Content-Length
                "raw": (header + VALID[name] * 1000 if i == 0 else VALID[name] * 1000
                        for i in range(500)),
            }
            for case, content in cases.items():
                r = client.post(path, params=params, content=content,
                                headers=auth(key) | {"Content-Type": "text/csv"})
                assert r.status_code == 413, f"{name}, {case}: {r.status_code} {r.text[:300]}"
                assert r.json()["error"] == "upload_too_large"
                assert r.json()["limit"] == LIMIT
            # a declared length above the limit: refused before a byte is read
            r = client.post(path, params=params, content=b"x" * (LIMIT + 1),
                            headers=auth(key) | {"Content-Type": "text/csv"})
            assert r.status_code == 413, f"{name}, Content-Length: {r.text[:300]}"
        after = peak_rss_mb(tight.worker_pids)
        growth = {pid: after[pid] - before[pid] for pid in after}
        assert max(growth.values()) <= 50, f"peak RSS growth per worker (MB): {growth}"
        assert client.get("/v1/consents", headers=auth(t.compliance)).json() != []


def test_a_stalled_upload_is_408_and_frees_the_import(tight: Server) -> None:
    with httpx.Client(base_url=tight.base_url, timeout=60) as client:
        t = make_tenant(client, "Acme", operator=operator_key())

        def stalls() -> Iterator[bytes]:
            yield b"numero;source\n0612345678;crm\n"
            time.sleep(STALL_S + 2)
            yield b"0612345679;crm\n"

        r = client.post("/v1/oppositions/import", content=stalls(),
                        headers=auth(t.admin) | {"Content-Type": "text/csv"})
        assert r.status_code == 408, r.text
        assert r.json()["error"] == "upload_stalled"
        assert "GATEWAY_UPLOAD_STALL_S" in r.json()["detail"]
        done = client.post("/v1/oppositions/import", content=b"numero\n0612345678\n",
                           headers=auth(t.admin) | {"Content-Type": "text/csv"})
        assert done.status_code == 200, done.text  # the import lock was released


def test_an_upload_trickling_past_the_wall_clock_limit_is_408(tight: Server) -> None:
    with httpx.Client(base_url=tight.base_url, timeout=60) as client:
        t = make_tenant(client, "Acme", operator=operator_key())

        def trickles() -> Iterator[bytes]:
            yield b"telephone\n"
            for _ in range(int(MAX_SECONDS / 0.4) + 5):  # never stalled, never done
                time.sleep(0.4)
                yield b"0612345678\n"

        started = time.monotonic()
        r = client.post("/v1/scrub", params={"campaign": "spring-2026"}, content=trickles(),
                        headers=auth(t.dialer) | {"Content-Type": "text/csv"})
        assert r.status_code == 408, r.text
        assert r.json()["error"] == "upload_timeout"
        assert "GATEWAY_UPLOAD_MAX_SECONDS" in r.json()["detail"]
        assert time.monotonic() - started >= MAX_SECONDS



def test_a_client_gone_mid_upload_leaves_nothing_and_frees_the_imports(live: Server) -> None:
    """A client that closes its connection half-way through an upload: the BLOCTEL version is
    recorded ``failed``, no consent is written, and the next imports run at once."""
    import socket

    operator = operator_key()
    log_from = len(live.stderr())
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        t = make_tenant(client, "Acme", operator=operator)
        uploads = {
            "/v1/bloctel/imports?as_of=2026-11-20": (operator, b"0612345678\n" * 100_000),
            "/v1/consents/import": (t.admin, b"numero;date_consentement\n"
                                    + b"0612345678;2026-09-01\n" * 50_000),
        }
        for target, (key, part) in uploads.items():
            with socket.create_connection(("127.0.0.1", live.port)) as sock:
                sock.sendall(
                    f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                    f"Content-Type: text/csv\r\nContent-Length: {len(part) * 10}\r\n\r\n"
                    .encode() + part)
        deadline = time.monotonic() + 15
        history: list[dict[str, str]] = []
        while time.monotonic() < deadline:
            history = client.get("/v1/bloctel/imports", headers=auth(operator)).json()
            if history and history[0]["status"] != "loading":
                break
            time.sleep(0.2)
        assert [h["status"] for h in history] == ["failed"], history
        assert client.get("/v1/consents", headers=auth(t.compliance)).json() == []
        r = client.post("/v1/consents/import", content=b"numero;date_consentement\n"
                        b"0612345678;2026-09-01\n",
                        headers=auth(t.admin) | {"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        r = client.post("/v1/bloctel/imports", params={"as_of": "2026-11-20"},
                        content=b"0612345678\n", headers=auth(operator))
        assert r.status_code == 201, r.text
        assert "Traceback" not in live.stderr()[log_from:]
