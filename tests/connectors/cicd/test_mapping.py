"""Pure CI/CD mapping rules: environments, PR numbers from merge messages, git remotes."""

from __future__ import annotations

from typing import Any

import pytest

from cto_assistant.connectors.cicd.mapping import (
    DeployRules,
    change_rows,
    circleci_commit,
    jenkins_deployment,
    pr_number_from_message,
    repo_from_remote,
)
from cto_assistant.errors import SchemaDriftError


def deploy_api(build: dict[str, Any]) -> dict[str, Any]:
    """The deploy-api job's deployment row (DEPLOY_ENV / ROLLBACK parameters)."""
    return jenkins_deployment(
        build,
        source="jenkins",
        job="deploy-api",
        service="api",
        repo=None,
        environment_parameter="DEPLOY_ENV",
        rollback_parameter="ROLLBACK",
        rules=DeployRules(),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Production", "production"),
        ("prod", "production"),
        ("stage", "staging"),
        ("review/feature-x", "review/feature-x"),
        ("", None),
        (None, None),
    ],
)
def test_environment_names_are_normalised(raw: str | None, expected: str | None) -> None:
    assert DeployRules().environment(raw) == expected


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("Merge branch 'x' into 'main'\n\nSee merge request acme/checkout!42", 42),
        ("Merge pull request #7 from acme/feature", 7),
        ("Fix login redirect (#123)", 123),
        ("Fix login redirect", None),
        (None, None),
    ],
)
def test_pr_number_comes_from_the_merge_message(message: str | None, number: int | None) -> None:
    assert pr_number_from_message(message) == number


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/checkout-service.git", "acme/checkout-service"),
        ("git@github.com:acme/payments.git", "acme/payments"),
        ("https://gitlab.example.com/acme/web/", "acme/web"),
        (None, None),
    ],
)
def test_repo_from_git_remote(url: str | None, repo: str | None) -> None:
    assert repo_from_remote(url) == repo


def test_change_rows_are_keyed_per_deployment_and_sha_once() -> None:
    rows = change_rows("d1", "acme/x", [("a", "Merge pull request #3 from y"), ("a", None)])
    assert rows == [
        {
            "source_id": "d1:a",
            "deployment_source_id": "d1",
            "repo": "acme/x",
            "sha": "a",
            "pr_number": 3,
        }
    ]


def test_jenkins_build_status_and_timing() -> None:
    build = {
        "number": 9,
        "result": "UNSTABLE",
        "timestamp": 1_767_600_000_000,
        "duration": 90_000,
        "url": "u",
        "actions": [{"parameters": [{"name": "DEPLOY_ENV", "value": "prod"}]}],
    }
    row = deploy_api(build)
    assert (row["status"], row["environment"], row["source_id"]) == (
        "failure",
        "production",
        "deploy-api#9",
    )
    assert (row["finished_at"] - row["started_at"]).total_seconds() == 90
    running = deploy_api({**build, "result": None})
    assert (running["status"], running["finished_at"]) == ("in_progress", None)
    with pytest.raises(SchemaDriftError, match="timestamp"):
        jenkins_deployment(
            {"number": 1},
            source="jenkins",
            job="j",
            service="s",
            repo=None,
            environment_parameter="E",
            rollback_parameter="R",
            rules=DeployRules(),
        )


def test_malformed_jenkins_and_circleci_payloads_are_schema_drift() -> None:
    build = {
        "number": 3,
        "timestamp": 1_767_600_000_000,
        "result": "SUCCESS",
        "actions": [None, {"lastBuiltRevision": {"SHA1": "abc", "branch": "main"}}],
    }
    with pytest.raises(SchemaDriftError, match="'lastBuiltRevision.branch' is a string") as caught:
        deploy_api(build)
    assert caught.value.source == "jenkins"
    with pytest.raises(SchemaDriftError, match="CircleCI pipeline: 'vcs' is a list"):
        circleci_commit({"vcs": ["abc"]}, source="circleci")
    with pytest.raises(SchemaDriftError, match="commit: 'message' is a number"):
        pr_number_from_message(12)  # type: ignore[arg-type]
    with pytest.raises(SchemaDriftError, match="git remote: 'url' is an object"):
        repo_from_remote({"href": "x"})  # type: ignore[arg-type]
    with pytest.raises(SchemaDriftError, match="'commits.0' is not a \\(sha, message\\) pair"):
        change_rows("d1", "acme/x", [("a",)])  # type: ignore[list-item]
