"""The tool contract: schemas from signatures, validation, errors kept inside the envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.errors import ToolError
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.models import SyncRun
from cto_assistant.tools.base import (
    REGISTRY,
    ToolContext,
    ToolResult,
    ToolStatus,
    call_tool,
    no_data,
    ok,
    tool,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@tool(domain="operations")
def _toy_incidents(ctx: ToolContext, *, team: str | None = None, days: int = 30) -> ToolResult:
    """Count incidents of a team (a toy tool for the tests)."""
    if team == "boom":
        raise ToolError("the toy store exploded")
    if team == "none":
        return no_data("No incidents yet.")
    return ok(
        {"team": team, "days": days}, summary=f"{days} days", sources=ctx.sources_for("incident")
    )


@pytest.fixture
def ctx(sqlite_store: Store):  # type: ignore[no-untyped-def]
    with sqlite_store.session() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=NOW)


def test_signature_becomes_the_json_schema() -> None:
    schema = REGISTRY["_toy_incidents"].json_schema()
    assert set(schema["properties"]) == {"team", "days"}
    assert schema["properties"]["days"]["default"] == 30
    assert REGISTRY["_toy_incidents"].description.startswith("Count incidents")


def test_arguments_are_validated_into_an_error_envelope(ctx: ToolContext) -> None:
    result = call_tool("_toy_incidents", ctx, {"days": "many"})
    assert result.status is ToolStatus.ERROR
    assert "days" in result.summary
    result = call_tool("_toy_incidents", ctx, {"colour": "red"})
    assert result.status is ToolStatus.ERROR and "colour" in result.summary


def test_errors_do_not_cross_the_tool_boundary(ctx: ToolContext) -> None:
    result = call_tool("_toy_incidents", ctx, {"team": "boom"})
    assert result.status is ToolStatus.ERROR
    assert "exploded" in result.summary
    assert result.tool == "_toy_incidents"


def test_unknown_tool_is_an_error_envelope(ctx: ToolContext) -> None:
    assert call_tool("no_such_tool", ctx).status is ToolStatus.ERROR


def test_no_data_is_distinct_from_ok(ctx: ToolContext) -> None:
    assert call_tool("_toy_incidents", ctx, {"team": "none"}).status is ToolStatus.NO_DATA


def test_sources_and_as_of_come_from_the_run_log(ctx: ToolContext) -> None:
    synced = NOW - timedelta(minutes=3)
    upsert(
        ctx.session,
        "incident",
        [
            {
                "source": "pagerduty",
                "source_id": "P1",
                "key": "INC-1",
                "title": "t",
                "status": "triggered",
                "triggered_at": NOW,
            }
        ],
    )
    ctx.session.add(
        SyncRun(
            source="pagerduty",
            stream="incidents",
            started_at=synced - timedelta(seconds=5),
            finished_at=synced,
            status="success",
            records=1,
        )
    )
    ctx.session.flush()
    result = call_tool("_toy_incidents", ctx, {"team": "sre"})
    assert result.status is ToolStatus.OK
    assert [s.source for s in result.sources] == ["pagerduty"]
    assert result.sources[0].age_seconds == pytest.approx(180)
    assert result.as_of == synced


def test_a_tool_without_docstring_or_types_is_refused() -> None:
    with pytest.raises(TypeError, match="docstring"):

        @tool(domain="summary")
        def undocumented(ctx: ToolContext) -> ToolResult:
            return no_data("x")

    with pytest.raises(TypeError, match="keyword-only"):

        @tool(domain="summary")
        def positional(ctx: ToolContext, team: str) -> ToolResult:
            """Positional arguments are not allowed."""
            return no_data(team)


@pytest.fixture(autouse=True, scope="module")
def _forget_toy_tools():  # type: ignore[no-untyped-def]
    yield
    REGISTRY.pop("_toy_incidents", None)
