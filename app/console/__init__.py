"""The web console (``/console``): French pages for compliance officers, admins and the
operator, served by the gateway itself. See ``docs/console.md``.

Layout: ``sessions`` (server-side sessions bound to an API key), ``web`` (templates, guards,
CSRF, HTML errors), ``jobs`` (long work with its progress in the database), ``router`` (sign-in,
home, progress), ``pages.*`` (one module per audience). The console is the top layer: it calls
the domains' public services, as the API's routers do, and nothing imports it but ``app.main``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.console.web import HERE, PREFIX, install_errors


def install(app: FastAPI) -> None:
    """The console's routes, its static files and its HTML error pages (after
    ``app.http.install_error_handlers``: the API's paths keep their JSON envelope)."""
    from app.console.pages import admin, conformite, operateur
    from app.console.router import router

    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for r in (router, conformite.router, admin.router, operateur.router):
        app.include_router(r)
    install_errors(app)
