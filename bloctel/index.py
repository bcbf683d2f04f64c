"""The list in memory: sorted 32-bit integers in buckets, about 4.3 bytes a number.

A key is a number's E.164 digits as an integer (``+33612345678`` → ``33612345678``). Keys share
their high bits by country (``key >> 32``: two buckets for +33, one per overseas code), so a
bucket stores only the low 32 bits, sorted (``uint32``): 15 million numbers take 60 MB instead
of 120 MB with int64, or over a gigabyte as a Python set. Each bucket also has an offsets table
(``2**g`` entries) giving the slice that shares the top ``g`` bits, so a look-up is a dict hit,
two reads and a binary search over a dozen entries: about 0.7 µs from Python.

The same buckets are the storage format: ``encode`` cuts them into chunks of at most
``CHUNK`` numbers, delta-encoded and zlib-compressed (about 1.5 bytes a number), and ``decode``
rebuilds them; see ``app.bloctel.store``.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np

CHUNK = 1 << 20
_LOW = np.int64(0xFFFFFFFF)


@dataclass(frozen=True)
class Chunk:
    bucket: int  # key >> 32
    count: int
    first: int  # first low value (for inspection; the data is self-contained)
    data: bytes


def _groups_bits(n: int) -> int:
    """Offsets-table size for a bucket of ``n`` numbers: ~8 numbers per group, 16 to 2**20."""
    return max(4, min(20, (max(n, 1) // 8).bit_length()))


class _Bucket:
    __slots__ = ("lows", "offsets", "shift", "mv", "mv_off")

    def __init__(self, lows: np.ndarray) -> None:
        self.lows = lows
        g = _groups_bits(len(lows))
        self.shift = 32 - g
        # group edges as uint32 (uint64 edges would make searchsorted copy the bucket); the
        # last edge, 2**32, does not fit and is the bucket's end anyway
        edges = np.arange(1 << g, dtype=np.uint32) << np.uint32(self.shift)
        self.offsets = np.empty((1 << g) + 1, dtype=np.uint32)
        self.offsets[:-1] = np.searchsorted(lows, edges)
        self.offsets[-1] = len(lows)
        self.mv = memoryview(lows)
        self.mv_off = memoryview(self.offsets)


class Index:
    """An immutable set of keys of one list version."""

    def __init__(self, buckets: dict[int, np.ndarray], *, version: int | None = None,
                 as_of: date | None = None, import_id: str | None = None) -> None:
        self.version = version
        self.as_of = as_of
        self.import_id = import_id  # identifies the version even if a database is restored
        self._buckets = {b: _Bucket(lows) for b, lows in buckets.items() if len(lows)}
        self.size = sum(len(b.lows) for b in self._buckets.values())

    # -- building ------------------------------------------------------------

    @classmethod
    def from_keys(cls, keys: np.ndarray, **meta: object) -> Index:
        """From int64 keys (any order, duplicates allowed)."""
        return cls(split(sorted_unique(keys)), **meta)  # type: ignore[arg-type]

    @classmethod
    def empty(cls, **meta: object) -> Index:
        return cls({}, **meta)  # type: ignore[arg-type]

    # -- look-ups --------------------------------------------------------------

    def __contains__(self, key: int) -> bool:
        b = self._buckets.get(key >> 32)
        if b is None:
            return False
        low = key & 0xFFFFFFFF
        g = low >> b.shift
        off = b.mv_off
        hi = off[g + 1]
        i = bisect_left(b.mv, low, off[g], hi)
        return i < hi and b.mv[i] == low

    def contains_many(self, keys: np.ndarray) -> np.ndarray:
        """Vectorised membership for an int64 array (sorted internally)."""
        keys = np.asarray(keys, dtype=np.int64)
        out = np.zeros(len(keys), dtype=bool)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        highs = sorted_keys >> 32
        for h, b in self._buckets.items():
            lo, hi = np.searchsorted(highs, [h, h + 1])
            if lo == hi:
                continue
            lows = (sorted_keys[lo:hi] & _LOW).astype(np.uint32)
            pos = np.minimum(np.searchsorted(b.lows, lows), len(b.lows) - 1)
            out[order[lo:hi]] = b.lows[pos] == lows
        return out

    def keys(self) -> np.ndarray:
        """All keys, sorted int64."""
        if not self._buckets:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([
            (np.int64(h) << 32) | self._buckets[h].lows.astype(np.int64)
            for h in sorted(self._buckets)
        ])

    @property
    def nbytes(self) -> int:
        return sum(b.lows.nbytes + b.offsets.nbytes for b in self._buckets.values())

    # -- storage format ------------------------------------------------------

    def encode(self) -> Iterator[Chunk]:
        for h in sorted(self._buckets):
            yield from encode_bucket(h, self._buckets[h].lows)


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Sorted unique int64 keys (sort + mask: numpy 2's hash-based ``np.unique`` is ~20×
    slower on millions of integers)."""
    out = np.array(keys, dtype=np.int64)  # a copy, sorted in place
    out.sort()
    if len(out) > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def split(sorted_keys: np.ndarray) -> dict[int, np.ndarray]:
    """Sorted unique int64 keys → {bucket: sorted uint32 lows}."""
    highs = sorted_keys >> 32
    out: dict[int, np.ndarray] = {}
    if len(highs) == 0:
        return out
    starts = np.flatnonzero(np.concatenate(([True], highs[1:] != highs[:-1])))
    ends = np.append(starts[1:], len(highs))
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        out[int(highs[lo])] = (sorted_keys[lo:hi] & _LOW).astype(np.uint32)
    return out


def encode_bucket(bucket: int, lows: np.ndarray) -> Iterator[Chunk]:
    for start in range(0, len(lows), CHUNK):
        part = lows[start : start + CHUNK]
        deltas = np.diff(part, prepend=np.uint32(0))  # uint32 wrap-around is undone by cumsum
        yield Chunk(bucket, len(part), int(part[0]), zlib.compress(deltas.tobytes(), 1))


def decode(chunks: Iterable[Chunk], sizes: dict[int, int] | None = None) -> dict[int, np.ndarray]:
    """Chunks (in order) → {bucket: sorted uint32 lows}. Raises ValueError if inconsistent.

    With ``sizes`` ({bucket: numbers}, from the chunk rows) each bucket is allocated once and
    filled chunk by chunk, so a load peaks at the new index plus one chunk (a worker holds the
    old index meanwhile); without, chunks are concatenated at the end.
    """
    parts: dict[int, list[np.ndarray]] = {}
    filled: dict[int, int] = {}
    out: dict[int, np.ndarray] = {}
    for c in chunks:
        try:
            raw = zlib.decompress(c.data)
        except zlib.error as e:
            raise ValueError(f"corrupt BLOCTEL chunk: {e}") from e
        if len(raw) % 4:
            raise ValueError("corrupt BLOCTEL chunk: not whole 32-bit numbers")
        deltas = np.frombuffer(raw, dtype=np.uint32)
        if len(deltas) != c.count:
            raise ValueError("corrupt BLOCTEL chunk")
        if sizes is not None:
            if c.bucket not in out:
                out[c.bucket] = np.empty(sizes.get(c.bucket, 0), dtype=np.uint32)
            at = filled.get(c.bucket, 0)
            if at + c.count > len(out[c.bucket]):
                raise ValueError("corrupt BLOCTEL chunks: more numbers than recorded")
            lows = out[c.bucket][at : at + c.count]
            np.cumsum(deltas, dtype=np.uint32, out=lows)
            previous = int(out[c.bucket][at - 1]) if at else None
            filled[c.bucket] = at + c.count
        else:
            lows = np.cumsum(deltas, dtype=np.uint32)
            before = parts.setdefault(c.bucket, [])
            previous = int(before[-1][-1]) if before and len(before[-1]) else None
            before.append(lows)
        del raw, deltas
        if len(lows) and int(lows[0]) != c.first:
            raise ValueError("corrupt BLOCTEL chunk")
        if previous is not None and len(lows) and int(lows[0]) <= previous:
            # look-ups binary-search the bucket: chunks out of order would hide numbers
            raise ValueError("corrupt BLOCTEL chunks: out of order")
    if sizes is not None:
        if filled != {b: n for b, n in sizes.items() if n}:
            raise ValueError("corrupt BLOCTEL chunks: fewer numbers than recorded")
        return out
    return {b: np.concatenate(p) if len(p) > 1 else p[0] for b, p in parts.items()}
