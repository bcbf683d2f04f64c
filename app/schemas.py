"""The base of every request body: strict about unknown fields and about text a database
cannot store (NUL characters, lone surrogates), so that such input is a clear 422 — or, for
phone numbers, which the contract says are judged rather than rejected, a decision."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


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


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # fields judged as phone numbers: unstorable characters are replaced, not refused
    judged_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not storable(value):
            if info.field_name in cls.judged_fields:
                return make_storable(value)
            raise ValueError("text must not contain NUL characters or lone surrogates")
        return value
