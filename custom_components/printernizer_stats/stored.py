"""Checks for values read back from the storage file; each raises ValueError.

A damaged or hand-edited file must never raise anything else while a
section is loaded: storage.py resets a section on ValueError alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from typing import Any


def iso(value: date | datetime | None) -> str | None:
    """ISO form of an optional day, or of a time rounded up to the minute.

    No finer time is kept at rest; rounding up keeps every wait at least as long.
    """
    if value is None:
        return None
    if isinstance(value, datetime) and (value.second or value.microsecond):
        value = value.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return value.isoformat()


def optional[T](value: object, kind: type[T]) -> T | None:
    """None, or a value of exactly this type."""
    if value is None:
        return None
    if type(value) is not kind:
        raise ValueError(f"expected {kind.__name__}")
    return value


def list_of(value: object) -> list[object]:
    """A list (None is empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("expected a list")  # noqa: TRY004
    return value


def day(value: object) -> date | None:
    """An optional ISO day."""
    text = optional(value, str)
    if text is None:
        return None
    day = date.fromisoformat(text)
    if day.year >= MAXYEAR:
        raise ValueError("a stored day is out of range")
    return day


def moment(value: object) -> datetime | None:
    """An optional ISO time with offset, as UTC."""
    text = optional(value, str)
    if text is None:
        return None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("a stored time has no offset")
    try:
        moment = parsed.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("a stored time is out of range") from err
    if moment.year >= MAXYEAR:
        raise ValueError("a stored time is out of range")
    return moment


def fields(value: object, keys: Iterable[str]) -> Mapping[str, Any]:
    """An object with these keys."""
    if not isinstance(value, Mapping) or any(key not in value for key in keys):
        raise ValueError("a stored record is malformed")
    return value


def count(value: object) -> int:
    """A non-negative int."""
    if type(value) is not int or value < 0:
        raise ValueError("expected a count")
    return value
