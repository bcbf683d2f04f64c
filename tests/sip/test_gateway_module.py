"""``integrations/kamailio/gateway.py`` outside Kamailio: the module loaded with a stand-in
for Kamailio's ``KSR`` (pseudo-variables in a dict), talking to the real ``live`` server.

What the end-to-end tests cannot reach cheaply: the outcome mapping table, the trunks file's
reloads, an INVITE that waited longer than its budget, and the spool (an outcome the gateway
cannot take now is kept and posted later, never lost; one it refuses is set aside).
"""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster import free_port
from tests.factories import CALLEE, add_consent, make_tenant
from tests.integration.conftest import Server
from tests.sip.conftest import attempts, delaying_relay

GATEWAY_PY = Path(__file__).resolve().parents[2] / "integrations" / "kamailio" / "gateway.py"


class FakeKSR(types.ModuleType):
    """Kamailio's KSR as gateway.py uses it: ``KSR.pv`` over a dict, and the log functions."""

    def __init__(self) -> None:
        super().__init__("KSR")
        self.vars: dict[str, Any] = {}
        self.logged: list[tuple[str, str]] = []
        pv = types.SimpleNamespace(
            get=lambda name: self.vars.get(name),
            sets=lambda name, value: self.vars.__setitem__(name, value),
            unset=lambda name: self.vars.pop(name, None),
        )
        self.pv = pv
        for level in ("info", "warn", "err", "dbg"):
            setattr(self, level, lambda text, level=level: self.logged.append((level, text)))


@pytest.fixture
def ksr(monkeypatch: pytest.MonkeyPatch) -> FakeKSR:
    fake = FakeKSR()
    monkeypatch.setitem(sys.modules, "KSR", fake)
    return fake


def load(ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Any:
    """A fresh gateway.py module and its Gateway, initialised as a Kamailio child."""
    for name, value in {"GATEWAY_SPOOL": str(tmp_path / "spool"), **env}.items():
        monkeypatch.setenv(name, value)
    for name in ("GATEWAY_TRUNKS", "GATEWAY_KEY", "GATEWAY_URL"):
        if name not in env:
            monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("kamailio_gateway", GATEWAY_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gw = module.mod_init()
    assert gw.child_init(1) == 0
    return module, gw


@pytest.mark.parametrize(("code", "any_reply", "status"), [
    (404, True, "unassigned"), (410, True, "unassigned"), (484, True, "unassigned"),
    (604, True, "unassigned"), (486, True, "busy"), (600, True, "busy"),
    (480, True, "no_answer"), (487, True, "no_answer"), (408, True, "no_answer"),
    (408, False, "failed"),  # tm's own timeout: the trunk never answered at all
    (603, True, "rejected"), (403, True, "failed"), (500, True, "failed"),
    (503, True, "failed"),
])
def test_a_final_response_maps_to_the_outcome_status(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        code: int, any_reply: bool, status: str) -> None:
    module, _ = load(ksr, monkeypatch, tmp_path)
    assert module.status_for(code, any_reply) == status


def test_the_trunks_file_is_reread_when_replaced_and_a_broken_one_keeps_the_last(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "trunks.json"
    path.write_text(json.dumps({"trunks": {"10.0.0.1": {"name": "lyon", "key": "k1"}}}))
    _, gw = load(ksr, monkeypatch, tmp_path, GATEWAY_TRUNKS=str(path))
    assert gw.trunks.for_source("10.0.0.1")["key"] == "k1"
    assert gw.trunks.for_source("10.0.0.2") is None  # no "*": an unknown source has no key
    tmp = tmp_path / "new.json"
    tmp.write_text(json.dumps({"trunks": {"*": {"name": "any", "key": "k2",
                                                "campaign": "c"}}}))
    os.replace(tmp, path)
    assert gw.trunks.for_source("10.0.0.2") == {"name": "any", "key": "k2", "campaign": "c"}
    path.write_text("{not json")
    assert gw.trunks.for_source("10.0.0.2")["key"] == "k2"
    assert any("unreadable" in text for level, text in ksr.logged if level == "err")
    path.unlink()
    assert gw.trunks.for_source("10.0.0.2") is None  # no file: every INVITE refused (503)


@pytest.fixture
def centre(live: Server) -> Iterator[Any]:
    with httpx.Client(base_url=live.base_url, timeout=10) as http:
        yield make_tenant(http, "Centre")


def invite(ksr: FakeKSR, *, t0: float | None = None, campaign: str = "spring-2026",
           caller: str = "+33162000001") -> None:
    ksr.vars.clear()
    ksr.vars.update({
        "$avp(gw_t0)": f"{time.time() if t0 is None else t0:.6f}", "$si": "127.0.0.1",
        "$(ai{uri.user})": caller, "$fU": "ignored-when-pai", "$rU": "0612345678",
        "$hdr(X-Campaign)": campaign, "$ci": f"call-{time.time_ns()}@dialer",
    })


def test_the_check_maps_the_invite_and_reads_the_decision(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live: Server,
        centre: Any) -> None:
    _, gw = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=live.base_url,
                 GATEWAY_KEY=centre.dialer, GATEWAY_CAMPAIGN="spring-2026")
    invite(ksr, caller=centre.canvassing_cli)
    assert gw.check(None) == 1
    assert ksr.vars["$avp(gw_decision)"] == "deny"  # opt-in, no consent
    assert ksr.vars["$avp(gw_first)"] == "CONSENT_REQUIRED"
    add_consent(centre, CALLEE)
    invite(ksr, caller=centre.canvassing_cli)
    assert gw.check(None) == 1
    assert ksr.vars["$avp(gw_decision)"] == "allow"
    assert ksr.vars["$avp(gw_attempt)"].startswith("att_")
    assert ksr.vars["$avp(gw_trunk)"] == "default"


def test_an_invite_that_waited_past_its_budget_is_refused_without_asking(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live: Server,
        centre: Any) -> None:
    """All the check workers busy (a slow gateway): the INVITE queued for longer than the
    budget gets 503 at once, and the gateway logs no attempt for it."""
    _, gw = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=live.base_url,
                 GATEWAY_KEY=centre.dialer, GATEWAY_TIMEOUT_MS="500")
    invite(ksr, t0=time.time() - 0.6, caller=centre.canvassing_cli)
    assert gw.check(None) == 1
    assert (ksr.vars["$avp(gw_decision)"], ksr.vars["$avp(gw_error)"]) == (
        "error", "GATEWAY_TIMEOUT")
    assert attempts() == []


def test_an_outcome_the_gateway_cannot_take_stays_spooled_and_is_posted_later(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live: Server,
        centre: Any) -> None:
    add_consent(centre, CALLEE)
    attempt = centre.check(callee=CALLEE).json()["attempt_id"]
    spool = tmp_path / "spool"
    # the gateway down: the BYE's outcome waits in the spool, retried with back-off
    _, down = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=f"http://127.0.0.1:{free_port()}",
                   GATEWAY_KEY=centre.dialer)
    ksr.vars.update({"$ci": "call-1", "$sht(gwcalls=>call-1)":
                     f"{attempt}|{time.time() - 12.2:.3f}|default"})
    assert down.bye(None) == 1
    assert "$sht(gwcalls=>call-1)" not in ksr.vars  # one BYE counts once
    assert down.flush(None) == 1
    (record,) = [json.loads(p.read_text()) for p in spool.glob("*.json")]
    assert record["tries"] == 1 and record["next_at"] > time.time()
    assert record["outcome"] == {"status": "answered", "duration_s": 12}
    # the gateway back (here: another process with the same spool), once the back-off is over
    _, up = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=live.base_url,
                 GATEWAY_KEY=centre.dialer)
    assert up.flush(None) == 1
    assert list(spool.glob("*.json")), "not before its next try"
    path = next(spool.glob("*.json"))
    path.write_text(json.dumps(record | {"next_at": 0}))
    assert up.flush(None) == 1
    assert not list(spool.glob("*.json"))
    r = centre.get(f"/v1/calls/{attempt}", role="dialer")
    assert r.status_code == 200 and r.json()["outcome_status"] == "answered", r.text


def test_an_outcome_the_gateway_refuses_is_set_aside_not_retried(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live: Server,
        centre: Any) -> None:
    _, gw = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=live.base_url,
                 GATEWAY_KEY=centre.dialer)
    ksr.vars.update({"$avp(gw_attempt)": "att_unknown", "$avp(gw_trunk)": "default",
                     "$ci": "call-2", "$T_reply_code": "486"})
    assert gw.failed(None, "replied") == 1
    assert gw.flush(None) == 1
    spool = tmp_path / "spool"
    assert not list(spool.glob("*.json"))
    (refused,) = spool.glob("*.refused")
    assert json.loads(refused.read_text())["outcome"]["status"] == "busy"


@pytest.fixture
def tls_gateway(live: Server, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The live server behind HAProxy terminating TLS with a certificate of a private CA (made
    here with openssl): (https URL, the CA's certificate)."""
    import shutil
    import subprocess

    from cluster import haproxy_binary

    haproxy, openssl = haproxy_binary(), shutil.which("openssl")
    if haproxy is None or openssl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy and openssl are needed (.ci/run installs haproxy)")
        pytest.skip("haproxy or openssl missing")
    ca_key, ca, key, csr, cert = (tmp_path / n for n in
                                  ("ca.key", "ca.pem", "gw.key", "gw.csr", "gw.pem"))
    run = lambda *a: subprocess.run([openssl, *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca), "-days", "2", "-subj", "/CN=Gateway test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    bundle = tmp_path / "haproxy.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n"
        "  timeout server 10s\n"
        f"frontend tls\n  bind 127.0.0.1:{port} ssl crt {bundle}\n  default_backend gw\n"
        f"backend gw\n  server live 127.0.0.1:{live.port}\n")
    proc = subprocess.Popen([haproxy, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with httpx.Client(verify=ssl.create_default_context(cafile=ca),
                                  timeout=1) as c:
                    if c.get(f"https://127.0.0.1:{port}/healthz").status_code == 200:
                        break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
            time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", ca
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_tls_to_the_gateway_with_a_private_ca_and_fail_closed_without_it(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, centre: Any,
        tls_gateway: tuple[str, Path]) -> None:
    url, ca = tls_gateway
    add_consent(centre, CALLEE)
    _, trusted = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=url, GATEWAY_KEY=centre.dialer,
                      GATEWAY_CAMPAIGN="spring-2026", GATEWAY_CA_FILE=str(ca))
    invite(ksr, caller=centre.canvassing_cli)
    assert trusted.check(None) == 1
    assert ksr.vars["$avp(gw_decision)"] == "allow", ksr.logged
    # the same gateway, its CA not configured: the certificate is not trusted, the call is
    # not placed
    monkeypatch.delenv("GATEWAY_CA_FILE")
    _, untrusted = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=url, GATEWAY_KEY=centre.dialer,
                        GATEWAY_CAMPAIGN="spring-2026")
    invite(ksr, caller=centre.canvassing_cli)
    assert untrusted.check(None) == 1
    assert (ksr.vars["$avp(gw_decision)"], ksr.vars["$avp(gw_error)"]) == (
        "error", "GATEWAY_UNREACHABLE")
    assert any("CERTIFICATE_VERIFY_FAILED" in text for _, text in ksr.logged)


def test_a_check_that_timed_out_is_released_so_it_does_not_count(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live: Server,
        centre: Any) -> None:
    """The proxy gave up on a check at its budget (503, the call not placed) but the gateway
    logged it: the spooled release asks the same check again (a replay, by its external_id)
    and reports that attempt ``not_dialed`` — it does not count toward the 4-in-30-days."""
    add_consent(centre, CALLEE)
    with delaying_relay(live.port, 0.5) as url:
        _, gw = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=url, GATEWAY_KEY=centre.dialer,
                     GATEWAY_CAMPAIGN="spring-2026", GATEWAY_TIMEOUT_MS="200")
        invite(ksr, caller=centre.canvassing_cli)
        assert gw.check(None) == 1
        assert ksr.vars["$avp(gw_error)"] == "GATEWAY_TIMEOUT"
        (path,) = (tmp_path / "spool").glob("release-*.json")
        wait_for_attempt = time.monotonic() + 10
        while not attempts():  # the relay delivers the late check meanwhile
            assert time.monotonic() < wait_for_attempt, "the late check never arrived"
            time.sleep(0.05)
        (late,) = attempts()
        assert (late.decision, late.counted) == ("allow", True)  # a phantom, until released
        path.write_text(json.dumps(json.loads(path.read_text()) | {"next_at": 0}))
        assert gw.flush(None, "0/1") == 1
    assert not list((tmp_path / "spool").glob("*.json"))
    (released,) = attempts()  # the replay named the same attempt: no second one
    assert (released.id, released.outcome_status, released.counted) == (
        late.id, "not_dialed", False)


def test_the_spool_is_shared_between_drain_processes_without_overlap(
        ksr: FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, gw = load(ksr, monkeypatch, tmp_path, GATEWAY_URL=f"http://127.0.0.1:{free_port()}",
                 GATEWAY_KEY="k")
    for n in range(40):
        ksr.vars.update({"$ci": f"c{n}", "$avp(gw_attempt)": f"att_{n:03d}",
                         "$avp(gw_trunk)": "default"})
        gw.not_dialed(None)
    taken: list[str] = []
    posted = lambda path, record: taken.append(record["attempt_id"])  # noqa: E731
    monkeypatch.setattr(gw, "_post_outcome", posted)
    shares = []
    for k in range(4):
        before = len(taken)
        gw.flush(None, f"{k}/4")
        shares.append(len(taken) - before)
    assert sorted(taken) == [f"att_{n:03d}" for n in range(40)]  # each once, none left out
    assert all(shares), shares  # every process has its share
