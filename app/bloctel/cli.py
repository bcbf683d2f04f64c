"""``gateway bloctel import|status|history``: the BLOCTEL opposition list from the shell.

They work on the configured database (DATABASE_URL) or, with ``--url`` and ``--key`` (or
GATEWAY_URL / GATEWAY_KEY), through a running gateway's API. Tables and JSON go to stdout;
progress bars and messages to stderr. Exit codes: 0 done, 1 refused or failed (refused import,
another import running, unreadable file, database or gateway unreachable, key refused…), 2 usage
error (Typer's: missing file, bad date…).
"""

from __future__ import annotations

import getpass
import os
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from app.cli.errors import Failed, database, database_label, fail
from app.cli.options import JsonOption, UrlOption, key_option
from app.cli.output import console, dumps, figure, iso_date, out, paris
from app.cli.progress import phases, upload_chunks
from app.cli.remote import call, check_remote, client

bloctel_cli = typer.Typer(help="BLOCTEL opposition list.", no_args_is_help=True)


class Mode(StrEnum):
    replace = "replace"
    add = "add"
    remove = "remove"


_STATUS_STYLE = {"active": "bold green", "superseded": "dim", "refused": "yellow",
                 "failed": "red", "loading": "cyan"}
_SAMPLES_SHOWN = 20
_REFUSED_HINT = "The list in force is unchanged; --force imports the file anyway."
_FORBIDDEN = "BLOCTEL imports and history need an operator key."


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
    table.add_row("lines", figure(r.get("lines")))
    table.add_row("accepted", figure(r.get("accepted")))
    table.add_row("duplicates", figure(r.get("duplicates")))
    rejected, share = r.get("rejected") or 0, r.get("rejected_share") or 0.0
    table.add_row("rejected", Text(f"{rejected:,} ({share:.2%})", style="red" if rejected else ""))
    table.add_row("blank / header", f"{figure(r.get('blank'))} / {figure(r.get('header'))}")
    if status == "refused":
        table.add_row("total numbers", "— (the list in force is unchanged)")
    else:
        table.add_row("total numbers", Text(figure(r.get("total_numbers")), style="bold"))
        added, removed = r.get("added"), r.get("removed")
        if added is not None or removed is not None:
            table.add_row("added / removed", f"+{figure(added)} / −{figure(removed)}")
        if r.get("base_version") is not None:
            table.add_row("built on version", str(r["base_version"]))
    table.add_row("format", str(r.get("format") or "—"))
    table.add_row("file", f"{figure(r.get('file_bytes'))} bytes")
    table.add_row("sha256", str(r.get("sha256") or "—"))
    if r.get("seconds") is not None:
        table.add_row("seconds", f"{r['seconds']:.2f}")
    if r.get("activated_at"):
        table.add_row("activated (Paris)", paris(r["activated_at"]))
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
            table.add_row(figure(s.get("line")), Text(repr(s.get("value", ""))),
                          str(s.get("error")))
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
            table.add_row(str(reason), figure(count))
        out.print(table)


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
        with database(), file.open("rb") as raw, phases(show, file.stat().st_size) as progress:
            return import_file(get_engine(), raw, mode=mode, as_of=as_of, imported_by=_who(),
                               force=force, max_rejected=max_rejected, progress=progress)
    except ImportRefused as exc:
        raise Failed(f"import refused: {exc}", error="import_refused", detail=str(exc),
                     report=exc.report, hint=_REFUSED_HINT) from exc
    except ImportBusy as exc:
        raise Failed(f"{exc}: try again when it is done", error="import_running",
                     detail=str(exc)) from exc
    except FormatError as exc:
        raise Failed(f"{file} cannot be read as a BLOCTEL list: {exc}", error="invalid",
                     detail=str(exc)) from exc
    except BloctelImportError as exc:
        raise Failed(f"{exc}; nothing was imported", error="invalid", detail=str(exc)) from exc
    except OSError as exc:
        raise Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc


def _api(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    return call(http, method, path, forbidden=_FORBIDDEN, refused_hint=_REFUSED_HINT, **kwargs)


def _import_remote(file: Path, mode: str, as_of: date, force: bool, max_rejected: float | None,
                   show: bool, url: str, key: str | None) -> dict[str, Any]:
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc
    params: dict[str, Any] = {"mode": mode, "as_of": as_of.isoformat(),
                              "force": "true" if force else "false"}
    if max_rejected is not None:
        params["max_rejected"] = repr(max_rejected)
    # the server answers once the list is active: sorting and writing a big list take a while
    with client(url, key, read_timeout=3600.0) as http:
        _api(http, "GET", "/v1/bloctel/imports", params={"limit": 1})  # key and role first
        with phases(show, size) as progress:
            try:
                return _api(http, "POST", "/v1/bloctel/imports", params=params,
                            content=upload_chunks(file, progress), headers={
                                "Content-Type": "application/octet-stream",
                                "Content-Length": str(size)})
            except OSError as exc:  # the file, while it was being sent
                raise Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc


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
        "--as-of", parser=iso_date, metavar="YYYY-MM-DD", show_default=False,
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
        check_remote(url, key)
    if show:
        where = url.rstrip("/") if url else database_label()
        console.print(f"BLOCTEL {mode.value} as of {as_of.isoformat()}: "
                      f"[bold]{escape(str(file))}[/bold] → {escape(where)}")
    try:
        if url:
            report = _import_remote(file, mode.value, as_of, force, max_rejected, show, url,
                                    key)
        else:
            report = _import_local(file, mode.value, as_of, force, max_rejected, show)
    except Failed as exc:
        fail(exc, as_json=as_json, quiet=quiet, show_report=_show_report)
    if as_json:
        print(dumps(report))
    elif not quiet:
        _show_report(report)


@bloctel_cli.command("status")
def bloctel_status(as_json: JsonOption = False, url: UrlOption = None,
                   key: KeyOption = None) -> None:
    """The list in force: version, numbers, date, age, and the last import."""
    try:
        if url:
            with client(url, key) as http:
                data = _api(http, "GET", "/v1/bloctel")
        else:
            from app.bloctel.status import current

            with database():
                data = current()
    except Failed as exc:
        fail(exc, as_json=as_json, show_report=_show_report)
    if as_json:
        print(dumps(data))
        return
    table = Table(title="BLOCTEL list in force", show_header=False, title_style="bold")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    if data.get("version") is None:
        table.add_row("version", Text("none", style="bold red"))
    else:
        table.add_row("version", Text(str(data["version"]), style="bold green"))
        table.add_row("numbers", figure(data.get("total_numbers")))
        age = data.get("age_days")
        days = "day" if age == 1 else "days"
        table.add_row("as of", Text(f"{data.get('as_of')} ({figure(age)} {days} old)",
                                    style="red" if data.get("stale") else ""))
        table.add_row("activated (Paris)", paris(data.get("activated_at")))
    last = data.get("last_import")
    if last:
        status = last.get("status")
        line = Text(f"version {last.get('version')} ", style="")
        line.append(str(status), style=_STATUS_STYLE.get(status or "", ""))
        line.append(f", {paris(last.get('created_at'))}")
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
            with client(url, key) as http:
                rows = _api(http, "GET", "/v1/bloctel/imports", params={"limit": limit})
        else:
            with database():
                rows = _local_history(limit)
    except Failed as exc:
        fail(exc, as_json=as_json, show_report=_show_report)
    if as_json:
        print(dumps(rows))
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
            figure(h.get("version")), Text(status, style=_STATUS_STYLE.get(status, "")),
            str(h.get("mode")) + ("!" if h.get("forced") else ""), str(h.get("as_of")),
            figure(h.get("total_numbers")), figure(h.get("rejected")),
            paris(h.get("created_at"))[:16],
        ]
        if wide:
            row.append("" if h.get("total_numbers") is None
                       else f"+{figure(h.get('added'))} / −{figure(h.get('removed'))}")
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
