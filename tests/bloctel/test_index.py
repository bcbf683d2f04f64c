"""The in-memory list: a compact set of int64 keys, and its chunked storage format."""

from __future__ import annotations

import zlib
from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bloctel import index as index_mod
from bloctel.index import Index, decode

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# keys as the importer makes them: E.164 digits of French numbers, plus edge values
french_key = st.one_of(
    st.integers(33_100_000_000, 33_999_999_999),  # +33: buckets 7 and 8 (key >> 32)
    st.integers(262_262_000_000, 262_693_999_999),
    st.integers(590_590_000_000, 590_691_999_999),
    st.integers(508_400_000, 508_599_999),  # +508: 9 digits, bucket 0
)
any_key = st.one_of(
    french_key,
    st.integers(0, 2**40),
    st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**62, 2**63 - 1]),
)
key_arrays = st.lists(any_key, max_size=300).map(lambda ks: np.array(ks, dtype=np.int64))


def _probes(keys: np.ndarray) -> np.ndarray:
    """Each key, its neighbours, the same low bits in other buckets, and fixed edge values."""
    near = np.concatenate([keys, keys - 1, keys + 1, keys ^ (1 << 32), keys + (1 << 33)])
    edges = np.array([0, 1, 2**32 - 1, 2**32, 33_612_345_678, 2**63 - 1], dtype=np.int64)
    return np.concatenate([near[near >= 0], edges])


@SETTINGS
@given(keys=key_arrays)
def test_from_keys_is_the_sorted_unique_set(keys: np.ndarray) -> None:
    idx = Index.from_keys(keys)
    unique = np.unique(keys)
    assert idx.keys().dtype == np.int64
    assert np.array_equal(idx.keys(), unique)
    assert idx.size == len(unique)
    probes = _probes(keys)
    expected = np.isin(probes, unique)
    assert np.array_equal(idx.contains_many(probes), expected)
    assert [int(p) in idx for p in probes] == expected.tolist()


@SETTINGS
@given(keys=key_arrays, chunk=st.integers(1, 17))
def test_encode_decode_round_trip_across_chunks(keys: np.ndarray, chunk: int) -> None:
    idx = Index.from_keys(keys)
    with mock.patch.object(index_mod, "CHUNK", chunk):
        chunks = list(idx.encode())
    assert all(1 <= c.count <= chunk for c in chunks)
    assert sum(c.count for c in chunks) == idx.size
    assert [c.bucket for c in chunks] == sorted(c.bucket for c in chunks)
    again = Index(decode(chunks))
    assert np.array_equal(again.keys(), idx.keys())
    probes = _probes(keys)
    assert np.array_equal(again.contains_many(probes), idx.contains_many(probes))
    # filling buckets allocated from the recorded sizes (how workers load) gives the same set
    sizes: dict[int, int] = {}
    for c in chunks:
        sizes[c.bucket] = sizes.get(c.bucket, 0) + c.count
    assert np.array_equal(Index(decode(chunks, sizes)).keys(), idx.keys())
    if chunks:
        wrong = dict(sizes)
        wrong[chunks[0].bucket] += 1
        with pytest.raises(ValueError, match="fewer"):
            decode(chunks, wrong)
        wrong[chunks[0].bucket] -= 2
        with pytest.raises(ValueError):
            decode(chunks, wrong)


def test_empty_index() -> None:
    for idx in (Index.empty(), Index.from_keys(np.zeros(0, dtype=np.int64)), Index(decode([]))):
        assert idx.size == 0
        assert idx.keys().tolist() == []
        assert 33612345678 not in idx
        assert idx.contains_many(np.array([0, 33612345678])).tolist() == [False, False]
        assert list(idx.encode()) == []


def test_a_bucket_of_one_key_and_keys_in_every_group() -> None:
    keys = np.array([5 << 32] + [(7 << 32) + i * 4099 for i in range(10_000)], dtype=np.int64)
    idx = Index.from_keys(keys)
    assert (5 << 32) in idx and (5 << 32) + 1 not in idx and (5 << 32) - 1 not in idx
    assert idx.contains_many(keys).all()
    assert not idx.contains_many(keys[1:] + 1).any()


def _chunks(n: int = 50, chunk: int = 16) -> list[index_mod.Chunk]:
    keys = 33_600_000_000 + np.arange(n, dtype=np.int64) * 7
    with mock.patch.object(index_mod, "CHUNK", chunk):
        return list(Index.from_keys(keys).encode())


@pytest.mark.parametrize("corrupt", [
    lambda c: replace(c, count=c.count + 1),
    lambda c: replace(c, count=c.count - 1),
    lambda c: replace(c, first=c.first + 1),
    lambda c: replace(c, data=zlib.compress(zlib.decompress(c.data)[4:], 1)),
    lambda c: replace(c, data=zlib.compress(b"\x01\x00\x00\x00" + zlib.decompress(c.data)[4:])),
], ids=["count+1", "count-1", "first", "a number short", "first delta changed"])
def test_corrupt_chunk_is_a_value_error(corrupt) -> None:
    chunks = _chunks()
    assert len(chunks) == 4
    chunks[2] = corrupt(chunks[2])
    with pytest.raises(ValueError, match="corrupt"):
        decode(chunks)


@pytest.mark.parametrize("data", [b"not zlib", zlib.compress(b"12345"), b""],
                         ids=["not zlib", "not whole numbers", "empty"])
def test_garbage_chunk_data_is_a_value_error(data: bytes) -> None:
    chunks = _chunks()
    chunks[1] = replace(chunks[1], data=data)
    with pytest.raises(ValueError, match="corrupt"):
        decode(chunks)


def test_chunks_out_of_order_are_a_value_error() -> None:
    chunks = _chunks()
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(ValueError, match="out of order"):
        decode(chunks)
    # chunks of different buckets may come in any bucket order
    keys = np.array([1, 2, 3, (9 << 32) + 1, (9 << 32) + 2], dtype=np.int64)
    with mock.patch.object(index_mod, "CHUNK", 2):
        chunks = list(Index.from_keys(keys).encode())
    assert len(chunks) == 3
    mixed = [chunks[2], chunks[0], chunks[1]]
    assert np.array_equal(Index(decode(mixed)).keys(), keys)


def test_about_four_bytes_a_number_for_a_million() -> None:
    rng = np.random.default_rng(1)
    keys = np.concatenate([
        33_600_000_000 + rng.integers(0, 200_000_000, 950_000),  # mobiles, 2 buckets
        262_692_000_000 + rng.integers(0, 2_000_000, 100_000),
    ]).astype(np.int64)
    idx = Index.from_keys(keys)
    assert 1_000_000 <= idx.size <= len(keys)
    assert idx.nbytes <= 5 * idx.size
    assert idx.contains_many(keys[::1000]).all()
    assert int(keys[0]) in idx and int(keys[-1]) in idx
