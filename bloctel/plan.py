"""The French numbering plan as a prefix table, for parsing millions of lines at once.

Calling ``phonenumbers`` once per line costs ~20 µs: 200 s for a 10-million-number list. So the
importer parses lines into digit strings with numpy (``bloctel.parse``) and validates them here,
with a table derived once per process from the check path's own parser
(``rules_fr.numbering.classify``, itself built on phonenumbers' metadata):

* a line is reduced to a *country code* and a national significant number (NSN): written
  ``0`` + 9 digits it is national (country code ``NATIONAL`` = 0, the NSN is the 9 digits);
  written ``+``/``00`` + digits it starts with a French country code (``+33``, ``+262``…) and
  the NSN is the rest;
* for each (country code, NSN length) the table maps the NSN's first ``DEPTH`` digits to a cell:
  ``EXACT``
  (ask ``classify`` for that line) or a *transform* ``(A, M)`` meaning "valid, and its E.164
  digits are ``A + value % M``" (``+33`` + the NSN for ``06…``, ``+262`` + the NSN for
  ``0692…``, the value itself for ``+33…``, and so on).

The table is derived by asking ``classify`` about sample numbers under each prefix and splitting
a prefix into its ten children whenever the samples disagree. A prefix whose samples are all
valid with one transform becomes that transform; anything else (refused samples, or still
mixed at ``DEPTH`` digits) is ``EXACT``. So the table never *refuses* a number — refusals are
always ``classify``'s own — and a line in a sparse valid block (Saint-Pierre's ``+508 41…``)
is still found. The only approximation is the other way: a prefix whose ~40 samples were all
valid could hide an invalid sub-block, whose numbers would then be accepted; such a number
can never be matched by a check (the check path refuses it as invalid), so it costs nothing.
A property test compares lines parsed both ways.

Which numbers are accepted: those ``classify`` finds valid under a French country code (+33 and
the overseas departments it knows, ``FRENCH_COUNTRY_CODES``). Everything BLOCTEL can hold is
there; a number the check path would refuse as invalid could never be matched anyway.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import phonenumbers

from rules_fr.model import NumberKind
from rules_fr.numbering import FRENCH_COUNTRY_CODES, classify_uncached

NATIONAL = 0
DEPTH = 6
#: (country code, NSN length) pairs with a table; other French forms (such as "+33 (0)6…") are
#: rare and go to ``classify`` line by line.
TABLES = ((NATIONAL, 9), (33, 9), (262, 9), (590, 9), (594, 9), (596, 9), (508, 6))
REJECT = 0
EXACT = 1

_SAMPLE_SEED = 0x5EED


def written(cc: int, nsn: str) -> str:
    return "0" + nsn if cc == NATIONAL else f"+{cc}{nsn}"


def key_of(text: str) -> int | None:
    """The E.164 digits (as an integer) of a written number, by ``classify``; None if refused."""
    info = classify_uncached(text)
    if info.kind is NumberKind.INVALID or info.kind is NumberKind.SHORT_CODE:
        return None
    if info.e164 is None or not info.e164.startswith("+"):
        return None
    cc = next((int(info.e164[1:k]) for k in (2, 3, 4) if int(info.e164[1:k]) in
               FRENCH_COUNTRY_CODES), None)
    if cc is None:
        return None
    return int(info.e164[1:])


@dataclass(frozen=True)
class Plan:
    tables: dict[tuple[int, int], np.ndarray]  # (cc, NSN length) → uint8[10**DEPTH] cell ids
    offsets: np.ndarray  # int64, transform id → A
    moduli: np.ndarray  # int64, transform id → M
    fingerprint: str


def _transform(value: int, key: int, length: int) -> tuple[int, int]:
    """The (A, M) with the largest M such that key == A + value % M."""
    for k in range(length, 0, -1):
        m = 10**k
        if key % m == value % m:
            return key - key % m, m
    return key, 1


def _samples(prefix: str, length: int) -> list[str]:
    rest = length - len(prefix)
    if rest == 0:
        return [prefix]
    rng = np.random.default_rng([_SAMPLE_SEED, int(prefix or "0"), len(prefix), length])
    out = {prefix + "0" * rest, prefix + "9" * rest}
    for j in range(min(rest, 3)):
        for d in "0123456789":
            tail = "".join(map(str, rng.integers(0, 10, rest)))
            out.add(prefix + tail[:j] + d + tail[j + 1 :])
    for _ in range(6):
        out.add(prefix + "".join(map(str, rng.integers(0, 10, rest))))
    return sorted(out)


def _derive_table(cc: int, length: int, transforms: dict[tuple[int, int], int]) -> np.ndarray:
    depth = min(DEPTH, length)
    table = np.full(10**depth, EXACT, dtype=np.uint8)

    def cell(digits: str) -> int:
        key = key_of(written(cc, digits))
        if key is None:
            return REJECT
        t = _transform(int(digits), key, length)
        if t not in transforms:
            transforms[t] = len(transforms) + 2
            if transforms[t] > 255:
                raise RuntimeError("too many numbering transforms for a uint8 table")
        return transforms[t]

    # Sampling finds sparse blocks only once it is close to them: always descend two digits.
    forced = {"", *"0123456789"}
    stack = [""]
    while stack:
        prefix = stack.pop()
        span = 10 ** (depth - len(prefix))
        start = int(prefix or "0") * span
        if prefix not in forced:
            cells = {cell(s) for s in _samples(prefix, length)}
            if len(cells) == 1 or len(prefix) == depth:
                only = cells.pop() if len(cells) == 1 else EXACT
                table[start : start + span] = EXACT if only == REJECT else only
                continue
        stack.extend(prefix + d for d in "0123456789")
    return table


def _source_digest() -> str:
    """What the table depends on: phonenumbers' metadata and our own parsing code."""
    import rules_fr.data
    import rules_fr.numbering

    h = hashlib.sha256(phonenumbers.__version__.encode())
    for module in (rules_fr.numbering, rules_fr.data):
        h.update(Path(module.__file__ or "").read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:20]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "canvassing-gateway"


@lru_cache(maxsize=1)
def plan() -> Plan:
    """The table: derived once (about 4 s), then cached on disk and shared by every import.

    The cache file is named after phonenumbers' version and the source of the parsing code, so
    an upgrade or a code change derives a new one; an unwritable cache is simply not used.
    """
    path = cache_dir() / f"numbering-plan-{_source_digest()}.npz"
    try:
        with np.load(path) as z:
            tables = {
                (int(k.split("_")[1]), int(k.split("_")[2])): z[k] for k in z.files
                if k.startswith("t_")
            }
            if set(tables) == set(TABLES):
                return _plan(tables, z["offsets"], z["moduli"])
    except (OSError, ValueError, KeyError):
        pass
    fresh = derive()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            tmp, offsets=fresh.offsets, moduli=fresh.moduli,
            **{f"t_{cc}_{n}": t for (cc, n), t in fresh.tables.items()},
        )
        os.replace(tmp, path)
    except OSError:
        pass
    return fresh


def derive() -> Plan:
    """Derive the table from ``classify`` (no cache)."""
    transforms: dict[tuple[int, int], int] = {}
    tables = {(cc, n): _derive_table(cc, n, transforms) for cc, n in TABLES}
    offsets = np.zeros(len(transforms) + 2, dtype=np.int64)
    moduli = np.ones(len(transforms) + 2, dtype=np.int64)
    for (a, m), i in transforms.items():
        offsets[i], moduli[i] = a, m
    return _plan(tables, offsets, moduli)


def _plan(tables: dict[tuple[int, int], np.ndarray], offsets: np.ndarray, moduli: np.ndarray
          ) -> Plan:
    digest = hashlib.sha256()
    for k in sorted(tables):
        digest.update(repr(k).encode())
        digest.update(tables[k].tobytes())
    digest.update(offsets.tobytes() + moduli.tobytes())
    return Plan(tables, offsets, moduli, digest.hexdigest()[:16])


def canonical_keys(keys: np.ndarray) -> np.ndarray:
    """Stored keys (E.164 digits as int64) → the keys ``classify`` gives those numbers today,
    element by element (migration 0010: "+33 2 69…" was stored as 33269…, it is 262269…).

    Vectorised through the table; ``EXACT`` cells ask ``classify``. A key ``classify`` refuses
    is kept as it is (it can never be matched, and a re-keying must not lose a number)."""
    keys = np.asarray(keys, dtype=np.int64)
    out = keys.copy()
    p = plan()
    for cc, length in TABLES:
        if cc == NATIONAL:
            continue
        base = cc * 10**length
        at = np.flatnonzero((keys >= base) & (keys < base + 10**length))
        if not len(at):
            continue
        nsn = keys[at] - base
        cells = p.tables[(cc, length)][nsn // 10 ** (length - min(DEPTH, length))]
        exact = cells <= EXACT
        moduli = p.moduli[cells]
        out[at] = np.where(exact, keys[at], p.offsets[cells] + nsn % moduli)
        for i in at[exact].tolist():
            key = key_of(f"+{int(keys[i])}")
            out[i] = key if key is not None else keys[i]
    return out
