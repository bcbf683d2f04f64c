"""``gateway report audit --from … --to … -o FILE``: registered in ``app.cli.root``.

Locally (no ``--url``) the report is drawn from the configured database (DATABASE_URL) for
``--tenant``; with ``--url``/``--key`` (a compliance or admin key of the tenant) a running
gateway draws it (``GET /v1/reports/audit.pdf``). The file is written whole or not at all.
Exit codes: 0 written, 1 failed (unknown tenant, database or gateway unreachable, key refused,
file not writable), 2 usage error (bad date, period ending before it starts, no tenant).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from app.cli.errors import Failed, database, fail
from app.cli.options import UrlOption, key_option
from app.cli.output import console, iso_date
from app.cli.remote import client, json_body, refused, send

ComplianceKey = key_option("A compliance or admin key of the tenant")
report_cli = typer.Typer(help="Reports for compliance officers.", no_args_is_help=True)

def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Any]:
    """A temporary file beside ``path``, renamed onto it once complete (removed on failure)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise Failed(f"cannot write {path}: {exc.strerror or exc}", error="io") from exc
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Silent:
    def update(self, _: str) -> None:
        pass


@contextlib.contextmanager
def _status(show: bool, text: str) -> Iterator[Any]:
    """A Rich spinner with the current step on stderr, or nothing with --quiet."""
    if not show:
        yield _Silent()
        return
    with console.status(text) as status:
        yield status


def _local(tenant: str | None, first: date, last: date, show: bool) -> tuple[bytes, str]:
    from app.reports.pdf import audit_report
    from app.reports.service import UnknownTenant, parse_bound

    if not tenant:
        raise typer.BadParameter("the tenant to report on is needed (or --url/--key)",
                                 param_hint="'--tenant'")
    start = parse_bound(first.isoformat(), end=False)
    end = parse_bound(last.isoformat(), end=True)
    try:
        with database(), _status(show, "reading the ledger…") as status:
            return audit_report(tenant, start, end,
                                on_phase=lambda phase: status.update(f"{phase}…"))
    except UnknownTenant as exc:
        raise Failed(f"no tenant {tenant!r} in the database", error="not_found") from exc


def _remote(url: str, key: str | None, first: date, last: date, show: bool
            ) -> tuple[bytes, str]:
    with client(url, key, read_timeout=600.0) as http:
        where = str(http.base_url).rstrip("/")
        params = {"from": first.isoformat(), "to": last.isoformat()}
        with _status(show, f"the gateway at {where} is drawing the report…"):
            r = send(http, "GET", "/v1/reports/audit.pdf", params=params)
    if r.is_success and r.headers.get("content-type", "").startswith("application/pdf"):
        match = re.search(r'filename="([^"/\\]+)"', r.headers.get("content-disposition", ""))
        return r.content, match.group(1) if match else f"audit-{first}_{last}.pdf"
    refused(r, json_body(r), expected="a PDF",
            forbidden="Reports need a compliance or admin key of the tenant.")


@report_cli.command("audit")
def audit(
    from_: Annotated[str, typer.Option(
        "--from", show_default=False, help="First day of the period (YYYY-MM-DD, Paris).")],
    to: Annotated[str, typer.Option(
        "--to", show_default=False, help="Last day of the period, inclusive (YYYY-MM-DD).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", dir_okay=False, show_default=False,
        help="PDF file to write (default: the report's name, e.g. "
        "audit-acme-2026-11-01_2026-11-30.pdf, in the current directory).")] = None,
    tenant: Annotated[str | None, typer.Option(
        "--tenant", "-t", show_default=False,
        help="Tenant id (local mode; remotely the key names the tenant).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress; errors only.")
                     ] = False,
    url: UrlOption = None,
    key: ComplianceKey = None,
) -> None:
    """Write the PDF audit report of one tenant over a period (in French, to be signed by the
    compliance officer): the ledger seal, totals, charts, tables per campaign and caller ID,
    and the rule-set versions in force with their legal bases."""
    first, last = iso_date(from_), iso_date(to)
    if last < first:
        raise typer.BadParameter(f"the period ends ({last}) before it starts ({first})",
                                 param_hint="'--to'")
    show = not quiet
    try:
        pdf, name = (_remote(url, key, first, last, show) if url
                     else _local(tenant, first, last, show))
        path = output or Path(name)
        try:
            with _atomic(path) as sink:
                sink.write(pdf)
        except OSError as exc:
            raise Failed(f"cannot write {path}: {exc.strerror or exc}", error="io") from exc
    except Failed as exc:
        fail(exc, as_json=False)
    if show:
        console.print(f"[green]wrote {escape(str(path))}[/green]: {_pages(pdf)} pages, "
                      f"{len(pdf) / 1024:,.0f} KB, period {first} to {last}")
