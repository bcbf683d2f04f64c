#!/usr/bin/env python3
"""Asterisk AGI program: ask the compliance gateway before every dial, report what happened.

    AGI(gateway_agi.py,check[,CALLEE])   before Dial(): sets GW_DECISION and friends
    AGI(gateway_agi.py,outcome)          from the h extension or a hangup handler

Standard library only, Python 3.6 or later: copy this one file to the Asterisk box
(/var/lib/asterisk/agi-bin/, executable). See README.md beside it for the dialplan.

``check`` asks ``POST /v1/calls/check`` and sets the channel variables

    GW_DECISION         allow | deny | error   (dial only on "allow")
    GW_ATTEMPT_ID       the gateway's attempt id (allow and deny)
    GW_REASONS          the reason codes, comma-separated, first = the blocking one
    GW_NEXT_ALLOWED_AT  when the callee may next be called (ISO 8601), when the gateway knows
    GW_HANGUP_CAUSE     Q.850 cause for Hangup(): 21 (call rejected) on deny,
                        41 (temporary failure) on error; empty on allow
    GW_ERROR            on error: what went wrong (timeout, unreachable, http_503, ...)

It fails closed: a timeout, a refused connection, an answer other than a 200 decision, bad
JSON, a missing setting, a crash of this program - all give GW_DECISION=error, never allow.

``outcome`` reads GW_ATTEMPT_ID, GW_DECISION, DIALSTATUS, ANSWEREDTIME, HANGUPCAUSE (and the
SIP code of the dialled channel when Asterisk knows it) and posts
``POST /v1/calls/{attempt_id}/outcome``; it retries connection errors and 502/503/504/429
(outcomes are idempotent). Nothing is reported for a call the gateway did not allow and that
was not dialled.

The AGI protocol: Asterisk writes ``agi_name: value`` lines ended by a blank line, then each
command we write gets one answer line, ``200 result=N [(value)]``, or ``510`` (unknown
command), ``511`` (not permitted on a dead channel), ``520`` / ``520-...`` (usage, multi-line).
When the channel hangs up Asterisk sends SIGHUP (local AGI) or a ``HANGUP`` line (FastAGI);
this program then stops touching the call and exits 0.
"""

import configparser
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

VERSION = "1.0"
CONFIG_ENV = "GATEWAY_AGI_CONFIG"
DEFAULT_CONFIG = "/etc/asterisk/gateway-agi.conf"
SECTION = "gateway"

CAUSE_REJECTED = "21"  # Q.850 call rejected: the gateway denied the call (SIP 403)
CAUSE_TEMPORARY_FAILURE = "41"  # Q.850 temporary failure: gateway unusable (SIP 503)

#: Q.850 causes that say the number does not exist, and the SIP code each stands for: the
#: gateway charges these as "unassigned" and quarantines the number.
UNASSIGNED_CAUSES = {1: 404, 22: 410, 28: 484}
UNASSIGNED_SIP = frozenset((404, 410, 484, 604))

#: setting -> (environment variable, default)
SETTINGS = {
    "url": ("GATEWAY_URL", ""),
    "dialer_key": ("GATEWAY_DIALER_KEY", ""),
    "timeout_ms": ("GATEWAY_TIMEOUT_MS", "500"),
    "outcome_timeout_ms": ("GATEWAY_OUTCOME_TIMEOUT_MS", "2000"),
    "outcome_attempts": ("GATEWAY_OUTCOME_ATTEMPTS", "3"),
    "campaign": ("GATEWAY_CAMPAIGN", ""),
    "external_id_prefix": ("GATEWAY_EXTERNAL_ID_PREFIX", None),
    "ca_file": ("GATEWAY_CA_FILE", ""),
    "verbose_level": ("GATEWAY_VERBOSE_LEVEL", "2"),
}


class ConfigError(Exception):
    pass


class ChannelGone(Exception):
    """Asterisk closed the pipe: nothing more can be said to it."""


class Config:
    def __init__(self, values):
        self.url = values["url"].strip().rstrip("/")
        self.dialer_key = values["dialer_key"].strip()
        self.campaign = values["campaign"].strip()
        self.ca_file = values["ca_file"].strip()
        self.timeout_s = _millis(values, "timeout_ms") / 1000.0
        self.outcome_timeout_s = _millis(values, "outcome_timeout_ms") / 1000.0
        self.outcome_attempts = max(1, min(10, _int(values, "outcome_attempts")))
        self.verbose_level = max(1, min(10, _int(values, "verbose_level")))
        prefix = values["external_id_prefix"]
        if prefix is None:  # this box's name: two Asterisk servers' uniqueids never collide
            prefix = "asterisk:" + socket.gethostname() + ":"
        self.external_id_prefix = prefix


def _int(values, name):
    try:
        return int(str(values[name]).strip())
    except ValueError:
        raise ConfigError(f"{name} is not a number") from None


def _millis(values, name):
    n = _int(values, name)
    if not 50 <= n <= 60000:
        raise ConfigError(f"{name} must be between 50 and 60000")
    return n


def load_config(environ):
    """The settings: the INI file's [gateway] section, each overridden by its environment
    variable. A missing file is fine (environment only); an unreadable one is an error."""
    values = {name: default for name, (_, default) in SETTINGS.items()}
    path = environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    if os.path.exists(path):
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
        try:
            with open(path, encoding="utf-8") as f:
                parser.read_file(f)
        except (OSError, configparser.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
        if parser.has_section(SECTION):
            for name in SETTINGS:
                if parser.has_option(SECTION, name):
                    values[name] = parser.get(SECTION, name)
    elif environ.get(CONFIG_ENV):
        raise ConfigError(f"{CONFIG_ENV} names {path}, which does not exist")
    for name, (variable, _) in SETTINGS.items():
        if environ.get(variable) is not None:
            values[name] = environ[variable]
    return Config(values)


# --- the AGI protocol --------------------------------------------------------------------------


def quote(value):
    """One AGI argument: double-quoted, backslash and quote escaped, no line breaks."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Reply:
    def __init__(self, code, result=None, value=None, text=""):
        self.code = code
        self.result = result
        self.value = value
        self.text = text

    @property
    def ok(self):
        return self.code == 200


class Agi:
    """The pipes to Asterisk: environment, commands, answers, hang-up notices."""

    def __init__(self, rfile, wfile):
        self.rfile = rfile
        self.wfile = wfile
        self.env = {}
        self.hung_up = False  # SIGHUP, a HANGUP line or a 511: the caller is gone
        self.closed = False  # the pipe is gone: no command can be sent any more

    def _readline(self):
        line = self.rfile.readline()
        if not line:
            self.closed = True
            self.hung_up = True
            raise ChannelGone("end of input")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def read_env(self):
        while True:
            line = self._readline()
            if line == "":
                return self.env
            if line == "HANGUP":
                self.hung_up = True
                continue
            name, sep, value = line.partition(":")
            if sep:
                self.env[name.strip()] = value.strip()

    def command(self, line):
        if self.closed:
            raise ChannelGone("closed")
        try:
            self.wfile.write((line + "\n").encode("utf-8"))
            self.wfile.flush()
        except (BrokenPipeError, OSError):
            self.closed = True
            self.hung_up = True
            raise ChannelGone("broken pipe") from None
        while True:
            answer = self._readline()
            if answer == "HANGUP":  # a notice, not the answer: the answer follows
                self.hung_up = True
                continue
            return self._parse(answer)

    def _parse(self, answer):
        code = answer[:3]
        if code == "200":
            m = re.match(r"^200 result=(-?\d*)(.*)$", answer)
            if m is None:
                return Reply(200, text=answer)
            rest = m.group(2).strip()
            value = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else None
            return Reply(200, m.group(1), value, answer)
        if code == "511":
            self.hung_up = True
            return Reply(511, text=answer)
        if answer.startswith("520-"):  # usage follows, up to "520 End of proper usage."
            while not self._readline().startswith("520 "):
                pass
            return Reply(520, text=answer)
        if code.isdigit():
            return Reply(int(code), text=answer)
        return Reply(0, text=answer)

    def get(self, name):
        """A channel variable (or dialplan function, ``NAME(args)``), None when unset."""
        reply = self.command("GET VARIABLE " + quote(name))
        if reply.ok and reply.result == "1" and reply.value is not None:
            return reply.value
        return None

    def set(self, name, value):
        """True when Asterisk stored it."""
        reply = self.command(f"SET VARIABLE {name} {quote(value)}")
        return reply.ok

    def verbose(self, message, level=1):
        if self.closed:
            return
        with contextlib.suppress(ChannelGone):
            self.command(f"VERBOSE {quote(message)} {int(level)}")


# --- the gateway over HTTP ----------------------------------------------------------------------


class Answer:
    """What one HTTP exchange gave: a status and a JSON body, or an error code."""

    def __init__(self, status=None, body=None, error=None, retry_after=None):
        self.status = status
        self.body = body
        self.error = error
        self.retry_after = retry_after


def _opener(cfg):
    handlers = [urllib.request.ProxyHandler({})]  # straight to the gateway, never via a proxy
    if cfg.url.startswith("https:"):
        context = ssl.create_default_context(cafile=cfg.ca_file or None)
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def _exchange(cfg, path, payload, timeout_s):
    request = urllib.request.Request(
        cfg.url + path, data=json.dumps(payload).encode("utf-8"), method="POST",
        headers={"Authorization": "Bearer " + cfg.dialer_key,
                 "Content-Type": "application/json", "Accept": "application/json",
                 "User-Agent": "gateway-agi/" + VERSION},
    )
    try:
        with _opener(cfg).open(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
            retry_after = None
    except urllib.error.HTTPError as exc:
        status, retry_after = exc.code, exc.headers.get("Retry-After") if exc.headers else None
        try:
            raw = exc.read()
        except Exception:
            raw = b""
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return Answer(error="timeout")
        if isinstance(reason, ssl.SSLError):  # a certificate the CA bundle does not vouch for
            return Answer(error="tls")
        return Answer(error="unreachable")
    except (socket.timeout, TimeoutError):  # noqa: UP041 (distinct before Python 3.10)
        return Answer(error="timeout")
    except (OSError, ValueError, http.client.HTTPException):
        return Answer(error="unreachable")
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = None
    return Answer(status=status, body=body, retry_after=retry_after)


def post(cfg, path, payload, timeout_s):
    """POST ``payload``; never raises, never takes longer than ``timeout_s`` (a worker thread
    does the exchange, so a slow DNS answer or a server that accepts and never answers cannot
    hold the call)."""
    box = []

    def work():
        try:
            box.append(_exchange(cfg, path, payload, timeout_s))
        except Exception:  # a bug here must still fail closed
            box.append(Answer(error="client_error"))

    worker = threading.Thread(target=work, name="gateway-http")
    worker.daemon = True
    worker.start()
    worker.join(timeout_s)
    if not box:
        return Answer(error="timeout")
    return box[0]


# --- check ----------------------------------------------------------------------------------------


def _blank(value):
    """An AGI value that means "nothing" (Asterisk writes "unknown" for no caller ID)."""
    if value is None:
        return None
    value = value.strip()
    return None if value in ("", "unknown", "<unknown>") else value


def check_body(agi, cfg, args):
    callee = _blank(args[0] if args else None) or _blank(agi.env.get("agi_extension"))
    wanted = ("GW_CAMPAIGN", "GW_CALLER_ID", "GW_AGENT", "GW_CONTRACT_REF")
    v = {name: _blank(agi.get(name)) for name in wanted}
    uniqueid = _blank(agi.env.get("agi_uniqueid"))
    return {
        "campaign": v["GW_CAMPAIGN"] or cfg.campaign,
        "callee": callee,
        "caller_id": v["GW_CALLER_ID"] or _blank(agi.env.get("agi_callerid")),
        "agent_id": v["GW_AGENT"],
        "contract_ref": v["GW_CONTRACT_REF"],
        "external_id": cfg.external_id_prefix + uniqueid if uniqueid else None,
    }


class Decision:
    def __init__(self, decision, attempt_id="", reasons=(), next_allowed_at="", error=""):
        self.decision = decision
        self.attempt_id = attempt_id
        self.reasons = list(reasons)
        self.next_allowed_at = next_allowed_at
        self.error = error

    @property
    def hangup_cause(self):
        if self.decision == "allow":
            return ""
        return CAUSE_REJECTED if self.decision == "deny" else CAUSE_TEMPORARY_FAILURE


def _error_code(answer):
    code = f"http_{answer.status}"
    if isinstance(answer.body, dict) and isinstance(answer.body.get("error"), str):
        code += "_" + re.sub(r"[^A-Za-z0-9_]", "", answer.body["error"])[:40]
    return code


def decide(cfg, body):
    """The gateway's decision, or an error; anything unexpected is an error (fail closed)."""
    if not cfg.url or not cfg.dialer_key:
        return Decision("error", error="config_missing_url_or_key")
    if not body["campaign"]:
        return Decision("error", error="config_missing_campaign")
    if not body["callee"]:
        return Decision("error", error="no_callee")
    answer = post(cfg, "/v1/calls/check", body, cfg.timeout_s)
    if answer.error:
        return Decision("error", error=answer.error)
    if answer.status != 200:
        return Decision("error", error=_error_code(answer))
    d = answer.body
    if not isinstance(d, dict):
        return Decision("error", error="bad_json")
    decision, attempt_id = d.get("decision"), d.get("attempt_id")
    reasons = d.get("reasons") if isinstance(d.get("reasons"), list) else []
    codes = [r.get("code") for r in reasons if isinstance(r, dict)]
    if decision not in ("allow", "deny") or not isinstance(attempt_id, str) or not attempt_id:
        return Decision("error", error="bad_answer")
    if not all(isinstance(c, str) and c for c in codes) or (decision == "deny" and not codes):
        return Decision("error", error="bad_answer")
    next_allowed = d.get("next_allowed_at")
    return Decision(decision, attempt_id, codes,
                    next_allowed if isinstance(next_allowed, str) else "")


def publish(agi, decision):
    """Set the channel variables, GW_DECISION last: the dialplan dials only once every other
    variable is in place. False when the channel refused them (hung up)."""
    values = (
        ("GW_ATTEMPT_ID", decision.attempt_id),
        ("GW_REASONS", ",".join(decision.reasons)),
        ("GW_NEXT_ALLOWED_AT", decision.next_allowed_at),
        ("GW_HANGUP_CAUSE", decision.hangup_cause),
        ("GW_ERROR", decision.error),
        ("GW_DECISION", decision.decision),
    )
    stored = True
    for name, value in values:
        try:
            stored = agi.set(name, value) and stored
        except ChannelGone:
            return False
    return stored


def run_check(agi, cfg, args, log):
    try:
        body = check_body(agi, cfg, args)
    except ChannelGone:
        return  # Asterisk is gone before we asked anything: nothing will be dialled
    if agi.hung_up:
        log("check: the channel hung up before the check; the gateway was not asked", 1)
        return
    decision = decide(cfg, body)
    stored = publish(agi, decision)
    what = decision.decision
    if decision.reasons:
        what += " " + ",".join(decision.reasons)
    if decision.error:
        what += " (" + decision.error + "; hang up with cause 41)"
    log("check {} campaign {}: {} {}".format(
        body["callee"], body["campaign"], what, decision.attempt_id).rstrip(),
        1 if decision.decision == "error" else None)
    if decision.decision == "allow" and (not stored or agi.hung_up):
        # the call will not be dialled (the caller is gone): release the attempt from the
        # frequency count now, since the variables may never reach the outcome step
        sent = report(cfg, decision.attempt_id, outcome_body("", None, None))
        log(f"check: the channel hung up after an allow; attempt {decision.attempt_id} "
            f"reported not_dialed: {sent}", 1)


# --- outcome --------------------------------------------------------------------------------------


def _number(value):
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def outcome_body(dialstatus, answeredtime, hangupcause, sip_code=None):
    """The contract's outcome body for what Asterisk says of the call."""
    dialstatus = (dialstatus or "").strip().upper()
    cause = _number(hangupcause)
    cause = int(cause) if cause is not None else None
    if dialstatus == "ANSWER":
        seconds = _number(answeredtime) or 0.0
        return {"status": "answered", "sip_code": None,
                "duration_s": max(0, min(86400, int(seconds)))}
    if dialstatus in ("", "INVALIDARGS"):  # Dial() never ran or refused its arguments
        return {"status": "not_dialed", "sip_code": None, "duration_s": 0}
    if sip_code is None and cause in UNASSIGNED_CAUSES:
        sip_code = UNASSIGNED_CAUSES[cause]
    if sip_code in UNASSIGNED_SIP:
        status = "unassigned"
    elif dialstatus == "BUSY" or cause == 17 or sip_code in (486, 600):
        status = "busy"
    elif dialstatus in ("NOANSWER", "CANCEL") or cause in (18, 19) or sip_code in (408, 480, 487):
        status = "no_answer"
    elif dialstatus in ("DONTCALL", "TORTURE") or cause == 21 or sip_code in (403, 603):
        status = "rejected"
    else:  # CONGESTION, CHANUNAVAIL and anything else
        status = "failed"
    return {"status": status, "sip_code": sip_code, "duration_s": 0}


def dialled_sip_code(agi):
    """The SIP final response of the dialled channel, from HANGUPCAUSE(chan,tech)
    (Asterisk 11+: "SIP 404 Not Found"); an unassigned code wins, else the first >= 300."""
    override = _number(agi.get("GW_SIP_CODE"))
    if override is not None and 100 <= override <= 699:
        return int(override)
    keys = agi.get("HANGUPCAUSE_KEYS()") or ""
    codes = []
    for channel in [k.strip() for k in keys.split(",") if k.strip()][:8]:
        tech = agi.get(f"HANGUPCAUSE({channel},tech)") or ""
        m = re.search(r"\bSIP (\d{3})\b", tech)
        if m:
            codes.append(int(m.group(1)))
    for code in codes:
        if code in UNASSIGNED_SIP:
            return code
    return next((c for c in codes if c >= 300), None)


def report(cfg, attempt_id, body):
    """POST the outcome, retrying what may succeed later; returns what happened."""
    if not cfg.url or not cfg.dialer_key:
        return "config_missing_url_or_key"
    path = "/v1/calls/{}/outcome".format(urllib.parse.quote(attempt_id, safe=""))
    result = "not_sent"
    for attempt in range(cfg.outcome_attempts):
        answer = post(cfg, path, body, cfg.outcome_timeout_s)
        if answer.status == 200:
            return "recorded"
        result = answer.error or _error_code(answer)
        retry = answer.error is not None or answer.status in (429, 502, 503, 504)
        if not retry or attempt + 1 == cfg.outcome_attempts:
            break
        pause = 0.2 * (2 ** attempt)
        if answer.retry_after and answer.retry_after.isdigit():
            pause = max(pause, min(2.0, float(answer.retry_after)))
        time.sleep(pause)
    return result


def run_outcome(agi, cfg, log):
    try:
        attempt_id = _blank(agi.get("GW_ATTEMPT_ID"))
        decision = _blank(agi.get("GW_DECISION")) or ""
        if not attempt_id:
            log("outcome: no attempt (the check failed or did not run): nothing to report")
            return
        dialstatus = (_blank(agi.get("DIALSTATUS")) or "").upper()
        if decision != "allow" and not dialstatus:
            log("outcome: attempt {} was {} and not dialled: nothing to report".format(
                attempt_id, decision or "not decided"))
            return
        answeredtime = agi.get("ANSWEREDTIME")
        hangupcause = agi.get("HANGUPCAUSE")
        sip = None
        if dialstatus not in ("", "ANSWER", "INVALIDARGS"):
            sip = dialled_sip_code(agi)
    except ChannelGone:
        return
    body = outcome_body(dialstatus, answeredtime, hangupcause, sip)
    if decision != "allow":
        log(f"outcome: attempt {attempt_id} was {decision or 'not decided'} but "
            f"DIALSTATUS={dialstatus}: reported as dialled (a breach)", 1)
    result = report(cfg, attempt_id, body)
    sip_text = f" sip {body['sip_code']}" if body["sip_code"] else ""
    log(f"outcome {attempt_id} {body['status']}{sip_text}: {result}",
        None if result == "recorded" else 1)


# --- main -----------------------------------------------------------------------------------------


def main(argv=None, stdin=None, stdout=None, environ=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    agi = Agi(stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)

    def on_sighup(signum, frame):  # the caller hung up: finish quietly, do not die mid-request
        agi.hung_up = True

    with contextlib.suppress(AttributeError, ValueError):  # no SIGHUP, or not the main thread
        signal.signal(signal.SIGHUP, on_sighup)
    try:
        agi.read_env()
    except ChannelGone:
        return 0
    if not argv:  # FastAGI-style: the arguments come in the environment
        i = 1
        while f"agi_arg_{i}" in agi.env:
            argv.append(agi.env[f"agi_arg_{i}"])
            i += 1
    mode = argv[0].strip().lower() if argv else ""
    cfg, config_error = None, ""
    try:
        cfg = load_config(environ)
    except ConfigError as exc:
        config_error = str(exc)
    secret = cfg.dialer_key if cfg else ""
    default_level = cfg.verbose_level if cfg else 2

    def log(message, level=None):
        if secret:  # the key is never written to Asterisk's logs
            message = message.replace(secret, "***")
        agi.verbose("gateway: " + message, level or default_level)

    try:
        if mode == "check" and cfg is not None:
            run_check(agi, cfg, argv[1:], log)
        elif mode == "check":
            publish(agi, Decision("error", error="config"))
            log(f"check: configuration error ({config_error}): hang up with cause 41", 1)
        elif mode == "outcome" and cfg is not None:
            run_outcome(agi, cfg, log)
        elif mode == "outcome":
            log(f"outcome: configuration error ({config_error}): not reported", 1)
        else:  # a misspelt mode must not leave a dialplan free to dial
            publish(agi, Decision("error", error="usage"))
            log(f"unknown mode {mode[:20]!r}: use AGI(gateway_agi.py,check) or "
                "AGI(gateway_agi.py,outcome)", 1)
    except ChannelGone:
        pass
    except Exception as exc:  # a bug must never look like anything but "do not dial"
        try:
            if mode == "check":
                publish(agi, Decision("error", error="internal_" + type(exc).__name__))
            log(f"internal error {type(exc).__name__}", 1)
        except ChannelGone:
            pass
    return 0  # a non-zero exit makes Asterisk hang the channel up, with no cause


if __name__ == "__main__":
    sys.exit(main())
