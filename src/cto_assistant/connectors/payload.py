"""Reading vendor payloads: dotted paths, typed fields and times that fail naming the field.

A `Reader` wraps one vendor object (an issue, an incident, a cost group …). `need(path)` and
`get(path)` return whatever is there; the typed accessors also check the JSON type:

    need_text / text          a string
    need_number / number      a finite number (numeric strings too: Cost Explorer, SonarQube)
    need_integer / integer    a whole number
    need_day / day            an ISO date ('2025-06-11', or the date part of a timestamp)
    need_time / time          a timestamp (ISO 8601, epoch seconds or milliseconds)
    need_list / items         a list (`texts`: a list of strings)
    need_child / child        an object inside this one, as a Reader (errors name the full path)
    need_objects / objects    a list of objects, each a Reader of its own (a log entry, a group)

`need_*` raise SchemaDriftError when the field is absent or null; the optional variants return
None (an empty list / Reader for `items`, `objects`, `child`) only then. Both raise when the
value, or an object on the way to it, has another type, with a message naming the object and
the field: "jira/issues: issue ACME-12: 'fields.sprint' is a list, expected an object".

Values a mapper is handed on their own (a commit message, a tag list, a lookup table) are read
the same way through `Reader.of(name, value, …)`; `expect` checks one value against a `Kind`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cto_assistant.errors import SchemaDriftError

_NOTHING = object()
_IDENTITY_FIELDS = ("key", "id")


def dig(obj: Any, path: str, *, missing: Any = None) -> Any:
    """Follow a dotted path through dicts (and list or tuple indexes); `missing` when absent."""
    current = obj
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return missing
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit():
            index = int(part)
            if index >= len(current):
                return missing
            current = current[index]
        else:
            return missing
    return current


def describe(value: Any) -> str:
    """How a JSON value reads in a message: 'a list', 'null', "a string 'abc'" …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return f"a string {value[:20]!r}"
    if isinstance(value, float) or (isinstance(value, int) and abs(value) < 10**24):
        return f"a number ({value!r})"
    if isinstance(value, int):
        return "a number (over 24 digits)"
    return f"a {type(value).__name__}"


def _take_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _take_object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError
    return value


def _take_list(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TypeError
    return list(value)


def _take_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError
    number = float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def _take_integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    number = _take_number(value)
    if not number.is_integer():
        raise ValueError
    return int(number)


@dataclass(frozen=True, slots=True)
class Kind:
    """A JSON type a field must have: its name in messages and how a value is taken as it."""

    name: str
    take: Callable[[Any], Any]


TEXT = Kind("a string", _take_text)
OBJECT = Kind("an object", _take_object)
LIST = Kind("a list", _take_list)
NUMBER = Kind("a finite number", _take_number)
INTEGER = Kind("a whole number", _take_integer)


def expect(
    value: Any, kind: Kind, *, source: str, field: str, what: str, stream: str | None = None
) -> Any:
    """`value` taken as `kind` (None stays None); another type is schema drift naming the field."""
    if value is None:
        return None
    try:
        return kind.take(value)
    except (TypeError, ValueError, OverflowError):
        raise SchemaDriftError(
            source,
            f"{what}: '{field}' is {describe(value)}, expected {kind.name}",
            stream=stream,
            field=field,
        ) from None


def _identity(obj: dict[str, Any]) -> str | None:
    for name in _IDENTITY_FIELDS:
        value = obj.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)[:40]
    return None


class Reader:
    """Reads one vendor object for one source/stream; missing required fields are schema drift."""

    def __init__(
        self,
        obj: Any,
        *,
        source: str,
        stream: str | None,
        what: str = "item",
        at: str = "",
        label: str | None = None,
    ) -> None:
        if not isinstance(obj, dict):
            raise SchemaDriftError(
                source, f"{what} is {describe(obj)}, expected an object", stream=stream
            )
        self.obj = obj
        self.source = source
        self.stream = stream
        self.what = what
        self.at = at
        """Where this object sits in the payload `label` names ('' for the payload itself)."""
        identity = _identity(obj)
        self.label = label or (f"{what} {identity}" if identity else what)
        """The object in messages: its kind and, when it has one, its key or id ('issue PAY-4')."""

    @classmethod
    def of(cls, field: str, value: Any, *, source: str, stream: str | None, what: str) -> Reader:
        """A Reader over one value a mapper is handed on its own (a message, a list of tags)."""
        return cls({field: value}, source=source, stream=stream, what=what)

    def field(self, path: str) -> str:
        """The full path of `path` from the object `label` names."""
        return f"{self.at}.{path}" if self.at else path

    def drift(self, path: str, problem: str) -> SchemaDriftError:
        """A SchemaDriftError for the field at `path`: "<label>: '<field>' <problem>"."""
        field = self.field(path)
        return SchemaDriftError(
            self.source, f"{self.label}: '{field}' {problem}", stream=self.stream, field=field
        )

    def _missing(self, path: str) -> SchemaDriftError:
        field = self.field(path)
        return SchemaDriftError(
            self.source, f"{self.label} has no '{field}' field", stream=self.stream, field=field
        )

    def need(self, path: str) -> Any:
        """The value at `path`; absent or null → SchemaDriftError naming the field."""
        value = dig(self.obj, path, missing=_NOTHING)
        if value is _NOTHING or value is None:
            raise self._missing(path)
        return value

    def get(self, path: str, default: Any = None) -> Any:
        """The value at `path`, or `default` when absent or null."""
        value = dig(self.obj, path)
        return default if value is None else value

    def _locate(self, path: str) -> Any:
        """The value at `path` (None when absent); an object on the way of another type is drift."""
        current: Any = self.obj
        walked: list[str] = []
        for part in path.split("."):
            if isinstance(current, list | tuple) and part.isdigit():
                current = current[int(part)] if int(part) < len(current) else None
            elif isinstance(current, dict):
                current = current.get(part)
            else:
                raise self.drift(".".join(walked), f"is {describe(current)}, expected an object")
            walked.append(part)
            if current is None:
                return None
        return current

    def _typed(self, path: str, kind: Kind, *, required: bool) -> Any:
        value = self._locate(path)
        if value is None and required:
            raise self._missing(path)
        return self.expect(path, value, kind)

    def expect(self, path: str, value: Any, kind: Kind) -> Any:
        """`value`, found at `path`, taken as `kind` (None stays None); another type is drift."""
        return expect(
            value,
            kind,
            source=self.source,
            field=self.field(path),
            what=self.label,
            stream=self.stream,
        )

    def need_text(self, path: str) -> str:
        """The string at `path`; absent, null or another type → schema drift."""
        value: str = self._typed(path, TEXT, required=True)
        return value

    def text(self, path: str) -> str | None:
        """The string at `path`, None when absent or null; another type → schema drift."""
        value: str | None = self._typed(path, TEXT, required=False)
        return value

    def need_number(self, path: str) -> float:
        """The finite number (or numeric string) at `path` as a float."""
        value: float = self._typed(path, NUMBER, required=True)
        return value

    def number(self, path: str) -> float | None:
        """An optional number at `path` (absent, null or "" → None)."""
        if self.get(path) == "":
            return None
        value: float | None = self._typed(path, NUMBER, required=False)
        return value

    def need_integer(self, path: str) -> int:
        """The whole number (or digit string) at `path` as an int."""
        value: int = self._typed(path, INTEGER, required=True)
        return value

    def integer(self, path: str) -> int | None:
        """An optional whole number at `path` (absent, null or "" → None)."""
        if self.get(path) == "":
            return None
        value: int | None = self._typed(path, INTEGER, required=False)
        return value

    def need_list(self, path: str) -> list[Any]:
        """The list at `path`; absent, null or another type → schema drift."""
        value: list[Any] = self._typed(path, LIST, required=True)
        return value

    def items(self, path: str) -> list[Any]:
        """The list at `path`, empty when absent or null; another type → schema drift."""
        value: list[Any] | None = self._typed(path, LIST, required=False)
        return value or []

    def texts(self, path: str) -> list[str]:
        """The list of strings at `path`, empty when absent or null; other elements are drift."""
        found = []
        for index, item in enumerate(self.items(path)):
            if not isinstance(item, str):
                raise self.drift(f"{path}.{index}", f"is {describe(item)}, expected a string")
            found.append(item)
        return found

    def need_child(self, path: str) -> Reader:
        """The object at `path` as a Reader whose errors name the full path."""
        return self._child(path, self._typed(path, OBJECT, required=True))

    def child(self, path: str) -> Reader:
        """The object at `path` as a Reader (an empty one when absent or null)."""
        return self._child(path, self._typed(path, OBJECT, required=False) or {})

    def need_objects(self, path: str, what: str | None = None) -> list[Reader]:
        """The list of objects at `path`, each as a Reader; absent or null → schema drift."""
        self.need_list(path)
        return self.objects(path, what)

    def objects(
        self, path: str, what: str | None = None, *, skip_others: bool = False
    ) -> list[Reader]:
        """The list of objects at `path`, each a vendor object of its own (`what`, e.g. 'log entry').

        None when absent or null. An element that is not an object is schema drift, or skipped
        with `skip_others` (for lists vendors mix with nulls, like Jenkins `actions`). Errors of
        an element name it by its key or id, else by its position ('cost group #3 of …').
        """
        name = what or path.rsplit(".", 1)[-1]
        readers = []
        for index, item in enumerate(self.items(path)):
            if isinstance(item, dict):
                identity = _identity(item)
                label = f"{name} {identity}" if identity else f"{name} #{index} of {self.label}"
                readers.append(
                    Reader(item, source=self.source, stream=self.stream, what=name, label=label)
                )
            elif not skip_others:
                raise self.drift(f"{path}.{index}", f"is {describe(item)}, expected an object")
        return readers

    def _child(self, path: str, obj: dict[str, Any]) -> Reader:
        return Reader(
            obj,
            source=self.source,
            stream=self.stream,
            what=self.what,
            at=self.field(path),
            label=self.label,
        )

    def need_day(self, path: str) -> date:
        """The calendar date an ISO string at `path` starts with ('2025-06-11', '2025-06-11T…')."""
        text = self.need_text(path)
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            raise self.drift(path, f"is not a date: {text[:40]!r}") from None

    def day(self, path: str) -> date | None:
        """An optional date at `path` (absent, null or "" → None)."""
        value = self._locate(path)
        return None if value is None or value == "" else self.need_day(path)

    def need_time(self, path: str) -> datetime:
        """A required timestamp at `path`."""
        value = self.need(path)
        parsed = parse_time(value)
        if parsed is None:
            raise self._not_a_time(path, value)
        return parsed

    def time(self, path: str) -> datetime | None:
        """An optional timestamp at `path` (unparseable → schema drift)."""
        value = dig(self.obj, path)
        if value is None or value == "":
            return None
        parsed = parse_time(value)
        if parsed is None:
            raise self._not_a_time(path, value)
        return parsed

    def _not_a_time(self, path: str, value: Any) -> SchemaDriftError:
        shown = repr(value[:40]) if isinstance(value, str) else describe(value)
        return self.drift(path, f"is not a timestamp: {shown}")


def parse_time(value: Any) -> datetime | None:
    """Parse ISO 8601 (with Z or ±hhmm), epoch seconds/ms, or a date; aware UTC or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):  # out of the representable range
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Jira and SonarQube write offsets without a colon: 2024-01-02T10:00:00.000+0000
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
