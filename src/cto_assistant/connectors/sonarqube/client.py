"""SonarQube (Server 9.x/10.x and Cloud) Web API → quality snapshots per project.

    GET api/projects/search?p=&ps=[&projects=k1,k2]                  projects + lastAnalysisDate
    GET api/measures/component?component=&metricKeys=                current measures
    GET api/qualitygates/project_status?projectKey=                  current gate status
    GET api/measures/search_history?component=&metrics=&from=&p=&ps= one value per analysis

Incremental: the cursor of `measures` and `measures_history` is a JSON object project key →
last analysis date read; a project whose `lastAnalysisDate` has not moved costs no request, so a
re-sync with nothing new makes one request (the project list). Auth: the token as a bearer
(SonarQube 10+, SonarQube Cloud) or as the basic-auth user with an empty password (older).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, SecretStr

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    Record,
    Stream,
)
from cto_assistant.connectors.pagination import PageNumber, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.connectors.sonarqube import mapping
from cto_assistant.errors import ConnectorError, SchemaDriftError
from cto_assistant.http import VendorClient, build_client


class SonarQubeConfig(ConnectorConfig):
    """Settings of a SonarQube source."""

    kind: Literal["sonarqube"] = "sonarqube"
    token: SecretStr = Field(description="User token with Browse permission on the projects.")
    auth_scheme: Literal["bearer", "basic"] = Field(
        default="bearer",
        description="'bearer' (SonarQube 10+, Cloud) or 'basic' (token as user, older servers).",
    )
    projects: list[str] | None = Field(
        default=None, description="Project keys to read (default: every visible project)."
    )
    organization: str | None = Field(
        default=None, description="SonarQube Cloud organization (required there)."
    )
    repo_mapping: dict[str, str] = Field(
        default_factory=dict, description="Project key → repository full_name ('org/name')."
    )
    repo_prefix: str | None = Field(
        default=None,
        description="Otherwise repo = prefix + key (e.g. 'acme/'); without a prefix the "
        "key's first ':' (else its first '_', SonarQube Cloud's org_repo) becomes '/'.",
    )


class SonarQubeConnector(Connector):
    """Code-quality measures, quality gate and measure history from SonarQube."""

    kind = "sonarqube"
    config_model = SonarQubeConfig
    category = "engineering"
    streams = (
        Stream("projects", tables=(), description="Lists the analysed projects (no rows)."),
        Stream(
            "measures",
            tables=("quality_snapshot",),
            incremental=True,
            description="Current measures and quality gate status per project.",
        ),
        Stream(
            "measures_history",
            tables=("quality_snapshot",),
            incremental=True,
            description="One snapshot per analysis (coverage, debt, smells, bugs, gate, …).",
        ),
    )
    config: SonarQubeConfig

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        token = self.config.token.get_secret_value()
        if self.config.auth_scheme == "bearer":
            self.client: VendorClient = build_client(
                context, headers={"Authorization": f"Bearer {token}"}, secrets=(token,)
            )
        else:
            self.client = build_client(context, auth=(token, ""), secrets=(token,))

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def check(self) -> list[CheckResult]:
        """List one project (read-only)."""
        try:
            self.client.get_json("api/projects/search", params={"ps": 1, **self._org()})
        except ConnectorError as exc:
            return [CheckResult("list projects", ok=False, detail=str(exc))]
        return [CheckResult("list projects", ok=True)]

    def _org(self) -> dict[str, str]:
        return {"organization": self.config.organization} if self.config.organization else {}

    def repo_for(self, project_key: str) -> str:
        """The repository full_name a project key stands for."""
        if project_key in self.config.repo_mapping:
            return self.config.repo_mapping[project_key]
        if self.config.repo_prefix is not None:
            return f"{self.config.repo_prefix}{project_key}"
        separator = ":" if ":" in project_key else "_"
        return project_key.replace(separator, "/", 1)

    def projects(self, stream: str) -> Iterator[tuple[str, datetime | None]]:
        """(key, last analysis date) of every project to read."""
        params: dict[str, Any] = {"qualifiers": "TRK", **self._org()}
        if self.config.projects:
            params["projects"] = ",".join(self.config.projects)
        for page in paginate(
            self.client,
            "GET",
            "api/projects/search",
            strategy=PageNumber(
                page_param="p",
                size_param="ps",
                page_size=self.config.page_size,
                total_path="paging.total",
            ),
            items="components",
            stream=stream,
            params=params,
        ):
            for component in page.items:
                c = Reader(component, source=self.name, stream=stream, what="project")
                yield str(c.need("key")), c.time("lastAnalysisDate")

    def pull_projects(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Read the project list (it feeds no table; the other streams use it)."""
        for _key, _analysed in self.projects("projects"):
            pass
        yield from ()

    def pull_measures(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """The current snapshot of each project analysed since the cursor, with its gate."""
        stream = "measures"
        seen = _parse_cursor(since, source=self.name, stream=stream)
        for key, analysed in self.projects(stream):
            if analysed is None or (key in seen and analysed <= seen[key]):
                continue
            body = self.client.get_json(
                "api/measures/component",
                stream=stream,
                params={"component": key, "metricKeys": ",".join(mapping.METRICS)},
            )
            values = mapping.component_measures(body, source=self.name, stream=stream)
            gate = self.client.get_json(
                "api/qualitygates/project_status", stream=stream, params={"projectKey": key}
            )
            row = mapping.snapshot(
                project_key=key,
                repo=self.repo_for(key),
                at=analysed,
                values=values,
                quality_gate=mapping.gate_status(gate, source=self.name, stream=stream),
            )
            yield Record("quality_snapshot", {"source": self.name, **row})
            seen[key] = analysed
        yield Checkpoint(_dump_cursor(seen))

    def pull_measures_history(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """One snapshot per analysis after the cursor's date, per project."""
        stream = "measures_history"
        seen = _parse_cursor(since, source=self.name, stream=stream)
        for key, analysed in self.projects(stream):
            if analysed is None or (key in seen and analysed <= seen[key]):
                continue
            params: dict[str, Any] = {
                "component": key,
                "metrics": ",".join(mapping.HISTORY_METRICS),
            }
            if key in seen:
                params["from"] = seen[key].strftime("%Y-%m-%dT%H:%M:%S%z")
            pages = [
                page.body
                for page in paginate(
                    self.client,
                    "GET",
                    "api/measures/search_history",
                    strategy=PageNumber(
                        page_param="p",
                        size_param="ps",
                        page_size=self.config.page_size,
                        total_path="paging.total",
                    ),
                    items="measures",
                    stream=stream,
                    params=params,
                )
            ]
            history = mapping.history_by_date(pages, source=self.name, stream=stream)
            latest = seen.get(key)
            for at in sorted(history):
                if key in seen and at <= seen[key]:
                    continue  # `from` is inclusive
                values = history[at]
                row = mapping.snapshot(
                    project_key=key,
                    repo=self.repo_for(key),
                    at=at,
                    values=values,
                    quality_gate=values.get(mapping.GATE_METRIC),
                )
                yield Record("quality_snapshot", {"source": self.name, **row})
                latest = at if latest is None or at > latest else latest
            if latest is not None:
                seen[key] = latest
        yield Checkpoint(_dump_cursor(seen))


def _parse_cursor(since: str | None, *, source: str, stream: str) -> dict[str, datetime]:
    if not since:
        return {}
    try:
        value = json.loads(since)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise SchemaDriftError(source, f"unreadable cursor {since[:40]!r}", stream=stream)
    parsed: dict[str, datetime] = {}
    for key, moment in value.items():
        when = parse_time(moment)
        if when is not None:
            parsed[str(key)] = when
    return parsed


def _dump_cursor(seen: dict[str, datetime]) -> str:
    return json.dumps({key: iso(when) for key, when in sorted(seen.items())})
