"""An import process for the kill test: ``python -m tests.integration.bloctel_child URL FILE
PHASE`` imports FILE into the database at URL and, when it reaches PHASE ("reading": lines
parsed; "writing": some chunks committed, others not), prints ``PAUSED <phase>`` and waits to
be killed. Chunks are made small so that writing takes several transactions, as a national
list does."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

from app.bloctel.importer import import_file
from app.db import make_engine
from bloctel import index


class PauseAt:
    def __init__(self, phase: str) -> None:
        self.target = phase
        self.current = ""
        self.written = 0

    def _pause(self) -> None:
        print(f"PAUSED {self.current}", flush=True)
        while True:
            time.sleep(60)

    def bytes_read(self, n: int) -> None:
        pass

    def lines_read(self, total: int) -> None:
        if self.target == "reading" and total > 0:
            self._pause()

    def phase(self, name: str, total: int | None = None) -> None:
        self.current = name

    def advance(self, n: int) -> None:
        self.written += n
        if self.target == "writing":
            self._pause()


def main() -> None:
    url, path, phase = sys.argv[1:4]
    index.CHUNK = 10_000
    with Path(path).open("rb") as f:
        import_file(make_engine(url), f, mode="replace", as_of=date(2026, 6, 1),
                    progress=PauseAt(phase), force=True)
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main()
