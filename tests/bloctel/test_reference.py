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

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

SEPARATORS = [" ", ".", "-", "/", "\u00a0", "\u202f", "", "", "  ", "\t", " - "]
# characters str.strip (hence classify) removes around a number
AROUND = ["", "", "", " ", "\t", "\r", "\u00a0", "\u2009", "\u3000", "\x0c", "\x0b", "\x1f",
          "\x85", "\u2028", "\u202f"]
OVERSEAS_NATIONAL = ["0692", "0693", "0262", "0263", "0269", "0639", "0590", "0690", "0691",
                     "0594", "0694", "0596", "0696", "0697", "050841", "050855", "0976", "0947"]
FOREIGN_CC = ["1", "32", "34", "39", "41", "44", "49", "212", "800", "881", "882", "971"]


@st.composite
def spaced(draw: st.DrawFn, digits: str) -> str:
    """``digits`` cut into groups of 1 to 4 joined by one separator."""
    sep = draw(st.sampled_from(SEPARATORS))
    cuts = draw(st.lists(st.integers(1, 4), min_size=len(digits), max_size=len(digits)))
    groups, i = [], 0
    for c in cuts:
        if i >= len(digits):
            break
        groups.append(digits[i : i + c])
        i += c
    return sep.join(groups)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def national(draw: st.DrawFn) -> str:
    prefix = draw(st.one_of(st.sampled_from(["0" + d for d in "123456789"]),
                            st.sampled_from(OVERSEAS_NATIONAL)))
    return draw(spaced(prefix + draw(_digits(10 - len(prefix)))))


@st.composite
def international(draw: st.DrawFn) -> str:
    cc = draw(st.sampled_from(sorted(FRENCH_COUNTRY_CODES)))
    nsn = draw(_digits(6 if cc == 508 else 9))
    if cc != 508 and draw(st.booleans()):
        nsn = draw(st.sampled_from(["6", "7", "1", "9", "69", "26", "59", "8"])) + nsn[1:]
    zero = draw(st.sampled_from(["", "", "", "(0)", " (0) ", "0"]))
    lead = draw(st.sampled_from(["+", "00", "+ ", "00 "]))
    return lead + str(cc) + draw(st.sampled_from(SEPARATORS)) + zero + draw(spaced(nsn))


@st.composite
def digit_strings(draw: st.DrawFn) -> str:
    lead = draw(st.sampled_from(["", "+", "00", "0", "+0", "0 0", "+33", "33", "++"]))
    return draw(spaced(lead + draw(st.text("0123456789", max_size=17))))


@st.composite
def foreign(draw: st.DrawFn) -> str:
    cc = draw(st.sampled_from(FOREIGN_CC))
    return draw(st.sampled_from(["+", "00"])) + cc + " " + draw(spaced(
        draw(st.text("0123456789", min_size=6, max_size=12))))


junk = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
               max_size=20)


@st.composite
def decorated(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    text = draw(inner)
    if draw(st.integers(0, 9)) == 0:  # now and then one odd character anywhere
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from('+()"a;,|\'x\u2009#')) + text[i:]
    return draw(st.sampled_from(AROUND)) + text + draw(st.sampled_from(AROUND))


line = decorated(st.one_of(national(), national(), international(), international(),
                           digit_strings(), foreign(), junk))

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
                     "", " ", '""', '"', 'a "b;c" d', '"x"y', "Müller|Jr", "tab\there"]),
    st.text(st.sampled_from('ab ;,|\t"é0'), max_size=8),
)
number_field = st.one_of(
    national(), international(), digit_strings(),
    national().map(lambda s: f'"{s}"'), international().map(lambda s: f' "{s}" '),
)


def _csv_field(text: str, delimiter: str, column: int) -> str | None:
    try:
        fields = next(csv.reader([text], delimiter=delimiter), [""])
    except csv.Error:
        return None
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
