"""Jira payload mapping and text → ADF, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cto_assistant.connectors.jira import mapping
from cto_assistant.connectors.payload import Reader
from cto_assistant.errors import SchemaDriftError

FIELDS: dict[str, Any] = {
    "story_points_field": "customfield_10016",
    "sprint_field": "customfield_10020",
}


def issue(**fields: object) -> dict:
    base = {
        "project": {"key": "PAY"},
        "issuetype": {"name": "Story", "hierarchyLevel": 0},
        "status": {"name": "In Review", "statusCategory": {"key": "indeterminate"}},
        "created": "2026-01-02T10:00:00.000+0100",
        "updated": "2026-01-03T10:00:00.000+0000",
    }
    return {"id": "10042", "key": "PAY-42", "fields": base | fields}


def reader(payload: dict) -> Reader:
    return Reader(payload, source="jira", stream="issues", what="issue")


def test_ticket_reads_times_with_offsets_and_optional_fields() -> None:
    row = mapping.ticket(issue(customfield_10016=3, duedate="2026-02-01"), source="jira", **FIELDS)
    assert row["created_at"] == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert row["due_date"] == date(2026, 2, 1)
    assert (row["story_points"], row["assignee"], row["epic_key"]) == (3.0, None, None)
    assert row["team_key"] == "PAY" and row["status_category"] == "indeterminate"


def test_story_points_that_are_not_numbers_are_schema_drift() -> None:
    with pytest.raises(SchemaDriftError) as failure:
        mapping.ticket(issue(customfield_10016={"value": 3}), source="jira", **FIELDS)
    assert failure.value.field == "fields.customfield_10016"


def test_parent_is_the_epic_only_when_it_is_an_epic() -> None:
    epic_parent = {"key": "PAY-1", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}}
    story_parent = {"key": "PAY-7", "fields": {"issuetype": {"name": "Story", "hierarchyLevel": 0}}}
    assert mapping.epic_key_of(reader(issue(parent=epic_parent)), epic_link_field=None) == "PAY-1"
    assert mapping.epic_key_of(reader(issue(parent=story_parent)), epic_link_field=None) is None
    legacy = issue(parent=story_parent, customfield_10014="PAY-3")
    assert mapping.epic_key_of(reader(legacy), epic_link_field="customfield_10014") == "PAY-3"


def test_sprint_field_in_cloud_objects_and_server_strings() -> None:
    cloud = issue(customfield_10020=[{"id": 37, "name": "S1"}, {"id": 38, "name": "S2"}])
    server = issue(
        customfield_10020=["com.atlassian.greenhopper.service.sprint.Sprint@1[id=41,rapidViewId=5]"]
    )
    assert mapping.sprint_ids(reader(cloud), "customfield_10020") == ["37", "38"]
    assert mapping.sprint_ids(reader(server), "customfield_10020") == ["41"]


def test_transitions_keep_status_sprint_and_points_changes_only() -> None:
    history = {
        "id": "900",
        "created": "2026-01-04T08:00:00.000+0000",
        "author": {"accountId": "acc-1"},
        "items": [
            {"field": "status", "fieldId": "status", "fromString": "To Do", "toString": "Done"},
            {"field": "Sprint", "fieldId": "customfield_10020", "from": "37", "to": "37, 38"},
            {"field": "Story point estimate", "fieldId": "customfield_10016", "toString": "5"},
            {"field": "labels", "fieldId": "labels", "toString": "x"},
        ],
    }
    rows = mapping.transitions("PAY-42", [history], source="jira", **FIELDS)
    assert [(r["source_id"], r["from_value"], r["to_value"]) for r in rows] == [
        ("900:status", "To Do", "Done"),
        ("900:Sprint", "37", "37,38"),
        ("900:points", None, "5"),
    ]
    assert {r["author"] for r in rows} == {"acc-1"}


def test_adf_document_from_light_markdown() -> None:
    doc = mapping.adf_document(
        "# Summary\nLine one\nline two\n\n- a **b**\n- see [docs](https://x.example)"
    )
    assert doc["type"] == "doc" and doc["version"] == 1
    heading, paragraph, bullets = doc["content"]
    assert heading == {
        "type": "heading",
        "attrs": {"level": 1},
        "content": [{"type": "text", "text": "Summary"}],
    }
    assert [n["type"] for n in paragraph["content"]] == ["text", "hardBreak", "text"]
    first, second = bullets["content"]
    assert first["content"][0]["content"][1] == {
        "type": "text",
        "text": "b",
        "marks": [{"type": "strong"}],
    }
    assert second["content"][0]["content"][1]["marks"][0]["attrs"]["href"] == "https://x.example"
    assert mapping.adf_text(doc) == "Summary\nLine one\nline two\na b\nsee docs\n"


def test_empty_text_is_an_empty_document() -> None:
    assert mapping.adf_document("") == {"type": "doc", "version": 1, "content": []}


def test_malformed_issues_and_sprints_are_schema_drift_naming_the_field() -> None:
    with pytest.raises(
        SchemaDriftError, match="jira/issues: issue PAY-42: 'fields.parent' is a list, expected an"
    ) as failure:
        mapping.ticket(issue(parent=["PAY-1"]), source="jira", **FIELDS)
    assert failure.value.field == "fields.parent"
    with pytest.raises(SchemaDriftError, match="issue PAY-42: 'fields.issuetype' is a string"):
        mapping.is_epic(issue(issuetype="Epic"))
    with pytest.raises(SchemaDriftError, match="settings: 'project_teams' is a list"):
        mapping.ticket(issue(), source="jira", project_teams=["PAY"], **FIELDS)  # type: ignore[arg-type]
    with pytest.raises(SchemaDriftError, match="board: 'location' is a string"):
        mapping.sprint(
            {"id": 1, "name": "S1", "state": "active"},
            board={"name": "b", "location": "PAY"},
            source="jira",
            project_teams={},
        )
    with pytest.raises(SchemaDriftError, match="issue PAY-42 changelog: 'histories' is an object"):
        mapping.transitions("PAY-42", {"id": "1"}, source="jira", **FIELDS)
    assert mapping.transitions("PAY-42", None, source="jira", **FIELDS) == []  # type: ignore[arg-type]
