"""Jira payloads → domain rows (sprint, epic, ticket, ticket_transition), and text → ADF.

Pure functions over the shapes of Jira Cloud REST v3 and Agile 1.0; each returns a row dict with
`source_id` (the vendor id) and the table's columns, ready for `Connector.record`.

Conventions: `ticket.assignee` and `ticket_transition.author` are Jira accountIds (they join to
`person.jira_account_id`); a transition's `source_id` is "<changelog history id>:<field>"; its
`field` is "status" (values: status names), "Sprint" (values: sprint ids, comma-separated, so
they join to `sprint.source_id`) or "points" (story points as text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from cto_assistant.connectors.payload import Reader

Row = dict[str, Any]
EPIC_HIERARCHY_LEVEL = 1


def _date(reader: Reader, path: str) -> date | None:
    moment = reader.time(path)
    return moment.date() if moment else None


def is_epic(issue: Mapping[str, Any], *, source: str = "jira") -> bool:
    """Whether an issue (or a parent stub) is an epic: hierarchy level 1 or the type 'Epic'."""
    return _is_epic(Reader(issue, source=source, stream="issues", what="issue"))


def _is_epic(issue: Reader) -> bool:
    issue_type = issue.child("fields.issuetype")
    level = issue_type.get("hierarchyLevel")
    if level is not None:
        return bool(level == EPIC_HIERARCHY_LEVEL)
    return (issue_type.text("name") or "").lower() == "epic"


def epic_key_of(reader: Reader, *, epic_link_field: str | None) -> str | None:
    """The epic an issue belongs to: its `parent` when that is an epic, else the epic-link field."""
    parent = reader.child("fields.parent")
    if parent.get("key") and (parent.get("fields.issuetype") is None or _is_epic(parent)):
        return str(parent.get("key"))
    if epic_link_field:
        link = reader.get(f"fields.{epic_link_field}")
        if isinstance(link, str) and link:
            return link
        if isinstance(link, dict) and link.get("key"):
            return str(link["key"])
    return None


def _teams(project_teams: Any, reader: Reader) -> Mapping[str, Any]:
    """The configured project key → team key map (None: no map), checked to be one."""
    settings = Reader.of(
        "project_teams", project_teams, source=reader.source, stream=reader.stream, what="settings"
    )
    return settings.child("project_teams").obj


def sprint_ids(reader: Reader, sprint_field: str) -> list[str]:
    """Ids of the sprints an issue is or was in (the Sprint custom field)."""
    found: list[str] = []
    for item in reader.items(f"fields.{sprint_field}"):
        if isinstance(item, dict) and item.get("id") is not None:
            found.append(str(item["id"]))
        elif isinstance(item, str):  # Jira Server's serialized "…[id=37,…]" form
            match = re.search(r"\bid=(\d+)", item)
            if match:
                found.append(match.group(1))
    return found


def ticket(
    issue: Any,
    *,
    source: str,
    story_points_field: str,
    sprint_field: str,
    epic_link_field: str | None = None,
    project_teams: Mapping[str, str] | None = None,
) -> Row:
    """A `ticket` row from a search-result issue."""
    reader = Reader(issue, source=source, stream="issues", what="issue")
    project = str(reader.need("fields.project.key"))
    assignee = reader.get("fields.assignee")
    labels = reader.get("fields.labels", [])
    return {
        "source_id": str(reader.need("id")),
        "key": str(reader.need("key")),
        "type": reader.need("fields.issuetype.name"),
        "summary": reader.get("fields.summary"),
        "status": reader.need("fields.status.name"),
        "status_category": reader.get("fields.status.statusCategory.key"),
        "priority": reader.get("fields.priority.name"),
        "assignee": assignee.get("accountId") if isinstance(assignee, dict) else None,
        "team_key": _teams(project_teams, reader).get(project, project),
        "project": project,
        "epic_key": epic_key_of(reader, epic_link_field=epic_link_field),
        "sprint_source_ids": sprint_ids(reader, sprint_field),
        "story_points": reader.number(f"fields.{story_points_field}"),
        "labels": [str(label) for label in labels] if isinstance(labels, list) else [],
        "created_at": reader.need_time("fields.created"),
        "updated_at": reader.need_time("fields.updated"),
        "resolved_at": reader.time("fields.resolutiondate"),
        "due_date": _date(reader, "fields.duedate"),
    }


def _field_name(item: Reader, story_points_field: str, sprint_field: str) -> str | None:
    field_id = item.get("fieldId")
    name = str(item.get("field", ""))
    if field_id == "status" or name.lower() == "status":
        return "status"
    if field_id == sprint_field or name == "Sprint":
        return "Sprint"
    if field_id == story_points_field or name.lower() in ("story points", "story point estimate"):
        return "points"
    return None


def transitions(
    issue_key: str,
    histories: Iterable[Any],
    *,
    source: str,
    story_points_field: str,
    sprint_field: str,
) -> list[Row]:
    """`ticket_transition` rows for the status, Sprint and story-point changes of a changelog."""
    rows: list[Row] = []
    changelog = Reader.of(
        "histories", histories, source=source, stream="issues", what=f"issue {issue_key} changelog"
    )
    for entry in changelog.objects("histories", "changelog history"):
        history_id = str(entry.need("id"))
        at = entry.need_time("created")
        author = entry.get("author.accountId")
        for item in entry.objects("items", "changelog item"):
            name = _field_name(item, story_points_field, sprint_field)
            if name is None:
                continue
            if name == "Sprint":
                old, new = item.get("from"), item.get("to")
                old = ",".join(s.strip() for s in str(old or "").split(",") if s.strip()) or None
                new = ",".join(s.strip() for s in str(new or "").split(",") if s.strip()) or None
            else:
                old, new = item.get("fromString"), item.get("toString")
            rows.append(
                {
                    "source_id": f"{history_id}:{name}",
                    "ticket_key": issue_key,
                    "field": name,
                    "from_value": old,
                    "to_value": new,
                    "at": at,
                    "author": author,
                }
            )
    return rows


def sprint(
    payload: Any, *, board: Mapping[str, Any], source: str, project_teams: Mapping[str, str]
) -> Row:
    """A `sprint` row from an Agile 1.0 sprint and the board it was listed on."""
    reader = Reader(payload, source=source, stream="sprints", what="sprint")
    listed_on = Reader(board, source=source, stream="sprints", what="board")
    project = listed_on.text("location.projectKey")
    teams = _teams(project_teams, reader)
    return {
        "source_id": str(reader.need("id")),
        "team_key": teams.get(project, project) if project else None,
        "board": listed_on.get("name"),
        "name": reader.need("name"),
        "goal": reader.get("goal") or None,
        "state": reader.need("state"),
        "start_at": reader.time("startDate"),
        "end_at": reader.time("endDate"),
        "complete_at": reader.time("completeDate"),
    }


def epic(
    payload: Any,
    *,
    issue: Mapping[str, Any] | None,
    source: str,
    project_teams: Mapping[str, str],
) -> Row:
    """An `epic` row from an Agile 1.0 epic, enriched by its issue (status, due date, created)."""
    reader = Reader(payload, source=source, stream="epics", what="epic")
    key = str(reader.need("key"))
    details = Reader(issue or {"fields": {}}, source=source, stream="epics", what="epic issue")
    project = details.text("fields.project.key") or key.rsplit("-", 1)[0]
    return {
        "source_id": str(reader.need("id")),
        "key": key,
        "name": reader.get("name") or reader.need("summary"),
        "team_key": _teams(project_teams, reader).get(project, project),
        "status": details.get("fields.status.name"),
        "done": bool(reader.get("done", False)),
        "due_date": _date(details, "fields.duedate"),
        "created_at": details.time("fields.created"),
    }


# ------------------------------------------------------------------------------ ADF

_INLINE = re.compile(
    r"\*\*(?P<bold>[^*]+)\*\*|`(?P<code>[^`]+)`|\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]+)\)"
)
_BULLET = re.compile(r"^\s*[-*•]\s+(?P<text>.*)$")
_ORDERED = re.compile(r"^\s*\d+[.)]\s+(?P<text>.*)$")
_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<text>.*)$")


def inline(text: str) -> list[dict[str, Any]]:
    """ADF text nodes for one line: **bold**, `code` and [label](url) become marks."""
    nodes: list[dict[str, Any]] = []
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            nodes.append({"type": "text", "text": text[position : match.start()]})
        if match["bold"]:
            nodes.append({"type": "text", "text": match["bold"], "marks": [{"type": "strong"}]})
        elif match["code"]:
            nodes.append({"type": "text", "text": match["code"], "marks": [{"type": "code"}]})
        else:
            nodes.append(
                {
                    "type": "text",
                    "text": match["label"],
                    "marks": [{"type": "link", "attrs": {"href": match["href"]}}],
                }
            )
        position = match.end()
    if position < len(text):
        nodes.append({"type": "text", "text": text[position:]})
    return nodes


def _paragraph(lines: list[str]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        if index:
            content.append({"type": "hardBreak"})
        content.extend(inline(line))
    return {"type": "paragraph", "content": content}


def _list(kind: str, items: list[str]) -> dict[str, Any]:
    return {
        "type": kind,
        "content": [{"type": "listItem", "content": [_paragraph([item])]} for item in items],
    }


def adf_document(text: str) -> dict[str, Any]:
    """Plain text or light Markdown (paragraphs, '-' / '1.' lists, '#' headings) as an ADF doc."""
    blocks: list[dict[str, Any]] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_kind = ""

    def flush() -> None:
        nonlocal paragraph, items, list_kind
        if paragraph:
            blocks.append(_paragraph(paragraph))
        if items:
            blocks.append(_list(list_kind, items))
        paragraph, items, list_kind = [], [], ""

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        bullet, ordered, heading = _BULLET.match(line), _ORDERED.match(line), _HEADING.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            blocks.append(
                {
                    "type": "heading",
                    "attrs": {"level": len(heading["marks"])},
                    "content": inline(heading["text"]),
                }
            )
        elif bullet or ordered:
            kind = "bulletList" if bullet else "orderedList"
            if paragraph or (items and kind != list_kind):
                flush()
            list_kind = kind
            items.append((bullet or ordered)["text"])  # type: ignore[index]
        elif items and raw.startswith(("  ", "\t")):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return {"type": "doc", "version": 1, "content": blocks}


def adf_text(node: Any) -> str:
    """The plain text of an ADF node: blocks end with a newline (for logs and read-backs)."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    inner = "".join(adf_text(child) for child in node.get("content") or [])
    return inner + "\n" if node.get("type") in ("paragraph", "heading") else inner


__all__ = [
    "adf_document",
    "adf_text",
    "epic",
    "epic_key_of",
    "is_epic",
    "sprint",
    "ticket",
    "transitions",
]
