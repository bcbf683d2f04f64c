"""What the sync and async clients share: each endpoint as a ``Call`` (what to send, whether a
retry is safe, how to read the answer), the retry policy, and upload bodies.

**Retry policy** (``retry_delay``). A retry is only ever made when it cannot do a thing twice:

* nothing was sent (connection refused, connect timeout, no free pooled connection): any call;
* 429: the gateway refused the request before reading it (the rate limit is spent when the key is
  resolved): any call;
* the request may have been processed (a read timeout, a reset, a dropped answer; 502, 503, 504):
  only *idempotent* calls — GETs, ``evaluate`` (no side effect), ``check`` (always sent with an
  ``external_id``: the gateway answers the same attempt again, counted once) and ``outcome``
  (the same outcome twice is answered the stored one);
* never any other 4xx, never a non-idempotent POST (bulk imports, scrub, creations) once its
  request may have left.

Waits: ``Retry-After`` when the gateway sends it, unless it is longer than ``max_retry_after`` (then
no retry: the error goes to the caller, ``retry_after`` on it); otherwise a short jittered
exponential back-off. No retry starts past the call's ``total_timeout``.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from gateway_client.errors import (
    GatewayClientError,
    GatewayTimeout,
    GatewayUnreachable,
    MalformedResponse,
    error_for,
    parse_retry_after,
)

T = TypeVar("T")

#: the check path: a dialer waits for this before every call
DEFAULT_TIMEOUT = httpx.Timeout(1.0, connect=0.5)
#: uploads (imports, scrub) and reports: large bodies, long work on the gateway
DEFAULT_BULK_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
DEFAULT_RETRIES = 2
DEFAULT_TOTAL_TIMEOUT = 2.5
DEFAULT_MAX_RETRY_AFTER = 2.0
BACKOFF_BASE_S = 0.05
BACKOFF_MAX_S = 0.5
CHUNK = 1 << 16
USER_AGENT = "canvassing-gateway-client/0.1"

#: an upload body: the bytes, a file path, a binary file object, or an iterable of chunks
Upload = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes] | Iterable[bytes] \
    | AsyncIterable[bytes]

_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def new_external_id() -> str:
    """An ``external_id`` for a check whose caller gave none: unique, so that a retry of the
    same check is recognised by the gateway and never counted twice."""
    return f"gwc-{uuid.uuid4().hex}"


def segment(value: str) -> str:
    """One path segment, quoted (a caller ID ``+33…``, an id)."""
    return quote(str(value), safe="")


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def params_of(values: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in values.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


# ------------------------------------------------------------------------------- uploads


@dataclass
class Body:
    """An upload body that can be produced again for a retry when its source allows it."""

    source: Upload
    content_type: str
    _start: int | None = None

    def __post_init__(self) -> None:
        src = self.source
        if hasattr(src, "read") and hasattr(src, "seek"):
            try:
                self._start = src.tell() if src.seekable() else None  # type: ignore[union-attr]
            except (OSError, ValueError):
                self._start = None

    @property
    def replayable(self) -> bool:
        src = self.source
        if isinstance(src, bytes | bytearray | memoryview | str | os.PathLike):
            return True
        return self._start is not None

    def length(self) -> int | None:
        src = self.source
        if isinstance(src, bytes | bytearray | memoryview):
            return len(src)
        if isinstance(src, str | os.PathLike):
            return Path(src).stat().st_size
        return None

    def _rewind(self) -> None:
        if self._start is not None:
            self.source.seek(self._start)  # type: ignore[union-attr]

    def sync_content(self) -> bytes | Iterator[bytes]:
        src = self.source
        if isinstance(src, bytes | bytearray | memoryview):
            return bytes(src)
        if isinstance(src, str | os.PathLike):
            return _read_path(Path(src))
        if hasattr(src, "read"):
            self._rewind()
            return _read_file(src)  # type: ignore[arg-type]
        if isinstance(src, Iterable):
            return iter(src)
        raise TypeError("an async iterable needs the AsyncGatewayClient")

    def async_content(self) -> bytes | AsyncIterator[bytes]:
        src = self.source
        if isinstance(src, AsyncIterable):
            return aiter(src)
        content = self.sync_content()
        return content if isinstance(content, bytes) else _to_async(content)


def _read_path(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from _read_file(f)


def _read_file(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


async def _to_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:  # local files: short blocking reads
        yield chunk


# ------------------------------------------------------------------------------- calls


@dataclass
class Call(Generic[T]):
    """One request to the gateway and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    idempotent: bool
    params: dict[str, str] | None = None
    json: Any = None
    has_json: bool = False
    body: Body | None = None
    bulk: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def request_kwargs(self, base_headers: Mapping[str, str]) -> dict[str, Any]:
        headers = httpx.Headers(base_headers)
        headers.update(self.headers)
        kw: dict[str, Any] = {"params": self.params}
        if self.has_json:
            kw["json"] = self.json
        if self.body is not None:
            if "content-type" not in headers:
                headers["Content-Type"] = self.body.content_type
            size = self.body.length()
            if size is not None and "content-length" not in headers:
                headers["Content-Length"] = str(size)  # an oversized upload refused at once
        kw["headers"] = headers
        return kw

    @property
    def may_retry(self) -> bool:
        return self.body is None or self.body.replayable


def json_call(method: str, path: str, parse: Callable[[httpx.Response], T], *,
              idempotent: bool, json: Any = None, has_json: bool | None = None,
              params: Mapping[str, Any] | None = None) -> Call[T]:
    return Call(method=method, path=path, parse=parse, idempotent=idempotent, json=json,
                has_json=json is not None if has_json is None else has_json,
                params=params_of(params) if params else None)


def read_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponse(
            f"{response.status_code} answer is not JSON: {response.text[:200]!r}",
            status=response.status_code, body=response.text) from exc


def as_json(response: httpx.Response) -> Any:
    return read_json(response)


def as_object(response: httpx.Response) -> dict[str, Any]:
    value = read_json(response)
    if not isinstance(value, dict):
        raise MalformedResponse(f"expected a JSON object: {response.text[:200]!r}",
                                status=response.status_code, body=value)
    return value


def as_list(response: httpx.Response) -> list[dict[str, Any]]:
    value = read_json(response)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MalformedResponse(f"expected a JSON list of objects: {response.text[:200]!r}",
                                status=response.status_code, body=value)
    return value


def as_bytes(response: httpx.Response) -> bytes:
    return response.content


def as_none(response: httpx.Response) -> None:
    return None


def parser(cls_from_json: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    def parse(response: httpx.Response) -> T:
        return cls_from_json(read_json(response))

    return parse


def raise_for_answer(response: httpx.Response, content: bytes) -> None:
    if response.status_code >= 300:
        raise error_for(response.status_code, content, response.headers)


def transport_error(exc: httpx.HTTPError) -> GatewayClientError:
    if isinstance(exc, httpx.TimeoutException):
        return GatewayTimeout(f"the gateway did not answer in time: {exc!r}")
    return GatewayUnreachable(f"the gateway cannot be reached: {exc!r}")


# ------------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class Policy:
    retries: int = DEFAULT_RETRIES
    total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER


def retry_delay(call: Call[Any], policy: Policy, attempt: int, started: float,
                exc: BaseException | None = None,
                response: httpx.Response | None = None) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None: no retry (module docstring)."""
    if attempt >= policy.retries or not call.may_retry:
        return None
    wait: float | None = None
    if exc is not None:
        if isinstance(exc, _NOTHING_SENT) or (call.idempotent and isinstance(exc, _MAYBE_SENT)):
            wait = backoff(attempt)
    elif response is not None:
        status = response.status_code
        if status == 429 or (call.idempotent and status in (502, 503, 504)):
            asked = parse_retry_after(response.headers.get("retry-after"))
            if asked is None:
                wait = backoff(attempt)
            elif asked <= policy.max_retry_after:
                wait = asked
    if wait is None:
        return None
    if policy.total_timeout is not None and \
            time.monotonic() - started + wait >= policy.total_timeout:
        return None
    return wait


def backoff(attempt: int) -> float:
    ceiling: float = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** attempt)
    return ceiling * random.uniform(0.5, 1.0)


def attempt_timeout(timeout: httpx.Timeout, policy: Policy, started: float,
                    bulk: bool) -> httpx.Timeout:
    """This attempt's timeout: the configured one, cut to what is left of ``total_timeout``
    (not for bulk calls, which have their own long timeout)."""
    if bulk or policy.total_timeout is None:
        return timeout
    left = max(0.001, policy.total_timeout - (time.monotonic() - started))

    def cut(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(connect=cut(timeout.connect), read=cut(timeout.read),
                         write=cut(timeout.write), pool=cut(timeout.pool))


def as_timeout(value: float | tuple[float, float] | httpx.Timeout | None,
               default: httpx.Timeout) -> httpx.Timeout:
    """A timeout as given: None (the default), seconds for every phase, ``(connect, read)``,
    or an ``httpx.Timeout``."""
    if value is None:
        return default
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, tuple):
        connect, read = value
        return httpx.Timeout(float(read), connect=float(connect))
    return httpx.Timeout(float(value))


def auth_headers(key: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT,
            "Accept": "application/json", **(extra or {})}


# ------------------------------------------------------------------------------- bodies


def check_body(campaign: str, callee: str, caller_id: str | None, agent_id: str | None,
               contract_ref: str | None, external_id: str | None,
               callee_department: str | None, extra: Mapping[str, Any] | None
               ) -> dict[str, Any]:
    body: dict[str, Any] = {"campaign": campaign, "callee": callee, "caller_id": caller_id,
                            "agent_id": agent_id, "contract_ref": contract_ref,
                            "external_id": external_id}
    if callee_department is not None:
        body["callee_department"] = callee_department
    return body | dict(extra or {})


def iso(value: Any) -> Any:
    """A datetime or date as ISO 8601; anything else as it is."""
    return value.isoformat() if hasattr(value, "isoformat") else value
