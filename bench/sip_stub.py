"""A stand-in for the gateway in ``bench.sip``: raw asyncio HTTP/1.1 with keep-alive.

    python -m bench.sip_stub PORT [--hang]

* default: ``POST /v1/calls/check`` → 200 ``{"attempt_id": "att_stub_<n>", "decision":
  "allow", "reasons": [], …}`` at once; ``POST /v1/calls/{id}/outcome`` → 200; anything else
  → 404. What the SIP path costs with a gateway that answers in no time.
* ``--hang``: accepts connections, reads the requests and never answers (a gateway that hangs).

Writes ``ready`` on stdout once listening. Standard library only, no uvloop: it must cost less
than the gateway, not be tuned.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys

_counter = itertools.count(1)


def _response(status: int, body: dict[str, object]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    reason = {200: "OK", 404: "Not Found"}.get(status, "OK")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n").encode() + data


def answer(method: bytes, path: bytes) -> bytes:
    if method == b"POST" and path == b"/v1/calls/check":
        n = next(_counter)
        return _response(200, {"attempt_id": f"att_stub_{n}", "decision": "allow",
                               "reasons": [], "regime": "opt_in", "next_allowed_at": None,
                               "penalty_eur": "0.00", "ruleset_version": "stub"})
    if method == b"POST" and path.startswith(b"/v1/calls/") and path.endswith(b"/outcome"):
        return _response(200, {"attempt_id": path.split(b"/")[3].decode(errors="replace"),
                                "recorded": True})
    return _response(404, {"error": "NOT_FOUND", "message": "stub"})


class Conn(asyncio.Protocol):
    def __init__(self, hang: bool) -> None:
        self.hang = hang
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.hang:
            return  # read and forget: the client waits until its own timeout
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            if len(self.buf) < end + 4 + length:
                break
            method, path = (head.split(b"\r\n", 1)[0].split(b" ") + [b"", b""])[:2]
            self.buf = self.buf[end + 4 + length:]
            out.append(answer(method, path))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(port: int, hang: bool) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(hang), "127.0.0.1", port, backlog=1024)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print("ready", flush=True)
    async with server:
        await stop


def main(argv: list[str]) -> int:
    port = int(argv[0])
    asyncio.run(serve(port, "--hang" in argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
