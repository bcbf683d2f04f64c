"""The base of every request body: strict about what the gateway cannot store or judge, so
that such input is a clear 422 naming the field — or, for phone numbers, which the contract
says are judged rather than rejected, a decision.

What ``ApiModel`` refuses, for every field of every request body (present and future ones):

* **Unknown fields** (``extra="forbid"``).
* **Unstorable text**: NUL characters and lone surrogates, in any string, nested ones (inside
  ``evidence`` and other free JSON objects) included.
* **Control characters** in names and identifiers: C0 (U+0000–U+001F), DEL (U+007F) and C1
  (U+0080–U+009F). Reading chosen: the multi-line free-text fields — those named in
  ``free_text_fields``, by default ``reason`` and ``description`` — may keep tab, line feed
  and carriage return (a revocation reason pasted from an e-mail), nothing else of those
  ranges. Free JSON objects (``evidence``, ``monitors``) are the client's own record and keep
  their text as given (NUL and lone surrogates aside).
* **Booleans given for numbers**: ``"duration_s": true`` is not 1 (JSON has no such
  conversion; pydantic's lax mode would make one up), for every int, float or Decimal field
  (and lists of them).
* **Dates and instants out of range**: every ``date`` and ``datetime`` value must lie in
  2000-01-01 … 2100-12-31 (instants: in UTC, offset applied; ``app.clock``); open-ended is
  ``null``, and the message for a far-future date on a nullable field says so.

Fields in ``judged_fields`` (``callee`` and ``caller_id`` of a check) are judged, not refused:
NUL and lone surrogates become U+FFFD and the control characters stay, so that the number is
judged invalid (``CALLEE_INVALID``…), logged and penalised like any other wrong number.
"""

from __future__ import annotations

import re
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from app.clock import DATE_RANGE_DOC, INSTANT_RANGE_DOC, check_day, check_instant


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def make_storable(text: str) -> str:
    """NUL and lone surrogates become U+FFFD (the value stays visibly wrong in the ledger)."""
    return "".join(
        "\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text
    )


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(text: str, lines: bool = False) -> str | None:
    """The first C0, DEL or C1 control character of ``text`` (with ``lines``: other than tab,
    line feed and carriage return), or None."""
    m = (_CONTROL_BUT_LINES if lines else _CONTROL).search(text)
    return m.group() if m else None


def control_message(ch: str) -> str:
    return (f"control characters (U+0000–U+001F, U+007F–U+009F) are not allowed: "
            f"found U+{ord(ch):04X}")


def _nested_storable(value: Any) -> bool:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return all(_nested_storable(k) and _nested_storable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_nested_storable(v) for v in value)
    return True


_NUMBERS = (int, float, Decimal)


def _kinds(annotation: Any) -> tuple[set[type], bool]:
    """The plain classes an annotation admits (through Optional, unions and Annotated),
    and whether it admits None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        kinds: set[type] = set()
        nullable = False
        for arg in typing.get_args(annotation):
            k, n = _kinds(arg)
            kinds |= k
            nullable |= n
        return kinds, nullable
    if annotation is None or annotation is type(None):
        return set(), True
    if isinstance(annotation, type):
        return {annotation}, False
    return set(), False


def _numeric(annotation: Any) -> str | None:
    """"scalar" when the annotation takes a number but not a boolean, "items" when it is a
    list/tuple/set of such, else None."""
    kinds, _ = _kinds(annotation)
    if kinds & set(_NUMBERS) and bool not in kinds:
        return "scalar"
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if args and all(_numeric(a) == "scalar" for a in args):
            return "items"
    if origin is typing.Annotated or origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            if _numeric(arg) == "items":
                return "items"
    return None


def _date_schema(schema: dict[str, Any]) -> None:
    """The range in the OpenAPI description of date and date-time properties."""
    for prop in (schema.get("properties") or {}).values():
        variants = prop.get("anyOf", [prop])
        formats = {v.get("format") for v in variants if isinstance(v, dict)}
        doc = (INSTANT_RANGE_DOC if "date-time" in formats
               else DATE_RANGE_DOC if "date" in formats else None)
        if doc and doc not in prop.get("description", ""):
            prop["description"] = f"{prop['description']} {doc}" if prop.get("description") \
                else doc


@lru_cache(maxsize=1024)
def _field_shape(model: type[BaseModel], name: str) -> tuple[str | None, bool]:
    """(``_numeric`` of a model's field, whether it admits None)."""
    field = model.model_fields.get(name)
    annotation = field.annotation if field is not None else None
    return _numeric(annotation), _kinds(annotation)[1]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_date_schema)

    # fields judged as phone numbers: unstorable characters are replaced, not refused
    judged_fields: ClassVar[frozenset[str]] = frozenset()
    # multi-line free text: tab, line feed and carriage return allowed
    free_text_fields: ClassVar[frozenset[str]] = frozenset({"reason", "description"})

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None:
            return value
        numeric, _ = _field_shape(cls, info.field_name)
        if numeric == "scalar" and isinstance(value, bool):
            raise ValueError("a number is expected, not a boolean (true/false)")
        if numeric == "items" and isinstance(value, list) and any(
                isinstance(v, bool) for v in value):
            raise ValueError("numbers are expected, not booleans (true/false)")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if isinstance(value, str):
            return cls._text(name, value)
        if isinstance(value, date):
            return _bounded(value, open_ended=_field_shape(cls, name)[1])
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(  # type: ignore[call-arg]
                cls._text(name, v) if isinstance(v, str)
                else _bounded(v, open_ended=False) if isinstance(v, date) else v
                for v in value
            )
        if isinstance(value, dict) and not _nested_storable(value):
            raise ValueError("text must not contain NUL characters or lone surrogates")
        return value

    @classmethod
    def _text(cls, name: str, value: str) -> str:
        if name in cls.judged_fields:
            return value if storable(value) else make_storable(value)
        if not storable(value):
            raise ValueError("text must not contain NUL characters or lone surrogates")
        if (ch := control_character(value, name in cls.free_text_fields)) is not None:
            raise ValueError(control_message(ch))
        return value


def _bounded(value: date, *, open_ended: bool) -> date:
    if isinstance(value, datetime):
        return check_instant(value, open_ended=open_ended)
    return check_day(value, open_ended=open_ended)
