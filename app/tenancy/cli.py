"""``gateway keys create|list|revoke|rotate``: API keys, on the configured database
(DATABASE_URL). A key's secret is printed once, at creation or rotation."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from app.cli.output import console, out, paris
from app.clock import iso

keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)


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
            made = {"id": row.id, "key": key, "role": row.role, "tenant": row.tenant_id,
                   "label": row.label}
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(made))
    else:
        console.print(f"{made['role']} key {made['id']}: [bold]{made['key']}[/bold]")


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
        return paris(instant)[:16]

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
        console.print(f"{row['role']} key {row['id']} revoked at {paris(row['revoked_at'])}")


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
            made = {"id": row.id, "key": key, "role": row.role, "tenant": row.tenant_id,
                   "label": row.label, "replaces": key_id}
    except ApiError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(made))
    else:
        console.print(f"{made['role']} key {made['id']} replaces {key_id}: [bold]{key}[/bold]")
