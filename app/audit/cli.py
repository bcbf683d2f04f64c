"""``gateway audit seal|verify|purge``: the sealed ledger from the shell (registered in
``app.cli.root``), against the configured database (DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from app.cli.errors import Failed, database, fail
from app.cli.output import console, dumps, out
from app.clock import PARIS

audit_cli = typer.Typer(help="The sealed attempt ledger: seal, verify, purge.",
                        no_args_is_help=True)


def _show(title: str, fields: dict[str, Any], style: str = "") -> None:
    table = Table(title=title, show_header=False, title_style=style or "bold")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in fields.items():
        table.add_row(k, "—" if v is None else str(v))
    out.print(table)


@audit_cli.command("seal")
def seal_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Seal every attempt and outcome written since the last seal (up to the grace period
    before now). The server does this every GATEWAY_SEAL_INTERVAL_S; this is for cron or a
    test. Exit 0 (also when there was nothing to seal), 1 on failure."""
    from app.audit.service import seal

    with database():
        done = seal()
    if as_json:
        print(dumps(done))
    elif done is None:
        print("nothing new to seal (or another process is sealing)")
    else:
        _show(f"Seal {done['seq']}", done)


@audit_cli.command("verify")
def verify_cmd(
    tenant: Annotated[str | None, typer.Option(
        "--tenant", "-t", help="Only this tenant's rows (default: every tenant).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Check the seal chain and recompute every sealed part from the rows. Exit 0 intact,
    1 broken (the first broken seal is named) or failed."""
    from app.audit.service import verify

    with database(), console.status("verifying the ledger…"):
        result = verify(tenant)
    if as_json:
        print(dumps(result))
    else:
        broken = result["first_broken"]
        _show("Ledger intact" if result["ok"] else "Ledger BROKEN", {
            "tenant": result["tenant_id"] or "every tenant", "seals": result["seals"],
            "chain head": result["head"], "sealed until": result["sealed_until"],
            "rows verified": f"{result['rows_checked']:,}",
            "not yet sealed": ", ".join(f"{k} {v:,}" for k, v in result["unsealed"].items()),
            "first broken seal": "none" if not broken else (
                f"{broken['seq']} ({broken.get('stream', 'chain')}"
                f"{', tenant ' + broken['tenant_id'] if broken.get('tenant_id') else ''}, "
                f"{broken['covers_from']} → {broken['covers_to']}): {broken['reason']}"),
            "problems": result["problems"],
        }, "bold green" if result["ok"] else "bold red")
    raise typer.Exit(0 if result["ok"] else 1)


def _before(value: str | None) -> datetime | None:
    if value is None:
        return None
    from app.clock import OutOfRange, check_day, check_instant

    try:
        if len(value) == 10:
            day = check_day(datetime.fromisoformat(value).date())
            return datetime.combine(day, time.min, PARIS).astimezone(UTC)
        parsed = datetime.fromisoformat(value)
    except OutOfRange as exc:
        raise typer.BadParameter(str(exc)) from None
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD or an ISO 8601 instant, got {value!r}"
                                 ) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("an instant needs its offset (e.g. +01:00)")
    try:
        return check_instant(parsed).astimezone(UTC)
    except OutOfRange as exc:
        raise typer.BadParameter(str(exc)) from None


@audit_cli.command("purge")
def purge_cmd(
    tenant: Annotated[str | None, typer.Option(
        "--tenant", "-t", help="Only this tenant (default: every tenant).")] = None,
    before: Annotated[str | None, typer.Option(
        "--before", help="Delete attempts checked before this date (Paris) or instant; "
        "default: each tenant's retention (policy ledger_retention_days, else "
        "GATEWAY_RETENTION_DAYS, 3 years).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Delete attempts older than the retention, with their penalty lines, whole sealed
    periods at a time, and the consent evidence whose legal hold ended (3 years after its
    collection; --before does not move it); each step is sealed in the chain, which still
    verifies. Exit 0 done, 1 failed (another process sealing or purging: try again)."""
    from app.audit.service import LedgerBusy, purge

    cutoff = _before(before)
    deleted = 0
    try:
        with database(), Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  console=console, disable=as_json) as bars:
            task = bars.add_task("purging…")

            def step(record: dict[str, Any]) -> None:
                nonlocal deleted
                deleted += record["attempts"]
                bars.update(task, description=f"purging… {deleted:,} attempts deleted "
                            f"(seal {record['seq']})")

            results = purge(tenant, cutoff, dry_run=dry_run, on_step=step)
    except LedgerBusy as exc:
        fail(Failed(str(exc), error="ledger_busy"), as_json=as_json)
    if as_json:
        print(dumps(results))
        return
    table = Table(title="Purge (dry run: nothing deleted)" if dry_run else "Purge")
    for col in ("tenant", "cutoff", "attempts", "penalty lines", "sealed steps",
                "held evidence"):
        table.add_column(col, justify="left" if col in ("tenant", "cutoff") else "right")
    for r in results:
        table.add_row(r["tenant_id"], r["cutoff"] or "— (nothing that old)",
                      f"{r['attempts']:,}", f"{r['penalty_lines']:,}", str(r["steps"]),
                      f"{r.get('holds', 0):,}")
    out.print(table)
