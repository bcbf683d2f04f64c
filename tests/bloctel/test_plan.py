"""The numbering-plan table: derived from classify, cached on disk, and in agreement with it."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from bloctel import parse
from bloctel import plan as numbering_plan
from bloctel.plan import EXACT, Plan, canonical_keys, derive, key_of
from rules_fr.numbering import classify

from .helpers import outcomes, report


@pytest.fixture(scope="module")
def derived() -> Plan:
    return derive()


def _same(a: Plan, b: Plan) -> None:
    assert set(a.tables) == set(b.tables) == set(numbering_plan.TABLES)
    for k in a.tables:
        assert np.array_equal(a.tables[k], b.tables[k]), k
    assert np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.moduli, b.moduli)
    assert a.fingerprint == b.fingerprint


def test_derived_table_equals_the_cached_one(derived: Plan) -> None:
    _same(derived, numbering_plan.plan())


def test_cache_is_written_then_read_and_a_corrupt_one_is_replaced(
    derived: Plan, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake_derive() -> Plan:
        calls.append(1)
        return derived

    monkeypatch.setattr(numbering_plan, "derive", fake_derive)
    numbering_plan.plan.cache_clear()
    try:
        _same(numbering_plan.plan(), derived)
        assert len(calls) == 1
        [cached] = (tmp_path / "canvassing-gateway").glob("numbering-plan-*.npz")
        numbering_plan.plan.cache_clear()
        _same(numbering_plan.plan(), derived)  # from the file
        assert len(calls) == 1
        cached.write_bytes(b"not an npz file")
        numbering_plan.plan.cache_clear()
        _same(numbering_plan.plan(), derived)  # derived again, and the file rewritten
        assert len(calls) == 2
        numbering_plan.plan.cache_clear()
        _same(numbering_plan.plan(), derived)
        assert len(calls) == 2
        assert list(tmp_path.glob("**/*.tmp.npz")) == []
    finally:
        numbering_plan.plan.cache_clear()


def test_unwritable_cache_is_not_an_error(derived: Plan, tmp_path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(numbering_plan, "derive", lambda: derived)
    numbering_plan.plan.cache_clear()
    try:
        _same(numbering_plan.plan(), derived)
    finally:
        numbering_plan.plan.cache_clear()


# (value, key, NSN length) → (A, M): key == A + value % M with the largest M
TRANSFORMS = [
    (612345678, 33612345678, 9, (33000000000, 10**9)),  # 06… → +33 6…
    (692123456, 262692123456, 9, (262000000000, 10**9)),  # 0692… → +262 692…
    (508411234, 508411234, 9, (0, 10**9)),  # +508 41… read from 0508 41…: the value itself
    (411234, 508411234, 6, (508000000, 10**6)),  # +508 41 12 34
]


@pytest.mark.parametrize(("value", "key", "length", "expected"), TRANSFORMS)
def test_transform(value: int, key: int, length: int, expected: tuple[int, int]) -> None:
    a, m = numbering_plan._transform(value, key, length)
    assert (a, m) == expected
    assert a + value % m == key


# -- agreement with classify on many numbers -------------------------------------------------

NATIONAL_PREFIXES = [str(p) for p in range(1, 10)] + [
    "692", "693", "262", "263", "269", "639", "590", "690", "691", "594", "694", "596", "696",
    "697", "976", "947", "508", "80", "81", "82", "89", "70", "73", "74", "75", "76", "77", "78",
]
INTERNATIONAL = {33: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "692", "590"],
                 262: ["262", "263", "269", "639", "692", "693", "1"],
                 590: ["590", "690", "691", "1"], 594: ["594", "694", "976", "1"],
                 596: ["596", "696", "697", "1"]}


def _numbers(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        form = rng.integers(0, 4)
        if form == 0:  # national
            prefix = NATIONAL_PREFIXES[rng.integers(len(NATIONAL_PREFIXES))]
            rest = "".join(map(str, rng.integers(0, 10, 9 - len(prefix))))
            out.append(" ".join(["0" + prefix, rest[:2], rest[2:]]))
        elif form == 3:  # Saint-Pierre-et-Miquelon, 6 digits
            nsn = str(rng.choice([41, 55, 40, 50, 80, 10])) + "".join(
                map(str, rng.integers(0, 10, 4)))
            out.append(("+508 " if rng.integers(2) else "00508") + nsn)
        else:
            cc = list(INTERNATIONAL)[rng.integers(len(INTERNATIONAL))]
            prefix = INTERNATIONAL[cc][rng.integers(len(INTERNATIONAL[cc]))]
            rest = "".join(map(str, rng.integers(0, 10, 9 - len(prefix))))
            lead = "+" if form == 1 else "00"
            out.append(f"{lead}{cc} {prefix}{rest}")
    return out


def test_plan_agrees_with_classify_on_20000_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = _numbers(20_000, seed=20_000)
    monkeypatch.setattr(parse, "SAMPLES", len(numbers))
    got = outcomes(numbers)
    missed, wrong, lenient = [], [], []
    for text, g in zip(numbers, got, strict=True):
        ref = key_of(text)
        key = g if isinstance(g, int) else None
        if ref is not None and key is None:
            missed.append(text)
        elif ref is not None and key != ref:
            wrong.append((text, ref, key))
        elif ref is None and key is not None:
            lenient.append(text)
    accepted = sum(isinstance(g, int) for g in got)
    assert accepted > 10_000  # the sample is mostly valid numbers
    assert missed == []
    assert wrong == []
    assert len(lenient) <= len(numbers) // 1000, lenient[:20]


def test_the_table_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Valid numbers of the common ranges are decided by the table, not by classify."""
    rng = np.random.default_rng(7)
    lines = [f"0{p}{n:08d}" for p, n in zip(rng.choice([1, 2, 3, 4, 5, 6, 9], 5000),
                                             rng.integers(0, 10**8, 5000), strict=True)]
    parser = parse.BlockParser(parse.Layout())
    keys = parser.parse(("\n".join(lines) + "\n").encode(), 1)
    assert parser.tally.valid == len(keys) > 4000
    assert parser.tally.exact < len(lines) // 10


def test_exact_cells_go_to_classify() -> None:
    p = numbering_plan.plan()
    national = p.tables[(numbering_plan.NATIONAL, 9)]
    assert national.dtype == np.uint8 and len(national) == 10**numbering_plan.DEPTH
    # 07 00…: refused by classify, so the table asks classify (it never refuses by itself)
    assert national[700000] == EXACT
    # 06 12 34: valid, +33 and the NSN
    cell = national[612345]
    assert cell != EXACT
    assert p.offsets[cell] + 612345678 % p.moduli[cell] == 33612345678


@pytest.mark.parametrize(("text", "key"), [
    ("06 12 34 56 78", 33612345678),
    ("+262 692 12 34 56", 262692123456),
    ("0508 41 12 34", 508411234),
    ("3949", None),  # a short number is not a list entry
    ("+44 20 7946 0958", None),  # foreign
    ("+881 6 12345678", None),  # satellite
    ("07 00 00 00 00", None),
    ("", None),
])
def test_key_of(text: str, key: int | None) -> None:
    assert key_of(text) == key


def test_key_of_does_not_fill_the_check_paths_memo() -> None:
    from rules_fr import numbering

    with mock.patch.object(numbering, "_classify", side_effect=AssertionError):
        assert key_of("0612345678") == 33612345678


ONE_LINE = [  # every written form of one line, and the key BLOCTEL stores it under
    (["0269 60 12 34", "+33269601234", "0033 2 69 60 12 34", "+262269601234", "00262269601234"],
     262269601234),
    (["0692123456", "+33692123456", "0033692123456", "+262 692 12 34 56"], 262692123456),
    (["0947650571", "+33947650571", "+594947650571"], 594947650571),
    (["0508411234", "+33508411234", "+508411234"], 508411234),
    (["0612345678", "+33612345678", "0033612345678"], 33612345678),
]


@pytest.mark.parametrize(("forms", "key"), ONE_LINE, ids=[str(k) for _, k in ONE_LINE])
def test_a_bloctel_import_keys_every_form_of_a_line_as_classify_does(forms, key) -> None:
    """One line, one key: the list holds the key the check path looks up, whatever the form."""
    keys, r = report(("\n".join(forms) + "\n").encode())
    assert keys == [key] and r["accepted"] == 1 and r["duplicates"] == len(forms) - 1, r
    assert {classify(f).e164 for f in forms} == {f"+{key}"}


def test_canonical_keys_rekeys_stored_legacy_keys_like_classify() -> None:
    stored = np.array([33269601234, 33612345678, 33692123456, 33947650571, 33508411234,
                       262269601234, 33123], dtype=np.int64)
    assert canonical_keys(stored).tolist() == [
        262269601234, 33612345678, 262692123456, 594947650571, 508411234, 262269601234,
        33123]  # a key classify refuses is kept as it is
