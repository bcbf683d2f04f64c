"""The ``gateway`` command (Typer + Rich)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

cli = typer.Typer(help="French outbound-canvassing compliance gateway.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
bloctel_cli = typer.Typer(help="BLOCTEL opposition list.", no_args_is_help=True)
demo_cli = typer.Typer(help="Demo data.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(bloctel_cli, name="bloctel")
cli.add_typer(demo_cli, name="demo")

console = Console(stderr=True)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
    uvicorn.run(
        "app.main:app", host=host, port=port, workers=workers, access_log=access_log,
        log_level=os.environ.get("GATEWAY_LOG_LEVEL", "info"), http="httptools",
        loop="uvloop",
    )


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app.migrate import upgrade

    upgrade(revision=revision)
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from app.db import session_scope
    from app.errors import ApiError
    from app.tenancy.service import create_key

    try:
        with session_scope(write=True) as s:
            row, key = create_key(s, role, tenant)
            out = {"id": row.id, "key": key, "role": row.role, "tenant": row.tenant_id}
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(out))
    else:
        console.print(f"{out['role']} key {out['id']}: [bold]{out['key']}[/bold]")


@bloctel_cli.command("import")
def bloctel_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_of: Annotated[str, typer.Option("--as-of", help="Date of the list, YYYY-MM-DD.")],
    mode: Annotated[str, typer.Option(help="replace | add | remove")] = "replace",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import a BLOCTEL file into the configured database; running servers pick it up."""
    from app.db import get_engine
    from bloctel.importer import MODES, import_file

    if mode not in MODES:
        console.print(f"[red]--mode must be one of {', '.join(MODES)}[/red]")
        raise typer.Exit(2)
    try:
        as_of_date = date.fromisoformat(as_of)
    except ValueError as exc:
        console.print(f"[red]--as-of must be YYYY-MM-DD, got {as_of!r}[/red]")
        raise typer.Exit(2) from exc
    size = file.stat().st_size
    with Progress(
        TextColumn("[bold]BLOCTEL[/bold]"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[lines]} lines"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    ) as progress, file.open("rb") as raw:
        task = progress.add_task("import", total=size, lines=0)

        def tick(lines: int) -> None:
            progress.update(task, completed=raw.tell(), lines=lines)

        result = import_file(get_engine(), raw, mode=mode, as_of=as_of_date, progress=tick)
        progress.update(task, completed=size, lines=result["lines"])
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=f"BLOCTEL version {result['version']} active")
    table.add_column("field")
    table.add_column("value", justify="right")
    for k in ("mode", "as_of", "lines", "accepted", "duplicates", "rejected", "total_numbers"):
        table.add_row(k, str(result[k]))
    console.print(table)
    for sample in result["rejected_samples"][:10]:
        console.print(f"  line {sample['line']}: {sample['value']!r} — {sample['error']}")


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
