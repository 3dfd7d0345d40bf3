"""CircleCI v2 pipelines → deployment rows (one per deploy job), with the commit each shipped.

    GET /api/v2/project/{project-slug}/pipeline        newest first, `page-token` paging
    GET /api/v2/pipeline/{id}/workflow                  the pipeline's workflows
    GET /api/v2/workflow/{id}/job                       the workflow's jobs

A job is a deployment when its workflow matches `workflow_pattern` and its name matches
`deploy_job_pattern`; the environment is the `environment` group of `environment_pattern` on
the job name (mapped through production/staging names). CircleCI lists no commits per pipeline,
so a deployment carries its pipeline's revision. Incremental: paging stops at the cursor's
`created_at`; pipelines still running at the last sync keep the cursor behind them.
Auth: `Circle-Token` header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator

from cto_assistant.connectors.base import Checkpoint, CheckResult, Connector, Record
from cto_assistant.connectors.cicd import mapping
from cto_assistant.connectors.cicd.common import DEPLOYMENTS, CICDConfig, probe
from cto_assistant.connectors.pagination import JsonCursor, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.http import VendorClient, build_client

UNFINISHED_WORKFLOW = {"running", "on_hold", "failing", "not_run_yet"}


class CircleCIConfig(CICDConfig):
    """Settings of a CircleCI source."""

    kind: Literal["circleci"] = "circleci"
    base_url: str = Field(default="https://circleci.com", description="CircleCI root URL.")
    token: SecretStr = Field(description="Personal API token.")
    projects: list[str] = Field(
        min_length=1, description="Project slugs, e.g. 'gh/acme/checkout-service'."
    )
    branch: str | None = Field(default=None, description="Only pipelines of this branch.")
    workflow_pattern: str = Field(default=r".*", description="Regex on workflow names to read.")
    deploy_job_pattern: str = Field(
        default=r"(?i)^(deploy|release|rollback)",
        description="Regex on job names that marks deploy jobs.",
    )
    environment_pattern: str = Field(
        default=r"(?i)(?:deploy|release|rollback)[-_ ]?(?:to[-_ ])?(?P<environment>[a-z0-9]+)",
        description="Regex on deploy job names; its `environment` group names the environment.",
    )

    @field_validator("workflow_pattern", "deploy_job_pattern", "environment_pattern")
    @classmethod
    def _valid_job_regex(cls, value: str) -> str:
        re.compile(value)
        return value


class CircleCIConnector(Connector):
    """Deployments from CircleCI deploy jobs."""

    kind = "circleci"
    config_model = CircleCIConfig
    category = "engineering"
    streams = (DEPLOYMENTS,)
    config: CircleCIConfig

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        token = self.config.token.get_secret_value()
        self.client: VendorClient = build_client(
            context, headers={"Circle-Token": token}, secrets=(token,)
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def check(self) -> list[CheckResult]:
        """Read the first pipeline page of each project."""
        return [
            probe(
                f"read pipelines of {slug}",
                partial(self.client.get_json, self._pipelines_url(slug)),
            )
            for slug in self.config.projects
        ]

    @staticmethod
    def _pipelines_url(slug: str) -> str:
        return f"api/v2/project/{quote(slug, safe='/')}/pipeline"

    def _pages(self, url: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        for page in paginate(
            self.client,
            "GET",
            url,
            strategy=JsonCursor(token_path="next_page_token", param="page-token"),  # noqa: S106
            items="items",
            stream="deployments",
            params=params,
        ):
            yield from page.items

    def pull_deployments(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Deploy jobs of pipelines created after the cursor `since` (all on the first run)."""
        cutoff = parse_time(since) if since else None
        newest: datetime | None = cutoff
        oldest_unfinished: datetime | None = None
        rules = self.config.rules()
        params = {"branch": self.config.branch} if self.config.branch else None
        for slug in self.config.projects:
            for pipeline in self._pages(self._pipelines_url(slug), params):
                p = Reader(pipeline, source=self.name, stream="deployments", what="pipeline")
                created = p.need_time("created_at")
                if cutoff is not None and created <= cutoff:
                    break  # newest first: everything further was read before
                finished = True
                for item in self._pipeline_records(slug, p.obj, rules):
                    if isinstance(item, bool):
                        finished = finished and item
                    else:
                        yield item
                if newest is None or created > newest:
                    newest = created
                if not finished and (oldest_unfinished is None or created < oldest_unfinished):
                    oldest_unfinished = created
        cursor = newest
        if oldest_unfinished is not None:
            cursor = oldest_unfinished - timedelta(milliseconds=1)
        if cursor is not None:
            yield Checkpoint(iso(cursor) or "")

    def _pipeline_records(
        self, slug: str, pipeline: dict[str, Any], rules: mapping.DeployRules
    ) -> Iterator[Record | bool]:
        """Records of one pipeline's deploy jobs, then whether the pipeline had finished."""
        workflow_re = re.compile(self.config.workflow_pattern)
        job_re = re.compile(self.config.deploy_job_pattern)
        env_re = re.compile(self.config.environment_pattern)
        repo = mapping.repo_from_remote((pipeline.get("vcs") or {}).get("target_repository_url"))
        repo = repo or slug.split("/", 1)[-1]
        finished = True
        for workflow in self._pages(f"api/v2/pipeline/{pipeline['id']}/workflow"):
            w = Reader(workflow, source=self.name, stream="deployments", what="workflow")
            if not workflow_re.search(str(w.need("name"))):
                continue
            if w.need("status") in UNFINISHED_WORKFLOW:
                finished = False
            for job in self._pages(f"api/v2/workflow/{w.need('id')}/job"):
                j = Reader(job, source=self.name, stream="deployments", what="job")
                name = str(j.need("name"))
                if not job_re.search(name):
                    continue
                match = env_re.search(name)
                raw_env = match.group("environment") if match else None
                row = mapping.circleci_deployment(
                    job,
                    pipeline=pipeline,
                    workflow=w.obj,
                    source=self.name,
                    service=self.config.service_for(slug, repo),
                    repo=repo,
                    environment=rules.environment(raw_env),
                    rules=rules,
                )
                if row["status"] == "in_progress":
                    finished = False
                yield Record("deployment", {"source": self.name, **row})
                if row["status"] != "success":
                    continue
                for change in mapping.change_rows(
                    row["source_id"], row["repo"], mapping.circleci_commit(pipeline)
                ):
                    yield Record("deployment_change", {"source": self.name, **change})
        yield finished
