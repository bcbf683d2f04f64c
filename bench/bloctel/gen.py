"""A deterministic BLOCTEL-like file: N lines, mixed formats, 1 % duplicates, 0.1 % garbage.

    python -m bench.bloctel.gen [--numbers N] [--seed S]     (also run by ``bench.bloctel``)

The file is cached under ``bench/results/`` (git-ignored) with a JSON sidecar holding what it
should import to (unique numbers, duplicates, rejected lines) and a sample of listed numbers
for the check benchmark; it is regenerated when either is missing or the generator changed.

Numbers are drawn with numpy from ranges that ``rules_fr.numbering.classify`` accepts (checked
range by range, then on a sample of the written lines — see ``verify``):

* mobiles 06 (60–68, not 0639: Mayotte) and 07 (73–79; 070–072 are not allocated);
* a few fixed lines 01–05 (not 040, nor the overseas 0262/0263/0269/0508/059x blocks) and 09
  (not 0939/0947/0976, overseas);
* overseas mobiles: +262 692 (Réunion), +590 690 (Guadeloupe), +596 696/697 (Martinique),
  written nationally (``0692 12 34 56``) or internationally (``+262 692 12 34 56``).

Metropolitan numbers are written ``0612345678``, ``06 12 34 56 78``, ``06.12.34.56.78``,
``06-12-34-56-78``, ``+33 6 12 34 56 78``, ``+33612345678`` or ``0033612345678``. A duplicate
repeats an earlier number, usually in another form. Garbage lines: letters, short numbers,
foreign numbers and a few numbers outside the French plan (``07 01…``, ``+33 6 92…``).

Rendering is vectorised: each line is a row of a byte matrix filled from a per-format
template, padding bytes are dropped at the end (no per-line Python loop, ~1 s per million).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
GEN_VERSION = 1  # bump when the output changes: cached files are regenerated
DEFAULT_NUMBERS = 10_000_000
DEFAULT_SEED = 20261120
DUPLICATE_SHARE = 0.01
GARBAGE_SHARE = 0.001
WIDTH = 24  # bytes per rendered row, newline included (longest form is 18)
CHUNK_LINES = 1_000_000
LISTED_SAMPLE = 4_000  # +33 numbers of the list handed to the check benchmark


def _r(a: int, b: int) -> list[int]:
    return list(range(a, b + 1))


@dataclass(frozen=True)
class Category:
    name: str
    cc: int  # country code of the key
    prefixes: tuple[int, ...]  # first 3 digits of the 9-digit NSN
    share: float


CATEGORIES = (
    Category("mobile 06", 33, tuple(p for p in _r(600, 689) if p != 639), 0.55),
    Category("mobile 07", 33, tuple(_r(730, 799)), 0.25),
    Category("fixed 01-05", 33, tuple(
        _r(100, 259) + [260, 261, 264, 265, 266, 267] + _r(270, 399) + _r(410, 507)
        + _r(509, 589)), 0.12),
    Category("09", 33, tuple(_r(900, 929) + _r(950, 959) + _r(980, 999)), 0.03),
    Category("overseas +262 692", 262, (692,), 0.02),
    Category("overseas +590 690", 590, (690,), 0.015),
    Category("overseas +596 696/697", 596, (696, 697), 0.015),
)

# Templates: "D" takes the next digit of the 9-digit NSN; "C" the country code's digits.
METRO_FORMATS = (
    ("0DDDDDDDDD", 0.40), ("0D DD DD DD DD", 0.20), ("0D.DD.DD.DD.DD", 0.08),
    ("0D-DD-DD-DD-DD", 0.02), ("+33 D DD DD DD DD", 0.10), ("+33DDDDDDDDD", 0.15),
    ("0033DDDDDDDDD", 0.05),
)
OVERSEAS_FORMATS = (
    ("0DDD DD DD DD", 0.35), ("0DDDDDDDDD", 0.25), ("+CCC DDD DD DD DD", 0.20),
    ("+CCCDDDDDDDDD", 0.15), ("00CCCDDDDDDDDD", 0.05),
)
_POW9 = 10 ** np.arange(8, -1, -1, dtype=np.int64)


def paths(numbers: int, seed: int) -> tuple[Path, Path]:
    stem = f"bloctel-input-{numbers}-s{seed}-v{GEN_VERSION}"
    return RESULTS / f"{stem}.txt", RESULTS / f"{stem}.json"


def _garbage(rng: random.Random) -> str:
    """One line the importer must reject (letters, short, foreign, outside the plan)."""
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    kind = rng.randrange(4)
    if kind == 0:  # letters
        return rng.choice([
            f"06 {d(2)} AB {d(2)} {d(2)}", f"0{rng.choice('67')}{d(7)}x", "N/A", "inconnu",
            "téléphone", f"tel:{d(4)}", "#VALUE!", f"0{d(1)}O{d(7)}",
        ])
    if kind == 1:  # short
        return rng.choice([f"06 {d(2)} {d(2)}", f"06{d(7)}", "3949", d(5), f"+33 6 {d(2)}",
                           f"06 {d(2)} {d(2)} {d(2)} {d(2)} {d(2)}"])
    if kind == 2:  # foreign
        return rng.choice([f"+44 20 7946 {d(4)}", f"+1 212 555 {d(4)}", f"0049 30 {d(7)}",
                           f"+32 2 555 {d(2)} {d(2)}", f"+41 44 668 {d(2)} {d(2)}"])
    return rng.choice([f"07 0{rng.choice('012')} {d(2)} {d(2)} {d(2)}",  # 070-072: unallocated
                       f"+33 6 9{rng.choice('1234')} {d(2)} {d(2)} {d(2)}",  # +33 69x
                       f"04 0{d(1)} {d(2)} {d(2)} {d(2)}"])


def _template(tpl: str, cc: int) -> tuple[np.ndarray, np.ndarray]:
    text = tpl.replace("CCC", str(cc))
    raw = np.frombuffer(text.encode(), dtype=np.uint8).copy()
    slots = np.flatnonzero(raw == ord("D"))
    assert len(slots) == 9, tpl
    return raw, slots


def _draw_unique(rng: np.random.Generator, n_unique: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_unique`` distinct keys in random order, and each one's category index."""
    shares = np.array([c.share for c in CATEGORIES])
    want = rng.multinomial(n_unique, shares / shares.sum())
    keys, cats = [], []
    for i, (cat, m) in enumerate(zip(CATEGORIES, want, strict=True)):
        prefixes = np.array(cat.prefixes, dtype=np.int64)
        got = np.zeros(0, dtype=np.int64)
        while len(got) < m:  # draw a little more than needed, drop collisions
            extra = int((m - len(got)) * 1.05) + 16
            nsn = prefixes[rng.integers(len(prefixes), size=extra)] * 1_000_000 + rng.integers(
                1_000_000, size=extra)
            got = np.unique(np.concatenate([got, cat.cc * 1_000_000_000 + nsn]))
        keys.append(rng.permutation(got)[:m])
        cats.append(np.full(m, i, dtype=np.int8))
    all_keys = np.concatenate(keys)
    all_cats = np.concatenate(cats)
    order = rng.permutation(len(all_keys))
    return all_keys[order], all_cats[order]


def generate(numbers: int, seed: int, path: Path, meta_path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    n_garbage = int(round(numbers * GARBAGE_SHARE))
    n_dup = int(round(numbers * DUPLICATE_SHARE))
    n_unique = numbers - n_garbage - n_dup
    uniq, cat_of = _draw_unique(rng, n_unique)
    dup_src = rng.integers(n_unique, size=n_dup)
    line_key = np.concatenate([uniq, uniq[dup_src], np.full(n_garbage, -1, dtype=np.int64)])
    line_cat = np.concatenate([cat_of, cat_of[dup_src], np.full(n_garbage, -1, dtype=np.int8)])
    order = rng.permutation(numbers)
    line_key, line_cat = line_key[order], line_cat[order]
    # the first lines decide the layout (a line with letters there would read as a header)
    head = np.flatnonzero(line_key[:100] < 0)
    if len(head):
        swap = np.flatnonzero(line_key[100:] >= 0)[: len(head)] + 100
        line_key[head], line_key[swap] = line_key[swap], line_key[head].copy()
        line_cat[head], line_cat[swap] = line_cat[swap], line_cat[head].copy()
    overseas = np.array([c.cc != 33 for c in CATEGORIES])
    is_overseas = np.zeros(numbers, dtype=bool)
    valid = line_key >= 0
    is_overseas[valid] = overseas[line_cat[valid]]
    mw = np.array([w for _, w in METRO_FORMATS])
    ow = np.array([w for _, w in OVERSEAS_FORMATS])
    fmt = np.where(is_overseas, rng.choice(len(ow), size=numbers, p=ow / ow.sum()),
                   rng.choice(len(mw), size=numbers, p=mw / mw.sum())).astype(np.int8)
    fmt[~valid] = -1

    templates: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for i, (tpl, _) in enumerate(METRO_FORMATS):
        templates[(33, i)] = _template(tpl, 33)
    for cc in sorted({c.cc for c in CATEGORIES if c.cc != 33}):
        for i, (tpl, _) in enumerate(OVERSEAS_FORMATS):
            templates[(cc, i)] = _template(tpl, cc)

    samples: list[dict[str, Any]] = []
    format_counts: dict[str, int] = {}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        for start in range(0, numbers, CHUNK_LINES):
            stop = min(numbers, start + CHUNK_LINES)
            keys = line_key[start:stop]
            m = np.zeros((stop - start, WIDTH), dtype=np.uint8)
            cc = np.where(keys >= 0, keys // 1_000_000_000, -1)
            nsn = keys % 1_000_000_000
            f = fmt[start:stop]
            for (t_cc, t_fmt), (raw, slots) in templates.items():
                rows = np.flatnonzero((cc == t_cc) & (f == t_fmt))
                if not len(rows):
                    continue
                name = (METRO_FORMATS if t_cc == 33 else OVERSEAS_FORMATS)[t_fmt][0]
                format_counts[name] = format_counts.get(name, 0) + len(rows)
                block = np.broadcast_to(raw, (len(rows), len(raw))).copy()
                block[:, slots] = ((nsn[rows, None] // _POW9) % 10 + 48).astype(np.uint8)
                m[rows, : len(raw)] = block
                m[rows, len(raw)] = 10
            junk = np.flatnonzero(keys < 0)
            for r in junk.tolist():
                text = _garbage(prng).encode()[: WIDTH - 1]
                m[r, : len(text)] = np.frombuffer(text, dtype=np.uint8)
                m[r, len(text)] = 10
            picked = rng.choice(len(keys), size=min(len(keys), 400), replace=False)
            for r in np.union1d(picked, junk[:100]).tolist():  # every kind of line
                row = m[r].tobytes()
                samples.append({"text": row[: row.index(b"\n")].decode(), "key": int(keys[r])})
            flat = m.ravel()
            out.write(flat[flat != 0].tobytes())
    os.replace(tmp, path)
    gen_s = time.perf_counter() - t0
    metro = uniq[(uniq // 1_000_000_000) == 33]
    listed = rng.choice(metro, size=min(LISTED_SAMPLE, len(metro)), replace=False)
    meta = {
        "generator_version": GEN_VERSION, "numbers": numbers, "seed": seed,
        "file": str(path.relative_to(ROOT)), "bytes": path.stat().st_size,
        "expected": {"lines": numbers, "accepted": n_unique, "duplicates": n_dup,
                     "rejected": n_garbage},
        "categories": {c.name: int((cat_of == i).sum()) for i, c in enumerate(CATEGORIES)},
        "formats": dict(sorted(format_counts.items(), key=lambda kv: -kv[1])),
        "generate_s": round(gen_s, 2),
        "verify": verify(samples),
        "listed_sample_e164": [f"+{k}" for k in sorted(listed.tolist())],
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def verify(samples: list[dict[str, Any]], per_prefix: int = 4) -> dict[str, Any]:
    """Check the generator against ``rules_fr.numbering.classify``: a few numbers of every
    range (written nationally and with the country code), then a sample of written lines
    (valid ones must give their key, garbage must be refused)."""
    from rules_fr.model import NumberKind
    from rules_fr.numbering import FRENCH_COUNTRY_CODES, classify_uncached

    def key_of(text: str) -> int | None:
        info = classify_uncached(text)
        if info.kind in (NumberKind.INVALID, NumberKind.SHORT_CODE) or not info.e164:
            return None
        digits = info.e164.lstrip("+")
        if not any(digits.startswith(str(cc)) for cc in FRENCH_COUNTRY_CODES):
            return None
        return int(digits)

    rng = random.Random(7)
    bad_ranges: list[str] = []
    checked = 0
    for cat in CATEGORIES:
        for p in cat.prefixes:
            for _ in range(per_prefix):
                nsn = p * 1_000_000 + rng.randrange(1_000_000)
                want = cat.cc * 1_000_000_000 + nsn
                for text in (f"0{nsn}", f"+{cat.cc}{nsn}"):
                    checked += 1
                    if key_of(text) != want:
                        bad_ranges.append(text)
    wrong: list[dict[str, Any]] = []
    for s in samples:
        got = key_of(s["text"])
        want = s["key"] if s["key"] >= 0 else None
        if got != want:
            wrong.append({**s, "classify": got})
    return {"ranges_checked": checked, "ranges_wrong": bad_ranges[:20],
            "ranges_wrong_count": len(bad_ranges), "lines_checked": len(samples),
            "lines_wrong": wrong[:20], "lines_wrong_count": len(wrong),
            "ok": not bad_ranges and not wrong}


def ensure(numbers: int = DEFAULT_NUMBERS, seed: int = DEFAULT_SEED,
           log: Any = None) -> tuple[Path, dict[str, Any], bool]:
    """(file, meta, cached): the cached file if it is there and complete, else a new one."""
    path, meta_path = paths(numbers, seed)
    if path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if (meta.get("generator_version") == GEN_VERSION
                    and meta.get("bytes") == path.stat().st_size):
                return path, meta, True
        except (OSError, ValueError):
            pass
    if log:
        log(f"generating {numbers:,} lines into {path.relative_to(ROOT)} …")
    return path, generate(numbers, seed, path, meta_path), False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bloctel.gen")
    ap.add_argument("--numbers", type=int, default=DEFAULT_NUMBERS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    path, meta, cached = ensure(args.numbers, args.seed, log=print)
    shown = {k: v for k, v in meta.items() if k != "listed_sample_e164"}
    print(json.dumps({"path": str(path), "cached": cached, **shown}, indent=1))
    return 0 if meta["verify"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
