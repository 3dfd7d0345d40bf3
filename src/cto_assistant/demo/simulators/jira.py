"""Jira Cloud simulator: REST v3 search/changelog/create/attachments and Agile 1.0 boards/sprints/epics.

Serves a `World` in the shapes of the official descriptions (../shared/vendor-specs/jira/):

    GET  /rest/api/3/myself, /field, /priority, /project/search, /user/search?query=
    GET|POST /rest/api/3/search/jql        (nextPageToken paging, fields, expand=changelog)
    GET  /rest/api/3/issue/{idOrKey}       (an IssueBean, incl. issues created here)
    GET  /rest/api/3/issue/{idOrKey}/changelog   (startAt/maxResults/isLast)
    POST /rest/api/3/issue                 (IssueUpdateDetails → CreatedIssue, 201)
    POST /rest/api/3/issue/{idOrKey}/attachments (multipart `file`, X-Atlassian-Token: no-check)
    GET  /rest/agile/1.0/board, /board/{id}/sprint, /board/{id}/epic (startAt/maxResults/isLast)

World mapping: one project per `team` row with a `jira_project`; one scrum board per team
(`world.extras["jira"]["boards"]` = [{"id", "name", "project", "type"}] overrides, and a sprint's
`board` value names its board); `person.jira_account_id` is the user's accountId; `epic` and
`ticket` rows are issues whose Jira numeric id is `source_id`; `ticket_transition` rows are
changelog items grouped into histories by the part of `source_id` before ':' ("<history id>:<field>").
A transition's `field` is "status" (values are status names), "Sprint" (values are sprint ids,
comma-separated) or "points" (story points). A ticket's `assignee` is an accountId (an email is
accepted and mapped to that person's accountId).

Demo credentials (Jira Cloud basic auth with an API token, or a bearer PAT):
email `cto-assistant@acme.example`, token `acme-jira-demo-token`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cto_assistant.demo.simulators.common import (
    SimulatorState,
    basic_credentials,
    bearer_token,
    new_simulator,
    same,
)
from cto_assistant.demo.world import Row, World

DEMO_EMAIL = "cto-assistant@acme.example"
DEMO_TOKEN = "acme-jira-demo-token"  # noqa: S105 - documented demo credential
SITE = "https://acme.atlassian.net"
SPRINT_FIELD = "customfield_10020"
STORY_POINTS_FIELD = "customfield_10016"
AGILE_MAX_RESULTS = 50
SEARCH_MAX_RESULTS = 100

PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
ISSUE_TYPES: dict[str, tuple[str, int]] = {
    "Epic": ("10000", 1),
    "Story": ("10001", 0),
    "Task": ("10002", 0),
    "Bug": ("10003", 0),
    "Subtask": ("10004", -1),
}
CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
DONE_NAMES = {"done", "closed", "resolved", "released", "cancelled", "won't do"}
NEW_NAMES = {"to do", "backlog", "open", "new", "selected for development"}
CHANGELOG_FIELDS = {
    "status": ("status", "status", "jira"),
    "Sprint": ("Sprint", SPRINT_FIELD, "custom"),
}


def jira_time(moment: datetime | None) -> str | None:
    """A timestamp the way Jira writes it: 2026-01-10T12:30:45.000+0000."""
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def account_id_for(email: str) -> str:
    """A stable Atlassian-style accountId for a person without one."""
    return "5b10" + hashlib.sha1(email.lower().encode()).hexdigest()[:20]  # noqa: S324


def _guess_category(status: str) -> str:
    lowered = status.lower()
    if lowered in DONE_NAMES:
        return "done"
    if lowered in NEW_NAMES:
        return "new"
    return "indeterminate"


@dataclass
class Board:
    """One agile board of a project."""

    id: int
    name: str
    project: str
    type: str = "scrum"


@dataclass
class Issue:
    """One issue as the simulator holds it: the row it came from plus Jira-side extras."""

    id: int
    key: str
    project: str
    type: str
    summary: str
    status: str
    status_category: str
    created: datetime | None
    updated: datetime | None
    priority: str | None = None
    assignee: str | None = None  # accountId
    reporter: str | None = None
    parent_key: str | None = None
    sprint_ids: list[int] = field(default_factory=list)
    story_points: float | None = None
    labels: list[str] = field(default_factory=list)
    resolved: datetime | None = None
    due: date | None = None
    description: Any = None
    histories: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    epic_done: bool = False
    epic_name: str | None = None


class JiraWorld:
    """The world indexed once into Jira's vocabulary: users, projects, boards, sprints, issues."""

    def __init__(self, world: World, *, story_points_field: str) -> None:
        self.story_points_field = story_points_field
        self.users: dict[str, dict[str, Any]] = {}
        self.account_by_email: dict[str, str] = {}
        for person in world.rows("person"):
            email = str(person.get("email") or "")
            account = person.get("jira_account_id") or account_id_for(email)
            self.users[account] = {
                "accountId": account,
                "accountType": "atlassian",
                "active": bool(person.get("active", True)),
                "displayName": person.get("name") or email,
                "emailAddress": email,
                "timeZone": person.get("timezone") or "UTC",
            }
            if email:
                self.account_by_email[email.lower()] = account
        self.projects: dict[str, dict[str, Any]] = {}
        self.team_of_project: dict[str, str] = {}
        for index, team in enumerate(sorted(world.rows("team"), key=lambda t: str(t["key"]))):
            project = team.get("jira_project")
            if not project:
                continue
            self.projects[project] = {
                "id": str(10000 + index),
                "key": project,
                "name": team.get("name") or project,
            }
            self.team_of_project[str(team["key"])] = project
        self.sprints: dict[int, dict[str, Any]] = {}
        sprint_rows = list(world.rows("sprint"))
        self.boards = self._boards(world, sprint_rows)
        board_by_name = {b.name: b for b in self.boards}
        first_board: dict[str, Board] = {}
        for board in self.boards:
            first_board.setdefault(board.project, board)
        for row in sprint_rows:
            project = self.team_of_project.get(str(row.get("team_key")), str(row.get("team_key")))
            home = board_by_name.get(str(row.get("board"))) or first_board.get(project)
            if home is not None:
                self.sprints[int(row["source_id"])] = {"row": row, "board": home}
        self.statuses: dict[str, tuple[str, str]] = {}  # name → (id, category key)
        self.issues: dict[int, Issue] = {}
        self.by_key: dict[str, Issue] = {}
        for row in world.rows("epic"):
            self._add(self._epic_issue(row))
        for row in world.rows("ticket"):
            self._add(self._ticket_issue(row))
        self._histories(world)
        for name in ("To Do", "In Progress", "Done"):
            self.status(name)

    # ---------------------------------------------------------------- indexing

    def _boards(self, world: World, sprints: list[Row]) -> list[Board]:
        given = (world.extras.get("jira") or {}).get("boards")
        if given:
            return [
                Board(int(b["id"]), str(b["name"]), str(b["project"]), str(b.get("type", "scrum")))
                for b in given
            ]
        boards: list[Board] = []
        names: set[str] = set()
        for team_key, project in sorted(self.team_of_project.items()):
            wanted = sorted(
                {
                    str(s["board"])
                    for s in sprints
                    if s.get("team_key") == team_key and s.get("board")
                }
            )
            for name in wanted or [f"{project} board"]:
                if name not in names:
                    names.add(name)
                    boards.append(Board(len(boards) + 1, name, project))
        return boards

    def status(self, name: str, category: str | None = None) -> tuple[str, str]:
        """The (id, category) of a status name, registering it on first sight."""
        known = self.statuses.get(name)
        if known is None or (category and known[1] != category):
            status_id = known[0] if known else str(10000 + len(self.statuses))
            known = (status_id, category or (known[1] if known else _guess_category(name)))
            self.statuses[name] = known
        return known

    def account(self, value: Any) -> str | None:
        """The accountId for an accountId or an email (unknown ids are kept as they are)."""
        if not value:
            return None
        text = str(value)
        if text in self.users:
            return text
        return self.account_by_email.get(text.lower(), text)

    def _add(self, issue: Issue) -> None:
        self.issues[issue.id] = issue
        self.by_key[issue.key] = issue
        self.status(issue.status, issue.status_category)

    def _epic_issue(self, row: Row) -> Issue:
        key = str(row["key"])
        project = self.team_of_project.get(str(row.get("team_key")), key.rsplit("-", 1)[0])
        done = bool(row.get("done"))
        status = str(row.get("status") or ("Done" if done else "In Progress"))
        created = row.get("created_at")
        return Issue(
            id=int(row["source_id"]),
            key=key,
            project=project,
            type="Epic",
            summary=str(row.get("name") or key),
            status=status,
            status_category=_guess_category(status) if not done else "done",
            created=created,
            updated=created,
            due=row.get("due_date"),
            epic_done=done,
            epic_name=row.get("name"),
        )

    def _ticket_issue(self, row: Row) -> Issue:
        key = str(row["key"])
        project = str(row.get("project") or key.rsplit("-", 1)[0])
        status = str(row.get("status") or "To Do")
        points = row.get("story_points")
        return Issue(
            id=int(row["source_id"]),
            key=key,
            project=project,
            type=str(row.get("type") or "Task"),
            summary=str(row.get("summary") or key),
            status=status,
            status_category=str(row.get("status_category") or _guess_category(status)),
            created=row.get("created_at"),
            updated=row.get("updated_at") or row.get("created_at"),
            priority=row.get("priority"),
            assignee=self.account(row.get("assignee")),
            parent_key=row.get("epic_key"),
            sprint_ids=[int(s) for s in row.get("sprint_source_ids") or []],
            story_points=float(points) if points is not None else None,
            labels=list(row.get("labels") or []),
            resolved=row.get("resolved_at"),
            due=row.get("due_date"),
        )

    def _histories(self, world: World) -> None:
        grouped: dict[tuple[str, str], list[Row]] = {}
        for row in world.rows("ticket_transition"):
            history_id = str(row["source_id"]).split(":", 1)[0]
            grouped.setdefault((str(row["ticket_key"]), history_id), []).append(row)
        for (ticket_key, history_id), rows in grouped.items():
            issue = self.by_key.get(ticket_key)
            if issue is None:
                continue
            first = rows[0]
            author = self.account(first.get("author"))
            history: dict[str, Any] = {
                "id": history_id,
                "created": jira_time(first["at"]),
                "items": [self._change_item(row) for row in rows],
            }
            if author:
                history["author"] = self.user_details(author)
            issue.histories.append(history)
        for issue in self.issues.values():
            issue.histories.sort(
                key=lambda h: (h["created"], int(h["id"]) if h["id"].isdigit() else 0)
            )

    def _change_item(self, row: Row) -> dict[str, Any]:
        name = str(row.get("field") or "status")
        old, new = row.get("from_value"), row.get("to_value")
        if name == "status":
            item = {"field": "status", "fieldId": "status", "fieldtype": "jira"}
            if old is not None:
                item |= {"from": self.status(str(old))[0], "fromString": str(old)}
            if new is not None:
                item |= {"to": self.status(str(new))[0], "toString": str(new)}
            return item
        if name == "Sprint":
            item = {
                "field": "Sprint",
                "fieldId": SPRINT_FIELD,
                "fieldtype": "custom",
                "from": "",
                "fromString": "",
                "to": "",
                "toString": "",
            }
            for side, value in (("from", old), ("to", new)):
                ids = [s.strip() for s in str(value or "").split(",") if s.strip()]
                names = [
                    str(self.sprints[int(i)]["row"]["name"])
                    for i in ids
                    if i.isdigit() and int(i) in self.sprints
                ]
                item[side] = ", ".join(ids)
                item[f"{side}String"] = ", ".join(names)
            return item
        if name == "points":
            item = {
                "field": "Story point estimate",
                "fieldId": self.story_points_field,
                "fieldtype": "custom",
            }
        else:
            item = {"field": name, "fieldtype": "jira"}
        if old is not None:
            item["fromString"] = str(old)
        if new is not None:
            item["toString"] = str(new)
        return item

    # ---------------------------------------------------------------- JSON shapes

    def user_details(self, account: str) -> dict[str, Any]:
        """A UserDetails object (as nested in issues and changelogs)."""
        user = self.users.get(account) or {
            "accountId": account,
            "accountType": "atlassian",
            "active": True,
            "displayName": account,
        }
        return {"self": f"{SITE}/rest/api/3/user?accountId={account}", **user}

    def user(self, account: str) -> dict[str, Any]:
        """A User object (/myself, /user/search)."""
        return self.user_details(account) | {"locale": "en_US"}

    def project_details(self, key: str) -> dict[str, Any]:
        """A ProjectDetails-like object for issue fields."""
        project = self.projects.get(key) or {"id": "0", "key": key, "name": key}
        return {
            "self": f"{SITE}/rest/api/3/project/{project['id']}",
            "id": project["id"],
            "key": key,
            "name": project["name"],
            "projectTypeKey": "software",
            "simplified": False,
        }

    def issue_type(self, name: str) -> dict[str, Any]:
        """An issue type object."""
        type_id, level = ISSUE_TYPES.get(name, (str(10100 + sum(map(ord, name)) % 900), 0))
        return {
            "self": f"{SITE}/rest/api/3/issuetype/{type_id}",
            "id": type_id,
            "name": name,
            "subtask": level < 0,
            "hierarchyLevel": level,
        }

    def status_object(self, name: str) -> dict[str, Any]:
        """A status object with its category."""
        status_id, category = self.status(name)
        cat_id, cat_name, color = CATEGORIES.get(category, CATEGORIES["indeterminate"])
        return {
            "self": f"{SITE}/rest/api/3/status/{status_id}",
            "id": status_id,
            "name": name,
            "statusCategory": {
                "self": f"{SITE}/rest/api/3/statuscategory/{cat_id}",
                "id": cat_id,
                "key": category,
                "colorName": color,
                "name": cat_name,
            },
        }

    def sprint_object(self, sprint_id: int) -> dict[str, Any]:
        """A sprint as Agile 1.0 returns it (also the Sprint field's items)."""
        entry = self.sprints[sprint_id]
        row, board = entry["row"], entry["board"]
        body: dict[str, Any] = {
            "id": sprint_id,
            "self": f"{SITE}/rest/agile/1.0/sprint/{sprint_id}",
            "state": row.get("state") or "future",
            "name": row["name"],
            "originBoardId": board.id,
        }
        for key, column in (
            ("startDate", "start_at"),
            ("endDate", "end_at"),
            ("completeDate", "complete_at"),
        ):
            if row.get(column) is not None:
                body[key] = iso_z(row[column])
        if row.get("goal"):
            body["goal"] = row["goal"]
        return body

    def issue_fields(self, issue: Issue) -> dict[str, Any]:
        """Every field of an issue, keyed by field id."""
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "issuetype": self.issue_type(issue.type),
            "status": self.status_object(issue.status),
            "project": self.project_details(issue.project),
            "priority": (
                {
                    "self": f"{SITE}/rest/api/3/priority/{priority_id(issue.priority)}",
                    "id": priority_id(issue.priority),
                    "name": issue.priority,
                }
                if issue.priority
                else None
            ),
            "assignee": self.user_details(issue.assignee) if issue.assignee else None,
            "reporter": self.user_details(issue.reporter) if issue.reporter else None,
            "labels": issue.labels,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "resolutiondate": jira_time(issue.resolved),
            "duedate": issue.due.isoformat() if issue.due else None,
            "description": issue.description,
            self.story_points_field: issue.story_points,
            SPRINT_FIELD: (
                [
                    self.sprint_object(s) | {"boardId": self.sprints[s]["board"].id}
                    for s in issue.sprint_ids
                    if s in self.sprints
                ]
                or None
            ),
            "attachment": issue.attachments,
        }
        parent = self.by_key.get(issue.parent_key) if issue.parent_key else None
        if issue.parent_key:
            parent_type = parent.type if parent else "Epic"
            fields["parent"] = {
                "id": str(parent.id) if parent else "0",
                "key": issue.parent_key,
                "self": f"{SITE}/rest/api/3/issue/{parent.id if parent else 0}",
                "fields": {
                    "summary": parent.summary if parent else issue.parent_key,
                    "status": self.status_object(parent.status if parent else "To Do"),
                    "issuetype": self.issue_type(parent_type),
                },
            }
        return fields

    def issue_bean(
        self, issue: Issue, *, fields: list[str] | None, expand: set[str], changelog_limit: int
    ) -> dict[str, Any]:
        """An IssueBean with the requested fields (None: all) and expansions."""
        every = self.issue_fields(issue)
        wanted = every if fields is None else {k: every.get(k) for k in fields if k in every}
        bean: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": str(issue.id),
            "self": f"{SITE}/rest/api/3/issue/{issue.id}",
            "key": issue.key,
            "fields": wanted,
        }
        if "changelog" in expand:
            shown = issue.histories[:changelog_limit]
            bean["changelog"] = {
                "startAt": 0,
                "maxResults": len(shown),
                "total": len(issue.histories),
                "histories": shown,
            }
        return bean


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z (Agile 1.0 dates)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def priority_id(name: str | None) -> str:
    """The id of a priority name (the standard five first)."""
    if name in PRIORITIES:
        return str(PRIORITIES.index(name) + 1)
    return str(10000 + sum(map(ord, name or "")) % 1000)


# ------------------------------------------------------------------------------------ JQL


class JQLError(ValueError):
    """A JQL query the simulator cannot run (Jira answers 400)."""


_CLAUSE = re.compile(
    r"^\s*(?P<field>\w+)\s*(?P<op>>=|<=|!=|=|>|<|not\s+in|in)\s*(?P<value>.+?)\s*$", re.I
)


@dataclass
class JQL:
    """A parsed query: AND-ed clauses and an ORDER BY."""

    clauses: list[tuple[str, str, list[str]]]
    order: list[tuple[str, bool]]

    @staticmethod
    def parse(text: str) -> JQL:
        """Parse the subset of JQL the connector sends (AND-ed field clauses, ORDER BY)."""
        where, order_text = text, ""
        if re.search(r"\border\s+by\b", text, re.I):
            where, order_text = re.split(r"\border\s+by\b", text, maxsplit=1, flags=re.I)
        order = []
        for part in filter(None, (p.strip() for p in order_text.split(","))):
            name, _, direction = part.partition(" ")
            order.append((name.lower(), direction.strip().lower() == "desc"))
        clauses = []
        for raw in re.split(r"\s+and\s+", where.strip(), flags=re.I):
            raw = raw.strip()
            while raw.startswith("(") and raw.endswith(")") and raw.count("(") == 1:
                raw = raw[1:-1].strip()
            if not raw:
                continue
            match = _CLAUSE.match(raw)
            if match is None:
                raise JQLError(f"Error in the JQL Query: cannot parse '{raw[:60]}'.")
            value = match["value"].strip()
            if value.startswith("("):
                values = [v.strip().strip("\"'") for v in value.strip("()").split(",")]
            else:
                values = [value.strip("\"'")]
            op = " ".join(match["op"].lower().split())
            clauses.append((match["field"].lower(), op, values))
        if not clauses:
            raise JQLError(
                "Unbounded JQL queries are not allowed here. Please add a search "
                "restriction to your query."
            )
        return JQL(clauses, order)


@functools.lru_cache(maxsize=256)
def _bound(name: str, value: str, zone: ZoneInfo) -> datetime:
    """A JQL date ('yyyy-MM-dd HH:mm' or 'yyyy-MM-dd') in the user's zone."""
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    raise JQLError(f"Date value '{value}' for field '{name}' is invalid.")


def _matches(issue: Issue, clause: tuple[str, str, list[str]], zone: ZoneInfo) -> bool:
    name, op, values = clause
    if name == "updated" or name == "created":
        moment = issue.updated if name == "updated" else issue.created
        if moment is None:
            return False
        bound = _bound(name, values[0], zone)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return {
            ">=": moment >= bound,
            ">": moment >= bound + timedelta(minutes=1),
            "<=": moment < bound + timedelta(minutes=1),
            "<": moment < bound,
        }.get(op, False)
    actual = {
        "project": issue.project,
        "issuetype": issue.type,
        "type": issue.type,
        "key": issue.key,
        "issuekey": issue.key,
        "id": str(issue.id),
        "status": issue.status,
    }.get(name)
    if actual is None and name not in ("project", "key", "id", "status"):
        raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.")
    folded = {v.lower() for v in values}
    hit = str(actual).lower() in folded
    if op in ("=", "in"):
        return hit
    if op in ("!=", "not in"):
        return not hit
    raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")


def _moment_or(name: str, default: datetime, issue: Issue) -> datetime:
    moment = issue.updated if name == "updated" else issue.created
    return moment or default


def search(jira: JiraWorld, jql: JQL, zone: ZoneInfo) -> list[Issue]:
    """The issues matching a query, in its order (default: key)."""
    found = [i for i in jira.issues.values() if all(_matches(i, c, zone) for c in jql.clauses)]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for name, descending in reversed(jql.order or [("key", False)]):
        if name in ("updated", "created"):
            found.sort(key=functools.partial(_moment_or, name, epoch), reverse=descending)
        elif name in ("key", "id"):
            found.sort(key=lambda i: (i.project, i.id), reverse=descending)
        else:
            raise JQLError(f"Not able to sort using field '{name}'.")
    return found


def _token(jql_text: str, offset: int) -> str:
    digest = hashlib.sha256(jql_text.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{digest}:{offset}".encode()).decode()


def _offset(jql_text: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        digest, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if digest != hashlib.sha256(jql_text.encode()).hexdigest()[:12]:
            raise ValueError("token of another query")
        return int(offset)
    except ValueError as exc:
        raise JQLError("The provided next page token is invalid or expired.") from exc


# ------------------------------------------------------------------------------------ app


def _error(status: int, *messages: str, errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errorMessages": list(messages), "errors": errors or {}}, status)


def _page(values: list[Any], start: int, size: int) -> dict[str, Any]:
    chunk = values[start : start + size]
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(values),
        "isLast": start + len(chunk) >= len(values),
        "values": chunk,
    }


def _int(value: str | None, default: int, *, cap: int | None = None) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        number = default
    number = max(0, number)
    return min(number, cap) if cap else number


def make_app(
    world: World,
    *,
    credentials: dict[str, str] | None = None,
    story_points_field: str = STORY_POINTS_FIELD,
    time_zone: str = "UTC",
    changelog_inline_limit: int = 100,
) -> FastAPI:
    """The Jira Cloud simulator app serving `world` (demo credentials by default)."""
    creds = credentials or {"email": DEMO_EMAIL, "token": DEMO_TOKEN}
    app, state = new_simulator("jira", world, credentials=creds)
    jira = JiraWorld(world, story_points_field=story_points_field)
    zone = ZoneInfo(time_zone)
    me = creds.get("account_id") or account_id_for(creds.get("email", DEMO_EMAIL))
    jira.users.setdefault(
        me,
        {
            "accountId": me,
            "accountType": "atlassian",
            "active": True,
            "displayName": "CTO Assistant",
            "emailAddress": creds.get("email", DEMO_EMAIL),
            "timeZone": time_zone,
        },
    )
    jira.users[me]["timeZone"] = time_zone
    app.state.jira = jira

    def authorized(request: Request) -> bool:
        basic = basic_credentials(request)
        if basic is not None:
            return same(basic[0], creds.get("email")) and same(basic[1], creds.get("token"))
        return same(bearer_token(request), creds.get("token"))

    @app.middleware("http")
    async def auth_first(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/_control") and not authorized(request):
            return _error(
                401, "You are not authenticated. Authentication required to perform this operation."
            )
        response: Response = await call_next(request)
        return response

    @app.get("/rest/api/3/myself")
    def myself() -> dict[str, Any]:
        return jira.user(me) | {
            "applicationRoles": {"size": 1, "items": []},
            "groups": {"size": 1, "items": []},
        }

    @app.get("/rest/api/3/user/search")
    def user_search(query: str = "", startAt: int = 0, maxResults: int = 50) -> list[Any]:
        needle = query.lower()
        found = [
            jira.user(a)
            for a, u in sorted(jira.users.items())
            if needle
            and (
                str(u.get("emailAddress", "")).lower().startswith(needle)
                or str(u.get("displayName", "")).lower().startswith(needle)
            )
        ]
        return found[startAt : startAt + maxResults]

    @app.get("/rest/api/3/field")
    def fields() -> list[Any]:
        def system(fid: str, name: str, kind: str, **extra: Any) -> dict[str, Any]:
            return {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [fid],
                "schema": {"type": kind, "system": fid, **extra},
            }

        def custom(fid: str, name: str, kind: str, plugin: str, **extra: Any) -> dict[str, Any]:
            number = int(fid.removeprefix("customfield_"))
            return {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{number}]", name],
                "schema": {"type": kind, "custom": plugin, "customId": number, **extra},
            }

        return [
            system("summary", "Summary", "string"),
            system("issuetype", "Issue Type", "issuetype"),
            system("status", "Status", "status"),
            system("priority", "Priority", "priority"),
            system("assignee", "Assignee", "user"),
            system("project", "Project", "project"),
            system("parent", "Parent", "issuelink"),
            system("labels", "Labels", "array", items="string"),
            system("created", "Created", "datetime"),
            system("updated", "Updated", "datetime"),
            system("resolutiondate", "Resolved", "datetime"),
            system("duedate", "Due date", "date"),
            system("description", "Description", "string"),
            custom(
                story_points_field,
                "Story point estimate",
                "number",
                "com.pyxis.greenhopper.jira:jsw-story-points",
            ),
            custom(
                SPRINT_FIELD,
                "Sprint",
                "array",
                "com.pyxis.greenhopper.jira:gh-sprint",
                items="json",
            ),
        ]

    @app.get("/rest/api/3/priority")
    def priorities() -> list[Any]:
        colors = ["#d04437", "#f15C75", "#f79232", "#707070", "#999999"]
        return [
            {
                "self": f"{SITE}/rest/api/3/priority/{i + 1}",
                "id": str(i + 1),
                "name": name,
                "description": f"{name} priority",
                "statusColor": colors[i],
                "iconUrl": f"{SITE}/images/icons/priorities/{name.lower()}.svg",
                "isDefault": name == "Medium",
            }
            for i, name in enumerate(PRIORITIES)
        ]

    @app.get("/rest/api/3/project/search")
    def project_search(startAt: int = 0, maxResults: int = 50) -> dict[str, Any]:
        values = [
            {
                "self": f"{SITE}/rest/api/3/project/{p['id']}",
                "id": p["id"],
                "key": key,
                "name": p["name"],
                "projectTypeKey": "software",
                "simplified": False,
                "style": "classic",
                "isPrivate": False,
                "expand": "description,lead",
            }
            for key, p in sorted(jira.projects.items())
        ]
        size = min(max(1, maxResults), 50)
        page = _page(values, startAt, size)
        page["self"] = f"{SITE}/rest/api/3/project/search?startAt={startAt}&maxResults={size}"
        if not page["isLast"]:
            page["nextPage"] = (
                f"{SITE}/rest/api/3/project/search?startAt={startAt + size}&maxResults={size}"
            )
        return page

    def run_search(params: dict[str, Any]) -> JSONResponse:
        jql_text = str(params.get("jql") or "")
        try:
            query = JQL.parse(jql_text)
            start = _offset(jql_text, params.get("nextPageToken"))
            found = search(jira, query, zone)
        except JQLError as exc:
            return _error(400, str(exc))
        size = _int(params.get("maxResults"), 50, cap=SEARCH_MAX_RESULTS) or 50
        raw_fields = params.get("fields")
        names = (
            raw_fields
            if isinstance(raw_fields, list)
            else (str(raw_fields).split(",") if raw_fields else ["id"])
        )
        names = [n.strip() for n in names if n.strip()]
        wanted: list[str] | None = (
            None if "*all" in names or "*navigable" in names else [n for n in names if n != "id"]
        )
        expand = {e.strip() for e in str(params.get("expand") or "").split(",") if e.strip()}
        chunk = found[start : start + size]
        body: dict[str, Any] = {
            "issues": [
                jira.issue_bean(
                    i, fields=wanted, expand=expand, changelog_limit=changelog_inline_limit
                )
                for i in chunk
            ],
            "isLast": start + len(chunk) >= len(found),
        }
        if not body["isLast"]:
            body["nextPageToken"] = _token(jql_text, start + len(chunk))
        return JSONResponse(body)

    @app.get("/rest/api/3/search/jql")
    def search_get(request: Request) -> JSONResponse:
        params: dict[str, Any] = dict(request.query_params)
        if len(request.query_params.getlist("fields")) > 1:
            params["fields"] = ",".join(request.query_params.getlist("fields"))
        return run_search(params)

    @app.post("/rest/api/3/search/jql")
    async def search_post(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "Invalid request payload. Refer to the REST API documentation.")
        return run_search(body if isinstance(body, dict) else {})

    def find(id_or_key: str) -> Issue | None:
        if id_or_key.isdigit():
            return jira.issues.get(int(id_or_key))
        return jira.by_key.get(id_or_key.upper())

    @app.get("/rest/api/3/issue/{id_or_key}")
    def get_issue(id_or_key: str, request: Request) -> JSONResponse:
        issue = find(id_or_key)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        names = request.query_params.get("fields")
        wanted = None if not names or names in ("*all", "*navigable") else names.split(",")
        expand = set((request.query_params.get("expand") or "").split(","))
        return JSONResponse(
            jira.issue_bean(
                issue, fields=wanted, expand=expand, changelog_limit=changelog_inline_limit
            )
        )

    @app.get("/rest/api/3/issue/{id_or_key}/changelog")
    def changelog(id_or_key: str, request: Request) -> JSONResponse:
        issue = find(id_or_key)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        start = _int(request.query_params.get("startAt"), 0)
        size = _int(request.query_params.get("maxResults"), 100, cap=100) or 100
        page = _page(issue.histories, start, size)
        base = f"{SITE}/rest/api/3/issue/{issue.key}/changelog"
        page["self"] = f"{base}?startAt={start}&maxResults={size}"
        if not page["isLast"]:
            page["nextPage"] = f"{base}?startAt={start + size}&maxResults={size}"
        return JSONResponse(page)

    @app.post("/rest/api/3/issue")
    async def create_issue(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "Invalid request payload. Refer to the REST API documentation.")
        return _create(jira, state, body, me)

    @app.post("/rest/api/3/issue/{id_or_key}/attachments")
    async def add_attachments(id_or_key: str, request: Request) -> JSONResponse:
        if request.headers.get("x-atlassian-token", "").lower() != "no-check":
            return JSONResponse({"message": "XSRF check failed"}, 403)
        issue = find(id_or_key)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        form = await request.form()
        uploads = [f for f in form.getlist("file") if not isinstance(f, str)]
        if not uploads:
            return _error(400, "No attachments were provided (multipart field 'file').")
        added = []
        for upload in uploads:
            content = await upload.read()
            attachment_id = str(20000 + sum(len(i.attachments) for i in jira.issues.values()))
            media = upload.content_type or "application/octet-stream"
            meta = {
                "self": f"{SITE}/rest/api/3/attachment/{attachment_id}",
                "id": attachment_id,
                "filename": upload.filename or "file",
                "author": jira.user_details(me),
                "created": jira_time(datetime.now(UTC)),
                "size": len(content),
                "mimeType": media,
                "content": f"{SITE}/rest/api/3/attachment/content/{attachment_id}",
            }
            if media.startswith("image/"):
                meta["thumbnail"] = f"{SITE}/rest/api/3/attachment/thumbnail/{attachment_id}"
            issue.attachments.append(meta)
            with state.lock:
                state.created.append(
                    {
                        "kind": "attachment",
                        "issue_key": issue.key,
                        "filename": meta["filename"],
                        "size": len(content),
                        "mimeType": media,
                        "content": content,
                    }
                )
            added.append(meta)
        return JSONResponse(added)

    @app.get("/rest/agile/1.0/board")
    def boards(request: Request) -> dict[str, Any]:
        query = request.query_params
        wanted = query.get("projectKeyOrId")
        kind = query.get("type")
        values = [
            board_json(b)
            for b in jira.boards
            if (not wanted or wanted in (b.project, jira.projects.get(b.project, {}).get("id")))
            and (not kind or b.type == kind)
        ]
        return _page(
            values,
            _int(query.get("startAt"), 0),
            _int(query.get("maxResults"), 50, cap=AGILE_MAX_RESULTS) or 50,
        )

    def board_json(board: Board) -> dict[str, Any]:
        project = jira.projects.get(board.project, {"id": "0", "name": board.project})
        return {
            "id": board.id,
            "self": f"{SITE}/rest/agile/1.0/board/{board.id}",
            "name": board.name,
            "type": board.type,
            "location": {
                "projectId": int(project["id"]),
                "projectKey": board.project,
                "projectName": project["name"],
                "projectTypeKey": "software",
                "displayName": f"{project['name']} ({board.project})",
                "name": f"{project['name']} ({board.project})",
            },
        }

    def board_of(board_id: int) -> Board | None:
        return next((b for b in jira.boards if b.id == board_id), None)

    @app.get("/rest/agile/1.0/board/{board_id}/sprint")
    def sprints(board_id: int, request: Request) -> JSONResponse:
        board = board_of(board_id)
        if board is None:
            return _error(
                404, f"Board {board_id} does not exist or you do not have permission to see it."
            )
        if board.type != "scrum":
            return _error(400, "The board does not support sprints")
        query = request.query_params
        states = {s.strip() for s in (query.get("state") or "").split(",") if s.strip()}
        order = {"closed": 0, "active": 1, "future": 2}
        chosen = sorted(
            (
                sid
                for sid, e in jira.sprints.items()
                if e["board"].id == board_id and (not states or e["row"].get("state") in states)
            ),
            key=lambda sid: (order.get(str(jira.sprints[sid]["row"].get("state")), 3), sid),
        )
        return JSONResponse(
            _page(
                [jira.sprint_object(s) for s in chosen],
                _int(query.get("startAt"), 0),
                _int(query.get("maxResults"), 50, cap=AGILE_MAX_RESULTS) or 50,
            )
        )

    @app.get("/rest/agile/1.0/board/{board_id}/epic")
    def epics(board_id: int, request: Request) -> JSONResponse:
        board = board_of(board_id)
        if board is None:
            return _error(
                404, f"Board {board_id} does not exist or you do not have permission to see it."
            )
        query = request.query_params
        done = query.get("done")
        chosen = [
            i
            for i in sorted(jira.issues.values(), key=lambda i: i.id)
            if i.type == "Epic"
            and i.project == board.project
            and (done is None or str(i.epic_done).lower() == done.lower())
        ]
        values = [
            {
                "id": i.id,
                "key": i.key,
                "self": f"{SITE}/rest/agile/1.0/epic/{i.id}",
                "name": i.epic_name or i.summary,
                "summary": i.summary,
                "color": {"key": f"color_{i.id % 14 + 1}"},
                "done": i.epic_done,
            }
            for i in chosen
        ]
        return JSONResponse(
            _page(
                values,
                _int(query.get("startAt"), 0),
                _int(query.get("maxResults"), 50, cap=AGILE_MAX_RESULTS) or 50,
            )
        )

    return app


def _adf_text(node: Any) -> str:
    if isinstance(node, dict):
        own = node.get("text", "") if node.get("type") == "text" else ""
        return own + " ".join(_adf_text(c) for c in node.get("content", []) or [])
    return ""


def _create(jira: JiraWorld, state: SimulatorState, body: Any, me: str) -> JSONResponse:
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        return _error(400, "Request body must contain 'fields'.")
    errors: dict[str, str] = {}
    project = (fields.get("project") or {}).get("key") or next(
        (k for k, p in jira.projects.items() if p["id"] == (fields.get("project") or {}).get("id")),
        None,
    )
    if project not in jira.projects:
        errors["project"] = "Specify a valid project ID or key"
    issue_type = (fields.get("issuetype") or {}).get("name") or next(
        (n for n, (i, _) in ISSUE_TYPES.items() if i == (fields.get("issuetype") or {}).get("id")),
        None,
    )
    if not issue_type:
        errors["issuetype"] = "Specify an issue type"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    description = fields.get("description")
    if description is not None and not (
        isinstance(description, dict)
        and description.get("type") == "doc"
        and description.get("version") == 1
    ):
        errors["description"] = (
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)."
        )
    priority = (fields.get("priority") or {}).get("name") if fields.get("priority") else None
    if fields.get("priority") and priority not in PRIORITIES:
        priority_by_id = {priority_id(p): p for p in PRIORITIES}
        priority = priority_by_id.get(str((fields.get("priority") or {}).get("id")))
        if priority is None:
            errors["priority"] = "Specify the Priority (id or name) in the proper format"
    assignee = (fields.get("assignee") or {}).get("accountId") if fields.get("assignee") else None
    if assignee is not None and assignee not in jira.users:
        errors["assignee"] = f"User '{assignee}' cannot be assigned issues."
    labels = fields.get("labels") or []
    if not isinstance(labels, list) or any(not isinstance(x, str) or " " in x for x in labels):
        errors["labels"] = "Labels must be strings without spaces."
    if errors:
        return _error(400, errors=errors)
    assert isinstance(project, str) and isinstance(issue_type, str) and isinstance(summary, str)
    with state.lock:
        new_id = max(jira.issues, default=10000) + 1
        numbers = [
            int(k.rsplit("-", 1)[1])
            for k in jira.by_key
            if k.startswith(f"{project}-") and k.rsplit("-", 1)[1].isdigit()
        ]
        key = f"{project}-{max(numbers, default=0) + 1}"
        now = datetime.now(UTC).replace(microsecond=0)
        issue = Issue(
            id=new_id,
            key=key,
            project=project,
            type=issue_type,
            summary=summary,
            status="To Do",
            status_category="new",
            created=now,
            updated=now,
            priority=priority or "Medium",
            assignee=assignee,
            reporter=me,
            labels=list(labels),
            description=description,
        )
        jira._add(issue)
        state.created.append(
            {
                "kind": "issue",
                "id": str(new_id),
                "key": key,
                "fields": fields,
                "description_text": _adf_text(description),
            }
        )
    return JSONResponse(
        {"id": str(new_id), "key": key, "self": f"{SITE}/rest/api/3/issue/{new_id}"}, 201
    )


__all__ = ["DEMO_EMAIL", "DEMO_TOKEN", "JiraWorld", "make_app"]
