"""Jenkins deploy builds (JSON remote access API) → deployment rows with their change sets.

    GET /api/json?tree=jobs[name,url,lastBuild[number]]                 which jobs, newest build
    GET /job/<name>/api/json?tree=builds[number,result,…]{M,N}          builds, newest first

A build is a deployment when its job's name matches `job_pattern` (or the job is listed in
`jobs`); its environment comes from the build parameter `environment_parameter` (DEPLOY_ENV).
Incremental: the cursor keeps, per job, the lowest build number still to (re)read — the next
number after the newest finished build, or the oldest build that was still running — so a
re-sync reads only new or unfinished builds, and a job with nothing new costs no request.
Auth: basic, user + API token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator

from cto_assistant.connectors.base import Checkpoint, CheckResult, Connector, Record
from cto_assistant.connectors.cicd import mapping
from cto_assistant.connectors.cicd.common import DEPLOYMENTS, CICDConfig, probe
from cto_assistant.connectors.payload import Reader
from cto_assistant.errors import SchemaDriftError
from cto_assistant.http import VendorClient, build_client

BUILD_TREE = (
    "builds[number,result,timestamp,duration,url,"
    "actions[parameters[name,value],lastBuiltRevision[SHA1,branch[SHA1,name]],remoteUrls],"
    "changeSets[items[commitId,timestamp,msg]]]"
)


class JenkinsConfig(CICDConfig):
    """Settings of a Jenkins source."""

    kind: Literal["jenkins"] = "jenkins"
    user: str = Field(description="Jenkins user the API token belongs to.")
    token: SecretStr = Field(description="Jenkins API token of `user`.")
    jobs: list[str] | None = Field(
        default=None,
        description="Deploy jobs to read ('folder/job' for jobs in folders); default: every "
        "top-level job whose name matches job_pattern.",
    )
    job_pattern: str = Field(
        default=r"(?i)deploy|release|rollback",
        description="Regex on job names that marks deploy jobs.",
    )
    job_prefix_pattern: str = Field(
        default=r"(?i)^(deploy|release|rollback)[-_]",
        description="Regex removed from a job name to get its service when neither `services` "
        "nor the build's git remote names it.",
    )
    environment_parameter: str = Field(
        default="DEPLOY_ENV", description="Build parameter naming the target environment."
    )
    rollback_parameter: str = Field(
        default="ROLLBACK", description="Build parameter that is 'true' for rollbacks."
    )
    repos: dict[str, str] = Field(
        default_factory=dict,
        description="Job → repository full_name, when builds carry no git remote URL.",
    )

    @field_validator("job_pattern", "job_prefix_pattern")
    @classmethod
    def _valid_job_regex(cls, value: str) -> str:
        re.compile(value)
        return value


class JenkinsConnector(Connector):
    """Deployments from Jenkins deploy jobs."""

    kind = "jenkins"
    config_model = JenkinsConfig
    category = "engineering"
    streams = (DEPLOYMENTS,)
    config: JenkinsConfig

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        token = self.config.token.get_secret_value()
        self.client: VendorClient = build_client(
            context, auth=(self.config.user, token), secrets=(token,)
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def check(self) -> list[CheckResult]:
        """List the jobs (read-only)."""
        return [probe("list jobs", lambda: self.client.get_json("api/json?tree=jobs[name]"))]

    @staticmethod
    def _job_url(job: str) -> str:
        return "".join(f"job/{quote(part, safe='')}/" for part in job.split("/"))

    def _latest_numbers(self) -> dict[str, int | None]:
        """Deploy jobs → their newest build number (one request for all top-level jobs)."""
        body = self.client.get_json(
            "api/json", stream="deployments", params={"tree": "jobs[name,url,lastBuild[number]]"}
        )
        r = Reader(body, source=self.name, stream="deployments", what="Jenkins root")
        latest: dict[str, int | None] = {}
        for job in r.need("jobs"):
            j = Reader(job, source=self.name, stream="deployments", what="Jenkins job")
            name = str(j.need("name"))
            number = j.get("lastBuild.number")
            latest[name] = int(number) if number is not None else None
        if self.config.jobs is not None:
            # Jobs inside folders are not in the root listing: read them unconditionally.
            return {job: latest.get(job, -1) if "/" not in job else -1 for job in self.config.jobs}
        pattern = re.compile(self.config.job_pattern)
        return {name: number for name, number in latest.items() if pattern.search(name)}

    def pull_deployments(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Builds of deploy jobs not read (or not finished) at the cursor `since`."""
        floors: dict[str, int] = _parse_cursor(since, source=self.name)
        latest = self._latest_numbers()
        rules = self.config.rules()
        for job, newest in latest.items():
            floor = floors.get(job, 0)
            if newest is None or (newest != -1 and newest < floor):
                continue  # no builds, or nothing new: no request
            highest = floor - 1
            running: list[int] = []
            for build in self._builds(job, floor):
                row = mapping.jenkins_deployment(
                    build,
                    source=self.name,
                    job=job,
                    service="",
                    repo=self.config.repos.get(job),
                    environment_parameter=self.config.environment_parameter,
                    rollback_parameter=self.config.rollback_parameter,
                    rules=rules,
                )
                row["service"] = self._service(job, row["repo"])
                number = int(build["number"])
                highest = max(highest, number)
                if row["status"] == "in_progress":
                    running.append(number)
                yield Record("deployment", {"source": self.name, **row})
                if row["status"] == "success":
                    commits = mapping.jenkins_commits(build)
                    for change in mapping.change_rows(row["source_id"], row["repo"], commits):
                        yield Record("deployment_change", {"source": self.name, **change})
            floors[job] = min(running) if running else highest + 1
        yield Checkpoint(json.dumps(floors, sort_keys=True))

    def _service(self, job: str, repo: str | None) -> str:
        """Configured, else the deployed repository's name, else the job name minus its prefix."""
        if job in self.config.services:
            return self.config.services[job]
        if repo:
            return repo.rsplit("/", 1)[-1]
        name = job.rsplit("/", 1)[-1]
        return re.sub(self.config.job_prefix_pattern, "", name) or name

    def _builds(self, job: str, floor: int) -> Iterator[dict[str, Any]]:
        """Builds numbered `floor` or more, newest first, paging with tree ranges {M,N}."""
        size = self.config.page_size
        start = 0
        while True:
            body = self.client.get_json(
                f"{self._job_url(job)}api/json",
                stream="deployments",
                params={"tree": f"{BUILD_TREE}{{{start},{start + size}}}"},
            )
            self.client.stats.pages += 1
            r = Reader(body, source=self.name, stream="deployments", what="Jenkins job")
            builds = r.need("builds")
            if not isinstance(builds, list):
                raise SchemaDriftError(
                    self.name, "'builds' is not a list", stream="deployments", field="builds"
                )
            for build in builds:
                b = Reader(build, source=self.name, stream="deployments", what="Jenkins build")
                if int(b.need("number")) < floor:
                    return
                yield b.obj
            if len(builds) < size:
                return
            start += size


def _parse_cursor(since: str | None, *, source: str) -> dict[str, int]:
    if not since:
        return {}
    try:
        value = json.loads(since)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise SchemaDriftError(source, f"unreadable cursor {since[:40]!r}", stream="deployments")
    return {str(job): int(number) for job, number in value.items()}
