"""Refused lines: the reason, the 1-based physical line number and the text a user sees."""

from __future__ import annotations

import pytest

from bloctel import parse
from bloctel.parse import (
    R_CHARS,
    R_COLUMN,
    R_EMPTY,
    R_FOREIGN,
    R_NATIONAL_LENGTH,
    R_NO_PREFIX,
    R_PLAN,
    R_PLUS,
    R_QUOTES,
)

from .helpers import counts, report

# (line, reason)
REFUSED = [
    ("abc", R_CHARS),
    ("06 12 34 56 7B", R_CHARS),
    ("tel: 0612345678", R_CHARS),
    ("0612345678 (Paris)", R_CHARS),
    ("06 12 34 56 78 #2", R_CHARS),
    ("0612", R_NATIONAL_LENGTH),
    ("061234567", R_NATIONAL_LENGTH),
    ("06123456789", R_NATIONAL_LENGTH),
    ("06 12 34 56 78 90 12 34", R_NATIONAL_LENGTH),
    ("+33 6 12 34 56 7", R_PLAN),
    ("+33 6 12 34 56 78 9", R_PLAN),
    ("+3361234567890123", R_PLAN),  # more than 15 digits after +
    ("+4420794609581234", R_FOREIGN),
    ("0033 6 12 34 56 78 90 12 34", R_PLAN),
    ("12345678901234567", R_NO_PREFIX),
    ("+44 20 7946 0958", R_FOREIGN),
    ("0044 20 7946 0958", R_FOREIGN),
    ("+1 212 555 0100", R_FOREIGN),
    ("+32 470 12 34 56", R_FOREIGN),
    ("33612345678", R_NO_PREFIX),  # country code without + or 00
    ("612345678", R_NO_PREFIX),
    ("3949", R_NO_PREFIX),  # a short number is not a BLOCTEL line
    ("06 12 +34 56 78", R_PLUS),
    ("33+612345678", R_PLUS),
    ("++33612345678", R_PLUS),
    ("+33 6 12 34 56 78 +", R_PLUS),
    ("07 00 00 00 00", R_PLAN),  # invalid French ranges
    ("+33 7 00 00 00 00", R_PLAN),
    ("0033 7 00 00 00 00", R_PLAN),
    ("+262 100 00 00 00", R_PLAN),
    ("+590 100 00 00 00", R_PLAN),
    ("+508 00 00 00", R_PLAN),
    ("+33 0 00 00 00 00", R_PLAN),
    ("+33 (0)7 00 00 00 00", R_PLAN),
    ("...", R_EMPTY),
    ("()", R_EMPTY),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[t for t, _ in REFUSED])
def test_refused_line_reason_and_line_number(text: str, reason: str) -> None:
    # a valid first line (so the sniffer sees no header), then blank lines, then the refusal
    data = f"0612345678\n\n   \n{text}\r\n0698765432\n".encode()
    keys, r = report(data)
    assert keys == [33612345678, 33698765432]
    assert counts(r) == {"lines": 5, "header": 0, "blank": 2, "accepted": 2, "duplicates": 0,
                         "rejected": 1}
    assert r["rejected_samples"] == [{"line": 4, "value": text, "error": reason}]
    assert r["rejected_reasons"] == {reason: 1}
    assert r["rejected_share"] == pytest.approx(1 / 3, abs=1e-6)


def test_line_numbers_count_header_blank_and_every_physical_line() -> None:
    data = (
        "Nom;Téléphone\r\n"  # 1 header
        "\r\n"  # 2 blank
        "Dupont;0612345678\r\n"  # 3
        "Durand;abc\r\n"  # 4 refused
        "   \r\n"  # 5 blank
        "Martin;+44 20 7946 0958\r\n"  # 6 refused
        "Petit;06 98 76 54 32\r\n"  # 7
        "Zoé;0612"  # 8 refused, no final newline
    ).encode()
    keys, r = report(data)
    assert keys == [33612345678, 33698765432]
    assert counts(r) == {"lines": 8, "header": 1, "blank": 2, "accepted": 2, "duplicates": 0,
                         "rejected": 3}
    assert r["rejected_samples"] == [
        {"line": 4, "value": "Durand;abc", "error": R_CHARS},
        {"line": 6, "value": "Martin;+44 20 7946 0958", "error": R_FOREIGN},
        {"line": 8, "value": "Zoé;0612", "error": R_NATIONAL_LENGTH},
    ]


def test_at_most_100_samples_but_every_refusal_counted() -> None:
    bad = [f"bad{i}" for i in range(250)] + [f"+44 20 7946 {i:04d}" for i in range(50)]
    lines = ["0612345678"] + bad + ["0698765432"]
    keys, r = report(("\n".join(lines) + "\n").encode())
    assert keys == [33612345678, 33698765432]
    assert r["rejected"] == 300
    assert r["rejected_reasons"] == {R_CHARS: 250, R_FOREIGN: 50}
    assert len(r["rejected_samples"]) == parse.SAMPLES == 100
    assert [s["line"] for s in r["rejected_samples"]] == list(range(2, 102))
    assert [s["value"] for s in r["rejected_samples"]] == bad[:100]


def test_sample_values_are_cut_to_100_characters() -> None:
    long = "x" * 500
    _, r = report(f"0612345678\n{long}\n".encode())
    assert r["rejected_samples"] == [{"line": 2, "value": "x" * 100, "error": R_CHARS}]


def test_duplicates_in_different_forms_are_not_errors() -> None:
    forms = ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "0033612345678",
             "+33 (0)6 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78"]
    overseas = ["0692 12 34 56", "+262 692 12 34 56", "00262692123456"]
    keys, r = report(("\n".join(forms + overseas + forms) + "\n").encode())
    assert keys == [33612345678, 262692123456]
    assert counts(r) == {"lines": 17, "header": 0, "blank": 0, "accepted": 2, "duplicates": 15,
                         "rejected": 0}
    assert r["rejected_share"] == 0.0


# CSV refusals: (file, samples as (line, error))
CSV_REFUSED = [
    ("empty column", "Nom;Tel\nDupont;\nDurand;0612345678\n", [(2, R_EMPTY)]),
    ("missing column", "Nom;Tel\nDupont\nDurand;0612345678\n", [(2, R_COLUMN)]),
    ("junk in the column", "Nom;Tel\nDupont;n/a\nDurand;0612345678\n", [(2, R_CHARS)]),
    ("letters elsewhere are fine", "Nom;Tel\nDupont 2;+33 (0)6 12 34 56 78\n", []),
    ("unterminated quote", 'Nom;Tel\n"Dupont;0698765432\nDurand;0612345678\n',
     [(2, R_QUOTES)]),
    ("a bare CR in a field is a separator, not a crash",
     "Nom;Tel\nDu\rpont;+33 (0)6 98 76 54 32\nDurand;0612345678\n", []),
    ("a bare CR in a refused line", "Nom;Tel\nDu\rpont;+33 (0)7 00 00 00 00\n"
     "Durand;0612345678\n", [(2, R_PLAN)]),
]


@pytest.mark.parametrize(("data", "samples"), [c[1:] for c in CSV_REFUSED],
                         ids=[c[0] for c in CSV_REFUSED])
def test_csv_refusals(data: str, samples: list[tuple[int, str]]) -> None:
    keys, r = report(data.encode())
    assert 33612345678 in keys
    assert [(s["line"], s["error"]) for s in r["rejected_samples"]] == samples
    assert r["header"] == 1 and r["rejected"] == len(samples)
