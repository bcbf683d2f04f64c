"""Acceptance (issue 15, item 2): the Asterisk AGI program driven through its real protocol.

``integrations/asterisk/gateway_agi.py`` runs as a real subprocess (``sys.executable``), as
Asterisk runs it: the harness writes the ``agi_*: value`` environment and the blank line on its
stdin, reads every command it writes on stdout and answers like Asterisk does
(``200 result=1 (value)`` / ``200 result=0`` for GET VARIABLE from a dict of channel variables,
``200 result=1`` for SET VARIABLE and VERBOSE, ``510`` for anything else), records what it sets,
and can play a hang-up: a ``HANGUP`` line, SIGHUP, ``511`` answers, or closing the pipes.

Against ``gateway serve --workers 2`` (SQLite and PostgreSQL): allow, deny, the same channel
checked twice, answered and unassigned outcomes, hang-ups mid-AGI. Against nothing, or a stub
(no database): the gateway down, slow or answering nonsense — never ``allow`` — and the mapping
of Asterisk's DIALSTATUS / HANGUPCAUSE to the contract's outcome body.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.calls.models import PenaltyLine
from app.db import get_engine
from tests.factories import CALLEE, Tenant, add_consent, make_tenant, operator_key
from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

AGI = Path(__file__).resolve().parents[2] / "integrations" / "asterisk" / "gateway_agi.py"
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
CLOSE = object()  # a hook's answer: Asterisk closes the pipes (the AGI was killed)
PREFIX = "test-box:"  # external_id_prefix in the harness's configuration
RUN_TIMEOUT_S = 20.0


def agi_words(line: str) -> list[str]:
    """A command line split the way Asterisk's AGI parser does: blanks separate words, double
    quotes group, a backslash escapes the next character."""
    words: list[str] = []
    cur: list[str] = []
    started = quoted = escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            started, escaped = True, False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted, started = not quoted, True
        elif ch in " \t" and not quoted:
            if started:
                words.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        words.append("".join(cur))
    return words


def agi_environment(uniqueid: str, extension: str, callerid: str = "unknown",
                    args: tuple[str, ...] = ()) -> dict[str, str]:
    """What Asterisk 20 writes before the blank line, for a local AGI on a PJSIP channel."""
    env = {
        "agi_request": "gateway_agi.py", "agi_channel": "Local/9" + extension + "@default-0001;2",
        "agi_language": "fr", "agi_type": "Local", "agi_uniqueid": uniqueid,
        "agi_version": "20.5.0", "agi_callerid": callerid, "agi_calleridname": "V1123103000000012",
        "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0",
        "agi_callingtns": "0", "agi_dnid": "unknown", "agi_rdnis": "unknown",
        "agi_context": "default", "agi_extension": extension, "agi_priority": "2",
        "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "140245612345600",
    }
    for i, arg in enumerate(args, 1):
        env[f"agi_arg_{i}"] = arg
    return env


Hook = Callable[["Channel", list[str]], Any]


@dataclass
class Channel:
    """One AGI run: what the program asked, what it set and logged, how it ended."""

    variables: dict[str, str]
    sets: dict[str, str] = field(default_factory=dict)
    set_order: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    returncode: int | None = None
    elapsed: float = 0.0
    stderr: str = ""
    proc: subprocess.Popen[bytes] | None = None

    def answer(self, words: list[str]) -> list[str]:
        head = [w.upper() for w in words[:2]]
        if head == ["GET", "VARIABLE"] and len(words) == 3:
            value = self.variables.get(words[2])
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if head == ["SET", "VARIABLE"] and len(words) in (3, 4):
            self.sets[words[2]] = words[3] if len(words) == 4 else ""
            self.set_order.append(words[2])
            return ["200 result=1"]
        if head[:1] == ["VERBOSE"] and len(words) in (2, 3):
            self.verbose.append(words[1])
            return ["200 result=1"]
        return ["510 Invalid or unknown command"]

    def then(self, variables: dict[str, str]) -> dict[str, str]:
        """The channel's variables after this run (for the next AGI on the same channel)."""
        return self.variables | self.sets | variables

    def logs(self) -> str:
        return "\n".join(self.verbose) + "\n" + self.stderr


def run_agi(args: list[str], env: dict[str, str], variables: dict[str, str],
            settings: dict[str, str], hook: Hook | None = None) -> Channel:
    """Run the AGI program like Asterisk: environment, then one answer per command."""
    channel = Channel(dict(variables))
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | settings
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(AGI), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=proc_env)
    channel.proc = proc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    errors: list[bytes] = []

    def read_out() -> None:
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw)
        lines.put(None)

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)]
    for reader in readers:
        reader.start()

    def send(text: str) -> None:
        try:
            proc.stdin.write(text.encode())
            proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    send("".join(f"{k}: {v}\n" for k, v in env.items()) + "\n")
    deadline = started + RUN_TIMEOUT_S
    try:
        while True:
            raw = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if raw is None:
                break
            line = raw.decode().rstrip("\n")
            channel.commands.append(line)
            words = agi_words(line)
            answer = hook(channel, words) if hook else None
            if answer is CLOSE:
                proc.stdin.close()
                continue
            for reply in answer if answer is not None else channel.answer(words):
                send(reply + "\n")
        channel.returncode = proc.wait(timeout=max(0.01, deadline - time.monotonic()))
    except (queue.Empty, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        pytest.fail(f"the AGI program did not finish in {RUN_TIMEOUT_S}s: {channel.commands}")
    channel.elapsed = time.monotonic() - started
    for reader in readers:
        reader.join(timeout=5)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        pipe.close()
    channel.stderr = b"".join(errors).decode(errors="replace")
    return channel


def write_config(tmp_path: Path, **values: str) -> dict[str, str]:
    """The INI file the program reads, and the environment variable that points at it."""
    path = tmp_path / f"gateway-agi-{len(list(tmp_path.glob('gateway-agi-*')))}.conf"
    body = "".join(f"{k} = {v}  ; {k}, as README.md shows\n" for k, v in values.items())
    path.write_text("; written by tests/integration/test_agi.py\n[gateway]\n" + body)
    path.chmod(0o600)
    return {"GATEWAY_AGI_CONFIG": str(path)}


def live_config(tmp_path: Path, live: Server, t: Tenant) -> dict[str, str]:
    # generous timeouts: the behaviour under a slow gateway is tested against a stub below
    return write_config(tmp_path, url=live.base_url, dialer_key=t.dialer, timeout_ms="8000",
                        outcome_timeout_ms="8000", campaign="spring-2026",
                        external_id_prefix=PREFIX)


def check(settings: dict[str, str], t: Tenant, uniqueid: str, extension: str = "0612345678",
          variables: dict[str, str] | None = None, hook: Hook | None = None) -> Channel:
    env = agi_environment(uniqueid, extension, callerid=t.canvassing_cli)
    return run_agi(["check"], env, variables or {}, settings, hook)


def outcome(settings: dict[str, str], variables: dict[str, str], uniqueid: str = "1",
            hook: Hook | None = None) -> Channel:
    env = agi_environment(uniqueid, "h", args=("outcome",))
    return run_agi(["outcome"], env, variables, settings, hook)


def attempts(t: Tenant, callee: str = CALLEE) -> list[dict[str, Any]]:
    r = t.get(f"/v1/numbers/{callee}/history")
    assert r.status_code == 200, r.text
    return r.json()["attempts"]["items"]


@pytest.fixture
def tenant(live: Server) -> Iterator[Tenant]:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        yield make_tenant(http, "Centre d'appels", operator=operator_key())


# --- against the real gateway (SQLite and PostgreSQL) -----------------------------------------


def test_allowed_call_sets_allow_and_the_same_channel_checked_twice_is_one_attempt(
    live: Server, tenant: Tenant, tmp_path: Path
) -> None:
    add_consent(tenant, CALLEE)
    settings = live_config(tmp_path, live, tenant)
    variables = {"GW_CAMPAIGN": "spring-2026", "GW_AGENT": "agent-7"}

    first = check(settings, tenant, "1764851234.17", variables=variables)

    assert first.returncode == 0, first.stderr
    assert first.sets["GW_DECISION"] == "allow", first.logs()
    assert first.sets["GW_HANGUP_CAUSE"] == "" and first.sets["GW_ERROR"] == ""
    assert first.set_order[-1] == "GW_DECISION"  # the dialplan's test comes last
    assert first.commands[0] == 'GET VARIABLE "GW_CAMPAIGN"'
    (stored,) = attempts(tenant)
    assert stored["attempt_id"] == first.sets["GW_ATTEMPT_ID"]
    assert stored["decision"] == "allow"
    assert stored["external_id"] == PREFIX + "1764851234.17"  # agi_uniqueid
    assert (stored["campaign"], stored["caller_id"], stored["agent_id"]) == (
        "spring-2026", tenant.canvassing_cli, "agent-7")
    assert tenant.dialer not in first.logs() and "allow" in first.logs()

    again = check(settings, tenant, "1764851234.17", variables=variables)  # AGI re-run

    assert again.sets["GW_DECISION"] == "allow"
    assert again.sets["GW_ATTEMPT_ID"] == first.sets["GW_ATTEMPT_ID"]
    assert len(attempts(tenant)) == 1  # counted once


def test_denied_call_sets_deny_the_first_reason_and_cause_21_and_reports_nothing(
    live: Server, tenant: Tenant, tmp_path: Path
) -> None:
    settings = live_config(tmp_path, live, tenant)  # no consent: opt-in regime denies

    denied = check(settings, tenant, "1764851300.2")

    assert denied.returncode == 0
    assert denied.sets["GW_DECISION"] == "deny", denied.logs()
    assert denied.sets["GW_HANGUP_CAUSE"] == "21"
    (stored,) = attempts(tenant)
    assert stored["decision"] == "deny" and stored["reason_codes"]
    assert denied.sets["GW_REASONS"].split(",") == stored["reason_codes"]
    assert denied.sets["GW_ATTEMPT_ID"] == stored["attempt_id"]
    assert tenant.dialer not in denied.logs()

    # the dialplan hung up before Dial(): the outcome step has nothing to report
    after = outcome(settings, denied.then({"HANGUPCAUSE": "21"}))
    assert after.returncode == 0
    assert "nothing to report" in after.logs()
    assert attempts(tenant)[0]["outcome_status"] is None


def test_answered_call_of_12_seconds_is_reported_answered_with_its_duration(
    live: Server, tenant: Tenant, tmp_path: Path
) -> None:
    add_consent(tenant, CALLEE)
    settings = live_config(tmp_path, live, tenant)
    allowed = check(settings, tenant, "1764851400.3")
    assert allowed.sets["GW_DECISION"] == "allow", allowed.logs()

    reported = outcome(settings, allowed.then(
        {"DIALSTATUS": "ANSWER", "ANSWEREDTIME": "12", "HANGUPCAUSE": "16"}))

    assert reported.returncode == 0
    assert "recorded" in reported.logs(), reported.logs()
    (stored,) = attempts(tenant)
    assert (stored["outcome_status"], stored["duration_s"]) == ("answered", 12)


def test_unassigned_number_is_charged_quarantined_and_the_next_check_denied(
    live: Server, tenant: Tenant, tmp_path: Path
) -> None:
    add_consent(tenant, CALLEE)
    settings = live_config(tmp_path, live, tenant)
    allowed = check(settings, tenant, "1764851500.4")
    assert allowed.sets["GW_DECISION"] == "allow", allowed.logs()

    reported = outcome(settings, allowed.then(
        {"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "1"}))  # Q.850 1: unallocated number

    assert "recorded" in reported.logs(), reported.logs()
    (stored,) = attempts(tenant)
    assert (stored["outcome_status"], stored["sip_code"]) == ("unassigned", 404)
    with get_engine().connect() as conn:
        codes = conn.execute(select(PenaltyLine.code).where(
            PenaltyLine.attempt_id == stored["attempt_id"])).scalars().all()
    assert codes == ["CALLEE_UNASSIGNED"]
    history = tenant.get(f"/v1/numbers/{CALLEE}/history").json()
    assert [q["attempt_id"] for q in history["quarantines"]] == [stored["attempt_id"]]

    retry = check(settings, tenant, "1764851600.5")  # the dialer tries the number again

    assert retry.sets["GW_DECISION"] == "deny"
    assert retry.sets["GW_REASONS"].split(",")[0] == "CALLEE_UNASSIGNED"
    assert retry.sets["GW_HANGUP_CAUSE"] == "21"


def test_channel_hanging_up_mid_agi_exits_cleanly_and_never_leaves_an_attempt_open(
    live: Server, tenant: Tenant, tmp_path: Path
) -> None:
    settings = live_config(tmp_path, live, tenant)

    # 1. the caller hangs up while the program reads its variables (FastAGI's HANGUP line,
    #    then every command refused): the gateway is never asked
    def hangup_at_first_get(ch: Channel, words: list[str]) -> Any:
        if len(ch.commands) == 1:
            return ["HANGUP", "200 result=1 (spring-2026)"]
        return [DEAD] if words[0] != "VERBOSE" else None

    early = check(settings, tenant, "1764851700.6", hook=hangup_at_first_get)
    assert early.returncode == 0 and early.elapsed < 5
    assert attempts(tenant) == []
    assert "GW_DECISION" not in early.sets

    # 2. the caller hangs up while the gateway answers (SIGHUP, then 511 to every SET): the
    #    allowed attempt cannot reach the outcome step, so the program releases it itself
    add_consent(tenant, CALLEE)

    def sighup_at_first_set(ch: Channel, words: list[str]) -> Any:
        if words[:2] == ["SET", "VARIABLE"]:
            assert ch.proc is not None
            if len(ch.sets) == 0 and not ch.variables.get("hup"):
                ch.variables["hup"] = "1"
                ch.proc.send_signal(signal.SIGHUP)
            return [DEAD]
        return None

    late = check(settings, tenant, "1764851800.7", hook=sighup_at_first_set)
    assert late.returncode == 0, late.stderr
    assert late.sets == {}
    (stored,) = attempts(tenant)
    assert stored["decision"] == "allow"
    assert stored["outcome_status"] == "not_dialed"  # released from the frequency count
    assert "Traceback" not in late.stderr

    # 3. Asterisk closes the pipes (AGI killed) right after the check: same release, exit 0
    other = "0698765432"
    add_consent(tenant, other)
    gone = check(settings, tenant, "1764851900.8", extension=other,
                 hook=lambda ch, words: CLOSE if words[0] == "SET" else None)
    assert gone.returncode == 0 and "Traceback" not in gone.stderr
    (stored,) = attempts(tenant, other)
    assert stored["outcome_status"] == "not_dialed"


# --- against nothing or a stub (no database) -------------------------------------------------


class Stub:
    """A tiny HTTP server answering every POST with ``answers`` in turn (the last one again
    once they run out) and recording what it received."""

    def __init__(self, answers: list[tuple[int, bytes]], delay_s: float = 0.0) -> None:
        self.answers = answers
        self.delay_s = delay_s
        self.received: list[tuple[str, dict[str, Any], str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.received.append((self.path, json.loads(raw),
                                      self.headers.get("Authorization", "")))
                time.sleep(stub.delay_s)
                status, body = stub.answers[min(len(stub.received), len(stub.answers)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Stub:
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def black_hole() -> Iterator[str]:
    """A port whose listening socket accepts connections (the kernel completes the
    handshake) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def free_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed again: nobody listens there


KEY = "gk_test_secret_never_logged_0123456789"
STUB_TENANT = Tenant(client=None, id="t", operator="", admin="", dialer=KEY, compliance="")
ALLOW = json.dumps({"attempt_id": "att_1", "decision": "allow", "reasons": [],
                    "next_allowed_at": None}).encode()


def assert_failed_closed(ch: Channel, error: str) -> None:
    assert ch.returncode == 0, ch.stderr
    assert ch.sets["GW_DECISION"] == "error", ch.logs()
    assert ch.sets["GW_HANGUP_CAUSE"] == "41"
    assert ch.sets["GW_ATTEMPT_ID"] == ""
    assert ch.sets["GW_ERROR"].startswith(error), ch.sets
    assert KEY not in ch.logs()


def test_gateway_refusing_connections_fails_closed_at_once(tmp_path: Path) -> None:
    settings = write_config(tmp_path, url=free_port_url(), dialer_key=KEY, campaign="c")
    ch = check(settings, STUB_TENANT, "1.1")
    assert_failed_closed(ch, "unreachable")
    assert ch.elapsed < 3


def test_gateway_accepting_but_never_answering_fails_closed_within_the_default_500ms(
    tmp_path: Path
) -> None:
    # the INI file names a working stub; the environment variable wins
    with black_hole() as url, Stub([(200, ALLOW)]) as stub:
        settings = write_config(tmp_path, url=stub.url, dialer_key=KEY, campaign="c")
        ch = check(settings | {"GATEWAY_URL": url}, STUB_TENANT, "1.2")
    assert_failed_closed(ch, "timeout")
    assert stub.received == []
    assert 0.45 < ch.elapsed < 3.0, ch.elapsed  # default timeout 500 ms, plus start-up


def test_gateway_whose_tls_fails_gets_no_key_and_fails_closed(tmp_path: Path) -> None:
    with Stub([(200, ALLOW)]) as stub:  # plain HTTP behind an https:// URL
        settings = write_config(tmp_path, url=stub.url.replace("http:", "https:"),
                                dialer_key=KEY, campaign="c")
        ch = check(settings, STUB_TENANT, "1.7")
    assert_failed_closed(ch, "tls")
    assert stub.received == []


@pytest.mark.parametrize(("status", "body", "error"), [
    (503, b'{"error": "database_unavailable", "detail": "retry"}',
     "http_503_database_unavailable"),
    (401, b'{"error": "unauthorized", "detail": "bad key"}', "http_401_unauthorized"),
    (200, b"<html>captive portal</html>", "bad_json"),
    (200, b'{"attempt_id": "att_1", "decision": "maybe", "reasons": []}', "bad_answer"),
    (200, b'{"attempt_id": null, "decision": "allow", "reasons": []}', "bad_answer"),
    (200, b'{"attempt_id": "att_1", "decision": "deny", "reasons": []}', "bad_answer"),
])
def test_anything_but_a_200_decision_fails_closed(
    tmp_path: Path, status: int, body: bytes, error: str
) -> None:
    with Stub([(status, body)]) as stub:
        settings = write_config(tmp_path, url=stub.url, dialer_key=KEY, campaign="c")
        ch = check(settings, STUB_TENANT, "1.3")
    assert_failed_closed(ch, error)
    ((path, sent, authorization),) = stub.received
    assert path == "/v1/calls/check" and authorization == "Bearer " + KEY
    assert {k: sent[k] for k in ("campaign", "callee", "caller_id", "agent_id")} == {
        "campaign": "c", "callee": "0612345678", "caller_id": STUB_TENANT.canvassing_cli,
        "agent_id": None}
    assert sent["external_id"].endswith(":1.3")  # this box's name, then agi_uniqueid


def test_missing_configuration_or_mode_fails_closed(tmp_path: Path) -> None:
    no_url = write_config(tmp_path, dialer_key=KEY, campaign="c")
    assert_failed_closed(check(no_url, STUB_TENANT, "1.4"), "config_missing_url_or_key")
    missing_file = {"GATEWAY_AGI_CONFIG": str(tmp_path / "nowhere.conf")}
    assert_failed_closed(check(missing_file, STUB_TENANT, "1.5"), "config")
    with Stub([(200, ALLOW)]) as stub:
        settings = write_config(tmp_path, url=stub.url, dialer_key=KEY, campaign="c")
        typo = run_agi(["chek"], agi_environment("1.6", "0612345678"), {}, settings)
    assert_failed_closed(typo, "usage")
    assert stub.received == []


def stub_outcome(tmp_path: Path, variables: dict[str, str],
                 answers: list[tuple[int, bytes]] | None = None, **config: str
                 ) -> tuple[Channel, list[dict[str, Any]]]:
    with Stub(answers or [(200, b"{}")]) as stub:
        settings = write_config(tmp_path, url=stub.url, dialer_key=KEY, **config)
        ch = outcome(settings, variables)
    assert ch.returncode == 0, ch.stderr
    assert all(path == "/v1/calls/att_9/outcome" for path, _, _ in stub.received)
    return ch, [body for _, body, _ in stub.received]


ALLOWED = {"GW_ATTEMPT_ID": "att_9", "GW_DECISION": "allow"}


@pytest.mark.parametrize(("variables", "expected"), [
    ({"DIALSTATUS": "ANSWER", "ANSWEREDTIME": "12", "HANGUPCAUSE": "16"},
     {"status": "answered", "sip_code": None, "duration_s": 12}),
    ({"DIALSTATUS": "BUSY", "HANGUPCAUSE": "17"}, {"status": "busy"}),
    ({"DIALSTATUS": "NOANSWER", "HANGUPCAUSE": "19"}, {"status": "no_answer"}),
    ({"DIALSTATUS": "CANCEL", "HANGUPCAUSE": "16"}, {"status": "no_answer"}),
    ({"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "34"}, {"status": "failed"}),
    ({"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "21"}, {"status": "rejected"}),
    ({"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "1"},
     {"status": "unassigned", "sip_code": 404}),
    ({"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "22"},
     {"status": "unassigned", "sip_code": 410}),
    ({"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "28"},
     {"status": "unassigned", "sip_code": 484}),
    # the dialled channel's own SIP answer (HANGUPCAUSE(chan,tech), Asterisk 11+) wins
    ({"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "16",
      "HANGUPCAUSE_KEYS()": "PJSIP/carrier-00000012",
      "HANGUPCAUSE(PJSIP/carrier-00000012,tech)": "SIP 604 Does Not Exist Anywhere"},
     {"status": "unassigned", "sip_code": 604}),
    ({"HANGUPCAUSE": "16"}, {"status": "not_dialed"}),  # allowed, never dialled
], ids=["answer", "busy", "noanswer", "cancel", "congestion", "rejected", "cause1", "cause22",
        "cause28", "sip604", "not-dialled"])
def test_dialstatus_and_hangupcause_map_to_the_contracts_outcome(
    tmp_path: Path, variables: dict[str, str], expected: dict[str, Any]
) -> None:
    ch, bodies = stub_outcome(tmp_path, ALLOWED | variables)
    assert len(bodies) == 1, ch.logs()
    body = bodies[0]
    assert {k: body[k] for k in expected} == expected
    assert body["duration_s"] == (12 if expected["status"] == "answered" else 0)
    assert KEY not in ch.logs()


@pytest.mark.parametrize("variables", [
    {},  # the check failed: no attempt id
    {"GW_ATTEMPT_ID": "att_9", "GW_DECISION": "deny", "HANGUPCAUSE": "21"},
])
def test_nothing_is_reported_for_a_call_not_allowed_and_not_dialled(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    ch, bodies = stub_outcome(tmp_path, variables)
    assert bodies == [] and "nothing to report" in ch.logs()


def test_a_denied_call_dialled_anyway_is_reported_as_dialled(tmp_path: Path) -> None:
    ch, bodies = stub_outcome(tmp_path, {"GW_ATTEMPT_ID": "att_9", "GW_DECISION": "deny",
                                         "DIALSTATUS": "ANSWER", "ANSWEREDTIME": "30"})
    assert [b["status"] for b in bodies] == ["answered"]
    assert "breach" in ch.logs()


def test_outcome_is_retried_on_503_and_gives_up_in_bounded_time(tmp_path: Path) -> None:
    busy = (503, b'{"error": "database_unavailable", "detail": "retry"}')
    ch, bodies = stub_outcome(tmp_path, ALLOWED | {"DIALSTATUS": "BUSY"}, [busy, (200, b"{}")])
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same idempotent body
    assert "recorded" in ch.logs()

    settings = write_config(tmp_path, url=free_port_url(), dialer_key=KEY,
                            outcome_attempts="3")
    down = outcome(settings, ALLOWED | {"DIALSTATUS": "BUSY"})
    assert down.returncode == 0 and down.elapsed < 5
    assert "unreachable" in down.logs()


def test_the_program_stays_python_36_compatible() -> None:
    """It is copied onto the dialler's box, where python3 may be old (openSUSE 15: 3.6)."""
    import ast

    ast.parse(AGI.read_text(), feature_version=(3, 6))
    assert os.access(AGI, os.X_OK)
    assert AGI.read_text().startswith("#!/usr/bin/env python3\n")


def dialplan_groups(text: str) -> dict[str, list[str]]:
    """extensions.conf's "priority,application" lines per extension, in order."""
    groups: dict[str, list[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("exten =>"):
            current, _, app = line.removeprefix("exten =>").strip().partition(",")
            groups.setdefault(current, []).append(app)
        elif line.startswith("same =>"):
            groups[current].append(line.removeprefix("same =>").strip())
    return groups


def test_every_dial_in_the_dialplan_snippet_is_guarded_by_the_check() -> None:
    groups = dialplan_groups((AGI.parent / "extensions.conf").read_text())
    guard = ["Set(GW_DECISION=error)", "Set(GW_HANGUP_CAUSE=41)", "AGI(gateway_agi.py,check",
             'GotoIf($["${GW_DECISION}" = "allow"]?dial)', "Hangup(${GW_HANGUP_CAUSE})",
             "(dial),Dial("]
    dialling = {name: apps for name, apps in groups.items() if any("Dial(" in a for a in apps)}
    assert len(dialling) == 2  # the VICIdial carrier entry and the plain context
    for name, apps in dialling.items():
        positions = [next(i for i, a in enumerate(apps) if step in a) for step in guard]
        assert positions == sorted(positions), (name, apps)
        assert sum("Dial(" in a for a in apps) == 1, name
    # the outcome: the plain context's h extension, the VICIdial carrier's hangup handler
    assert groups["h"] == ["1,AGI(gateway_agi.py,outcome)"]
    assert groups["gw-outcome"] == ["1,AGI(gateway_agi.py,outcome)", "n,Return()"]
    pushes = [a for apps in dialling.values() for a in apps if "hangup_handler_push" in a]
    assert pushes == [
        "n,Set(CHANNEL(hangup_handler_push)=vicidial-auto-external,gw-outcome,1)"]
