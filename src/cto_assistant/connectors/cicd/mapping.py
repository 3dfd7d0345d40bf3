"""CI/CD payloads → `deployment` and `deployment_change` rows (pure functions, no I/O).

One deployment row per GitLab deployment, Jenkins deploy build or CircleCI deploy job; one
deployment_change row per commit a *successful* deployment shipped (what lead time counts),
keyed `f"{deployment_source_id}:{sha}"`.
Which runs count as deployments and to which environment is decided by `DeployRules` (config).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cto_assistant.connectors.payload import Reader

Row = dict[str, Any]

# Merge-commit messages carry the PR/MR number: GitLab "See merge request group/proj!12",
# GitHub "Merge pull request #12 from …", squash merges "Title (#12)".
_PR_NUMBER = re.compile(
    r"See merge request \S*!(\d+)|Merge pull request #(\d+)|\(#(\d+)\)\s*$", re.MULTILINE
)
_GIT_REMOTE = re.compile(r"(?:[:/])([^/:]+/[^/]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class DeployRules:
    """How raw environment names, rollbacks and hotfixes are recognised (from config)."""

    production_environments: tuple[str, ...] = ("production", "prod")
    staging_environments: tuple[str, ...] = ("staging", "stage")
    rollback_pattern: str = r"(?i)rollback"
    hotfix_pattern: str = r"(?i)hotfix"

    def environment(self, raw: str | None) -> str | None:
        """'production' / 'staging' for configured names, else the raw name lowercased."""
        if raw is None or raw == "":
            return None
        name = raw.strip().lower()
        if name in {env.lower() for env in self.production_environments}:
            return "production"
        if name in {env.lower() for env in self.staging_environments}:
            return "staging"
        return name

    def is_rollback(self, *texts: str | None) -> bool:
        """Whether any of the texts (job name, parameter value) marks a rollback."""
        return any(text and re.search(self.rollback_pattern, text) for text in texts)

    def is_hotfix(self, ref: str | None, *messages: str | None) -> bool:
        """Whether the deployed ref, or the head commit's message, marks a hotfix."""
        return any(text and re.search(self.hotfix_pattern, text) for text in (ref, *messages))


def pr_number_from_message(message: str | None) -> int | None:
    """The PR/MR number a merge commit message names, if any."""
    if not message:
        return None
    match = _PR_NUMBER.search(message)
    if match is None:
        return None
    return int(next(group for group in match.groups() if group))


def repo_from_remote(url: str | None) -> str | None:
    """'org/name' from a git remote URL (https or scp-like), or None."""
    if not url:
        return None
    match = _GIT_REMOTE.search(url.strip())
    return match.group(1) if match else None


def change_rows(
    deployment_source_id: str, repo: str | None, commits: Iterable[tuple[str, str | None]]
) -> list[Row]:
    """deployment_change rows for (sha, message) pairs, first occurrence of each sha kept."""
    rows: list[Row] = []
    seen: set[str] = set()
    for sha, message in commits:
        if not sha or sha in seen:
            continue
        seen.add(sha)
        rows.append(
            {
                "source_id": f"{deployment_source_id}:{sha}",
                "deployment_source_id": deployment_source_id,
                "repo": repo,
                "sha": sha,
                "pr_number": pr_number_from_message(message),
            }
        )
    return rows


# ------------------------------------------------------------------------------------ GitLab

GITLAB_STATUS = {
    "success": "success",
    "failed": "failure",
    "canceled": "cancelled",
    "skipped": "cancelled",
    "created": "in_progress",
    "running": "in_progress",
    "blocked": "in_progress",
}


def gitlab_deployment(
    item: Any, *, source: str, project: str, service: str, rules: DeployRules
) -> Row:
    """One GitLab `GET /projects/:id/deployments` item → a deployment row."""
    r = Reader(item, source=source, stream="deployments", what="GitLab deployment")
    status = str(r.need("status"))
    deployable = r.get("deployable") or {}
    job = Reader(deployable, source=source, stream="deployments", what="deployable")
    ref = r.get("ref")
    job_name = job.get("name")
    finished = job.time("finished_at") if deployable else None
    if finished is None and GITLAB_STATUS.get(status) != "in_progress":
        finished = r.time("updated_at")
    return {
        "source_id": str(r.need("id")),
        "service": service,
        "repo": project,
        "environment": rules.environment(r.need("environment.name")),
        "sha": r.need("sha"),
        "ref": ref,
        "started_at": (job.time("started_at") if deployable else None) or r.need_time("created_at"),
        "finished_at": finished,
        "status": GITLAB_STATUS.get(status, "in_progress"),
        "tool": "gitlab",
        "is_rollback": rules.is_rollback(job_name),
        "is_hotfix": rules.is_hotfix(ref, _first_line(job.get("commit.title"))),
        "url": job.get("pipeline.web_url") or job.get("web_url"),
    }


def gitlab_compare_commits(body: Any, *, source: str) -> list[tuple[str, str | None]]:
    """(sha, message) pairs of a GitLab `repository/compare` response."""
    r = Reader(body, source=source, stream="deployments", what="GitLab compare")
    commits = r.need("commits")
    pairs = []
    for commit in commits:
        c = Reader(commit, source=source, stream="deployments", what="compare commit")
        pairs.append((str(c.need("id")), c.get("message") or c.get("title")))
    return pairs


# ----------------------------------------------------------------------------------- Jenkins

JENKINS_STATUS = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "UNSTABLE": "failure",
    "ABORTED": "cancelled",
    "NOT_BUILT": "cancelled",
}


def jenkins_parameters(build: dict[str, Any]) -> dict[str, Any]:
    """The build's parameters (ParametersAction) as name → value."""
    found: dict[str, Any] = {}
    for action in build.get("actions") or []:
        if isinstance(action, dict):
            for param in action.get("parameters") or []:
                if isinstance(param, dict) and "name" in param:
                    found[str(param["name"])] = param.get("value")
    return found


def jenkins_build_data(build: dict[str, Any]) -> dict[str, Any]:
    """The git plugin's BuildData action (lastBuiltRevision, remoteUrls), or {}."""
    for action in build.get("actions") or []:
        if isinstance(action, dict) and "lastBuiltRevision" in action:
            return action
    return {}


def jenkins_deployment(
    build: Any,
    *,
    source: str,
    job: str,
    service: str,
    repo: str | None,
    environment_parameter: str,
    rollback_parameter: str,
    rules: DeployRules,
) -> Row:
    """One build of a Jenkins deploy job → a deployment row."""
    r = Reader(build, source=source, stream="deployments", what="Jenkins build")
    number = int(r.need("number"))
    started = r.need_time("timestamp")
    result = r.get("result")
    duration = r.get("duration")
    params = jenkins_parameters(r.obj)
    data = jenkins_build_data(r.obj)
    revision = data.get("lastBuiltRevision") or {}
    branches = revision.get("branch") or []
    ref = branches[0].get("name") if branches and isinstance(branches[0], dict) else None
    if ref:
        ref = re.sub(r"^(refs/remotes/[^/]+/|origin/)", "", ref)
    status = JENKINS_STATUS.get(str(result), "failure") if result is not None else "in_progress"
    finished = None
    if result is not None and isinstance(duration, int | float):
        finished = started + timedelta(milliseconds=duration)
    rollback_value = params.get(rollback_parameter)
    return {
        "source_id": f"{job}#{number}",
        "service": service,
        "repo": repo_from_remote((data.get("remoteUrls") or [None])[0]) or repo,
        "environment": rules.environment(_text(params.get(environment_parameter))),
        "sha": revision.get("SHA1"),
        "ref": ref,
        "started_at": started,
        "finished_at": finished,
        "status": status,
        "tool": "jenkins",
        "is_rollback": str(rollback_value).lower() == "true" or rules.is_rollback(job),
        "is_hotfix": rules.is_hotfix(
            ref,
            *(
                _first_line(msg)
                for sha, msg in jenkins_commits(r.obj)
                if sha == revision.get("SHA1")
            ),
        ),
        "url": r.get("url"),
    }


def jenkins_commits(build: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(sha, message) pairs from a build's changeSets, then the built revision if new."""
    pairs: list[tuple[str, str | None]] = []
    for change_set in build.get("changeSets") or []:
        for item in (change_set or {}).get("items") or []:
            if isinstance(item, dict) and item.get("commitId"):
                pairs.append((str(item["commitId"]), item.get("msg")))
    return pairs


def _first_line(text: Any) -> str | None:
    return str(text).splitlines()[0] if text else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------- CircleCI

CIRCLECI_STATUS = {
    "success": "success",
    "failed": "failure",
    "infrastructure_fail": "failure",
    "timedout": "failure",
    "error": "failure",
    "canceled": "cancelled",
    "not_run": "cancelled",
    "unauthorized": "cancelled",
    "terminated-unknown": "failure",
}


def circleci_deployment(
    job: Any,
    *,
    pipeline: dict[str, Any],
    workflow: dict[str, Any],
    source: str,
    service: str,
    repo: str | None,
    environment: str | None,
    rules: DeployRules,
) -> Row:
    """One CircleCI deploy job (with its workflow and pipeline) → a deployment row."""
    r = Reader(job, source=source, stream="deployments", what="CircleCI job")
    p = Reader(pipeline, source=source, stream="deployments", what="CircleCI pipeline")
    name = str(r.need("name"))
    status = str(r.need("status"))
    ref = p.get("vcs.branch") or p.get("vcs.tag")
    slug = str(p.need("project_slug"))
    number = p.get("number")
    job_number = r.get("job_number")
    url = None
    if number is not None and workflow.get("id"):
        url = f"https://app.circleci.com/pipelines/{slug}/{number}/workflows/{workflow['id']}"
        if job_number is not None:
            url += f"/jobs/{job_number}"
    return {
        "source_id": str(r.need("id")),
        "service": service,
        "repo": repo_from_remote(p.get("vcs.target_repository_url")) or repo,
        "environment": environment,
        "sha": p.get("vcs.revision"),
        "ref": ref,
        "started_at": r.time("started_at"),
        "finished_at": r.time("stopped_at"),
        "status": CIRCLECI_STATUS.get(status, "in_progress"),
        "tool": "circleci",
        "is_rollback": rules.is_rollback(name, str(workflow.get("name") or "")),
        "is_hotfix": rules.is_hotfix(ref, p.get("vcs.commit.subject")),
        "url": url,
    }


def circleci_commit(pipeline: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The pipeline's revision as the one commit it shipped (CircleCI has no commit list)."""
    vcs = pipeline.get("vcs") or {}
    sha = vcs.get("revision")
    if not sha:
        return []
    commit = vcs.get("commit") or {}
    message = "\n".join(part for part in (commit.get("subject"), commit.get("body")) if part)
    return [(str(sha), message or None)]
