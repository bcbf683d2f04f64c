"""Identifiers: random, URL-safe, prefixed by kind so that a stray id in a log says what it is."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"
