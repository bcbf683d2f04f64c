"""Block boundaries change nothing: a file read a few bytes at a time gives the same keys,
counts and rejected line numbers as the same file read in one block."""

from __future__ import annotations

import codecs
import gzip
import io
from dataclasses import asdict
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bloctel import parse
from bloctel.parse import Reader

from .helpers import parse_blocks, report
from .strategies import line

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _encode(text: str, encoding: str, gz: bool) -> bytes:
    data = {
        "utf-8": text.encode(),
        "utf-8-sig": codecs.BOM_UTF8 + text.encode(),
        "utf-16": text.encode("utf-16"),
        "utf-16-be": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    }[encoding]
    return gzip.compress(data, mtime=0) if gz else data


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, str]:
    """A file (its bytes as uploaded) and the text it holds."""
    rows = draw(st.lists(st.one_of(line, st.sampled_from(["", " ", "\t"])), max_size=40))
    if draw(st.booleans()):  # a CSV with a header
        delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
        names = ["Nom", "Téléphone", "Ville"]
        rows = [delimiter.join(names)] + [
            delimiter.join(["Zoé", r.replace(delimiter, " "), "Paris"]) for r in rows
        ]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(rows) + draw(st.sampled_from([eol, ""]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be"]))
    return _encode(text, encoding, draw(st.booleans())), text


def _tally(t: parse.Tally) -> dict[str, object]:
    d = asdict(t)
    del d["exact"]  # how many lines went to classify is not a result
    return d


@SETTINGS
@given(file=files(), block=st.integers(3, 64))
def test_tiny_blocks_give_the_same_results(file: tuple[bytes, str], block: int) -> None:
    data, _ = file
    keys, tally = parse_blocks(data)
    with mock.patch.object(parse, "BLOCK", block):
        small_keys, small_tally = parse_blocks(data)
    assert small_keys == keys
    assert _tally(small_tally) == _tally(tally)
    assert tally.lines == tally.header + tally.blank + tally.valid + tally.rejected


@SETTINGS
@given(file=files(), block=st.integers(3, 64))
def test_reader_blocks_are_whole_lines_of_the_text(file: tuple[bytes, str], block: int) -> None:
    data, text = file
    with mock.patch.object(parse, "BLOCK", block):
        reader = Reader(io.BytesIO(data))
        blocks = list(reader.blocks())
    assert all(b.endswith(b"\n") for b in blocks)
    joined = b"".join(blocks).decode()
    if "\n" not in text and "\r" in text:  # an old-Mac file: its CRs end its lines
        text = text.replace("\r", "\n")
    assert joined == (text if not text or text.endswith("\n") else text + "\n")
    assert reader.bytes_read == len(data)


@pytest.mark.parametrize("block", [3, 7, 64, 1 << 10])
def test_importer_with_tiny_blocks(block: int) -> None:
    lines = [
        "0612345678", "", "abc", "+33 6 98 76 54 32", "06 12 34 56 78", "   ", "+44 20 7946 0958",
        "0692 12 34 56", "0612", "00 262 692 12 34 56", "Zoé", "+33 (0)1 23 45 67 89",
    ] * 30
    data = gzip.compress(codecs.BOM_UTF8 + "\r\n".join(lines).encode())
    keys, r = report(data)
    with mock.patch.object(parse, "BLOCK", block):
        small_keys, small = report(data)
    assert small_keys == keys == [33123456789, 33612345678, 33698765432, 262692123456]
    assert small == r
    assert r["rejected"] == 4 * 30 and r["blank"] == 2 * 30 and r["duplicates"] == 6 * 30 - 4
    # the refused lines keep their physical line numbers, block after block
    assert [s["line"] for s in r["rejected_samples"][:8]] == [3, 7, 9, 11, 15, 19, 21, 23]
    assert r["rejected_samples"][-1]["line"] == 12 * 24 + 11  # the 100th of 120
