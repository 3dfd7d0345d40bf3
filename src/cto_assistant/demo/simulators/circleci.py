"""CircleCI API v2 simulator: the world's CircleCI deployments as pipelines → workflows → jobs.

Serves, in the shapes of circleci.com/docs/api/v2 (listPipelinesForProject,
listWorkflowsByPipelineId, listWorkflowJobs):

- `GET /api/v2/project/{project-slug}/pipeline` — newest first, `branch` filter, pages of
  `page_size` (CircleCI's is 20) with an opaque `next_page_token` sent back as `page-token`.
- `GET /api/v2/pipeline/{pipeline-id}/workflow` — the pipeline's workflow (`build-test-deploy`).
- `GET /api/v2/workflow/{id}/job` — a `test` job, then the deploy job: `deploy-<environment>`,
  or `rollback-<environment>` for rollbacks; the deploy job's `id` is the world `source_id`.

Every world `deployment` row with `tool == "circleci"` is one pipeline of project slug
`gh/<repo>`, whose `vcs.revision` is the deployed sha (CircleCI lists no commits per pipeline).

Demo credentials: header `Circle-Token: circleci-demo-token` (or `Authorization: Bearer …`).
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import bearer_token, new_simulator, require, same
from cto_assistant.demo.world import World

DEMO_TOKEN = "circleci-demo-token"  # noqa: S105 - documented demo credential
PAGE_SIZE = 20
JOB_STATUS = {"success": "success", "failure": "failed", "cancelled": "canceled"}
WORKFLOW_STATUS = {"success": "success", "failure": "failed", "cancelled": "canceled"}


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "circleci:" + "|".join(str(p) for p in parts)))


def _ts(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def commit_subject(sha: str, pr_number: int | None, *, hotfix: bool = False) -> str:
    """The head commit's subject (a merge commit names its pull request; hotfixes say so)."""
    branch = "hotfix" if hotfix else "feature"
    if pr_number is None:
        return f"{branch}: change {sha[:8]}"
    return f"Merge pull request #{pr_number} from acme/{branch}-{pr_number}"


class CircleCIIndex:
    """The world's CircleCI deployments as pipelines, workflows and jobs, built once."""

    def __init__(self, world: World) -> None:
        rows = [row for row in world.rows("deployment") if row.get("tool") == "circleci"]
        ids = {str(row["source_id"]) for row in rows}
        prs: dict[tuple[str, str], int | None] = {}
        for change in world.rows("deployment_change"):
            if str(change.get("deployment_source_id")) in ids:
                prs[(str(change["deployment_source_id"]), str(change["sha"]))] = change.get(
                    "pr_number"
                )
        self.pipelines: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.workflows: dict[str, list[dict[str, Any]]] = {}
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        numbers: dict[str, int] = defaultdict(int)
        epoch = datetime.min.replace(tzinfo=UTC)
        for row in sorted(rows, key=lambda r: parse_time(r.get("started_at")) or epoch):
            repo = str(row.get("repo") or f"acme/{row.get('service')}")
            slug = f"gh/{repo}"
            numbers[slug] += 1
            source_id = str(row["source_id"])
            started = parse_time(row.get("started_at"))
            finished = parse_time(row.get("finished_at"))
            created = started or epoch
            sha = str(row.get("sha") or "0" * 40)
            env = row.get("environment") or "production"
            status = str(row.get("status"))
            pipeline_id = _uuid("pipeline", source_id)
            workflow_id = _uuid("workflow", source_id)
            test_id = _uuid("test", source_id)
            actor = {"login": "deploy-bot", "avatar_url": "https://avatars.example/deploy-bot"}
            vcs: dict[str, Any] = {
                "provider_name": "GitHub",
                "origin_repository_url": f"https://github.com/{repo}",
                "target_repository_url": f"https://github.com/{repo}",
                "revision": sha,
                "branch": row.get("ref") or "main",
                "commit": {
                    "subject": commit_subject(
                        sha, prs.get((source_id, sha)), hotfix=bool(row.get("is_hotfix"))
                    ),
                    "body": "",
                },
            }
            self.pipelines[slug].append(
                {
                    "id": pipeline_id,
                    "errors": [],
                    "project_slug": slug,
                    "updated_at": _ts(finished or created),
                    "number": numbers[slug],
                    "state": "created",
                    "created_at": _ts(created),
                    "trigger": {"type": "webhook", "received_at": _ts(created), "actor": actor},
                    "vcs": vcs,
                }
            )
            self.workflows[pipeline_id] = [
                {
                    "pipeline_id": pipeline_id,
                    "id": workflow_id,
                    "name": "build-test-deploy",
                    "project_slug": slug,
                    "status": WORKFLOW_STATUS.get(status, "running"),
                    "started_by": _uuid("user", "deploy-bot"),
                    "pipeline_number": numbers[slug],
                    "created_at": _ts(created),
                    "stopped_at": _ts(finished) if status != "in_progress" else None,
                }
            ]
            test_end = created + timedelta(seconds=1)
            self.jobs[workflow_id] = [
                {
                    "dependencies": [],
                    "job_number": numbers[slug] * 2 - 1,
                    "id": test_id,
                    "started_at": _ts(created - timedelta(seconds=1)),
                    "name": "test",
                    "project_slug": slug,
                    "status": "success",
                    "type": "build",
                    "stopped_at": _ts(test_end),
                },
                {
                    "dependencies": [test_id],
                    "job_number": numbers[slug] * 2,
                    "id": source_id,
                    "started_at": _ts(started),
                    "name": f"{'rollback' if row.get('is_rollback') else 'deploy'}-{env}",
                    "project_slug": slug,
                    "status": JOB_STATUS.get(status, "running"),
                    "type": "build",
                    "stopped_at": _ts(finished) if status != "in_progress" else None,
                },
            ]
        for pipelines in self.pipelines.values():
            pipelines.reverse()  # newest first, as CircleCI lists them


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise HTTPException(status_code=400, detail={"message": "Invalid page-token"}) from None


def _page(items: list[dict[str, Any]], request: Request, size: int) -> dict[str, Any]:
    start = _offset(request.query_params.get("page-token"))
    chunk = items[start : start + size]
    more = start + size < len(items)
    return {"items": chunk, "next_page_token": _token(start + size) if more else None}


def make_app(
    world: World, *, credentials: dict[str, str] | None = None, page_size: int = PAGE_SIZE
) -> FastAPI:
    """The CircleCI simulator app serving `world` (`page_size` items per page)."""
    app, state = new_simulator("circleci", world, credentials=credentials or {"token": DEMO_TOKEN})
    index = CircleCIIndex(world)

    def authorise(request: Request) -> None:
        token = request.headers.get("circle-token") or bearer_token(request)
        require(same(token, state.credentials.get("token")), "Unauthorized")

    @app.get("/api/v2/project/{slug:path}/pipeline")
    def pipelines(slug: str, request: Request) -> dict[str, Any]:
        authorise(request)
        if slug not in index.pipelines:
            raise HTTPException(status_code=404, detail={"message": "Project not found"})
        found = index.pipelines[slug]
        branch = request.query_params.get("branch")
        if branch:
            found = [p for p in found if p["vcs"].get("branch") == branch]
        return _page(found, request, page_size)

    @app.get("/api/v2/pipeline/{pipeline_id}/workflow")
    def workflows(pipeline_id: str, request: Request) -> dict[str, Any]:
        authorise(request)
        if pipeline_id not in index.workflows:
            raise HTTPException(status_code=404, detail={"message": "Pipeline not found"})
        return _page(index.workflows[pipeline_id], request, page_size)

    @app.get("/api/v2/workflow/{workflow_id}/job")
    def jobs(workflow_id: str, request: Request) -> dict[str, Any]:
        authorise(request)
        if workflow_id not in index.jobs:
            raise HTTPException(status_code=404, detail={"message": "Workflow not found"})
        return _page(index.jobs[workflow_id], request, page_size)

    return app


__all__ = ["DEMO_TOKEN", "make_app"]
