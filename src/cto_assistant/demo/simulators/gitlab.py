"""GitLab REST v4 simulator: the world's GitLab deployments and the commits they shipped.

Serves, in the shapes of docs.gitlab.com/ee/api/deployments.html and
docs.gitlab.com/ee/api/repositories.html#compare-branches-tags-or-commits:

- `GET /api/v4/projects/:id/deployments` — `order_by` (id, iid, created_at, updated_at, ref),
  `sort`, `updated_after`/`updated_before` (inclusive, as GitLab's UpdatedAtFilterable),
  `environment`, `status`; offset paging `page`/`per_page` (default 20, max 100) with `Link`,
  `X-Next-Page`, `X-Page`, `X-Per-Page`, `X-Prev-Page`, `X-Total`, `X-Total-Pages` headers.
- `GET /api/v4/projects/:id/repository/compare?from=&to=` — the commits between the previous
  successful deployment to the same environment (`from`) and a deployment's sha (`to`).

`:id` is the URL-encoded project path (the world's `repo`, e.g. `acme%2Fcheckout-service`).
Every world `deployment` row with `tool == "gitlab"` is one deployment (id = `source_id`, which
should be numeric); its `deployment_change` rows are the compare result. A rollback is served
as a deployable job named `rollback`, others as `deploy`.

Demo credentials: header `PRIVATE-TOKEN: gitlab-demo-token` (or `Authorization: Bearer …`).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import bearer_token, new_simulator, require, same
from cto_assistant.demo.world import Row, World

DEMO_TOKEN = "gitlab-demo-token"  # noqa: S105 - documented demo credential
STATUS = {"success": "success", "failure": "failed", "cancelled": "canceled"}
WEB_ROOT = "https://gitlab.acme.example"


def _ts(value: Any) -> str | None:
    moment = parse_time(value)
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _numeric(source_id: Any) -> int:
    text = str(source_id)
    return int(text) if text.isdigit() else zlib.crc32(text.encode())


def _started(row: Row) -> datetime:
    return parse_time(row.get("started_at")) or datetime.min.replace(tzinfo=UTC)


def commit_message(sha: str, repo: str, pr_number: int | None, *, hotfix: bool = False) -> str:
    """A merge commit message naming the merge request (how GitLab links commit → MR)."""
    branch = "hotfix" if hotfix else "mr"
    if pr_number is None:
        return f"{branch}: change {sha[:8]}"
    return (
        f"Merge branch '{branch}-{pr_number}' into 'main'\n\nSee merge request {repo}!{pr_number}"
    )


def _user() -> dict[str, Any]:
    return {
        "id": 1,
        "name": "Deploy Bot",
        "username": "deploy-bot",
        "state": "active",
        "avatar_url": f"{WEB_ROOT}/uploads/deploy-bot.png",
        "web_url": f"{WEB_ROOT}/deploy-bot",
    }


def _commit(sha: str, title: str, at: str | None) -> dict[str, Any]:
    return {
        "id": sha,
        "short_id": sha[:8],
        "title": title.splitlines()[0],
        "author_name": "Deploy Bot",
        "author_email": "deploy-bot@acme.example",
        "created_at": at,
        "message": title,
    }


class GitLabIndex:
    """The world's GitLab deployments, shaped and indexed once."""

    def __init__(self, world: World) -> None:
        rows = [row for row in world.rows("deployment") if row.get("tool") == "gitlab"]
        ids = {str(row["source_id"]) for row in rows}
        changes: dict[str, list[Row]] = defaultdict(list)
        for change in world.rows("deployment_change"):
            if str(change.get("deployment_source_id")) in ids:
                changes[str(change["deployment_source_id"])].append(change)
        self.projects: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.compare: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        env_ids: dict[str, int] = {}
        # GitLab ids grow with creation time; world ids that are not numeric get positions.
        numeric = all(str(row["source_id"]).isdigit() for row in rows)
        ordered = sorted(rows, key=lambda r: (_started(r), _numeric(r["source_id"])))
        last_success: dict[tuple[str, str], str] = {}
        iids: dict[str, int] = defaultdict(int)
        for position, row in enumerate(ordered, start=1):
            repo = str(row.get("repo") or f"acme/{row.get('service')}")
            env = str(row.get("environment") or "production")
            ident = int(row["source_id"]) if numeric else position
            iids[repo] += 1
            started = _ts(row.get("started_at"))
            finished = _ts(row.get("finished_at"))
            sha = str(row.get("sha") or "0" * 40)
            ref = row.get("ref") or "main"
            hotfix = bool(row.get("is_hotfix"))
            own = sorted(changes.get(str(row["source_id"]), []), key=lambda c: str(c["sha"]))
            first_msg = next(
                (
                    commit_message(sha, repo, c.get("pr_number"), hotfix=hotfix)
                    for c in own
                    if c["sha"] == sha
                ),
                commit_message(sha, repo, None, hotfix=hotfix),
            )
            status = STATUS.get(str(row.get("status")), "running")
            pipeline_id = ident + 100_000
            deployment = {
                "id": ident,
                "iid": iids[repo],
                "ref": ref,
                "sha": sha,
                "created_at": started,
                "updated_at": finished or started,
                "status": status,
                "user": _user(),
                "environment": {
                    "id": env_ids.setdefault(env, len(env_ids) + 1),
                    "name": env,
                    "external_url": f"https://{env}.acme.example",
                },
                "deployable": {
                    "id": ident + 200_000,
                    "status": status,
                    "stage": "deploy",
                    "name": "rollback" if row.get("is_rollback") else "deploy",
                    "ref": ref,
                    "tag": False,
                    "coverage": None,
                    "created_at": started,
                    "started_at": started,
                    "finished_at": finished,
                    "project": {"ci_job_token_scope_enabled": False},
                    "user": _user(),
                    "commit": _commit(sha, first_msg, started),
                    "pipeline": {
                        "id": pipeline_id,
                        "sha": sha,
                        "ref": ref,
                        "status": status,
                        "created_at": started,
                        "updated_at": finished or started,
                        "web_url": row.get("url") or f"{WEB_ROOT}/{repo}/-/pipelines/{pipeline_id}",
                    },
                    "runner": None,
                },
            }
            self.projects[repo].append(deployment)
            previous = last_success.get((repo, env))
            if previous is not None:
                self.compare[(repo, previous, sha)] = [
                    _commit(
                        str(c["sha"]),
                        commit_message(
                            str(c["sha"]),
                            repo,
                            c.get("pr_number"),
                            hotfix=hotfix and c["sha"] == sha,
                        ),
                        started,
                    )
                    for c in own
                ]
            if row.get("status") == "success":
                last_success[(repo, env)] = sha


def _listing(items: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
    found = items
    if "environment" in params:
        found = [d for d in found if d["environment"]["name"] == params["environment"]]
    if "status" in params:
        found = [d for d in found if d["status"] == params["status"]]
    after = parse_time(params.get("updated_after"))
    before = parse_time(params.get("updated_before"))
    if after is not None:
        found = [d for d in found if (parse_time(d["updated_at"]) or after) >= after]
    if before is not None:
        found = [d for d in found if (parse_time(d["updated_at"]) or before) <= before]
    order = params.get("order_by", "id")
    if order not in ("id", "iid", "created_at", "updated_at", "ref", "finished_at"):
        raise HTTPException(
            status_code=400, detail={"error": "order_by does not have a valid value"}
        )
    found = sorted(
        found,
        key=lambda d: (
            str(d.get(order) or "")
            if order in ("created_at", "updated_at", "ref")
            else (d.get(order) or 0),
            d["id"],
        ),
        reverse=params.get("sort", "asc") == "desc",
    )
    return found


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The GitLab simulator app serving `world`."""
    app, state = new_simulator("gitlab", world, credentials=credentials or {"token": DEMO_TOKEN})
    index = GitLabIndex(world)

    def authorise(request: Request) -> None:
        token = request.headers.get("private-token") or bearer_token(request)
        require(same(token, state.credentials.get("token")), "401 Unauthorized")

    def project_of(project: str) -> list[dict[str, Any]]:
        if project not in index.projects:
            raise HTTPException(status_code=404, detail="404 Project Not Found")
        return index.projects[project]

    @app.get("/api/v4/projects/{project:path}/deployments")
    def deployments(project: str, request: Request) -> JSONResponse:
        authorise(request)
        params = dict(request.query_params)
        found = _listing(project_of(project), params)
        per_page = max(1, min(100, int(params.get("per_page", 20))))
        page = max(1, int(params.get("page", 1)))
        total_pages = max(1, -(-len(found) // per_page))
        body = found[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(found)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        base = str(request.url).split("?", 1)[0]

        def link(number: int, rel: str) -> str:
            query = urlencode({**params, "page": number, "per_page": per_page})
            return f'<{base}?{query}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < total_pages:
            links.append(link(page + 1, "next"))
        links += [link(1, "first"), link(total_pages, "last")]
        headers["Link"] = ", ".join(links)
        return JSONResponse(body, headers=headers)

    @app.get("/api/v4/projects/{project:path}/repository/compare")
    def compare(project: str, request: Request) -> dict[str, Any]:
        authorise(request)
        project_of(project)
        start = request.query_params.get("from")
        end = request.query_params.get("to")
        if not start or not end:
            raise HTTPException(status_code=400, detail={"error": "from, to are missing"})
        commits = index.compare.get((project, start, end), [])
        return {
            "commit": commits[-1] if commits else None,
            "commits": commits,
            "diffs": [],
            "compare_timeout": False,
            "compare_same_ref": start == end,
            "web_url": f"{WEB_ROOT}/{project}/-/compare/{start}...{end}",
        }

    return app


__all__ = ["DEMO_TOKEN", "make_app"]
