"""Reading CSV and JSON files row by row, each row with the line number it starts on."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cto_assistant.errors import ImportFileError

FileFormat = Literal["csv", "json", "ndjson"]
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Row:
    """One object of an import file and the (1-based) line it starts on."""

    line: int
    values: dict[str, Any]


def detect_format(path: Path, text: str) -> FileFormat:
    """The file's format from its suffix, else from its first character."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    return "json" if text.lstrip().startswith("[") else "csv"


def read_rows(path: Path) -> list[Row]:
    """Read every row of a CSV, JSON array or NDJSON file; unreadable files raise ImportFileError."""
    shown = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportFileError(shown, [f"file is larger than {MAX_FILE_BYTES // 2**20} MB"])
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(shown, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(shown, [f"cannot read the file: {exc}"]) from None
    return parse_rows(text, detect_format(path, text), name=shown)


def parse_rows(text: str, file_format: FileFormat, *, name: str = "<input>") -> list[Row]:
    """Parse file text in the given format into rows with line numbers."""
    if file_format == "csv":
        return _csv_rows(text, name)
    if file_format == "ndjson":
        return _ndjson_rows(text, name)
    return _json_rows(text, name)


def _csv_rows(text: str, name: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[str] = []
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(name, ["the file is empty (expected a header line)"]) from None
    except csv.Error as exc:
        raise ImportFileError(name, [f"line 1: {exc}"]) from None
    columns = [column.strip() for column in header]
    if not any(columns):
        raise ImportFileError(name, ["line 1: the header line is empty"])
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise ImportFileError(name, [f"line 1: column(s) named twice: {', '.join(repeated)}"])
    rows: list[Row] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportFileError(name, [f"line {start}: {exc}"]) from None
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line is not a row
        if len(cells) > len(columns):
            problems.append(
                f"line {line}: {len(cells)} cells but the header has {len(columns)} columns"
            )
            continue
        values = {
            column: cell.strip()
            for column, cell in zip(columns, cells, strict=False)
            if column and cell.strip() != ""
        }
        rows.append(Row(line, values))
    if problems:
        raise ImportFileError(name, problems)
    return rows


def _json_rows(text: str, name: str) -> list[Row]:
    decoder = json.JSONDecoder()
    lines = _LineCounter(text)
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise ImportFileError(
            name, [f"line {lines.at(position)}: expected a JSON array of objects"]
        )
    position = _skip_space(text, position + 1)
    rows: list[Row] = []
    problems: list[str] = []
    if position < len(text) and text[position] == "]":
        return _json_tail(text, position + 1, lines, name, rows)
    while True:
        line = lines.at(position)
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ImportFileError(name, [f"line {exc.lineno}: invalid JSON: {exc.msg}"]) from None
        if isinstance(value, dict):
            rows.append(Row(line, value))
        else:
            problems.append(f"line {line}: expected an object, got {_json_type(value)}")
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            break
        raise ImportFileError(
            name, [f"line {lines.at(position)}: invalid JSON: expected ',' or ']'"]
        )
    if problems:
        raise ImportFileError(name, problems)
    return _json_tail(text, position + 1, lines, name, rows)


def _json_tail(
    text: str, position: int, lines: _LineCounter, name: str, rows: list[Row]
) -> list[Row]:
    rest = _skip_space(text, position)
    if rest < len(text):
        raise ImportFileError(name, [f"line {lines.at(rest)}: unexpected text after the array"])
    return rows


def _ndjson_rows(text: str, name: str) -> list[Row]:
    rows: list[Row] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: invalid JSON: {exc.msg}")
            continue
        if isinstance(value, dict):
            rows.append(Row(number, value))
        else:
            problems.append(f"line {number}: expected an object, got {_json_type(value)}")
    if problems:
        raise ImportFileError(name, problems)
    return rows


class _LineCounter:
    """Line numbers of increasing offsets in one text, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1

    def at(self, position: int) -> int:
        """The 1-based line of `position`."""
        if position < self.offset:
            return self.text.count("\n", 0, position) + 1
        self.line += self.text.count("\n", self.offset, position)
        self.offset = position
        return self.line


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


__all__ = ["FileFormat", "Row", "detect_format", "parse_rows", "read_rows"]
