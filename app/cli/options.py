"""Options every ``gateway`` command that can work remotely shares (``--url``, ``--key``,
``--json``): one declaration, imported by the domains' commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

UrlOption = Annotated[str | None, typer.Option(
    "--url", envvar="GATEWAY_URL", show_envvar=True, show_default=False,
    help="A running gateway's base URL (remote mode). Without it: the database at DATABASE_URL.",
)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, nothing else.")]


def key_option(who: str) -> Any:
    """``--key`` (``GATEWAY_KEY``), its help naming the key the command needs."""
    return Annotated[str | None, typer.Option(
        "--key", envvar="GATEWAY_KEY", show_envvar=True, show_default=False,
        help=f"{who}, for --url.")]
