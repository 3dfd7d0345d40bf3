"""GitLab deployments (REST v4) → deployment rows, with the commits each one shipped.

    GET /api/v4/projects/:id/deployments?order_by=updated_at&sort=asc&updated_after=…  (Link paging)
    GET /api/v4/projects/:id/repository/compare?from=<previous successful sha>&to=<sha>

Commits shipped by a successful deployment are those between the previous successful deployment
to the same environment and this one (`compare`); the first deployment of an environment
carries only its own commit (the deployable's); failed and running ones carry none (yet). Auth: `PRIVATE-TOKEN` header.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr

from cto_assistant.connectors.base import Checkpoint, CheckResult, Connector, Record
from cto_assistant.connectors.cicd import mapping
from cto_assistant.connectors.cicd.common import DEPLOYMENTS, CICDConfig, probe
from cto_assistant.connectors.pagination import LinkHeader, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.http import VendorClient, build_client


class GitLabConfig(CICDConfig):
    """Settings of a GitLab source."""

    kind: Literal["gitlab"] = "gitlab"
    base_url: str = Field(default="https://gitlab.com", description="GitLab instance root URL.")
    token: SecretStr = Field(description="Personal/project access token (read_api scope).")
    projects: list[str] = Field(
        min_length=1, description="Project paths ('group/name') or numeric ids to read."
    )


class GitLabConnector(Connector):
    """Deployments from GitLab environments."""

    kind = "gitlab"
    config_model = GitLabConfig
    category = "engineering"
    streams = (DEPLOYMENTS,)
    config: GitLabConfig

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        token = self.config.token.get_secret_value()
        self.client: VendorClient = build_client(
            context, headers={"PRIVATE-TOKEN": token}, secrets=(token,)
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    @staticmethod
    def _project_url(project: str) -> str:
        return f"api/v4/projects/{quote(project, safe='')}"

    def check(self) -> list[CheckResult]:
        """Read one deployment of each configured project."""
        return [
            probe(
                f"read deployments of {project}",
                partial(
                    self.client.get_json,
                    f"{self._project_url(project)}/deployments",
                    params={"per_page": 1},
                ),
            )
            for project in self.config.projects
        ]

    def pull_deployments(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Deployments updated after `since` (all on the first run) and the commits they shipped."""
        rules = self.config.rules()
        cutoff = parse_time(since) if since else None
        latest = cutoff
        for project in self.config.projects:
            # updated_after is inclusive (>=): drop what the previous run already had.
            items = [
                item
                for item in self._deployments(project, since)
                if cutoff is None or self._updated(item) > cutoff
            ]
            predecessors = self._predecessors(project, items, incremental=since is not None)
            for item in items:
                row = mapping.gitlab_deployment(
                    item,
                    source=self.name,
                    project=project,
                    service=self.config.service_for(project),
                    rules=rules,
                )
                yield Record("deployment", {"source": self.name, **row})
                for change in self._changes(project, item, row, predecessors.get(row["source_id"])):
                    yield Record("deployment_change", {"source": self.name, **change})
                updated = self._updated(item)
                if latest is None or updated > latest:
                    latest = updated
        if latest is not None:
            yield Checkpoint(iso(latest) or "")

    def _updated(self, item: Any) -> datetime:
        r = Reader(item, source=self.name, stream="deployments", what="GitLab deployment")
        return r.need_time("updated_at")

    def _deployments(self, project: str, since: str | None) -> Iterator[Any]:
        params: dict[str, Any] = {"order_by": "updated_at", "sort": "asc"}
        if since:
            params["updated_after"] = since
        for page in paginate(
            self.client,
            "GET",
            f"{self._project_url(project)}/deployments",
            strategy=LinkHeader(page_size=self.config.page_size),
            items="",
            stream="deployments",
            params=params,
        ):
            yield from page.items

    def _predecessors(
        self, project: str, items: list[Any], *, incremental: bool
    ) -> dict[str, str | None]:
        """Deployment id → sha of the previous successful deployment to the same environment."""
        known: dict[str, list[tuple[int, str]]] = {}
        for item in items:
            r = Reader(item, source=self.name, stream="deployments", what="GitLab deployment")
            if r.get("status") == "success":
                env = str(r.need("environment.name"))
                known.setdefault(env, []).append((int(r.need("id")), str(r.need("sha"))))
        if incremental:
            for env in {str(item["environment"]["name"]) for item in items}:
                for older in self._successful(project, env):
                    known.setdefault(env, []).append(older)
        found: dict[str, str | None] = {}
        for item in items:
            env = str(item["environment"]["name"])
            ident = int(item["id"])
            earlier = [pair for pair in known.get(env, []) if pair[0] < ident]
            found[str(ident)] = max(earlier)[1] if earlier else None
        return found

    def _successful(self, project: str, environment: str) -> list[tuple[int, str]]:
        """The latest successful deployments to an environment (one page, newest first)."""
        body = self.client.get_json(
            f"{self._project_url(project)}/deployments",
            stream="deployments",
            params={
                "environment": environment,
                "status": "success",
                "order_by": "id",
                "sort": "desc",
                "per_page": self.config.page_size,
            },
        )
        pairs = []
        for item in body if isinstance(body, list) else []:
            r = Reader(item, source=self.name, stream="deployments", what="GitLab deployment")
            pairs.append((int(r.need("id")), str(r.need("sha"))))
        return pairs

    def _changes(
        self, project: str, item: Any, row: dict[str, Any], previous: str | None
    ) -> list[dict[str, Any]]:
        sha = row["sha"]
        if row["status"] != "success" or previous == sha:
            return []  # lead time counts what successful deployments shipped
        if previous is None:
            message = (item.get("deployable") or {}).get("commit", {}) or {}
            return mapping.change_rows(
                row["source_id"], project, [(sha, message.get("message") or message.get("title"))]
            )
        body = self.client.get_json(
            f"{self._project_url(project)}/repository/compare",
            stream="deployments",
            params={"from": previous, "to": sha},
        )
        commits = mapping.gitlab_compare_commits(body, source=self.name)
        return mapping.change_rows(row["source_id"], project, commits)
