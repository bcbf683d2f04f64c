"""``gateway scrub``: registered in ``app.cli``."""

from __future__ import annotations

import typer

scrub_cli = typer.Typer(help="Clean a prospect file against every rule.", no_args_is_help=True)
