"""Reading vendor payloads: dotted-path lookups and time parsing that fail with the field's name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from cto_assistant.errors import SchemaDriftError

_NOTHING = object()


def dig(obj: Any, path: str, *, missing: Any = None) -> Any:
    """Follow a dotted path through dicts (and list indexes); `missing` when absent."""
    current = obj
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return missing
            current = current[part]
        elif isinstance(current, list) and part.isdigit():
            index = int(part)
            if index >= len(current):
                return missing
            current = current[index]
        else:
            return missing
    return current


class Reader:
    """Reads one vendor object for one source/stream; missing required fields are schema drift."""

    def __init__(self, obj: Any, *, source: str, stream: str | None, what: str = "item") -> None:
        if not isinstance(obj, dict):
            raise SchemaDriftError(
                source, f"{what} is {type(obj).__name__}, expected an object", stream=stream
            )
        self.obj = obj
        self.source = source
        self.stream = stream
        self.what = what

    def need(self, path: str) -> Any:
        """The value at `path`; absent or null → SchemaDriftError naming the field."""
        value = dig(self.obj, path, missing=_NOTHING)
        if value is _NOTHING or value is None:
            raise SchemaDriftError(
                self.source,
                f"{self.what} has no '{path}' field",
                stream=self.stream,
                field=path,
            )
        return value

    def get(self, path: str, default: Any = None) -> Any:
        """The value at `path`, or `default` when absent or null."""
        value = dig(self.obj, path)
        return default if value is None else value

    def need_time(self, path: str) -> datetime:
        """A required timestamp at `path`."""
        value = self.need(path)
        parsed = parse_time(value)
        if parsed is None:
            raise SchemaDriftError(
                self.source,
                f"{self.what} field '{path}' is not a timestamp: {str(value)[:40]!r}",
                stream=self.stream,
                field=path,
            )
        return parsed

    def time(self, path: str) -> datetime | None:
        """An optional timestamp at `path` (unparseable → schema drift)."""
        value = dig(self.obj, path)
        if value in (None, ""):
            return None
        parsed = parse_time(value)
        if parsed is None:
            raise SchemaDriftError(
                self.source,
                f"{self.what} field '{path}' is not a timestamp: {str(value)[:40]!r}",
                stream=self.stream,
                field=path,
            )
        return parsed


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
