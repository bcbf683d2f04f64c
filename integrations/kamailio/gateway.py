"""The gateway's side of the enforcing SIP proxy: loaded by Kamailio's ``app_python3`` module.

``kamailio.cfg`` handles SIP (transactions, retransmissions, CANCEL, record-routing, replies);
this module only talks to the gateway, with millisecond timeouts that Debian 12's packaged
``http_client`` cannot give (it counts whole seconds):

* ``check`` (in an ``async`` worker, never in a SIP worker): ``POST /v1/calls/check`` for the
  INVITE, within what is left of the time budget since the INVITE arrived; leaves the decision
  in ``$avp(gw_decision)`` (``allow``/``deny``/``error``), ``$avp(gw_attempt)``,
  ``$avp(gw_reasons)``, ``$avp(gw_first)`` and, on ``error``, ``$avp(gw_error)``.
* ``answered`` / ``bye`` / ``failed`` / ``not_dialed``: the call's outcome, written to a spool
  directory (a small local file, no network in the SIP worker);
* ``flush`` (in an ``rtimer`` process): posts the spooled outcomes to
  ``POST /v1/calls/{attempt_id}/outcome``, retrying with back-off until the gateway takes them;
  a file stays in the spool until then, across restarts.

Standard library only: Kamailio embeds Debian's ``python3``, not the gateway's environment.

Settings (environment of the Kamailio process; see README.md):
``GATEWAY_URL`` (default ``http://127.0.0.1:8000``), ``GATEWAY_TIMEOUT_MS`` (500),
``GATEWAY_TRUNKS`` (the JSON file of trunks: keys and default campaigns by source address),
``GATEWAY_KEY`` / ``GATEWAY_CAMPAIGN`` (one trunk for every source when there is no trunks
file), ``GATEWAY_CA_FILE`` (TLS to the gateway with a private CA), ``GATEWAY_SPOOL``
(outcome spool, default ``/var/spool/kamailio-gateway``), ``GATEWAY_OUTCOME_TIMEOUT_MS`` (2000).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
import urllib.parse
import uuid
import zlib

import KSR  # provided by Kamailio's app_python3

#: SIP final responses from the carrier and the outcome status they mean for the gateway.
#: 404/410/484/604 say the number does not exist: the gateway charges ``unassigned`` and
#: quarantines the number (it reads ``sip_code`` too).
UNASSIGNED = frozenset({404, 410, 484, 604})
BUSY = frozenset({486, 600})
NO_ANSWER = frozenset({408, 480, 487})  # 487: the dialer cancelled while it rang
REJECTED = frozenset({603})


def status_for(code: int, any_reply: bool) -> str:
    """The outcome ``status`` for a negative final response ``code`` (``any_reply``: the
    carrier answered anything at all; a local 408 without it means the trunk never did)."""
    if code in UNASSIGNED:
        return "unassigned"
    if code in BUSY:
        return "busy"
    if code in REJECTED:
        return "rejected"
    if code in NO_ANSWER:
        return "no_answer" if any_reply or code != 408 else "failed"
    return "failed"


def _log(level: str, text: str) -> None:
    getattr(KSR, level)(f"gateway: {text}\n")


class Trunks:
    """The trunks file (``GATEWAY_TRUNKS``), re-read when it changes: by source IP address,
    ``{"name", "key", "campaign"}``; ``"*"`` for any other source. Without a file, one trunk
    from ``GATEWAY_KEY`` / ``GATEWAY_CAMPAIGN`` for every source."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.stamp: tuple[int, int, int] | None = None
        self.by_source: dict[str, dict[str, str]] = {}
        self.by_name: dict[str, dict[str, str]] = {}
        if not path:
            key = os.environ.get("GATEWAY_KEY", "")
            trunk = {"name": "default", "key": key,
                     "campaign": os.environ.get("GATEWAY_CAMPAIGN", "")}
            self.by_source = {"*": trunk} if key else {}
            self.by_name = {"default": trunk} if key else {}

    def _reload(self) -> None:
        if not self.path:
            return
        try:
            st = os.stat(self.path)
        except OSError as exc:
            if self.stamp != (0, 0, 0):
                _log("err", f"trunks file {self.path}: {exc}; every INVITE is refused")
            self.stamp, self.by_source, self.by_name = (0, 0, 0), {}, {}
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # replaced or rewritten
        if stamp == self.stamp:
            return
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
            by_source = {}
            for source, trunk in doc["trunks"].items():
                by_source[source] = {"name": str(trunk.get("name") or source),
                                     "key": str(trunk["key"]),
                                     "campaign": str(trunk.get("campaign") or "")}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _log("err", f"trunks file {self.path} unreadable ({exc!r}); keeping the last one")
            self.stamp = stamp
            return
        self.stamp, self.by_source = stamp, by_source
        self.by_name = {t["name"]: t for t in by_source.values()}
        _log("info", f"trunks file {self.path}: {len(by_source)} trunk(s)")

    def for_source(self, address: str) -> dict[str, str] | None:
        self._reload()
        return self.by_source.get(address) or self.by_source.get("*")

    def named(self, name: str) -> dict[str, str] | None:
        self._reload()
        return self.by_name.get(name)


class Http:
    """One keep-alive connection to the gateway, per Kamailio process."""

    def __init__(self, base_url: str, ca_file: str | None) -> None:
        url = urllib.parse.urlsplit(base_url)
        self.https = url.scheme == "https"
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if self.https else 80)
        self.prefix = url.path.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_file) if self.https else None
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def post(self, path: str, key: str, body: dict, timeout: float) -> tuple[int, bytes]:
        """POST ``body`` as JSON; (status, body). Raises OSError / http.client errors on a
        transport failure or a timeout. A kept-alive connection the server has closed is
        retried once on a new connection (the check carries an external_id, outcomes are
        idempotent: a repeat counts once)."""
        data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        deadline = time.monotonic() + timeout
        for fresh in (False, True):
            reused = self.conn is not None and not fresh
            if self.conn is None or fresh:
                self.close()
                self.conn = self._connect(timeout)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no time left")
            self.conn.timeout = left
            if self.conn.sock is not None:
                self.conn.sock.settimeout(left)
            try:
                self.conn.request("POST", self.prefix + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, payload
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if not reused:
                    raise
            except BaseException:
                self.close()
                raise
        raise ConnectionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Gateway:
    def __init__(self) -> None:
        self.url = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
        self.timeout = int(os.environ.get("GATEWAY_TIMEOUT_MS", "500")) / 1000
        self.outcome_timeout = int(os.environ.get("GATEWAY_OUTCOME_TIMEOUT_MS", "2000")) / 1000
        self.spool = os.environ.get("GATEWAY_SPOOL", "/var/spool/kamailio-gateway")
        self.trunks = Trunks(os.environ.get("GATEWAY_TRUNKS") or None)
        self.ca_file = os.environ.get("GATEWAY_CA_FILE") or None
        self.http: Http | None = None

    def child_init(self, rank: int) -> int:
        self.http = Http(self.url, self.ca_file)  # after the fork: one connection per process
        os.makedirs(self.spool, exist_ok=True)
        return 0

    # -- the check -------------------------------------------------------------------------

    def _decide(self, decision: str, **values: str) -> int:
        KSR.pv.sets("$avp(gw_decision)", decision)
        for name, value in values.items():
            KSR.pv.sets(f"$avp(gw_{name})", value)
        return 1

    def _error(self, code: str, text: str) -> int:
        _log("warn", f"INVITE {KSR.pv.get('$ci')}: {code}: {text}; answered 503")
        return self._decide("error", error=code)

    def check(self, msg: object, args: object = None) -> int:
        started = float(KSR.pv.get("$avp(gw_t0)") or time.time())
        trunk = self.trunks.for_source(KSR.pv.get("$si") or "")
        if trunk is None:
            return self._error("TRUNK_UNKNOWN", f"no trunk for source {KSR.pv.get('$si')}")
        KSR.pv.sets("$avp(gw_trunk)", trunk["name"])
        caller = KSR.pv.get("$(ai{uri.user})") or KSR.pv.get("$fU") or ""
        body = {
            "campaign": KSR.pv.get("$hdr(X-Campaign)") or trunk["campaign"],
            "callee": KSR.pv.get("$rU") or "",
            "caller_id": caller,
            "agent_id": KSR.pv.get("$hdr(X-Agent)") or None,
            "contract_ref": KSR.pv.get("$hdr(X-Contract-Ref)") or None,
            "external_id": KSR.pv.get("$ci"),
        }
        left = self.timeout - (time.time() - started)
        if left <= 0.005:  # waited for a free worker longer than the budget: do not even ask
            return self._error("GATEWAY_TIMEOUT", f"queued {time.time() - started:.3f}s")
        try:
            status, payload = self.http.post("/v1/calls/check", trunk["key"], body, left)
        except ConnectionRefusedError as exc:  # nothing was sent: no attempt exists
            return self._error("GATEWAY_UNREACHABLE", repr(exc))
        except TimeoutError as exc:
            self._spool_release(trunk["name"], body)
            return self._error("GATEWAY_TIMEOUT", repr(exc))
        except (OSError, http.client.HTTPException) as exc:
            self._spool_release(trunk["name"], body)
            return self._error("GATEWAY_UNREACHABLE", repr(exc))
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = None
        if status != 200 or not isinstance(answer, dict):
            code = answer.get("error") if isinstance(answer, dict) else None
            return self._error(f"GATEWAY_{status}", str(code or payload[:80]))
        decision, attempt = answer.get("decision"), answer.get("attempt_id")
        reasons = [r for r in answer.get("reasons") or [] if isinstance(r, dict)]
        codes = [str(r.get("code")) for r in reasons]
        blocking = [str(r.get("code")) for r in reasons if r.get("severity") == "block"]
        if decision == "deny":
            first = (blocking or codes or ["DENIED"])[0]
            return self._decide("deny", attempt=str(attempt), first=first,
                                reasons=",".join(codes) or first)
        if decision != "allow" or not attempt:
            return self._error("GATEWAY_ANSWER", f"unexpected decision {decision!r}")
        if time.time() - started > self.timeout:  # allowed, but too late for the dialer
            self._spool(trunk["name"], str(attempt), {"status": "not_dialed"})
            return self._error("GATEWAY_TIMEOUT", "allowed after the budget; not dialled")
        return self._decide("allow", attempt=str(attempt), reasons=",".join(codes))

    # -- outcomes --------------------------------------------------------------------------

    def _spool(self, trunk: str, attempt: str, outcome: dict) -> None:
        self._write({"attempt_id": attempt, "trunk": trunk, "outcome": outcome,
                     "tries": 0, "next_at": 0.0, "call_id": KSR.pv.get("$ci")}, f"{attempt}.json")

    def _spool_release(self, trunk: str, check: dict) -> None:
        """A check sent but not answered in time: the gateway may have logged (and counted)
        an attempt for a call that will not be placed. Spooled to be released later: the
        same check again (its external_id makes it a replay that names the attempt), then
        ``not_dialed`` for it, so that it does not count toward the frequency limit."""
        name = "release-" + uuid.uuid5(uuid.NAMESPACE_URL, str(check["external_id"])).hex
        self._write({"attempt_id": None, "trunk": trunk, "check": check,
                     "outcome": {"status": "not_dialed"}, "tries": 0,
                     "next_at": time.time() + 1.0,  # after the late check has had its time
                     "call_id": check["external_id"]}, f"{name}.json")

    def _write(self, record: dict, name: str) -> None:
        tmp = os.path.join(self.spool, f".{name}.{uuid.uuid4().hex}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(self.spool, name))

    def answered(self, msg: object, args: object = None) -> int:
        """A 2xx to the INVITE: remember when, for the duration at the BYE."""
        attempt = KSR.pv.get("$avp(gw_attempt)")
        key = f"$sht(gwcalls=>{KSR.pv.get('$ci')})"
        if attempt and not KSR.pv.get(key):
            KSR.pv.sets(key, f"{attempt}|{time.time():.3f}|{KSR.pv.get('$avp(gw_trunk)')}")
        return 1

    def bye(self, msg: object, args: object = None) -> int:
        """A BYE from either side ends an answered call: ``answered`` with its duration."""
        key = f"$sht(gwcalls=>{KSR.pv.get('$ci')})"
        value = KSR.pv.get(key)
        if not value:
            return 1  # not a call we relayed, or its BYE already counted
        attempt, answered_at, trunk = value.split("|", 2)
        duration = max(0, round(time.time() - float(answered_at)))
        self._spool(trunk, attempt, {"status": "answered", "duration_s": duration})
        KSR.pv.unset(key)
        return 1

    def failed(self, msg: object, args: object = None) -> int:
        """A negative final response to a relayed INVITE (from the carrier, or tm's own 408)."""
        attempt = KSR.pv.get("$avp(gw_attempt)")
        if not attempt:
            return 1
        code = int(KSR.pv.get("$T_reply_code") or 0)
        any_reply = str(args or "") == "replied"
        outcome = {"status": status_for(code, any_reply), "sip_code": code or None,
                   "duration_s": 0}
        self._spool(KSR.pv.get("$avp(gw_trunk)") or "", attempt, outcome)
        return 1

    def not_dialed(self, msg: object, args: object = None) -> int:
        """An allowed INVITE that never reached the carrier (cancelled first, or t_relay
        failed): released from the frequency count."""
        attempt = KSR.pv.get("$avp(gw_attempt)")
        if attempt:
            self._spool(KSR.pv.get("$avp(gw_trunk)") or "", attempt, {"status": "not_dialed"})
        return 1

    def flush(self, msg: object, args: object = None) -> int:
        """Post every spooled outcome that is due. ``args`` "k/n": this ``rtimer`` process
        takes the k-th of n shares of the spool (by a hash of the file name), so that n
        processes post outcomes side by side and never the same one twice."""
        share, shares = 0, 1
        if args:
            share, shares = (int(x) for x in str(args).split("/"))
        try:
            names = sorted(n for n in os.listdir(self.spool) if n.endswith(".json")
                           and not n.startswith(".")
                           and zlib.crc32(n.encode()) % shares == share)
        except OSError as exc:
            _log("err", f"spool {self.spool}: {exc}")
            return 1
        now = time.time()
        for name in names:
            path = os.path.join(self.spool, name)
            try:
                with open(path, encoding="utf-8") as f:
                    record = json.load(f)
            except (OSError, ValueError) as exc:
                _log("err", f"spool {path} unreadable: {exc!r}; left for an operator")
                os.replace(path, path + ".bad")
                continue
            if record.get("next_at", 0) > now:
                continue
            self._post_outcome(path, record)
        return 1

    def _post_outcome(self, path: str, record: dict) -> None:
        trunk = self.trunks.named(record.get("trunk") or "")
        if record.get("attempt_id") is None and trunk is not None:  # a release: which attempt?
            try:
                status, payload = self.http.post("/v1/calls/check", trunk["key"],
                                                 record["check"], self.outcome_timeout)
                answer = json.loads(payload) if status == 200 else {}
            except (OSError, http.client.HTTPException, ValueError) as exc:
                status, payload, answer = 0, repr(exc).encode(), {}
            if not isinstance(answer, dict) or not answer.get("attempt_id"):
                self._retry(path, record, f"release of {record.get('call_id')}", status,
                            payload)
                return
            record["attempt_id"] = str(answer["attempt_id"])
        attempt = record["attempt_id"]
        status = 0
        if trunk is not None:
            try:
                status, payload = self.http.post(
                    f"/v1/calls/{urllib.parse.quote(attempt)}/outcome", trunk["key"],
                    record["outcome"], self.outcome_timeout)
            except (OSError, http.client.HTTPException) as exc:
                payload = repr(exc).encode()
        else:
            payload = b"no trunk of that name in the trunks file"
        if status == 200:
            os.unlink(path)
            return
        if status in (404, 409, 422):  # final: unknown attempt, another outcome, bad body
            _log("err", f"outcome for {attempt} refused ({status}: {payload[:200]!r}); "
                        f"kept as {path}.refused")
            os.replace(path, path + ".refused")
            return
        self._retry(path, record, f"outcome for {attempt}", status, payload)

    def _retry(self, path: str, record: dict, what: str, status: int, payload: bytes) -> None:
        record["tries"] = tries = int(record.get("tries", 0)) + 1
        record["next_at"] = time.time() + min(2 ** tries, 300)
        _log("warn", f"{what}: {status or 'no answer'} ({payload[:120]!r}); "
                     f"try {tries}, again in {min(2 ** tries, 300)}s")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, path)


def mod_init() -> Gateway:
    return Gateway()
