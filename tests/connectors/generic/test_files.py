"""Reading import files with the line number of every row."""

from __future__ import annotations

from pathlib import Path

import pytest

from cto_assistant.connectors.generic.files import parse_rows, read_rows
from cto_assistant.errors import ImportFileError


def test_csv_rows_carry_their_starting_line_and_skip_blanks() -> None:
    text = 'id,service,title\n1,api,"two\nlines"\n\n2,web,\n'
    rows = parse_rows(text, "csv")
    assert [(r.line, r.values) for r in rows] == [
        (2, {"id": "1", "service": "api", "title": "two\nlines"}),
        (5, {"id": "2", "service": "web"}),  # empty cells are absent, not ""
    ]


def test_csv_with_more_cells_than_columns_names_the_line() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_rows("id,service\n1,api\n2,web,extra\n", "csv")
    assert caught.value.problems == ["line 3: 3 cells but the header has 2 columns"]


def test_csv_header_problems() -> None:
    with pytest.raises(ImportFileError, match="empty"):
        parse_rows("", "csv")
    with pytest.raises(ImportFileError, match="named twice: id"):
        parse_rows("id,id\n1,2\n", "csv")


def test_json_array_rows_carry_their_line() -> None:
    text = '[\n  {"id": "a"},\n  {\n    "id": "b"\n  }, {"id": "c"}\n]\n'
    rows = parse_rows(text, "json")
    assert [(r.line, r.values["id"]) for r in rows] == [(2, "a"), (3, "b"), (5, "c")]
    assert parse_rows("[ ]", "json") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"id": 1}', "line 1: expected a JSON array of objects"),
        ('[\n{"id": 1},\n3\n]', "line 3: expected an object, got a number"),
        ('[\n{"id": 1}\n{"id": 2}]', "line 3: invalid JSON: expected ',' or ']'"),
        ('[\n{"id": 1,}\n]', "line 2: invalid JSON: Expecting property name"),
        ('[{"id": 1}]\nmore', "line 2: unexpected text after the array"),
    ],
)
def test_json_problems_name_the_line(text: str, problem: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_rows(text, "json")
    assert caught.value.problems[0].startswith(problem)


def test_ndjson_and_format_detection(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\n')
    assert [(r.line, r.values["id"]) for r in read_rows(path)] == [(1, "a"), (3, "b")]
    sniffed = tmp_path / "export.txt"
    sniffed.write_text('[{"id": "x"}]')
    assert read_rows(sniffed)[0].values == {"id": "x"}


def test_missing_file_is_an_import_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="file not found"):
        read_rows(tmp_path / "nope.csv")
