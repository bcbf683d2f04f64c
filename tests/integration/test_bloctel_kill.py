"""Acceptance: an import killed half-way (SIGKILL, a real process) leaves the previous version
in force, and the next import works with no manual clean-up."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.bloctel import lookup
from app.bloctel.importer import import_file
from app.bloctel.models import BloctelChunk, BloctelVersion
from app.db import get_engine

pytestmark = pytest.mark.integration

OLD = [33_611_000_000 + i for i in range(1000)]
NEW = [33_622_000_000 + i for i in range(60_000)]


def rows() -> dict[int, tuple[str, int, str | None]]:
    """{version: (status, chunks stored, error)}."""
    with get_engine().connect() as conn:
        chunks = dict(conn.execute(
            select(BloctelChunk.version, func.count()).group_by(BloctelChunk.version)).all())
        return {
            v.version: (v.status, chunks.get(v.version, 0), v.error)
            for v in conn.execute(select(BloctelVersion)).all()
        }


def listed(key: int) -> bool:
    lookup.default_lookup().reset()  # as a freshly started worker would
    return lookup.default_lookup().lookup(None, f"+{key}").listed


@pytest.mark.parametrize("phase", ["reading", "writing"])
def test_an_import_killed_midway_leaves_the_old_list_and_the_next_import_works(
    db: Any, tmp_path: Path, phase: str
) -> None:
    first = import_file(get_engine(), io.BytesIO("".join(f"+{k}\n" for k in OLD).encode()),
                        mode="replace", as_of=date(2026, 6, 1))
    assert first["version"] == 1
    big = tmp_path / "new.txt"
    big.write_text("".join(f"0{k - 33_000_000_000}\n" for k in NEW))

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.bloctel_child", db.url, str(big), phase],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2], env=os.environ | {"DATABASE_URL": db.url},
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == f"PAUSED {phase}", (line, child.stderr.read() if child.stderr
                                                   else "")
        during = rows()
        assert during[1][0] == "active" and during[2][0] == "loading"
        if phase == "writing":
            assert during[2][1] > 0  # some of the new list is in the database
        assert listed(OLD[-1]) and not listed(NEW[0])  # checks still see the old list, whole
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    after = rows()
    assert after[1][0] == "active" and after[2][0] == "loading"
    assert listed(OLD[0]) and listed(OLD[-1]) and not listed(NEW[-1])

    # the next import needs no clean-up: the dead one is marked, its chunks dropped
    nxt = import_file(get_engine(), io.BytesIO("".join(f"+{k}\n" for k in NEW).encode()),
                      mode="replace", as_of=date(2026, 6, 2), force=True)
    assert (nxt["version"], nxt["total_numbers"]) == (3, len(NEW))
    final = rows()
    assert final[2][0] == "failed" and final[2][1] == 0 and "abandoned" in (final[2][2] or "")
    assert final[3][0] == "active" and final[1][0] == "superseded"
    assert listed(NEW[0]) and listed(NEW[-1]) and not listed(OLD[0])
