"""Deterministic input files for ``bench.registries`` (cached under ``bench/results/``).

* ``consents-<N>.csv``: ``callee,scope,given_at,channel,evidence`` — N consents to N distinct
  mobile numbers (06 and 07 ranges that ``classify`` accepts), national or E.164 forms, given
  between 2026-08-11 and 2026-11-10, a short evidence text.
* ``prospects-<N>.csv``: ``numero,nom,ville`` — N prospect rows: 30 % numbers of the consents
  file (callable in business hours), 65 % other valid mobiles (no consent: CONSENT_REQUIRED),
  5 % invalid numbers; extra columns the scrub must carry through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
GEN_VERSION = 1
SEED = 20261121
#: NSN prefixes (first three digits) of valid metropolitan mobiles (see bench.bloctel.gen)
_PREFIXES = np.array([p for p in range(600, 690) if p != 639] + list(range(730, 800)))


def _numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 9-digit NSNs."""
    out = np.unique(rng.choice(_PREFIXES, int(n * 1.05)) * 1_000_000
                    + rng.integers(0, 1_000_000, int(n * 1.05)))
    rng.shuffle(out)
    if len(out) < n:
        raise RuntimeError("not enough distinct numbers drawn")
    return out[:n]


def _written(nsn: int, i: int) -> str:
    s = f"{nsn:09d}"
    return (f"0{s}", f"+33{s}", f"0{s[0]} {s[1:3]} {s[3:5]} {s[5:7]} {s[7:]}")[i % 3]


def files(n: int) -> tuple[Path, Path]:
    """(consents file, prospects file) for ``n`` rows each, generated if missing."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    consents = RESULTS / f"registries-consents-{n}-s{SEED}-v{GEN_VERSION}.csv"
    prospects = RESULTS / f"registries-prospects-{n}-s{SEED}-v{GEN_VERSION}.csv"
    if consents.exists() and prospects.exists():
        return consents, prospects
    rng = np.random.default_rng(SEED + n)
    nsn = _numbers(rng, n + n)  # the first n consented, the rest free for prospects
    minutes = rng.integers(0, 91 * 24 * 60, n)
    tmp = consents.with_suffix(".tmp")
    with tmp.open("w") as f:
        f.write("callee,scope,given_at,channel,evidence\n")
        for i, (number, m) in enumerate(zip(nsn[:n].tolist(), minutes.tolist(), strict=True)):
            day, minute = divmod(m, 24 * 60)
            given = np.datetime64("2026-08-11T00:00") + np.timedelta64(m, "m")
            f.write(f"{_written(number, i)},canvassing,{given}:00+00:00,web_form,"
                    f"opt-in form v3 day {day} minute {minute} ip 203.0.113.{i % 250}\n")
    tmp.replace(consents)
    kind = rng.random(n)
    consented = rng.integers(0, n, n)
    tmp = prospects.with_suffix(".tmp")
    with tmp.open("w") as f:
        f.write("numero,nom,ville\n")
        for i in range(n):
            if kind[i] < 0.30:
                number = _written(int(nsn[consented[i]]), i + 1)
            elif kind[i] < 0.95:
                number = _written(int(nsn[n + i]), i)
            else:
                number = ("06 12 34", "not a number", "+44 20 7946 0958", "33612345678")[i % 4]
            f.write(f"{number},Client {i},Ville {i % 500}\n")
    tmp.replace(prospects)
    return consents, prospects
