"""``gateway principals create|list|mandate|unmandate``: the operator's principals and mandates,
on the configured database (DATABASE_URL), like ``gateway keys``. Registered in ``app.cli.root``.
Exit codes: 0 done, 1 refused (unknown principal or tenant, a mandate still used…), 2 bad input
(a malformed SIREN)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from app.cli.output import console, out
from app.clock import iso

principals_cli = typer.Typer(
    help="Principals (the professionals calls are made for) and call centres' mandates.",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _principal(r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "siren": r.siren, "own_tenant": r.tenant_id,
            "created_at": iso(r.created_at)}


def _mandate(m: Any, tenant_name: str) -> dict[str, Any]:
    return {"principal": m.principal_id, "tenant": m.tenant_id, "tenant_name": tenant_name,
            "created_at": iso(m.created_at)}


def _run(write: bool, action: Any) -> Any:
    from app.db import session_scope
    from app.errors import ApiError

    try:
        with session_scope(write=write) as s:
            return action(s)
    except ApiError as exc:
        console.print(f"[red]{escape(exc.detail)}[/red]")
        raise typer.Exit(2 if exc.status == 422 else 1) from exc


@principals_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="The professional's name.")],
    siren: Annotated[str, typer.Option(help="Its SIREN (9 digits).")],
    as_json: AsJson = False,
) -> None:
    """Create a principal (an advertiser a call centre calls for)."""
    from app.principals.service import create_principal

    row = _run(True, lambda s: _principal(create_principal(s, name.strip(), siren.strip())))
    if as_json:
        print(json.dumps(row))
    else:
        console.print(f"principal [bold]{row['id']}[/bold] ({escape(row['name'])}, "
                   f"SIREN {row['siren']})")


@principals_cli.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(
        help="Only the principals this tenant holds a mandate from.")] = None,
    as_json: AsJson = False,
) -> None:
    """List principals, each with the tenants holding its mandate."""
    from app.principals.service import list_mandates, list_principals

    def rows(s: Any) -> list[dict[str, Any]]:
        return [_principal(r) | {"mandates": [m.tenant_id for m, _ in list_mandates(s, r.id)]}
                for r in list_principals(s, tenant)]

    found = _run(False, rows)
    if as_json:
        print(json.dumps(found))
        return
    table = Table(title=f"Principals ({len(found)})")
    for column in ("id", "name", "siren", "own tenant", "mandates"):
        fixed = column in ("id", "siren")
        table.add_column(column, no_wrap=fixed, overflow="ellipsis" if fixed else "fold")
    for r in found:
        table.add_row(r["id"], escape(r["name"]), r["siren"] or "",
                      r["own_tenant"] or "", ", ".join(r["mandates"]))
    out.print(table)


@principals_cli.command("mandate")
def mandate(
    principal: Annotated[str, typer.Argument(help="The principal's id.")],
    tenant: Annotated[str, typer.Argument(help="The tenant (call centre) that may call for it.")],
    as_json: AsJson = False,
) -> None:
    """Give a tenant a mandate to call for a principal."""
    from app.principals.service import grant_mandate

    row = _run(True, lambda s: _mandate(*grant_mandate(s, principal, tenant)))
    if as_json:
        print(json.dumps(row))
    else:
        console.print(f"tenant {row['tenant']} ({escape(row['tenant_name'])}) may call for "
                   f"{row['principal']}")


@principals_cli.command("unmandate")
def unmandate(
    principal: Annotated[str, typer.Argument(help="The principal's id.")],
    tenant: Annotated[str, typer.Argument(help="The tenant whose mandate ends.")],
    as_json: AsJson = False,
) -> None:
    """End a tenant's mandate (refused while its campaigns name the principal)."""
    from app.principals.service import revoke_mandate

    _run(True, lambda s: revoke_mandate(s, principal, tenant))
    if as_json:
        print(json.dumps({"principal": principal, "tenant": tenant, "revoked": True}))
    else:
        console.print(f"tenant {tenant} no longer calls for {principal}")
