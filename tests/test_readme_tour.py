"""README.md's tour, run — not just read.

The shell blocks of the tour are the ones preceded by ``<!-- tour -->`` in README.md. A fresh
``make run`` (the real Makefile target, on a free port and a temporary SQLite database: ``gateway
db upgrade``, ``gateway demo seed``, ``gateway serve``) prints the demo tenant and its keys; they
are parsed from its output and put in place of the README's ``<tenant id>``, ``<admin key>``…
placeholders, the port in place of ``8000``. Then each block runs with bash (``set -euo
pipefail``), in a directory that looks like a checkout (``.venv`` and ``docs`` linked to the real
ones), after the first block (the exports, as a reader's terminal keeps them): exit 0 and the
facts the README states are asserted. Finally every file the tour wrote must be ignored by git.

What the seed's output must hold (parsed tolerantly, labels and order free):
* the tenant id, ``ten_…``, anywhere;
* one line per key holding a role word (``admin``, ``compliance``, ``dialer``, ``operator`` —
  ``demo-operator`` counts) before the key, ``gw_…`` (else the word after ``key:``); lines with
  ``curl`` or ``Bearer`` are ignored. Without an operator key in the output, the test creates one
  as the README says (``gateway keys create --role operator --json``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
VENV_BIN = Path(sys.executable).parent
BLOCK = re.compile(r"<!-- tour -->\s*\n```(?:sh|bash|shell)\n(.*?)\n```", re.S)
ROLES = ("operator", "admin", "compliance", "dialer")
KEY = re.compile(r"\bgw_[A-Za-z0-9_\-]{16,}")
AFTER_KEY_LABEL = re.compile(r"\bkey\b\s*[:=]\s*(\S{16,})", re.I)
PLACEHOLDERS = {"<tenant id>": "tenant", "<admin key>": "admin", "<compliance key>": "compliance",
                "<dialer key>": "dialer", "<operator key>": "operator"}
HOURS_CODES = {"WEEKEND", "OUTSIDE_HOURS", "PUBLIC_HOLIDAY"}


def tour_blocks(text: str = README) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(text)]


def parse_seed(output: str) -> dict[str, str]:
    """The tenant id and the keys by role, from whatever ``make run`` printed."""
    found: dict[str, str] = {}
    tenant = re.search(r"\bten_[A-Za-z0-9]+", output)
    if tenant:
        found["tenant"] = tenant.group(0)
    for line in output.splitlines():
        if "curl" in line or "Bearer" in line:
            continue
        m = KEY.search(line) or AFTER_KEY_LABEL.search(line)
        if not m:
            continue
        start = m.start() if m.re is KEY else m.start(1)
        key = m.group(0) if m.re is KEY else m.group(1)
        before = line[:start].lower()
        hits = [(h.start(), role) for role in ROLES
                for h in [re.search(rf"(?<![a-z]){role}(?![a-z])", before)] if h]
        if hits:
            found.setdefault(min(hits)[1], key.strip("'\"`,;"))
    return found


# --- the pure part: which blocks, and that they do not rot --------------------------------


def test_the_tour_is_marked_and_starts_with_the_exports() -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 8, blocks
    first = blocks[0]
    for placeholder in PLACEHOLDERS:
        assert placeholder in first, placeholder
    assert "127.0.0.1:8000" in first
    # later blocks use the exported variables, not placeholders a reader would have to fill
    assert not any(p in b for b in blocks[1:] for p in PLACEHOLDERS)


def test_the_tour_holds_no_date_that_rots() -> None:
    """No fixed date: every date is computed (``date +%F``), the instant ``evaluate`` is asked
    about included (next Monday at 10:30 in Paris: the demo consent, collected a month before
    the seed, lasts a year, so a fixed instant would fall before it or after it one day)."""
    dates = {d for b in tour_blocks() for d in re.findall(r"\b20\d\d-\d\d-\d\d\b", b)}
    assert dates == set(), dates
    evaluate = next(b for b in tour_blocks() if "/v1/calls/evaluate" in b)
    assert "TZ=Europe/Paris date -d 'next monday 10:30'" in evaluate


@pytest.mark.parametrize(("output", "expected"), [
    ("Demo tenant Démo (ten_abc123)\n  admin      key: gw_AAAAAAAAAAAAAAAAAAAA\n"
     "  compliance key: gw_BBBBBBBBBBBBBBBBBBBB\n  dialer     key: gw_CCCCCCCCCCCCCCCCCCCC\n"
     "curl -s -H 'Authorization: Bearer gw_CCCCCCCCCCCCCCCCCCCC'\n",
     {"tenant": "ten_abc123", "admin": "gw_AAAAAAAAAAAAAAAAAAAA",
      "compliance": "gw_BBBBBBBBBBBBBBBBBBBB", "dialer": "gw_CCCCCCCCCCCCCCCCCCCC"}),
    ("tenant ten_x9 seeded\n  demo-operator (operator) key: gw_OOOOOOOOOOOOOOOOOOOO\n"
     "  dialer key: gw_CCCCCCCCCCCCCCCCCCCC  (label demo-dialer)\n",
     {"tenant": "ten_x9", "operator": "gw_OOOOOOOOOOOOOOOOOOOO",
      "dialer": "gw_CCCCCCCCCCCCCCCCCCCC"}),
    ("admin key: 'sk_live_0123456789abcdefXYZ'\n",
     {"admin": "sk_live_0123456789abcdefXYZ"}),
])
def test_the_seed_output_is_parsed_tolerantly(output: str, expected: dict[str, str]) -> None:
    assert parse_seed(output) == expected


# --- the tour, run --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    home: Path
    port: int
    env: dict[str, str]
    seed: dict[str, str]
    output: list[str] = field(default_factory=list)


def _clean_env(home: Path) -> dict[str, str]:
    """A reader's environment: none of the test suite's GATEWAY_* settings, no DATABASE_URL
    (the default, data/gateway.db, is what ``make run`` serves), wide and colourless output."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GATEWAY_", "PROMETHEUS_")) and k not in (
               "DATABASE_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env |= {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return env


@pytest.fixture(scope="module")
def tour_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    home = tmp_path_factory.mktemp("checkout")
    (home / ".venv").symlink_to(VENV_BIN.parent, target_is_directory=True)
    (home / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    stamp = tmp_path_factory.mktemp("stamp") / "installed"
    stamp.touch()  # newer than pyproject.toml: `make run` installs nothing
    port = _free_port()
    env = _clean_env(home)
    database = f"sqlite:///{home}/data/gateway.db"  # = data/gateway.db seen from `home`
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(ROOT), "run", f"PORT={port}",
         f"BIN={VENV_BIN}", f"STAMP={stamp}", f"DATABASE_URL={database}"],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    run = Run(home, port, env, {})

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            run.output.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                reader.join(2)
                pytest.fail("make run stopped:\n" + "".join(run.output))
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("make run did not serve within 40 s:\n" + "".join(run.output))
            time.sleep(0.2)
        run.seed = parse_seed("".join(run.output))
        missing = [r for r in ("tenant", "admin", "compliance", "dialer") if r not in run.seed]
        assert not missing, f"not in make run's output: {missing}\n{''.join(run.output)}"
        if "operator" not in run.seed:  # the README's other way to get one
            made = subprocess.run(
                [str(VENV_BIN / "gateway"), "keys", "create", "--role", "operator", "--json"],
                cwd=home, env=env, capture_output=True, text=True, timeout=60, check=True)
            run.seed["operator"] = json.loads(made.stdout)["key"]
        yield run
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the process group this fixture started
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _script(run: Run, block: str) -> str:
    for placeholder, name in PLACEHOLDERS.items():
        block = block.replace(placeholder, run.seed[name])
    return block.replace("127.0.0.1:8000", f"127.0.0.1:{run.port}")


def _bash(run: Run, block: str) -> subprocess.CompletedProcess[str]:
    exports = _script(run, tour_blocks()[0])
    script = f"set -euo pipefail\n{exports}\n{_script(run, block)}\n"
    return subprocess.run(["bash", "-c", script], cwd=run.home, env=run.env,
                          capture_output=True, text=True, timeout=60, check=False)


def _json_values(text: str) -> list[Any]:
    """Every JSON object printed on stdout (curl prints them with no newline between)."""
    decoder, values, i = json.JSONDecoder(), [], 0
    while (i := text.find("{", i)) >= 0:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        values.append(value)
        i = end
    return values


def _flat(text: str) -> str:
    """A rich table as one line of words: box characters and runs of blanks as one space."""
    return re.sub(r"[\s│┃|─━┌┐└┘├┤┬┴┼╭╮╰╯]+", " ", text)


def _codes(answer: dict[str, Any]) -> set[str]:
    return {r["code"] for r in answer["reasons"] if r.get("severity", "block") == "block"}


def _check_live(out: str, err: str, run: Run) -> None:
    (answer,) = _json_values(out)
    assert answer["callee"] == "+33612345678" and answer["attempt_id"].startswith("att_")
    if answer["decision"] == "deny":  # the demo callee consented: only the hour can deny
        assert _codes(answer) <= HOURS_CODES and _codes(answer), answer
        assert answer["next_allowed_at"], answer
    else:
        assert answer["decision"] == "allow" and not _codes(answer), answer


def _check_evaluate(out: str, err: str, run: Run) -> None:
    (answer,) = _json_values(out)
    assert answer["attempt_id"] is None, answer
    if _codes(answer) == {"PUBLIC_HOLIDAY"}:  # next Monday is Easter Monday, 11 November…
        return
    assert (answer["decision"], _codes(answer)) == ("allow", set()), answer
    assert datetime.fromisoformat(answer["checked_at"]).weekday() == 0, answer  # a Monday


def _check_import(out: str, err: str, run: Run) -> None:
    text = _flat(out)
    assert re.search(r"\bcreated 6\b", text) and re.search(r"\brejected 0\b", text), out


def _check_outcome(out: str, err: str, run: Run) -> None:
    (first,) = _json_values(err)  # shown through tee; at any hour: an outside-hours consent
    assert first["decision"] == "allow" and first["callee"] == "+33798765432", first
    outcome, again = _json_values(out)
    assert (outcome["status"], outcome["duration_s"], outcome["consumer_refused"]) == (
        "answered", 95, True), outcome
    assert again["decision"] == "deny", again
    assert {"REFUSAL_COOLDOWN", "CONSENT_REVOKED"} <= _codes(again), again


def _check_bloctel(out: str, err: str, run: Run) -> None:
    text = _flat(out)
    assert "version 1 active" in text.lower() or "1 (active)" in text, out
    assert re.search(r"\bnumbers 2\b", text), out


def _check_scrub(out: str, err: str, run: Run) -> None:
    lines = out.strip().splitlines()
    assert lines[0] == ("nom;prenom;telephone;ville;"
                        "e164;callable_now;blocking_reasons;next_allowed_at")
    rows = {r.split(";")[2]: r.split(";") for r in lines[1:]}
    assert len(rows) == 6
    assert rows["06 55 44 33 22"][4:7] == ["+33655443322", "true", ""]  # outside-hours consent
    assert "CALLEE_SPECIAL_SERVICE" in rows["0891 70 12 34"][6]
    assert "CALLEE_INVALID" in rows["01 23"][6] and rows["01 23"][5] == "false"
    assert "CONSENT_REQUIRED" in rows["06 99 88 77 66"][6]
    assert "CONSENT_REQUIRED" in rows["+262 692 12 34 56"][6]
    assert (run.home / "data" / "tour" / "annotated.csv").read_text().splitlines() == lines


def _check_reports(out: str, err: str, run: Run) -> None:
    assert out.startswith("attempt_id,checked_at,campaign,callee,"), out[:200]
    (summary,) = [v for v in _json_values(out) if "total" in v]
    assert summary["total"] >= 3 and summary["denied"] >= 1, summary  # 3 checks: 1+ deny
    pdf = (run.home / "data" / "tour" / "audit.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    import io

    import pypdf

    cover = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text() or ""
    assert "Rapport d'audit" in cover and "Démo Centre d'appels" in cover, cover


def _check_ledger(out: str, err: str, run: Run) -> None:
    text = _flat(out)
    assert "Ledger intact" in text and "first broken seal none" in text, out
    (verified,) = [v for v in _json_values(out) if "ok" in v]
    assert verified["ok"] is True and verified["first_broken"] is None, verified
    assert verified["seals"] >= 1 and verified["unsealed"]["attempts"] == 0, verified


#: each tour block recognised by what it does (order and wording free), and its facts
CHECKS: list[tuple[str, Any]] = [
    ("/v1/calls/evaluate", _check_evaluate),
    ("/outcome", _check_outcome),
    ("/v1/calls/check", _check_live),
    ("import consents", _check_import),
    ("bloctel import", _check_bloctel),
    ("gateway scrub", _check_scrub),
    ("report audit", _check_reports),
    ("audit verify", _check_ledger),
]


def test_every_tour_command_runs_against_a_fresh_make_run(tour_run: Run) -> None:
    blocks = tour_blocks()
    seen: list[str] = []
    first = _bash(tour_run, "true")
    assert first.returncode == 0, first.stderr
    for block in blocks[1:]:
        done = _bash(tour_run, block)
        assert done.returncode == 0, (
            f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
        what, check = next(((w, c) for w, c in CHECKS if w in block), (None, None))
        assert check is not None, f"a tour block nobody checks:\n{block}"
        check(done.stdout, done.stderr, tour_run)
        seen.append(what)
    assert sorted(seen) == sorted(w for w, _ in CHECKS), seen  # each kind of step once

    # every file the tour (and make run) wrote is ignored by git in a real checkout
    written = [p.relative_to(tour_run.home) for p in tour_run.home.rglob("*")
               if p.is_file() and not {".venv", "docs"} & set(p.relative_to(tour_run.home).parts)]
    assert Path("data/tour/annotated.csv") in written and Path("data/tour/audit.pdf") in written
    if (ROOT / ".git").exists() and shutil.which("git"):
        for path in written:
            ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(path)],
                                     check=False, timeout=30)
            assert ignored.returncode == 0, f"{path} is not ignored by git"
