"""The console's colours meet WCAG 2.1 AA contrast (4.5:1 for text) for every pair of text and
background colours its style sheet uses, read from console.css itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[3] / "app" / "console" / "static" /
       "console.css").read_text()
VARS = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS))


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def colour(name: str) -> str:
    return VARS[name] if not name.startswith("#") else name


HEADER = re.search(r"\.entete \{[^}]*background: (#[0-9a-fA-F]{6})", CSS).group(1)

PAIRS = [  # (text, background, where)
    ("encre", "fond", "body text"), ("encre", "doux", "table headers, the nav"),
    ("lien", "fond", "links"), ("grave", "fond", "serious figures"),
    ("ok", "fond", "verified"), ("#ffffff", "accent", "buttons"),
    ("accent", "fond", "secondary buttons"), ("#ffffff", HEADER, "the header"),
    ("grave", "#fdecea", "error messages"), ("#4a5561", "fond", "help text"),
    ("#333d47", "fond", "legal bases"), ("#ffffff", "grave", "danger buttons"),
]


@pytest.mark.parametrize(("text", "background", "where"), PAIRS)
def test_text_contrast_is_at_least_4_5(text: str, background: str, where: str) -> None:
    ratio = contrast(colour(text), colour(background))
    assert ratio >= 4.5, f"{where}: {ratio:.2f}:1"


def test_the_focus_is_always_visible() -> None:
    assert re.search(r":focus-visible[^{]*\{\s*outline: 3px solid", CSS)
