"""A tiny hand-built world for the GitHub simulator and connector tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cto_assistant.demo.world import Row, World

ORG = "acme"
CHECKOUT = "acme/checkout-service"
PAYMENTS = "acme/payments-api"
ARCHIVED = "acme/old-lib"
T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """T0 plus `hours`."""
    return T0 + timedelta(hours=hours)


def sha(*parts: object) -> str:
    """A deterministic 40-hex sha."""
    import hashlib

    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()  # noqa: S324


def build_world(pr_count: int = 12) -> World:
    """Repos, people, PRs with reviews and commits, deployments, alerts, SBOM deps, members."""
    repos: list[Row] = [
        {
            "source_id": "1001",
            "provider": "github",
            "full_name": CHECKOUT,
            "default_branch": "main",
            "service": "checkout-service",
            "team_key": "CHK",
            "branch_protected": True,
            "required_reviews": 2,
            "language": "Python",
            "archived": False,
            "url": f"https://github.com/{CHECKOUT}",
        },
        {
            "source_id": "1002",
            "provider": "github",
            "full_name": PAYMENTS,
            "default_branch": "main",
            "service": "payments-api",
            "team_key": "PAY",
            "branch_protected": False,
            "required_reviews": None,
            "language": "Go",
            "archived": False,
            "url": f"https://github.com/{PAYMENTS}",
        },
        {
            "source_id": "1003",
            "provider": "github",
            "full_name": ARCHIVED,
            "default_branch": "master",
            "service": None,
            "team_key": "PLAT",
            "branch_protected": True,
            "required_reviews": None,
            "language": None,
            "archived": True,
            "url": f"https://github.com/{ARCHIVED}",
        },
    ]
    people: list[Row] = [
        {
            "source_id": "p-alice",
            "name": "Alice Admin",
            "email": "alice@acme.cloud",
            "github_login": "alice",
        },
        {
            "source_id": "p-bob",
            "name": "Bob Builder",
            "email": "bob@acme.cloud",
            "github_login": "bob",
        },
        {
            "source_id": "p-carol",
            "name": "Carol Coder",
            "email": "carol@acme.cloud",
            "github_login": "carol",
        },
    ]
    authors = ["alice", "bob", "carol"]
    prs: list[Row] = []
    reviews: list[Row] = []
    commits: list[Row] = []
    merges: dict[str, list[str]] = {CHECKOUT: [], PAYMENTS: []}
    for repo, count, offset in ((CHECKOUT, pr_count, 0), (PAYMENTS, 3, 1000)):
        for n in range(1, count + 1):
            hour = n * 24 + offset / 100
            author = authors[n % 3]
            reviewer = authors[(n + 1) % 3]
            state = "merged" if n % 4 else ("open" if n % 8 else "closed")
            merged = at(hour + 20) if state == "merged" else None
            closed = merged if state == "merged" else (at(hour + 30) if state == "closed" else None)
            merge_sha = sha(repo, n, "merge") if merged else None
            first_review = at(hour + 5)
            approved = at(hour + 8)
            pr: Row = {
                "source_id": f"PR_{repo.split('/')[1]}_{n}",
                "repo": repo,
                "number": n,
                "title": f"Change {n}",
                "author": author,
                "state": state,
                "created_at": at(hour),
                "updated_at": closed or at(hour + 10),
                "first_commit_at": at(hour - 3),
                "first_review_at": first_review,
                "approved_at": approved,
                "merged_at": merged,
                "closed_at": closed,
                "merge_commit_sha": merge_sha,
                "base_branch": "main",
                "additions": 10 * n,
                "deletions": n,
                "changed_files": 1 + n % 5,
                "draft": False,
                "url": f"https://github.com/{repo}/pull/{n}",
            }
            prs.append(pr)
            reviews.append(
                {
                    "source_id": f"PRR_{repo}_{n}_1",
                    "repo": repo,
                    "pr_number": n,
                    "reviewer": reviewer,
                    "state": "COMMENTED",
                    "submitted_at": first_review,
                }
            )
            reviews.append(
                {
                    "source_id": f"PRR_{repo}_{n}_2",
                    "repo": repo,
                    "pr_number": n,
                    "reviewer": reviewer,
                    "state": "APPROVED",
                    "submitted_at": approved,
                }
            )
            for c in range(2):
                commits.append(
                    {
                        "source_id": sha(repo, n, c),
                        "sha": sha(repo, n, c),
                        "repo": repo,
                        "author": author,
                        "authored_at": at(hour - 3 + c),
                        "committed_at": at(hour - 3 + c),
                        "pr_number": n,
                        "message": f"work {n}.{c}",
                    }
                )
            if merged:
                commits.append(
                    {
                        "source_id": merge_sha,
                        "sha": merge_sha,
                        "repo": repo,
                        "author": author,
                        "authored_at": merged,
                        "committed_at": merged,
                        "pr_number": None,
                        "message": f"Merge pull request #{n} from acme/{author}/pr-{n}",
                    }
                )
                merges[repo].append(merge_sha or "")
    deployments: list[Row] = []
    # checkout-service: GitHub Deployments to production (success, failure, success) + staging.
    plan = [
        ("D_chk_1", 2, "production", "success"),
        ("D_chk_2", 5, "production", "failure"),
        ("D_chk_3", 7, "production", "success"),
        ("D_chk_s1", 6, "staging", "success"),
    ]
    for source_id, merge_index, env, status in plan:
        head = merges[CHECKOUT][merge_index]
        started = _commit_time(commits, head) + timedelta(hours=1)
        deployments.append(
            {
                "source_id": source_id,
                "service": "checkout-service",
                "repo": CHECKOUT,
                "environment": env,
                "sha": head,
                "ref": "main",
                "started_at": started,
                "finished_at": started + timedelta(minutes=12),
                "status": status,
                "tool": "github",
                "url": f"https://deploy.acme.cloud/{source_id}",
            }
        )
    # payments-api: GitHub Actions deploy workflow runs.
    for index, source_id in enumerate(("WFR_pay_1", "WFR_pay_2")):
        head = merges[PAYMENTS][index]
        started = _commit_time(commits, head) + timedelta(hours=1)
        deployments.append(
            {
                "source_id": source_id,
                "service": "payments-api",
                "repo": PAYMENTS,
                "environment": "production",
                "sha": head,
                "ref": "main",
                "started_at": started,
                "finished_at": started + timedelta(minutes=8),
                "status": "success",
                "tool": "github_actions",
                "url": f"https://github.com/{PAYMENTS}/actions/runs/{index}",
            }
        )
    vulns: list[Row] = [
        {
            "source_id": f"{CHECKOUT}/dependabot/1",
            "scanner": "dependabot",
            "external_id": "GHSA-jfh8-c2jp-5v3q",
            "title": "Remote code injection in Log4j",
            "repo": CHECKOUT,
            "service": "checkout-service",
            "environment": None,
            "ecosystem": "maven",
            "package": "org.apache.logging.log4j:log4j-core",
            "version": "< 2.15.0",
            "fixed_version": "2.15.0",
            "severity": "critical",
            "cvss": 10.0,
            "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
            "cve_ids": ["CVE-2021-44228"],
            "cwe_ids": ["CWE-502"],
            "epss": 0.944,
            "fixable": True,
            "first_seen": at(200),
            "fixed_at": None,
            "state": "open",
            "url": f"https://github.com/{CHECKOUT}/security/dependabot/1",
        },
        {
            "source_id": f"{CHECKOUT}/dependabot/2",
            "scanner": "dependabot",
            "external_id": "GHSA-p6mc-m468-83gw",
            "title": "Prototype pollution in lodash",
            "repo": CHECKOUT,
            "service": "checkout-service",
            "environment": None,
            "ecosystem": "npm",
            "package": "lodash",
            "version": "<= 4.17.15",
            "fixed_version": None,
            "severity": "high",
            "cvss": 7.4,
            "cvss_vector": None,
            "cve_ids": ["CVE-2020-8203"],
            "cwe_ids": [],
            "epss": None,
            "fixable": False,
            "first_seen": at(100),
            "fixed_at": None,
            "state": "open",
            "url": f"https://github.com/{CHECKOUT}/security/dependabot/2",
        },
        {
            "source_id": f"{PAYMENTS}/dependabot/1",
            "scanner": "dependabot",
            "external_id": "GHSA-9wx4-h78v-vm56",
            "title": "Requests leaks Proxy-Authorization",
            "repo": PAYMENTS,
            "service": "payments-api",
            "environment": None,
            "ecosystem": "pip",
            "package": "requests",
            "version": "< 2.31.0",
            "fixed_version": "2.31.0",
            "severity": "medium",
            "cvss": 6.1,
            "cvss_vector": None,
            "cve_ids": ["CVE-2023-32681"],
            "cwe_ids": [],
            "epss": 0.01,
            "fixable": True,
            "first_seen": at(50),
            "fixed_at": at(150),
            "state": "fixed",
            "url": f"https://github.com/{PAYMENTS}/security/dependabot/1",
        },
        {
            "source_id": f"{CHECKOUT}/code-scanning/4",
            "scanner": "code_scanning",
            "external_id": "py/sql-injection",
            "title": "SQL query built from user-controlled sources",
            "repo": CHECKOUT,
            "service": "checkout-service",
            "environment": None,
            "package": "src/orders.py",
            "severity": "high",
            "cwe_ids": ["CWE-89"],
            "cve_ids": [],
            "first_seen": at(120),
            "fixed_at": None,
            "state": "open",
            "url": f"https://github.com/{CHECKOUT}/security/code-scanning/4",
        },
    ]
    dependencies: list[Row] = [
        {
            "source_id": f"{CHECKOUT}:npm/lodash@4.17.15",
            "repo": CHECKOUT,
            "ecosystem": "npm",
            "package": "lodash",
            "version": "4.17.15",
            "direct": True,
        },
        {
            "source_id": f"{CHECKOUT}:pip/requests@2.31.0",
            "repo": CHECKOUT,
            "ecosystem": "pip",
            "package": "requests",
            "version": "2.31.0",
            "direct": True,
        },
        {
            "source_id": f"{CHECKOUT}:maven/org.apache.logging.log4j:log4j-core@2.14.1",
            "repo": CHECKOUT,
            "ecosystem": "maven",
            "package": "org.apache.logging.log4j:log4j-core",
            "version": "2.14.1",
            "direct": False,
        },
        {
            "source_id": f"{PAYMENTS}:go/github.com/gin-gonic/gin@1.9.1",
            "repo": PAYMENTS,
            "ecosystem": "go",
            "package": "github.com/gin-gonic/gin",
            "version": "1.9.1",
            "direct": True,
        },
    ]
    grants: list[Row] = [
        _grant("alice", "admin", True, "alice@acme.cloud"),
        _grant("bob", "admin", False, "bob@acme.cloud"),
        _grant("carol", "member", True, "carol@acme.cloud"),
        _grant("dave-contractor", "member", False, None),
    ]
    return World.from_rows(
        {
            "repository": repos,
            "person": people,
            "pull_request": prs,
            "review": reviews,
            "commit": commits,
            "deployment": deployments,
            "vulnerability": vulns,
            "dependency": dependencies,
            "access_grant": grants,
            "deployment_change": expected_changes(commits, deployments),
        },
        today=date(2026, 1, 15),
    )


def _grant(login: str, role: str, mfa: bool, email: str | None) -> Row:
    return {
        "source_id": f"{ORG}:{login}",
        "system": "github",
        "principal": login,
        "principal_type": "user",
        "person_email": email,
        "role": role,
        "privileged": role == "admin",
        "mfa": mfa,
    }


def _commit_time(commits: list[Row], wanted: str) -> datetime:
    return next(c["committed_at"] for c in commits if c["sha"] == wanted)


def expected_changes(commits: list[Row], deployments: list[Row]) -> list[Row]:
    """What each successful deployment shipped: the PRs merged since its env's last success."""
    out: list[Row] = []
    for repo in {d["repo"] for d in deployments}:
        merges = sorted(
            (c for c in commits if c["repo"] == repo and c["pr_number"] is None),
            key=lambda c: (c["committed_at"], c["sha"]),
        )
        index = {c["sha"]: i for i, c in enumerate(merges)}
        last: dict[str, Any] = {}
        ordered = sorted(
            (d for d in deployments if d["repo"] == repo), key=lambda d: d["started_at"]
        )
        for dep in ordered:
            if dep["status"] != "success":
                continue
            base = last.get(dep["environment"])
            if base is not None:
                for merge in merges[index[base] + 1 : index[dep["sha"]] + 1]:
                    number = int(merge["message"].split("#")[1].split()[0])
                    shipped = [c for c in commits if c["repo"] == repo and c["pr_number"] == number]
                    for c in [*shipped, merge]:
                        out.append(
                            {
                                "source_id": f"{dep['source_id']}:{c['sha']}",
                                "deployment_source_id": dep["source_id"],
                                "repo": repo,
                                "sha": c["sha"],
                                "pr_number": number,
                            }
                        )
            last[dep["environment"]] = dep["sha"]
    return out
