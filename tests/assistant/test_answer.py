"""The answer writer's table: the main list of a result, found up to two levels down, kept short."""

from __future__ import annotations

from cto_assistant.assistant.answer import MAX_ROWS, find_table, markdown_table, write_answer
from cto_assistant.tools.base import ToolResult, ToolStatus


def test_table_is_found_two_levels_down_preferring_known_keys() -> None:
    lines = [{"key": f"svc-{i}", "amount": float(i), "share": 0.1} for i in range(3)]
    data = {
        "report": {"total": 3.0, "lines": lines, "other": {"key": "other"}},
        "month_to_date": {"lines": [{"key": "mtd", "amount": 1.0}]},
        "filters": {"provider": None},
    }
    found = find_table(data)
    assert found is not None
    rows, columns = found
    assert rows is lines
    assert columns == ["key", "amount", "share"]


def test_shallow_lists_win_and_known_keys_break_ties() -> None:
    data = {
        "notes": [{"text": "first"}],
        "results": [{"title": "a", "url": "https://example.test"}],
        "deep": {"lines": [{"key": "x"}]},
    }
    found = find_table(data)
    assert found is not None and found[0][0]["title"] == "a"
    assert find_table([{"a": 1}]) == ([{"a": 1}], ["a"])
    assert find_table({"drivers": [{"summary": "x"}]}) is None
    assert find_table({"a": {"b": {"c": [{"d": 1}]}}}) is None  # three levels is too deep


def test_long_text_columns_are_left_out_when_short_ones_exist() -> None:
    rows = [{"title": "t", "page": 2, "text": "x" * 500}]
    found = find_table({"passages": rows})
    assert found is not None and found[1] == ["title", "page"]


def test_tables_keep_the_top_rows_and_say_how_many_more() -> None:
    rows = [{"group": f"g{i}", "amount": i} for i in range(MAX_ROWS + 4)]
    text = markdown_table(rows, ["group", "amount"])
    assert text.count("\n| g") == MAX_ROWS
    assert text.endswith("…4 more.")
    result = ToolResult(
        tool="cloud_spend",
        status=ToolStatus.OK,
        summary="$1 spend.",
        data={"report": {"lines": rows}},
    )
    answer = write_answer(result, kinds={})
    assert answer.table is not None and len(answer.table) == MAX_ROWS
    assert "| group | amount |" in answer.text
