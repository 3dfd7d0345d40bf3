"""GitHub REST v3 + GraphQL simulator: serves a World's repositories, delivery and security rows.

Demo credentials: any request must carry `Authorization: Bearer ghp_acme_demo_token` (or
`token ghp_acme_demo_token`); pass `credentials={"token": ...}` to `make_app` for another one.

Shapes follow the official description (api.github.com.subset.json) for the endpoints it has —
pulls, pull commits/reviews, deployments + statuses, Actions runs/workflows, Dependabot and
code-scanning alerts (repo and org), rate_limit — and GitHub's documented shapes for the rest:
`/orgs/{org}/repos`, `/repos/{o}/{r}`, branch protection, compare, the SPDX SBOM export and org
members (`role=admin`, `filter=2fa_disabled`, memberships). Every response carries
`x-ratelimit-*` headers; listings page with `per_page` (max 100) and `page` and a `Link` header
with rel="next"/"last" (Dependabot uses the `after` cursor, like GitHub).

`POST /graphql` serves GitHub's GraphQL API for pull requests: a subset of GitHub's public schema
(`GRAPHQL_SDL`: Repository.pullRequests, PullRequest with commits and reviews, `node(id:)`,
`rateLimit`, GitHub's names and nullability) parsed, validated and executed by graphql-core over
the same indexed world as the REST endpoints, so any query within that subset works and a wrong
field gets GitHub's `undefinedField` error. GitHub's limits are enforced before execution
(`first`/`last` required and 1 to 100 per connection, at most 500,000 nodes), each query's point
cost is charged against 5,000 points an hour (`x-ratelimit-resource: graphql`), and an exhausted
budget answers HTTP 200 with a RATE_LIMITED error. Tests reach the endpoint's state through
`app.state.github_graphql` (`points_used`, `reset_at`, `drop_field` for schema drift).

How World rows become GitHub objects (and what the connector maps back, so world → simulator →
connector returns the same `source_id`s):
- repository: `source_id` is the numeric repo id (a non-numeric one becomes the `node_id`);
  `service` and `team_key` are served as the custom properties `service` and `team`.
- pull_request / review: `source_id` is the GraphQL `node_id`.
- commit: `source_id` is the sha; commits with `pr_number` are the PR's commits; the repo's
  history for compare is every commit of the repo in commit-time order.
- deployment: rows with `tool="github_actions"` are Actions workflow runs of the workflow
  "Deploy to <environment>" (run `node_id` = `source_id`); other rows are GitHub Deployments
  (`node_id` = `source_id`) with statuses derived from `status`.
- vulnerability: `scanner` "dependabot" / "code_scanning"; `source_id` "<repo>/dependabot/<n>"
  or "<repo>/code-scanning/<n>" (n is the alert number).
- dependency: served in the repo's SPDX SBOM; `ecosystem` uses Dependabot's names (npm, pip,
  maven, go, rubygems, nuget, composer, rust).
- access_grant with `system="github"`: org members; `role` "admin" makes an org owner; `mfa`
  False puts the login in `filter=2fa_disabled`. `person` rows with `github_login` give the
  member's name and email.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    VariableNode,
    build_schema,
    execute_sync,
    get_named_type,
    get_operation_ast,
    parse,
    validate,
)
from starlette.concurrency import run_in_threadpool

from cto_assistant.demo.simulators.common import bearer_token, new_simulator, same
from cto_assistant.demo.world import Row, World

DEMO_TOKEN = "ghp_acme_demo_token"  # noqa: S105 - the documented demo credential
DEFAULT_ORG = "acme"
API = "https://api.github.com"
WEB = "https://github.com"
RATE_LIMIT = 5000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30

# Dependabot ecosystem name ↔ purl type (SBOM externalRefs).
PURL_TYPES = {
    "npm": "npm",
    "pip": "pypi",
    "maven": "maven",
    "go": "golang",
    "rubygems": "gem",
    "nuget": "nuget",
    "composer": "composer",
    "rust": "cargo",
    "actions": "githubactions",
}
ECOSYSTEM_ALIASES = {"pypi": "pip", "golang": "go", "gem": "rubygems", "cargo": "rust"}

_DEPLOY_STATES = {
    "success": ["in_progress", "success"],
    "failure": ["in_progress", "failure"],
    "in_progress": ["in_progress"],
    "cancelled": ["queued", "inactive"],
}
_RUN_CONCLUSIONS = {"success": "success", "failure": "failure", "cancelled": "cancelled"}


@lru_cache(maxsize=1 << 16)
def stable_id(*parts: object) -> int:
    """A positive 31-bit integer id derived from names (same input, same id)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


@lru_cache(maxsize=1 << 16)
def ts(value: Any) -> str | None:
    """GitHub's timestamp format (second precision, Z) for a datetime, date or ISO string."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        value = datetime.fromisoformat(text)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _fake_sha(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()  # noqa: S324


def _node_id(prefix: str, number: int) -> str:
    return prefix + "_" + base64.b64encode(f"{prefix}:{number}".encode()).decode().rstrip("=")


def simple_user(login: str, *, name: str | None = None, email: str | None = None) -> dict[str, Any]:
    """A `simple-user` object for `login`."""
    uid = stable_id("user", login)
    url = f"{API}/users/{login}"
    user: dict[str, Any] = {
        "login": login,
        "id": uid,
        "node_id": _node_id("U", uid),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": "Organization" if login == DEFAULT_ORG else "User",
        "site_admin": False,
        "user_view_type": "public",
    }
    if name is not None:
        user["name"] = name
    if email is not None:
        user["email"] = email
    return user


_REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
    "hooks_url": "/hooks",
}


class GitHubWorld:
    """The World indexed once by repository, in the shapes the endpoints need."""

    def __init__(self, world: World, org: str | None = None) -> None:
        repos = [r for r in world.rows("repository") if r.get("provider", "github") == "github"]
        self.org = org or (repos[0]["full_name"].split("/")[0] if repos else DEFAULT_ORG)
        self.repos: dict[str, Row] = {r["full_name"]: r for r in repos}
        self.people: dict[str, Row] = {}
        for person in world.rows("person"):
            if person.get("github_login"):
                self.people[person["github_login"]] = person
        self.pulls: dict[str, list[Row]] = defaultdict(list)
        for pr in world.rows("pull_request"):
            self.pulls[pr["repo"]].append(pr)
        for items in self.pulls.values():
            items.sort(key=lambda r: r["number"])
        self.pull_by_number = {(r, p["number"]): p for r, prs in self.pulls.items() for p in prs}
        self.pull_by_node = {p["source_id"]: p for prs in self.pulls.values() for p in prs}
        self.reviews: dict[tuple[str, int], list[Row]] = defaultdict(list)
        for review in world.rows("review"):
            self.reviews[(review["repo"], review["pr_number"])].append(review)
        for items in self.reviews.values():
            items.sort(key=lambda r: ts(r.get("submitted_at")) or "")
        self.pr_commits: dict[tuple[str, int], list[Row]] = defaultdict(list)
        self.history: dict[str, list[Row]] = defaultdict(list)
        for commit in world.rows("commit"):
            self.history[commit["repo"]].append(commit)
            if commit.get("pr_number") is not None:
                self.pr_commits[(commit["repo"], commit["pr_number"])].append(commit)
        for items in [*self.history.values(), *self.pr_commits.values()]:
            items.sort(
                key=lambda r: (ts(r.get("committed_at") or r["authored_at"]) or "", r["sha"])
            )
        self.commit_by_sha = {(c["repo"], c["sha"]): c for c in world.rows("commit")}
        self._build_graph()
        self.deployments: dict[str, list[Row]] = defaultdict(list)
        self.runs: dict[str, list[Row]] = defaultdict(list)
        for dep in world.rows("deployment"):
            repo = dep.get("repo")
            if repo not in self.repos:
                continue
            target = self.runs if dep.get("tool") == "github_actions" else self.deployments
            target[repo].append(dep)
        for items in [*self.deployments.values(), *self.runs.values()]:
            items.sort(key=lambda r: (ts(r.get("started_at")) or "", r["source_id"]), reverse=True)
        self.deployment_by_id = {
            stable_id("deployment", d["source_id"]): d
            for ds in self.deployments.values()
            for d in ds
        }
        self.dependabot: list[Row] = []
        self.code_scanning: list[Row] = []
        numbers: dict[tuple[str, str], int] = defaultdict(int)
        for vuln in world.rows("vulnerability"):
            scanner = vuln.get("scanner")
            if scanner not in ("dependabot", "code_scanning") or vuln.get("repo") not in self.repos:
                continue
            vuln = dict(vuln)
            match = re.search(r"/(\d+)$", str(vuln["source_id"]))
            numbers[(vuln["repo"], scanner)] += 1
            vuln["_number"] = int(match.group(1)) if match else numbers[(vuln["repo"], scanner)]
            (self.dependabot if scanner == "dependabot" else self.code_scanning).append(vuln)
        self.dependencies: dict[str, list[Row]] = defaultdict(list)
        for dep in world.rows("dependency"):
            self.dependencies[dep["repo"]].append(dep)
        self.members: list[Row] = sorted(
            (g for g in world.rows("access_grant") if g.get("system") == "github"),
            key=lambda g: g["principal"],
        )
        self.today = world.today

    def _build_graph(self) -> None:
        """Model each repo's git graph: a mainline of merge commits, each with its PR branch.

        A PR's merge commit (its `merge_commit_sha`, or a commit without `pr_number`) is on the
        default branch; its parents are the previous mainline commit and the PR's last commit;
        the PR's own commits chain from the mainline commit before the branch. Compare walks
        this graph, and `/pulls/{n}/commits` lists the branch commits only, as GitHub does.
        """
        merge_of = {
            (repo, pr["merge_commit_sha"]): pr["number"]
            for repo, prs in self.pulls.items()
            for pr in prs
            if pr.get("merge_commit_sha")
        }
        self.mainline: dict[str, list[Row]] = {}
        self.branch_of: dict[tuple[str, str], list[Row]] = {}
        self.parents: dict[tuple[str, str], list[str]] = {}
        self.main_index: dict[tuple[str, str], int] = {}
        for key in list(self.pr_commits):
            repo, _ = key
            self.pr_commits[key] = [
                c for c in self.pr_commits[key] if (repo, c["sha"]) not in merge_of
            ]
        for repo, history in self.history.items():
            mainline = [
                c for c in history if (repo, c["sha"]) in merge_of or c.get("pr_number") is None
            ]
            self.mainline[repo] = mainline
            previous: str | None = None
            for index, merge in enumerate(mainline):
                self.main_index[(repo, merge["sha"])] = index
                number = merge_of.get((repo, merge["sha"]))
                branch = self.pr_commits.get((repo, number), []) if number is not None else []
                self.branch_of[(repo, merge["sha"])] = branch
                tip = previous
                for commit in branch:
                    self.parents[(repo, commit["sha"])] = [tip] if tip else []
                    tip = commit["sha"]
                self.parents[(repo, merge["sha"])] = [
                    p for p in (previous, branch[-1]["sha"] if branch else None) if p
                ]
                previous = merge["sha"]

    def compare_commits(self, repo: str, base: str, head: str) -> list[Row] | None:
        """Commits reachable from `head` but not from `base` (None: a sha is unknown)."""
        base_index = self.main_index.get((repo, base))
        head_index = self.main_index.get((repo, head))
        if base_index is None or head_index is None:
            return None
        ahead: list[Row] = []
        for merge in self.mainline[repo][base_index + 1 : head_index + 1]:
            ahead.extend(self.branch_of.get((repo, merge["sha"]), []))
            ahead.append(merge)
        return ahead

    # ------------------------------------------------------------------ object builders

    def user(self, login: str | None) -> dict[str, Any] | None:
        """A simple-user for a login (None stays None)."""
        if not login:
            return None
        return simple_user(login)

    def repo_id(self, row: Row) -> int:
        """The numeric id of a repository row."""
        sid = str(row["source_id"])
        return int(sid) if sid.isdigit() else stable_id("repo", sid)

    def repo_node_id(self, row: Row) -> str:
        """The node id of a repository row."""
        sid = str(row["source_id"])
        return _node_id("R", int(sid)) if sid.isdigit() else sid

    def simple_repo(self, full_name: str) -> dict[str, Any]:
        """A simple-repository (the shape alerts and minimal-repository build on)."""
        row = self.repos.get(full_name, {"source_id": str(stable_id("repo", full_name))})
        owner, name = full_name.split("/", 1)
        url = f"{API}/repos/{full_name}"
        obj: dict[str, Any] = {
            "id": self.repo_id(row),
            "node_id": self.repo_node_id(row),
            "name": name,
            "full_name": full_name,
            "owner": simple_user(owner),
            "private": True,
            "html_url": f"{WEB}/{full_name}",
            "description": row.get("description"),
            "fork": False,
            "url": url,
        }
        for key, suffix in _REPO_URL_TEMPLATES.items():
            obj[key] = url + suffix
        return obj

    def full_repo(self, full_name: str) -> dict[str, Any]:
        """A repository object (minimal-repository keys plus the repository schema's)."""
        row = self.repos[full_name]
        obj = self.simple_repo(full_name)
        created = ts(row.get("created_at")) or "2020-01-01T00:00:00Z"
        pushed = self._pushed_at(full_name) or created
        obj.update(
            {
                "git_url": f"git://github.com/{full_name}.git",
                "ssh_url": f"git@github.com:{full_name}.git",
                "clone_url": f"{WEB}/{full_name}.git",
                "svn_url": f"{WEB}/{full_name}",
                "mirror_url": None,
                "homepage": None,
                "language": row.get("language"),
                "license": None,
                "forks": 0,
                "forks_count": 0,
                "stargazers_count": 0,
                "watchers_count": 0,
                "watchers": 0,
                "size": 1024,
                "default_branch": row.get("default_branch") or "main",
                "open_issues_count": 0,
                "open_issues": 0,
                "is_template": False,
                "topics": [],
                "has_issues": True,
                "has_projects": False,
                "has_wiki": False,
                "has_pages": False,
                "has_downloads": True,
                "has_discussions": False,
                "archived": bool(row.get("archived", False)),
                "disabled": False,
                "visibility": "private",
                "pushed_at": pushed,
                "created_at": created,
                "updated_at": pushed,
                "permissions": {
                    "admin": False,
                    "maintain": False,
                    "push": False,
                    "triage": False,
                    "pull": True,
                },
                "allow_forking": False,
                "web_commit_signoff_required": False,
                "custom_properties": {
                    key: value
                    for key, value in (
                        ("service", row.get("service")),
                        ("team", row.get("team_key")),
                    )
                    if value is not None
                },
            }
        )
        return obj

    def _pushed_at(self, full_name: str) -> str | None:
        history = self.history.get(full_name)
        if not history:
            return None
        last = history[-1]
        return ts(last.get("committed_at") or last["authored_at"])

    def pull(self, pr: Row, *, full: bool) -> dict[str, Any]:
        """A pull-request-simple (or, with `full`, a pull-request) object."""
        repo = pr["repo"]
        number = pr["number"]
        url = f"{API}/repos/{repo}/pulls/{number}"
        html = pr.get("url") or f"{WEB}/{repo}/pull/{number}"
        issue = f"{API}/repos/{repo}/issues/{number}"
        commits = self.pr_commits.get((repo, number), [])
        head_sha = commits[-1]["sha"] if commits else _fake_sha(repo, number, "head")
        base_branch = (
            pr.get("base_branch") or self.repos.get(repo, {}).get("default_branch") or "main"
        )
        author = pr.get("author") or "ghost"
        repo_obj = self.full_repo(repo) if repo in self.repos else self.simple_repo(repo)
        state = "open" if pr.get("state", "open") == "open" else "closed"
        statuses = f"{API}/repos/{repo}/statuses/{head_sha}"
        obj: dict[str, Any] = {
            "url": url,
            "id": stable_id("pull", pr["source_id"]),
            "node_id": pr["source_id"],
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{API}/repos/{repo}/pulls/comments{{/number}}",
            "comments_url": f"{issue}/comments",
            "statuses_url": statuses,
            "number": number,
            "state": state,
            "locked": False,
            "title": pr.get("title") or f"PR #{number}",
            "user": simple_user(author),
            "body": None,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": ts(pr["created_at"]),
            "updated_at": ts(pr.get("updated_at") or pr["created_at"]),
            "closed_at": ts(pr.get("closed_at")),
            "merged_at": ts(pr.get("merged_at")),
            "merge_commit_sha": pr.get("merge_commit_sha"),
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": {
                "label": f"{self.org}:{author}/pr-{number}",
                "ref": f"{author}/pr-{number}",
                "repo": repo_obj,
                "sha": head_sha,
                "user": simple_user(self.org),
            },
            "base": {
                "label": f"{self.org}:{base_branch}",
                "ref": base_branch,
                "repo": repo_obj,
                "sha": _fake_sha(repo, number, "base"),
                "user": simple_user(self.org),
            },
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue},
                "comments": {"href": f"{issue}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{API}/repos/{repo}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": statuses},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": bool(pr.get("draft", False)),
        }
        if full:
            merged = pr.get("merged_at") is not None
            obj.update(
                {
                    "merged": merged,
                    "mergeable": None if state == "closed" else True,
                    "mergeable_state": "unknown" if state == "closed" else "clean",
                    "merged_by": simple_user(author) if merged else None,
                    "comments": 0,
                    "review_comments": len(self.reviews.get((repo, number), [])),
                    "maintainer_can_modify": False,
                    "commits": len(commits),
                    "additions": int(pr.get("additions") or 0),
                    "deletions": int(pr.get("deletions") or 0),
                    "changed_files": int(pr.get("changed_files") or 0),
                }
            )
        return obj

    def commit(self, row: Row) -> dict[str, Any]:
        """A `commit` object."""
        repo = row["repo"]
        sha = row["sha"]
        login = row.get("author")
        person = self.people.get(login or "")
        name = (person or {}).get("name") or login or "unknown"
        email = (person or {}).get("email") or f"{login or 'unknown'}@users.noreply.github.com"
        authored = ts(row["authored_at"])
        committed = ts(row.get("committed_at") or row["authored_at"])
        parents = self.parents.get((repo, sha), [])
        url = f"{API}/repos/{repo}/commits/{sha}"
        return {
            "url": url,
            "sha": sha,
            "node_id": _node_id("C", stable_id("commit", sha)),
            "html_url": f"{WEB}/{repo}/commit/{sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "url": f"{API}/repos/{repo}/git/commits/{sha}",
                "author": {"name": name, "email": email, "date": authored},
                "committer": {"name": name, "email": email, "date": committed},
                "message": row.get("message") or "",
                "comment_count": 0,
                "tree": {
                    "sha": _fake_sha(sha, "tree"),
                    "url": f"{API}/repos/{repo}/git/trees/{sha}",
                },
            },
            "author": simple_user(login) if login else None,
            "committer": simple_user(login) if login else None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{API}/repos/{repo}/commits/{p}",
                    "html_url": f"{WEB}/{repo}/commit/{p}",
                }
                for p in parents
            ],
        }

    def review(self, row: Row) -> dict[str, Any]:
        """A `pull-request-review` object."""
        repo, number = row["repo"], row["pr_number"]
        rid = stable_id("review", row["source_id"])
        html = f"{WEB}/{repo}/pull/{number}#pullrequestreview-{rid}"
        commits = self.pr_commits.get((repo, number), [])
        review: dict[str, Any] = {
            "id": rid,
            "node_id": row["source_id"],
            "user": self.user(row.get("reviewer")),
            "body": "",
            "state": row.get("state") or "COMMENTED",
            "html_url": html,
            "pull_request_url": f"{API}/repos/{repo}/pulls/{number}",
            "_links": {
                "html": {"href": html},
                "pull_request": {"href": f"{API}/repos/{repo}/pulls/{number}"},
            },
            "commit_id": commits[-1]["sha"] if commits else None,
            "author_association": "MEMBER",
        }
        if row.get("submitted_at") is not None:
            review["submitted_at"] = ts(row["submitted_at"])
        return review

    def deployment(self, row: Row) -> dict[str, Any]:
        """A `deployment` object."""
        repo = row["repo"]
        did = stable_id("deployment", row["source_id"])
        url = f"{API}/repos/{repo}/deployments/{did}"
        environment = row.get("environment") or "production"
        statuses = self.deployment_statuses(row)
        return {
            "url": url,
            "id": did,
            "node_id": row["source_id"],
            "sha": row.get("sha") or _fake_sha(row["source_id"]),
            "ref": row.get("ref") or row.get("sha") or "main",
            "task": "deploy",
            "payload": {},
            "original_environment": environment,
            "environment": environment,
            "description": None,
            "creator": simple_user("acme-deploy-bot"),
            "created_at": ts(row.get("started_at")),
            "updated_at": statuses[0]["created_at"] if statuses else ts(row.get("started_at")),
            "statuses_url": f"{url}/statuses",
            "repository_url": f"{API}/repos/{repo}",
            "transient_environment": False,
            "production_environment": environment in ("production", "prod"),
        }

    def deployment_statuses(self, row: Row) -> list[dict[str, Any]]:
        """The statuses of a deployment, newest first (as GitHub lists them)."""
        repo = row["repo"]
        did = stable_id("deployment", row["source_id"])
        started = ts(row.get("started_at"))
        finished = ts(row.get("finished_at")) or started
        states = _DEPLOY_STATES.get(row.get("status") or "success", ["in_progress", "success"])
        out = []
        for index, state in enumerate(states):
            sid = stable_id("deployment_status", row["source_id"], index)
            at = started if index == 0 else finished
            out.append(
                {
                    "url": f"{API}/repos/{repo}/deployments/{did}/statuses/{sid}",
                    "id": sid,
                    "node_id": _node_id("DES", sid),
                    "state": state,
                    "creator": simple_user("acme-deploy-bot"),
                    "description": f"Deployment {state}",
                    "environment": row.get("environment") or "production",
                    "target_url": row.get("url") or f"{WEB}/{repo}/deployments",
                    "log_url": row.get("url") or f"{WEB}/{repo}/deployments",
                    "created_at": at,
                    "updated_at": at,
                    "deployment_url": f"{API}/repos/{repo}/deployments/{did}",
                    "repository_url": f"{API}/repos/{repo}",
                }
            )
        out.reverse()
        return out

    def workflow(self, repo: str, environment: str) -> dict[str, Any]:
        """The `workflow` that deploys `repo` to `environment`."""
        wid = stable_id("workflow", repo, environment)
        path = f".github/workflows/deploy-{environment}.yml"
        return {
            "id": wid,
            "node_id": _node_id("W", wid),
            "name": f"Deploy to {environment}",
            "path": path,
            "state": "active",
            "created_at": "2023-01-01T00:00:00Z",
            "updated_at": "2023-01-01T00:00:00Z",
            "url": f"{API}/repos/{repo}/actions/workflows/{wid}",
            "html_url": f"{WEB}/{repo}/blob/main/{path}",
            "badge_url": f"{WEB}/{repo}/workflows/deploy-{environment}/badge.svg",
        }

    def workflow_run(self, row: Row) -> dict[str, Any]:
        """A `workflow-run` object for a github_actions deployment row."""
        repo = row["repo"]
        environment = row.get("environment") or "production"
        workflow = self.workflow(repo, environment)
        rid = stable_id("run", row["source_id"])
        url = f"{API}/repos/{repo}/actions/runs/{rid}"
        status_value = row.get("status") or "success"
        completed = status_value in _RUN_CONCLUSIONS
        sha = row.get("sha") or _fake_sha(row["source_id"])
        started = ts(row.get("started_at"))
        updated = ts(row.get("finished_at")) or started
        minimal = self.simple_repo(repo)
        branch = row.get("ref") or self.repos[repo].get("default_branch") or "main"
        return {
            "id": rid,
            "name": workflow["name"],
            "node_id": row["source_id"],
            "check_suite_id": rid + 1,
            "check_suite_node_id": _node_id("CS", rid + 1),
            "head_branch": branch,
            "head_sha": sha,
            "path": workflow["path"],
            "run_number": rid % 10_000,
            "run_attempt": 1,
            "event": "push",
            "status": "completed" if completed else "in_progress",
            "conclusion": _RUN_CONCLUSIONS.get(status_value) if completed else None,
            "workflow_id": workflow["id"],
            "url": url,
            "html_url": row.get("url") or f"{WEB}/{repo}/actions/runs/{rid}",
            "pull_requests": [],
            "created_at": started,
            "updated_at": updated,
            "run_started_at": started,
            "actor": simple_user("acme-deploy-bot"),
            "triggering_actor": simple_user("acme-deploy-bot"),
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "check_suite_url": f"{API}/repos/{repo}/check-suites/{rid + 1}",
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "workflow_url": workflow["url"],
            "head_commit": {
                "id": sha,
                "tree_id": _fake_sha(sha, "tree"),
                "message": f"Deploy {sha[:7]}",
                "timestamp": started,
                "author": {"name": "Acme Deploy Bot", "email": "deploy-bot@acme.cloud"},
                "committer": {"name": "Acme Deploy Bot", "email": "deploy-bot@acme.cloud"},
            },
            "repository": minimal,
            "head_repository": minimal,
            "display_title": f"Deploy {sha[:7]} to {environment}",
        }

    def dependabot_alert(self, row: Row, *, with_repository: bool) -> dict[str, Any]:
        """A `dependabot-alert` (or `-with-repository`) object."""
        repo = row["repo"]
        number = row["_number"]
        severity = row.get("severity") or "medium"
        if severity not in ("low", "medium", "high", "critical"):
            severity = "low"
        fixed = row.get("fixed_version")
        version = row.get("version")
        if version and version[0] in "<>=":
            vulnerable_range = version
        else:
            vulnerable_range = f"< {fixed}" if fixed else f"<= {version or '0'}"
        ecosystem = row.get("ecosystem") or "npm"
        package = {"ecosystem": ecosystem, "name": row.get("package") or "unknown"}
        vulnerability = {
            "package": package,
            "severity": severity,
            "vulnerable_version_range": vulnerable_range,
            "first_patched_version": {"identifier": fixed} if fixed else None,
        }
        ghsa = row.get("external_id") or f"GHSA-{_fake_sha(row['source_id'])[:4]}-0000-0000"
        identifiers = [{"type": "GHSA", "value": ghsa}] + [
            {"type": "CVE", "value": cve} for cve in row.get("cve_ids") or []
        ]
        first_seen = ts(row["first_seen"])
        fixed_at = ts(row.get("fixed_at"))
        state = row.get("state") or "open"
        state = state if state in ("open", "fixed", "dismissed") else "dismissed"
        updated = fixed_at or first_seen
        cvss = row.get("cvss")
        vector = row.get("cvss_vector")
        alert: dict[str, Any] = {
            "number": number,
            "state": state,
            "dependency": {
                "package": package,
                "manifest_path": "package-lock.json" if ecosystem == "npm" else "requirements.txt",
                "scope": "runtime",
                "relationship": "direct",
            },
            "security_advisory": {
                "ghsa_id": ghsa,
                "cve_id": (row.get("cve_ids") or [None])[0],
                "summary": row.get("title") or f"Vulnerability in {package['name']}",
                "description": row.get("title") or "",
                "vulnerabilities": [vulnerability],
                "severity": severity,
                "cvss": {"score": float(cvss or 0.0), "vector_string": vector},
                "cvss_severities": {
                    "cvss_v3": {"vector_string": vector, "score": cvss},
                    "cvss_v4": {"vector_string": None, "score": 0.0},
                },
                "epss": (
                    {"percentage": row["epss"], "percentile": row["epss"]}
                    if row.get("epss") is not None
                    else None
                ),
                "cwes": [{"cwe_id": cwe, "name": cwe} for cwe in row.get("cwe_ids") or []],
                "identifiers": identifiers,
                "references": [{"url": f"https://github.com/advisories/{ghsa}"}],
                "published_at": first_seen,
                "updated_at": updated,
                "withdrawn_at": None,
            },
            "security_vulnerability": vulnerability,
            "url": f"{API}/repos/{repo}/dependabot/alerts/{number}",
            "html_url": row.get("url") or f"{WEB}/{repo}/security/dependabot/{number}",
            "created_at": first_seen,
            "updated_at": updated,
            "dismissed_at": updated if state == "dismissed" else None,
            "dismissed_by": simple_user("acme-security") if state == "dismissed" else None,
            "dismissed_reason": "tolerable_risk" if state == "dismissed" else None,
            "dismissed_comment": None,
            "fixed_at": fixed_at if state == "fixed" else None,
            "auto_dismissed_at": None,
        }
        if with_repository:
            alert["repository"] = self.simple_repo(repo)
        return alert

    def code_scanning_alert(self, row: Row, *, with_repository: bool) -> dict[str, Any]:
        """A `code-scanning-alert-items` (or organization variant) object."""
        repo = row["repo"]
        number = row["_number"]
        url = f"{API}/repos/{repo}/code-scanning/alerts/{number}"
        severity = row.get("severity") or "medium"
        level = severity if severity in ("low", "medium", "high", "critical") else None
        state = row.get("state") or "open"
        state = state if state in ("open", "fixed", "dismissed") else "dismissed"
        first_seen = ts(row["first_seen"])
        fixed_at = ts(row.get("fixed_at"))
        cwes = [str(c).lower().replace("cwe-", "cwe-") for c in row.get("cwe_ids") or []]
        alert: dict[str, Any] = {
            "number": number,
            "created_at": first_seen,
            "updated_at": fixed_at or first_seen,
            "url": url,
            "html_url": row.get("url") or f"{WEB}/{repo}/security/code-scanning/{number}",
            "instances_url": f"{url}/instances",
            "state": state,
            "fixed_at": fixed_at if state == "fixed" else None,
            "dismissed_by": simple_user("acme-security") if state == "dismissed" else None,
            "dismissed_at": (fixed_at or first_seen) if state == "dismissed" else None,
            "dismissed_reason": "won't fix" if state == "dismissed" else None,
            "dismissed_comment": None,
            "rule": {
                "id": row.get("external_id") or "js/unknown",
                "name": row.get("external_id") or "js/unknown",
                "severity": "error" if severity in ("high", "critical") else "warning",
                "security_severity_level": level,
                "description": row.get("title") or "Code scanning finding",
                "tags": ["security", *(f"external/cwe/{c}" for c in cwes)],
            },
            "tool": {"name": "CodeQL", "guid": None, "version": "2.20.0"},
            "most_recent_instance": {
                "ref": "refs/heads/" + (self.repos[repo].get("default_branch") or "main"),
                "analysis_key": ".github/workflows/codeql.yml:analyze",
                "environment": "{}",
                "category": ".github/workflows/codeql.yml:analyze",
                "state": state,
                "commit_sha": _fake_sha(repo, number),
                "message": {"text": row.get("title") or ""},
                "location": {
                    "path": row.get("package") or "src/index.js",
                    "start_line": 1,
                    "end_line": 1,
                    "start_column": 1,
                    "end_column": 2,
                },
                "classifications": [],
            },
        }
        if with_repository:
            alert["repository"] = self.simple_repo(repo)
        return alert

    def sbom(self, repo: str) -> dict[str, Any]:
        """The SPDX 2.3 SBOM export of a repository's dependency graph."""
        root = "SPDXRef-Repository"
        packages: list[dict[str, Any]] = [
            {
                "SPDXID": root,
                "name": f"com.github.{repo}",
                "versionInfo": self.repos[repo].get("default_branch") or "main",
                "downloadLocation": f"git+{WEB}/{repo}",
                "filesAnalyzed": False,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": f"pkg:github/{repo}@{self.repos[repo].get('default_branch') or 'main'}",
                    }
                ],
            }
        ]
        relationships = [
            {
                "relationshipType": "DESCRIBES",
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relatedSpdxElement": root,
            }
        ]
        for dep in self.dependencies.get(repo, []):
            purl_type = PURL_TYPES.get(dep["ecosystem"], dep["ecosystem"])
            name = dep["package"]
            version = dep.get("version")
            spdx_id = "SPDXRef-" + re.sub(
                r"[^A-Za-z0-9.-]", "-", f"{purl_type}-{name}-{version or ''}"
            )
            purl_name = name.replace(":", "/") if purl_type == "maven" else name
            purl = f"pkg:{purl_type}/{purl_name}" + (f"@{version}" if version else "")
            package: dict[str, Any] = {
                "SPDXID": spdx_id,
                "name": f"{purl_type}:{name}",
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "licenseConcluded": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": purl,
                    }
                ],
            }
            if version:
                package["versionInfo"] = version
            packages.append(package)
            if dep.get("direct", True):
                relationships.append(
                    {
                        "relationshipType": "DEPENDS_ON",
                        "spdxElementId": root,
                        "relatedSpdxElement": spdx_id,
                    }
                )
        return {
            "sbom": {
                "SPDXID": "SPDXRef-DOCUMENT",
                "spdxVersion": "SPDX-2.3",
                "creationInfo": {
                    "created": ts(self.today) or "",
                    "creators": ["Tool: GitHub.com-Dependency-Graph"],
                },
                "name": f"com.github.{repo}",
                "dataLicense": "CC0-1.0",
                "documentDescribes": [root],
                "documentNamespace": f"{WEB}/{repo}/dependency_graph/sbom-{_fake_sha(repo)[:16]}",
                "packages": packages,
                "relationships": relationships,
            }
        }

    # ------------------------------------------------------------------ GraphQL objects
    # Plain dicts for graphql-core's default resolver: a callable value is a field with
    # arguments (connections), called with the field's arguments when the query asks for it.

    def gql_actor(self, login: str | None) -> dict[str, Any] | None:
        """A GraphQL `User` (or `Bot`) for a login (None stays None)."""
        if not login:
            return None
        uid = stable_id("user", login)
        person = self.people.get(login) or {}
        avatar = f"https://avatars.githubusercontent.com/u/{uid}?v=4"
        return {
            "__typename": "Bot" if login.endswith("[bot]") else "User",
            "id": _node_id("U", uid),
            "login": login,
            "name": person.get("name"),
            "email": person.get("email") or "",
            "url": f"{WEB}/{login}",
            "resourcePath": f"/{login}",
            "avatarUrl": lambda _info, size=None: avatar,
        }

    def gql_commit(self, row: Row) -> dict[str, Any]:
        """A GraphQL `Commit` for a commit row."""
        repo, sha = row["repo"], row["sha"]
        login = row.get("author")
        person = self.people.get(login or "") or {}
        name = person.get("name") or login or "unknown"
        email = person.get("email") or f"{login or 'unknown'}@users.noreply.github.com"
        authored = ts(row["authored_at"])
        committed = ts(row.get("committed_at") or row["authored_at"])
        message = row.get("message") or ""

        def actor(when: str | None) -> dict[str, Any]:
            user = self.gql_actor(login)
            return {"date": when, "email": email, "name": name, "user": user}

        return {
            "__typename": "Commit",
            "id": _node_id("C", stable_id("commit", sha)),
            "oid": sha,
            "abbreviatedOid": sha[:7],
            "message": message,
            "messageHeadline": message.split("\n", 1)[0],
            "authoredDate": authored,
            "committedDate": committed,
            "author": lambda _info: actor(authored),
            "committer": lambda _info: actor(committed),
            "url": f"{WEB}/{repo}/commit/{sha}",
        }

    def gql_review(self, row: Row) -> dict[str, Any]:
        """A GraphQL `PullRequestReview` for a review row."""
        repo, number = row["repo"], row["pr_number"]
        rid = stable_id("review", row["source_id"])
        submitted = ts(row.get("submitted_at"))
        pr = self.pull_by_number.get((repo, number)) or {}
        return {
            "__typename": "PullRequestReview",
            "id": row["source_id"],
            "author": self.gql_actor(row.get("reviewer")),
            "body": "",
            "state": row.get("state") or "COMMENTED",
            "submittedAt": submitted,
            "createdAt": submitted or ts(pr.get("created_at")),
            "commit": None,
            "url": f"{WEB}/{repo}/pull/{number}#pullrequestreview-{rid}",
        }

    def gql_pull_request(self, pr: Row) -> dict[str, Any]:
        """A GraphQL `PullRequest` for a pull_request row (same facts as the REST object)."""
        repo, number = pr["repo"], pr["number"]
        html = pr.get("url") or f"{WEB}/{repo}/pull/{number}"
        commits = self.pr_commits.get((repo, number), [])
        reviews = self.reviews.get((repo, number), [])
        merged = pr.get("merged_at") is not None
        state = _pr_state(pr)
        merge_sha = pr.get("merge_commit_sha")
        merge_commit = None
        if merge_sha:
            known = self.commit_by_sha.get((repo, merge_sha))
            merge_commit = self.gql_commit(
                known
                or {
                    "repo": repo,
                    "sha": merge_sha,
                    "authored_at": pr.get("merged_at") or pr["created_at"],
                }
            )
        base = pr.get("base_branch") or self.repos.get(repo, {}).get("default_branch") or "main"
        author = pr.get("author") or "ghost"

        def pr_commit(row: Row) -> dict[str, Any]:
            return {
                "__typename": "PullRequestCommit",
                "id": _node_id("PURC", stable_id("pull_commit", pr["source_id"], row["sha"])),
                "commit": self.gql_commit(row),
                "pullRequest": lambda _info: self.gql_pull_request(pr),
                "url": f"{html}/commits/{row['sha']}",
            }

        return {
            "__typename": "PullRequest",
            "id": pr["source_id"],
            "number": number,
            "title": pr.get("title") or f"PR #{number}",
            "url": html,
            "state": state,
            "closed": state != "OPEN",
            "merged": merged,
            "isDraft": bool(pr.get("draft", False)),
            "createdAt": ts(pr["created_at"]),
            "updatedAt": ts(pr.get("updated_at") or pr["created_at"]),
            "mergedAt": ts(pr.get("merged_at")),
            "closedAt": ts(pr.get("closed_at")),
            "additions": int(pr.get("additions") or 0),
            "deletions": int(pr.get("deletions") or 0),
            "changedFiles": int(pr.get("changed_files") or 0),
            "baseRefName": base,
            "baseRefOid": _fake_sha(repo, number, "base"),
            "headRefName": f"{author}/pr-{number}",
            "headRefOid": commits[-1]["sha"] if commits else _fake_sha(repo, number, "head"),
            "mergeCommit": merge_commit,
            "author": self.gql_actor(author),
            "repository": lambda _info: self.gql_repository(repo),
            "commits": lambda _info, **args: connection(commits, args, pr_commit),
            "reviews": lambda _info, **args: connection(
                [
                    r
                    for r in reviews
                    if (not args.get("states") or (r.get("state") or "COMMENTED") in args["states"])
                    and (not args.get("author") or r.get("reviewer") == args["author"])
                ],
                args,
                self.gql_review,
            ),
        }

    def gql_repository(self, full_name: str) -> dict[str, Any]:
        """A GraphQL `Repository` whose `pullRequests` connection pages the repo's PRs."""
        row = self.repos[full_name]
        name = full_name.split("/", 1)[1]
        return {
            "__typename": "Repository",
            "id": self.repo_node_id(row),
            "name": name,
            "nameWithOwner": full_name,
            "url": f"{WEB}/{full_name}",
            "isArchived": bool(row.get("archived", False)),
            "isPrivate": True,
            "pullRequest": lambda _info, number: (
                self.gql_pull_request(self.pull_by_number[(full_name, number)])
                if (full_name, number) in self.pull_by_number
                else None
            ),
            "pullRequests": lambda _info, **args: self.gql_pull_requests(full_name, args),
        }

    def gql_pull_requests(self, full_name: str, args: dict[str, Any]) -> dict[str, Any]:
        """The `pullRequests` connection: state filter, IssueOrder sort, keyset cursors."""
        states = args.get("states")
        prs = [p for p in self.pulls.get(full_name, []) if not states or _pr_state(p) in states]
        if args.get("baseRefName"):
            prs = [p for p in prs if (p.get("base_branch") or "main") == args["baseRefName"]]
        order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
        column = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}.get(order["field"])

        def key(pr: Row) -> list[Any]:
            if column is None:  # COMMENTS: the simulator has none; order by number
                return [0, pr["number"]]
            return [ts(pr.get(column) or pr["created_at"]) or "", pr["number"]]

        descending = order["direction"] == "DESC"
        prs.sort(key=key, reverse=descending)
        return connection(prs, args, self.gql_pull_request, key=key, descending=descending)

    def member_user(self, grant: Row) -> dict[str, Any]:
        """A member's simple-user, with name and email where the person is known."""
        login = grant["principal"]
        person = self.people.get(login)
        email = grant.get("person_email") or (person or {}).get("email")
        name = (person or {}).get("name")
        return simple_user(login, name=name, email=email)


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _per_page(request: Request) -> int:
    try:
        value = int(request.query_params.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        value = DEFAULT_PER_PAGE
    return max(1, min(MAX_PER_PAGE, value))


def _page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", 1)))
    except ValueError:
        return 1


def _link(request: Request, **changes: Any) -> str:
    params = _params(request)
    params.update({k: str(v) for k, v in changes.items()})
    return f"{str(request.url).split('?', 1)[0]}?{urlencode(params)}"


def page_slice(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` and GitHub's Link header (first/prev/next/last)."""
    per_page = _per_page(request)
    page = _page_number(request)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    if page > 1:
        links.append(f'<{_link(request, page=page - 1)}>; rel="prev"')
    if page < last:
        links.append(f'<{_link(request, page=page + 1)}>; rel="next"')
        links.append(f'<{_link(request, page=last)}>; rel="last"')
    if page > 1:
        links.append(f'<{_link(request, page=1)}>; rel="first"')
    return chunk, ({"link": ", ".join(links)} if links else {})


def paged(request: Request, items: list[Any], build: Callable[[Any], Any]) -> JSONResponse:
    """A JSON array page of `items`, each built by `build`, with the Link header."""
    chunk, headers = page_slice(request, items)
    return JSONResponse([build(item) for item in chunk], headers=headers)


def cursor_paged(request: Request, items: list[Any], build: Callable[[Any], Any]) -> JSONResponse:
    """One page by the `after` cursor (Dependabot), with rel="next" while more remain."""
    per_page = _per_page(request)
    after = request.query_params.get("after")
    start = 0
    if after:
        try:
            start = int(base64.urlsafe_b64decode(after.encode() + b"==").decode().split(":", 1)[1])
        except (ValueError, IndexError):
            return JSONResponse({"message": "Invalid cursor"}, status_code=400)
    chunk = items[start : start + per_page]
    headers = {}
    if start + per_page < len(items):
        token = base64.urlsafe_b64encode(f"cursor:{start + per_page}".encode()).decode().rstrip("=")
        params = {k: v for k, v in _params(request).items() if k != "after"}
        params["after"] = token
        headers["link"] = f'<{str(request.url).split("?", 1)[0]}?{urlencode(params)}>; rel="next"'
    return JSONResponse([build(item) for item in chunk], headers=headers)


def _sort_key(field: str) -> Callable[[Row], str]:
    return lambda row: ts(row.get(field)) or ""


def _not_found() -> JSONResponse:
    return JSONResponse(
        {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        },
        status_code=404,
    )


def _alert_sort(rows: Iterable[Row], request: Request) -> list[Row]:
    """Filter by state and order by created/updated like GitHub's alert listings."""
    state = request.query_params.get("state")
    chosen = [r for r in rows if not state or (r.get("state") or "open") in state.split(",")]
    sort = request.query_params.get("sort", "created")
    descending = request.query_params.get("direction", "desc") == "desc"

    def key(row: Row) -> tuple[str, str]:
        created = ts(row["first_seen"]) or ""
        updated = ts(row.get("fixed_at")) or created
        return (updated if sort == "updated" else created, str(row["source_id"]))

    return sorted(chosen, key=key, reverse=descending)


# ---------------------------------------------------------------------- GraphQL (API v4)

GRAPHQL_POINTS = 5000  # points per hour
GRAPHQL_MAX_NODES = 500_000
GRAPHQL_MAX_PAGE = 100

# The part of GitHub's public GraphQL schema the connector reads, with GitHub's own type, field
# and argument names and nullability (objects PullRequest, PullRequestCommit, Commit, GitActor,
# PullRequestReview, Repository, RateLimit; connections with PageInfo). One field per line, so a
# test can remove one to simulate schema drift (`GraphQLEndpoint.drop_field`).
GRAPHQL_SDL = """
scalar DateTime
scalar URI
scalar GitObjectID
scalar GitTimestamp

type Query {
  node(id: ID!): Node
  rateLimit(dryRun: Boolean = false): RateLimit
  repository(followRenames: Boolean = true, name: String!, owner: String!): Repository
}

interface Node {
  id: ID!
}

interface Actor {
  avatarUrl(size: Int): URI!
  login: String!
  resourcePath: URI!
  url: URI!
}

type User implements Actor & Node {
  avatarUrl(size: Int): URI!
  email: String!
  id: ID!
  login: String!
  name: String
  resourcePath: URI!
  url: URI!
}

type Bot implements Actor & Node {
  avatarUrl(size: Int): URI!
  id: ID!
  login: String!
  resourcePath: URI!
  url: URI!
}

type RateLimit {
  cost: Int!
  limit: Int!
  nodeCount: Int!
  remaining: Int!
  resetAt: DateTime!
  used: Int!
}

type PageInfo {
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
}

enum OrderDirection {
  ASC
  DESC
}

enum IssueOrderField {
  COMMENTS
  CREATED_AT
  UPDATED_AT
}

input IssueOrder {
  direction: OrderDirection!
  field: IssueOrderField!
}

enum PullRequestState {
  CLOSED
  MERGED
  OPEN
}

enum PullRequestReviewState {
  APPROVED
  CHANGES_REQUESTED
  COMMENTED
  DISMISSED
  PENDING
}

type Repository implements Node {
  id: ID!
  isArchived: Boolean!
  isPrivate: Boolean!
  name: String!
  nameWithOwner: String!
  pullRequest(number: Int!): PullRequest
  pullRequests(after: String, baseRefName: String, before: String, first: Int, headRefName: String, labels: [String!], last: Int, orderBy: IssueOrder, states: [PullRequestState!]): PullRequestConnection!
  url: URI!
}

type PullRequestConnection {
  edges: [PullRequestEdge]
  nodes: [PullRequest]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestEdge {
  cursor: String!
  node: PullRequest
}

type PullRequest implements Node {
  additions: Int!
  author: Actor
  baseRefName: String!
  baseRefOid: GitObjectID!
  changedFiles: Int!
  closed: Boolean!
  closedAt: DateTime
  commits(after: String, before: String, first: Int, last: Int): PullRequestCommitConnection!
  createdAt: DateTime!
  deletions: Int!
  headRefName: String!
  headRefOid: GitObjectID!
  id: ID!
  isDraft: Boolean!
  mergeCommit: Commit
  merged: Boolean!
  mergedAt: DateTime
  number: Int!
  repository: Repository!
  reviews(after: String, author: String, before: String, first: Int, last: Int, states: [PullRequestReviewState!]): PullRequestReviewConnection
  state: PullRequestState!
  title: String!
  updatedAt: DateTime!
  url: URI!
}

type PullRequestCommitConnection {
  edges: [PullRequestCommitEdge]
  nodes: [PullRequestCommit]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestCommitEdge {
  cursor: String!
  node: PullRequestCommit
}

type PullRequestCommit implements Node {
  commit: Commit!
  id: ID!
  pullRequest: PullRequest!
  url: URI!
}

type Commit implements Node {
  abbreviatedOid: String!
  author: GitActor
  authoredDate: DateTime!
  committedDate: DateTime!
  committer: GitActor
  id: ID!
  message: String!
  messageHeadline: String!
  oid: GitObjectID!
  url: URI!
}

type GitActor {
  date: GitTimestamp
  email: String
  name: String
  user: User
}

type PullRequestReviewConnection {
  edges: [PullRequestReviewEdge]
  nodes: [PullRequestReview]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestReviewEdge {
  cursor: String!
  node: PullRequestReview
}

type PullRequestReview implements Node {
  author: Actor
  body: String!
  commit: Commit
  createdAt: DateTime!
  id: ID!
  state: PullRequestReviewState!
  submittedAt: DateTime
  url: URI!
}
"""


def _pr_state(pr: Row) -> str:
    if pr.get("state", "open") == "open":
        return "OPEN"
    return "MERGED" if pr.get("merged_at") is not None else "CLOSED"


def _encode_cursor(value: Any) -> str:
    raw = "cursor:v2:" + json.dumps(value, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> Any:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
        if not raw.startswith("cursor:v2:"):
            raise ValueError(cursor)
        return json.loads(raw.removeprefix("cursor:v2:"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphQLError(
            f"`{cursor}` does not appear to be a valid cursor.",
            extensions={"type": "INVALID_CURSOR_ARGUMENTS"},
        ) from exc


def connection(
    items: list[Any],
    args: dict[str, Any],
    build: Callable[[Any], Any],
    *,
    key: Callable[[Any], list[Any]] | None = None,
    descending: bool = False,
) -> dict[str, Any]:
    """One page of a GraphQL connection (first/after, last/before) over ordered `items`.

    Cursors are opaque: the item's sort key when `key` is given (stable while items move, like
    GitHub's), else its position.
    """

    def position(cursor: str) -> int:
        """Index of the first item after the cursor's item."""
        value = _decode_cursor(cursor)
        if key is None:
            return int(value) + 1
        for index, item in enumerate(items):
            item_key = key(item)
            if (item_key < value) if descending else (item_key > value):
                return index
        return len(items)

    def cursor_of(index: int) -> str:
        return _encode_cursor(key(items[index]) if key is not None else index)

    start = position(args["after"]) if args.get("after") else 0
    end = len(items)
    if args.get("before"):
        end = max(start, position(args["before"]) - 1)
    first, last = args.get("first"), args.get("last")
    if first is not None:
        lo, hi = start, min(end, start + first)
    else:
        lo, hi = max(start, end - (last or 0)), end
    built = [build(items[i]) for i in range(lo, hi)]
    return {
        "nodes": built,
        "edges": [
            {"cursor": cursor_of(i), "node": node}
            for i, node in zip(range(lo, hi), built, strict=True)
        ],
        "pageInfo": {
            "hasNextPage": hi < end,
            "hasPreviousPage": lo > 0,
            "startCursor": cursor_of(lo) if hi > lo else None,
            "endCursor": cursor_of(hi - 1) if hi > lo else None,
        },
        "totalCount": len(items),
    }


def graphql_error(
    message: str, *, kind: str | None = None, path: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """An entry of GitHub's `errors` list (`type` for execution errors, as GitHub sends it)."""
    error: dict[str, Any] = {}
    if kind:
        error["type"] = kind
    if path:
        error["path"] = path
    error.update(extra)
    error["message"] = message
    return error


_UNDEFINED_FIELD = re.compile(r"Cannot query field '(\w+)' on type '(\w+)'")
_UNKNOWN_ARGUMENT = re.compile(r"Unknown argument '(\w+)' on field '(\w+)\.(\w+)'")


def _validation_error(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's validation message in GitHub's (graphql-ruby's) words and codes."""
    locations = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
    if match := _UNDEFINED_FIELD.search(error.message):
        field, type_name = match.groups()
        return {
            "path": [],
            "extensions": {"code": "undefinedField", "typeName": type_name, "fieldName": field},
            "locations": locations,
            "message": f"Field '{field}' doesn't exist on type '{type_name}'",
        }
    if match := _UNKNOWN_ARGUMENT.search(error.message):
        argument, type_name, field = match.groups()
        return {
            "path": [],
            "extensions": {
                "code": "argumentNotAccepted",
                "name": field,
                "typeName": "Field",
                "argumentName": argument,
            },
            "locations": locations,
            "message": f"Field '{field}' doesn't accept argument '{argument}'",
        }
    return {"locations": locations, "message": error.message}


class GraphQLEndpoint:
    """POST /graphql: GitHub's schema subset executed by graphql-core over the indexed world.

    Before executing, it enforces GitHub's documented limits (a `first`/`last` of 1 to 100 on
    every connection, at most 500,000 nodes) and charges the query's point cost against a
    5,000-points-an-hour budget; an exhausted budget answers HTTP 200 with a RATE_LIMITED error,
    as GitHub does.
    """

    def __init__(self, gh: GitHubWorld) -> None:
        self.gh = gh
        self.points_used = 0
        self.reset_at = int(time.time()) + 3600
        self.sdl = GRAPHQL_SDL
        self.schema = build_schema(self.sdl)
        self._documents: dict[str, tuple[DocumentNode | None, list[dict[str, Any]]]] = {}
        self.lock = threading.Lock()

    def drop_field(self, type_name: str, field: str) -> None:
        """Remove `type_name.field` from the schema (simulated schema drift)."""
        block = re.search(rf"\n(type|interface) {type_name}\b[^{{]*{{(.*?)\n}}", self.sdl, re.S)
        if block is None:
            raise KeyError(type_name)
        body = re.sub(rf"\n  {field}\b[^\n]*", "", block.group(2))
        self.sdl = self.sdl.replace(block.group(2), body)
        self.schema = build_schema(self.sdl)
        self._documents.clear()

    def headers(self) -> dict[str, str]:
        """The x-ratelimit-* headers of the GraphQL resource."""
        return {
            "x-ratelimit-limit": str(GRAPHQL_POINTS),
            "x-ratelimit-remaining": str(max(0, GRAPHQL_POINTS - self.points_used)),
            "x-ratelimit-reset": str(self.reset_at),
            "x-ratelimit-used": str(self.points_used),
            "x-ratelimit-resource": "graphql",
        }

    def _document(self, query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
        cached = self._documents.get(query)
        if cached is not None:
            return cached
        try:
            document: DocumentNode | None = parse(query)
        except GraphQLError as exc:
            found: tuple[DocumentNode | None, list[dict[str, Any]]] = (
                None,
                [
                    {
                        "locations": [
                            {"line": loc.line, "column": loc.column} for loc in exc.locations or []
                        ],
                        "message": exc.message,
                    }
                ],
            )
        else:
            assert document is not None
            errors = [_validation_error(e) for e in validate(self.schema, document)]
            found = (None if errors else document, errors)
        self._documents[query] = found
        return found

    def execute(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Run one request body; returns (HTTP status, GitHub's response envelope)."""
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 200, {
                "errors": [
                    graphql_error("A query attribute must be specified and must be a string.")
                ]
            }
        variables = body.get("variables") or {}
        with self.lock:
            document, errors = self._document(body["query"])
        if document is None:
            return 200, {"errors": errors}
        operation = get_operation_ast(document, body.get("operationName"))
        if operation is None:
            return 200, {"errors": [graphql_error("An operation name is required")]}
        limits = _Limits(self.schema, document, variables)
        limits.walk(operation.selection_set, self.schema.query_type, 1, [])
        if limits.errors:
            return 200, {"errors": limits.errors}
        if limits.nodes > GRAPHQL_MAX_NODES:
            return 200, {
                "errors": [
                    graphql_error(
                        f"This query requests up to {limits.nodes:,} possible nodes which exceeds "
                        f"the maximum limit of {GRAPHQL_MAX_NODES:,}.",
                        kind="MAX_NODE_LIMIT_EXCEEDED",
                    )
                ]
            }
        cost = max(1, int(limits.requests / 100 + 0.5))
        with self.lock:
            if time.time() >= self.reset_at:
                self.points_used, self.reset_at = 0, int(time.time()) + 3600
            if self.points_used + cost > GRAPHQL_POINTS:
                return 200, {
                    "errors": [
                        graphql_error(
                            "API rate limit already exceeded for user ID 1.", kind="RATE_LIMITED"
                        )
                    ]
                }
            self.points_used += cost
            remaining = GRAPHQL_POINTS - self.points_used
        reset_at = datetime.fromtimestamp(self.reset_at, tz=UTC)
        root = {
            "repository": lambda _info, owner, name, followRenames=True: self._repository(
                owner, name
            ),
            "node": lambda _info, id: self._node(id),
            "rateLimit": lambda _info, dryRun=False: {
                "cost": cost,
                "limit": GRAPHQL_POINTS,
                "nodeCount": limits.nodes,
                "remaining": remaining,
                "resetAt": ts(reset_at),
                "used": self.points_used,
            },
        }
        result = execute_sync(
            self.schema,
            document,
            root_value=root,
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [_execution_error(e) for e in result.errors]
        return 200, payload

    def _repository(self, owner: str, name: str) -> dict[str, Any]:
        full = f"{owner}/{name}"
        if full not in self.gh.repos:
            raise GraphQLError(
                f"Could not resolve to a Repository with the name '{full}'.",
                extensions={"type": "NOT_FOUND"},
            )
        return self.gh.gql_repository(full)

    def _node(self, node_id: str) -> dict[str, Any]:
        pr = self.gh.pull_by_node.get(node_id)
        if pr is None:
            raise GraphQLError(
                f"Could not resolve to a node with the global id of '{node_id}'",
                extensions={"type": "NOT_FOUND"},
            )
        return self.gh.gql_pull_request(pr)


def _execution_error(error: GraphQLError) -> dict[str, Any]:
    """A resolver's error in GitHub's shape: `type`, `path`, `locations`, `message`."""
    extensions = dict(error.extensions or {})
    locations = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
    return graphql_error(
        error.message,
        kind=extensions.pop("type", None),
        path=list(error.path or []),
        locations=locations,
    )


class _Limits:
    """GitHub's pre-execution checks: pagination boundaries, node count and request count."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.nodes = 0
        self.requests = 0
        self.errors: list[dict[str, Any]] = []

    def walk(
        self, selections: SelectionSetNode | None, parent: Any, multiplier: int, path: list[str]
    ) -> None:
        """Count the nodes and connection requests under `selections` of type `parent`."""
        if selections is None or parent is None:
            return
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, parent, multiplier, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                self.walk(selection.selection_set, target, multiplier, path)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                target = self.schema.get_type(fragment.type_condition.name.value)
                self.walk(fragment.selection_set, target, multiplier, path)

    def _int(self, value: Any) -> int | None:
        """An argument's integer value, literal or from the variables (None: absent/not int)."""
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            found = self.variables.get(value.name.value)
            return found if isinstance(found, int) and not isinstance(found, bool) else None
        return None

    def _field(self, node: FieldNode, parent: Any, multiplier: int, path: list[str]) -> None:
        fields = getattr(parent, "fields", {})
        definition = fields.get(node.name.value)
        if definition is None:
            return
        field_type = get_named_type(definition.type)
        here = [*path, node.alias.value if node.alias else node.name.value]
        if not field_type.name.endswith("Connection"):
            self.walk(node.selection_set, field_type, multiplier, here)
            return
        sizes = {a.name.value: self._int(a.value) for a in node.arguments or ()}
        which = "first" if sizes.get("first") is not None else "last"
        size = sizes.get(which)
        name = node.name.value
        if size is None:
            self.errors.append(
                graphql_error(
                    f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
                    kind="MISSING_PAGINATION_BOUNDARIES",
                    path=here,
                )
            )
            return
        if not 1 <= size <= GRAPHQL_MAX_PAGE:
            self.errors.append(
                graphql_error(
                    f"Requesting {size} records on the `{name}` connection exceeds the "
                    f"`{which}` limit of {GRAPHQL_MAX_PAGE} records.",
                    kind="EXCESSIVE_PAGINATION",
                    path=here,
                )
            )
            return
        self.requests += multiplier
        self.nodes += multiplier * size
        self.walk(node.selection_set, field_type, multiplier * size, here)


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The GitHub simulator app for `world` (demo token: see the module docstring)."""
    creds = credentials or {"token": DEMO_TOKEN}
    app, state = new_simulator("github", world, credentials=creds)
    gh = GitHubWorld(world)
    app.state.github = gh
    graphql_endpoint = GraphQLEndpoint(gh)
    app.state.github_graphql = graphql_endpoint
    usage = {"used": 0}
    reset_at = int(time.time()) + 3600

    @app.middleware("http")
    async def auth_and_rate_headers(
        request: Request, call_next: Callable[[Request], Any]
    ) -> Response:
        is_graphql = request.url.path.endswith("/graphql")
        if not request.url.path.startswith("/_control") and not same(
            bearer_token(request), state.credentials.get("token")
        ):
            response: Response = JSONResponse(
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/"
                    + ("graphql" if is_graphql else "rest"),
                    "status": "401",
                },
                status_code=401,
            )
        else:
            if not is_graphql:
                usage["used"] += 1
            response = await call_next(request)
        if is_graphql:  # the GraphQL resource counts points, not requests
            response.headers.update(graphql_endpoint.headers())
        else:
            response.headers["x-ratelimit-limit"] = str(RATE_LIMIT)
            response.headers["x-ratelimit-remaining"] = str(max(0, RATE_LIMIT - usage["used"]))
            response.headers["x-ratelimit-reset"] = str(reset_at)
            response.headers["x-ratelimit-used"] = str(usage["used"])
            response.headers["x-ratelimit-resource"] = "core"
        response.headers["x-github-api-version-selected"] = "2022-11-28"
        return response

    @app.post("/graphql")
    async def graphql_api(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(
                {
                    "message": "Problems parsing JSON",
                    "documentation_url": "https://docs.github.com/graphql",
                },
                status_code=400,
            )
        status, payload = await run_in_threadpool(graphql_endpoint.execute, body)
        return JSONResponse(payload, status_code=status)

    def repo_or_none(owner: str, name: str) -> str | None:
        full = f"{owner}/{name}"
        return full if full in gh.repos else None

    @app.get("/rate_limit")
    def rate_limit() -> dict[str, Any]:
        core = {
            "limit": RATE_LIMIT,
            "remaining": RATE_LIMIT - usage["used"],
            "reset": reset_at,
            "used": usage["used"],
        }
        search = {"limit": 30, "remaining": 30, "reset": reset_at, "used": 0}
        return {"resources": {"core": core, "search": search}, "rate": core}

    @app.get("/orgs/{org}/repos")
    def org_repos(org: str, request: Request) -> Response:
        if org != gh.org:
            return _not_found()
        return paged(request, sorted(gh.repos), gh.full_repo)

    @app.get("/repos/{owner}/{name}")
    def get_repo(owner: str, name: str) -> Response:
        full = repo_or_none(owner, name)
        return _not_found() if full is None else JSONResponse(gh.full_repo(full))

    @app.get("/repos/{owner}/{name}/branches/{branch}/protection")
    def branch_protection(owner: str, name: str, branch: str) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        row = gh.repos[full]
        if branch != (row.get("default_branch") or "main") or not row.get("branch_protected"):
            return JSONResponse(
                {
                    "message": "Branch not protected",
                    "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection",
                    "status": "404",
                },
                status_code=404,
            )
        url = f"{API}/repos/{full}/branches/{branch}/protection"
        body: dict[str, Any] = {
            "url": url,
            "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
            "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": True},
            "required_linear_history": {"enabled": False},
            "allow_force_pushes": {"enabled": False},
            "allow_deletions": {"enabled": False},
            "required_conversation_resolution": {"enabled": False},
        }
        reviews = row.get("required_reviews")
        if reviews:
            body["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": True,
                "require_code_owner_reviews": False,
                "require_last_push_approval": False,
                "required_approving_review_count": int(reviews),
            }
        return JSONResponse(body)

    @app.get("/repos/{owner}/{name}/pulls")
    def list_pulls(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        wanted = request.query_params.get("state", "open")
        prs = [
            p
            for p in gh.pulls.get(full, [])
            if wanted == "all" or (wanted == "open") == (p.get("state", "open") == "open")
        ]
        sort = request.query_params.get("sort", "created")
        field = "updated_at" if sort == "updated" else "created_at"
        default_direction = "desc" if sort in ("created", "updated") else "asc"
        descending = request.query_params.get("direction", default_direction) == "desc"
        prs.sort(
            key=lambda p: (ts(p.get(field) or p["created_at"]) or "", p["number"]),
            reverse=descending,
        )
        return paged(request, prs, lambda p: gh.pull(p, full=False))

    @app.get("/repos/{owner}/{name}/pulls/{number}")
    def get_pull(owner: str, name: str, number: int) -> Response:
        pr = gh.pull_by_number.get((f"{owner}/{name}", number))
        return _not_found() if pr is None else JSONResponse(gh.pull(pr, full=True))

    @app.get("/repos/{owner}/{name}/pulls/{number}/commits")
    def pull_commits(owner: str, name: str, number: int, request: Request) -> Response:
        full = f"{owner}/{name}"
        if (full, number) not in gh.pull_by_number:
            return _not_found()
        return paged(request, gh.pr_commits.get((full, number), []), gh.commit)

    @app.get("/repos/{owner}/{name}/pulls/{number}/reviews")
    def pull_reviews(owner: str, name: str, number: int, request: Request) -> Response:
        full = f"{owner}/{name}"
        if (full, number) not in gh.pull_by_number:
            return _not_found()
        return paged(request, gh.reviews.get((full, number), []), gh.review)

    @app.get("/repos/{owner}/{name}/commits")
    def list_commits(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        since = request.query_params.get("since")
        until = request.query_params.get("until")
        rows = [
            c
            for c in reversed(gh.history.get(full, []))
            if (
                not since
                or (ts(c.get("committed_at") or c["authored_at"]) or "") >= (ts(since) or "")
            )
            and (
                not until
                or (ts(c.get("committed_at") or c["authored_at"]) or "") <= (ts(until) or "")
            )
        ]
        return paged(request, rows, gh.commit)

    @app.get("/repos/{owner}/{name}/compare/{basehead}")
    def compare(owner: str, name: str, basehead: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        base, sep, head = basehead.partition("...")
        if full is None or not sep:
            return _not_found()
        ahead = gh.compare_commits(full, base, head)
        if ahead is None:
            return _not_found()
        mainline = gh.mainline[full]
        base_index, head_index = gh.main_index[(full, base)], gh.main_index[(full, head)]
        behind = base_index - head_index if head_index < base_index else 0
        per_page = _per_page(request) if "per_page" in request.query_params else 250
        page = _page_number(request)
        chunk = ahead[(page - 1) * per_page : page * per_page]
        status_value = "identical" if base == head else ("ahead" if ahead else "behind")
        url = f"{API}/repos/{full}/compare/{basehead}"
        body = {
            "url": url,
            "html_url": f"{WEB}/{full}/compare/{basehead}",
            "permalink_url": f"{WEB}/{full}/compare/{owner}:{base}...{owner}:{head}",
            "diff_url": f"{WEB}/{full}/compare/{basehead}.diff",
            "patch_url": f"{WEB}/{full}/compare/{basehead}.patch",
            "base_commit": gh.commit(mainline[base_index]),
            "merge_base_commit": gh.commit(mainline[min(base_index, head_index)]),
            "status": status_value,
            "ahead_by": len(ahead),
            "behind_by": behind,
            "total_commits": len(ahead),
            "commits": [gh.commit(c) for c in chunk],
            "files": [],
        }
        headers = {}
        if page * per_page < len(ahead):
            headers["link"] = f'<{_link(request, page=page + 1, per_page=per_page)}>; rel="next"'
        return JSONResponse(body, headers=headers)

    @app.get("/repos/{owner}/{name}/deployments")
    def list_deployments(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        environment = request.query_params.get("environment")
        sha = request.query_params.get("sha")
        rows = [
            d
            for d in gh.deployments.get(full, [])
            if (not environment or (d.get("environment") or "production") == environment)
            and (not sha or d.get("sha") == sha)
        ]
        return paged(request, rows, gh.deployment)

    @app.get("/repos/{owner}/{name}/deployments/{deployment_id}")
    def get_deployment(owner: str, name: str, deployment_id: int) -> Response:
        row = gh.deployment_by_id.get(deployment_id)
        if row is None or row["repo"] != f"{owner}/{name}":
            return _not_found()
        return JSONResponse(gh.deployment(row))

    @app.get("/repos/{owner}/{name}/deployments/{deployment_id}/statuses")
    def deployment_statuses(
        owner: str, name: str, deployment_id: int, request: Request
    ) -> Response:
        row = gh.deployment_by_id.get(deployment_id)
        if row is None or row["repo"] != f"{owner}/{name}":
            return _not_found()
        return paged(request, gh.deployment_statuses(row), lambda s: s)

    @app.get("/repos/{owner}/{name}/actions/workflows")
    def list_workflows(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        environments = sorted({r.get("environment") or "production" for r in gh.runs.get(full, [])})
        workflows = [gh.workflow(full, env) for env in environments]
        return JSONResponse({"total_count": len(workflows), "workflows": workflows})

    @app.get("/repos/{owner}/{name}/actions/runs")
    def list_runs(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        rows = gh.runs.get(full, [])
        created = request.query_params.get("created", "")
        if created.startswith(">="):
            floor = ts(created[2:]) or ""
            rows = [r for r in rows if (ts(r.get("started_at")) or "") >= floor]
        branch = request.query_params.get("branch")
        if branch:
            rows = [
                r
                for r in rows
                if (r.get("ref") or gh.repos[full].get("default_branch") or "main") == branch
            ]
        chunk, headers = page_slice(request, rows)
        runs = [gh.workflow_run(r) for r in chunk]
        return JSONResponse({"total_count": len(rows), "workflow_runs": runs}, headers=headers)

    @app.get("/repos/{owner}/{name}/actions/workflows/{workflow_id}/runs")
    def workflow_runs(owner: str, name: str, workflow_id: int, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        rows = [
            r
            for r in gh.runs.get(full, [])
            if gh.workflow(full, r.get("environment") or "production")["id"] == workflow_id
        ]
        chunk, headers = page_slice(request, rows)
        runs = [gh.workflow_run(r) for r in chunk]
        return JSONResponse({"total_count": len(rows), "workflow_runs": runs}, headers=headers)

    @app.get("/orgs/{org}/dependabot/alerts")
    def org_dependabot(org: str, request: Request) -> Response:
        if org != gh.org:
            return _not_found()
        rows = _alert_sort(gh.dependabot, request)
        return cursor_paged(request, rows, lambda r: gh.dependabot_alert(r, with_repository=True))

    @app.get("/repos/{owner}/{name}/dependabot/alerts")
    def repo_dependabot(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        rows = _alert_sort((r for r in gh.dependabot if r["repo"] == full), request)
        return cursor_paged(request, rows, lambda r: gh.dependabot_alert(r, with_repository=False))

    @app.get("/orgs/{org}/code-scanning/alerts")
    def org_code_scanning(org: str, request: Request) -> Response:
        if org != gh.org:
            return _not_found()
        rows = _alert_sort(gh.code_scanning, request)
        return paged(request, rows, lambda r: gh.code_scanning_alert(r, with_repository=True))

    @app.get("/repos/{owner}/{name}/code-scanning/alerts")
    def repo_code_scanning(owner: str, name: str, request: Request) -> Response:
        full = repo_or_none(owner, name)
        if full is None:
            return _not_found()
        rows = _alert_sort((r for r in gh.code_scanning if r["repo"] == full), request)
        return paged(request, rows, lambda r: gh.code_scanning_alert(r, with_repository=False))

    @app.get("/repos/{owner}/{name}/dependency-graph/sbom")
    def sbom(owner: str, name: str) -> Response:
        full = repo_or_none(owner, name)
        return _not_found() if full is None else JSONResponse(gh.sbom(full))

    @app.get("/orgs/{org}/members")
    def org_members(org: str, request: Request) -> Response:
        if org != gh.org:
            return _not_found()
        members = gh.members
        role = request.query_params.get("role", "all")
        if role == "admin":
            members = [m for m in members if m.get("role") == "admin"]
        elif role == "member":
            members = [m for m in members if m.get("role") != "admin"]
        if request.query_params.get("filter") == "2fa_disabled":
            members = [m for m in members if m.get("mfa") is False]
        return paged(request, members, gh.member_user)

    @app.get("/orgs/{org}/memberships/{username}")
    def membership(org: str, username: str) -> Response:
        grant = next((m for m in gh.members if m["principal"] == username), None)
        if org != gh.org or grant is None:
            return _not_found()
        return JSONResponse(
            {
                "url": f"{API}/orgs/{org}/memberships/{username}",
                "state": "active",
                "role": "admin" if grant.get("role") == "admin" else "member",
                "organization_url": f"{API}/orgs/{org}",
                "organization": {
                    "login": org,
                    "id": stable_id("org", org),
                    "url": f"{API}/orgs/{org}",
                },
                "user": gh.member_user(grant),
            }
        )

    return app


__all__ = [
    "DEMO_TOKEN",
    "ECOSYSTEM_ALIASES",
    "PURL_TYPES",
    "GitHubWorld",
    "GraphQLEndpoint",
    "make_app",
    "simple_user",
]
