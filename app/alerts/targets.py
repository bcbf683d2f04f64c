"""Where a webhook may send: public addresses only, unless the operator allows more.

A tenant's admin chooses a webhook's URL and the gateway POSTs to it from inside the
operator's network, so an unchecked URL reaches whatever the gateway can reach (loopback,
the cloud's metadata service at 169.254.169.254, the database, the intranet): server-side
request forgery. The rules, applied when a webhook is registered **and** at every delivery
(a name can be re-pointed between the two — DNS rebinding):

* ``https`` only; ``http`` only for a target the operator allows;
* no credentials (``user:pass@``) and no fragment (``#…``, never sent) in the URL; any port;
* the host name is resolved (``resolve``) and **every** address it resolves to must be public
  (``is_public``: not loopback, private, shared, link-local, multicast, unspecified, reserved,
  benchmarking, documentation or broadcast, nor an IPv6 form embedding one) or inside a
  network of ``GATEWAY_WEBHOOK_ALLOW``; a host name listed there is allowed whatever it
  resolves to;
* the delivery then connects to an address that was checked (``Target.addresses``), never
  resolving the name again, with the original host name in ``Host`` and in TLS (SNI and
  certificate verification).

``GATEWAY_WEBHOOK_ALLOW``: comma-separated CIDR networks or addresses (``10.20.0.0/16``,
``127.0.0.1``, ``fd00::/8``) and host names (``hooks.corp.example``, or ``*.corp.example`` for
every name under it), for the operator's on-premises receivers.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache

import httpx

from app.config import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: never public, whatever a Python version's ``is_global`` says (it changed across 3.11–3.13)
_NOT_PUBLIC: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64",
    "2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: an IPv4 address inside
_HOST_NAME = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
                        r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


class Refused(ValueError):
    """A target the rules refuse; ``str()`` says why, in words fit for the tenant's admin."""


def embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def is_public(ip: Address) -> bool:
    """True for an address of the public internet only. An IPv6 address standing for an IPv4
    one is refused (IPv4-mapped, IPv4-compatible, 6to4), except NAT64's well-known prefix,
    judged by the IPv4 address inside."""
    if ip.version == 6 and ip in _NAT64:
        inner = embedded_ipv4(ip)
        return inner is not None and is_public(inner)
    if any(ip in net for net in _NOT_PUBLIC if net.version == ip.version):
        return False
    return bool(ip.is_global) and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )


def kind_of(ip: Address) -> str:
    """A word for why an address is not public (messages and the server log)."""
    inner = embedded_ipv4(ip)
    if inner is not None and not (ip.version == 6 and ip in _NAT64):
        return f"an IPv6 form of the IPv4 address {inner}"
    ip = inner or ip
    for test, words in (
        ("is_unspecified", "an unspecified address"), ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
    ):
        if getattr(ip, test):
            return words
    for net, words in (
        ("255.255.255.255/32", "the broadcast address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("198.18.0.0/15", "a benchmarking address"),
    ):
        if ip in ipaddress.ip_network(net) and ip.version == 4:
            return words
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    return "a reserved address"


@dataclass(frozen=True)
class AllowList:
    networks: tuple[Network, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".corp.example" for "*.corp.example"

    def allows_name(self, host: str) -> bool:
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, ip: Address) -> bool:
        candidates = [ip] + ([e] if (e := embedded_ipv4(ip)) is not None else [])
        return any(c in net for c in candidates for net in self.networks
                   if net.version == c.version)


@lru_cache(maxsize=8)
def parse_allow(value: str) -> AllowList:
    """``GATEWAY_WEBHOOK_ALLOW`` parsed; a ``ValueError`` naming a bad entry."""
    networks: list[Network] = []
    names: set[str] = set()
    suffixes: list[str] = []
    for raw in value.split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not _HOST_NAME.match(entry) or entry == "*":
            raise ValueError(f"GATEWAY_WEBHOOK_ALLOW: {raw.strip()!r} is neither a network "
                             "(10.0.0.0/8, 127.0.0.1, fd00::/8) nor a host name")
        if entry.startswith("*."):
            suffixes.append(entry[1:])
        else:
            names.add(entry)
    return AllowList(tuple(networks), frozenset(names), tuple(suffixes))


def allow_list() -> AllowList:
    return parse_allow(get_settings().webhook_allow)


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, in the resolver's order of preference (the one
    seam the tests replace). An IP literal resolves to itself; an unknown name raises
    ``OSError``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[Address, None] = {}
    for *_, sockaddr in infos:
        seen[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(seen)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, in order) and what to say there."""

    url: httpx.URL
    host: str  # ASCII (IDNA) host name or IP literal: Host header, SNI, certificate
    port: int
    addresses: tuple[Address, ...]
    literal: bool = False  # the URL names an address, not a host name

    def pinned(self, ip: Address) -> httpx.URL:
        """The URL with ``ip`` in place of the host name: httpx connects there and nowhere
        else (the caller sets ``Host`` and ``sni_hostname`` to ``host``)."""
        return self.url.copy_with(host=str(ip))

    @property
    def host_header(self) -> str:
        default = {"http": 80, "https": 443}[self.url.scheme]
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def parse(url: str) -> httpx.URL:
    """The syntax rules (no network): an absolute http(s) URL with a host, no credentials,
    no fragment. Raises ``Refused``."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refused(f"not a usable URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise Refused("the URL must start with https:// (or http:// for a receiver the "
                      "operator allows)")
    if not parsed.raw_host:
        raise Refused("the URL has no host")
    if parsed.userinfo:
        raise Refused("the URL must not contain credentials (user:password@): the "
                      "X-Gateway-Signature header authenticates each delivery")
    if "#" in url:
        raise Refused("the URL must not contain a fragment (#…): it is never sent")
    if port is not None and not 0 < port < 65536:
        raise Refused("the port must be between 1 and 65535")
    return parsed


def check(url: str, *, allow: AllowList | None = None) -> Target:
    """The full rules, resolving the host now; a ``Refused`` says why (without the
    addresses a name resolves to: the intranet's names are not the tenant's to learn).
    The returned target's ``addresses`` are the ones to connect to."""
    allow = allow_list() if allow is None else allow
    parsed = parse(url)
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    port = parsed.port or {"http": 80, "https": 443}[parsed.scheme]
    literal: Address | None
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise Refused(f"the host {host} does not resolve to public addresses only")
    by_name = literal is None and allow.allows_name(host)
    allowed = by_name or all(allow.allows_address(ip) for ip in addresses)
    if not by_name:
        for ip in addresses:
            if not (is_public(ip) or allow.allows_address(ip)):
                if literal is not None:
                    raise Refused(f"{ip} is {kind_of(ip)}: webhooks may only target public "
                                  "addresses")
                raise Refused(f"the host {host} does not resolve to public addresses only")
    if parsed.scheme != "https" and not allowed:
        raise Refused("the URL must use https:// (http:// only for a receiver the operator "
                      "allows in GATEWAY_WEBHOOK_ALLOW)")
    return Target(parsed, str(literal) if literal is not None else host, port,
                  tuple(addresses), literal is not None)
