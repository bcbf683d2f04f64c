"""The ``gateway`` command (Typer + Rich): the root app, its own commands (``serve``, ``db``,
``demo``) and every domain's commands, registered here. Nothing imports this module but
``app.cli``; the domains' commands use the toolkit (``app.cli.errors``, ``output``,
``progress``, ``remote``, ``options``)."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Annotated

import typer
from rich.markup import escape

from app.audit.cli import audit_cli
from app.bloctel.cli import bloctel_cli
from app.cli.output import console
from app.principals.cli import principals_cli
from app.registries.bulk_cli import import_cli
from app.reports.cli import report_cli
from app.scrub.cli import scrub
from app.tenancy.cli import keys_cli

cli = typer.Typer(help="French outbound-canvassing compliance gateway.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
demo_cli = typer.Typer(help="Demo data.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(bloctel_cli, name="bloctel")
cli.add_typer(demo_cli, name="demo")
cli.add_typer(import_cli, name="import")
cli.add_typer(report_cli, name="report")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(principals_cli, name="principals")
cli.command("scrub")(scrub)


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
