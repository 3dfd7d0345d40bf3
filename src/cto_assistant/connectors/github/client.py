"""The GitHub connector (REST v3): repositories, pull requests, deployments, alerts, SBOM, members.

Auth is a token (classic or fine-grained PAT, or an App installation token) sent as
`Authorization: Bearer …`. Listings page with the Link header; rate limits (`x-ratelimit-*`,
403 with remaining 0, 429) are handled by the shared HTTP client.

Streams
- `repositories`: `/orgs/{org}/repos` + one branch-protection read per repo → `repository`
  (service and team from the repo's custom properties, names configurable).
- `pull_requests` (incremental on `updated_at`): per repo `pulls?state=all&sort=updated&
  direction=desc`, stopping at the cursor (first sync: `since_days` back); for each PR its detail
  (additions/deletions/changed_files), commits and reviews → `pull_request`, `review`, `commit`.
  The checkpoint (newest `updated_at` seen) is emitted once every repo has been read past it.
- `deployments` (incremental on `created_at`): GitHub Deployments, newest first, with the latest
  status → `deployment`; for a successful one, the commits between the previous successful
  deployment of the same environment and this one (compare API; PR numbers from the commit
  graph) → `deployment_change`. Unfinished deployments hold the
  cursor back so they are read again until they finish.
- `workflow_runs` (incremental): runs of the Actions workflows whose name matches
  `deploy_workflow_pattern` (production) or `staging_workflow_pattern` → `deployment` rows with
  tool "github_actions", and their `deployment_change` rows the same way.
- `dependabot_alerts`, `code_scanning_alerts` (incremental on `updated_at`): the org-wide alert
  listings sorted by `updated` descending, stopping at the cursor → `vulnerability`.
- `sbom`: the SPDX export of each repo's dependency graph → `dependency`.
- `members`: org members, `role=admin` (owners → privileged) and `filter=2fa_disabled` (→ mfa) →
  `access_grant` (system "github"), plus `person` login ↔ e-mail rows where the e-mail is visible.

Requests on a second sync with nothing new: one per repo for each per-repo incremental stream
(pull requests, deployments; workflow runs: one per deploy workflow), one for each org-wide alert
stream, plus the (cached) repository list.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import Field, SecretStr, field_validator

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.github import mapping
from cto_assistant.connectors.pagination import LinkHeader, paginate
from cto_assistant.connectors.payload import Reader, iso, parse_time
from cto_assistant.errors import ConnectorError
from cto_assistant.http import VendorClient, build_client, decode_json
from cto_assistant.logging import get_logger

log = get_logger("connectors.github")

REPO_CACHE_SECONDS = 600.0
BASE_LOOKBACK = 30  # older deployments read at most to find each environment's previous success
COMPARE_MAX_PAGES = 3


class GitHubConfig(ConnectorConfig):
    """Settings of a GitHub (cloud or Enterprise Server) source."""

    kind: str = Field(default="github", description="Connector kind.")
    base_url: str = Field(
        default="https://api.github.com",
        description="REST API root (GitHub Enterprise Server: https://HOST/api/v3).",
    )
    token: SecretStr = Field(description="Token with repo, read:org and security-events read.")
    org: str = Field(description="The organization whose repositories are synced.")
    repos: list[str] | None = Field(
        default=None,
        description="Only these repositories ('name' or 'org/name'); default: every org repo.",
    )
    production_environments: list[str] = Field(
        default_factory=lambda: ["production", "prod"],
        description="Deployment environment names that mean production.",
    )
    deploy_workflow_pattern: str = Field(
        default=r"(?i)deploy.*prod",
        description="Regex on an Actions workflow's name: its runs are production deployments.",
    )
    staging_workflow_pattern: str | None = Field(
        default=r"(?i)deploy.*stag",
        description="Regex on an Actions workflow's name: its runs are staging deployments.",
    )
    since_days: int = Field(
        default=180, ge=1, le=3650, description="How far back the first sync reads delivery data."
    )
    service_property: str = Field(
        default="service", description="Repository custom property naming the service."
    )
    team_property: str = Field(
        default="team", description="Repository custom property naming the owning team key."
    )

    @field_validator("deploy_workflow_pattern", "staging_workflow_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class GitHubConnector(Connector):
    """Reads a GitHub organization through REST v3."""

    kind = "github"
    config_model = GitHubConfig
    category = "engineering"
    streams = (
        Stream("repositories", ("repository",), description="Repositories with branch protection."),
        Stream(
            "pull_requests",
            ("pull_request", "review", "commit"),
            incremental=True,
            description="Pull requests with reviews and commits.",
        ),
        Stream(
            "deployments",
            ("deployment", "deployment_change"),
            incremental=True,
            description="GitHub Deployments with statuses and shipped commits.",
        ),
        Stream(
            "workflow_runs",
            ("deployment", "deployment_change"),
            incremental=True,
            description="Actions deploy workflow runs as deployments.",
        ),
        Stream(
            "dependabot_alerts",
            ("vulnerability",),
            incremental=True,
            description="Dependabot alerts of the organization.",
        ),
        Stream(
            "code_scanning_alerts",
            ("vulnerability",),
            incremental=True,
            description="Code-scanning alerts of the organization.",
        ),
        Stream("sbom", ("dependency",), description="Dependency graph SBOM per repository."),
        Stream(
            "members",
            ("access_grant", "person"),
            description="Org members with owner role and 2FA status.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        assert isinstance(self.config, GitHubConfig)
        self.settings: GitHubConfig = self.config
        self._client: VendorClient | None = None
        self._repo_cache: tuple[float, list[dict[str, Any]]] | None = None
        self._deploy_pattern = re.compile(self.settings.deploy_workflow_pattern)
        self._staging_pattern = (
            re.compile(self.settings.staging_workflow_pattern)
            if self.settings.staging_workflow_pattern
            else None
        )

    # ------------------------------------------------------------------ plumbing

    @property
    def client(self) -> VendorClient:
        """The authenticated, retrying HTTP client (built on first use)."""
        if self._client is None:
            token = self.settings.token.get_secret_value()
            self._client = build_client(
                self.context,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                },
                secrets=(token,),
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _pages(
        self, url: str, stream: str, *, params: dict[str, Any] | None = None, items: str = ""
    ) -> Iterator[list[Any]]:
        strategy = LinkHeader(page_size=min(100, self.settings.page_size))
        for page in paginate(
            self.client, "GET", url, strategy=strategy, items=items, stream=stream, params=params
        ):
            yield page.items

    def _all(self, url: str, stream: str, *, params: dict[str, Any] | None = None) -> list[Any]:
        return [item for page in self._pages(url, stream, params=params) for item in page]

    def _floor(self) -> datetime:
        return datetime.now(UTC) - timedelta(days=self.settings.since_days)

    def _wanted(self, full_name: str) -> bool:
        allow = self.settings.repos
        if not allow:
            return True
        name = full_name.split("/", 1)[-1]
        return full_name in allow or name in allow

    def repositories(self, stream: str) -> list[dict[str, Any]]:
        """The org's repositories (allow-listed), cached for a few minutes across streams."""
        now = time.monotonic()
        if self._repo_cache and now - self._repo_cache[0] < REPO_CACHE_SECONDS:
            return self._repo_cache[1]
        repos = []
        for repo in self._all(f"orgs/{self.settings.org}/repos", stream, params={"type": "all"}):
            r = Reader(repo, source=self.name, stream=stream, what="repository")
            if self._wanted(r.need("full_name")):
                repos.append(repo)
        self._repo_cache = (now, repos)
        return repos

    def _service_of(self, stream: str) -> dict[str, str | None]:
        prop = self.settings.service_property
        return {
            repo["full_name"]: (repo.get("custom_properties") or {}).get(prop)
            for repo in self.repositories(stream)
        }

    def _active_repos(self, stream: str) -> list[str]:
        return [r["full_name"] for r in self.repositories(stream) if not r.get("archived")]

    # ------------------------------------------------------------------ streams

    def pull_repositories(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Repositories with default-branch protection and required reviews."""
        stream = "repositories"
        self._repo_cache = None
        for repo in self.repositories(stream):
            r = Reader(repo, source=self.name, stream=stream, what="repository")
            full_name = r.need("full_name")
            branch = r.get("default_branch") or "main"
            response = self.client.request(
                "GET",
                f"repos/{full_name}/branches/{branch}/protection",
                stream=stream,
                ok_statuses=(404,),
            )
            protection = None
            if response.status_code != 404:
                protection = decode_json(response, self.name, stream)
            row = mapping.repository(
                repo,
                source=self.name,
                stream=stream,
                protection=protection,
                protected=protection is not None,
                service_property=self.settings.service_property,
                team_property=self.settings.team_property,
            )
            yield Record("repository", row)

    def pull_pull_requests(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Pull requests updated since the cursor, with their reviews and commits."""
        stream = "pull_requests"
        cursor = parse_time(since) if since else None
        floor = self._floor()
        newest = cursor
        for repo in self._active_repos(stream):
            params = {"state": "all", "sort": "updated", "direction": "desc"}
            done = False
            for page in self._pages(f"repos/{repo}/pulls", stream, params=params):
                for item in page:
                    updated = Reader(
                        item, source=self.name, stream=stream, what="pull request"
                    ).need_time("updated_at")
                    if (cursor is not None and updated <= cursor) or (
                        cursor is None and updated < floor
                    ):
                        done = True
                        break
                    newest = updated if newest is None else max(newest, updated)
                    yield from self._pull_request_records(repo, item, stream)
                if done:
                    break
        if newest is not None and newest != cursor:
            yield Checkpoint(iso(newest) or "")

    def _pull_request_records(self, repo: str, item: Any, stream: str) -> Iterator[Record]:
        number = Reader(item, source=self.name, stream=stream, what="pull request").need("number")
        detail = self.client.get_json(f"repos/{repo}/pulls/{number}", stream=stream)
        commits = self._all(f"repos/{repo}/pulls/{number}/commits", stream)
        reviews = self._all(f"repos/{repo}/pulls/{number}/reviews", stream)
        yield Record(
            "pull_request",
            mapping.pull_request(
                detail, source=self.name, stream=stream, repo=repo, commits=commits, reviews=reviews
            ),
        )
        for review in reviews:
            yield Record(
                "review",
                mapping.review(
                    review, source=self.name, stream=stream, repo=repo, pr_number=number
                ),
            )
        for commit in commits:
            yield Record(
                "commit",
                mapping.commit(
                    commit, source=self.name, stream=stream, repo=repo, pr_number=number
                ),
            )

    def pull_deployments(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """GitHub Deployments created since the cursor, with status and shipped commits."""
        stream = "deployments"
        cursor = parse_time(since) if since else None
        services = self._service_of(stream)
        newest = cursor
        pending: list[datetime] = []
        for repo in self._active_repos(stream):
            items = self._deployment_items(repo, stream, services.get(repo))
            found_newest, found_pending = yield from self._deliveries(repo, items, cursor, stream)
            if found_newest is not None:
                newest = found_newest if newest is None else max(newest, found_newest)
            pending.extend(found_pending)
        yield from self._delivery_checkpoint(cursor, newest, pending)

    def _deployment_items(
        self, repo: str, stream: str, service: str | None
    ) -> Iterator[dict[str, Any]]:
        """A repo's deployments newest first; `load` reads the statuses and maps the row."""
        for page in self._pages(f"repos/{repo}/deployments", stream):
            for item in page:
                d = Reader(item, source=self.name, stream=stream, what="deployment")
                yield {
                    "created": d.need_time("created_at"),
                    "environment": mapping.normalize_environment(
                        d.get("environment"), self.settings.production_environments
                    ),
                    "load": partial(self._load_deployment, repo, item, stream, service),
                }

    def _load_deployment(
        self, repo: str, item: Any, stream: str, service: str | None
    ) -> dict[str, Any]:
        did = Reader(item, source=self.name, stream=stream, what="deployment").need("id")
        statuses = self.client.get_json(
            f"repos/{repo}/deployments/{did}/statuses", stream=stream, params={"per_page": 100}
        )
        return mapping.deployment(
            item,
            source=self.name,
            stream=stream,
            repo=repo,
            service=service,
            statuses=statuses if isinstance(statuses, list) else [],
            production_environments=self.settings.production_environments,
        )

    def pull_workflow_runs(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Runs of deploy workflows as deployments (tool github_actions), with shipped commits."""
        stream = "workflow_runs"
        cursor = parse_time(since) if since else None
        services = self._service_of(stream)
        newest = cursor
        pending: list[datetime] = []
        for repo in self._active_repos(stream):
            body = self.client.get_json(
                f"repos/{repo}/actions/workflows", stream=stream, params={"per_page": 100}
            )
            workflows = Reader(body, source=self.name, stream=stream, what="workflows page").need(
                "workflows"
            )
            for workflow in workflows:
                w = Reader(workflow, source=self.name, stream=stream, what="workflow")
                environment = self._workflow_environment(w.need("name"))
                if environment is None:
                    continue
                items = self._run_items(repo, w.need("id"), environment, stream, services.get(repo))
                found_newest, found_pending = yield from self._deliveries(
                    repo, items, cursor, stream
                )
                if found_newest is not None:
                    newest = found_newest if newest is None else max(newest, found_newest)
                pending.extend(found_pending)
        yield from self._delivery_checkpoint(cursor, newest, pending)

    def _run_items(
        self, repo: str, workflow_id: int, environment: str, stream: str, service: str | None
    ) -> Iterator[dict[str, Any]]:
        """A deploy workflow's runs newest first, each mapped lazily to a deployment row."""
        url = f"repos/{repo}/actions/workflows/{workflow_id}/runs"
        for page in self._pages(url, stream, items="workflow_runs"):
            for run in page:
                r = Reader(run, source=self.name, stream=stream, what="workflow run")
                yield {
                    "created": r.need_time("created_at"),
                    "environment": environment,
                    "load": partial(
                        mapping.workflow_run,
                        run,
                        source=self.name,
                        stream=stream,
                        repo=repo,
                        service=service,
                        environment=environment,
                    ),
                }

    def _workflow_environment(self, name: str) -> str | None:
        if self._deploy_pattern.search(name):
            return "production"
        if self._staging_pattern is not None and self._staging_pattern.search(name):
            return "staging"
        return None

    def _deliveries(
        self, repo: str, items: Iterator[dict[str, Any]], cursor: datetime | None, stream: str
    ) -> Generator[Record, None, tuple[datetime | None, list[datetime]]]:
        """Read deployments newest first down to the cursor, then map them with their changes.

        Past the cursor (or the first-sync floor) it keeps reading, a bounded number, until each
        environment of the new deployments has its previous successful deployment: the base of
        the compare that lists the commits shipped.
        """
        floor = cursor if cursor is not None else self._floor()
        fresh: list[dict[str, Any]] = []
        bases: dict[str, dict[str, Any]] = {}
        needed: set[str | None] = set()
        looked_back = 0
        for item in items:
            is_new = item["created"] > floor if cursor is not None else item["created"] >= floor
            if is_new:
                row = item["load"]()
                fresh.append(row)
                needed.add(row["environment"])
                continue
            unresolved = needed - set(bases)
            if not unresolved or looked_back >= BASE_LOOKBACK:
                break
            if item["environment"] not in unresolved:
                continue
            looked_back += 1
            row = item["load"]()
            if row["status"] == "success":
                bases[row["environment"]] = row
        newest = max((r["started_at"] for r in fresh), default=None)
        pending = [r["started_at"] for r in fresh if r["status"] == "in_progress"]
        last_success = dict(bases)
        for row in sorted(fresh, key=lambda r: r["started_at"]):
            yield Record("deployment", row)
            base = last_success.get(row["environment"])
            if base is not None and base["sha"] != row["sha"] and row["status"] == "success":
                for change in self._compare(
                    repo, base["sha"], row["sha"], row["source_id"], stream
                ):
                    yield Record("deployment_change", change)
            if row["status"] == "success":
                last_success[row["environment"]] = row
        return newest, pending

    def _compare(
        self, repo: str, base: str, head: str, deployment_source_id: str, stream: str
    ) -> list[dict[str, Any]]:
        """The commits between two shas (compare API), as deployment_change rows."""
        response = self.client.request(
            "GET",
            f"repos/{repo}/compare/{base}...{head}",
            stream=stream,
            params={"per_page": 100},
            ok_statuses=(404,),
        )
        if response.status_code == 404:
            log.info("compare base not found", source=self.name, repo=repo)
            return []
        commits: list[Any] = []
        pages = 0
        while True:
            pages += 1
            body = decode_json(response, self.name, stream)
            page = Reader(body, source=self.name, stream=stream, what="comparison").need("commits")
            commits.extend(page)
            nxt = response.links.get("next", {}).get("url")
            if not nxt or pages >= COMPARE_MAX_PAGES:
                break
            response = self.client.request("GET", nxt, stream=stream)
        numbers = mapping.pull_request_numbers(commits, head)
        return [
            mapping.deployment_change(
                commit,
                source=self.name,
                stream=stream,
                deployment_source_id=deployment_source_id,
                repo=repo,
                pr_number=numbers.get(commit.get("sha")),
            )
            for commit in commits
        ]

    def _delivery_checkpoint(
        self, cursor: datetime | None, newest: datetime | None, pending: list[datetime]
    ) -> Iterator[Checkpoint]:
        """Checkpoint at the newest creation time, held back before any unfinished one."""
        if pending:
            target: datetime | None = min(pending) - timedelta(seconds=1)
            if cursor is not None and target is not None and target < cursor:
                target = cursor
        else:
            target = newest
        if target is not None and target != cursor:
            yield Checkpoint(iso(target) or "")

    def pull_dependabot_alerts(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Dependabot alerts of the org updated since the cursor."""
        stream = "dependabot_alerts"
        yield from self._alerts(
            since, stream, f"orgs/{self.settings.org}/dependabot/alerts", mapping.dependabot_alert
        )

    def pull_code_scanning_alerts(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Code-scanning alerts of the org updated since the cursor."""
        stream = "code_scanning_alerts"
        yield from self._alerts(
            since,
            stream,
            f"orgs/{self.settings.org}/code-scanning/alerts",
            mapping.code_scanning_alert,
        )

    def _alerts(
        self, since: str | None, stream: str, url: str, mapper: Any
    ) -> Iterator[Record | Checkpoint]:
        cursor = parse_time(since) if since else None
        newest = cursor
        services: dict[str, str | None] | None = None
        params = {"sort": "updated", "direction": "desc"}
        done = False
        for page in self._pages(url, stream, params=params):
            for alert in page:
                a = Reader(alert, source=self.name, stream=stream, what="alert")
                updated = a.time("updated_at") or a.need_time("created_at")
                if cursor is not None and updated <= cursor:
                    done = True
                    break
                newest = updated if newest is None else max(newest, updated)
                repo = a.get("repository.full_name") or mapping.repo_from_alert_url(a.get("url"))
                if repo is None or not self._wanted(repo):
                    continue
                if services is None:
                    services = self._service_of(stream)
                row = mapper(
                    alert, source=self.name, stream=stream, repo=repo, service=services.get(repo)
                )
                yield Record("vulnerability", row)
            if done:
                break
        if newest is not None and newest != cursor:
            yield Checkpoint(iso(newest) or "")

    def pull_sbom(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Each repository's dependency graph (SPDX SBOM) as dependency rows."""
        stream = "sbom"
        for repo in self._active_repos(stream):
            response = self.client.request(
                "GET", f"repos/{repo}/dependency-graph/sbom", stream=stream, ok_statuses=(404,)
            )
            if response.status_code == 404:
                continue
            body = decode_json(response, self.name, stream)
            for row in mapping.sbom_dependencies(body, source=self.name, stream=stream, repo=repo):
                yield Record("dependency", row)

    def pull_members(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Org members as access grants (owners privileged, 2FA status) and login ↔ e-mail."""
        stream = "members"
        org = self.settings.org
        members = self._all(f"orgs/{org}/members", stream)
        admins = {
            m.get("login")
            for m in self._all(f"orgs/{org}/members", stream, params={"role": "admin"})
        }
        without_2fa = self._two_factor_disabled(stream)
        for user in members:
            login = Reader(user, source=self.name, stream=stream, what="member").need("login")
            row = mapping.member(
                user,
                source=self.name,
                stream=stream,
                org=org,
                admin=login in admins,
                mfa_disabled=without_2fa is not None and login in without_2fa,
            )
            if without_2fa is None:
                row["mfa"] = None
            yield Record("access_grant", row)
            person = mapping.person(user, source=self.name, stream=stream)
            if person is not None:
                yield Record("person", person)

    def _two_factor_disabled(self, stream: str) -> set[str] | None:
        """Logins without 2FA; None when the token may not ask (only owners can)."""
        url: str | None = f"orgs/{self.settings.org}/members"
        params: dict[str, Any] | None = {
            "filter": "2fa_disabled",
            "per_page": min(100, self.settings.page_size),
        }
        found: set[str] = set()
        while url:
            response = self.client.request(
                "GET", url, stream=stream, params=params, ok_statuses=(422,)
            )
            if response.status_code == 422:
                log.info("2fa filter refused (token is not an org owner)", source=self.name)
                return None
            self.client.stats.pages += 1
            body = decode_json(response, self.name, stream)
            if not isinstance(body, list):
                return None
            found.update(str(u.get("login")) for u in body if isinstance(u, dict))
            url = response.links.get("next", {}).get("url")
            params = None
        return found

    # ------------------------------------------------------------------ check

    def check(self) -> list[CheckResult]:
        """Probe read access to the API, repositories, alerts and members (read-only)."""
        org = self.settings.org
        probes: list[tuple[str, str | None, dict[str, Any] | None]] = [
            ("read API rate limit", "rate_limit", None),
            ("read repositories", f"orgs/{org}/repos", {"per_page": 1}),
            ("read pull requests", None, None),
            ("read Dependabot alerts", f"orgs/{org}/dependabot/alerts", {"per_page": 1}),
            ("read code-scanning alerts", f"orgs/{org}/code-scanning/alerts", {"per_page": 1}),
            ("read org members", f"orgs/{org}/members", {"per_page": 1}),
        ]
        results = []
        first_repo: str | None = None
        for capability, url, params in probes:
            try:
                if url is None:
                    if first_repo is None:
                        results.append(CheckResult(capability, False, "no repository visible"))
                        continue
                    url = f"repos/{first_repo}/pulls"
                    params = {"per_page": 1, "state": "all"}
                body = self.client.get_json(url, stream="check", params=params)
                if capability == "read repositories" and isinstance(body, list) and body:
                    first_repo = body[0].get("full_name")
                results.append(CheckResult(capability, True))
            except ConnectorError as exc:
                results.append(CheckResult(capability, False, str(exc)))
        return results
