"""Expected failures: one line (and a hint) on stderr and exit code 1, or the API's error body
with ``--json``; database errors turned into such a failure instead of a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import typer
from rich.markup import escape

from app.cli.output import console, dumps


class Failed(Exception):
    """An expected failure: a message (no traceback) and exit code 1."""

    def __init__(self, message: str, *, error: str = "failed", detail: str | None = None,
                 hint: str | None = None, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message, self.error, self.hint, self.report = message, error, hint, report
        self.detail = message if detail is None else detail  # as the API words it


def fail(exc: Failed, *, as_json: bool, quiet: bool = False,
         show_report: Callable[[dict[str, Any]], None] | None = None) -> NoReturn:
    """Print ``exc`` and exit 1; ``show_report`` draws the failure's report (unless quiet)."""
    if as_json:  # the API's error body: {"error", "detail"[, "import"]}
        body: dict[str, Any] = {"error": exc.error, "detail": exc.detail}
        if exc.report is not None:
            body["import"] = exc.report
        print(dumps(body))
    elif exc.report is not None and not quiet and show_report is not None:
        show_report(exc.report)
    console.print(f"[bold red]error:[/bold red] [red]{escape(exc.message)}[/red]")
    if exc.hint:
        console.print(escape(exc.hint), style="yellow")
    raise typer.Exit(1)


def database_label() -> str:
    """DATABASE_URL without its password."""
    from sqlalchemy.engine import make_url

    from app.config import get_settings

    raw = get_settings().database_url
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: get_engine() will say so
        return raw


@contextlib.contextmanager
def database() -> Iterator[None]:
    """Database errors as one clear line instead of a traceback."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        yield
    except ArgumentError as exc:
        raise Failed(f"DATABASE_URL is not a database URL: {exc}", error="database") from exc
    except SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise Failed(
            f"database error on {database_label()}: {first}", error="database",
            hint="Is DATABASE_URL right, the database up and migrated (gateway db upgrade)?",
        ) from exc
