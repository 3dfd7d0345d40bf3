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
from datetime import datetime, timedelta
from typing import Any

from cto_assistant.connectors.payload import Reader

Row = dict[str, Any]
STREAM = "deployments"

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


def pr_number_from_message(message: str | None, *, source: str = "cicd") -> int | None:
    """The PR/MR number a merge commit message names, if any."""
    message = Reader.of("message", message, source=source, stream=STREAM, what="commit").text(
        "message"
    )
    if not message:
        return None
    match = _PR_NUMBER.search(message)
    if match is None:
        return None
    return int(next(group for group in match.groups() if group))


def repo_from_remote(url: str | None, *, source: str = "cicd") -> str | None:
    """'org/name' from a git remote URL (https or scp-like), or None."""
    url = Reader.of("url", url, source=source, stream=STREAM, what="git remote").text("url")
    if not url:
        return None
    match = _GIT_REMOTE.search(url.strip())
    return match.group(1) if match else None


def change_rows(
    deployment_source_id: str,
    repo: str | None,
    commits: Iterable[tuple[str, str | None]],
    *,
    source: str = "cicd",
) -> list[Row]:
    """deployment_change rows for (sha, message) pairs, first occurrence of each sha kept."""
    rows: list[Row] = []
    seen: set[str] = set()
    for sha, message in _commit_pairs(commits, source=source):
        if not sha or sha in seen:
            continue
        seen.add(sha)
        rows.append(
            {
                "source_id": f"{deployment_source_id}:{sha}",
                "deployment_source_id": deployment_source_id,
                "repo": repo,
                "sha": sha,
                "pr_number": pr_number_from_message(message, source=source),
            }
        )
    return rows


def _commit_pairs(commits: Any, *, source: str) -> list[tuple[str | None, str | None]]:
    """(sha, message) pairs, each checked: a sha and a message, each a string or null."""
    r = Reader.of("commits", commits, source=source, stream=STREAM, what="deployed commits")
    pairs = []
    for index in range(len(r.items("commits"))):
        pair = f"commits.{index}"
        if len(r.need_list(pair)) != 2:
            raise r.drift(pair, "is not a (sha, message) pair")
        pairs.append((r.text(f"{pair}.0"), r.text(f"{pair}.1")))
    return pairs


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
    r = Reader(item, source=source, stream=STREAM, what="GitLab deployment")
    status = str(r.need("status"))
    job = r.child("deployable")
    ref = r.text("ref")
    finished = job.time("finished_at")
    if finished is None and GITLAB_STATUS.get(status) != "in_progress":
        finished = r.time("updated_at")
    return {
        "source_id": str(r.need("id")),
        "service": service,
        "repo": project,
        "environment": rules.environment(r.need_text("environment.name")),
        "sha": r.need_text("sha"),
        "ref": ref,
        "started_at": job.time("started_at") or r.need_time("created_at"),
        "finished_at": finished,
        "status": GITLAB_STATUS.get(status, "in_progress"),
        "tool": "gitlab",
        "is_rollback": rules.is_rollback(job.text("name")),
        "is_hotfix": rules.is_hotfix(ref, _first_line(job.get("commit.title"))),
        "url": job.get("pipeline.web_url") or job.get("web_url"),
    }


def gitlab_compare_commits(body: Any, *, source: str) -> list[tuple[str, str | None]]:
    """(sha, message) pairs of a GitLab `repository/compare` response."""
    r = Reader(body, source=source, stream=STREAM, what="GitLab compare")
    return [
        (str(c.need("id")), c.text("message") or c.text("title"))
        for c in r.need_objects("commits", "compare commit")
    ]


# ----------------------------------------------------------------------------------- Jenkins

JENKINS_STATUS = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "UNSTABLE": "failure",
    "ABORTED": "cancelled",
    "NOT_BUILT": "cancelled",
}


def _jenkins_build(build: Any, source: str) -> Reader:
    return Reader(build, source=source, stream=STREAM, what="Jenkins build")


def _actions(build: Reader) -> list[Reader]:
    """The build's actions (Jenkins lists empty and null entries among them: skipped)."""
    return build.objects("actions", "action", skip_others=True)


def jenkins_parameters(build: dict[str, Any], *, source: str = "cicd") -> dict[str, Any]:
    """The build's parameters (ParametersAction) as name → value."""
    return _parameters(_jenkins_build(build, source))


def _parameters(build: Reader) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for action in _actions(build):
        for param in action.objects("parameters", "parameter", skip_others=True):
            if "name" in param.obj:
                found[str(param.obj["name"])] = param.get("value")
    return found


def jenkins_build_data(build: dict[str, Any], *, source: str = "cicd") -> dict[str, Any]:
    """The git plugin's BuildData action (lastBuiltRevision, remoteUrls), or {}."""
    return _build_data(_jenkins_build(build, source)).obj


def _build_data(build: Reader) -> Reader:
    """The BuildData action as a Reader (an empty one when the build has none)."""
    for action in _actions(build):
        if "lastBuiltRevision" in action.obj:
            return action
    return Reader({}, source=build.source, stream=build.stream, what="Jenkins BuildData")


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
    r = _jenkins_build(build, source)
    number = r.need_integer("number")
    started = r.need_time("timestamp")
    result = r.get("result")
    params = _parameters(r)
    data = _build_data(r)
    sha = data.text("lastBuiltRevision.SHA1")
    ref = data.text("lastBuiltRevision.branch.0.name")
    if ref:
        ref = re.sub(r"^(refs/remotes/[^/]+/|origin/)", "", ref)
    status = JENKINS_STATUS.get(str(result), "failure") if result is not None else "in_progress"
    rollback_value = params.get(rollback_parameter)
    return {
        "source_id": f"{job}#{number}",
        "service": service,
        "repo": repo_from_remote(data.text("remoteUrls.0"), source=source) or repo,
        "environment": rules.environment(_text(params.get(environment_parameter))),
        "sha": sha,
        "ref": ref,
        "started_at": started,
        "finished_at": _jenkins_finished(r, started) if result is not None else None,
        "status": status,
        "tool": "jenkins",
        "is_rollback": str(rollback_value).lower() == "true" or rules.is_rollback(job),
        "is_hotfix": rules.is_hotfix(
            ref, *(_first_line(msg) for commit, msg in _commits(r) if commit == sha)
        ),
        "url": r.get("url"),
    }


def _jenkins_finished(build: Reader, started: datetime) -> datetime | None:
    """When a finished build ended: its start plus `duration` (milliseconds), if given."""
    duration = build.number("duration")
    if duration is None:
        return None
    try:
        return started + timedelta(milliseconds=duration)
    except OverflowError:
        raise build.drift("duration", f"is out of range: {duration}") from None


def jenkins_commits(build: dict[str, Any], *, source: str = "cicd") -> list[tuple[str, str | None]]:
    """(sha, message) pairs from a build's changeSets, then the built revision if new."""
    return _commits(_jenkins_build(build, source))


def _commits(build: Reader) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for change_set in build.objects("changeSets", "change set", skip_others=True):
        for item in change_set.objects("items", "change", skip_others=True):
            if item.get("commitId"):
                pairs.append((str(item.get("commitId")), item.text("msg")))
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
    r = Reader(job, source=source, stream=STREAM, what="CircleCI job")
    p = _circleci_pipeline(pipeline, source)
    w = Reader(workflow, source=source, stream=STREAM, what="CircleCI workflow")
    name = str(r.need("name"))
    status = str(r.need("status"))
    ref = p.text("vcs.branch") or p.text("vcs.tag")
    return {
        "source_id": str(r.need("id")),
        "service": service,
        "repo": repo_from_remote(p.text("vcs.target_repository_url"), source=source) or repo,
        "environment": environment,
        "sha": p.text("vcs.revision"),
        "ref": ref,
        "started_at": r.time("started_at"),
        "finished_at": r.time("stopped_at"),
        "status": CIRCLECI_STATUS.get(status, "in_progress"),
        "tool": "circleci",
        "is_rollback": rules.is_rollback(name, w.text("name") or ""),
        "is_hotfix": rules.is_hotfix(ref, p.text("vcs.commit.subject")),
        "url": _circleci_url(r, p, w),
    }


def _circleci_pipeline(pipeline: Any, source: str) -> Reader:
    return Reader(pipeline, source=source, stream=STREAM, what="CircleCI pipeline")


def _circleci_url(job: Reader, pipeline: Reader, workflow: Reader) -> str | None:
    """The job's page in the CircleCI app (None without a pipeline number or workflow id)."""
    slug = str(pipeline.need("project_slug"))
    number = pipeline.get("number")
    workflow_id = workflow.get("id")
    if number is None or not workflow_id:
        return None
    url = f"https://app.circleci.com/pipelines/{slug}/{number}/workflows/{workflow_id}"
    job_number = job.get("job_number")
    return url if job_number is None else f"{url}/jobs/{job_number}"


def circleci_commit(
    pipeline: dict[str, Any], *, source: str = "cicd"
) -> list[tuple[str, str | None]]:
    """The pipeline's revision as the one commit it shipped (CircleCI has no commit list)."""
    p = _circleci_pipeline(pipeline, source)
    sha = p.text("vcs.revision")
    if not sha:
        return []
    parts = (p.text("vcs.commit.subject"), p.text("vcs.commit.body"))
    message = "\n".join(part for part in parts if part)
    return [(sha, message or None)]
