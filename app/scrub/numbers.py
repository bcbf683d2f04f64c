"""Normalising prospect numbers at file speed.

``rules_fr.numbering.classify`` costs ~20–120 µs per new number (phonenumbers' parsing and
pattern matching, several regions tried for overseas ranges): more than the whole budget of a
scrubbed row. But what it says about a French number written nationally (``0`` + 9 digits) or
as ``+33``/``0033`` + 9 digits is a function of its first few digits: the kind, the region and
zone, and how the E.164 form is written (``+33`` + NSN, or ``+262`` + NSN for ``0692…``).

So ``Normaliser`` keeps *templates*, one per prefix of the national significant number (NSN):
the first number seen under a 4-digit prefix is classified together with ``SAMPLES`` other
numbers spread under that prefix; if they all agree (valid, same kind, region, zone and E.164
head) and the region is metropolitan France, every later number under the prefix is answered
from the template. Otherwise (overseas ranges are split finer: 0590 87 is Saint-Barthelemy
inside Guadeloupe's 0590) the prefix is split into 6-digit prefixes, sampled the same way;
a 6-digit prefix whose samples still disagree — or any other form (``+262…``, ``+33 (0)6…``,
short codes, ``08…`` special services, garbage) — is classified number by number (memoised
within the file).

This is the sampling approximation ``bloctel.plan`` documents for BLOCTEL imports: a prefix whose
samples were all valid could hide an invalid sub-block, whose numbers would then be annotated as
valid. The templates are a pure function of phonenumbers' metadata and of the parsing code, so
they are kept for the life of the process (bounded) and on disk next to ``bloctel.plan``'s table
(a cold process would otherwise spend seconds deriving them again).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
from dataclasses import astuple, dataclass
from pathlib import Path

import phonenumbers

from rules_fr.model import NumberInfo, NumberKind
from rules_fr.numbering import classify_uncached

SAMPLES = 6
_TEMPLATE_LIMIT = 500_000
_MEMO_LIMIT = 200_000
_FAST_TEXT = re.compile(r"^\+?[0-9 .\-/\u00a0\u202f\t]+$")
_NOT_DIGIT = re.compile(r"\D")
_DEEP = object()  # a 4-digit prefix whose samples disagree: look at 6 digits
_SLOW = object()  # a prefix whose samples disagree (or are invalid): classify each number


@dataclass(frozen=True, slots=True)
class _Template:
    head: str  # E.164 = head + nsn[cut:]
    cut: int
    kind: NumberKind
    region: str | None
    time_zone: str | None


_templates: dict[tuple[str, str], object] = {}
_rng = random.Random(0x5C2B)
_disk_lock = threading.Lock()
_disk = {"loaded": False, "saved": 0}
_MARKS = {"deep": _DEEP, "slow": _SLOW}


def _cache_path() -> Path:
    import rules_fr.data
    import rules_fr.numbering
    from bloctel.plan import cache_dir

    h = hashlib.sha256(phonenumbers.__version__.encode())
    for module in (rules_fr.numbering, rules_fr.data):
        h.update(Path(module.__file__ or "").read_bytes())
    h.update(Path(__file__).read_bytes())
    return cache_dir() / f"scrub-templates-{h.hexdigest()[:20]}.json"


def load_templates() -> None:
    """The templates derived by earlier processes (once per process; a bad file is ignored)."""
    with _disk_lock:
        if _disk["loaded"]:
            return
        _disk["loaded"] = True
        try:
            stored = json.loads(_cache_path().read_text())
            for key, value in stored.items():
                form, _, prefix = key.partition("|")
                if isinstance(value, str):
                    _templates.setdefault((form, prefix), _MARKS[value])
                else:
                    head, cut, kind, region, zone = value
                    _templates.setdefault(
                        (form, prefix), _Template(head, cut, NumberKind(kind), region, zone))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        _disk["saved"] = len(_templates)


def save_templates() -> None:
    """Keep the templates for the next process, if this one derived new ones."""
    with _disk_lock:
        if len(_templates) <= _disk["saved"]:
            return
        out: dict[str, object] = {}
        for (form, prefix), value in list(_templates.items()):
            if isinstance(value, _Template):
                head, cut, kind, region, zone = astuple(value)
                out[f"{form}|{prefix}"] = [head, cut, kind.value, region, zone]
            else:
                out[f"{form}|{prefix}"] = "deep" if value is _DEEP else "slow"
        try:
            path = _cache_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(out))
            os.replace(tmp, path)
        except OSError:
            return
        _disk["saved"] = len(out)


def _written(form: str, nsn: str) -> str:
    return ("0" if form == "0" else "+33") + nsn


def _template_of(form: str, nsn: str, info: NumberInfo) -> _Template | None:
    if not info.valid or not info.e164:
        return None
    for cut in range(0, 5):
        tail = nsn[cut:]
        if info.e164.endswith(tail):
            head = info.e164[: len(info.e164) - len(tail)]
            return _Template(head, cut, info.kind, info.region, info.time_zone)
    return None


def _derive(form: str, prefix: str, nsn: str) -> object:
    """The template shared by every number under ``prefix`` (checked on samples), else _SLOW."""
    free = 9 - len(prefix)
    candidates = [nsn] + [
        prefix + f"{_rng.randrange(10 ** free):0{free}d}" for _ in range(SAMPLES)
    ]
    candidates += [prefix + "0" * free, prefix + "9" * free]
    first: _Template | None = None
    for c in candidates:
        t = _template_of(form, c, classify_uncached(_written(form, c)))
        if t is None or (first is not None and t != first):
            return _SLOW
        first = first or t
    return first if first is not None else _SLOW


def _lookup(form: str, nsn: str) -> _Template | None:
    key4 = (form, nsn[:4])
    t = _templates.get(key4)
    if t is None:
        t = _derive(form, nsn[:4], nsn)
        # overseas territories split finer than 4 digits (0590 87: Saint-Barthelemy in
        # Guadeloupe's range), and their region decides the holidays
        t = _DEEP if t is _SLOW or (isinstance(t, _Template) and t.region != "FR") else t
        _remember(key4, t)
    if t is _DEEP:
        key6 = (form, nsn[:6])
        t = _templates.get(key6)
        if t is None:
            t = _derive(form, nsn[:6], nsn)
            _remember(key6, t)
    return t if isinstance(t, _Template) else None


def _remember(key: tuple[str, str], value: object) -> None:
    if len(_templates) >= _TEMPLATE_LIMIT:
        _templates.clear()
    _templates[key] = value


def _fast_parts(text: str) -> tuple[str, str] | None:
    """(form, NSN) for ``0`` + 9 digits or ``+33``/``0033`` + 9 digits outside 08; else None."""
    if not _FAST_TEXT.match(text):
        return None
    digits = _NOT_DIGIT.sub("", text)
    if text[0] == "+":
        if len(digits) != 11 or not digits.startswith("33"):
            return None
        nsn = digits[2:]
    elif len(digits) == 10 and digits[0] == "0" and digits[1] != "0":
        return ("0", digits[1:]) if digits[1] != "8" else None
    elif len(digits) == 13 and digits.startswith("0033"):
        nsn = digits[4:]
    else:
        return None
    if nsn[0] in "08":  # +33 0…: classify's own reading; 08: special services, finer ranges
        return None
    return "+33", nsn


class Normaliser:
    """``classify`` for a file's numbers: templates by prefix, a memo for the rest."""

    def __init__(self) -> None:
        load_templates()
        self._memo: dict[str, NumberInfo] = {}
        self.classified = 0  # numbers sent to classify (memo misses), for benchmarks

    def __call__(self, raw: str) -> NumberInfo:
        text = raw.strip()
        parts = _fast_parts(text) if text else None
        if parts is not None:
            form, nsn = parts
            t = _lookup(form, nsn)
            if t is not None:
                return NumberInfo(raw, t.head + nsn[t.cut:], t.kind, t.region, t.time_zone)
        info = self._memo.get(raw)
        if info is None:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            info = self._memo[raw] = classify_uncached(raw)
            self.classified += 1
        return info
