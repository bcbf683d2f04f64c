"""Real server processes for the integration tests.

``server`` starts ``gateway serve --workers 2`` on a free port against the session's test
database (SQLite and PostgreSQL, through the parametrised ``database`` fixture), with the clock
frozen on a Monday in business hours under the opt-in regime. It waits until both workers have
started and ``/readyz`` answers, and always stops the whole process group (SIGTERM, then
SIGKILL). ``live`` hands each test that server and empties every table afterwards.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app import db as app_db
from app.config import get_settings
from tests.conftest import Database, truncate_all, use_database

FROZEN_NOW = "2026-11-23T10:30:00+01:00"  # Monday 10:30 Paris: business hours, opt-in regime
WORKERS = 2
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

_STARTED = re.compile(r"Started server process \[(\d+)\]")
_READY = "Application startup complete."


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gateway_executable() -> str:
    beside = Path(sys.executable).parent / "gateway"
    return str(beside) if beside.exists() else "gateway"


def children(pid: int) -> set[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.update(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _socket_inodes(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return out
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def _established(port: int) -> dict[int, int]:
    """The server side of every established TCP connection to local ``port``:
    {socket inode: the client's port}."""
    out: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            if cols[3] == "01" and local_port == port:  # 01: ESTABLISHED
                out[int(cols[9])] = int(cols[2].rsplit(":", 1)[1], 16)
    return out


@dataclass
class Server:
    database: Database
    proc: subprocess.Popen[bytes]
    base_url: str
    stderr_path: Path
    metrics_dir: Path
    worker_pids: set[int] = field(default_factory=set)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def worker_by_client_port(self) -> dict[int, int]:
        """Which worker process holds each open connection: {client's port: worker pid}."""
        established = _established(self.port)
        return {
            established[inode]: pid
            for pid in self.worker_pids
            for inode in _socket_inodes(pid) & established.keys()
        }

    def worker_processes(self) -> set[int]:
        """Live children of the server that are uvicorn worker processes (not the
        multiprocessing resource tracker)."""
        return {c for c in children(self.proc.pid) if "spawn_main" in cmdline(c)}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the group we created: the server and its workers
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)
    # workers may still be exiting after the parent: make sure none is left behind
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer yet"
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"server exited with {server.proc.returncode}")
            log = server.stderr()
            started = {int(p) for p in _STARTED.findall(log)}
            if log.count(_READY) >= WORKERS and len(started) >= WORKERS:
                try:
                    r = client.get("/readyz")
                    if r.status_code == 200:
                        server.worker_pids = started
                        return
                    last = f"/readyz {r.status_code}: {r.text}"
                except httpx.TransportError as exc:
                    last = f"/readyz: {exc!r}"
            time.sleep(0.05)
    raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT_S}s ({last})")


@contextlib.contextmanager
def serve(database: Database, workdir: Path, **settings: str) -> Iterator[Server]:
    """``gateway serve --workers 2`` on ``database`` with the clock frozen (FROZEN_NOW) and
    ``settings`` (environment variables) on top; ready when both workers have started and
    ``/readyz`` answers; the whole process group always stopped afterwards."""
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    stderr_path = workdir / "stderr.log"
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": database.url,
        "GATEWAY_FROZEN_NOW": FROZEN_NOW,
        "GATEWAY_LOG_LEVEL": "info",  # the readiness wait reads uvicorn's start-up lines
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GATEWAY_WEBHOOK_ALLOW": "127.0.0.1",  # the tests' local webhook receivers
    } | settings
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [_gateway_executable(), "serve", "--workers", str(WORKERS), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )
    srv = Server(database, proc, f"http://127.0.0.1:{port}", stderr_path, metrics_dir)
    try:
        try:
            _wait_ready(srv)
        except Exception as exc:
            _stop(proc)
            pytest.fail(
                f"gateway serve ({database.backend}) did not become ready: {exc}\n"
                f"--- server stderr ---\n{srv.stderr()}",
                pytrace=False,
            )
        yield srv
    finally:
        _stop(proc)


@contextlib.contextmanager
def pointed_at(srv: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """This process pointed at ``srv``'s database (for ``tests.factories.operator_key`` and
    direct queries); every table emptied afterwards, and a server that died fails the test."""
    monkeypatch.setenv("DATABASE_URL", srv.database.url)  # restored after the test
    use_database(srv.database.url)
    try:
        yield srv
    finally:
        app_db.reset_engine()
        get_settings.cache_clear()
        truncate_all(srv.database.url)
        if srv.proc.poll() is not None:
            pytest.fail(f"the server died during the test\n{srv.stderr()}", pytrace=False)


def one_connection_per_worker(srv: Server) -> dict[int, http.client.HTTPConnection]:
    """A keep-alive connection held by each worker (new connections until every worker has
    one): {worker pid: connection}."""
    held: dict[int, http.client.HTTPConnection] = {}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(60):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        worker = srv.worker_by_client_port().get(conn.sock.getsockname()[1])
        if worker is not None and worker not in held:
            held[worker] = conn
        else:
            spare.append(conn)
        if len(held) == WORKERS:
            break
    for conn in spare:
        conn.close()
    assert len(held) == WORKERS, "the kernel never handed a connection to the other worker"
    return held


@pytest.fixture(scope="session")
def server(
    database: Database, tmp_path_factory: pytest.TempPathFactory,
    _servers: tuple[dict[str, Server], contextlib.ExitStack],
) -> Server:
    """``gateway serve --workers 2`` on the session's database (once per backend)."""
    started, stack = _servers
    srv = started.get(database.backend)
    if srv is None or srv.proc.poll() is not None:
        srv = started[database.backend] = stack.enter_context(
            serve(database, tmp_path_factory.mktemp(f"server-{database.backend}")))
    return srv


@pytest.fixture
def live(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The running server, with this process pointed at the same database; every table
    emptied afterwards."""
    with pointed_at(server, monkeypatch) as srv:
        yield srv
