"""A TCP relay the tests put between the gateway and PostgreSQL, to take the database away.

* ``stop()`` is a cut: the listening socket is closed (new connections are refused) and every
  relayed connection is shut down and closed on both sides (the gateway reads an EOF, as when
  PostgreSQL or its host restarts). ``start()`` listens again on the same port.
* ``blackhole()`` is a silent loss (the database host vanishes without a reset): every
  socket stays open, bytes are read and dropped in both directions, new connections are
  accepted and never relayed. Nothing ever answers; only the client's own timeouts end the
  wait. ``stop()`` ends it.

Threads: one accepting (polling every 50 ms, so ``stop()`` returns only once the port is
free), two per relayed connection. ``RelayProcess`` runs one in a child process. Nothing here
is specific to PostgreSQL.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import threading
from typing import Any

_CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._running = threading.Event()
        self._dropping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self.accepted = 0

    # --- control ---------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Listen (on the same port as before, if any) and relay."""
        if self._running.is_set():
            return self
        self._dropping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running.set()
        self._acceptor = threading.Thread(target=self._accept, name=f"tcpproxy-{self.port}",
                                          daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Refuse new connections and close every relayed one (both sides)."""
        self._running.clear()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
            threads, self._threads = self._threads, set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=5)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()
        self._dropping.clear()

    def blackhole(self) -> None:
        """Keep every socket open and relay nothing more, in either direction."""
        self._dropping.set()

    @property
    def connections(self) -> int:
        """Sockets held open (both sides of each relayed connection)."""
        with self._lock:
            return len(self._sockets)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- threads ---------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.add(t)
        t.start()

    def _track(self, *socks: socket.socket) -> bool:
        """Hold ``socks`` for ``stop()``; False (and closed) when the proxy is stopping."""
        with self._lock:
            if self._running.is_set():
                self._sockets.update(socks)
                return True
        for s in socks:
            s.close()
        return False

    def _accept(self) -> None:
        assert self._listener is not None
        while self._running.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            client.settimeout(None)
            if not self._track(client):
                return
            if self._dropping.is_set():
                self._spawn(self._pump, client, None)  # held open, read and dropped
                continue
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            self._close(client)
            return
        upstream.settimeout(None)
        if not self._track(upstream):
            self._close(client)
            return
        self._spawn(self._pump, client, upstream)
        self._pump(upstream, client)

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        try:
            while True:
                data = src.recv(_CHUNK)
                if not data:
                    break
                if dst is None or self._dropping.is_set():
                    continue  # black hole: read, never answered, never closed
                dst.sendall(data)
        except OSError:
            pass
        if self._dropping.is_set() and self._running.is_set():
            return  # a black hole closes nothing; stop() does
        for s in (src, dst):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()


class RelayProcess:
    """A ``TcpProxy`` in a child process of its own, driven over a pipe (same ``start``,
    ``stop``, ``blackhole``, ``port``): the relay's threads then never wait for the GIL of a
    test that is busy sending a load of requests, so what the test measures is the gateway."""

    def __init__(self, target_host: str, target_port: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, target_host, target_port),
                                 name="tcpproxy", daemon=True)
        self._proc.start()
        self.port: int = self._call("port")

    def _call(self, command: str) -> Any:
        self._conn.send(command)
        if not self._conn.poll(30):
            raise RuntimeError(f"the relay process did not answer {command!r}")
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"relay {command}: {value}")
        return value

    def start(self) -> RelayProcess:
        self._call("start")
        return self

    def stop(self) -> None:
        self._call("stop")

    def blackhole(self) -> None:
        self._call("blackhole")

    def close(self) -> None:
        """Stop relaying and end the child process."""
        if self._proc.is_alive():
            with contextlib.suppress(OSError, EOFError, RuntimeError):
                self._call("exit")
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=10)
        self._conn.close()

    def __enter__(self) -> RelayProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _serve(conn: Any, target_host: str, target_port: int) -> None:
    relay = TcpProxy(target_host, target_port).start()
    commands = {"port": lambda: relay.port, "start": relay.start, "stop": relay.stop,
                "blackhole": relay.blackhole}
    while True:
        try:
            command = conn.recv()
        except EOFError:  # the test process is gone
            command = "exit"
        if command == "exit":
            relay.stop()
            with contextlib.suppress(OSError):
                conn.send((True, None))
            return
        try:
            value = commands[command]()
            conn.send((True, value if isinstance(value, int) else None))
        except Exception as exc:  # reported to the test, which raises it
            conn.send((False, repr(exc)))
