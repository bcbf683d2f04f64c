"""Stream a BLOCTEL file into E.164 keys, a few megabytes at a time, with numpy.

``Reader`` turns the uploaded bytes into text blocks: it hashes the bytes as uploaded, detects
gzip by its magic number (not by the name), drops a UTF-8 byte-order mark, transcodes UTF-16,
and cuts blocks at line ends. ``sniff`` looks at the first lines once: the delimiter (``;``,
``,``, tab or ``|``), whether the first line is a header, and which column holds the numbers.
``BlockParser`` then parses whole blocks with array operations:

1. every byte is classed (digit, ``+``, separator, newline, other) through one lookup table;
   in a CSV only the bytes of the number column count (delimiters inside quotes do not split);
2. per line: how many digits, where ``+`` stands, whether anything else is there;
3. the digits of lines with the same digit count are gathered into a matrix and turned into
   integers by one matrix product; a national ``0`` + 9 digits or a ``+``/``00`` + French
   country code gives a (country code, NSN) pair;
4. ``bloctel.plan`` maps the pair to its E.164 key; the rare lines the table is not sure of
   are parsed by ``classify`` itself, from the line's own text.

Every line ends up counted once: header, blank, accepted (a key), or rejected with its line
number, text and reason. Duplicates are found later, over the whole file (``bloctel.read``).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from bloctel import plan as numbering_plan
from rules_fr.numbering import FRENCH_COUNTRY_CODES

BLOCK = 2 << 20
MAX_LINE = 64 << 10
SAMPLES = 100
MAX_VALUE_CHARS = 100
DELIMITERS = (b";", b",", b"\t", b"|")
#: Header names that designate the number column (lower case, accents removed).
NUMBER_COLUMN = re.compile(r"tel|phone|num|mobile|portable|msisdn|e164|ligne|fixe|gsm")

# Byte classes. ``MAYBE``: bytes of characters ``str.strip`` removes (vertical tab, form feed,
# U+2009, U+3000…) and any other non-ASCII byte; ``classify`` accepts a number with such a
# character at either end, so a line whose only odd bytes are these is asked to ``classify``.
SEP, DIGIT, PLUS, NEWLINE, OTHER, MAYBE = 0, 1, 2, 3, 4, 5
_CLASS = np.full(256, OTHER, dtype=np.uint8)
_CLASS[0x80:] = MAYBE
for _c in b"\x0b\x0c\x1c\x1d\x1e\x1f":
    _CLASS[_c] = MAYBE
_CLASS[ord("0") : ord("9") + 1] = DIGIT
_CLASS[ord("+")] = PLUS
_CLASS[ord("\n")] = NEWLINE
# Separators a number may be written with (as ``classify`` allows), the CR of CRLF, CSV quotes,
# and the bytes of UTF-8 no-break spaces (U+00A0 = C2 A0, U+202F = E2 80 AF).
for _c in b" \t\r.-/()\"\xc2\xa0\xe2\x80\xaf":
    _CLASS[_c] = SEP

_POW10 = 10 ** np.arange(19, dtype=np.int64)
_FRENCH_CC = np.array(sorted(FRENCH_COUNTRY_CODES), dtype=np.int64)

# Reasons a line is refused (the ``error`` of a rejected sample).
R_CHARS = "unexpected characters (a number has digits, spaces, . - / ( ) and a leading +)"
R_PLUS = "'+' must come before the digits"
R_EMPTY = "no number"
R_NATIONAL_LENGTH = "a national number has 10 digits (0 and 9 more)"
R_NO_PREFIX = "neither a national number (0…) nor an international one (+… or 00…)"
R_FOREIGN = "not a French number (country code)"
R_PLAN = "not a valid number in the French numbering plan"
R_QUOTES = "quotes that do not enclose whole fields"
R_COLUMN = "no value in the number column"


class FormatError(ValueError):
    """The file cannot be read at all (not text, broken gzip…)."""


class TooLarge(FormatError):
    """The file, once decompressed, is larger than the reader's ``max_bytes`` (a gzip bomb, or
    just too big)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit:,} bytes once decompressed")
        self.limit = limit


# --------------------------------------------------------------------------- reading


class Reader:
    """Decoded text blocks (bytes, UTF-8) that end at a line end, from an uploaded stream."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None = None,
                 max_bytes: int | None = None):
        self._raw = raw
        self.max_bytes = max_bytes  # of text once decompressed: more raises ``TooLarge``
        self.decoded_bytes = 0
        self.sha = hashlib.sha256()
        self.bytes_read = 0
        self.gzip = False
        self.encoding = "utf-8"
        self.line_ends = "LF"  # or "CR" (old Mac); CRLF reads as LF
        self._on_bytes = on_bytes

    def _read_raw(self, n: int) -> bytes:
        data = self._raw.read(n)
        if data:
            self.sha.update(data)
            self.bytes_read += len(data)
            if self._on_bytes is not None:
                self._on_bytes(len(data))
        return data

    def _decoded(self) -> Iterator[bytes]:
        head = self._read_raw(2)
        rest = _Prefixed(head, self._read_raw)
        stream: Any = rest
        if head[:2] == b"\x1f\x8b":
            self.gzip = True
            stream = gzip.GzipFile(fileobj=rest)
        first = _read(stream, BLOCK)
        decoder = None
        if first.startswith(codecs.BOM_UTF8):
            first = first[3:] or _read(stream, BLOCK)  # the BOM may be all the first read
            self.encoding = "utf-8-sig"
        elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.encoding = "utf-16"
            decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        data = first
        limit = self.max_bytes
        while data:
            self.decoded_bytes += len(data)
            if limit is not None and self.decoded_bytes > limit:
                raise TooLarge(limit)
            yield decoder.decode(data).encode("utf-8") if decoder else data
            data = _read(stream, BLOCK)
        if decoder:
            yield decoder.decode(b"", final=True).encode("utf-8")

    def blocks(self) -> Iterator[bytes]:
        """Blocks of whole lines; the last one gets a final newline if the file lacked it.

        A file whose lines end with a bare CR (old Mac, some spreadsheet exports) is read as
        such. A "line" longer than ``MAX_LINE`` means this is not a list of numbers: the file
        is refused rather than held whole in memory.
        """
        carry = b""
        cr_only: bool | None = None
        try:
            for data in self._decoded():
                if cr_only is None:
                    carry, data = b"", carry + data
                    cr_only = _cr_only(data, final=False)
                    if cr_only is None:  # not enough of the file seen to tell
                        carry, data = data, b""
                    elif cr_only:
                        self.line_ends = "CR"
                if cr_only:
                    data = data.replace(b"\r", b"\n")
                data = carry + data
                cut = data.rfind(b"\n") + 1
                if cut:
                    yield data[:cut]
                carry = data[cut:]
                if len(carry) > MAX_LINE:
                    raise FormatError(
                        f"a line of more than {MAX_LINE // 1024} KB: this is not a list of "
                        "telephone numbers")
            if cr_only is None and _cr_only(carry, final=True):  # a short CR-only file
                self.line_ends = "CR"
                carry = carry.replace(b"\r", b"\n")
                cut = carry.rfind(b"\n") + 1
                if cut:
                    yield carry[:cut]
                carry = carry[cut:]
        except (OSError, EOFError, zlib.error, UnicodeError) as e:  # BadGzipFile is an OSError
            raise FormatError(f"cannot read the file: {e}") from e
        if carry:
            yield carry + b"\n"


def _cr_only(head: bytes, final: bool) -> bool | None:
    """Whether a file's lines end with a bare CR (old Mac): no LF in its first ``MAX_LINE``
    bytes but a CR. None while ``head`` is shorter than that and the file goes on (the answer
    must not depend on how the file was cut into reads)."""
    window = head[:MAX_LINE]
    if b"\n" in window:
        return False
    if len(head) >= MAX_LINE or final:
        return b"\r" in window
    return None


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, read: Callable[[int], bytes]):
        self._head = head
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read(stream: Any, n: int) -> bytes:
    chunks, size = [], 0
    while size < n:
        data = stream.read(n - size)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    delimiter: bytes | None = None
    column: int = 0
    column_name: str | None = None
    header: bool = False

    def describe(self) -> str:
        if self.delimiter is None:
            return "one number per line" + (" after a header" if self.header else "")
        sep = {b";": "semicolon", b",": "comma", b"\t": "tab", b"|": "pipe"}[self.delimiter]
        name = f" '{self.column_name}'" if self.column_name else ""
        return f"{sep}-separated, numbers in column {self.column + 1}{name}"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower().strip().strip('"')


def _fields(line: str, delimiter: bytes | None) -> list[str]:
    if delimiter is None:
        return [line]
    for text in (line, line.replace("\r", " ")):  # csv refuses a CR in an unquoted field
        try:
            return next(csv.reader([text], delimiter=delimiter.decode()), [""])
        except csv.Error:
            continue
    return []  # a field over csv's size limit: no field can be trusted


def sniff(first_block: bytes) -> Layout:
    """The layout of a file, from its first lines."""
    from bloctel.plan import key_of

    lines = [
        ln for ln in first_block[:1 << 16].decode("utf-8", "replace").splitlines() if ln.strip()
    ][:50]
    if not lines:
        return Layout()
    delimiter = None
    best = 0
    for d in DELIMITERS:
        counts = {ln.count(d.decode()) for ln in lines[:20]}
        if len(counts) == 1 and (n := counts.pop()) > best:
            delimiter, best = d, n
    if delimiter is None:
        # a delimiter that only the header or a few lines have still makes a CSV
        for d in DELIMITERS:
            if d.decode() in lines[0] and any(c.isalpha() for c in lines[0]):
                delimiter = d
                break
    first = _fields(lines[0], delimiter)
    # A first line with letters and no number is a header — in a one-column file only if it
    # names the column ("numero", "telephone"…): otherwise it is a rejected line like the rest.
    header = (
        any(c.isalpha() for c in lines[0])
        and not any(key_of(f.strip()) for f in first)
        and (delimiter is not None or NUMBER_COLUMN.search(_fold(lines[0])) is not None)
    )
    data = lines[1:] if header else lines
    width = max((len(_fields(ln, delimiter)) for ln in data), default=len(first))
    width = max(width, len(first))

    def parsed(col: int) -> int:
        ok = 0
        for ln in data[:30]:
            f = _fields(ln, delimiter)
            ok += col < len(f) and key_of(f[col].strip()) is not None
        return ok

    named = [i for i, f in enumerate(first) if header and NUMBER_COLUMN.search(_fold(f))]
    candidates = named or list(range(width))
    column = max(candidates, key=lambda c: (parsed(c), -candidates.index(c)))
    name = first[column].strip().strip('"') if header and column < len(first) else None
    return Layout(delimiter=delimiter, column=column, column_name=name, header=header)


# --------------------------------------------------------------------------- parsing


@dataclass
class Tally:
    lines: int = 0
    header: int = 0
    blank: int = 0
    valid: int = 0  # accepted + duplicates (duplicates are known at the end)
    rejected: int = 0
    exact: int = 0  # lines the table sent to ``classify``
    rejected_samples: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)


class BlockParser:
    def __init__(self, layout: Layout, plan: numbering_plan.Plan | None = None):
        self.layout = layout
        self.plan = plan or numbering_plan.plan()
        self.tally = Tally()
        self._header_pending = layout.header

    # -- helpers -------------------------------------------------------------

    def _reject(self, block: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
                reasons: list[str], first_line: int) -> None:
        t = self.tally
        t.rejected += len(lines)
        for r in set(reasons):
            t.reasons[r] = t.reasons.get(r, 0) + reasons.count(r)
        room = SAMPLES - len(t.rejected_samples)
        for i, reason in list(zip(lines.tolist(), reasons, strict=True))[:max(room, 0)]:
            text = block[starts[i] : ends[i]].decode("utf-8", "replace").rstrip("\r")
            t.rejected_samples.append(
                {"line": first_line + i, "value": text[:MAX_VALUE_CHARS], "error": reason}
            )

    def _field_text(self, line: bytes) -> str:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        fields = _fields(text, self.layout.delimiter)
        col = self.layout.column
        return fields[col].strip() if col < len(fields) else ""

    # -- the work --------------------------------------------------------------

    def parse(self, block: bytes, first_line: int) -> np.ndarray:
        """Keys (int64 E.164 digits) of the valid lines of ``block``, in file order."""
        keys, ok, _ = self._parse(block, first_line)
        return keys[ok]

    def parse_lines(self, block: bytes, first_line: int) -> tuple[np.ndarray, dict[int, str]]:
        """Every line's key (-1 where none: blank or rejected) and {line index: reason} of the
        rejected lines — for callers that keep other data beside each number (bulk imports)."""
        keys, ok, reasons = self._parse(block, first_line)
        return np.where(ok, keys, -1), reasons

    def _parse(
        self, block: bytes, first_line: int
    ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        a = np.frombuffer(block, dtype=np.uint8)
        nl = np.flatnonzero(a == 10)
        n_lines = len(nl)
        starts = np.empty(n_lines, dtype=np.int64)
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
        self.tally.lines += n_lines

        cls = _CLASS[a]
        if self.layout.delimiter is not None:
            in_field, quote_doubt, missing = self._column_mask(a, nl, starts)
            cls = np.where(in_field, cls, SEP)
        else:
            quote_doubt = missing = None
        is_digit = cls == DIGIT
        n_digits = np.add.reduceat(is_digit, starts, dtype=np.int64)
        n_plus = np.add.reduceat(cls == PLUS, starts, dtype=np.int64)
        n_other = np.add.reduceat(cls == OTHER, starts, dtype=np.int64)
        # only spaces str.strip removes, or non-ASCII: classify decides (after the rest)
        char_doubt = (n_other == 0) & (np.add.reduceat(cls == MAYBE, starts, dtype=np.int64) > 0)
        non_blank_line = np.add.reduceat(a > 32, starts, dtype=np.int64) > 0

        skip = np.zeros(n_lines, dtype=bool)  # header and blank lines: not numbers
        if self._header_pending:
            first_content = np.flatnonzero(non_blank_line)
            if len(first_content):
                skip[first_content[0]] = True
                self.tally.header += 1
                self._header_pending = False
        blank = ~non_blank_line & ~skip
        self.tally.blank += int(blank.sum())
        skip |= blank

        reason = np.zeros(n_lines, dtype=np.uint8)  # 0: fine so far
        codes = [None, R_CHARS, R_PLUS, R_EMPTY, R_NATIONAL_LENGTH, R_NO_PREFIX, R_FOREIGN,
                 R_PLAN, R_QUOTES, R_COLUMN]
        reason[(n_digits == 0)] = 3
        reason[n_plus > 1] = 2
        reason[n_other > 0] = 1
        if missing is not None:
            reason[missing] = 9

        # '+' must precede every digit of its line
        plus_pos = np.flatnonzero(cls == PLUS)
        if len(plus_pos):
            plus_line = np.searchsorted(nl, plus_pos)
            digit_cum = np.cumsum(is_digit, dtype=np.int32)  # a block is < 2 GiB
            digits_before = digit_cum[plus_pos] - (digit_cum[starts[plus_line]] -
                                                    is_digit[starts[plus_line]])
            late = plus_line[digits_before > 0]
            reason[late[reason[late] == 0]] = 2
        has_plus = n_plus == 1

        # digits → integers, grouped by digit count
        d_val = a[is_digit] - 48
        first_digit = np.cumsum(n_digits) - n_digits
        cc = np.full(n_lines, -1, dtype=np.int64)  # -1: rejected or skipped
        nsn = np.zeros(n_lines, dtype=np.int64)
        nsn_len = np.zeros(n_lines, dtype=np.int64)
        live = (reason == 0) & ~skip
        for k in np.flatnonzero(np.bincount(n_digits[live])).tolist():
            rows = np.flatnonzero(live & (n_digits == k))
            if k > 15:  # too long for an int64 (and for E.164): the reason only
                f = first_digit[rows]
                zero0, zero1 = d_val[f] == 0, d_val[f + 1] == 0
                intl = has_plus[rows] | (zero0 & zero1)
                at = f + np.where(has_plus[rows], 0, 2)
                lead3 = d_val[at].astype(np.int64) * 100 + d_val[at + 1] * 10 + d_val[at + 2]
                french = (lead3 // 10 == 33) | np.isin(lead3, _FRENCH_CC)
                reason[rows] = np.where(intl, np.where(french, 7, 6), np.where(zero0, 4, 5))
                continue
            m = d_val[first_digit[rows, None] + np.arange(k)].astype(np.int64)
            value = m @ _POW10[k - 1 :: -1]
            plus = has_plus[rows]
            zero0 = m[:, 0] == 0
            zero1 = m[:, 1] == 0 if k > 1 else np.zeros(len(rows), dtype=bool)
            intl = plus | (zero0 & zero1)
            nat = ~plus & zero0 & ~zero1
            r = np.where(nat & (k != 10), 4, np.where(~intl & ~nat, 5, 0)).astype(np.uint8)
            # international: digits after + / 00
            n_int = np.where(plus, k, k - 2)
            lead2 = value // _POW10[np.clip(n_int - 2, 0, 18)]
            lead3 = value // _POW10[np.clip(n_int - 3, 0, 18)]
            c = np.where(lead2 == 33, 33, np.where(np.isin(lead3, _FRENCH_CC), lead3, -1))
            c = np.where(n_int >= 5, c, -1)
            r = np.where(intl & (c < 0), 6, r).astype(np.uint8)
            c_len = np.where(c == 33, 2, 3)
            ln = np.where(nat, 9, n_int - c_len)
            ok = r == 0
            reason[rows] = r
            cc[rows[ok]] = np.where(nat, numbering_plan.NATIONAL, c)[ok]
            nsn_len[rows[ok]] = ln[ok]
            nsn[rows[ok]] = (value % _POW10[np.clip(ln, 0, 18)])[ok]

        keys = np.full(n_lines, -1, dtype=np.int64)
        todo = cc >= 0
        exact = np.zeros(n_lines, dtype=bool)
        for (t_cc, t_len), table in self.plan.tables.items():
            rows = np.flatnonzero(todo & (cc == t_cc) & (nsn_len == t_len))
            if not len(rows):
                continue
            depth = min(numbering_plan.DEPTH, t_len)
            cell = table[nsn[rows] // _POW10[t_len - depth]]
            keys[rows] = self.plan.offsets[cell] + nsn[rows] % self.plan.moduli[cell]
            exact[rows[cell == numbering_plan.EXACT]] = True
            todo[rows] = False
        exact |= todo  # French forms without a table ("+33 (0)6…")
        # lines the array operations cannot judge: classify decides, whatever they made of it
        doubt = char_doubt if quote_doubt is None else char_doubt | quote_doubt
        doubt &= ~skip
        if quote_doubt is not None:
            reason[quote_doubt & ~skip] = 8
        exact |= doubt
        ends = nl
        for i in np.flatnonzero(exact).tolist():
            key = numbering_plan.key_of(self._field_text(block[starts[i] : ends[i]]))
            self.tally.exact += 1
            if key is None:
                if reason[i] == 0:
                    reason[i] = 1 if doubt[i] else 7
                keys[i] = -1
            else:
                reason[i] = 0
                keys[i] = key

        rejected = np.flatnonzero((reason > 0) & ~skip)
        why = [codes[c] for c in reason[rejected]]
        self._reject(block, starts, ends, rejected, why, first_line)
        ok = (reason == 0) & ~skip
        self.tally.valid += int(ok.sum())
        return keys, ok, dict(zip(rejected.tolist(), why, strict=True))

    def _column_mask(
        self, a: np.ndarray, nl: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bytes of the number column; lines whose quotes the ``csv`` module must read; lines
        too short for the column.

        A delimiter between an odd and an even quote of its line is inside a quoted field.
        That is how ``csv`` reads a line when every quote that opens (an even number of quotes
        before it on the line) starts a field or doubles a quote (``""``), and the line has an
        even number of quotes; other lines (``O"Brien;06…``) are read by ``csv`` itself.
        """
        assert self.layout.delimiter is not None
        d = self.layout.delimiter[0]
        quote = a == 34
        delim = a == d
        line_of = np.zeros(len(a), dtype=np.int32)
        line_of[nl[:-1] + 1] = 1
        line_of = np.cumsum(line_of, dtype=np.int32)
        doubt = np.zeros(len(nl), dtype=bool)
        if quote.any():
            count = np.cumsum(quote, dtype=np.int32)
            doubt = (np.add.reduceat(quote, starts, dtype=np.int32) & 1).astype(bool)
            if doubt.any():  # otherwise every line starts after an even count already
                count -= (count[starts] - quote[starts])[line_of]  # quotes so far on the line
            delim &= (count & 1) == 0
            q = np.flatnonzero(quote)
            prev = a[np.maximum(q - 1, 0)]
            opens = (count[q] & 1) == 1
            fits = (q == starts[line_of[q]]) | (prev == d) | (prev == 34)
            doubt[line_of[q[opens & ~fits]]] = True
        before = np.cumsum(delim, dtype=np.int32)
        at_start = before[starts] - delim[starts]
        field_no = before - at_start[line_of] - delim
        in_field = (field_no == self.layout.column) & ~delim
        n_fields = before[nl] - at_start + 1
        missing = (n_fields <= self.layout.column) & (np.add.reduceat(a > 32, starts) > 0)
        return in_field, doubt, missing
