"""The console in a real browser: Debian's Chromium driven by Playwright (Python) against a
real ``gateway serve`` (the ``live`` server of ``tests/integration``, SQLite and PostgreSQL).

Playwright's own browser download cannot work here: the tests launch ``/usr/bin/chromium``
(``.ci/run`` installs the ``chromium`` package when it is missing). Under ``CI=true`` a missing
Chromium fails the tests; elsewhere it skips them. Every test takes screenshots of the pages
it visits into ``bench/results/console/`` (git-ignored: CI artefacts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_tenant
from tests.integration.conftest import Server

CHROMIUM = os.environ.get("GATEWAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[3] / "bench" / "results" / "console"
VIEWPORT = {"width": 1280, "height": 800}


def _require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    message = f"Chromium not found at {CHROMIUM} (Debian package chromium; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (a new context per test). Not per session:
    Playwright's sync API runs an event loop in this thread while it is started, and the
    tests after these ones call ``asyncio.run``."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """A browser tab on the live server's console, with the screenshots it takes."""

    def __init__(self, page: Any, server: Server, backend: str) -> None:
        self.page, self.server, self.backend = page, server, backend
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text)
                if msg.type == "error" else None)

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def goto(self, path: str) -> Any:
        return self.page.goto(self.url(path))

    def sign_in(self, key: str, then: str | None = None) -> None:
        """Type the key into the sign-in form and send it (no check of where it lands)."""
        self.goto("/console/connexion" + (f"?suite={then}" if then else ""))
        self.page.get_by_label("Clé d'API").fill(key)
        self.page.get_by_role("button", name="Se connecter").click()
        self.page.wait_for_load_state("domcontentloaded")

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Se déconnecter").click()
        self.page.wait_for_load_state("domcontentloaded")

    def shot(self, name: str) -> Path:
        """A full-page screenshot, ``bench/results/console/<backend>-<name>.png``."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.backend}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def figure(self, testid: str, name: str) -> str:
        """The text of ``data-figure=name`` inside ``data-testid=testid``."""
        return self.page.locator(f'[data-testid="{testid}"] [data-figure="{name}"]').inner_text()


@pytest.fixture
def console(chromium: Any, live: Server) -> Iterator[Console]:
    context = chromium.new_context(viewport=VIEWPORT, locale="fr-FR",
                                   timezone_id="Europe/Paris", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    tab = Console(page, live, live.database.backend)
    try:
        yield tab
    finally:
        context.close()
    # a missing asset, a script error, a CSP violation: a broken page. Tests that provoke an
    # error status on purpose (403, 404…) clear ``tab.errors`` after checking it.
    assert not tab.errors, f"the browser logged errors: {tab.errors}"


@pytest.fixture
def api(live: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def acme(api: httpx.Client) -> Tenant:
    """Tenant "Acme" made through the API, as in the other live tests."""
    return make_tenant(api, "Acme")
