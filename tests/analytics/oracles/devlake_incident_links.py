"""Apache DevLake's incident → deployment e2e fixture, re-expressed as our rows.

Source (Apache License 2.0): github.com/apache/incubator-devlake,
  backend/plugins/dora/e2e/prev_success_deployment_commit/cicd_deployment_commits_after.csv
  backend/plugins/dora/e2e/raw_tables/project_mapping.csv
  backend/plugins/dora/e2e/connect_incident_to_deployment/raw_tables/incidents.csv
  backend/plugins/dora/e2e/connect_incident_to_deployment/snapshot_tables/
      project_incident_deployment_relationships.csv   (the expected output)
  exercised by backend/plugins/dora/e2e/connect_incident_to_deploy_test.go.

How it maps onto our model:
- DevLake's "project" groups CI/CD scopes and repos/boards; it plays our *service*. Its
  mapping puts scopes cicd1, cicd2, repos repo1, repo2 and board board1 in `project1`, and
  cicd3 / board3 in `project2`; repo3 is in no project (our incident without a service).
- Each DevLake deployment commit (one repo deployed by one pipeline) becomes one of our
  deployment rows: source id "<pipeline>/<row id>", service = the project of its CI/CD scope,
  environment, status and finish time as given.
- Each DevLake incident becomes our incident on the service of its scope's project.
- Expected: the pipeline of the deployment each incident is tied to (incidents outside
  project1 are not in the expected table: the fixture runs for project1 only).
DevLake links with no distance limit, so the oracle runs with `link_window=None`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cto_assistant.analytics.dora import DeploymentIn, IncidentIn

SCOPE_PROJECT = {
    "cicd1": "project1",
    "cicd2": "project1",
    "cicd3": "project2",
    "repo1": "project1",
    "repo2": "project1",
    "board1": "project1",
    "board2": "project1",
    "board3": "project2",
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (row id, pipeline, cicd scope, environment, result, finished) — one per DevLake deployment commit
_DEPLOYMENT_COMMITS = [
    ("1", "pipeline1", "cicd1", "PRODUCTION", "SUCCESS", "2022-09-10 22:51:47"),
    ("2", "pipeline1", "cicd1", "PRODUCTION", "SUCCESS", "2022-09-11 22:51:47"),
    ("3", "pipeline2", "cicd2", "PRODUCTION", "SUCCESS", "2022-09-13 22:51:47"),
    ("4", "pipeline2", "cicd2", "PRODUCTION", "SUCCESS", "2022-09-14 22:51:47"),
    ("5", "pipeline4", "cicd1", "PRODUCTION", "SUCCESS", "2022-09-15 22:51:47"),
    ("6", "pipeline4", "cicd1", "PRODUCTION", "SUCCESS", "2022-09-16 22:51:47"),
    ("7", "pipeline5", "cicd1", "STAGING", "SUCCESS", "2022-09-17 22:51:47"),
    ("8", "pipeline5", "cicd1", "STAGING", "SUCCESS", "2022-09-18 22:51:47"),
    ("9", "pipeline6", "cicd1", "PRODUCTION", "SUCCESS", "2022-09-19 22:51:47"),
    ("10", "pipeline6", "cicd1", "PRODUCTION", "SUCCESS", "2022-09-20 22:51:47"),
    ("11", "pipeline7", "cicd2", "PRODUCTION", "FAILURE", "2022-09-21 22:51:47"),
    ("12", "pipeline7", "cicd2", "PRODUCTION", "SUCCESS", "2022-09-22 22:51:47"),
    ("13", "pipeline7", "cicd2", "PRODUCTION", "SUCCESS", "2022-09-23 22:51:47"),
    ("14", "pipeline8", "cicd3", "PRODUCTION", "FAILURE", "2022-09-19 22:51:47"),
    ("15", "pipeline9", "cicd3", "PRODUCTION", "SUCCESS", "2022-09-13 22:51:47"),
    ("16", "pipeline10", "cicd3", None, "SUCCESS", "2022-09-14 22:51:47"),
]

# (incident id, created, scope) — DevLake incidents
_INCIDENTS = [
    ("github:GithubIssue:1:1367714738", "2022-11-13 23:37:21", "repo1"),
    ("github:GithubIssue:1:1370816458", "2022-11-13 01:07:21", "repo1"),
    ("github:GithubIssue:1:1371320153", "2022-11-02 08:21:09", "repo1"),
    ("github:GithubIssue:1:1372381019", "2022-11-28 01:46:47", "repo2"),
    ("github:GithubIssue:1:1372644519", "2022-11-16 21:34:01", "repo2"),
    ("github:GithubIssue:1:1373792477", "2022-09-15 01:56:06", "repo3"),
    ("github:GithubIssue:1:1373792478", "2022-09-15 01:56:16", "board1"),
]

# the expected relationships for project1: incident id → pipeline
EXPECTED_PIPELINE = {
    "github:GithubIssue:1:1367714738": "pipeline7",
    "github:GithubIssue:1:1370816458": "pipeline7",
    "github:GithubIssue:1:1371320153": "pipeline7",
    "github:GithubIssue:1:1372381019": "pipeline7",
    "github:GithubIssue:1:1372644519": "pipeline7",
    "github:GithubIssue:1:1373792478": "pipeline2",
}


def deployments() -> list[DeploymentIn]:
    """DevLake's deployment commits as our deployment rows."""
    return [
        DeploymentIn(
            id=f"{pipeline}/{row}",
            service=SCOPE_PROJECT[scope],
            environment=env.lower() if env else None,
            status=result.lower(),
            finished_at=_at(finished),
        )
        for row, pipeline, scope, env, result, finished in _DEPLOYMENT_COMMITS
    ]


def incidents() -> list[IncidentIn]:
    """DevLake's incidents as our incident rows (no explicit cause: linking is inferred)."""
    return [
        IncidentIn(key=key, service=SCOPE_PROJECT.get(scope), triggered_at=_at(created))
        for key, created, scope in _INCIDENTS
    ]
