"""Classification of numbers under the French numbering plan (rules-fr.md §1–§2)."""

from __future__ import annotations

import pytest

from rules_fr import NumberKind, classify, is_mobile, national_significant_number
from rules_fr.numbering import MAX_RAW_LENGTH, national_format

K = NumberKind

TABLE = [
    # raw, e164, kind, region, time zone
    ("06 12 34 56 78", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("06.12.34.56.78", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("06-12-34-56-78", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("0612345678", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("07 81 23 45 67", "+33781234567", K.MOBILE, "FR", "Europe/Paris"),
    ("+33612345678", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("+33 6 12 34 56 78", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("+33 (0)6 12 34 56 78", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("0033 6 12 34 56 78", "+33612345678", K.MOBILE, "FR", "Europe/Paris"),
    ("01 40 00 00 00", "+33140000000", K.GEOGRAPHIC, "FR", "Europe/Paris"),
    ("05 56 12 34 56", "+33556123456", K.GEOGRAPHIC, "FR", "Europe/Paris"),
    # metropolitan canvassing ranges
    ("01 62 00 00 01", "+33162000001", K.CANVASSING, "FR", "Europe/Paris"),
    ("01 63 12 34 56", "+33163123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("02 70 12 34 56", "+33270123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("02 71 12 34 56", "+33271123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("03 77 12 34 56", "+33377123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("03 78 12 34 56", "+33378123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("04 24 12 34 56", "+33424123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("04 25 12 34 56", "+33425123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("05 68 12 34 56", "+33568123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("05 69 12 34 56", "+33569123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("09 48 12 34 56", "+33948123456", K.CANVASSING, "FR", "Europe/Paris"),
    ("09 49 12 34 56", "+33949123456", K.CANVASSING, "FR", "Europe/Paris"),
    # neighbours of the canvassing ranges are not canvassing
    ("01 61 12 34 56", "+33161123456", K.GEOGRAPHIC, "FR", "Europe/Paris"),
    ("09 47 12 34 56", "+33947123456", K.NON_GEOGRAPHIC, "FR", "Europe/Paris"),
    # overseas canvassing ranges, written nationally: their own country codes
    ("09 47 51 23 45", "+590947512345", K.CANVASSING, "GP", "America/Guadeloupe"),
    ("09 47 61 23 45", "+594947612345", K.CANVASSING, "GF", "America/Cayenne"),
    ("09 47 71 23 45", "+596947712345", K.CANVASSING, "MQ", "America/Martinique"),
    ("09 47 81 23 45", "+262947812345", K.CANVASSING, "YT", "Indian/Mayotte"),
    ("09 47 91 23 45", "+262947912345", K.CANVASSING, "RE", "Indian/Reunion"),
    ("+590 9 47 51 23 45", "+590947512345", K.CANVASSING, "GP", "America/Guadeloupe"),
    ("+262 9 47 91 23 45", "+262947912345", K.CANVASSING, "RE", "Indian/Reunion"),
    # the +33 form of an overseas canvassing number is the same line (one line, one key)
    ("+33 9 47 51 23 45", "+590947512345", K.CANVASSING, "GP", "America/Guadeloupe"),
    # 09 37-09 39: numbers for a technical platform (not verified numbers, not NPV)
    ("09 37 12 34 56", "+33937123456", K.PLATFORM, "FR", "Europe/Paris"),
    ("09 38 12 34 56", "+33938123456", K.PLATFORM, "FR", "Europe/Paris"),
    ("09 39 12 34 56", "+33939123456", K.PLATFORM, "FR", "Europe/Paris"),
    ("09 12 34 56 78", "+33912345678", K.NON_GEOGRAPHIC, "FR", "Europe/Paris"),
    # special services
    ("08 99 12 34 56", "+33899123456", K.PREMIUM_RATE, "FR", "Europe/Paris"),
    ("08 92 12 34 56", "+33892123456", K.PREMIUM_RATE, "FR", "Europe/Paris"),
    ("08 10 12 34 56", "+33810123456", K.SHARED_COST, "FR", "Europe/Paris"),
    ("08 12 34 56 78", "+33812345678", K.SHARED_COST, "FR", "Europe/Paris"),
    ("08 25 12 34 56", "+33825123456", K.SHARED_COST, "FR", "Europe/Paris"),
    ("08 00 12 34 56", "+33800123456", K.TOLL_FREE, "FR", "Europe/Paris"),
    ("08 05 12 34 56", "+33805123456", K.TOLL_FREE, "FR", "Europe/Paris"),
    ("118 712", "118712", K.SHORT_CODE, "FR", "Europe/Paris"),
    ("118712", "118712", K.SHORT_CODE, "FR", "Europe/Paris"),
    ("3949", "3949", K.SHORT_CODE, "FR", "Europe/Paris"),
    ("15", "15", K.SHORT_CODE, "FR", "Europe/Paris"),
    ("+881 6 123 45678", "+881612345678", K.SATELLITE, "001", None),
    ("+870 773 111 632", "+870773111632", K.SATELLITE, "001", None),
    ("+882 1234567", "+8821234567", K.SATELLITE, "001", None),
    ("+800 1234 5678", "+80012345678", K.TOLL_FREE, "001", None),
    # overseas numbers written nationally
    ("0692 12 34 56", "+262692123456", K.MOBILE, "RE", "Indian/Reunion"),
    ("0262 12 34 56", "+262262123456", K.GEOGRAPHIC, "RE", "Indian/Reunion"),
    ("0639 20 12 34", "+262639201234", K.MOBILE, "YT", "Indian/Mayotte"),
    ("0269 61 12 34", "+262269611234", K.GEOGRAPHIC, "YT", "Indian/Mayotte"),
    ("0690 12 34 56", "+590690123456", K.MOBILE, "GP", "America/Guadeloupe"),
    ("0590 99 12 34", "+590590991234", K.GEOGRAPHIC, "GP", "America/Guadeloupe"),
    ("0590 27 12 34", "+590590271234", K.GEOGRAPHIC, "BL", "America/Guadeloupe"),
    ("0696 12 34 56", "+596696123456", K.MOBILE, "MQ", "America/Martinique"),
    ("0596 61 23 45", "+596596612345", K.GEOGRAPHIC, "MQ", "America/Martinique"),
    ("0694 12 34 56", "+594694123456", K.MOBILE, "GF", "America/Cayenne"),
    ("0594 12 34 56", "+594594123456", K.GEOGRAPHIC, "GF", "America/Cayenne"),
    ("0508 41 12 34", "+508411234", K.GEOGRAPHIC, "PM", "America/Miquelon"),
    ("+262 692 12 34 56", "+262692123456", K.MOBILE, "RE", "Indian/Reunion"),
    ("+596 696 12 34 56", "+596696123456", K.MOBILE, "MQ", "America/Martinique"),
    ("+508 41 12 34", "+508411234", K.GEOGRAPHIC, "PM", "America/Miquelon"),
    # an overseas geographic block libphonenumber also accepts under +33: Martinique's zone
    ("0596 12 34 56", "+33596123456", K.GEOGRAPHIC, "MQ", "America/Martinique"),
    ("+33 5 96 12 34 56", "+33596123456", K.GEOGRAPHIC, "MQ", "America/Martinique"),
    # foreign
    ("+44 7911 123456", "+447911123456", K.FOREIGN, "GG", None),
    ("+44 20 7946 0958", "+442079460958", K.FOREIGN, "GB", None),
    ("+1 202 555 0123", "+12025550123", K.FOREIGN, "US", None),
    ("0049 30 1234567", "+49301234567", K.FOREIGN, "DE", None),
]


@pytest.mark.parametrize(("raw", "e164", "kind", "region", "tz"), TABLE, ids=[r[0] for r in TABLE])
def test_classification_table(raw, e164, kind, region, tz):
    info = classify(raw)
    assert (info.e164, info.kind, info.region, info.time_zone) == (e164, kind, region, tz)
    assert info.raw == raw
    assert info.valid
    assert info.french == (tz is not None)


INVALID = [
    "",
    "   ",
    "garbage",
    "06 12 34 56 7",  # nine digits
    "06 12 34 56 789",  # eleven digits
    "33612345678",  # a country code without + or 00 is ambiguous: refused
    "262692123456",
    "+33639123456",  # 0639 12… is in no assigned range, whichever way it is written
    "+33 1",
    "+",
    "0",
    "10",  # not a French short number
    "0612345678 ext 12",
    "06 12 34 56 78 ☎",
    "📞📞📞",
    "٠٦١٢٣٤٥٦٧٨",  # Arabic-Indic digits: refused, only ASCII digits are accepted
    "+99912345678",  # unassigned country code
    "+4412",
    "tel:+33612345678",
    "06 12 34 56 78" * 10,  # too long
    "x" * 10_000,
]


@pytest.mark.parametrize("raw", INVALID, ids=[repr(r[:20]) for r in INVALID])
def test_invalid_inputs(raw):
    info = classify(raw)
    assert info.kind is K.INVALID
    assert not info.valid and not info.french
    assert info.time_zone is None


def test_none_and_non_strings_do_not_raise():
    assert classify(None).kind is K.INVALID
    assert classify(612345678).kind is K.INVALID  # type: ignore[arg-type]


def test_huge_string_is_capped_and_not_cached():
    raw = "0" * (MAX_RAW_LENGTH + 1)
    info = classify(raw)
    assert info.kind is K.INVALID
    assert len(info.raw) == MAX_RAW_LENGTH


def test_classify_is_memoised():
    assert classify("06 12 34 56 78") is classify("06 12 34 56 78")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0612345678", True), ("0692123456", True), ("0140000000", False), ("garbage", False),
     (None, False)],
)
def test_is_mobile(raw, expected):
    assert is_mobile(raw) is expected
    if raw is not None:
        assert is_mobile(classify(raw)) is expected


@pytest.mark.parametrize(
    ("raw", "nsn"),
    [("06 12 34 56 78", "612345678"), ("0692 12 34 56", "692123456"), ("118 712", "118712"),
     ("garbage", None)],
)
def test_national_significant_number(raw, nsn):
    assert national_significant_number(raw) == nsn


def test_national_format():
    assert national_format("+33612345678") == "06 12 34 56 78"
    assert national_format("+447911123456") == "+44 7911 123456"
