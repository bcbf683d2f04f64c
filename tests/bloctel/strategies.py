"""Hypothesis strategies for lines of a BLOCTEL file: numbers in assorted written forms,
digit strings, foreign numbers and junk."""

from __future__ import annotations

from hypothesis import strategies as st

from rules_fr.numbering import FRENCH_COUNTRY_CODES

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
