"""``gateway scrub FILE --campaign … --tenant …``: registered in ``app.cli.root``."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import httpx
import typer

from app.cli.errors import Failed, database, fail
from app.cli.options import UrlOption, key_option
from app.cli.output import console
from app.cli.progress import progress_bars
from app.cli.remote import client, detail
from app.errors import NotFound

DialerKey = key_option("A dialer or admin key of the tenant")


def scrub(
    file: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False, readable=True, show_default=False,
        help="Prospect file: CSV (',' or ';', header or not) or one number per line; gzip or "
        "not (detected).")],
    campaign: Annotated[str, typer.Option(help="Campaign the calls would belong to.")],
    tenant: Annotated[str | None, typer.Option(
        help="Tenant id (local mode; remotely the key names the tenant).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", dir_okay=False, help="Annotated file (default: stdout).")] = None,
    caller_id: Annotated[str | None, typer.Option(
        help="Number presented (default: the campaign's first caller ID).")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Agent placing the calls.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")
                     ] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Scrub even if, past the first 1,000 rows, more than "
        "GATEWAY_SCRUB_MAX_INVALID (50 %) of the rows hold no valid number.")] = False,
    url: UrlOption = None,
    key: DialerKey = None,
) -> None:
    """``gateway scrub`` (its --help: ``scrub.__doc__``, set below)."""
    from app.scrub.service import ScrubRefused

    size = file.stat().st_size
    show = not quiet
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            sink: BinaryIO = (stack.enter_context(output.open("wb")) if output
                              else sys.stdout.buffer)
            bars = stack.enter_context(progress_bars()) if show else None
            task = (bars.add_task("scrubbing", total=size, unit="bytes", lines=0)
                    if bars is not None else None)

            def advance(n: int) -> None:
                if bars is not None and task is not None:
                    bars.advance(task, n)

            if url:
                rows = _remote(file, url, key, campaign, caller_id, agent_id, sink, advance,
                               force)
                summary = f"{rows:,} rows"
            else:
                if not tenant:
                    raise typer.BadParameter("--tenant is needed without --url",
                                             param_hint="'--tenant'")
                stack.enter_context(database())
                job = _local_job(tenant, campaign, caller_id, agent_id, force)
                with file.open("rb") as raw:
                    for chunk in job.run(raw, advance):
                        sink.write(chunk)
                        if bars is not None and task is not None:
                            bars.update(task, lines=job.rows)
                rows = job.rows
                summary = (f"{job.rows:,} rows: {job.callable:,} callable now, "
                           f"{job.invalid:,} invalid numbers")
            sink.flush()
    except Failed as exc:
        fail(exc, as_json=False)
    except ScrubRefused as exc:
        fail(Failed(str(exc).replace("force=true", "--force"), error="scrub_refused"),
             as_json=False)
    except NotFound as exc:
        fail(Failed(str(exc), error="not_found"), as_json=False)
    if show:
        elapsed = time.perf_counter() - started
        rate = rows / elapsed if elapsed > 0 else 0.0
        console.print(f"[bold green]scrubbed[/] {summary} in {elapsed:.1f} s ({rate:,.0f} rows/s)")


def _local_job(tenant_id: str, campaign: str, caller_id: str | None, agent_id: str | None,
               force: bool = False) -> Any:
    from app.config import get_settings
    from app.db import session_scope
    from app.scrub.service import Scrub
    from app.tenancy.auth import Principal
    from app.tenancy.models import Tenant
    from app.tenancy.policy import policy_from_json

    with session_scope() as s:
        row = s.get(Tenant, tenant_id)
        if row is None:
            raise Failed(f"no tenant {tenant_id!r}", error="not_found")
        p = Principal(key_id="cli", role="admin", tenant_id=row.id,
                      tenant_suspended=row.status == "suspended",
                      policy=policy_from_json(row.policy, row.sanctions))
    return Scrub(p, campaign, caller_id=caller_id, agent_id=agent_id,
                 max_invalid=None if force else get_settings().scrub_max_invalid)


def _remote(file: Path, url: str, key: str | None, campaign: str, caller_id: str | None,
            agent_id: str | None, sink: BinaryIO, advance: Any, force: bool = False) -> int:
    def upload() -> Any:
        with file.open("rb") as raw:
            while chunk := raw.read(1 << 20):
                advance(len(chunk))
                yield chunk

    params = {k: v for k, v in (("campaign", campaign), ("caller_id", caller_id),
                                ("agent_id", agent_id)) if v}
    if force:
        params["force"] = "true"
    with client(url, key, read_timeout=300.0) as http:
        try:
            with http.stream("POST", "/v1/scrub", params=params, content=upload(),
                               headers={"Content-Type": "text/csv"}) as r:
                if r.status_code != 200:
                    r.read()
                    try:
                        body = r.json()
                    except ValueError:
                        body = None
                    why = detail(body, r.text[:200]).replace("force=true", "--force")
                    raise Failed(f"the gateway answered {r.status_code}: {why}", error="http")
                rows = int(r.headers.get("X-Scrub-Rows", "0"))
                for chunk in r.iter_bytes():
                    sink.write(chunk)
        except httpx.HTTPError as exc:
            raise Failed(f"cannot reach {url}: {exc}", error="unreachable") from exc
    return rows


scrub.__doc__ = (
    "Annotate every row of a prospect file with e164, callable_now, blocking_reasons and "
    "next_allowed_at, judged now by the full rule set. Nothing is logged.\n\n"
    "Cells a spreadsheet would run as formulas (=, +, -, @, tab, CR first) come back with a ' "
    "before them, as in the reports' CSV export (+33 numbers kept). A file where, past its "
    "first 1,000 rows, more than half the rows (GATEWAY_SCRUB_MAX_INVALID) hold no valid "
    "number — junk, or the numbers not in one column — stops with an error unless --force. "
    "Through a gateway (--url) its upload limits apply (GATEWAY_SCRUB_MAX_BYTES, "
    "GATEWAY_SCRUB_MAX_ROWS, GATEWAY_UPLOAD_STALL_S, GATEWAY_UPLOAD_MAX_SECONDS).\n\n"
    "Exit codes: 0 scrubbed, 1 failed or refused, 2 usage error."
)
