"""Pure mappers: GitHub REST v3 and GraphQL payloads → domain rows (columns of `store.models`).

Every function takes the decoded JSON object plus the source name and stream (for errors) and
returns a row dict including `source` and `source_id`. `source_id` conventions (the demo
simulator serves the world with the same ones): repository → numeric repo id; pull request,
review, deployment, workflow run → GraphQL `node_id`; commit → sha; deployment change →
"<deployment source_id>:<sha>"; Dependabot / code-scanning alert → "<repo>/dependabot/<n>" /
"<repo>/code-scanning/<n>"; SBOM package → "<repo>:<ecosystem>/<package>@<version>";
org member → "<org>:<login>"; person → the login.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cto_assistant.connectors.payload import Reader, dig
from cto_assistant.errors import SchemaDriftError

Row = dict[str, Any]

# purl type → Dependabot ecosystem name (so SBOM and Dependabot rows agree).
PURL_TO_ECOSYSTEM = {
    "npm": "npm",
    "pypi": "pip",
    "maven": "maven",
    "golang": "go",
    "gem": "rubygems",
    "nuget": "nuget",
    "composer": "composer",
    "cargo": "rust",
    "githubactions": "actions",
    "pub": "pub",
    "swift": "swift",
}
_CODE_SCANNING_LEVELS = {"error": "high", "warning": "medium", "note": "low", "none": "low"}
_PR_NUMBER = re.compile(r"(?:Merge pull request #|\(#)(\d+)")
_CWE_TAG = re.compile(r"external/cwe/cwe-0*(\d+)", re.I)


def _base(source: str, source_id: str | int) -> Row:
    return {"source": source, "source_id": str(source_id)}


def repository(
    obj: Any,
    *,
    source: str,
    stream: str,
    protection: Any = None,
    protected: bool | None = None,
    service_property: str = "service",
    team_property: str = "team",
) -> Row:
    """A repository row from a repository object and (optionally) its branch protection."""
    r = Reader(obj, source=source, stream=stream, what="repository")
    properties = r.child("custom_properties").obj
    required_reviews = None
    if protection is not None:
        p = Reader(protection, source=source, stream=stream, what="branch protection")
        required_reviews = p.get("required_pull_request_reviews.required_approving_review_count")
    return {
        **_base(source, r.need("id")),
        "provider": "github",
        "full_name": r.need("full_name"),
        "default_branch": r.get("default_branch"),
        "service": properties.get(service_property),
        "team_key": properties.get(team_property),
        "branch_protected": protected,
        "required_reviews": required_reviews,
        "language": r.get("language"),
        "archived": bool(r.get("archived", False)),
        "url": r.get("html_url"),
    }


def pull_request(
    obj: Any,
    *,
    source: str,
    stream: str,
    repo: str,
    commits: list[Any] | None = None,
    reviews: list[Any] | None = None,
) -> Row:
    """A pull_request row from a pull-request object plus its commits and reviews."""
    r = Reader(obj, source=source, stream=stream, what="pull request")
    merged_at = r.time("merged_at")
    closed_state = "merged" if merged_at is not None else "closed"
    state = "open" if r.need("state") == "open" else closed_state
    author = r.get("user.login")
    first_commit = min(
        (commit_time(c, source=source, stream=stream) for c in _nodes(r, "commits", commits)),
        default=None,
    )
    verdicts = []
    for review_obj in _nodes(r, "reviews", reviews):
        rv = Reader(review_obj, source=source, stream=stream, what="review")
        verdicts.append((rv.get("user.login"), rv.get("state"), rv.time("submitted_at")))
    first_review, approved = review_milestones(verdicts, author)
    return {
        **_base(source, r.need("node_id")),
        "repo": repo,
        "number": r.need("number"),
        "title": r.get("title"),
        "author": author,
        "state": state,
        "created_at": r.need_time("created_at"),
        "updated_at": r.time("updated_at"),
        "first_commit_at": first_commit,
        "first_review_at": first_review,
        "approved_at": approved,
        "merged_at": merged_at,
        "closed_at": r.time("closed_at"),
        "merge_commit_sha": r.get("merge_commit_sha"),
        "base_branch": r.get("base.ref"),
        "additions": r.get("additions"),
        "deletions": r.get("deletions"),
        "changed_files": r.get("changed_files"),
        "draft": bool(r.get("draft", False)),
        "url": r.get("html_url"),
    }


def _nodes(pull: Reader, name: str, nodes: Any) -> list[Any]:
    """The commits or reviews fetched for a pull request (None: none), checked to be a list."""
    return Reader.of(name, nodes, source=pull.source, stream=pull.stream, what=pull.label).items(
        name
    )


def review_milestones(
    reviews: list[tuple[str | None, str | None, datetime | None]], author: str | None
) -> tuple[datetime | None, datetime | None]:
    """First review and first approval by someone other than the author.

    `reviews` are (reviewer login, review state, submitted at); unsubmitted (pending) reviews
    and the author's own comments on their pull request do not count.
    """
    submitted = [
        (state, at)
        for login, state, at in reviews
        if at is not None and not (author and login == author)
    ]
    first_review = min((at for _, at in submitted), default=None)
    approved = min((at for state, at in submitted if state == "APPROVED"), default=None)
    return first_review, approved


def review(obj: Any, *, source: str, stream: str, repo: str, pr_number: int) -> Row:
    """A review row from a pull-request-review object."""
    r = Reader(obj, source=source, stream=stream, what="review")
    return {
        **_base(source, r.need("node_id")),
        "repo": repo,
        "pr_number": pr_number,
        "reviewer": r.get("user.login"),
        "state": r.need("state"),
        "submitted_at": r.time("submitted_at"),
    }


def commit_time(obj: Any, *, source: str, stream: str) -> datetime:
    """When a commit was authored (falls back to the committer date)."""
    r = Reader(obj, source=source, stream=stream, what="commit")
    if r.get("commit.author.date") is not None:
        return r.need_time("commit.author.date")
    return r.need_time("commit.committer.date")


def commit(obj: Any, *, source: str, stream: str, repo: str, pr_number: int | None) -> Row:
    """A commit row from a commit object."""
    r = Reader(obj, source=source, stream=stream, what="commit")
    return {
        **_base(source, r.need("sha")),
        "sha": r.need("sha"),
        "repo": repo,
        "author": r.get("author.login"),
        "authored_at": commit_time(obj, source=source, stream=stream),
        "committed_at": r.time("commit.committer.date"),
        "pr_number": pr_number,
        "message": r.get("commit.message"),
    }


# ---------------------------------------------------------------- GraphQL (API v4) nodes
# The GraphQL objects carry the same facts under other names: `id` is the REST `node_id`,
# `url` the REST `html_url`, `mergeCommit.oid` the `merge_commit_sha`, `baseRefName` the
# `base.ref`; states are upper-case enums (OPEN / CLOSED / MERGED).


def pull_request_node(
    obj: Any,
    *,
    source: str,
    stream: str,
    repo: str,
    commits: list[Any],
    reviews: list[Any],
) -> Row:
    """A pull_request row from a GraphQL `PullRequest` plus its commit and review nodes."""
    r = Reader(obj, source=source, stream=stream, what="pull request")
    merged_at = r.time("mergedAt")
    closed_state = "merged" if merged_at is not None else "closed"
    state = "open" if r.need("state") == "OPEN" else closed_state
    author = r.get("author.login")
    first_commit = min(
        (commit_node_time(c, source=source, stream=stream) for c in _nodes(r, "commits", commits)),
        default=None,
    )
    verdicts = []
    for review_obj in _nodes(r, "reviews", reviews):
        rv = Reader(review_obj, source=source, stream=stream, what="review")
        verdicts.append((rv.get("author.login"), rv.get("state"), rv.time("submittedAt")))
    first_review, approved = review_milestones(verdicts, author)
    return {
        **_base(source, r.need("id")),
        "repo": repo,
        "number": r.need("number"),
        "title": r.get("title"),
        "author": author,
        "state": state,
        "created_at": r.need_time("createdAt"),
        "updated_at": r.need_time("updatedAt"),
        "first_commit_at": first_commit,
        "first_review_at": first_review,
        "approved_at": approved,
        "merged_at": merged_at,
        "closed_at": r.time("closedAt"),
        "merge_commit_sha": r.get("mergeCommit.oid"),
        "base_branch": r.get("baseRefName"),
        "additions": r.get("additions"),
        "deletions": r.get("deletions"),
        "changed_files": r.get("changedFiles"),
        "draft": bool(r.get("isDraft", False)),
        "url": r.get("url"),
    }


def review_node(obj: Any, *, source: str, stream: str, repo: str, pr_number: int) -> Row:
    """A review row from a GraphQL `PullRequestReview`."""
    r = Reader(obj, source=source, stream=stream, what="review")
    return {
        **_base(source, r.need("id")),
        "repo": repo,
        "pr_number": pr_number,
        "reviewer": r.get("author.login"),
        "state": r.need("state"),
        "submitted_at": r.time("submittedAt"),
    }


def commit_node_time(obj: Any, *, source: str, stream: str) -> datetime:
    """When a GraphQL `PullRequestCommit`'s commit was authored (else committed)."""
    r = Reader(obj, source=source, stream=stream, what="pull request commit")
    if r.get("commit.authoredDate") is not None:
        return r.need_time("commit.authoredDate")
    return r.need_time("commit.committedDate")


def commit_node(obj: Any, *, source: str, stream: str, repo: str, pr_number: int | None) -> Row:
    """A commit row from a GraphQL `PullRequestCommit` (its `commit` is the git commit)."""
    r = Reader(obj, source=source, stream=stream, what="pull request commit")
    sha = r.need("commit.oid")
    return {
        **_base(source, sha),
        "sha": sha,
        "repo": repo,
        "author": r.get("commit.author.user.login"),
        "authored_at": commit_node_time(obj, source=source, stream=stream),
        "committed_at": r.time("commit.committedDate"),
        "pr_number": pr_number,
        "message": r.get("commit.message"),
    }


def pr_number_from_message(message: str | None, *, source: str = "github") -> int | None:
    """The PR a merge or squash commit came from ("Merge pull request #12", "… (#12)")."""
    message = Reader.of("message", message, source=source, stream=None, what="commit").text(
        "message"
    )
    if not message:
        return None
    match = _PR_NUMBER.search(message)
    return int(match.group(1)) if match else None


def pull_request_numbers(commits: list[Any], head: str) -> dict[str, int | None]:
    """The PR each compared commit came in with, read from the commit graph.

    The first-parent chain from `head` is the default branch; each merge or squash commit on it
    names its PR in the message ("Merge pull request #12 …", "… (#12)"), and the commits reached
    through its other parents (the PR branch) belong to the same PR.
    """
    if not isinstance(commits, list) or not isinstance(head, str):
        raise SchemaDriftError(
            "github", "compare did not return a commit list and a head sha", field="commits"
        )
    by_sha: dict[str, Any] = {
        str(c["sha"]): c for c in commits if isinstance(c, dict) and c.get("sha")
    }

    def parents(sha: str) -> list[str]:
        found = by_sha[sha].get("parents") or []
        if not isinstance(found, list):
            return []
        return [str(p["sha"]) for p in found if isinstance(p, dict) and p.get("sha")]

    mainline: list[str] = []
    sha: str | None = head
    while sha is not None and sha in by_sha and sha not in mainline:
        mainline.append(sha)
        first = parents(sha)
        sha = first[0] if first else None
    on_mainline = set(mainline)
    labels: dict[str, int | None] = {}
    for merge in mainline:
        number = pr_number_from_message(dig(by_sha[merge], "commit.message"))
        labels[merge] = number
        stack = parents(merge)[1:]
        while stack:
            current = stack.pop()
            if current in by_sha and current not in labels and current not in on_mainline:
                labels[current] = number
                stack.extend(parents(current))
    for known, commit in by_sha.items():
        if known not in labels:
            labels[known] = pr_number_from_message(dig(commit, "commit.message"))
    return labels


def deployment_change(
    commit_obj: Any,
    *,
    source: str,
    stream: str,
    deployment_source_id: str,
    repo: str,
    pr_number: int | None,
) -> Row:
    """A deployment_change row: one commit a deployment shipped."""
    r = Reader(commit_obj, source=source, stream=stream, what="commit")
    sha = r.need("sha")
    return {
        **_base(source, f"{deployment_source_id}:{sha}"),
        "deployment_source_id": deployment_source_id,
        "repo": repo,
        "sha": sha,
        "pr_number": pr_number,
    }


def _statuses(statuses: Any, *, source: str, stream: str) -> list[Reader]:
    """A deployment's statuses (newest first), each checked to be an object."""
    listed = Reader.of("statuses", statuses, source=source, stream=stream, what="deployment")
    return listed.objects("statuses", "deployment status")


def deployment_status(
    statuses: list[Any], *, source: str, stream: str
) -> tuple[str, datetime | None]:
    """Our status and finish time from a deployment's statuses (newest first)."""
    listed = _statuses(statuses, source=source, stream=stream)
    if not listed:
        return "in_progress", None
    latest = listed[0]
    state = latest.need("state")
    at = latest.time("created_at")
    if state == "success":
        return "success", at
    if state in ("failure", "error"):
        return "failure", at
    if state == "inactive":
        earlier = {s.get("state") for s in listed[1:]}
        return ("success" if "success" in earlier else "cancelled"), at
    return "in_progress", None


def deployment(
    obj: Any,
    *,
    source: str,
    stream: str,
    repo: str,
    service: str | None,
    statuses: list[Any],
    production_environments: list[str],
) -> Row:
    """A deployment row from a deployment object and its statuses (newest first)."""
    r = Reader(obj, source=source, stream=stream, what="deployment")
    status, finished = deployment_status(statuses, source=source, stream=stream)
    environment = normalize_environment(
        r.text("environment"), production_environments, source=source
    )
    listed = _statuses(statuses, source=source, stream=stream)
    url = listed[0].get("target_url") if listed else None
    return {
        **_base(source, r.need("node_id")),
        "service": service,
        "repo": repo,
        "environment": environment,
        "sha": r.need("sha"),
        "ref": r.get("ref"),
        "started_at": r.need_time("created_at"),
        "finished_at": finished,
        "status": status,
        "tool": "github",
        "url": url,
    }


def normalize_environment(
    name: str | None, production_environments: list[str], *, source: str = "github"
) -> str | None:
    """'production' for any configured production name; other names lower-cased."""
    given = Reader(
        {"environment": name, "production_environments": production_environments},
        source=source,
        stream=None,
        what="deployment",
    )
    environment = given.text("environment")
    if not environment:
        return None
    lowered = environment.strip().lower()
    if lowered in {p.lower() for p in given.texts("production_environments")}:
        return "production"
    return lowered


_RUN_STATUS = {
    "success": "success",
    "failure": "failure",
    "timed_out": "failure",
    "startup_failure": "failure",
    "action_required": "failure",
    "cancelled": "cancelled",
    "skipped": "cancelled",
    "neutral": "success",
}


def workflow_run(
    obj: Any, *, source: str, stream: str, repo: str, service: str | None, environment: str
) -> Row:
    """A deployment row (tool github_actions) from a workflow run that deploys."""
    r = Reader(obj, source=source, stream=stream, what="workflow run")
    completed = r.get("status") == "completed"
    status = _RUN_STATUS.get(r.text("conclusion") or "", "failure") if completed else "in_progress"
    started = r.time("run_started_at") or r.need_time("created_at")
    return {
        **_base(source, r.need("node_id")),
        "service": service,
        "repo": repo,
        "environment": environment,
        "sha": r.need("head_sha"),
        "ref": r.get("head_branch"),
        "started_at": started,
        "finished_at": r.need_time("updated_at") if completed else None,
        "status": status,
        "tool": "github_actions",
        "url": r.get("html_url"),
    }


def _none_strings(value: Any) -> Any:
    """Real exports carry Python's "None" for nulls (DefectDojo fixtures); treat it as null."""
    if isinstance(value, dict):
        return {k: _none_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_none_strings(v) for v in value]
    return None if value == "None" else value


def repo_from_alert_url(url: str | None, *, source: str = "github") -> str | None:
    """'org/name' from an alert's API URL (…/repos/org/name/…)."""
    url = Reader.of("url", url, source=source, stream=None, what="alert").text("url")
    if not url:
        return None
    match = re.search(r"/repos/([^/]+/[^/]+)/", url)
    return match.group(1) if match else None


def _vuln_state(state: str | None) -> str:
    if state in ("open", "fixed"):
        return state
    return "dismissed" if state in ("dismissed", "auto_dismissed") else "open"


def dependabot_alert(
    obj: Any, *, source: str, stream: str, repo: str | None = None, service: str | None = None
) -> Row:
    """A vulnerability row (scanner dependabot) from a Dependabot alert."""
    r = Reader(_none_strings(obj), source=source, stream=stream, what="dependabot alert")
    repo = (
        repo or r.get("repository.full_name") or repo_from_alert_url(r.text("url"), source=source)
    )
    number = r.need("number")
    advisory = Reader(
        r.need("security_advisory"), source=source, stream=stream, what="security advisory"
    )
    vulnerability = r.need("security_vulnerability")
    v = Reader(vulnerability, source=source, stream=stream, what="security vulnerability")
    identifiers = advisory.objects("identifiers", "identifier", skip_others=True)
    cves = [i.get("value") for i in identifiers if i.get("type") == "CVE"]
    if not cves and advisory.get("cve_id"):
        cves = [advisory.get("cve_id")]
    cvss = advisory.number("cvss_severities.cvss_v3.score") or advisory.number("cvss.score")
    vector = advisory.get("cvss_severities.cvss_v3.vector_string") or advisory.get(
        "cvss.vector_string"
    )
    fixed_version = v.get("first_patched_version.identifier")
    return {
        **_base(source, f"{repo}/dependabot/{number}"),
        "scanner": "dependabot",
        "external_id": advisory.need("ghsa_id"),
        "title": advisory.get("summary"),
        "repo": repo,
        "service": service,
        "environment": None,
        "ecosystem": v.get("package.ecosystem") or r.get("dependency.package.ecosystem"),
        "package": v.get("package.name") or r.get("dependency.package.name"),
        "version": v.get("vulnerable_version_range"),
        "fixed_version": fixed_version,
        "severity": v.get("severity") or advisory.need("severity"),
        "cvss": cvss or None,
        "cvss_vector": vector,
        "cve_ids": cves,
        "cwe_ids": [c.get("cwe_id") for c in advisory.objects("cwes", "CWE", skip_others=True)],
        "epss": advisory.get("epss.percentage"),
        "fixable": fixed_version is not None,
        "first_seen": r.need_time("created_at"),
        "fixed_at": r.time("fixed_at"),
        "state": _vuln_state(r.get("state")),
        "url": r.get("html_url"),
    }


def code_scanning_alert(
    obj: Any, *, source: str, stream: str, repo: str | None = None, service: str | None = None
) -> Row:
    """A vulnerability row (scanner code_scanning) from a code-scanning alert."""
    r = Reader(_none_strings(obj), source=source, stream=stream, what="code scanning alert")
    repo = (
        repo or r.get("repository.full_name") or repo_from_alert_url(r.text("url"), source=source)
    )
    number = r.need("number")
    rule = Reader(r.need("rule"), source=source, stream=stream, what="code scanning rule")
    severity = rule.get("security_severity_level") or _CODE_SCANNING_LEVELS.get(
        rule.text("severity") or "", "low"
    )
    cwes = [f"CWE-{m.group(1)}" for tag in rule.items("tags") if (m := _CWE_TAG.search(str(tag)))]
    return {
        **_base(source, f"{repo}/code-scanning/{number}"),
        "scanner": "code_scanning",
        "external_id": rule.get("id") or rule.get("name"),
        "title": rule.get("description") or rule.get("name"),
        "repo": repo,
        "service": service,
        "environment": None,
        "package": r.get("most_recent_instance.location.path"),
        "severity": severity,
        "cwe_ids": cwes,
        "cve_ids": [],
        "first_seen": r.need_time("created_at"),
        "fixed_at": r.time("fixed_at"),
        "state": _vuln_state(r.get("state")),
        "url": r.get("html_url"),
    }


def sbom_dependencies(obj: Any, *, source: str, stream: str, repo: str) -> list[Row]:
    """Dependency rows from an SPDX SBOM export (`{"sbom": {...}}`); the repo itself is skipped."""
    doc = Reader(obj, source=source, stream=stream, what="sbom response").need_child("sbom")
    packages = doc.need_objects("packages", "sbom package")
    roots, direct_ids = _sbom_roots_and_direct(doc)
    rows = []
    for p in packages:
        spdx_id = p.need_text("SPDXID")
        if spdx_id in roots:
            continue
        purl = next(
            (
                ref.text("referenceLocator")
                for ref in p.objects("externalRefs", "external ref")
                if ref.get("referenceType") == "purl"
            ),
            None,
        )
        ecosystem, name = _purl_parts(purl) if purl else _name_parts(p.need_text("name"))
        if ecosystem == "github":
            continue
        version = p.get("versionInfo")
        rows.append(
            {
                **_base(source, f"{repo}:{ecosystem}/{name}@{version or ''}"),
                "repo": repo,
                "ecosystem": ecosystem,
                "package": name,
                "version": version,
                "direct": spdx_id in direct_ids,
            }
        )
    return rows


def _sbom_roots_and_direct(doc: Reader) -> tuple[set[str | None], set[str | None]]:
    """The SPDX ids the document describes (the repo) and those the roots depend on directly."""
    roots: set[str | None] = set(doc.texts("documentDescribes"))
    relationships = doc.objects("relationships", "sbom relationship")
    for rel in relationships:
        if rel.get("relationshipType") == "DESCRIBES":
            roots.add(rel.text("relatedSpdxElement"))
    direct_ids = {
        rel.text("relatedSpdxElement")
        for rel in relationships
        if rel.get("relationshipType") == "DEPENDS_ON" and rel.text("spdxElementId") in roots
    }
    return roots, direct_ids


def _purl_parts(purl: str) -> tuple[str, str]:
    body = purl.removeprefix("pkg:").split("?", 1)[0].split("#", 1)[0]
    purl_type, _, rest = body.partition("/")
    name = rest.rsplit("@", 1)[0] if "@" in rest else rest
    if purl_type == "maven":
        name = name.replace("/", ":")
    return PURL_TO_ECOSYSTEM.get(purl_type, purl_type), name


def _name_parts(name: str) -> tuple[str, str]:
    kind, sep, rest = name.partition(":")
    return (PURL_TO_ECOSYSTEM.get(kind, kind), rest) if sep else ("unknown", name)


def member(
    user: Any, *, source: str, stream: str, org: str, admin: bool, mfa_disabled: bool
) -> Row:
    """An access_grant row (system github) for one org member."""
    u = Reader(user, source=source, stream=stream, what="member")
    login = u.need("login")
    return {
        **_base(source, f"{org}:{login}"),
        "system": "github",
        "principal": login,
        "principal_type": "user" if u.get("type", "User") == "User" else "service",
        "person_email": u.get("email"),
        "role": "admin" if admin else "member",
        "privileged": admin,
        "mfa": not mfa_disabled,
    }


def person(user: Any, *, source: str, stream: str) -> Row | None:
    """A person row mapping a login to an e-mail, when the member's e-mail is known."""
    u = Reader(user, source=source, stream=stream, what="member")
    email = u.get("email")
    if not email:
        return None
    login = u.need("login")
    return {
        **_base(source, login),
        "name": u.get("name") or login,
        "email": email,
        "github_login": login,
    }
