"""Lead times computed once for a company and its groups equal those computed group by group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cto_assistant.analytics.dora import (
    ChangeIn,
    DeploymentIn,
    IncidentIn,
    change_lead_times,
    dora_report,
    grouped_lead_times,
    lead_times,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
SERVICES = ("api", "web", "worker")
GROUP = {"api": "A", "web": "A", "worker": "B"}  # two teams, one with two services


def deployments(finishes: list[int]) -> list[DeploymentIn]:
    return [
        DeploymentIn(
            id=f"d{n}",
            service=SERVICES[n % 3],
            environment="staging" if n % 7 == 6 else "production",
            status="success",
            finished_at=T0 - hours * H,
        )
        for n, hours in enumerate(finishes)
    ]


change_rows = st.tuples(
    st.integers(0, 11),  # deployment index (modulo the deployments drawn)
    st.sampled_from(["acme/a", "acme/b"]),
    st.one_of(st.none(), st.integers(1, 4)),  # PR number, or a lone commit
    st.sampled_from(["s1", "s2", "s3"]),
    st.one_of(st.none(), st.integers(1, 400)),  # first commit, hours before T0
    st.one_of(st.none(), st.integers(1, 400)),  # the PR's first commit
    st.booleans(),  # squash only
)


def changes(rows: list[tuple], deploys: list[DeploymentIn]) -> list[ChangeIn]:  # type: ignore[type-arg]
    return [
        ChangeIn(
            deployment_id=deploys[index % len(deploys)].id,
            repo=repo,
            pr_number=pr,
            sha=sha,
            first_commit_at=None if first is None else T0 - first * H,
            pr_first_commit_at=None if pr_first is None else T0 - pr_first * H,
            pr_created_at=T0 - 300 * H,
            first_review_at=T0 - 250 * H,
            merged_at=T0 - 200 * H,
            squash_only=squash and pr is not None,
        )
        for index, repo, pr, sha, first, pr_first, squash in rows
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 200), min_size=1, max_size=12),
    st.lists(change_rows, max_size=40),
)
def test_grouped_lead_times_equal_each_group_on_its_own(
    finishes: list[int],
    rows: list[tuple],  # type: ignore[type-arg]
) -> None:
    deploys = deployments(finishes)
    carried = changes(rows, deploys)
    group_of = {d.id: GROUP[d.service or ""] for d in deploys}
    overall, groups = grouped_lead_times(deploys, carried, group_of)
    assert overall == lead_times(deploys, carried)
    for name in ("A", "B"):
        mine = [d for d in deploys if group_of[d.id] == name]
        ids = {d.id for d in mine}
        alone = lead_times(mine, [c for c in carried if c.deployment_id in ids])
        assert groups.get(name, []) == alone
    assert [lead.model() for lead in overall] == change_lead_times(deploys, carried)


def test_a_change_two_teams_deployed_starts_from_each_teams_own_first_deploy() -> None:
    deploys = deployments([100, 50])  # d0 finished 100 h ago, d1 50 h ago

    def pr_seven(deployment: str, first_commit_hours: int) -> ChangeIn:
        return ChangeIn(deployment, "acme/a", 7, "s", T0 - first_commit_hours * H)

    carried = [pr_seven("d1", 120), pr_seven("d0", 110)]
    overall, groups = grouped_lead_times(deploys, carried, {"d0": "A", "d1": "B"})
    # company: first deploy d0 (100 h ago), earliest commit of all its deploys (120 h ago)
    assert [(lead.deployment, lead.lead_seconds) for lead in overall] == [("d0", 20 * 3600)]
    assert [(lead.deployment, lead.lead_seconds) for lead in groups["A"]] == [("d0", 10 * 3600)]
    assert [(lead.deployment, lead.lead_seconds) for lead in groups["B"]] == [("d1", 70 * 3600)]


def test_a_report_given_its_lead_times_equals_one_that_computes_them() -> None:
    deploys = deployments(list(range(5, 800, 37)))
    carried = changes(
        [(n, "acme/a", n % 5 or None, f"s{n}", n * 3, None, n % 4 == 0) for n in range(30)],
        deploys,
    )
    incidents = [IncidentIn(key="INC-1", service="api", triggered_at=T0 - 40 * H)]
    window = {"window_start": T0 - 20 * 24 * H, "window_end": T0}
    plain = dora_report(
        scope="x", deployments=deploys, changes=carried, incidents=incidents, **window
    )
    given_leads = dora_report(
        scope="x",
        deployments=deploys,
        changes=[],
        incidents=incidents,
        leads=lead_times(deploys, carried),
        **window,
    )
    assert given_leads == plain
