"""``gateway bloctel import | status | history``: locally against the configured database (SQLite
and PostgreSQL, in process through Typer's runner) and remotely through a real server."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.bloctel import status, store
from app.cli import cli
from app.db import get_engine
from tests.factories import auth, operator_key
from tests.integration.conftest import Server, live, server  # noqa: F401  (remote-mode test)

MONDAY = "2026-11-23T10:30:00+01:00"  # the server fixture's clock too
REPORT_KEYS = {
    "import_id", "version", "status", "mode", "as_of", "lines", "header", "blank", "accepted",
    "duplicates", "rejected", "rejected_share", "rejected_samples", "rejected_reasons", "sha256",
    "file_bytes", "format", "total_numbers", "added", "removed", "base_version", "forced",
    "activated_at", "seconds",
}


def numbers(start: int, count: int) -> list[str]:
    return [f"0612{n:06d}" for n in range(start, start + count)]  # valid French mobiles


def listing(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def bloctel(*args: str, **kw: Any) -> Result:
    return CliRunner().invoke(cli, ["bloctel", *args], **kw)


@pytest.fixture
def local(db: Any, freeze: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Local mode (no GATEWAY_URL / GATEWAY_KEY from the environment), Monday 23 Nov 2026."""
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_KEY", raising=False)
    freeze(MONDAY)
    return db


def in_force() -> tuple[int | None, int]:
    now = status.current()
    return now["version"], now["total_numbers"]


def test_import_shows_progress_then_summary_and_activates(local: Any, tmp_path: Path) -> None:
    lines = ["numero", *numbers(0, 300), "", "0612000007", "06 12 x"]  # header, blank, dup, bad
    done = bloctel("import", str(listing(tmp_path / "list.csv", lines)), "--as-of", "2026-11-20")
    assert done.exit_code == 0, done.output
    out, err = done.stdout, done.stderr
    assert "BLOCTEL version 1 active" in out
    for label in ("accepted", "duplicates", "rejected", "blank / header", "total numbers",
                  "added / removed", "format", "sha256", "seconds"):
        assert label in out, label
    assert "+300 / −0" in out and "1 (0.33%)" in out
    assert "Rejected lines" in out and "'06 12 x'" in out  # the sample table: value…
    assert "by reason" in out
    # progress (stderr): one line per phase, bytes and lines while reading
    for phase in ("reading", "sorting", "writing", "activating"):
        assert phase in err, phase
    assert "3.3/3.3 kB" in err and "304 lines" in err and "300/300 numbers" in err
    assert "Traceback" not in done.output
    assert in_force() == (1, 300)
    assert status.current()["as_of"] == "2026-11-20"


def test_gzip_file_added_to_the_list_in_force(local: Any, tmp_path: Path) -> None:
    assert bloctel("import", str(listing(tmp_path / "a.txt", numbers(0, 100))),
                   "--as-of", "2026-11-20", "-q").exit_code == 0
    packed = tmp_path / "more.txt.gz"
    packed.write_bytes(gzip.compress("\r\n".join(numbers(50, 100)).encode()))
    done = bloctel("import", str(packed), "--as-of", "2026-11-21", "--mode", "add")
    assert done.exit_code == 0, done.output
    assert "gzip" in done.stdout and "+50 / −0" in done.stdout
    assert f"{packed.stat().st_size}/{packed.stat().st_size} bytes" in done.stderr  # on disk
    assert in_force() == (2, 150)


def test_garbage_is_refused_and_the_list_in_force_kept_unless_forced(
    local: Any, tmp_path: Path
) -> None:
    assert bloctel("import", str(listing(tmp_path / "good.txt", numbers(0, 50))),
                   "--as-of", "2026-11-20", "--quiet").exit_code == 0
    garbage = listing(tmp_path / "garbage.txt",
                      ["0612999999", *(f"[red]junk {i}[/red]" for i in range(30))])
    refused = bloctel("import", str(garbage), "--as-of", "2026-11-21")
    assert refused.exit_code == 1, refused.output
    assert "import refused" in refused.stderr and "--force" in refused.stderr
    assert "refused" in refused.stdout  # the refused import's summary…
    assert "'[red]junk 0[/red]'" in refused.stdout  # …its samples, markup shown as text
    assert "… and 10 more rejected lines" in refused.stdout
    assert "Traceback" not in refused.output
    assert in_force() == (1, 50)

    forced = bloctel("import", str(garbage), "--as-of", "2026-11-21", "--force")
    assert forced.exit_code == 0, forced.output
    assert "replace (forced)" in forced.stdout
    assert in_force() == (3, 1)  # version 2 is the refused one

    tolerant = listing(tmp_path / "some.txt", [*numbers(0, 90), *(["n/a"] * 10)])
    assert bloctel("import", str(tolerant), "--as-of", "2026-11-22").exit_code == 1  # 10 %
    assert bloctel("import", str(tolerant), "--as-of", "2026-11-22", "--max-rejected",
                   "10%").exit_code == 0
    assert in_force() == (5, 90)


def test_a_future_date_is_refused_and_nothing_recorded(local: Any, tmp_path: Path) -> None:
    path = listing(tmp_path / "list.txt", numbers(0, 10))
    done = bloctel("import", str(path), "--as-of", "2026-11-24")
    assert done.exit_code == 1, done.output
    assert "2026-11-24 is in the future" in done.stderr and "Traceback" not in done.output
    as_json = bloctel("import", str(path), "--as-of", "2026-11-24", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"] == "invalid"
    assert in_force() == (None, 0)
    assert json.loads(bloctel("history", "--json").stdout) == []


def test_json_output_is_the_report_alone(local: Any, tmp_path: Path) -> None:
    path = listing(tmp_path / "list.txt", [*numbers(0, 40), "0612000001"])
    done = bloctel("import", str(path), "--as-of", "2026-11-20", "--json")
    assert done.exit_code == 0, done.output
    assert done.stderr == ""  # no progress, no message
    report = json.loads(done.stdout)
    assert set(report) >= REPORT_KEYS
    assert (report["version"], report["status"], report["accepted"], report["duplicates"],
            report["total_numbers"], report["imported_by"][:4]) == (1, "active", 40, 1, 40, "cli:")

    garbage = listing(tmp_path / "garbage.txt", ["nope"] * 5)
    refused = bloctel("import", str(garbage), "--as-of", "2026-11-20", "--json")
    assert refused.exit_code == 1
    body = json.loads(refused.stdout)  # the API's error body
    assert body["error"] == "import_refused" and "rejected" in body["detail"]
    assert (body["import"]["status"], body["import"]["rejected"]) == ("refused", 5)


def test_status_and_history(local: Any, tmp_path: Path) -> None:
    empty = bloctel("status")
    assert empty.exit_code == 0, empty.output
    assert "No list in force" in empty.stdout
    assert json.loads(bloctel("status", "--json").stdout)["version"] is None
    assert "No BLOCTEL import yet" in bloctel("history").stdout

    bloctel("import", str(listing(tmp_path / "a.txt", numbers(0, 20))), "--as-of", "2026-11-20")
    bloctel("import", str(listing(tmp_path / "b.txt", ["junk"])), "--as-of", "2026-11-21")
    shown = bloctel("status")
    assert shown.exit_code == 0, shown.output
    assert "2026-11-20 (3 days old)" in shown.stdout
    assert "version 2 refused" in shown.stdout  # the last import
    current = json.loads(bloctel("status", "--json").stdout)
    assert (current["version"], current["total_numbers"], current["stale"]) == (1, 20, False)

    history = bloctel("history")
    assert history.exit_code == 0, history.output
    assert "active" in history.stdout and "refused" in history.stdout
    assert "v2 refused: " in history.stdout  # why, below the table
    rows = json.loads(bloctel("history", "--json").stdout)
    assert [(r["version"], r["status"]) for r in rows] == [(2, "refused"), (1, "active")]
    assert len(json.loads(bloctel("history", "--limit", "1", "--json").stdout)) == 1


def test_a_running_import_and_bad_options_are_errors(local: Any, tmp_path: Path) -> None:
    path = listing(tmp_path / "list.txt", numbers(0, 10))
    with store.import_lock(get_engine()):
        busy = bloctel("import", str(path), "--as-of", "2026-11-20")
    assert busy.exit_code == 1, busy.output
    assert "import is running" in busy.stderr and "Traceback" not in busy.output
    for args in (["--max-rejected", "5"], ["--max-rejected", "lots"],
                 ["--url", "http://127.0.0.1:9"],  # no key
                 ["--url", "gateway.example.fr", "--key", "k"]):
        bad = bloctel("import", str(path), "--as-of", "2026-11-20", *args)
        assert bad.exit_code == 2, (args, bad.output)
    unreachable = bloctel("status", "--url", "http://127.0.0.1:9", "--key", "k")
    assert unreachable.exit_code == 1
    assert "cannot reach the gateway" in unreachable.stderr
    assert in_force() == (None, 0)


@pytest.mark.integration
def test_remote_import_through_a_running_gateway(live: Server, tmp_path: Path,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    key = operator_key()
    path = listing(tmp_path / "list.txt", [*numbers(0, 200), "junk"])
    done = bloctel("import", str(path), "--as-of", "2026-11-20", "--url", live.base_url,
                   "--key", key)
    assert done.exit_code == 0, done.output
    assert "BLOCTEL version 1 active" in done.stdout and "uploading" in done.stderr
    with httpx.Client(base_url=live.base_url, headers=auth(key)) as http:
        assert {k: v for k, v in http.get("/v1/bloctel").json().items()
                if k in ("version", "total_numbers", "as_of")} == {
            "version": 1, "total_numbers": 200, "as_of": "2026-11-20"}

    wrong = bloctel("import", str(path), "--as-of", "2026-11-21", "--url", live.base_url,
                    "--key", "gw_wrong")
    assert wrong.exit_code == 1, wrong.output
    assert "refused the key (401)" in wrong.stderr and "Traceback" not in wrong.output

    refused = bloctel("import", str(listing(tmp_path / "junk.txt", ["junk"] * 3)),
                      "--as-of", "2026-11-21", "--url", live.base_url, "--key", key, "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["import"]["status"] == "refused"

    # GATEWAY_URL / GATEWAY_KEY from the environment
    monkeypatch.setenv("GATEWAY_URL", live.base_url)
    monkeypatch.setenv("GATEWAY_KEY", key)
    current = json.loads(bloctel("status", "--json").stdout)
    assert (current["version"], current["last_import"]["status"]) == (1, "refused")
    assert [r["version"] for r in json.loads(bloctel("history", "--json").stdout)] == [2, 1]
