"""Remote mode (``--url``/``--key``): an HTTP client for a running gateway, and its answers
turned into the body asked for or a ``Failed`` worded for the shell."""

from __future__ import annotations

from typing import Any, NoReturn

import httpx
import typer

from app.cli.errors import Failed


def check_remote(url: str, key: str | None) -> None:
    """Usage errors (exit 2) for --url / --key."""
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"expected http(s)://host[:port], got {url!r}",
                                 param_hint="'--url' / GATEWAY_URL")
    if not key:
        raise typer.BadParameter("an API key is needed with --url",
                                 param_hint="'--key' / GATEWAY_KEY")


def client(url: str, key: str | None, *, read_timeout: float = 30.0) -> httpx.Client:
    check_remote(url, key)
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {key}", "User-Agent": "gateway-cli"},
        timeout=httpx.Timeout(30.0, read=read_timeout),
    )


def detail(body: Any, fallback: str) -> str:
    """The ``detail`` of an error body (validation errors joined), else ``fallback``."""
    text = body.get("detail") if isinstance(body, dict) else None
    if isinstance(text, list):  # request validation errors
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []) if p != 'query')}: {e.get('msg', '')}"
            if isinstance(e, dict) else str(e) for e in text
        ) or fallback
    return str(text) if text else fallback


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The gateway's answer, whatever its status; a gateway not reached raises ``Failed``."""
    where = str(client.base_url).rstrip("/")
    try:
        return client.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        raise Failed(f"the gateway at {where} did not answer in time ({type(exc).__name__})",
                     error="unreachable") from exc
    except httpx.HTTPError as exc:
        raise Failed(f"cannot reach the gateway at {where}: {exc or type(exc).__name__}",
                     error="unreachable", hint="Is --url / GATEWAY_URL right and the gateway "
                     "running?") from exc


def json_body(r: httpx.Response) -> Any:
    """The answer's JSON, or None."""
    try:
        return r.json()
    except ValueError:
        return None


def refused(r: httpx.Response, body: Any, *, forbidden: str, expected: str = "JSON",
            refused_hint: str | None = None) -> NoReturn:
    """``Failed`` for an answer that is not what was asked (``expected``), by status and
    error code; ``forbidden``: the hint on a 403 (which key the command needs);
    ``refused_hint``: the hint on an ``import_refused``."""
    where = f"{r.url.scheme}://{r.url.netloc.decode()}"
    error = body.get("error") if isinstance(body, dict) else None
    why = detail(body, r.text.strip()[:300] or r.reason_phrase)
    if r.is_success:
        raise Failed(f"{r.url} did not answer {expected}: is {where} the gateway?",
                     error="http")
    if r.status_code == 401:
        raise Failed(f"the gateway refused the key (401): {why}", error="unauthorized",
                     hint="Check --key / GATEWAY_KEY.")
    if r.status_code == 403:
        raise Failed(f"the key may not do this (403): {why}", error="forbidden",
                     hint=forbidden)
    if error == "import_refused":
        raise Failed(f"import refused: {why}", error=error, detail=why,
                     report=body.get("import"), hint=refused_hint)
    if error == "import_running":
        raise Failed(f"{why}: try again when it is done", error=error, detail=why)
    if r.status_code == 422:
        raise Failed(f"the gateway refused the request (422): {why}", error=error or "invalid",
                     detail=why)
    if r.status_code == 404:
        raise Failed(f"{r.url} answered 404: is {where} the gateway's base URL?",
                     error="not_found")
    raise Failed(f"the gateway answered {r.status_code}: {why}", error=error or "http")


def call(client: httpx.Client, method: str, path: str, *, forbidden: str,
         refused_hint: str | None = None, **kwargs: Any) -> Any:
    """The JSON body of a successful answer; any other outcome raises ``Failed``
    (``forbidden``, ``refused_hint``: as for ``refused``)."""
    r = send(client, method, path, **kwargs)
    body = json_body(r)
    if r.is_success and body is not None:
        return body
    refused(r, body, forbidden=forbidden, refused_hint=refused_hint)
