"""Opsgenie connector: alerts (as incidents) with their logs, on-call timelines, users.

Auth `Authorization: GenieKey <key>`; JSON bodies with `data` and `paging.next` links
(offset/limit underneath, at most 100 per page). Alerts are incremental: a re-sync asks for
`query=updatedAt>` the latest `updatedAt` seen (epoch milliseconds), sorted by `updatedAt`, and
reads logs only for the alerts it gets; with nothing new that is one request. On-call shifts are
each schedule's final timeline over now - days_back … now + days_ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
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
from cto_assistant.connectors.opsgenie import mapping
from cto_assistant.connectors.pagerduty.mapping import incident_number_key, team_key
from cto_assistant.connectors.pagination import JsonLink, SinglePage, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.errors import ConnectorError
from cto_assistant.http import build_client


class OpsgenieConfig(ConnectorConfig):
    """Settings of an Opsgenie source."""

    kind: str = Field(default="opsgenie", description="Connector kind.")
    base_url: str = Field(
        default="https://api.opsgenie.com",
        description="Opsgenie API root (api.eu.opsgenie.com for EU accounts).",
    )
    token: SecretStr = Field(description="Opsgenie API key (GenieKey) with read access.")
    incident_key_prefix: str = Field(
        default="INC-", description="Incident keys are this prefix + the alert's tiny id."
    )
    team_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Opsgenie team name → our team key (unmapped names are used as they are).",
    )
    alert_query: str = Field(
        default="",
        description="Extra Opsgenie search query ANDed to every alert listing (e.g. 'priority<=P3').",
    )
    oncall_days_back: int = Field(
        default=7, ge=0, le=60, description="On-call window start, days before now."
    )
    oncall_days_ahead: int = Field(
        default=28, ge=1, le=90, description="On-call window end, days after now."
    )


class OpsgenieConnector(Connector):
    """Reads Opsgenie alerts with their logs, on-call shifts and users."""

    kind = "opsgenie"
    config_model = OpsgenieConfig
    category = "operations"
    streams = (
        Stream(
            "users",
            tables=("person", "access_grant"),
            description="Users by email; owner/admin roles as privileged access.",
        ),
        Stream(
            "alerts",
            tables=("incident", "incident_event"),
            incremental=True,
            description="Alerts as incidents, with their log timeline.",
        ),
        Stream(
            "oncalls",
            tables=("oncall_shift",),
            description="On-call periods of every schedule, overrides flagged.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings: OpsgenieConfig = context.config  # type: ignore[assignment]
        token = self.settings.token.get_secret_value()
        self.client = build_client(
            context, headers={"Authorization": f"GenieKey {token}"}, secrets=(token,)
        )

    def _list(
        self, url: str, stream: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        strategy = JsonLink(path="paging.next", page_size=min(self.settings.page_size, 100))
        for page in paginate(
            self.client, "GET", url, strategy=strategy, items="data", stream=stream, params=params
        ):
            yield from page.items

    def pull_users(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every user as a person and an access grant."""
        for item in self._list("v2/users", "users"):
            yield Record("person", mapping.person(item, source=self.name))
            yield Record("access_grant", mapping.access_grant(item, source=self.name))

    def pull_alerts(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Alerts updated after `since` (all when None) with their logs."""
        query = []
        after = parse_time(since) if since else None
        if after is not None:
            query.append(f"updatedAt>{int(after.timestamp() * 1000)}")
        if self.settings.alert_query:
            query.append(f"({self.settings.alert_query})")
        params: dict[str, Any] = {"sort": "updatedAt", "order": "asc"}
        if query:
            params["query"] = " AND ".join(query)
        latest = after
        for item in self._list("v2/alerts", "alerts", params):
            r = Reader(item, source=self.name, stream="alerts", what="alert")
            alert_id = str(r.need("id"))
            updated = r.time("updatedAt") or r.need_time("createdAt")
            logs = list(
                self._list(
                    f"v2/alerts/{alert_id}/logs", "alerts", {"identifierType": "id", "order": "asc"}
                )
            )
            key = incident_number_key(r.need("tinyId"), self.settings.incident_key_prefix)
            events = [
                mapping.incident_event(entry, source=self.name, alert_id=alert_id, incident_key=key)
                for entry in logs
            ]
            notes = [str(e["summary"]) for e in events if e["kind"] == "note"]
            yield Record(
                "incident",
                mapping.incident(
                    item,
                    source=self.name,
                    key_prefix=self.settings.incident_key_prefix,
                    team_keys=self.settings.team_keys,
                    notes=notes,
                ),
            )
            for event in events:
                yield Record("incident_event", event)
            if latest is None or updated > latest:
                latest = updated
        if latest is not None:
            yield Checkpoint(iso(latest) or "")

    def pull_oncalls(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Final-timeline periods of every schedule in the on-call window."""
        start = self.now() - timedelta(days=self.settings.oncall_days_back)
        days = self.settings.oncall_days_back + self.settings.oncall_days_ahead
        for page in paginate(
            self.client,
            "GET",
            "v2/schedules",
            strategy=SinglePage(),
            items="data",
            stream="oncalls",
        ):
            for schedule in page.items:
                r = Reader(schedule, source=self.name, stream="oncalls", what="schedule")
                schedule_id = str(r.need("id"))
                team = team_key(r.get("ownerTeam.name"), self.settings.team_keys)
                body = self.client.get_json(
                    f"v2/schedules/{schedule_id}/timeline",
                    stream="oncalls",
                    params={
                        "identifierType": "id",
                        "date": iso(start),
                        "interval": days,
                        "intervalUnit": "days",
                        "expand": "override",
                    },
                )
                for row in mapping.oncall_shifts(body, source=self.name, team=team):
                    yield Record("oncall_shift", row)

    def check(self) -> list[CheckResult]:
        """Read one item of each listing the streams use."""
        results = []
        for capability, path in (
            ("read users", "v2/users"),
            ("read alerts", "v2/alerts"),
            ("read schedules", "v2/schedules"),
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
