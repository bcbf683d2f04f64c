"""The SIP path, started from Debian's packages: Kamailio as the enforcing proxy
(``integrations/kamailio``) and ``sipp`` as the dialer (UAC) and as the carrier (UAS).

``tests/sip`` and ``bench.sip`` drive these: start a ``Kamailio`` in front of a carrier
address with the gateway's URL and a trunks file, start a ``Sipp`` UAS as the carrier, run a
``Sipp`` UAC scenario through the proxy, then read what each side sent and received
(``messages()``: the SIP messages sipp traced, parsed). Every process runs in a session of its
own, dies with its parent and is always stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cluster import ClusterError, die_with_parent, stop_group

ROOT = Path(__file__).resolve().parent.parent
KAMAILIO_DIR = ROOT / "integrations" / "kamailio"
SCENARIOS = KAMAILIO_DIR / "sipp"


def _binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.path.exists(p)), None)


def kamailio_binary() -> str | None:
    return _binary("kamailio")


def sipp_binary() -> str | None:
    return _binary("sipp")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sip_options(port: int, timeout: float = 0.5) -> str | None:
    """Send an OPTIONS to 127.0.0.1:``port``; the status line of the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        me = s.getsockname()[1]
        tag = os.urandom(4).hex()
        msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{tag}\r\n"
               f"From: <sip:probe@127.0.0.1>;tag={tag}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
               f"Call-ID: probe-{tag}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
               f"Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            data = s.recv(65535)
        except OSError:
            return None
        return data.split(b"\r\n", 1)[0].decode(errors="replace")


@dataclass
class Kamailio:
    """``kamailio -DD -E`` with ``integrations/kamailio/kamailio.cfg`` on 127.0.0.1:``port``
    (UDP), relaying allowed INVITEs to ``carrier`` (``sip:127.0.0.1:5080``), asking the
    gateway at ``gateway_url`` with the trunks of ``trunks`` ({source IP or "*": {"name",
    "key", "campaign"}})."""

    workdir: Path
    gateway_url: str
    carrier: str
    trunks: Mapping[str, Mapping[str, str]]
    port: int = 0
    timeout_ms: int = 500
    sip_workers: int = 4
    check_workers: int = 8
    #: Kamailio's shared memory, MB (``-m``); its default, 64 MB, runs out of transactions
    #: near 600 calls/s (bench.sip)
    shm_mb: int = 256
    env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_udp_port()
        self.spool = self.workdir / "spool"
        self.trunks_path = self.workdir / "trunks.json"
        self.log_path = self.workdir / "kamailio.log"
        self.write_trunks(self.trunks)

    def write_trunks(self, trunks: Mapping[str, Mapping[str, str]]) -> None:
        """Replace the trunks file (gateway.py re-reads it when it changes)."""
        self.trunks = trunks
        tmp = self.trunks_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"trunks": trunks}, indent=2))
        os.replace(tmp, self.trunks_path)  # a new inode: gateway.py sees the change

    def command(self) -> list[str]:
        binary = kamailio_binary()
        if binary is None:
            raise ClusterError("kamailio is not installed (Debian: kamailio, "
                               "kamailio-python3-modules)")
        return [
            binary, "-f", str(KAMAILIO_DIR / "kamailio.cfg"), "-DD", "-E",
            "-w", str(self.workdir), "-Y", str(self.workdir), "-P", str(self.workdir / "pid"),
            "-A", f"LISTEN=udp:127.0.0.1:{self.port}",
            "-A", f'CARRIER="{self.carrier}"',
            "-A", f'GATEWAY_PY="{KAMAILIO_DIR / "gateway.py"}"',
            "-A", f"SIP_WORKERS={self.sip_workers}",
            "-A", f"CHECK_WORKERS={self.check_workers}",
            "-m", str(self.shm_mb),
        ]

    def start(self, timeout: float = 15.0) -> Kamailio:
        env = os.environ | {
            "GATEWAY_URL": self.gateway_url,
            "GATEWAY_TIMEOUT_MS": str(self.timeout_ms),
            "GATEWAY_TRUNKS": str(self.trunks_path),
            "GATEWAY_SPOOL": str(self.spool),
        } | dict(self.env)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.workdir, start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ClusterError(f"kamailio exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if (sip_options(self.port) or "").startswith("SIP/2.0 200"):
                return self
            time.sleep(0.1)
        self.stop()
        raise ClusterError(f"kamailio did not answer OPTIONS in {timeout}s:\n{self.log_tail()}")

    def spooled(self) -> list[str]:
        """Outcome files still waiting in the spool (not yet taken by the gateway)."""
        if not self.spool.exists():
            return []
        return sorted(p.name for p in self.spool.iterdir() if not p.name.startswith("."))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def stop(self) -> None:
        stop_group(self.proc, grace=5.0)

    def __enter__(self) -> Kamailio:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class Message:
    """One SIP message sipp sent or received."""

    direction: str  # "sent" | "received"
    text: str
    at: float = 0.0  # when sipp sent or received it (epoch seconds, µs precision)

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        line = self.first_line
        return None if line.startswith("SIP/2.0") else line.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        line = self.first_line
        return int(line.split(" ")[1]) if line.startswith("SIP/2.0") else None

    def header(self, name: str) -> str | None:
        for line in re.split(r"\r?\n", self.text.split("\r\n\r\n", 1)[0]):
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == name.lower():
                return value.strip()
        return None

    @property
    def cseq_method(self) -> str | None:
        cseq = self.header("CSeq")
        return cseq.split()[-1] if cseq else None


_SEPARATOR = "-" * 47 + " "  # before each message: the separator, then sipp's timestamp


def parse_trace(text: str) -> list[Message]:
    """The messages of a sipp ``-trace_msg`` file, in order, each with its timestamp."""
    out: list[Message] = []
    for block in text.split(_SEPARATOR)[1:]:
        stamp, _, rest = block.partition("\n")
        what, _, body = rest.partition("\n\n")
        if " message " not in what:
            continue
        try:
            at = datetime.fromisoformat(stamp.strip()).timestamp()
        except ValueError:
            at = 0.0
        body = body.strip("\n").replace("\r\n", "\n").replace("\n", "\r\n")
        out.append(Message("sent" if " sent" in what else "received", body, at))
    return out


@dataclass
class Sipp:
    """One ``sipp`` process: ``scenario`` is a file name in ``integrations/kamailio/sipp``
    or a path; ``keys`` fill its ``[name]`` fields (in a copy of the scenario: by hand,
    ``-key name value`` does the same except in a response's status line)."""

    workdir: Path
    scenario: str
    port: int = 0
    keys: Mapping[str, str] = field(default_factory=dict)
    args: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_udp_port()
        self.name = Path(self.scenario).stem
        self.trace_path = self.workdir / f"{self.name}-{self.port}-messages.log"
        self.log_path = self.workdir / f"{self.name}-{self.port}.log"

    def command(self, target: str | None) -> list[str]:
        binary = sipp_binary()
        if binary is None:
            raise ClusterError("sipp is not installed (Debian: sip-tester)")
        scenario = Path(self.scenario)
        if not scenario.is_absolute():
            scenario = SCENARIOS / scenario
        if self.keys:  # filled in a copy: sipp's -key cannot fill a status line's code
            text = scenario.read_text()
            for key, value in self.keys.items():
                text = text.replace(f"[{key}]", str(value))
            scenario = self.workdir / f"{self.name}-{self.port}.xml"
            scenario.write_text(text)
        cmd = [binary, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port),
               "-trace_msg", "-message_file", str(self.trace_path),
               "-trace_err", "-error_file", str(self.workdir / f"{self.name}-{self.port}-err.log"),
               "-nostdin", "-nd", "-max_recv_loops", "1000"]
        cmd += list(self.args)
        if target:
            cmd.append(target)
        return cmd

    def start(self, target: str | None = None) -> Sipp:
        """In the background (a UAS, or a long UAC run)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(target), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.workdir, start_new_session=True, preexec_fn=die_with_parent)
        time.sleep(0.2)  # sipp binds its socket at once; a bad scenario exits at once
        if self.proc.poll() not in (None, 0):
            raise ClusterError(f"sipp {self.name} exited with {self.proc.returncode}:\n"
                               f"{self.log_text()}")
        return self

    def run(self, target: str, timeout: float = 30.0) -> int:
        """In the foreground until its calls are done; sipp's exit status (0: every call
        went as the scenario says)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(target), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.workdir, start_new_session=True, preexec_fn=die_with_parent)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ClusterError(f"sipp {self.name} still running after {timeout}s:\n"
                               f"{self.log_text()}") from None

    def messages(self) -> list[Message]:
        if not self.trace_path.exists():
            return []
        return parse_trace(self.trace_path.read_text(errors="replace"))

    def received(self, method_or_status: str | int | None = None) -> list[Message]:
        out = [m for m in self.messages() if m.direction == "received"]
        if isinstance(method_or_status, int):
            return [m for m in out if m.status == method_or_status]
        if method_or_status:
            return [m for m in out if m.method == method_or_status]
        return out

    def log_text(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        err = self.workdir / f"{self.name}-{self.port}-err.log"
        if err.exists():
            text += "\n--- errors ---\n" + err.read_text(errors="replace")[-4000:]
        return text[-8000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc, grace=3.0)
        with contextlib.suppress(Exception):
            if self.proc is not None:
                self.proc.wait(timeout=5)


def main(argv: Sequence[str] | None = None) -> int:
    """``make sip``: the enforcing proxy in front of a running gateway, by hand."""
    import argparse
    import signal
    import tempfile

    ap = argparse.ArgumentParser(
        prog="python -m cluster.sip",
        description="Kamailio (integrations/kamailio) in front of a running gateway, with a "
                    "sipp carrier that answers every call; prints the sipp command that "
                    "places a call through it. Ctrl-C stops everything.")
    ap.add_argument("--gateway", default="http://127.0.0.1:8000", help="the gateway's URL")
    ap.add_argument("--key", required=True, help="the tenant's dialer key (make run prints it)")
    ap.add_argument("--campaign", default="spring-2026", help="the default campaign")
    ap.add_argument("--port", type=int, default=5060, help="the proxy's SIP port (UDP)")
    ap.add_argument("--carrier-port", type=int, default=5080,
                    help="where the sipp carrier listens (UDP)")
    ap.add_argument("--timeout-ms", type=int, default=500, help="the check's budget")
    args = ap.parse_args(argv)

    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    workdir = Path(tempfile.mkdtemp(prefix="gateway-sip-"))
    kamailio = Kamailio(workdir / "kamailio", args.gateway, f"sip:127.0.0.1:{args.carrier_port}",
                        trunks={"*": {"name": "demo", "key": args.key,
                                      "campaign": args.campaign}},
                        port=args.port, timeout_ms=args.timeout_ms)
    carrier = Sipp(workdir / "carrier", "uas_answer.xml", port=args.carrier_port)
    try:
        carrier.start()
        kamailio.start()
        uac = SCENARIOS / "uac.xml"
        print(f"proxy ready: sip:127.0.0.1:{args.port} -> gateway {args.gateway}, "
              f"carrier sip:127.0.0.1:{args.carrier_port} (sipp, answers every call)", flush=True)
        print(f"logs: {workdir}", flush=True)
        print("place a call (a denied one answers 403 with its reason; see the messages file):")
        print(f"  sipp -sf {uac} -s 0612345678 -key caller +33162000001 "
              f"-key campaign {args.campaign} -key agent '' -m 1 -d 2000 -trace_msg "
              f"127.0.0.1:{args.port}", flush=True)
        while kamailio.proc is not None and kamailio.proc.poll() is None:
            time.sleep(0.5)
        print(f"kamailio exited:\n{kamailio.log_tail()}", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        kamailio.stop()
        carrier.stop()


if __name__ == "__main__":
    raise SystemExit(main())
