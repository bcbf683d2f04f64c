"""The HAProxy configuration of the replicated topology, one text for both places it runs:
``make cluster`` here (replicas on 127.0.0.1 ports) and ``docker/compose.yaml`` (replicas found
by the service's DNS name). ``docker/haproxy.cfg`` is this module's output for compose; a test
keeps the two equal.

What the balancer does, and why:

* **Health:** ``GET /readyz`` every 500 ms; two failures take a replica out, two successes put
  it back. ``/readyz`` is 503 when the replica's database does not answer, so a replica cut
  from PostgreSQL is drained, and a dead one fails its check at once.
* **Passive health:** a connection refused or reset while forwarding (``observe layer4``)
  marks the server down at once, without waiting for the next check.
* **Retries only when nothing was sent:** ``retry-on conn-failure`` with ``redispatch``
  tries another replica when the connection could not be opened. A request that reached a
  replica is never replayed elsewhere: a check is not idempotent without ``external_id``
  (it writes an attempt), so a replay could record it twice.
* **No replica at all:** the gateway's own 503 envelope (``errors/503.http``), with
  ``Retry-After``, so a dialer reads the same body it reads from a replica.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The body HAProxy answers when no replica is up: the gateway's error envelope.
UNAVAILABLE_503 = (
    "HTTP/1.1 503 Service Unavailable\r\n"
    "content-type: application/json\r\n"
    "retry-after: 1\r\n"
    "cache-control: no-store\r\n"
    "connection: close\r\n"
    "\r\n"
    '{"error":"unavailable","detail":"no gateway replica is ready, retry"}\n'
)

CHECK_INTERVAL_MS = 500
FALL = 2
RISE = 2


@dataclass(frozen=True)
class Backend:
    """How the balancer finds the replicas: fixed servers, or (compose) a DNS template."""

    servers: Sequence[tuple[str, str]] = ()  # (name, "host:port")
    template: tuple[str, int, str] | None = None  # (prefix, count, "service:port")


def render(bind: str, backend: Backend, *, errors_dir: str, stats_socket: str | None = None,
           resolvers: bool = False) -> str:
    """The haproxy.cfg text: ``bind`` is the frontend's ``host:port``."""
    lines = ["global", "    maxconn 4096"]
    if stats_socket:
        lines.append(f"    stats socket {stats_socket} mode 600 level admin")
    lines += [
        "",
        "defaults",
        "    mode http",
        "    option httplog",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-keep-alive 30s",
        "    timeout check 2s",
        "    retries 3",
        "    option redispatch",
        "    retry-on conn-failure",
        f"    errorfile 503 {errors_dir}/503.http",
        "",
    ]
    if resolvers:
        lines += [
            "resolvers docker",
            "    nameserver dns1 127.0.0.11:53",
            "    hold valid 5s",
            "",
        ]
    lines += [
        "frontend gateway",
        f"    bind {bind}",
        "    default_backend replicas",
        "",
        "backend replicas",
        "    balance leastconn",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200",
        f"    default-server inter {CHECK_INTERVAL_MS}ms fall {FALL} rise {RISE} "
        "observe layer4 error-limit 1 on-error mark-down",
    ]
    for name, address in backend.servers:
        lines.append(f"    server {name} {address} check")
    if backend.template is not None:
        prefix, count, address = backend.template
        lines.append(f"    server-template {prefix} {count} {address} check resolvers docker "
                     "init-addr none")
    return "\n".join(lines) + "\n"
