"""Peer oracle: Apache DevLake's incident → deployment linking, through our `link_incidents`.

Source: github.com/apache/incubator-devlake, backend/plugins/dora/e2e/
connect_incident_to_deployment/{raw_tables/incidents.csv,
snapshot_tables/project_incident_deployment_relationships.csv} with the deployments of
prev_success_deployment_commit/cicd_deployment_commits_after.csv and the project mapping of
raw_tables/project_mapping.csv (test: connect_incident_to_deploy_test.go). The rows are
re-expressed in our layout in `devlake_incident_links.py`; here they run through our linker and
must give DevLake's expected relationships exactly.
"""

from __future__ import annotations

from datetime import timedelta

from cto_assistant.analytics.dora import dora_report, link_incidents
from tests.analytics.oracles import devlake_incident_links as fixture


def _pipeline(deployment_id: str | None) -> str | None:
    return deployment_id.split("/")[0] if deployment_id else None


def test_devlake_incident_links_match_the_published_snapshot() -> None:
    links = link_incidents(fixture.deployments(), fixture.incidents(), link_window=None)
    project1 = {
        link.incident: _pipeline(link.deployment)
        for link in links
        if link.service == "project1" and link.deployment is not None
    }
    assert project1 == fixture.EXPECTED_PIPELINE


def test_incident_outside_any_project_is_not_linked() -> None:
    links = {
        link.incident: link
        for link in link_incidents(fixture.deployments(), fixture.incidents(), link_window=None)
    }
    orphan = links["github:GithubIssue:1:1373792477"]  # scope repo3: in no project
    assert orphan.deployment is None and orphan.method == "unlinked"


def test_our_default_window_is_stricter_than_devlake() -> None:
    """With our 24-hour default, November incidents no longer blame a September deployment."""
    links = link_incidents(
        fixture.deployments(), fixture.incidents(), link_window=timedelta(hours=24)
    )
    linked = {link.incident: _pipeline(link.deployment) for link in links if link.deployment}
    # the 15 Sept incident is 3 h after pipeline2's last deploy: still linked
    assert linked == {"github:GithubIssue:1:1373792478": "pipeline2"}


def test_failed_and_staging_deploys_never_take_the_blame() -> None:
    links = link_incidents(fixture.deployments(), fixture.incidents(), link_window=None)
    blamed = {link.deployment for link in links if link.deployment}
    assert not blamed & {"pipeline7/11", "pipeline5/7", "pipeline5/8", "pipeline10/16"}


def test_the_oracle_through_the_full_report() -> None:
    """pipeline7's last deploy carries the five November incidents: one failure, five signals."""
    deploys = [d for d in fixture.deployments() if d.service == "project1"]
    incidents = [i for i in fixture.incidents() if i.service == "project1"]
    start = min(d.finished_at for d in deploys if d.finished_at) - timedelta(days=1)  # type: ignore[type-var]
    report = dora_report(
        scope="project1",
        deployments=deploys,
        changes=[],
        incidents=incidents,
        window_start=start,
        window_end=start + timedelta(days=90),
        link_window=None,
    )
    failures = {f.deployment: len(f.detected_by) for f in report.failures}
    assert failures == {"pipeline7/13": 5, "pipeline2/4": 1}
    assert report.deployments == 10  # production successes of cicd1 + cicd2
