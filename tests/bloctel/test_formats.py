"""The file formats a BLOCTEL import accepts, each checked for its exact keys and counts."""

from __future__ import annotations

import codecs
import gzip

import pytest

from bloctel.parse import R_COLUMN, R_EMPTY, FormatError, Layout, sniff
from bloctel.plan import key_of

from .helpers import counts, report

# (as written in the file, E.164 key)
WRITTEN = [
    # metropolitan, national forms
    ("01 23 45 67 89", 33123456789),
    ("0123456789", 33123456789),
    ("01.23.45.67.89", 33123456789),
    ("01-23-45-67-89", 33123456789),
    ("01/23/45/67/89", 33123456789),
    ("(01) 23 45 67 89", 33123456789),
    ("06\u00a012\u00a034\u00a056\u00a078", 33612345678),  # no-break spaces
    ("06\u202f12\u202f34\u202f56\u202f78", 33612345678),  # narrow no-break spaces
    ("   06 12 34 56 78   ", 33612345678),
    ("\u00a00612345678\u00a0", 33612345678),
    ("07 81 23 45 67", 33781234567),
    ("09 71 23 45 67", 33971234567),
    # metropolitan, international forms
    ("+33 1 23 45 67 89", 33123456789),
    ("+33123456789", 33123456789),
    ("0033123456789", 33123456789),
    ("00 33 1 23 45 67 89", 33123456789),
    ("+33 (0)1 23 45 67 89", 33123456789),
    ("+33 (0)123456789", 33123456789),
    ("0033 (0)1 23 45 67 89", 33123456789),
    # overseas, written nationally: the territory's country code, not +33
    ("0692 12 34 56", 262692123456),  # Réunion mobile
    ("0693 12 34 56", 262693123456),
    ("0262 12 34 56", 262262123456),  # Réunion fixed
    ("0269 61 12 34", 262269611234),  # Mayotte fixed
    ("0639 20 12 34", 262639201234),  # Mayotte mobile
    ("0590 27 12 34", 590590271234),  # Guadeloupe fixed
    ("0590 87 12 34", 590590871234),  # Saint-Martin / Saint-Barthélemy
    ("0690 12 34 56", 590690123456),  # Guadeloupe mobile
    ("0594 27 12 34", 594594271234),  # Guiana fixed
    ("0694 12 34 56", 594694123456),  # Guiana mobile
    ("0596 61 12 34", 596596611234),  # Martinique fixed
    ("0696 12 34 56", 596696123456),  # Martinique mobile
    ("0508 41 12 34", 508411234),  # Saint-Pierre-et-Miquelon: 6-digit NSN
    ("0508 55 12 34", 508551234),
    # overseas, international forms
    ("+262 692 12 34 56", 262692123456),
    ("+262262123456", 262262123456),
    ("00 262 692 12 34 56", 262692123456),
    ("+262 269 61 12 34", 262269611234),
    ("+590 690 12 34 56", 590690123456),
    ("+590 590 87 12 34", 590590871234),
    ("+594 694 12 34 56", 594694123456),
    ("+596 696 12 34 56", 596696123456),
    ("+508 41 12 34", 508411234),
    ("00508 55 12 34", 508551234),
]


@pytest.mark.parametrize(("written", "key"), WRITTEN, ids=[w for w, _ in WRITTEN])
def test_one_number_per_line_in_every_written_form(written: str, key: int) -> None:
    assert key_of(written.strip()) == key  # the check path reads it the same way
    keys, r = report(f"{written}\n{written}\n".encode())
    assert keys == [key]
    assert counts(r) == {"lines": 2, "header": 0, "blank": 0, "accepted": 1, "duplicates": 1,
                         "rejected": 0}
    assert r["format"] == "one number per line"


def test_every_form_in_one_file_gives_the_same_keys() -> None:
    data = "".join(f"{w}\n" for w, _ in WRITTEN).encode()
    keys, r = report(data)
    expected = sorted({k for _, k in WRITTEN})
    assert keys == expected
    assert r["rejected"] == 0 and r["rejected_samples"] == []
    assert r["accepted"] + r["duplicates"] == len(WRITTEN)


TWO = [33612345678, 33698765432]

# (id, file bytes, sorted keys, counts: lines, header, blank, accepted, duplicates, rejected,
#  format)
FILES = [
    ("plain LF", b"0612345678\n0698765432\n", TWO, (2, 0, 0, 2, 0, 0), "one number per line"),
    ("CRLF", b"0612345678\r\n06 98 76 54 32\r\n", TWO, (2, 0, 0, 2, 0, 0),
     "one number per line"),
    ("no final newline", b"0612345678\n0698765432", TWO, (2, 0, 0, 2, 0, 0),
     "one number per line"),
    ("no final newline, CRLF", b"0612345678\r\n0698765432", TWO, (2, 0, 0, 2, 0, 0),
     "one number per line"),
    ("single line without newline", b"+33612345678", [33612345678], (1, 0, 0, 1, 0, 0),
     "one number per line"),
    ("blank and whitespace-only lines", b"\n0612345678\n   \n\t\n\r\n \t \r\n0698765432\n\n",
     TWO, (8, 0, 6, 2, 0, 0), "one number per line"),
    ("UTF-8 BOM", codecs.BOM_UTF8 + b"0612345678\n0698765432\n", TWO, (2, 0, 0, 2, 0, 0),
     "one number per line, utf-8-sig"),
    ("UTF-16 LE with BOM", codecs.BOM_UTF16_LE
     + "06 12 34 56 78\r\n+33 6 98 76 54 32\r\n".encode("utf-16-le"), TWO, (2, 0, 0, 2, 0, 0),
     "one number per line, utf-16"),
    ("UTF-16 BE with BOM", codecs.BOM_UTF16_BE
     + "06 12 34 56 78\n0698765432\n".encode("utf-16-be"), TWO, (2, 0, 0, 2, 0, 0),
     "one number per line, utf-16"),
    ("UTF-16 CSV with accented header", "Nom;Numéro\r\nDupont;06 12 34 56 78\r\n"
     "Müller;0698765432\r\n".encode("utf-16"), TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 2 'Numéro', utf-16"),
    ("gzip, no name needed", gzip.compress(b"0612345678\n0698765432\n"), TWO,
     (2, 0, 0, 2, 0, 0), "gzip, one number per line"),
    ("gzip of a UTF-8 BOM CSV", gzip.compress(
        codecs.BOM_UTF8 + "Téléphone;Nom\r\n0612345678;Dupont\r\n0698765432;Durand\r\n"
        .encode()), TWO, (3, 1, 0, 2, 0, 0),
     "gzip, semicolon-separated, numbers in column 1 'Téléphone', utf-8-sig"),
    ("gzip of UTF-16", gzip.compress("0612345678\n0698765432\n".encode("utf-16")), TWO,
     (2, 0, 0, 2, 0, 0), "gzip, one number per line, utf-16"),
    ("duplicates in several forms", b"06 12 34 56 78\n+33612345678\n0033 6 12 34 56 78\n"
     b"06.12.34.56.78\n+33 (0)6 12 34 56 78\n0698765432\n", TWO, (6, 0, 0, 2, 4, 0),
     "one number per line"),
    ("header, one column", "Téléphone\n0612345678\n0698765432\n".encode(), TWO,
     (3, 1, 0, 2, 0, 0), "one number per line after a header"),
    ("header after blank lines", b"\n\nnumero\n0612345678\n0698765432\n", TWO,
     (5, 1, 2, 2, 0, 0), "one number per line after a header"),
    # CSV with a header: the column is found by its name, wherever it is
    ("semicolon, Téléphone third", "Nom;Prénom;Téléphone\nDupont;Jean;06 12 34 56 78\n"
     "Durand;Zoé;0698765432\n".encode(), TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 3 'Téléphone'"),
    ("comma, Numéro second", "id,Numéro,ville\n1,0612345678,Paris\n2,+33698765432,Lyon\n"
     .encode(), TWO, (3, 1, 0, 2, 0, 0), "comma-separated, numbers in column 2 'Numéro'"),
    ("tab, mobile second", b"nom\tmobile\nDupont\t0612345678\nDurand\t0698765432\n", TWO,
     (3, 1, 0, 2, 0, 0), "tab-separated, numbers in column 2 'mobile'"),
    ("pipe, TELEPHONE first", b"TELEPHONE|NOM\n0612345678|Dupont\n0698765432|Durand\n", TWO,
     (3, 1, 0, 2, 0, 0), "pipe-separated, numbers in column 1 'TELEPHONE'"),
    ("quoted header and values", b'"Nom";"Telephone"\n"Dupont";"06 12 34 56 78"\n'
     b'"Durand";"0698765432"\n', TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 2 'Telephone'"),
    ("two columns named like numbers: the one that parses", "Numéro client;Nom;Téléphone\n"
     "12345;Dupont;0612345678\n67890;Durand;0698765432\n".encode(), TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 3 'Téléphone'"),
    ("header with unknown names: column by content", b"a;b;c\nDupont;Paris;0612345678\n"
     b"Durand;Lyon;0698765432\n", TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 3 'c'"),
    # CSV without a header: the column is found by content
    ("semicolon, no header", b"Dupont;0612345678;Paris\nDurand;0698765432;Lyon\n", TWO,
     (2, 0, 0, 2, 0, 0), "semicolon-separated, numbers in column 2"),
    ("comma, no header", b"0612345678,Dupont\n0698765432,Durand\n", TWO, (2, 0, 0, 2, 0, 0),
     "comma-separated, numbers in column 1"),
    ("tab, no header", b"1\tDupont\t06 12 34 56 78\n2\tDurand\t0698765432\n", TWO,
     (2, 0, 0, 2, 0, 0), "tab-separated, numbers in column 3"),
    ("pipe, no header", b"Dupont|0612345678\nDurand|0698765432\n", TWO, (2, 0, 0, 2, 0, 0),
     "pipe-separated, numbers in column 2"),
    # quoted fields holding the delimiter
    ("quoted semicolons", b'Nom;Telephone\n"Dupont; Jean";0612345678\n'
     b'"Durand; Zo\xc3\xa9";"06 98 76 54 32"\n', TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 2 'Telephone'"),
    ("quoted commas, doubled quotes", b'name,phone\n"Dupont, ""Jean""",06 12 34 56 78\n'
     b'"Durand, Zoe","0698765432"\n', TWO, (3, 1, 0, 2, 0, 0),
     "comma-separated, numbers in column 2 'phone'"),
    ("a stray quote does not spoil the next lines", b'nom;tel\nO"Brien;0612345678\n'
     b'Durand;0698765432\n', TWO, (3, 1, 0, 2, 0, 0),
     "semicolon-separated, numbers in column 2 'tel'"),
    ("CSV with CRLF and blank lines", b"Nom;Tel\r\n\r\nDupont;0612345678\r\n;\r\n"
     b"Durand;0698765432\r\n\r\n", TWO, (6, 1, 2, 2, 0, 1),
     "semicolon-separated, numbers in column 2 'Tel'"),
    # header only
    ("header only", b"Nom;Telephone\n", [], (1, 1, 0, 0, 0, 0),
     "semicolon-separated, numbers in column 2 'Telephone'"),
    ("header only, BOM, no final newline", codecs.BOM_UTF8 + "Téléphone".encode(),
     [], (1, 1, 0, 0, 0, 0), "one number per line after a header, utf-8-sig"),
    ("header only, CRLF", "Numéro;Nom\r\n".encode("utf-16"), [], (1, 1, 0, 0, 0, 0),
     "semicolon-separated, numbers in column 1 'Numéro', utf-16"),
]


@pytest.mark.parametrize(("data", "keys", "expected", "layout"),
                         [f[1:] for f in FILES], ids=[f[0] for f in FILES])
def test_file_formats(data: bytes, keys: list[int], expected: tuple[int, ...],
                      layout: str) -> None:
    got, r = report(data)
    assert got == keys
    names = ("lines", "header", "blank", "accepted", "duplicates", "rejected")
    assert counts(r) == dict(zip(names, expected, strict=True))
    assert r["format"] == layout


def test_plain_file_starting_like_gzip_is_not_gzip() -> None:
    # only the two magic bytes 1f 8b make a gzip file; a file that starts with 0x1f (a
    # character str.strip, hence classify, takes for white space) is read as text
    keys, r = report(b"\x1f0612345678\n0698765432\n")
    assert keys == TWO
    assert r["format"] == "one number per line"
    with pytest.raises(FormatError):
        report(b"\x1f\x8b0612345678\n")  # the magic number, then not gzip at all


def test_sha256_is_of_the_bytes_as_uploaded() -> None:
    import hashlib

    data = gzip.compress(b"0612345678\n")
    _, r = report(data)
    assert r["sha256"] == hashlib.sha256(data).hexdigest()
    assert r["file_bytes"] == len(data)


@pytest.mark.parametrize("data", [b"", gzip.compress(b"")], ids=["empty", "empty gzip"])
def test_empty_file_is_a_format_error(data: bytes) -> None:
    with pytest.raises(FormatError, match="empty"):
        report(data)


def test_truncated_gzip_is_a_format_error() -> None:
    data = gzip.compress(b"0612345678\n" * 1000)
    with pytest.raises(FormatError):
        report(data[: len(data) // 2])


def test_empty_and_missing_number_column_are_rejected_at_their_line() -> None:
    data = (
        "Nom;Téléphone;Ville\n"  # 1 header
        "Dupont;;Paris\n"  # 2 empty column
        "Martin\n"  # 3 missing column
        "\n"  # 4 blank
        ";0612345678;Lyon\n"  # 5
        "Durand;  ;Nice\n"  # 6 empty (spaces only)
        "Zoé;0698765432\n"  # 7 last column missing: fine
    ).encode()
    keys, r = report(data)
    assert keys == TWO
    assert counts(r) == {"lines": 7, "header": 1, "blank": 1, "accepted": 2, "duplicates": 0,
                         "rejected": 3}
    assert [(s["line"], s["value"], s["error"]) for s in r["rejected_samples"]] == [
        (2, "Dupont;;Paris", R_EMPTY),
        (3, "Martin", R_COLUMN),
        (6, "Durand;  ;Nice", R_EMPTY),
    ]


# (first lines, expected layout)
SNIFFED = [
    ("0612345678\n0698765432\n", Layout()),
    ("Téléphone\n0612345678\n", Layout(None, 0, "Téléphone", True)),
    ("Dupont;0612345678\nDurand;0698765432\n", Layout(b";", 1)),
    ("NUMÉRO DE TÉLÉPHONE,nom\n0612345678,x\n",
     Layout(b",", 0, "NUMÉRO DE TÉLÉPHONE", True)),
    ("nom|gsm\nDupont|0612345678\n", Layout(b"|", 1, "gsm", True)),
    ("msisdn\tnom\n33612345678\tx\n", Layout(b"\t", 0, "msisdn", True)),
    # a delimiter only the header has still makes a CSV
    ("telephone;nom\n0612345678\n0698765432\n", Layout(b";", 0, "telephone", True)),
    ("", Layout()),
    ("\n\n  \n", Layout()),
]


@pytest.mark.parametrize(("head", "layout"), SNIFFED, ids=[h[:24] for h, _ in SNIFFED])
def test_sniff(head: str, layout: Layout) -> None:
    assert sniff(head.encode()) == layout


def test_a_lone_word_on_line_one_is_a_header_only_if_it_names_the_number_column() -> None:
    from bloctel.parse import sniff

    assert sniff(b"numero\n0612345678\n").header
    assert sniff(b"T\xc3\xa9l\xc3\xa9phone\n0612345678\n").header
    assert not sniff(b"n/a\n0612345678\n").header  # garbage: a rejected line like the rest
    assert not sniff(b"0612345678\nn/a\n").header
