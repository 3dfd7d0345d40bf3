"""Jenkins simulator: the world's Jenkins deployments as builds of deploy jobs (JSON API).

Serves, in the shapes of the remote access API (www.jenkins.io/doc/book/using/remote-access-api):

- `GET /api/json?tree=jobs[name,url,lastBuild[number]]` — the deploy jobs (`hudson.model.Hudson`).
- `GET /job/<name>/api/json?tree=builds[…]{M,N}` — builds newest first; the `{M,N}` range of
  the tree parameter pages them (M inclusive, N exclusive), as Jenkins does.

Every world `deployment` row with `tool == "jenkins"` is one build. Its `source_id` should be
`"<job>#<number>"`; otherwise the job is `deploy-<service>` and builds are numbered by start
time. A build carries `ParametersAction` (DEPLOY_ENV = environment, ROLLBACK = true/false),
the git plugin's `BuildData` (lastBuiltRevision SHA1 + branch, remoteUrls) and a git change set
holding the world's `deployment_change` commits (merge messages name the PR). `result` is null
while building.

Demo credentials: basic auth `deploy-bot` / `jenkins-demo-token`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import basic_credentials, new_simulator, require, same
from cto_assistant.demo.world import Row, World

DEMO_USER = "deploy-bot"
DEMO_TOKEN = "jenkins-demo-token"  # noqa: S105 - documented demo credential
WEB_ROOT = "https://jenkins.acme.example"
RESULT = {"success": "SUCCESS", "failure": "FAILURE", "cancelled": "ABORTED"}
_SOURCE_ID = re.compile(r"^(?P<job>.+)#(?P<number>\d+)$")
_RANGE = re.compile(r"\{(\d*),?(\d*)\}\s*$")


def _ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


def commit_message(sha: str, pr_number: int | None, *, hotfix: bool = False) -> str:
    """A merge commit message naming the pull request (hotfix branches say so)."""
    branch = "hotfix" if hotfix else "feature"
    if pr_number is None:
        return f"{branch}: change {sha[:8]}"
    return f"Merge pull request #{pr_number} from acme/{branch}-{pr_number}"


class JenkinsIndex:
    """The world's Jenkins builds, shaped and indexed once (newest first per job)."""

    def __init__(self, world: World) -> None:
        rows = [row for row in world.rows("deployment") if row.get("tool") == "jenkins"]
        ids = {str(row["source_id"]) for row in rows}
        changes: dict[str, list[Row]] = defaultdict(list)
        for change in world.rows("deployment_change"):
            if str(change.get("deployment_source_id")) in ids:
                changes[str(change["deployment_source_id"])].append(change)
        numbered: dict[str, list[tuple[int, Row]]] = defaultdict(list)
        unnumbered: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            match = _SOURCE_ID.match(str(row["source_id"]))
            if match:
                numbered[match["job"]].append((int(match["number"]), row))
            else:
                unnumbered[f"deploy-{row.get('service')}"].append(row)
        for job, pending in unnumbered.items():
            pending.sort(
                key=lambda r: parse_time(r.get("started_at")) or datetime.min.replace(tzinfo=UTC)
            )
            start = max((n for n, _ in numbered[job]), default=0)
            numbered[job].extend((start + i, row) for i, row in enumerate(pending, start=1))
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        for job, builds in numbered.items():
            shaped = [
                self._build(job, number, row, changes.get(str(row["source_id"]), []))
                for number, row in sorted(builds, key=lambda pair: pair[0], reverse=True)
            ]
            self.jobs[job] = shaped

    @staticmethod
    def _build(job: str, number: int, row: Row, changes: list[Row]) -> dict[str, Any]:
        started = parse_time(row.get("started_at"))
        finished = parse_time(row.get("finished_at"))
        status = str(row.get("status"))
        result = RESULT.get(status) if status != "in_progress" else None
        sha = row.get("sha")
        ref = row.get("ref") or "main"
        repo = row.get("repo")
        actions: list[dict[str, Any]] = [
            {"_class": "hudson.model.CauseAction"},
            {
                "_class": "hudson.model.ParametersAction",
                "parameters": [
                    {
                        "_class": "hudson.model.StringParameterValue",
                        "name": "DEPLOY_ENV",
                        "value": row.get("environment") or "",
                    },
                    {
                        "_class": "hudson.model.BooleanParameterValue",
                        "name": "ROLLBACK",
                        "value": bool(row.get("is_rollback")),
                    },
                ],
            },
        ]
        if sha:
            actions.append(
                {
                    "_class": "hudson.plugins.git.util.BuildData",
                    "lastBuiltRevision": {
                        "SHA1": sha,
                        "branch": [{"SHA1": sha, "name": f"refs/remotes/origin/{ref}"}],
                    },
                    "remoteUrls": [f"https://github.com/{repo}.git"] if repo else [],
                }
            )
        items = [
            {
                "_class": "hudson.plugins.git.GitChangeSet",
                "commitId": str(change["sha"]),
                "timestamp": _ms(started),
                "msg": commit_message(
                    str(change["sha"]),
                    change.get("pr_number"),
                    hotfix=bool(row.get("is_hotfix")) and change["sha"] == sha,
                ),
            }
            for change in sorted(changes, key=lambda c: str(c["sha"]))
        ]
        return {
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
            "actions": actions,
            "duration": _ms(finished) - _ms(started) if finished and result else 0,
            "number": number,
            "result": result,
            "timestamp": _ms(started),
            "url": row.get("url") or f"{WEB_ROOT}/job/{job}/{number}/",
            "changeSets": [
                {"_class": "hudson.plugins.git.GitChangeSetList", "items": items, "kind": "git"}
            ]
            if items
            else [],
        }


def _range(tree: str) -> tuple[int, int | None]:
    """The `{M,N}` range that ends a tree expression (whole list when absent)."""
    match = _RANGE.search(tree)
    if not match:
        return 0, None
    start = int(match.group(1) or 0)
    end = int(match.group(2)) if match.group(2) else None
    if "," not in match.group(0):  # {N}: just element N
        return start, start + 1
    return start, end


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The Jenkins simulator app serving `world`."""
    app, state = new_simulator(
        "jenkins", world, credentials=credentials or {"user": DEMO_USER, "token": DEMO_TOKEN}
    )
    index = JenkinsIndex(world)

    def authorise(request: Request) -> None:
        pair = basic_credentials(request)
        require(
            pair is not None
            and same(pair[0], state.credentials.get("user"))
            and same(pair[1], state.credentials.get("token")),
        )

    @app.get("/api/json")
    def root(request: Request) -> dict[str, Any]:
        authorise(request)
        jobs = []
        for name, builds in sorted(index.jobs.items()):
            job: dict[str, Any] = {
                "_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
                "name": name,
                "url": f"{WEB_ROOT}/job/{name}/",
            }
            job["lastBuild"] = (
                {
                    "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                    "number": builds[0]["number"],
                }
                if builds
                else None
            )
            jobs.append(job)
        return {"_class": "hudson.model.Hudson", "jobs": jobs}

    @app.get("/job/{path:path}/api/json")
    def job_builds(path: str, request: Request) -> dict[str, Any]:
        authorise(request)
        name = "/".join(part for part in path.split("/job/"))
        if name not in index.jobs:
            raise HTTPException(status_code=404, detail="Not Found")
        start, end = _range(request.query_params.get("tree", ""))
        builds = index.jobs[name]
        return {
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
            "builds": builds[start:end],
        }

    return app


__all__ = ["DEMO_TOKEN", "DEMO_USER", "make_app"]
