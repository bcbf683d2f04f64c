"""The replicated topology without Docker: N ``gateway serve`` replicas on one PostgreSQL
database, Debian's HAProxy in front, health-checked on ``/readyz`` — what
``docker/compose.yaml`` describes, started from processes on this machine.

    make cluster                      (3 replicas of 2 workers, URL and keys printed)
    python -m cluster --replicas 2    (see ``python -m cluster --help``)

``Cluster`` is also what ``bench.cluster`` and ``tests/cluster`` drive: start it, kill a
replica (the whole process group, as a container dies), read which servers HAProxy holds up,
stop it. Every process is started in a session of its own and always stopped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = str(Path(sys.executable).parent / "gateway")
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gateway_cluster"


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.path.exists(p)), None)


def ensure_database(url: str) -> str:
    """Create the PostgreSQL database ``url`` names when it does not exist yet; the URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    from app.config import normalise_database_url

    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ClusterError(f"a cluster shares one PostgreSQL database; got {parsed.drivername}")
    admin = parsed.set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (parsed.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    return url


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux
    ``PR_SET_PDEATHSIG``), so that a killed ``make cluster`` or test leaves no replica behind."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_group(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM to the process, SIGKILL to its whole group after ``grace`` seconds."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # a worker that outlived its supervisor


@dataclass
class Replica:
    """One ``gateway serve --workers N`` on its own port, in its own process group."""

    name: str
    port: int
    workers: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: Mapping[str, str], metrics_dir: Path) -> None:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [GATEWAY, "serve", "--workers", str(self.workers), "--port", str(self.port)],
                env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while _get(f"{self.url}/readyz") != 200:
            if self.proc is None or self.proc.poll() is not None:
                raise ClusterError(f"{self.name} exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name} not ready after {timeout:.0f} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """The supervisor and its workers (and any leader job they run)."""
        if self.proc is None:
            return []
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
        return out

    def kill(self) -> None:
        """SIGKILL to the whole replica at once, as when its machine or container dies."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Balancer:
    """Debian's HAProxy in the foreground, with an admin socket to read servers' states."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    socket_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.socket_path = self.workdir / "haproxy.sock"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, replicas: list[Replica]) -> None:
        from cluster import haproxy  # not at import: ``python -m cluster.haproxy`` stays clean

        binary = haproxy_binary()
        if binary is None:
            raise ClusterError("haproxy is not installed (Debian: apt-get install haproxy)")
        errors = self.workdir / "errors"
        errors.mkdir(parents=True, exist_ok=True)
        (errors / "503.http").write_text(haproxy.UNAVAILABLE_503)
        config = self.workdir / "haproxy.cfg"
        config.write_text(haproxy.render(
            f"127.0.0.1:{self.port}",
            haproxy.Backend(servers=[(r.name, f"127.0.0.1:{r.port}") for r in replicas]),
            errors_dir=str(errors), stats_socket=str(self.socket_path)))
        check = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise ClusterError(f"haproxy refused its configuration:\n{check.stderr}")
        with (self.workdir / "haproxy.log").open("ab") as log:
            self.proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=die_with_parent)

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(self.socket_path))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def states(self) -> dict[str, str]:
        """Each replica's state as HAProxy holds it: ``UP``, ``DOWN``, ``UP 1/2``…"""
        text = self.admin("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r["status"] for r in rows
                if r["pxname"] == "replicas" and r["svname"] not in ("BACKEND", "FRONTEND")}

    def wait_states(self, want: Mapping[str, str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                states = self.states()
                if all(states.get(k) == v for k, v in want.items()):
                    return
            if self.proc is None or self.proc.poll() is not None:
                raise ClusterError("haproxy exited:\n" + (self.workdir / "haproxy.log")
                                   .read_text(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                raise ClusterError(f"HAProxy states {self.states()} after {timeout:.0f} s, "
                                   f"wanted {dict(want)}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_group(self.proc, grace=5)
        self.proc = None


class Cluster:
    """``replicas`` × ``gateway serve --workers workers`` on ``database_url`` behind HAProxy.

    ``env`` adds to the replicas' environment (a frozen clock in tests). The database must be
    migrated (``migrate=True`` does it) and is never dropped here."""

    def __init__(self, database_url: str, *, replicas: int = 3, workers: int = 2,
                 port: int | None = None, workdir: Path | None = None,
                 env: Mapping[str, str] | None = None, migrate: bool = True) -> None:
        self.database_url = database_url
        self.own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="gateway-cluster-"))
        self.env = {**os.environ, **(env or {}), "DATABASE_URL": database_url}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.migrate = migrate
        self.replicas = [
            Replica(f"r{i + 1}", free_port(), workers, self.workdir / f"r{i + 1}.log")
            for i in range(replicas)
        ]
        self.balancer = Balancer(port or free_port(), self.workdir)

    @property
    def url(self) -> str:
        return self.balancer.url

    def start(self) -> Cluster:
        try:
            if self.migrate:
                self.run_gateway("db", "upgrade")
            for r in self.replicas:
                r.start(self.env, self.workdir / "metrics" / r.name)
            for r in self.replicas:
                r.wait_ready()
            self.balancer.start(self.replicas)
            self.balancer.wait_states({r.name: "UP" for r in self.replicas})
        except BaseException:
            self.stop()
            raise
        return self

    def run_gateway(self, *args: str) -> str:
        """Run a ``gateway`` command on the cluster's database; its messages (stderr), then its
        output (stdout)."""
        proc = subprocess.run([GATEWAY, *args], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            raise ClusterError(f"gateway {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stderr + proc.stdout

    def restart(self, replica: Replica) -> None:
        """Start a stopped or killed replica again, on its port, and wait until HAProxy holds
        it up."""
        replica.stop()
        replica.start(self.env, self.workdir / "metrics" / replica.name)
        replica.wait_ready()
        self.balancer.wait_states({replica.name: "UP"})

    def worker_pids(self) -> list[int]:
        """Every replica's serving workers (not supervisors, not leader jobs)."""
        out = []
        for r in self.replicas:
            for pid in r.pids():
                with contextlib.suppress(OSError):
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"multiprocessing" in cmd and b"resource_tracker" not in cmd:
                        out.append(pid)
        return out

    def stop(self) -> None:
        self.balancer.stop()
        for r in self.replicas:
            r.stop()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
