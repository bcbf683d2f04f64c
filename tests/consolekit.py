"""Helpers for the console's tests: signing in through the form, as a browser does, with an
HTTP client (``TestClient`` or httpx), and reading the CSRF token a page carries."""

from __future__ import annotations

import re
from typing import Any

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on the page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: Any, key: str, suite: str | None = None) -> Any:
    """Sign in with ``key`` through the sign-in form; the answer to the form's POST (not
    followed: a 303 to the console when the key may sign in)."""
    form = client.get("/console/connexion")
    assert form.status_code == 200, form.text
    data = {"_csrf": csrf_of(form.text), "cle": key}
    if suite:
        data["suite"] = suite
    return client.post("/console/connexion", data=data, follow_redirects=False)


def signed_in(client: Any, key: str) -> str:
    """Sign in and return the session's CSRF token (read off the dashboard or home page)."""
    r = sign_in(client, key)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"], follow_redirects=True)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
