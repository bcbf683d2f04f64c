"""The vectorised parser against the reference, ``classify`` (via ``bloctel.plan.key_of``).

The strict direction is the one that matters: a line ``classify`` reads as a valid French number
must be accepted with the same key, or a listed consumer would be called. The other direction
is a documented leniency (``bloctel.plan``, ``bloctel.parse``): a line ``classify`` refuses may
be accepted when it is a number written with separators ``classify`` does not take (quotes, a
carriage return, a tab inside an international number…) or falls in a plan cell whose samples
were all valid. Such a key is never *another* number than the digits written: the tests check
that it ends with the line's own digits, and that ``classify`` reading the bare digits gives
that key or nothing.
"""

from __future__ import annotations

import csv
import re
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bloctel import parse
from bloctel.parse import R_CHARS, R_QUOTES, Layout
from bloctel.plan import key_of
from rules_fr.numbering import FRENCH_COUNTRY_CODES

from .helpers import outcomes
from .strategies import digit_strings, international, line, national

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

_ASCII_DIGITS = re.compile(r"[^0-9]")


def check(text: str, got: int | str | None, reference: int | None) -> None:
    """``got`` (the parser's outcome) against the ``reference`` key of ``text``."""
    if reference is not None:  # strict: never miss a number classify accepts
        assert got == reference, f"{text!r}: classify reads {reference}, parser {got!r}"
        return
    if not isinstance(got, int):
        return  # both refuse
    # leniency: the key is the number as written, never another one
    digits = _ASCII_DIGITS.sub("", text)
    assert str(got)[-6:] == digits[-6:], (text, got)
    assert any(str(got).startswith(str(cc)) for cc in FRENCH_COUNTRY_CODES), (text, got)
    bare = ("+" if "+" in text else "") + digits
    assert key_of(bare) in (got, None), (text, got, key_of(bare))


@SETTINGS
@given(lines=st.lists(line, min_size=1, max_size=40))
@example(lines=["0612345678\u2009", "\u30000698765432", "\x0c+33 6 12 34 56 78\x0b",
                "06 12 34 56 78\x85", "0692 12 34 56\u2028", "\u200906\u200912"])
def test_parser_agrees_with_classify(lines: list[str]) -> None:
    with mock.patch.object(parse, "SAMPLES", 10**6):
        got = outcomes(lines)
    for text, g in zip(lines, got, strict=True):
        check(text, g, key_of(text.strip()))


# -- CSV: the reference is classify on the field as the csv module reads it ---------------

name = st.one_of(
    st.sampled_from(["Dupont", "Zoé", "O'Brien", 'O"Brien', '"Dupont; Jean"', '"a, ""b"""',
                     "", " ", '""', '"', 'a "b;c" d', '"x"y', "Müller|Jr", "tab\there",
                     "Du\rpont", '"Du\rpont"']),
    st.text(st.sampled_from('ab ;,|\t"é0'), max_size=8),
)
number_field = st.one_of(
    national(), international(), digit_strings(),
    national().map(lambda s: f'"{s}"'), international().map(lambda s: f' "{s}" '),
)


def _csv_field(text: str, delimiter: str, column: int) -> str | None:
    try:
        fields = next(csv.reader([text], delimiter=delimiter), [""])
    except csv.Error:  # a CR in an unquoted field: csv refuses the line, read it as a space
        fields = next(csv.reader([text.replace("\r", " ")], delimiter=delimiter), [""])
    return fields[column].strip() if column < len(fields) else None


@SETTINGS
@given(
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
    column=st.integers(0, 2),
    rows=st.lists(st.lists(st.one_of(name, number_field), min_size=1, max_size=4), min_size=1,
                  max_size=30),
)
def test_csv_parser_agrees_with_classify_on_the_csv_field(delimiter: str, column: int,
                                                          rows: list[list[str]]) -> None:
    lines = [delimiter.join(r) for r in rows]
    with mock.patch.object(parse, "SAMPLES", 10**6):
        got = outcomes(lines, Layout(delimiter.encode(), column))
    for text, g in zip(lines, got, strict=True):
        field = _csv_field(text, delimiter, column)
        check(field or "", g, key_of(field) if field else None)


# -- the cases the property tests found ------------------------------------------------------

# (line, layout delimiter and column, expected: key or rejection reason)
FOUND = [
    # white space str.strip removes at either end: classify accepts, so must the parser
    ("0612345678\u2009", None, 33612345678),
    ("\u30000612345678", None, 33612345678),
    ("\x0c0612345678\x0b", None, 33612345678),
    ("+33 6 12 34 56 78\x85", None, 33612345678),
    ("\x1f0692 12 34 56", None, 262692123456),
    ("Dupont;0612345678\u2009", (";", 1), 33612345678),
    # ... but not inside the number (classify refuses it there)
    ("06\u200912 34 56 78", None, R_CHARS),
    ("06 12 34 56 78 \u20ac", None, R_CHARS),
    # a quote that does not start a field is a character of its field, as csv reads it
    ('O"Brien;0612345678', (";", 1), 33612345678),
    ('a "b;c" d;0612345678', (";", 2), 33612345678),
    ('a "b;c" d;0612345678', (";", 1), R_QUOTES),
    ('"Dupont; Jean";0612345678', (";", 1), 33612345678),
    ('"unterminated;0612345678', (";", 1), R_QUOTES),
]


@pytest.mark.parametrize(("text", "layout", "expected"), FOUND, ids=[f[0] for f in FOUND])
def test_found_cases(text: str, layout: tuple[str, int] | None,
                     expected: int | str) -> None:
    lay = Layout(layout[0].encode(), layout[1]) if layout else Layout()
    # first and after a stray quote: a line's quotes never change how the next lines read
    got = outcomes(['x"y;z', text, text], lay)[1:] if layout else outcomes([text, text], lay)
    assert got == [expected, expected]
