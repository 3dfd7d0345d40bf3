"""The Jira Cloud connector: sprints, epics and issues (with changelog transitions), plus actions.

Reads Jira Cloud REST v3 (`/rest/api/3/search/jql` with nextPageToken paging, issue changelogs)
and Jira Software Agile 1.0 (boards, sprints, epics). Auth is Jira Cloud basic auth with an
account email and API token, or a bearer personal access token when no email is configured.

Streams
- `sprints`: every sprint of every scrum board (of the configured projects) → `sprint`.
- `epics`: the epics of every board → `epic`, enriched with status, due date and created time
  from one JQL search per 50 epics.
- `issues` (incremental): JQL `updated >= "yyyy-MM-dd HH:mm" ORDER BY updated ASC` → `ticket`
  and `ticket_transition` (status, Sprint and story-point changes from the changelog; long
  changelogs are read from `/issue/{id}/changelog`). A checkpoint follows every page. JQL dates
  have minute granularity and are read in the API user's time zone, so the boundary minute is
  pulled again on the next run (upserts make that harmless) and the cursor is converted to that
  zone (`timezone` setting, or looked up once from `/rest/api/3/myself`).

Actions: `create_issue`, `add_attachment`, `find_account_id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import Field, SecretStr, field_validator

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.jira import mapping
from cto_assistant.connectors.pagination import JsonCursor, PageRequest, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.errors import ConnectorError, SchemaDriftError
from cto_assistant.http import VendorClient, build_client, decode_json
from cto_assistant.logging import get_logger

log = get_logger("connectors.jira")

SEARCH_URL = "rest/api/3/search/jql"
EPIC_KEYS_PER_SEARCH = 50
FULL_SYNC_FLOOR = "1970-01-01 00:00"  # search/jql refuses unbounded queries
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


class JiraConfig(ConnectorConfig):
    """Settings of a Jira Cloud source."""

    kind: str = Field(default="jira", description="Connector kind.")
    email: str | None = Field(
        default=None,
        description="Account email for Jira Cloud basic auth; leave unset to send the token "
        "as a bearer personal access token.",
    )
    token: SecretStr = Field(description="Jira API token (with `email`) or personal access token.")
    story_points_field: str = Field(
        default="customfield_10016", description="Custom field id holding story points."
    )
    sprint_field: str = Field(
        default="customfield_10020", description="Custom field id of the Sprint field."
    )
    epic_link_field: str | None = Field(
        default=None,
        description="Legacy Epic Link custom field id (e.g. customfield_10014); `parent` is "
        "always used when it is an epic.",
    )
    projects: list[str] | None = Field(
        default=None, description="Only these project keys (default: every visible project)."
    )
    jql_extra: str | None = Field(
        default=None,
        description="Extra JQL AND-ed to the issue search, e.g. 'issuetype != Sub-task'.",
    )
    project_teams: dict[str, str] = Field(
        default_factory=dict,
        description="Project key → team key, where they differ (default: the project key).",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the API user's Jira profile (JQL dates are read in it); "
        "unset: looked up from /rest/api/3/myself once per connector.",
    )

    @field_validator("projects")
    @classmethod
    def _project_keys(cls, value: list[str] | None) -> list[str] | None:
        for key in value or []:
            if not _PROJECT_KEY.match(key):
                raise ValueError(f"{key!r} is not a Jira project key (e.g. 'PAY')")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


@dataclass
class StartAtPaging:
    """Atlassian startAt/maxResults paging that stops on `isLast` (or the total, or a short page)."""

    page_size: int = 50
    _start: int = 0

    def first(self, request: PageRequest) -> None:
        """Ask for the first page."""
        self._start = 0
        request.params["startAt"] = 0
        request.params["maxResults"] = self.page_size

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Move past the items received (the server may return fewer than asked)."""
        if not items or not isinstance(body, dict) or body.get("isLast") is True:
            return False
        self._start += len(items)
        if body.get("isLast") is None:
            total = body.get("total")
            if total is not None and self._start >= int(total):
                return False
            if total is None and len(items) < self.page_size:
                return False
        request.params["startAt"] = self._start
        return True


class JiraConnector(Connector):
    """Jira Cloud: sprints, epics, issues + transitions; actions create issue and attach."""

    kind = "jira"
    config_model = JiraConfig
    category = "engineering"
    streams = (
        Stream("sprints", tables=("sprint",), description="Sprints of every scrum board."),
        Stream("epics", tables=("epic",), description="Epics of every board, with due dates."),
        Stream(
            "issues",
            tables=("ticket", "ticket_transition"),
            incremental=True,
            description="Issues updated since the cursor, with their changelog transitions.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        config = context.config
        assert isinstance(config, JiraConfig)
        self.settings = config
        token = config.token.get_secret_value()
        if config.email:
            self.client: VendorClient = build_client(
                context, auth=(config.email, token), secrets=(token,)
            )
        else:
            self.client = build_client(
                context, headers={"Authorization": f"Bearer {token}"}, secrets=(token,)
            )
        self._zone: ZoneInfo | None = ZoneInfo(config.timezone) if config.timezone else None

    # ------------------------------------------------------------------ helpers

    def _pages(
        self, url: str, *, stream: str, params: dict[str, Any] | None = None, items: str = "values"
    ) -> Iterator[list[Any]]:
        size = min(self.settings.page_size, 100)
        for page in paginate(
            self.client,
            "GET",
            url,
            strategy=StartAtPaging(page_size=size),
            items=items,
            stream=stream,
            params=params,
        ):
            yield page.items

    def _boards(self, stream: str) -> list[dict[str, Any]]:
        """Boards of the configured projects (all visible boards without a project filter)."""
        wanted = set(self.settings.projects or [])
        boards: list[dict[str, Any]] = []
        for items in self._pages("rest/agile/1.0/board", stream=stream):
            for board in items:
                reader = Reader(board, source=self.name, stream=stream, what="board")
                reader.need("id")
                project = reader.get("location.projectKey")
                if wanted and project not in wanted:
                    continue
                boards.append(board)
        return boards

    def _search(
        self, jql: str, fields: Sequence[str], *, stream: str, expand: str | None = None
    ) -> Iterator[list[Any]]:
        body: dict[str, Any] = {"jql": jql, "fields": list(fields)}
        if expand:
            body["expand"] = expand
        strategy = JsonCursor(
            token_path="nextPageToken",  # noqa: S106 - a JSON path, not a secret
            param="nextPageToken",
            in_body=True,
            size_param="maxResults",
            page_size=min(self.settings.page_size, 100),
            last_path="isLast",
        )
        for page in paginate(
            self.client,
            "POST",
            SEARCH_URL,
            strategy=strategy,
            items="issues",
            stream=stream,
            json=body,
        ):
            yield page.items

    def _project_clause(self) -> list[str]:
        if not self.settings.projects:
            return []
        return [f"project in ({', '.join(self.settings.projects)})"]

    def jira_zone(self) -> ZoneInfo:
        """The zone JQL dates are read in: configured, else the API user's profile zone."""
        if self._zone is None:
            me = self.client.get_json("rest/api/3/myself", stream="issues")
            name = Reader(me, source=self.name, stream="issues", what="user").get("timeZone", "UTC")
            try:
                self._zone = ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise SchemaDriftError(
                    self.name,
                    f"user time zone {str(name)[:40]!r} is unknown",
                    stream="issues",
                    field="timeZone",
                ) from exc
        return self._zone

    def issues_jql(self, since: str | None) -> str:
        """The JQL of an issue pull from cursor `since` (floored to the minute, user's zone)."""
        floor = FULL_SYNC_FLOOR
        if since:
            moment = parse_time(since)
            if moment is None:
                raise ConnectorError(
                    self.name, f"cursor {since[:40]!r} is not a time", stream="issues"
                )
            floor = moment.astimezone(self.jira_zone()).strftime("%Y-%m-%d %H:%M")
        clauses = [*self._project_clause(), f'updated >= "{floor}"']
        if self.settings.jql_extra:
            clauses.append(f"({self.settings.jql_extra})")
        return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"

    # ------------------------------------------------------------------ streams

    def pull_sprints(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every sprint of every scrum board."""
        seen: set[str] = set()
        teams = self.settings.project_teams
        for board in self._boards("sprints"):
            if board.get("type") not in (None, "scrum"):
                continue  # kanban and simple boards have no sprints (Jira answers 400)
            url = f"rest/agile/1.0/board/{board['id']}/sprint"
            for items in self._pages(url, stream="sprints"):
                for payload in items:
                    row = mapping.sprint(
                        payload, board=board, source=self.name, project_teams=teams
                    )
                    source_id = row.pop("source_id")
                    if source_id not in seen:
                        seen.add(source_id)
                        yield self.record("sprint", source_id, **row)

    def pull_epics(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every epic of every board, with status, due date and created time from its issue."""
        epics: dict[str, dict[str, Any]] = {}
        for board in self._boards("epics"):
            url = f"rest/agile/1.0/board/{board['id']}/epic"
            for items in self._pages(url, stream="epics"):
                for payload in items:
                    key = Reader(payload, source=self.name, stream="epics", what="epic").need("key")
                    epics.setdefault(str(key), payload)
        keys = sorted(epics)
        for start in range(0, len(keys), EPIC_KEYS_PER_SEARCH):
            chunk = keys[start : start + EPIC_KEYS_PER_SEARCH]
            details: dict[str, dict[str, Any]] = {}
            jql = f"key in ({', '.join(chunk)}) ORDER BY key ASC"
            for items in self._search(
                jql, ["project", "status", "duedate", "created"], stream="epics"
            ):
                for issue in items:
                    details[
                        str(
                            Reader(issue, source=self.name, stream="epics", what="epic issue").need(
                                "key"
                            )
                        )
                    ] = issue
            for key in chunk:
                row = mapping.epic(
                    epics[key],
                    issue=details.get(key),
                    source=self.name,
                    project_teams=self.settings.project_teams,
                )
                yield self.record("epic", row.pop("source_id"), **row)

    def issue_fields(self) -> list[str]:
        """The issue fields the issues stream asks for."""
        fields = [
            "summary",
            "issuetype",
            "status",
            "priority",
            "assignee",
            "project",
            "parent",
            "labels",
            "created",
            "updated",
            "resolutiondate",
            "duedate",
            self.settings.story_points_field,
            self.settings.sprint_field,
        ]
        if self.settings.epic_link_field:
            fields.append(self.settings.epic_link_field)
        return fields

    def pull_issues(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Tickets and their transitions updated since `since`, oldest change first."""
        settings = self.settings
        latest = parse_time(since) if since else None
        for items in self._search(
            self.issues_jql(since), self.issue_fields(), stream="issues", expand="changelog"
        ):
            for issue in items:
                reader = Reader(issue, source=self.name, stream="issues", what="issue")
                updated = reader.need_time("fields.updated")
                latest = updated if latest is None else max(latest, updated)
                if mapping.is_epic(issue):
                    continue  # epics are the epics stream's rows
                row = mapping.ticket(
                    issue,
                    source=self.name,
                    story_points_field=settings.story_points_field,
                    sprint_field=settings.sprint_field,
                    epic_link_field=settings.epic_link_field,
                    project_teams=settings.project_teams,
                )
                key = row["key"]
                yield self.record("ticket", row.pop("source_id"), **row)
                for change in mapping.transitions(
                    key,
                    self._histories(reader),
                    source=self.name,
                    story_points_field=settings.story_points_field,
                    sprint_field=settings.sprint_field,
                ):
                    yield self.record("ticket_transition", change.pop("source_id"), **change)
            if latest is not None:
                yield Checkpoint(iso(latest) or "")

    def _histories(self, issue: Reader) -> list[Any]:
        """The whole changelog: inline when complete, else paged from /issue/{id}/changelog."""
        inline = issue.get("changelog.histories")
        total = issue.get("changelog.total")
        if isinstance(inline, list) and (total is None or int(total) <= len(inline)):
            return inline
        if inline is not None and not isinstance(inline, list):
            raise SchemaDriftError(
                self.name,
                "issue changelog has no 'histories' list",
                stream="issues",
                field="changelog.histories",
            )
        histories: list[Any] = []
        url = f"rest/api/3/issue/{issue.need('id')}/changelog"
        for items in self._pages(url, stream="issues"):
            histories.extend(items)
        return histories

    # ------------------------------------------------------------------ check

    def check(self) -> list[CheckResult]:
        """Probe sign-in, board listing and issue search, read-only."""
        probes = (
            ("authenticate", lambda: self.client.get_json("rest/api/3/myself")),
            (
                "read boards",
                lambda: self.client.get_json("rest/agile/1.0/board", params={"maxResults": 1}),
            ),
            (
                "search issues",
                lambda: self.client.post_json(
                    SEARCH_URL,
                    json={"jql": self.issues_jql(None), "fields": ["id"], "maxResults": 1},
                ),
            ),
        )
        results = []
        for capability, probe in probes:
            try:
                probe()
            except ConnectorError as exc:
                results.append(CheckResult(capability, False, str(exc)))
            else:
                results.append(CheckResult(capability, True))
        return results

    # ------------------------------------------------------------------ actions

    def browse_url(self, key: str) -> str:
        """The web URL of an issue."""
        return f"{self.settings.base_url.rstrip('/')}/browse/{key}"

    def create_issue(
        self,
        project: str,
        issue_type: str,
        summary: str,
        description: str | dict[str, Any] | None = None,
        priority: str | None = None,
        assignee_account_id: str | None = None,
        labels: Sequence[str] = (),
    ) -> dict[str, str]:
        """Create an issue (description as text/light Markdown or ADF); return key, id, url."""
        fields: dict[str, Any] = {
            "project": {"key": project},
            "issuetype": {"name": issue_type},
            "summary": summary,
        }
        if description:
            fields["description"] = (
                description if isinstance(description, dict) else mapping.adf_document(description)
            )
        if priority:
            fields["priority"] = {"name": priority}
        if assignee_account_id:
            fields["assignee"] = {"accountId": assignee_account_id}
        if labels:
            fields["labels"] = [label.replace(" ", "-") for label in labels]
        created = self.client.post_json("rest/api/3/issue", json={"fields": fields})
        reader = Reader(created, source=self.name, stream=None, what="created issue")
        key = str(reader.need("key"))
        log.info("jira issue created", source=self.name, key=key, project=project)
        return {"key": key, "id": str(reader.need("id")), "url": self.browse_url(key)}

    def add_attachment(
        self, issue_key: str, filename: str, content: bytes, media_type: str = "image/png"
    ) -> list[dict[str, Any]]:
        """Attach a file to an issue; return Jira's attachment objects (id, filename, size…)."""
        response = self.client.request(
            "POST",
            f"rest/api/3/issue/{issue_key}/attachments",
            headers={"X-Atlassian-Token": "no-check"},
            files={"file": (filename, content, media_type)},
        )
        body = decode_json(response, self.name, None)
        if not isinstance(body, list):
            raise SchemaDriftError(self.name, "attachment response is not a list")
        log.info("jira attachment added", source=self.name, key=issue_key, bytes=len(content))
        return body

    def find_account_id(self, email: str) -> str | None:
        """The accountId of the user with this email (None when no single user matches)."""
        users = self.client.get_json("rest/api/3/user/search", params={"query": email})
        if not isinstance(users, list):
            raise SchemaDriftError(self.name, "user search response is not a list")
        exact = [
            u
            for u in users
            if isinstance(u, dict) and str(u.get("emailAddress", "")).lower() == email.lower()
        ]
        chosen = exact or (users if len(users) == 1 else [])
        if not chosen:
            return None
        return str(Reader(chosen[0], source=self.name, stream=None, what="user").need("accountId"))

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
