"""Hostile bodies against the real server (``gateway serve --workers 2``, SQLite and
PostgreSQL): authentication is decided before any body byte is read and JSON bodies are
limited while they stream, so a worker's memory stays flat whatever is sent. And a stopped
server leaves no ``/tmp/gateway-metrics-*`` folder behind.

The bodies are pushed from a raw socket by a thread while the test reads the answer: the
server answers before it reads, as a client that waits for the end of its upload would never
see. The worker's RSS (``/proc/<pid>/status``) is sampled all along."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.factories import operator_key
from tests.integration.conftest import Server, _free_port, _gateway_executable, _stop

MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_GROWTH_MAX = 50 * MIB


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


@dataclass
class Push:
    status: int = 0
    answer: bytes = b""
    sent: int = 0
    rss_before: int = 0
    rss_peak: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def growth(self) -> int:
        return self.rss_peak - self.rss_before


def _worker_of(server: Server, sock: socket.socket) -> int:
    port = sock.getsockname()[1]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pid = server.worker_by_client_port().get(port)
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise AssertionError("no worker holds the connection")


def _answer_length(buffer: bytes) -> int:
    """Bytes of the whole answer (head and body), once its head is in ``buffer``."""
    head, _, _ = buffer.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return len(head) + 4 + (int(length.group(1)) if length else 0)


def push(server: Server, path: str, headers: dict[str, str], total: int) -> Push:
    """POST ``total`` bytes of an endless JSON string, chunked, while reading the answer."""
    result = Push()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(60)
    worker = _worker_of(server, sock)
    result.rss_before = result.rss_peak = rss(worker)
    head = "".join(f"{k}: {v}\r\n" for k, v in ({
        "Host": "gateway", "Transfer-Encoding": "chunked"} | headers).items())
    chunk = MIB
    payload = b'{"campaign": "' + b"x" * (chunk - 14)
    filler = b"x" * chunk
    stop = threading.Event()

    def send() -> None:
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
            body = payload
            while result.sent < total and not stop.is_set():
                sock.sendall(b"%x\r\n" % len(body) + body + b"\r\n")
                result.sent += len(body)
                body = filler
        except OSError as exc:  # the server may close the connection once it has answered
            result.errors.append(repr(exc))

    def sample() -> None:
        while not stop.is_set():
            result.rss_peak = max(result.rss_peak, rss(worker))
            time.sleep(0.02)

    threads = [threading.Thread(target=send), threading.Thread(target=sample)]
    for t in threads:
        t.start()
    try:
        buffer = b""
        while b"\r\n\r\n" not in buffer or len(buffer) < _answer_length(buffer):
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
        result.status = int(buffer.split(b" ", 2)[1]) if buffer else 0
        result.answer = buffer
        threads[0].join(timeout=120)  # the rest of the body goes on, to its end
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        result.rss_peak = max(result.rss_peak, rss(worker))
        sock.close()
    return result


def test_a_1_gib_unauthenticated_chunked_body_is_401_and_memory_stays_flat(
    live: Server,
) -> None:
    r = push(live, "/v1/calls/check", {"Content-Type": "application/json"}, GIB)
    print(f"sent {r.sent / MIB:.0f} MiB; worker RSS {r.rss_before / MIB:.0f} MB, "
          f"peak +{r.growth / MIB:.1f} MB")
    assert r.status == 401, r.answer[:300]
    assert b'"error":"unauthorized"' in r.answer
    assert r.growth <= RSS_GROWTH_MAX, f"worker grew by {r.growth / MIB:.0f} MB"
    assert r.sent >= 64 * MIB  # the body really kept coming after the answer
    assert httpx.get(f"{live.base_url}/healthz").status_code == 200


def test_a_chunked_json_body_past_the_limit_is_413_with_a_valid_key(live: Server) -> None:
    key = operator_key()
    r = push(live, "/v1/tenants", {"Content-Type": "application/json",
                                   "Authorization": f"Bearer {key}"}, 256 * MIB)
    assert r.status == 413, r.answer[:300]
    assert b'"error":"payload_too_large"' in r.answer
    assert r.growth <= RSS_GROWTH_MAX, f"worker grew by {r.growth / MIB:.0f} MB"


def test_a_2_mib_json_body_with_a_valid_key_is_413(live: Server) -> None:
    key = operator_key()
    body = b'{"name": "' + b"x" * (2 * MIB) + b'", "legal_form": "legal_person"}'
    r = httpx.post(f"{live.base_url}/v1/tenants", content=body, timeout=30,
                   headers={"Authorization": f"Bearer {key}",
                            "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large" and r.json()["limit_bytes"] == MIB
    # under the limit, the same request is served
    ok = httpx.post(f"{live.base_url}/v1/tenants", timeout=30,
                    json={"name": "Acme", "legal_form": "legal_person"},
                    headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 201, ok.text


def test_a_stopped_server_leaves_no_metrics_folder(tmp_path: Path) -> None:
    """``gateway serve --workers 2`` makes its Prometheus folder in the temporary directory
    and removes it when it stops (SIGTERM, as the test fixtures and systemd stop it)."""
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'gw.db'}"
    upgrade(url)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {
        "DATABASE_URL": url, "TMPDIR": str(tmp), "GATEWAY_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [_gateway_executable(), "serve", "--workers", "2", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        assert [p.name[:16] for p in tmp.iterdir()] == ["gateway-metrics-"]  # in use
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        _stop(proc)
    assert list(tmp.iterdir()) == []
