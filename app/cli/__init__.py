"""The ``gateway`` command: ``cli`` (the Typer app) and ``main`` (the console script), from
``app.cli.root``. They are loaded on first use, so that a domain's commands can import the
toolkit (``app.cli.errors``, ``output``, ``progress``, ``remote``, ``options``) without
loading the root, which imports every domain's commands."""

from __future__ import annotations

from typing import Any

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from app.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
