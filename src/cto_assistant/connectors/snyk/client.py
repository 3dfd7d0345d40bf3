"""Snyk REST API connector: issues of each organisation → `vulnerability` rows.

Talks JSON:API to `{base_url}/rest/orgs/{org_id}/…` with `Authorization: token <API token>` and a
`version=` query parameter on every call; pages with `limit` and follows `links.next`
(`starting_after` cursors). Incremental syncs ask for `updated_after=<cursor>`; the cursor is
the latest `updated_at` seen, stored only after the whole listing was read (Snyk does not
promise an order, so a mid-listing checkpoint could skip rows).

Projects are read lazily, once per organisation and only when an issue names a project not yet
seen, so a re-sync with nothing new makes exactly one request per organisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

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
from cto_assistant.connectors.pagination import JsonLink, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.connectors.snyk import mapping
from cto_assistant.errors import ConnectorError
from cto_assistant.http import build_client


class SnykConfig(ConnectorConfig):
    """Settings of a Snyk source."""

    kind: str = Field(default="snyk", description="Connector kind.")
    base_url: str = Field(
        default="https://api.snyk.io",
        description="Snyk API root (regional hosts: api.eu.snyk.io, api.au.snyk.io).",
    )
    token: SecretStr = Field(description="Snyk API token (service account recommended).")
    org_ids: list[str] = Field(min_length=1, description="Snyk organisation ids to read.")
    api_version: str = Field(default="2024-10-15", description="Snyk REST API version date.")
    app_url: str = Field(
        default="https://app.snyk.io", description="Snyk web app root, for issue links."
    )


class SnykConnector(Connector):
    """Reads Snyk issues (open, fixed, ignored) with their project's repo and environment."""

    kind = "snyk"
    config_model = SnykConfig
    category = "security"
    streams = (
        Stream(
            "vulnerabilities",
            tables=("vulnerability",),
            incremental=True,
            description="Snyk issues (open source and code) with exploit maturity and fixability.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings: SnykConfig = context.config  # type: ignore[assignment]
        token = self.settings.token.get_secret_value()
        self.client = build_client(
            context,
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/vnd.api+json",
            },
            secrets=(token,),
        )
        self._projects: dict[str, dict[str, mapping.ProjectInfo]] = {}

    def _params(self, **extra: object) -> dict[str, object]:
        return {"version": self.settings.api_version, **extra}

    def projects(self, org_id: str) -> dict[str, mapping.ProjectInfo]:
        """Every project of an organisation (read once per connector instance)."""
        if org_id not in self._projects:
            found: dict[str, mapping.ProjectInfo] = {}
            for page in paginate(
                self.client,
                "GET",
                f"rest/orgs/{org_id}/projects",
                strategy=JsonLink(page_size=self.settings.page_size),
                items="data",
                stream="vulnerabilities",
                params=self._params(expand="target"),
            ):
                for item in page.items:
                    info = mapping.project_info(item, source=self.name)
                    found[info.project_id] = info
            self._projects[org_id] = found
        return self._projects[org_id]

    def pull_vulnerabilities(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Issues of every organisation updated after `since` (all when None)."""
        latest: datetime | None = parse_time(since) if since else None
        for org_id in self.settings.org_ids:
            params = self._params()
            if since:
                params["updated_after"] = since
            for page in paginate(
                self.client,
                "GET",
                f"rest/orgs/{org_id}/issues",
                strategy=JsonLink(page_size=self.settings.page_size),
                items="data",
                stream="vulnerabilities",
                params=params,
            ):
                for item in page.items:
                    project_id = Reader(
                        item, source=self.name, stream="vulnerabilities", what="issue"
                    ).get("relationships.scan_item.data.id")
                    project = None
                    if project_id:
                        project = self.projects(org_id).get(str(project_id))
                    row = mapping.vulnerability(
                        item,
                        source=self.name,
                        project=project,
                        app_url=self.settings.app_url,
                        org_id=org_id,
                    )
                    yield Record("vulnerability", row)
                    updated = parse_time((item.get("attributes") or {}).get("updated_at"))
                    if updated and (latest is None or updated > latest):
                        latest = updated
        if latest is not None:
            yield Checkpoint(iso(latest) or "")

    def check(self) -> list[CheckResult]:
        """Read one project and one issue of each organisation."""
        results = []
        for org_id in self.settings.org_ids:
            for what in ("projects", "issues"):
                capability = f"read {what} of org {org_id}"
                try:
                    self.client.get_json(
                        f"rest/orgs/{org_id}/{what}",
                        stream="vulnerabilities",
                        params=self._params(limit=1),
                    )
                except ConnectorError as exc:
                    results.append(CheckResult(capability, False, str(exc)))
                else:
                    results.append(CheckResult(capability, True))
        return results

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
