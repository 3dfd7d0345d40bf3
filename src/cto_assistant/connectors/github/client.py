"""The GitHub connector (REST v3 + GraphQL): repos, pull requests, deployments, alerts, members.

Auth is a token (classic or fine-grained PAT, or an App installation token) sent as
`Authorization: Bearer …`. Listings page with the Link header; rate limits (`x-ratelimit-*`,
403 with remaining 0, 429) are handled by the shared HTTP client, GraphQL's own RATE_LIMITED
answers (HTTP 200 with `errors`) here.

Streams
- `repositories`: `/orgs/{org}/repos` + one branch-protection read per repo → `repository`
  (service and team from the repo's custom properties, names configurable).
- `pull_requests` (incremental on `updatedAt`) → `pull_request`, `review`, `commit`. With
  `pull_requests_api = "graphql"` (default): one aliased query per 100 repositories asks for
  each repo's most recently updated PR; only repos with a PR past the cursor (first sync:
  `since_days` back) are then paged, `pull_requests_per_query` PRs a query ordered by
  UPDATED_AT DESC with their first `page_size` commits and reviews, stopping at the cursor;
  a PR's further commits/reviews are read only when `pageInfo.hasNextPage`. A page of 50 costs
  1 point of the 5,000/hour GraphQL budget. With `"rest"`: per repo `pulls?state=all&
  sort=updated&direction=desc` to the cursor, then each PR's detail, commits and reviews
  (3 requests per PR). The checkpoint (newest update seen) is emitted once every repo is read.
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

Requests on a second sync with nothing new: pull requests one GraphQL query per 100 repos (REST:
one per repo); deployments one per repo; workflow runs one per repo plus one per deploy
workflow; one for each org-wide alert stream; plus the (cached) repository list.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

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
from cto_assistant.errors import (
    AuthError,
    ConnectorError,
    RateLimitedError,
    SchemaDriftError,
    UpstreamError,
)
from cto_assistant.http import (
    MAX_WAIT_SECONDS,
    VendorClient,
    build_client,
    decode_json,
    retry_after_seconds,
)
from cto_assistant.logging import get_logger

log = get_logger("connectors.github")

REPO_CACHE_SECONDS = 600.0
BASE_LOOKBACK = 30  # older deployments read at most to find each environment's previous success
COMPARE_MAX_PAGES = 3


PROBE_BATCH = 100  # repositories asked about in one aliased "newest pull request" query
GRAPHQL_RATE_LIMITED = frozenset({"RATE_LIMITED", "RATE_LIMIT"})
# Errors that mean the query no longer fits the schema (a field or argument renamed or removed,
# or a limit we no longer meet): schema drift, not an outage.
GRAPHQL_SCHEMA_CODES = frozenset(
    {
        "undefinedField",
        "undefinedType",
        "argumentNotAccepted",
        "argumentLiteralsIncompatible",
        "missingRequiredArguments",
        "variableMismatch",
        "MISSING_PAGINATION_BOUNDARIES",
        "EXCESSIVE_PAGINATION",
        "MAX_NODE_LIMIT_EXCEEDED",
    }
)

# GraphQL documents. Field names are GitHub's public schema (objects PullRequest,
# PullRequestCommit, Commit, GitActor, PullRequestReview, RateLimit). Every query also asks for
# `rateLimit` so the point budget is logged as it is spent.
RATE_LIMIT_FIELDS = "rateLimit { cost remaining resetAt }"
COMMIT_FRAGMENT = """
fragment PullRequestCommitFields on PullRequestCommit {
  commit {
    oid
    message
    authoredDate
    committedDate
    author { user { login } }
  }
}
"""
REVIEW_FRAGMENT = """
fragment ReviewFields on PullRequestReview {
  id
  state
  submittedAt
  author { login }
}
"""
PULL_REQUEST_FRAGMENT = """
fragment PullRequestFields on PullRequest {
  id
  number
  title
  url
  state
  isDraft
  createdAt
  updatedAt
  mergedAt
  closedAt
  additions
  deletions
  changedFiles
  baseRefName
  mergeCommit { oid }
  author { login }
  commits(first: $nested) {
    pageInfo { hasNextPage endCursor }
    nodes { ...PullRequestCommitFields }
  }
  reviews(first: $nested) {
    pageInfo { hasNextPage endCursor }
    nodes { ...ReviewFields }
  }
}
"""
# One page of a repository's pull requests, most recently updated first, with their commits
# and reviews: (1 + 2 x first) connection requests → 1 point at 50 a page.
PULL_REQUEST_PAGE_QUERY = (
    f"""
query PullRequestPage(
  $owner: String!, $name: String!, $first: Int!, $after: String, $nested: Int!
) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: $first, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ ...PullRequestFields }}
    }}
  }}
}}
"""
    + PULL_REQUEST_FRAGMENT
    + COMMIT_FRAGMENT
    + REVIEW_FRAGMENT
)


def _more_query(connection: str, fragment: str, fragment_text: str) -> str:
    """The query for the next page of one PR's `connection` (commits or reviews)."""
    return (
        f"""
query PullRequest{connection.title()}($id: ID!, $first: Int!, $after: String) {{
  {RATE_LIMIT_FIELDS}
  node(id: $id) {{
    ... on PullRequest {{
      {connection}(first: $first, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ ...{fragment} }}
      }}
    }}
  }}
}}
"""
        + fragment_text
    )


# The rest of a long PR's commits or reviews, read only when `pageInfo.hasNextPage` says so.
MORE_COMMITS_QUERY = _more_query("commits", "PullRequestCommitFields", COMMIT_FRAGMENT)
MORE_REVIEWS_QUERY = _more_query("reviews", "ReviewFields", REVIEW_FRAGMENT)


def probe_query(count: int) -> str:
    """An aliased query for the newest-updated PR of `count` repositories ($o0/$n0, …)."""
    params = ", ".join(f"$o{i}: String!, $n{i}: String!" for i in range(count))
    order = "orderBy: {field: UPDATED_AT, direction: DESC}"
    parts = "\n".join(
        f"  r{i}: repository(owner: $o{i}, name: $n{i}) "
        f"{{ pullRequests(first: 1, {order}) {{ nodes {{ updatedAt }} }} }}"
        for i in range(count)
    )
    return f"query PullRequestHeads({params}) {{\n  {RATE_LIMIT_FIELDS}\n{parts}\n}}\n"


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
    pull_requests_api: Literal["graphql", "rest"] = Field(
        default="graphql",
        description=(
            "How pull requests are read: 'graphql' (one query per page of up to "
            "`pull_requests_per_query` PRs with their commits and reviews) or 'rest' (3 "
            "requests per PR; for servers without GraphQL)."
        ),
    )
    pull_requests_per_query: int = Field(
        default=50,
        ge=1,
        le=100,
        description=(
            "Pull requests per GraphQL query (each brings up to `page_size` commits and "
            "reviews); lower it if GitHub answers with timeouts."
        ),
    )
    graphql_url: str | None = Field(
        default=None,
        description=(
            "GraphQL endpoint; default derived from base_url (…/graphql, or …/api/graphql "
            "for GitHub Enterprise Server's …/api/v3)."
        ),
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
    """Reads a GitHub organization through REST v3 (pull requests through GraphQL)."""

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
        return self.now() - timedelta(days=self.settings.since_days)

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
        if self.settings.pull_requests_api == "rest":
            newest = yield from self._rest_pull_requests(cursor, stream)
        else:
            newest = yield from self._graphql_pull_requests(cursor, stream)
        if newest is not None and newest != cursor:
            yield Checkpoint(iso(newest) or "")

    def _is_new(self, updated: datetime, cursor: datetime | None) -> bool:
        """Whether a PR updated at `updated` is past the cursor (first sync: the floor)."""
        return updated > cursor if cursor is not None else updated >= self._floor()

    def _rest_pull_requests(
        self, cursor: datetime | None, stream: str
    ) -> Generator[Record, None, datetime | None]:
        """REST: per repo, the PR listing newest-updated first, then 3 requests per new PR."""
        newest = cursor
        for repo in self._active_repos(stream):
            params = {"state": "all", "sort": "updated", "direction": "desc"}
            done = False
            for page in self._pages(f"repos/{repo}/pulls", stream, params=params):
                for item in page:
                    updated = Reader(
                        item, source=self.name, stream=stream, what="pull request"
                    ).need_time("updated_at")
                    if not self._is_new(updated, cursor):
                        done = True
                        break
                    newest = updated if newest is None else max(newest, updated)
                    yield from self._pull_request_records(repo, item, stream)
                if done:
                    break
        return newest

    # ------------------------------------------------------------------ GraphQL

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint (configured, or derived from the REST base URL)."""
        if self.settings.graphql_url:
            return self.settings.graphql_url
        base = self.settings.base_url.rstrip("/")
        if base.endswith("/api/v3"):  # GitHub Enterprise Server
            return base[: -len("/v3")] + "/graphql"
        return base + "/graphql"

    def graphql(
        self, query: str, variables: dict[str, Any], stream: str, *, missing_ok: bool = False
    ) -> dict[str, Any]:
        """POST a GraphQL query and return its `data`; the `errors` envelope raises typed errors.

        A RATE_LIMITED answer (HTTP 200, points exhausted) waits for the reset like a 429 when
        the wait is short, else raises RateLimitedError. With `missing_ok`, NOT_FOUND errors
        (a repository gone since it was listed) leave their field null instead of raising.
        """
        attempt = 0
        while True:
            attempt += 1
            response = self.client.request(
                "POST",
                self.graphql_url,
                stream=stream,
                json={"query": query, "variables": variables},
            )
            self.client.stats.pages += 1
            body = Reader(
                decode_json(response, self.name, stream),
                source=self.name,
                stream=stream,
                what="GraphQL response",
            )
            errors = body.get("errors") or []
            if not isinstance(errors, list):
                errors = [errors]
            limited = [e for e in errors if _error_type(e) in GRAPHQL_RATE_LIMITED]
            if limited:
                wait = retry_after_seconds(response)
                if attempt < self.client.max_attempts and (
                    wait is not None and wait <= MAX_WAIT_SECONDS
                ):
                    self.client.stats.retries += 1
                    self.client.stats.waited_seconds += wait
                    log.info("graphql rate limited; waiting", source=self.name, wait_s=wait)
                    (self.context.sleep or time.sleep)(wait)
                    continue
                raise RateLimitedError(
                    self.name,
                    f"GraphQL rate limit exhausted: {_error_text(limited[0])}",
                    stream=stream,
                    retry_after=wait,
                )
            self._raise_for_errors(errors, stream, missing_ok=missing_ok)
            data = body.need("data")
            spent = Reader(data, source=self.name, stream=stream, what="GraphQL data")
            log.debug(
                "graphql query",
                source=self.name,
                cost=spent.get("rateLimit.cost"),
                remaining=spent.get("rateLimit.remaining"),
            )
            return dict(data)

    def _raise_for_errors(self, errors: list[Any], stream: str, *, missing_ok: bool) -> None:
        """Turn GraphQL `errors` into the connector error tree (NOT_FOUND tolerated on ask)."""
        for error in errors:
            kind = _error_type(error)
            if kind == "NOT_FOUND" and missing_ok:
                log.info("graphql object not found", source=self.name, path=_error_path(error))
                continue
            text = _error_text(error)
            if kind in GRAPHQL_SCHEMA_CODES:
                extensions = error.get("extensions") if isinstance(error, dict) else None
                field = (extensions or {}).get("fieldName") or (extensions or {}).get(
                    "argumentName"
                )
                raise SchemaDriftError(
                    self.name, f"GraphQL query rejected: {text}", stream=stream, field=field
                )
            if kind == "FORBIDDEN":
                raise AuthError(self.name, f"GraphQL access refused: {text}", stream=stream)
            raise UpstreamError(
                self.name, f"GraphQL error ({kind or 'unknown'}): {text}", stream=stream
            )

    def _graphql_pull_requests(
        self, cursor: datetime | None, stream: str
    ) -> Generator[Record, None, datetime | None]:
        """GraphQL: ask which repos changed (one aliased query per 100), then page only those.

        The cursor returned never passes the newest update the first query saw: a PR updated
        while the sync runs, in a repo already read, is newer than that and is read next time
        (GitHub's clock on both sides, so no local clock skew).
        """
        newest = cursor
        heads = self._newest_pull_request_updates(self._active_repos(stream), stream)
        for repo, head in heads.items():
            if head is None or not self._is_new(head, cursor):
                continue
            found = yield from self._graphql_repo_pull_requests(repo, cursor, stream)
            if found is not None:
                newest = found if newest is None else max(newest, found)
        seen_at_start = max((h for h in heads.values() if h is not None), default=None)
        if newest is not None and seen_at_start is not None and newest > seen_at_start:
            newest = max(seen_at_start, cursor) if cursor is not None else seen_at_start
        return newest

    def _newest_pull_request_updates(
        self, repos: list[str], stream: str
    ) -> dict[str, datetime | None]:
        """Each repo's newest PR `updatedAt` (None: no PRs or no longer visible)."""
        heads: dict[str, datetime | None] = {}
        for start in range(0, len(repos), PROBE_BATCH):
            batch = repos[start : start + PROBE_BATCH]
            variables: dict[str, Any] = {}
            for i, repo in enumerate(batch):
                owner, name = repo.split("/", 1)
                variables[f"o{i}"], variables[f"n{i}"] = owner, name
            data = self.graphql(probe_query(len(batch)), variables, stream, missing_ok=True)
            for i, repo in enumerate(batch):
                if data.get(f"r{i}") is None:  # deleted or renamed since it was listed
                    heads[repo] = None
                    continue
                answer = Reader(data, source=self.name, stream=stream, what="repository")
                nodes = answer.need(f"r{i}.pullRequests.nodes")
                newest = Reader(
                    nodes[0] if nodes else {}, source=self.name, stream=stream, what="pull request"
                )
                heads[repo] = newest.need_time("updatedAt") if nodes else None
        return heads

    def _graphql_repo_pull_requests(
        self, repo: str, cursor: datetime | None, stream: str
    ) -> Generator[Record, None, datetime | None]:
        """Page one repo's PRs newest-updated first down to the cursor; yield their rows."""
        owner, name = repo.split("/", 1)
        newest: datetime | None = None
        after: str | None = None
        nested = min(100, self.settings.page_size)
        while True:
            variables = {
                "owner": owner,
                "name": name,
                "first": min(self.settings.pull_requests_per_query, self.settings.page_size),
                "after": after,
                "nested": nested,
            }
            data = self.graphql(PULL_REQUEST_PAGE_QUERY, variables, stream, missing_ok=True)
            if data.get("repository") is None:
                return newest  # gone since the repository list was read
            page = Reader(data, source=self.name, stream=stream, what="pull request page")
            for node in page.need("repository.pullRequests.nodes"):
                pr = Reader(node, source=self.name, stream=stream, what="pull request")
                updated = pr.need_time("updatedAt")
                if not self._is_new(updated, cursor):
                    return newest
                newest = updated if newest is None else max(newest, updated)
                yield from self._pull_request_node_records(repo, node, stream)
            if not page.need("repository.pullRequests.pageInfo.hasNextPage"):
                return newest
            after = page.need("repository.pullRequests.pageInfo.endCursor")

    def _pull_request_node_records(self, repo: str, node: Any, stream: str) -> Iterator[Record]:
        """The pull_request, review and commit rows of one GraphQL PullRequest node."""
        pr = Reader(node, source=self.name, stream=stream, what="pull request")
        number = pr.need("number")
        commits = self._connection_nodes(pr, "commits", MORE_COMMITS_QUERY, stream)
        reviews = self._connection_nodes(pr, "reviews", MORE_REVIEWS_QUERY, stream)
        yield Record(
            "pull_request",
            mapping.pull_request_node(
                node, source=self.name, stream=stream, repo=repo, commits=commits, reviews=reviews
            ),
        )
        for review in reviews:
            yield Record(
                "review",
                mapping.review_node(
                    review, source=self.name, stream=stream, repo=repo, pr_number=number
                ),
            )
        for commit in commits:
            yield Record(
                "commit",
                mapping.commit_node(
                    commit, source=self.name, stream=stream, repo=repo, pr_number=number
                ),
            )

    def _connection_nodes(self, pr: Reader, connection: str, query: str, stream: str) -> list[Any]:
        """A PR's commits or reviews: the first page came with the PR; more only if there is."""
        nodes = list(pr.need(f"{connection}.nodes"))
        more = pr.need(f"{connection}.pageInfo.hasNextPage")
        after = pr.get(f"{connection}.pageInfo.endCursor")
        while more:
            variables = {
                "id": pr.need("id"),
                "first": min(100, self.settings.page_size),
                "after": after,
            }
            data = self.graphql(query, variables, stream)
            page = Reader(data, source=self.name, stream=stream, what=f"pull request {connection}")
            nodes.extend(page.need(f"node.{connection}.nodes"))
            more = page.need(f"node.{connection}.pageInfo.hasNextPage")
            after = page.get(f"node.{connection}.pageInfo.endCursor")
        return nodes

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
                    if self.settings.pull_requests_api == "graphql":
                        self._newest_pull_request_updates([first_repo], "check")
                        results.append(CheckResult(capability, True, "GraphQL"))
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


def _error_type(error: Any) -> str | None:
    """A GraphQL error's kind: GitHub's `type` (RATE_LIMITED, NOT_FOUND, …) or validation code."""
    if not isinstance(error, dict):
        return None
    kind = error.get("type") or (error.get("extensions") or {}).get("code")
    return str(kind) if kind else None


def _error_path(error: Any) -> str:
    path = error.get("path") if isinstance(error, dict) else None
    return ".".join(str(p) for p in path) if isinstance(path, list) else ""


def _error_text(error: Any) -> str:
    """The vendor's message for a GraphQL error, shortened for a log line or exception."""
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:200]
