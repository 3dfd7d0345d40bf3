"""PagerDuty REST v2 connector: services, users (+ admin access), incidents with timelines, on-calls.

Auth `Authorization: Token token=<key>` and `Accept: application/vnd.pagerduty+json;version=2`;
classic offset paging (`limit`/`offset`, stop when `more` is false).

Incidents are incremental. The cursor is a small JSON object:
`{"window_start": <created_at of the oldest incident still open, else of the newest seen>,
  "updated_after": <latest updated_at seen>}`. A re-sync lists incidents created since
`window_start` (so incidents open at the last sync are listed again and their resolution is
seen) and fetches log entries only for incidents updated after `updated_after`: with nothing new,
one request. A full sync lists with `date_range=all`.

On-calls are a window (now - 7 days … now + 28 days) re-read every sync; an entry is flagged as
an override when the schedule's `overrides_subschedule` (GET /schedules/{id} with since/until)
has the same user overlapping it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, SecretStr

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.pagerduty import mapping
from cto_assistant.connectors.pagination import Offset, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.errors import ConnectorError, SchemaDriftError
from cto_assistant.http import build_client

MAX_WINDOW = timedelta(days=179)  # PagerDuty caps an incident since/until range at 6 months


class PagerDutyConfig(ConnectorConfig):
    """Settings of a PagerDuty source."""

    kind: str = Field(default="pagerduty", description="Connector kind.")
    base_url: str = Field(
        default="https://api.pagerduty.com",
        description="PagerDuty REST API root (api.eu.pagerduty.com for EU accounts).",
    )
    token: SecretStr = Field(description="PagerDuty REST API key (read-only key is enough).")
    incident_key_prefix: str = Field(
        default="INC-", description="Incident keys are this prefix + the incident number."
    )
    team_keys: dict[str, str] = Field(
        default_factory=dict,
        description="PagerDuty team name → our team key (unmapped names are used as they are).",
    )
    oncall_days_back: int = Field(
        default=7, ge=0, le=60, description="On-call window start, days before now."
    )
    oncall_days_ahead: int = Field(
        default=28, ge=1, le=89, description="On-call window end, days after now."
    )


class PagerDutyConnector(Connector):
    """Reads PagerDuty services, users, incidents with log entries, and on-call shifts."""

    kind = "pagerduty"
    config_model = PagerDutyConfig
    category = "operations"
    streams = (
        Stream("services", tables=("service",), description="Services and their owning team."),
        Stream(
            "users",
            tables=("person", "access_grant"),
            description="Users by email; admin/owner roles as privileged access.",
        ),
        Stream(
            "incidents",
            tables=("incident", "incident_event"),
            incremental=True,
            description="Incidents with their log-entry timeline.",
        ),
        Stream(
            "oncalls",
            tables=("oncall_shift",),
            description="On-call shifts by escalation level, overrides flagged.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings: PagerDutyConfig = context.config  # type: ignore[assignment]
        token = self.settings.token.get_secret_value()
        self.client = build_client(
            context,
            headers={
                "Authorization": f"Token token={token}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            secrets=(token,),
        )
        self._emails: dict[str, str] | None = None

    def _list(
        self, url: str, items: str, stream: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        for page in paginate(
            self.client,
            "GET",
            url,
            strategy=Offset(page_size=min(self.settings.page_size, 100), more_path="more"),
            items=items,
            stream=stream,
            params=params,
        ):
            yield from page.items

    def emails(self, stream: str) -> dict[str, str]:
        """User id → email (read once per connector instance)."""
        if self._emails is None:
            found: dict[str, str] = {}
            for user in self._list("users", "users", stream):
                r = Reader(user, source=self.name, stream=stream, what="user")
                found[str(r.need("id"))] = str(r.need("email")).lower()
            self._emails = found
        return self._emails

    # ------------------------------------------------------------------ streams

    def pull_services(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every service with its team."""
        for item in self._list("services", "services", "services", {"include[]": "teams"}):
            yield Record(
                "service",
                mapping.service(item, source=self.name, team_keys=self.settings.team_keys),
            )

    def pull_users(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every user as a person, and as an access grant (privileged when admin or owner)."""
        emails: dict[str, str] = {}
        for item in self._list("users", "users", "users", {"include[]": "teams"}):
            row = mapping.person(item, source=self.name, team_keys=self.settings.team_keys)
            emails[row["source_id"]] = row["email"]
            yield Record("person", row)
            yield Record("access_grant", mapping.access_grant(item, source=self.name))
        self._emails = emails

    def pull_incidents(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Incidents created in the window (all on a full sync), with log entries when changed."""
        cursor = self._read_cursor(since)
        now = self.now()
        params: dict[str, Any] = {"sort_by": "created_at:asc"}
        window_start = parse_time(cursor.get("window_start")) if cursor else None
        updated_after = parse_time(cursor.get("updated_after")) if cursor else None
        if window_start is None or now - window_start > MAX_WINDOW:
            params["date_range"] = "all"
        else:
            params["since"] = iso(window_start)
            params["until"] = iso(now + timedelta(minutes=1))
        oldest_open: datetime | None = None
        newest_created = window_start
        newest_updated = updated_after
        for item in self._list("incidents", "incidents", "incidents", params):
            r = Reader(item, source=self.name, stream="incidents", what="incident")
            created = r.need_time("created_at")
            updated = r.time("updated_at") or created
            if r.need("status") != "resolved" and (oldest_open is None or created < oldest_open):
                oldest_open = created
            if newest_created is None or created > newest_created:
                newest_created = created
            if newest_updated is None or updated > newest_updated:
                newest_updated = updated
            if updated_after is not None and updated <= updated_after:
                continue
            incident_id = str(r.need("id"))
            entries = list(
                self._list(f"incidents/{incident_id}/log_entries", "log_entries", "incidents")
            )
            emails = self.emails("incidents")
            row = mapping.incident(
                item,
                source=self.name,
                key_prefix=self.settings.incident_key_prefix,
                team_keys=self.settings.team_keys,
                emails=emails,
                log_entries=entries,
            )
            yield Record("incident", row)
            for entry in entries:
                yield Record(
                    "incident_event",
                    mapping.incident_event(
                        entry, source=self.name, incident_key=row["key"], emails=emails
                    ),
                )
        start = oldest_open or newest_created
        if start is not None:
            yield Checkpoint(
                json.dumps(
                    {"window_start": iso(start), "updated_after": iso(newest_updated)},
                    sort_keys=True,
                )
            )

    def _read_cursor(self, since: str | None) -> dict[str, Any]:
        if not since:
            return {}
        try:
            cursor = json.loads(since)
        except json.JSONDecodeError:
            # A bare timestamp (e.g. set by hand): treat it as both bounds.
            return {"window_start": since, "updated_after": since}
        if not isinstance(cursor, dict):
            raise SchemaDriftError(
                self.name, "stored incidents cursor is not an object", stream="incidents"
            )
        return cursor

    def pull_oncalls(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """On-call shifts overlapping now - days_back … now + days_ahead."""
        now = self.now()
        window = {
            "since": iso(now - timedelta(days=self.settings.oncall_days_back)),
            "until": iso(now + timedelta(days=self.settings.oncall_days_ahead)),
        }
        policy_teams: dict[str, str | None] = {}
        for policy in self._list("escalation_policies", "escalation_policies", "oncalls"):
            r = Reader(policy, source=self.name, stream="oncalls", what="escalation policy")
            teams = [t for t in r.get("teams", []) if isinstance(t, dict)]
            name = (teams[0].get("summary") or teams[0].get("name")) if teams else None
            policy_teams[str(r.need("id"))] = mapping.team_key(name, self.settings.team_keys)
        emails = self.emails("oncalls")
        entries = list(self._list("oncalls", "oncalls", "oncalls", dict(window)))
        schedule_ids = sorted(
            {
                str(e["schedule"]["id"])
                for e in entries
                if isinstance(e.get("schedule"), dict) and e["schedule"].get("id")
            }
        )
        overrides: dict[str, list[tuple[str, datetime, datetime]]] = {}
        for schedule_id in schedule_ids:
            body = self.client.get_json(f"schedules/{schedule_id}", stream="oncalls", params=window)
            r = Reader(body, source=self.name, stream="oncalls", what="schedule response")
            rendered = r.get("schedule.overrides_subschedule.rendered_schedule_entries", [])
            found = []
            for entry in rendered:
                er = Reader(entry, source=self.name, stream="oncalls", what="override entry")
                found.append((str(er.need("user.id")), er.need_time("start"), er.need_time("end")))
            overrides[schedule_id] = found
        for entry in entries:
            row = mapping.oncall_shift(
                entry,
                source=self.name,
                emails=emails,
                policy_teams=policy_teams,
                overrides=overrides,
            )
            if row is not None:
                yield Record("oncall_shift", row)

    def check(self) -> list[CheckResult]:
        """Read one item of each listing the streams use."""
        results = []
        for capability, path in (
            ("read services", "services"),
            ("read users", "users"),
            ("read incidents", "incidents"),
            ("read on-calls", "oncalls"),
            ("read escalation policies", "escalation_policies"),
        ):
            try:
                self.client.get_json(path, params={"limit": 1})
            except ConnectorError as exc:
                results.append(CheckResult(capability, False, str(exc)))
            else:
                results.append(CheckResult(capability, True))
        return results

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
