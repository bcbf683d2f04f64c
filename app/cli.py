"""The ``gateway`` command (Typer + Rich)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from app.cli_options import JsonOption, UrlOption, key_option
from app.clock import iso

cli = typer.Typer(help="French outbound-canvassing compliance gateway.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
bloctel_cli = typer.Typer(help="BLOCTEL opposition list.", no_args_is_help=True)
demo_cli = typer.Typer(help="Demo data.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(bloctel_cli, name="bloctel")
cli.add_typer(demo_cli, name="demo")


def _register_domain_commands() -> None:
    from app.audit.cli import audit_cli
    from app.principals.cli import principals_cli
    from app.registries.bulk_cli import import_cli
    from app.reports.cli import report_cli
    from app.scrub.cli import scrub

    cli.add_typer(import_cli, name="import")
    cli.add_typer(report_cli, name="report")
    cli.add_typer(audit_cli, name="audit")
    cli.add_typer(principals_cli, name="principals")
    cli.command("scrub")(scrub)


_register_domain_commands()

console = Console(stderr=True)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the API with uvicorn."""
    import shutil

    import uvicorn

    metrics_dir = None  # the workers' shared Prometheus files, removed when the server stops
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "app.main:app", host=host, port=port, workers=workers, access_log=access_log,
            log_level=os.environ.get("GATEWAY_LOG_LEVEL", "info"), http="httptools",
            loop="uvloop",
        )
    finally:  # SIGTERM and SIGINT end uvicorn.run once the workers have exited
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app.migrate import MigrationRefused, upgrade

    try:
        upgrade(revision=revision)
    except MigrationRefused as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"[green]database at {revision}[/green]")


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (``base`` empties the database)."""
    from app.migrate import downgrade

    downgrade(revision=revision)
    console.print(f"[yellow]database at {revision}[/yellow]")


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="operator | admin | compliance | dialer")],
    tenant: Annotated[str | None, typer.Option(help="Tenant id (not for operator).")] = None,
    label: Annotated[str | None, typer.Option(help="What the key is for (shown in lists).")
                     ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from app.db import session_scope
    from app.errors import ApiError
    from app.tenancy.service import create_key

    try:
        with session_scope(write=True) as s:
            row, key = create_key(s, role, tenant, label)
            out = {"id": row.id, "key": key, "role": row.role, "tenant": row.tenant_id,
                   "label": row.label}
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(out))
    else:
        console.print(f"{out['role']} key {out['id']}: [bold]{out['key']}[/bold]")


def _key_row(k: Any) -> dict[str, Any]:
    return {"id": k.id, "role": k.role, "tenant": k.tenant_id, "label": k.label,
            "prefix": k.prefix, "created_at": iso(k.created_at),
            "last_used_at": iso(k.last_used_at), "revoked_at": iso(k.revoked_at)}


@keys_cli.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(
        help="One tenant's keys; 'operator': the operator's; default: every key.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only keys not revoked.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one array).")] = False,
) -> None:
    """List API keys (never their secret): id, role, tenant, label, prefix, created, last
    used (to within a minute), revoked."""
    from app.db import session_scope
    from app.errors import ApiError
    from app.tenancy.service import list_keys

    try:
        with session_scope() as s:
            rows = [_key_row(k) for k in list_keys(
                s, None if tenant in (None, "operator") else tenant,
                every_tenant=tenant is None, active_only=active)]
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(rows))
        return
    def minute(instant: str) -> str:  # Paris time, to the minute
        return _paris(instant)[:16]

    table = Table(title=f"API keys ({len(rows)}), times in Paris")
    columns = ["id", "role", "tenant", "label", "prefix", "created", "last used", "revoked"]
    if tenant is not None:
        columns.remove("tenant")  # one tenant's (or the operator's) keys
    for column in columns:
        folds = column in ("tenant", "label")
        table.add_column(column, no_wrap=column in ("id", "prefix"),
                         overflow="fold" if folds else "ellipsis", min_width=8 if folds else None)
    for r in rows:
        cells = {"id": r["id"], "role": r["role"],
                 "tenant": r["tenant"] or "[dim]platform[/dim]",
                 "label": escape(r["label"] or ""), "prefix": r["prefix"] + "…",
                 "created": minute(r["created_at"]),
                 "last used": (minute(r["last_used_at"]) if r["last_used_at"]
                               else "[dim]never[/dim]"),
                 "revoked": f"[red]{minute(r['revoked_at'])}[/red]" if r["revoked_at"] else ""}
        table.add_row(*(cells[c] for c in columns), style="dim" if r["revoked_at"] else None)
    out.print(table)


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), from `keys list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Revoke a key: refused (401) by every worker within GATEWAY_CACHE_TTL_S."""
    from app.db import session_scope
    from app.errors import ApiError
    from app.tenancy.service import get_key, revoke_key

    try:
        with session_scope(write=True) as s:
            row = _key_row(revoke_key(s, get_key(s, key_id, any_tenant=True)))
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(row))
    else:
        console.print(f"{row['role']} key {row['id']} revoked at {_paris(row['revoked_at'])}")


@keys_cli.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), from `keys list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replace a key: a new one (printed once) with the same role, tenant and label; the old
    one revoked."""
    from app.db import session_scope
    from app.errors import ApiError
    from app.tenancy.service import get_key, rotate_key

    try:
        with session_scope(write=True) as s:
            row, key = rotate_key(s, get_key(s, key_id, any_tenant=True))
            out = {"id": row.id, "key": key, "role": row.role, "tenant": row.tenant_id,
                   "label": row.label, "replaces": key_id}
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(out))
    else:
        console.print(f"{out['role']} key {out['id']} replaces {key_id}: [bold]{key}[/bold]")


# --------------------------------------------------------------------------- BLOCTEL
#
# ``import`` / ``status`` / ``history`` work on the configured database (DATABASE_URL) or, with
# ``--url`` and ``--key`` (or GATEWAY_URL / GATEWAY_KEY), through a running gateway's API.
# Tables and JSON go to stdout; progress bars and messages to stderr. Exit codes: 0 done,
# 1 refused or failed (refused import, another import running, unreadable file, database or
# gateway unreachable, key refused…), 2 usage error (Typer's: missing file, bad date…).


class Mode(StrEnum):
    replace = "replace"
    add = "add"
    remove = "remove"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_STATUS_STYLE = {"active": "bold green", "superseded": "dim", "refused": "yellow",
                 "failed": "red", "loading": "cyan"}
_SAMPLES_SHOWN = 20
_REFUSED_HINT = "The list in force is unchanged; --force imports the file anyway."


def _iso_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    text = value.strip()
    from app.clock import OutOfRange, check_day

    if _ISO_DATE.fullmatch(text):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(text)
            try:
                return check_day(day)
            except OutOfRange as exc:
                raise typer.BadParameter(str(exc)) from None
    raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}")


def _share(value: str | float) -> float:
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise typer.BadParameter(f"expected a share from 0 to 1 (0.05) or a percentage (5%), "
                                 f"got {value!r}")
    return share


KeyOption = key_option("API key (imports and history need an operator key)")

out = Console()  # tables: stdout (``console``, on stderr, has progress and messages)


class _Failed(Exception):
    """An expected failure: a message (no traceback) and exit code 1."""

    def __init__(self, message: str, *, error: str = "failed", detail: str | None = None,
                 hint: str | None = None, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message, self.error, self.hint, self.report = message, error, hint, report
        self.detail = message if detail is None else detail  # as the API words it


def _fail(exc: _Failed, *, as_json: bool, quiet: bool = False) -> NoReturn:
    if as_json:  # the API's error body: {"error", "detail"[, "import"]}
        body: dict[str, Any] = {"error": exc.error, "detail": exc.detail}
        if exc.report is not None:
            body["import"] = exc.report
        print(_dumps(body))
    elif exc.report is not None and not quiet:
        _show_report(exc.report)
    console.print(f"[bold red]error:[/bold red] [red]{escape(exc.message)}[/red]")
    if exc.hint:
        console.print(escape(exc.hint), style="yellow")
    raise typer.Exit(1)


def _dumps(value: Any) -> str:
    def default(o: Any) -> Any:
        return o.item() if hasattr(o, "item") else str(o)  # numpy scalars, dates…

    return json.dumps(value, default=default)


def _n(value: Any) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _paris(instant: str | None) -> str:
    if not instant:
        return "—"
    from zoneinfo import ZoneInfo

    try:
        parsed = datetime.fromisoformat(instant)
        return parsed.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError):  # a stored extreme (9999-12-31T23:59:59Z): as given
        return instant


# --- where: the local database, or a gateway over HTTP ----------------------------------------


def _database_label() -> str:
    from sqlalchemy.engine import make_url

    from app.config import get_settings

    raw = get_settings().database_url
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: get_engine() will say so
        return raw


@contextlib.contextmanager
def _database() -> Iterator[None]:
    """Database errors as one clear line instead of a traceback."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        yield
    except ArgumentError as exc:
        raise _Failed(f"DATABASE_URL is not a database URL: {exc}", error="database") from exc
    except SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise _Failed(
            f"database error on {_database_label()}: {first}", error="database",
            hint="Is DATABASE_URL right, the database up and migrated (gateway db upgrade)?",
        ) from exc


def _check_remote(url: str, key: str | None) -> None:
    """Usage errors (exit 2) for --url / --key."""
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"expected http(s)://host[:port], got {url!r}",
                                 param_hint="'--url' / GATEWAY_URL")
    if not key:
        raise typer.BadParameter("an API key is needed with --url",
                                 param_hint="'--key' / GATEWAY_KEY")


def _client(url: str, key: str | None, *, read_timeout: float = 30.0) -> httpx.Client:
    _check_remote(url, key)
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {key}", "User-Agent": "gateway-cli"},
        timeout=httpx.Timeout(30.0, read=read_timeout),
    )


def _detail(body: Any, fallback: str) -> str:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # request validation errors
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []) if p != 'query')}: {e.get('msg', '')}"
            if isinstance(e, dict) else str(e) for e in detail
        ) or fallback
    return str(detail) if detail else fallback


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The gateway's answer, whatever its status; a gateway not reached raises ``_Failed``."""
    where = str(client.base_url).rstrip("/")
    try:
        return client.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        raise _Failed(f"the gateway at {where} did not answer in time ({type(exc).__name__})",
                      error="unreachable") from exc
    except httpx.HTTPError as exc:
        raise _Failed(f"cannot reach the gateway at {where}: {exc or type(exc).__name__}",
                      error="unreachable", hint="Is --url / GATEWAY_URL right and the gateway "
                      "running?") from exc


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _refused(r: httpx.Response, body: Any, *, expected: str = "JSON",
             forbidden: str = "BLOCTEL imports and history need an operator key.") -> NoReturn:
    """``_Failed`` for an answer that is not what was asked (``expected``), by status and
    error code; ``forbidden``: the hint on a 403 (which key the command needs)."""
    where = f"{r.url.scheme}://{r.url.netloc.decode()}"
    error = body.get("error") if isinstance(body, dict) else None
    detail = _detail(body, r.text.strip()[:300] or r.reason_phrase)
    if r.is_success:
        raise _Failed(f"{r.url} did not answer {expected}: is {where} the gateway?",
                      error="http")
    if r.status_code == 401:
        raise _Failed(f"the gateway refused the key (401): {detail}", error="unauthorized",
                      hint="Check --key / GATEWAY_KEY.")
    if r.status_code == 403:
        raise _Failed(f"the key may not do this (403): {detail}", error="forbidden",
                      hint=forbidden)
    if error == "import_refused":
        raise _Failed(f"import refused: {detail}", error=error, detail=detail,
                      report=body.get("import"), hint=_REFUSED_HINT)
    if error == "import_running":
        raise _Failed(f"{detail}: try again when it is done", error=error, detail=detail)
    if r.status_code == 422:
        raise _Failed(f"the gateway refused the request (422): {detail}", error=error or "invalid",
                      detail=detail)
    if r.status_code == 404:
        raise _Failed(f"{r.url} answered 404: is {where} the gateway's base URL?",
                      error="not_found")
    raise _Failed(f"the gateway answered {r.status_code}: {detail}", error=error or "http")


def _call(client: httpx.Client, method: str, path: str, *,
          forbidden: str = "BLOCTEL imports and history need an operator key.",
          **kwargs: Any) -> Any:
    """The JSON body of a successful answer; any other outcome raises ``_Failed``."""
    r = _send(client, method, path, **kwargs)
    body = _json(r)
    if r.is_success and body is not None:
        return body
    _refused(r, body, forbidden=forbidden)


# --- progress ---------------------------------------------------------------------------------


def _si(n: float) -> str:
    """1234567 -> 1.23M: counts in progress lines (the summary has them exactly)."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


class _Amount(ProgressColumn):
    """Bytes like a download, numbers counted; nothing for a phase without a measure."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit")
        if unit == "bytes":
            return self._bytes.render(task)
        if unit is None:
            return Text("")
        total = f"/{_si(task.total)}" if task.total is not None else ""
        return Text(f"{_si(task.completed)}{total} {unit}", style="progress.download")


class _Rate(ProgressColumn):
    def __init__(self) -> None:
        super().__init__()
        self._bytes = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit")
        if unit == "bytes":
            return self._bytes.render(task)
        speed = task.finished_speed or task.speed
        if unit is None or not speed:
            return Text("")
        return Text(f"{_si(speed)}/s", style="progress.data.speed")


class _Lines(ProgressColumn):
    def render(self, task: Task) -> Text:
        lines = task.fields.get("lines")
        return Text("" if lines is None else f"{_si(lines)} lines", style="progress.description")


def _progress_bars() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<10}"), BarColumn(bar_width=20), _Amount(), _Rate(),
        _Lines(), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    )


class _Phases:
    """One progress line per phase of the import; the current one is live.

    Locally, ``app.bloctel.importer`` calls it (``bytes_read``, ``lines_read``, ``phase``,
    ``advance``); remotely, the upload does (``phase("uploading")``, ``bytes_read``).
    """

    def __init__(self, bars: Progress | None, size: int) -> None:
        self._bars, self._size = bars, size
        self._task: TaskID | None = None
        self._total: int | None = None
        self._done = 0

    def _end(self) -> None:
        if self._bars is None or self._task is None:
            return
        total = 1 if self._total is None else max(self._total, self._done)
        self._bars.update(self._task, total=total, completed=total)
        self._task = None

    def phase(self, name: str, total: int | None = None) -> None:
        self._end()
        unit: str | None = None
        if name in ("reading", "uploading"):
            unit, total = "bytes", self._size
        elif name == "writing":
            unit = "numbers"
        elif name == "saving":
            unit = "rows"
        self._total, self._done = total, 0
        if self._bars is not None:
            self._task = self._bars.add_task(
                name, total=total, unit=unit, lines=0 if name == "reading" else None)

    def bytes_read(self, n: int) -> None:
        self._step(n)

    def advance(self, n: int) -> None:
        self._step(n)

    def _step(self, n: int) -> None:
        self._done += n
        if self._bars is not None and self._task is not None:
            self._bars.advance(self._task, n)

    def lines_read(self, total: int) -> None:
        if self._bars is not None and self._task is not None:
            self._bars.update(self._task, lines=total)

    def close(self, ok: bool) -> None:
        if self._bars is None or self._task is None:
            return
        if ok:
            self._end()
        else:  # refused or failed: this phase's line stays where it stopped
            if self._total is None:
                self._bars.update(self._task, total=1, completed=0)
            self._bars.stop_task(self._task)
            self._task = None


@contextlib.contextmanager
def _phases(show: bool, size: int) -> Iterator[_Phases]:
    if not show:
        yield _Phases(None, size)
        return
    with _progress_bars() as bars:
        phases = _Phases(bars, size)
        try:
            yield phases
        except BaseException:
            phases.close(ok=False)
            raise
        phases.close(ok=True)


# --- reports ----------------------------------------------------------------------------------


def _report_table(r: dict[str, Any]) -> Table:
    status = r.get("status")
    version = r.get("version")
    title = {
        "active": f"BLOCTEL version {version} active",
        "refused": f"BLOCTEL import refused: version {version} not activated",
    }.get(status or "", f"BLOCTEL version {version}: {status}")
    table = Table(title=title, show_header=False, title_style="bold", min_width=40)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    style = _STATUS_STYLE.get(status or "", "")
    table.add_row("version", Text(f"{version} ({status})", style=style))
    table.add_row("mode", f"{r.get('mode')}" + (" (forced)" if r.get("forced") else ""))
    table.add_row("as of", str(r.get("as_of")))
    table.add_row("lines", _n(r.get("lines")))
    table.add_row("accepted", _n(r.get("accepted")))
    table.add_row("duplicates", _n(r.get("duplicates")))
    rejected, share = r.get("rejected") or 0, r.get("rejected_share") or 0.0
    table.add_row("rejected", Text(f"{rejected:,} ({share:.2%})", style="red" if rejected else ""))
    table.add_row("blank / header", f"{_n(r.get('blank'))} / {_n(r.get('header'))}")
    if status == "refused":
        table.add_row("total numbers", "— (the list in force is unchanged)")
    else:
        table.add_row("total numbers", Text(_n(r.get("total_numbers")), style="bold"))
        added, removed = r.get("added"), r.get("removed")
        if added is not None or removed is not None:
            table.add_row("added / removed", f"+{_n(added)} / −{_n(removed)}")
        if r.get("base_version") is not None:
            table.add_row("built on version", str(r["base_version"]))
    table.add_row("format", str(r.get("format") or "—"))
    table.add_row("file", f"{_n(r.get('file_bytes'))} bytes")
    table.add_row("sha256", str(r.get("sha256") or "—"))
    if r.get("seconds") is not None:
        table.add_row("seconds", f"{r['seconds']:.2f}")
    if r.get("activated_at"):
        table.add_row("activated (Paris)", _paris(r["activated_at"]))
    table.add_row("import id", str(r.get("import_id")))
    return table


def _show_report(r: dict[str, Any]) -> None:
    out.print(_report_table(r))
    samples = r.get("rejected_samples") or []
    rejected = r.get("rejected") or 0
    if samples:
        shown = samples[:_SAMPLES_SHOWN]
        table = Table(title="Rejected lines", title_style="bold")
        table.add_column("line", justify="right", no_wrap=True)
        table.add_column("value", overflow="fold")
        table.add_column("reason", overflow="fold")
        for s in shown:
            table.add_row(_n(s.get("line")), Text(repr(s.get("value", ""))), str(s.get("error")))
        out.print(table)
        more, listed = rejected - len(shown), len(samples) - len(shown)
        if more > 0:
            where = ("" if listed <= 0 else " (--json lists them)" if listed >= more
                     else f" (--json lists {listed:,} of them)")
            out.print(f"… and {more:,} more rejected lines{where}")
    reasons = r.get("rejected_reasons") or {}
    if reasons:
        table = Table(title="Rejected lines by reason", title_style="bold")
        table.add_column("reason", overflow="fold")
        table.add_column("lines", justify="right", no_wrap=True)
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            table.add_row(str(reason), _n(count))
        out.print(table)


# --- commands ---------------------------------------------------------------------------------


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = str(os.getuid())
    return f"cli:{user}"[:40]


def _import_local(file: Path, mode: str, as_of: date, force: bool, max_rejected: float | None,
                  show: bool) -> dict[str, Any]:
    from app.bloctel.importer import (
        BloctelImportError,
        ImportBusy,
        ImportRefused,
        check_request,
        import_file,
    )
    from app.db import get_engine
    from bloctel.parse import FormatError

    try:
        check_request(mode, as_of)  # before any progress line
        with _database(), file.open("rb") as raw, _phases(show, file.stat().st_size) as phases:
            return import_file(get_engine(), raw, mode=mode, as_of=as_of, imported_by=_who(),
                               force=force, max_rejected=max_rejected, progress=phases)
    except ImportRefused as exc:
        raise _Failed(f"import refused: {exc}", error="import_refused", detail=str(exc),
                      report=exc.report, hint=_REFUSED_HINT) from exc
    except ImportBusy as exc:
        raise _Failed(f"{exc}: try again when it is done", error="import_running",
                      detail=str(exc)) from exc
    except FormatError as exc:
        raise _Failed(f"{file} cannot be read as a BLOCTEL list: {exc}", error="invalid",
                      detail=str(exc)) from exc
    except BloctelImportError as exc:
        raise _Failed(f"{exc}; nothing was imported", error="invalid", detail=str(exc)) from exc
    except OSError as exc:
        raise _Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc


def _upload_chunks(file: Path, phases: _Phases) -> Iterator[bytes]:
    """The file in 1 MiB chunks for an httpx upload (never whole in memory), with progress;
    then the "processing" phase while the server works."""
    phases.phase("uploading")
    with file.open("rb") as f:
        while data := f.read(1 << 20):
            phases.bytes_read(len(data))
            yield data
    phases.phase("processing")


def _import_remote(file: Path, mode: str, as_of: date, force: bool, max_rejected: float | None,
                   show: bool, url: str, key: str | None) -> dict[str, Any]:
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise _Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc
    params: dict[str, Any] = {"mode": mode, "as_of": as_of.isoformat(),
                              "force": "true" if force else "false"}
    if max_rejected is not None:
        params["max_rejected"] = repr(max_rejected)
    # the server answers once the list is active: sorting and writing a big list take a while
    with _client(url, key, read_timeout=3600.0) as client:
        _call(client, "GET", "/v1/bloctel/imports", params={"limit": 1})  # key and role first
        with _phases(show, size) as phases:

            try:
                return _call(client, "POST", "/v1/bloctel/imports", params=params,
                             content=_upload_chunks(file, phases), headers={
                                 "Content-Type": "application/octet-stream",
                                 "Content-Length": str(size)})
            except OSError as exc:  # the file, while it was being sent
                raise _Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc


_IMPORT_HELP = (
    "Import a BLOCTEL file as a new version of the list and activate it.\n\n"
    "Locally (no --url) the file goes into the configured database (DATABASE_URL): no server "
    "is needed and running servers switch to the new version by themselves. With --url and "
    "--key it is streamed to a running gateway. A refused import leaves the list in force "
    "unchanged. Exit codes: 0 imported, 1 refused or failed, 2 usage error."
)


@bloctel_cli.command("import", help=_IMPORT_HELP)
def bloctel_import(
    file: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False, readable=True, show_default=False,
        help="The list: text or CSV, national or E.164 numbers, UTF-8 (BOM, CRLF), "
        "gzip or not (detected).")],
    as_of: Annotated[date, typer.Option(
        "--as-of", parser=_iso_date, metavar="YYYY-MM-DD", show_default=False,
        help="Date of the list, as BLOCTEL states it (not in the future).")],
    mode: Annotated[Mode, typer.Option(
        help="replace: the file is the whole list; add / remove: numbers added to / removed "
        "from the list in force.")] = Mode.replace,
    force: Annotated[bool, typer.Option(
        "--force", help="Import even if too many lines are rejected, a replace would empty the "
        "list or cut it by more than half, or --as-of is older than the list in force.")
    ] = False,
    max_rejected: Annotated[float | None, typer.Option(
        "--max-rejected", parser=_share, metavar="SHARE", show_default=False,
        help="Refuse the file above this share of rejected lines: 0.05 or 5% "
        "(default: GATEWAY_BLOCTEL_MAX_REJECTED, else 0.05).")] = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress and no summary; errors only.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    show = not (as_json or quiet)
    if url:
        _check_remote(url, key)
    if show:
        where = url.rstrip("/") if url else _database_label()
        console.print(f"BLOCTEL {mode.value} as of {as_of.isoformat()}: "
                      f"[bold]{escape(str(file))}[/bold] → {escape(where)}")
    try:
        if url:
            report = _import_remote(file, mode.value, as_of, force, max_rejected, show, url,
                                    key)
        else:
            report = _import_local(file, mode.value, as_of, force, max_rejected, show)
    except _Failed as exc:
        _fail(exc, as_json=as_json, quiet=quiet)
    if as_json:
        print(_dumps(report))
    elif not quiet:
        _show_report(report)


@bloctel_cli.command("status")
def bloctel_status(as_json: JsonOption = False, url: UrlOption = None,
                   key: KeyOption = None) -> None:
    """The list in force: version, numbers, date, age, and the last import."""
    try:
        if url:
            with _client(url, key) as client:
                data = _call(client, "GET", "/v1/bloctel")
        else:
            from app.bloctel.status import current

            with _database():
                data = current()
    except _Failed as exc:
        _fail(exc, as_json=as_json)
    if as_json:
        print(_dumps(data))
        return
    table = Table(title="BLOCTEL list in force", show_header=False, title_style="bold")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    if data.get("version") is None:
        table.add_row("version", Text("none", style="bold red"))
    else:
        table.add_row("version", Text(str(data["version"]), style="bold green"))
        table.add_row("numbers", _n(data.get("total_numbers")))
        age = data.get("age_days")
        days = "day" if age == 1 else "days"
        table.add_row("as of", Text(f"{data.get('as_of')} ({_n(age)} {days} old)",
                                    style="red" if data.get("stale") else ""))
        table.add_row("activated (Paris)", _paris(data.get("activated_at")))
    last = data.get("last_import")
    if last:
        status = last.get("status")
        line = Text(f"version {last.get('version')} ", style="")
        line.append(str(status), style=_STATUS_STYLE.get(status or "", ""))
        line.append(f", {_paris(last.get('created_at'))}")
        if last.get("error"):
            line.append(f": {last['error']}", style="yellow")
        table.add_row("last import", line)
    out.print(table)
    after = data.get("stale_after_days")
    if data.get("version") is None:
        out.print("[bold red]No list in force[/bold red]: checks of commercial calls deny until "
                  "one is imported.")
    elif data.get("stale"):
        out.print(f"[bold red]Stale[/bold red]: the list is more than {after} days old; checks "
                  f"of commercial calls deny until a newer one is imported.")


@bloctel_cli.command("history")
def bloctel_history(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many imports.")] = 20,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Recent imports, newest first: refused and failed ones too."""
    try:
        if url:
            with _client(url, key) as client:
                rows = _call(client, "GET", "/v1/bloctel/imports", params={"limit": limit})
        else:
            with _database():
                rows = _local_history(limit)
    except _Failed as exc:
        _fail(exc, as_json=as_json)
    if as_json:
        print(_dumps(rows))
        return
    if not rows:
        out.print("No BLOCTEL import yet.")
        return
    wide = out.width >= 120
    table = Table(title="BLOCTEL imports", title_style="bold", title_justify="left", box=None,
                  pad_edge=False, header_style="bold underline")
    columns = ["v", "status", "mode", "as of", "numbers", "rejected", "created (Paris)"]
    if wide:
        columns += ["added / removed", "by"]
    for name in columns:
        numeric = name in ("v", "numbers", "rejected", "added / removed")
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    errors: list[Text] = []
    for h in rows:
        status = h.get("status") or ""
        row: list[str | Text] = [
            _n(h.get("version")), Text(status, style=_STATUS_STYLE.get(status, "")),
            str(h.get("mode")) + ("!" if h.get("forced") else ""), str(h.get("as_of")),
            _n(h.get("total_numbers")), _n(h.get("rejected")), _paris(h.get("created_at"))[:16],
        ]
        if wide:
            row.append("" if h.get("total_numbers") is None
                       else f"+{_n(h.get('added'))} / −{_n(h.get('removed'))}")
            row.append(str(h.get("imported_by") or ""))
        table.add_row(*row)
        if h.get("error"):
            errors.append(Text.assemble((f"v{h.get('version')} {status}: ", "bold"),
                                        (str(h["error"]), "yellow")))
    out.print(table)
    if any(h.get("forced") for h in rows):
        out.print("mode!: imported with --force", style="dim")
    for line in errors:
        out.print(line)


def _local_history(limit: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from app.bloctel.models import BloctelVersion
    from app.bloctel.status import version_out
    from app.db import session_scope

    with session_scope() as s:
        newest_first = select(BloctelVersion).order_by(BloctelVersion.version.desc())
        return [version_out(r) for r in s.scalars(newest_first.limit(limit))]


@demo_cli.command("seed")
def demo_seed(
    base_url: Annotated[str, typer.Option(help="Where the server will listen.")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Create (or reuse) a demo tenant with a campaign and caller IDs; print fresh keys."""
    from app.seed import seed_demo

    seed_demo(base_url, console)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
