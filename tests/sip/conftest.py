"""The SIP path end to end, with real processes: ``gateway serve`` (the ``live`` server of
tests/integration, SQLite and PostgreSQL), Kamailio with ``integrations/kamailio`` in front of
a carrier, ``sipp`` as the dialer (UAC) and ``sipp`` as the carrier (UAS).

One Kamailio per gateway server, kept for the session; each test writes its tenant's dialer
key into the trunks file (gateway.py re-reads it) and starts the carrier scenario it needs on
the carrier's port.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.calls.models import Attempt
from app.db import get_engine
from cluster.sip import Kamailio, Sipp, free_udp_port, kamailio_binary, sipp_binary
from tests.factories import Tenant, make_tenant
from tests.integration.conftest import Server, live, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def attempts() -> list[Any]:
    """Every attempt in the ledger (under the tests' frozen clock their order is arbitrary)."""
    with get_engine().connect() as conn:
        return list(conn.execute(select(Attempt.__table__)).all())


def _require_tools() -> None:
    missing = [n for n, found in (("kamailio", kamailio_binary()), ("sipp", sipp_binary()))
               if found is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (.ci/run installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true the SIP tests never skip: {reason}", pytrace=False)
        pytest.skip(reason)


@dataclass
class SipPath:
    """The proxy in front of a gateway server, and the tenant whose dialer key it uses."""

    server: Server
    kamailio: Kamailio
    carrier_port: int
    workdir: Path
    tenant: Tenant
    http: httpx.Client

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.kamailio.port}"

    @contextlib.contextmanager
    def carrier(self, scenario: str = "uas_answer.xml", **keys: str) -> Iterator[Sipp]:
        """A sipp UAS on the carrier's port for the duration of the block."""
        uas = Sipp(self.workdir, scenario, port=self.carrier_port, keys=keys)
        uas.start()
        try:
            yield uas
        finally:
            uas.stop()

    def call(self, callee: str, *, scenario: str = "uac.xml", hold_ms: int = 0,
             caller: str | None = None, campaign: str = "spring-2026", agent: str = "",
             calls: int = 1, timeout: float = 30.0, **keys: str) -> Sipp:
        """Run the dialer scenario until its calls end; the finished Sipp."""
        uac = Sipp(self.workdir, scenario, keys={
            "caller": caller or self.tenant.canvassing_cli, "campaign": campaign,
            "agent": agent, **keys,
        }, args=["-s", callee, "-m", str(calls), "-d", str(hold_ms), "-l", str(calls)])
        uac.run(self.proxy, timeout=timeout)
        return uac

    def wait_spool_empty(self, timeout: float = 10.0) -> None:
        """Until Kamailio has handed every outcome to the gateway."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [n for n in self.kamailio.spooled() if n.endswith(".json")]:
                return
            time.sleep(0.05)
        raise AssertionError(f"outcomes still spooled: {self.kamailio.spooled()}\n"
                             f"{self.kamailio.log_tail()}")


@pytest.fixture(scope="session")
def _proxies() -> Iterator[dict[str, tuple[Kamailio, int]]]:
    started: dict[str, tuple[Kamailio, int]] = {}
    try:
        yield started
    finally:
        for kamailio, _ in started.values():
            kamailio.stop()


#: The tests' budget for a check. Not the production default (500 ms): a gateway server the
#: test has just started answers its first checks slowly (imports, caches, the BLOCTEL index)
#: on a loaded 2-core machine, and these tests are about decisions, not timing. The timing
#: tests set their own budget.
TEST_TIMEOUT_MS = 3000


def proxy_for(srv: Server, workdir: Path, **settings: Any) -> tuple[Kamailio, int]:
    settings.setdefault("timeout_ms", TEST_TIMEOUT_MS)
    carrier_port = free_udp_port()
    kamailio = Kamailio(workdir, srv.base_url, f"sip:127.0.0.1:{carrier_port}", trunks={},
                        **settings)
    return kamailio.start(), carrier_port


@contextlib.contextmanager
def proxy_to(sip: SipPath, workdir: Path, gateway_url: str, srv: Server | None = None,
             **settings: Any) -> Iterator[SipPath]:
    """Another Kamailio, in front of ``gateway_url`` (``srv``'s, or a stand-in's), with
    ``sip``'s tenant and trunks; always stopped."""
    settings.setdefault("timeout_ms", TEST_TIMEOUT_MS)
    carrier_port = free_udp_port()
    kamailio = Kamailio(workdir / "kamailio", gateway_url, f"sip:127.0.0.1:{carrier_port}",
                        trunks=sip.kamailio.trunks, **settings)
    try:
        kamailio.start()
        yield SipPath(srv or sip.server, kamailio, carrier_port, workdir, sip.tenant,
                      sip.http)
    finally:
        kamailio.stop()


@pytest.fixture
def sip(live: Server, _proxies: dict[str, tuple[Kamailio, int]],  # noqa: F811
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SipPath]:
    _require_tools()
    entry = _proxies.get(live.base_url)
    if entry is None or entry[0].proc is None or entry[0].proc.poll() is not None:
        entry = _proxies[live.base_url] = proxy_for(
            live, tmp_path_factory.mktemp("kamailio"))
    kamailio, carrier_port = entry
    if kamailio.spool.exists():  # an earlier test's outcomes: its attempts are gone
        for stale in kamailio.spool.iterdir():
            stale.unlink()
    with httpx.Client(base_url=live.base_url, timeout=10) as http:
        tenant = make_tenant(http, "Centre d'appels SIP")
        kamailio.write_trunks({"*": {"name": "centre", "key": tenant.dialer,
                                     "campaign": "spring-2026"}})
        yield SipPath(live, kamailio, carrier_port, tmp_path, tenant, http)
    assert kamailio.proc is not None and kamailio.proc.poll() is None, kamailio.log_tail()


@contextlib.contextmanager
def silent_gateway() -> Iterator[str]:
    """A TCP listener that accepts connections and never answers: a hung gateway."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


@contextlib.contextmanager
def delaying_relay(port: int, delay_s: float) -> Iterator[str]:
    """A TCP relay to 127.0.0.1:``port`` that holds each new connection ``delay_s`` before
    relaying it: a gateway that is slow to answer, but answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    stop = threading.Event()
    sockets: list[socket.socket] = []

    def pump(src: socket.socket, dst: socket.socket, eof: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        if eof:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def relay(client: socket.socket) -> None:
        time.sleep(delay_s)
        upstream = socket.create_connection(("127.0.0.1", port))
        sockets.append(upstream)
        # the client's EOF is not passed on: a client that gave up closes its socket, but the
        # gateway, slow, had its request in hand already (uvicorn drops a request whose
        # client is gone before the application reads the body)
        threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
        pump(upstream, client, True)

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                client, _ = listener.accept()
                sockets.append(client)
                threading.Thread(target=relay, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()
        listener.close()
