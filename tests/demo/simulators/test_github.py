"""The GitHub simulator: auth, rate-limit headers, Link paging, and official-schema validity."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators.github import DEMO_TOKEN, make_app
from cto_assistant.demo.world import World
from tests.conftest import vendor_spec
from tests.connectors.github.world import CHECKOUT, PAYMENTS, at, build_world, sha
from tests.support.openapi import OpenAPISpec

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app(build_world())) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def spec() -> OpenAPISpec:
    """The official description, with null admitted by nullable enums (see `admit_null`)."""
    loaded = OpenAPISpec.load(vendor_spec("github", "api.github.com.subset.json"))
    return OpenAPISpec(admit_null(copy.deepcopy(loaded.document)))


def admit_null(node: Any) -> Any:
    """Add null to every `nullable: true` enum.

    OAS 3.0.3 says a nullable enum admits null only when null is listed; GitHub's description
    marks fields like `dismissed_reason` nullable without listing it, and the real API sends null
    there (the real code-scanning exports in vendor-specs carry it). Only this is relaxed.
    """
    if isinstance(node, dict):
        if (
            node.get("nullable") is True
            and isinstance(node.get("enum"), list)
            and None not in node["enum"]
        ):
            node["enum"] = [*node["enum"], None]
        for value in node.values():
            admit_null(value)
    elif isinstance(node, list):
        for value in node:
            admit_null(value)
    return node


def get(client: TestClient, url: str, **params: Any) -> object:
    response = client.get(url, headers=AUTH, params=params)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return response.json()


def test_requests_without_a_valid_token_get_401(client: TestClient) -> None:
    assert client.get(f"/repos/{CHECKOUT}/pulls").status_code == 401
    bad = client.get(f"/repos/{CHECKOUT}/pulls", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    classic = client.get(
        f"/repos/{CHECKOUT}/pulls", headers={"Authorization": f"token {DEMO_TOKEN}"}
    )
    assert classic.status_code == 200


def test_every_response_carries_rate_limit_headers(client: TestClient) -> None:
    response = client.get("/orgs/acme/repos", headers=AUTH)
    for header in ("limit", "remaining", "reset", "used", "resource"):
        assert f"x-ratelimit-{header}" in response.headers
    assert int(response.headers["x-ratelimit-remaining"]) == 5000 - int(
        response.headers["x-ratelimit-used"]
    )
    assert int(response.headers["x-ratelimit-reset"]) > time.time()


def test_link_header_pages_like_github(client: TestClient) -> None:
    first = client.get(
        f"/repos/{CHECKOUT}/pulls", headers=AUTH, params={"state": "all", "per_page": 5}
    )
    links = first.links
    assert set(links) == {"next", "last"}
    assert "page=2" in links["next"]["url"] and "per_page=5" in links["next"]["url"]
    assert "page=3" in links["last"]["url"] and "state=all" in links["last"]["url"]
    last = client.get(links["last"]["url"], headers=AUTH)
    assert len(last.json()) == 2 and set(last.links) == {"prev", "first"}
    capped = client.get(
        f"/repos/{CHECKOUT}/pulls", headers=AUTH, params={"per_page": 500, "state": "all"}
    )
    assert len(capped.json()) == 12 and "next" not in capped.links


def test_pulls_sort_by_updated_and_filter_state(client: TestClient) -> None:
    desc = get(client, f"/repos/{CHECKOUT}/pulls", state="all", sort="updated", direction="desc")
    assert isinstance(desc, list)
    stamps = [p["updated_at"] for p in desc]
    assert stamps == sorted(stamps, reverse=True)
    open_only = get(client, f"/repos/{CHECKOUT}/pulls")
    assert isinstance(open_only, list) and {p["state"] for p in open_only} == {"open"}


def test_dependabot_pages_with_the_after_cursor(client: TestClient) -> None:
    first = client.get("/orgs/acme/dependabot/alerts", headers=AUTH, params={"per_page": 2})
    assert len(first.json()) == 2 and "after=" in first.links["next"]["url"]
    rest = client.get(first.links["next"]["url"], headers=AUTH)
    assert len(rest.json()) == 1 and "next" not in rest.links


def test_members_filters_owners_and_two_factor(client: TestClient) -> None:
    admins = get(client, "/orgs/acme/members", role="admin")
    no_2fa = get(client, "/orgs/acme/members", filter="2fa_disabled")
    assert isinstance(admins, list) and isinstance(no_2fa, list)
    assert [m["login"] for m in admins] == ["alice", "bob"]
    assert [m["login"] for m in no_2fa] == ["bob", "dave-contractor"]
    membership = get(client, "/orgs/acme/memberships/bob")
    assert isinstance(membership, dict) and membership["role"] == "admin"


def test_branch_protection_404_when_unprotected(client: TestClient) -> None:
    protected = get(client, f"/repos/{CHECKOUT}/branches/main/protection")
    assert isinstance(protected, dict)
    assert protected["required_pull_request_reviews"]["required_approving_review_count"] == 2
    response = client.get(f"/repos/{PAYMENTS}/branches/main/protection", headers=AUTH)
    assert response.status_code == 404 and response.json()["message"] == "Branch not protected"


def test_compare_lists_the_commits_between_two_shas(client: TestClient) -> None:
    base, head = sha(CHECKOUT, 3, "merge"), sha(CHECKOUT, 7, "merge")
    body = get(client, f"/repos/{CHECKOUT}/compare/{base}...{head}")
    assert isinstance(body, dict) and body["status"] == "ahead"
    assert body["commits"][-1]["sha"] == head and base not in [c["sha"] for c in body["commits"]]
    assert body["ahead_by"] == len(body["commits"])


def test_sbom_is_spdx_with_purls(client: TestClient) -> None:
    body = get(client, f"/repos/{CHECKOUT}/dependency-graph/sbom")
    assert isinstance(body, dict)
    doc = body["sbom"]
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"
    purls = {ref["referenceLocator"] for p in doc["packages"] for ref in p["externalRefs"]}
    assert "pkg:npm/lodash@4.17.15" in purls and "pkg:pypi/requests@2.31.0" in purls
    assert "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1" in purls


def first_id(client: TestClient, url: str) -> int:
    items = get(client, url)
    assert isinstance(items, list) and items
    return int(items[0]["id"])


def test_every_served_endpoint_validates_against_the_official_description(
    client: TestClient, spec: OpenAPISpec
) -> None:
    deployment_id = first_id(client, f"/repos/{CHECKOUT}/deployments")
    workflows = get(client, f"/repos/{PAYMENTS}/actions/workflows")
    assert isinstance(workflows, dict)
    workflow_id = workflows["workflows"][0]["id"]
    cases = [
        ("/rate_limit", "/rate_limit", {}),
        ("/repos/{owner}/{repo}/pulls", f"/repos/{CHECKOUT}/pulls", {"state": "all"}),
        ("/repos/{owner}/{repo}/pulls/{pull_number}", f"/repos/{CHECKOUT}/pulls/1", {}),
        ("/repos/{owner}/{repo}/pulls/{pull_number}", f"/repos/{CHECKOUT}/pulls/8", {}),
        (
            "/repos/{owner}/{repo}/pulls/{pull_number}/commits",
            f"/repos/{CHECKOUT}/pulls/1/commits",
            {},
        ),
        (
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            f"/repos/{CHECKOUT}/pulls/1/reviews",
            {},
        ),
        ("/repos/{owner}/{repo}/commits", f"/repos/{CHECKOUT}/commits", {}),
        ("/repos/{owner}/{repo}/deployments", f"/repos/{CHECKOUT}/deployments", {}),
        (
            "/repos/{owner}/{repo}/deployments/{deployment_id}",
            f"/repos/{CHECKOUT}/deployments/{deployment_id}",
            {},
        ),
        (
            "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
            f"/repos/{CHECKOUT}/deployments/{deployment_id}/statuses",
            {},
        ),
        ("/repos/{owner}/{repo}/actions/workflows", f"/repos/{PAYMENTS}/actions/workflows", {}),
        ("/repos/{owner}/{repo}/actions/runs", f"/repos/{PAYMENTS}/actions/runs", {}),
        (
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
            f"/repos/{PAYMENTS}/actions/workflows/{workflow_id}/runs",
            {},
        ),
        ("/orgs/{org}/dependabot/alerts", "/orgs/acme/dependabot/alerts", {}),
        ("/repos/{owner}/{repo}/dependabot/alerts", f"/repos/{CHECKOUT}/dependabot/alerts", {}),
        ("/orgs/{org}/code-scanning/alerts", "/orgs/acme/code-scanning/alerts", {}),
        (
            "/repos/{owner}/{repo}/code-scanning/alerts",
            f"/repos/{CHECKOUT}/code-scanning/alerts",
            {},
        ),
    ]
    for template, url, params in cases:
        body = get(client, url, **params)
        assert body, url
        spec.validate(template, "get", 200, body)


def test_large_world_is_indexed_once_and_served_fast() -> None:
    repos = [
        {
            "source_id": str(5000 + i),
            "provider": "github",
            "full_name": f"acme/svc-{i}",
            "default_branch": "main",
            "branch_protected": True,
        }
        for i in range(300)
    ]
    prs = [
        {
            "source_id": f"PR_{i}_{n}",
            "repo": f"acme/svc-{i}",
            "number": n,
            "state": "merged",
            "author": "alice",
            "created_at": at(n),
            "updated_at": at(n + 1),
            "merged_at": at(n + 1),
            "closed_at": at(n + 1),
        }
        for i in range(300)
        for n in range(1, 41)
    ]
    world = World.from_rows({"repository": repos, "pull_request": prs})
    started = time.perf_counter()
    with TestClient(make_app(world)) as test_client:
        built = time.perf_counter() - started
        page = test_client.get(
            "/repos/acme/svc-299/pulls", headers=AUTH, params={"state": "all", "per_page": 100}
        )
        assert page.status_code == 200 and len(page.json()) == 40
        served_in = time.perf_counter() - started - built
    assert built < 5.0 and served_in < 2.0
    assert timedelta(0) <= timedelta(seconds=served_in)


# ---------------------------------------------------------------------- GraphQL (POST /graphql)

PR_QUERY = """
query One($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt used limit nodeCount }
  repository(owner: $owner, name: $name) {
    nameWithOwner
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id number title url state isDraft createdAt updatedAt mergedAt closedAt
        additions deletions changedFiles baseRefName
        mergeCommit { oid }
        author { __typename login }
        commits(first: 100) { totalCount nodes { commit { oid authoredDate committedDate author { user { login } } } } }
        reviews(first: 100) { totalCount nodes { id state submittedAt author { login } } }
      }
    }
  }
}
"""


def graphql(client: TestClient, query: str, **variables: object) -> dict[str, Any]:
    response = client.post("/graphql", headers=AUTH, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text[:200]
    body = response.json()
    assert isinstance(body, dict)
    return body


def test_graphql_requires_a_token_and_counts_points() -> None:
    with TestClient(make_app(build_world())) as fresh:
        refused = fresh.post("/graphql", json={"query": "{ rateLimit { cost } }"})
        assert refused.status_code == 401 and refused.json()["message"] == "Bad credentials"
        response = fresh.post(
            "/graphql",
            headers=AUTH,
            json={
                "query": PR_QUERY,
                "variables": {"owner": "acme", "name": "checkout-service", "first": 50},
            },
        )
        assert response.headers["x-ratelimit-resource"] == "graphql"
        assert response.headers["x-ratelimit-used"] == "1"
        assert response.headers["x-ratelimit-remaining"] == "4999"
        assert int(response.headers["x-ratelimit-reset"]) > time.time()
        rate = response.json()["data"]["rateLimit"]
        # 50 PRs + 50 x 100 commits + 50 x 100 reviews; 101 connection requests round to 1 point
        assert (rate["cost"], rate["nodeCount"], rate["remaining"]) == (1, 10_050, 4999)
        rest = fresh.get("/rate_limit", headers=AUTH)
        assert rest.headers["x-ratelimit-resource"] == "core"


def test_graphql_serves_the_same_pull_requests_as_rest(client: TestClient) -> None:
    body = graphql(client, PR_QUERY, owner="acme", name="checkout-service", first=100)
    connection = body["data"]["repository"]["pullRequests"]
    nodes = connection["nodes"]
    assert connection["totalCount"] == len(nodes) == 12
    assert [n["updatedAt"] for n in nodes] == sorted((n["updatedAt"] for n in nodes), reverse=True)
    for node in nodes:
        number = node["number"]
        rest = get(client, f"/repos/{CHECKOUT}/pulls/{number}")
        assert isinstance(rest, dict)
        state = "OPEN" if rest["state"] == "open" else ("MERGED" if rest["merged"] else "CLOSED")
        assert (
            node["id"], node["title"], node["url"], node["state"], node["isDraft"],
            node["createdAt"], node["updatedAt"], node["mergedAt"], node["closedAt"],
            node["additions"], node["deletions"], node["changedFiles"], node["baseRefName"],
            (node["mergeCommit"] or {}).get("oid"), node["author"]["login"],
        ) == (
            rest["node_id"], rest["title"], rest["html_url"], state, rest["draft"],
            rest["created_at"], rest["updated_at"], rest["merged_at"], rest["closed_at"],
            rest["additions"], rest["deletions"], rest["changed_files"], rest["base"]["ref"],
            rest["merge_commit_sha"], rest["user"]["login"],
        )  # fmt: skip
        assert node["author"]["__typename"] == "User"
        commits = get(client, f"/repos/{CHECKOUT}/pulls/{number}/commits")
        reviews = get(client, f"/repos/{CHECKOUT}/pulls/{number}/reviews")
        assert isinstance(commits, list) and isinstance(reviews, list)
        assert [
            (
                c["commit"]["oid"],
                c["commit"]["authoredDate"],
                c["commit"]["author"]["user"]["login"],
            )
            for c in node["commits"]["nodes"]
        ] == [(c["sha"], c["commit"]["author"]["date"], c["author"]["login"]) for c in commits]
        assert [
            (r["id"], r["state"], r["submittedAt"], r["author"]["login"])
            for r in node["reviews"]["nodes"]
        ] == [
            (r["node_id"], r["state"], r.get("submitted_at"), r["user"]["login"]) for r in reviews
        ]


def test_graphql_cursors_page_through_every_pull_request_once(client: TestClient) -> None:
    seen: list[int] = []
    after = None
    while True:
        body = graphql(
            client, PR_QUERY, owner="acme", name="checkout-service", first=5, after=after
        )
        page = body["data"]["repository"]["pullRequests"]
        seen.extend(n["number"] for n in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == list(range(1, 13)) and len(seen) == 12


def test_graphql_errors_use_githubs_envelope(client: TestClient) -> None:
    unknown = graphql(client, 'query { repository(owner: "acme", name: "x") { nope } }')
    assert "data" not in unknown
    assert unknown["errors"][0]["message"] == "Field 'nope' doesn't exist on type 'Repository'"
    assert unknown["errors"][0]["extensions"] == {
        "code": "undefinedField",
        "typeName": "Repository",
        "fieldName": "nope",
    }
    missing = graphql(client, 'query { repository(owner: "acme", name: "nope") { name } }')
    assert missing["data"] == {"repository": None}
    assert missing["errors"][0]["type"] == "NOT_FOUND" and missing["errors"][0]["path"] == [
        "repository"
    ]
    assert (
        "Could not resolve to a Repository with the name 'acme/nope'."
        in missing["errors"][0]["message"]
    )
    unbounded = graphql(
        client,
        'query { repository(owner: "acme", name: "checkout-service") { pullRequests { totalCount } } }',
    )
    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    too_many = graphql(client, PR_QUERY, owner="acme", name="checkout-service", first=101)
    assert too_many["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    assert "exceeds the `first` limit of 100 records" in too_many["errors"][0]["message"]
    huge = graphql(
        client,
        """query { repository(owner: "acme", name: "checkout-service") {
          pullRequests(first: 100) { nodes { commits(first: 100) { nodes { pullRequest {
            reviews(first: 100) { totalCount } } } } } } } }""",
    )
    assert huge["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    syntax = graphql(client, "query { repository(")
    assert "data" not in syntax and syntax["errors"][0]["locations"]
    no_query = client.post("/graphql", headers=AUTH, json={"variables": {}})
    assert (
        no_query.status_code == 200 and "query attribute" in no_query.json()["errors"][0]["message"]
    )
    not_json = client.post("/graphql", headers=AUTH, content=b"{oops")
    assert not_json.status_code == 400


def test_graphql_rate_limit_exhausted_answers_200_with_rate_limited() -> None:
    app = make_app(build_world())
    app.state.github_graphql.points_used = 5000
    with TestClient(app) as fresh:
        response = fresh.post("/graphql", headers=AUTH, json={"query": "{ rateLimit { cost } }"})
    assert response.status_code == 200
    assert response.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert response.headers["x-ratelimit-remaining"] == "0"
