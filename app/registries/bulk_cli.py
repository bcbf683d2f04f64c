"""``gateway import consents|contracts|oppositions``: registered in ``app.cli``."""

from __future__ import annotations

import typer

import_cli = typer.Typer(help="Bulk imports into the registries.", no_args_is_help=True)
