"""Background jobs that must run once per database, not once per worker: the ledger's sealer
(``app.audit``) and the abuse monitors (``app.monitors``).

``LeaderProcess`` runs in a daemon thread of every server worker; the worker that takes the
job's ``try_lock`` starts ``python -m MODULE INTERVAL`` and holds the lock for as long as that
process runs; the others retry every few seconds, so that another worker takes over if that one
dies. The job runs in a process of its own, not in a thread of a worker: a thread reading
thousands of rows inside a busy worker hands the GIL back and forth at every row with the thread
serving requests (measured on the sealer: checks/s −27 % as a thread, unchanged as a process).
The process exits when its worker is gone (``watch_parent``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from app.db import LockBusy, get_engine, try_lock

log = logging.getLogger("gateway.jobs")


class LeaderProcess:
    def __init__(self, module: str, lock: tuple[str, tuple[int, int]], interval: float,
                 engine_of: Callable[[], Engine] = get_engine) -> None:
        self.module, self.lock, self.interval, self.engine_of = module, lock, interval, engine_of
        self.child: subprocess.Popen[bytes] | None = None
        self._held: contextlib.ExitStack | None = None
        self._engine: Engine | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"leader-{module}", daemon=True)

    def start(self) -> LeaderProcess:
        self._thread.start()
        return self

    def _run(self) -> None:
        retry = min(self.interval, 5.0)
        while True:
            try:
                self._lead()
            except Exception:
                log.exception("%s could not be started; will try again", self.module)
            if self._stop.wait(retry):
                return

    def _lead(self) -> None:
        if self.child is not None:
            if self.child.poll() is None:
                return
            log.warning("%s exited (%s); restarting it", self.module, self.child.returncode)
            self.child = None
            self._release()
        held = contextlib.ExitStack()
        try:
            held.enter_context(try_lock(self._lock_engine(), *self.lock))
        except LockBusy:
            held.close()
            return  # another worker runs it
        self._held = held
        self.child = subprocess.Popen([sys.executable, "-m", self.module, str(self.interval)],
                                      stdin=subprocess.DEVNULL)

    def _lock_engine(self) -> Engine:
        """On PostgreSQL the lock is a session lock held for as long as the process runs: on a
        connection of its own (no pool), not one taken from the requests' pool for hours."""
        engine = self.engine_of()
        if engine.dialect.name != "postgresql":
            return engine
        if self._engine is None or self._engine.url != engine.url:
            self._engine = create_engine(engine.url, poolclass=NullPool)
        return self._engine

    def _release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self.child = None
        self._release()


def run_every(interval: float, job: Callable[[], None], name: str) -> None:
    """The job process's loop: ``job()`` every ``interval`` seconds until SIGTERM or until the
    worker that started it is gone (then another worker's process takes over)."""
    parent = os.getppid()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("%s running every %.1f s", name, interval)
    while not stop.wait(interval):
        if os.getppid() != parent:
            return
        try:
            job()
        except Exception:
            log.exception("%s failed; will try again", name)


def main(run: Callable[[float], None]) -> None:
    logging.basicConfig(level=os.environ.get("GATEWAY_LOG_LEVEL", "info").upper(),
                        format="%(levelname)s: %(name)s: %(message)s")
    run(float(sys.argv[1]))
