"""DORA's five keys: hand-computed windows, linking rules, edge cases and invariants."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cto_assistant.analytics.dora import (
    NO_INCIDENT_SOURCE,
    ChangeIn,
    DeploymentIn,
    IncidentIn,
    change_lead_times,
    dora_report,
    link_incidents,
    percentile,
)
from cto_assistant.analytics.dora_benchmarks import DAY, DORA_2024, HOUR, overall_level

T0 = datetime(2026, 3, 1, tzinfo=UTC)
START = T0 - timedelta(days=30)
H = timedelta(hours=1)
D = timedelta(days=1)


def deploy(
    ident: str,
    at: datetime,
    *,
    service: str = "api",
    env: str | None = "production",
    status: str = "success",
    rollback: bool = False,
    hotfix: bool = False,
) -> DeploymentIn:
    return DeploymentIn(
        id=ident,
        service=service,
        environment=env,
        status=status,
        finished_at=at,
        started_at=at - timedelta(minutes=10),
        is_rollback=rollback,
        is_hotfix=hotfix,
    )


def incident(
    key: str,
    at: datetime,
    *,
    service: str | None = "api",
    resolved: datetime | None = None,
    cause: str | None = None,
) -> IncidentIn:
    return IncidentIn(
        key=key, service=service, triggered_at=at, resolved_at=resolved, caused_by_deployment=cause
    )


def report(deployments, changes=(), incidents=(), **kwargs):  # type: ignore[no-untyped-def]
    return dora_report(
        scope="test",
        deployments=list(deployments),
        changes=list(changes),
        incidents=list(incidents),
        window_start=START,
        window_end=T0,
        **kwargs,
    )


# ---------------------------------------------------------------------- a hand-computed window

D1, D2, D3 = T0 - 10 * D, T0 - 5 * D, T0 - 2 * D
WINDOW_DEPLOYS = [
    deploy("d1", D1),
    deploy("d2", D2),
    deploy("d3", D3),
    deploy("r1", D3 + H, rollback=True),
    deploy("s1", D2, env="staging"),
    deploy("f1", D2, status="failure"),
]
WINDOW_CHANGES = [
    # PR 1: first commit 2 days before d1; opened 1 day in; reviewed 2 h later; merged 4 h later
    ChangeIn(
        deployment_id="d1",
        repo="r",
        pr_number=1,
        sha="a",
        first_commit_at=D1 - 2 * D,
        pr_first_commit_at=D1 - 2 * D,
        pr_created_at=D1 - D,
        first_review_at=D1 - D + 2 * H,
        merged_at=D1 - D + 6 * H,
    ),
    ChangeIn(
        deployment_id="d2",
        repo="r",
        pr_number=2,
        sha="b",
        first_commit_at=D2 - 3 * H,
        pr_created_at=D2 - 2 * H,
        first_review_at=D2 - 90 * timedelta(minutes=1),
        merged_at=D2 - H,
    ),
    ChangeIn(deployment_id="d3", repo="r", pr_number=None, sha="c", first_commit_at=D3 - H),
    ChangeIn(deployment_id="s1", repo="r", pr_number=9, sha="z", first_commit_at=D2 - 9 * D),
]
WINDOW_INCIDENTS = [incident("INC-1", D2 + 2 * H, resolved=D2 + 5 * H)]


def test_hand_computed_window() -> None:
    r = report(WINDOW_DEPLOYS, WINDOW_CHANGES, WINDOW_INCIDENTS)
    # four successful production deploys (staging and the failed run do not count)
    assert r.deployments == 4
    assert r.deployment_frequency.value == pytest.approx(4 / (30 / 7), abs=1e-3)
    assert r.deployment_frequency.level == "medium"
    # lead times 48 h, 3 h, 1 h → median 3 h, p75 = 3 h + 0.5·45 h, p90 = 3 h + 0.8·45 h
    assert r.lead_time_stats.n == 3
    assert r.lead_time_stats.median == 3 * HOUR
    assert r.lead_time_stats.p75 == pytest.approx(3 * HOUR + 0.5 * 45 * HOUR)
    assert r.lead_time_stats.p90 == pytest.approx(3 * HOUR + 0.8 * 45 * HOUR)
    assert r.change_lead_time.level == "elite"
    # split of PR 1: coding 24 h, pickup 2 h, review 4 h, deploy 18 h; PR 2: 1 h, 0.5 h, 0.5 h, 1 h
    assert r.lead_time_split["coding"].median == pytest.approx(12.5 * HOUR)
    assert r.lead_time_split["pickup"].median == pytest.approx(1.25 * HOUR)
    assert r.lead_time_split["deploy"].n == 2
    # d2 failed (INC-1 two hours later), d3 failed (rolled back): 2 of 4
    assert r.change_failure_rate.value == 0.5
    assert (r.change_failure_rate.numerator, r.change_failure_rate.n) == (2, 4)
    assert r.change_failure_rate.level == "low"
    methods = {f.deployment: [s.method for s in f.detected_by] for f in r.failures}
    assert methods == {"d2": ["incident_nearest"], "d3": ["rollback"]}
    # recovery: d2 → INC-1 resolved 5 h after the deploy; d3 → rollback 1 h later
    recoveries = {f.deployment: f.recovery_seconds for f in r.failures}
    assert recoveries == {"d2": 5 * HOUR, "d3": 1 * HOUR}
    assert r.failed_deployment_recovery.value == 3 * HOUR
    assert r.failed_deployment_recovery.level == "high"
    assert r.time_to_restore.value == 3 * HOUR and r.time_to_restore.n == 1
    assert (r.rework_rate.numerator, r.rework_rate.n) == (1, 4)
    # levels medium, elite, low, high → the worse middle one
    assert r.overall_level == "medium"
    assert sum(p.deployments for p in r.trend) == 4
    assert len(r.trend) == 30


def test_no_deployments_gives_na_not_zero() -> None:
    r = report([], [], [incident("INC-1", T0 - D)])
    assert r.deployments == 0
    assert r.change_lead_time.value is None and r.change_lead_time.na_reason
    assert r.change_failure_rate.value is None
    assert r.change_failure_rate.na_reason == "N/A: no production deployments in the window"
    assert r.rework_rate.value is None


def test_one_deployment_one_change() -> None:
    change = ChangeIn(
        deployment_id="d", repo="r", pr_number=None, sha="x", first_commit_at=T0 - 3 * D
    )
    r = report([deploy("d", T0 - D)], [change], [])
    assert r.lead_time_stats.median == 2 * DAY == r.lead_time_stats.p90
    assert r.change_failure_rate.value == 0.0 and r.change_failure_rate.n == 1
    assert r.failed_deployment_recovery.na_reason == "N/A: no failed deployments in the window"


def test_no_incident_source_is_na_not_zero() -> None:
    r = report(WINDOW_DEPLOYS, WINDOW_CHANGES, [], incident_source=False)
    assert r.change_failure_rate.value is None
    assert r.change_failure_rate.display == NO_INCIDENT_SOURCE
    assert r.failed_deployment_recovery.na_reason == NO_INCIDENT_SOURCE
    assert r.time_to_restore.na_reason == NO_INCIDENT_SOURCE
    assert r.change_failure_rate.n == 4  # still says what it would rest on


def test_incident_before_any_deploy_is_unlinked() -> None:
    r = report(
        [deploy("d", T0 - 10 * D)], [], [incident("INC-1", T0 - 20 * D, resolved=T0 - 19 * D)]
    )
    assert r.change_failure_rate.value == 0.0
    assert [link.method for link in r.incident_links] == ["unlinked"]
    assert "no production deployment of api" in r.incident_links[0].why


def test_overlapping_incidents_make_one_failure_recovered_when_both_resolve() -> None:
    d = T0 - 3 * D
    incidents = [
        incident("A", d + H, resolved=d + 4 * H),
        incident("B", d + 2 * H, resolved=d + 6 * H),
    ]
    r = report([deploy("d", d)], [], incidents)
    assert r.change_failure_rate.numerator == 1
    (failure,) = r.failures
    assert [s.evidence for s in failure.detected_by] == ["A", "B"]
    assert failure.recovery_seconds == 6 * HOUR
    assert failure.recovered_by == "incident B resolved"


def test_unresolved_incident_leaves_failure_open() -> None:
    d = T0 - 3 * D
    r = report([deploy("d", d)], [], [incident("A", d + H)])
    assert r.change_failure_rate.numerator == 1
    assert r.failed_deployment_recovery.na_reason == "N/A: 1 failed deployment(s) not yet recovered"


@pytest.mark.parametrize(
    ("gap", "window", "expected"),
    [
        (timedelta(hours=23), timedelta(hours=24), "nearest_preceding"),
        (timedelta(hours=30), timedelta(hours=24), "unlinked"),
        (timedelta(hours=30), None, "nearest_preceding"),
        (timedelta(0), timedelta(hours=24), "nearest_preceding"),
    ],
)
def test_nearest_preceding_link_respects_the_window(gap, window, expected) -> None:  # type: ignore[no-untyped-def]
    d = T0 - 5 * D
    (link,) = link_incidents([deploy("d", d)], [incident("I", d + gap)], link_window=window)
    assert link.method == expected


def test_explicit_link_wins_and_unknown_explicit_is_reported() -> None:
    deploys = [deploy("old", T0 - 9 * D), deploy("new", T0 - 8 * D)]
    links = link_incidents(
        deploys,
        [
            incident("X", T0 - 8 * D + H, cause="old"),
            incident("Y", T0 - 7 * D, cause="ghost"),
            incident("Z", T0 - 7 * D + H, service=None),
        ],
    )
    by_key = {link.incident: link for link in links}
    assert (by_key["X"].method, by_key["X"].deployment) == ("explicit", "old")
    assert by_key["Y"].method == "explicit_unknown" and by_key["Y"].deployment is None
    assert by_key["Z"].method == "unlinked" and "no service" in by_key["Z"].why


def test_other_services_and_staging_are_never_linked() -> None:
    d = T0 - 5 * D
    deploys = [deploy("web", d, service="web"), deploy("stage", d, env="staging")]
    (link,) = link_incidents(deploys, [incident("I", d + H)])
    assert link.method == "unlinked"


def test_hotfix_marks_the_previous_deploy_and_recovers_it() -> None:
    d = T0 - 4 * D
    r = report([deploy("d", d), deploy("h", d + 2 * H, hotfix=True)], [], [])
    (failure,) = r.failures
    assert failure.deployment == "d"
    assert failure.detected_by[0].method == "hotfix"
    assert failure.recovery_seconds == 2 * HOUR
    assert r.rework_rate.value == 0.5


def test_squash_merged_pr_falls_back_to_merge() -> None:
    d = T0 - 2 * D
    change = ChangeIn(
        deployment_id="d",
        repo="r",
        pr_number=7,
        sha="m",
        first_commit_at=None,
        pr_created_at=d - 3 * D,
        merged_at=d - 5 * H,
        squash_only=True,
    )
    (timed,) = change_lead_times([deploy("d", d)], [change])
    assert timed.start_basis == "merge_squash"
    assert timed.lead_seconds == 5 * HOUR
    assert timed.coding_seconds is None
    r = report([deploy("d", d)], [change], [])
    assert r.squash_fallback_changes == 1


def test_a_change_counts_once_at_its_first_production_deploy() -> None:
    first, second = T0 - 6 * D, T0 - 3 * D
    changes = [
        ChangeIn(
            deployment_id="second", repo="r", pr_number=1, sha="a", first_commit_at=first - 2 * D
        ),
        ChangeIn(deployment_id="first", repo="r", pr_number=1, sha="b", first_commit_at=first - D),
    ]
    (timed,) = change_lead_times([deploy("first", first), deploy("second", second)], changes)
    assert timed.deployment == "first"
    assert timed.lead_seconds == 2 * DAY  # the earliest commit seen for the change


@pytest.mark.parametrize(
    ("zone", "days"),
    [("UTC", 2), ("Asia/Tokyo", 1), ("America/Los_Angeles", 1)],
)
def test_deployment_days_follow_the_time_zone(zone: str, days: int) -> None:
    late = datetime(2026, 2, 10, 23, 30, tzinfo=UTC)
    deploys = [deploy("a", late), deploy("b", late + H)]
    r = report(deploys, tz=ZoneInfo(zone))
    assert r.deployment_days == days


def test_previous_window_gives_the_trend() -> None:
    before = [deploy(f"p{i}", START - (i + 1) * D) for i in range(10)]
    now = [deploy(f"n{i}", T0 - (i + 1) * D) for i in range(10)]
    incidents = [incident("P", START - 1 * D + H, resolved=START - D + 2 * H)] + [
        incident(f"N{i}", T0 - (i + 1) * D + H, resolved=T0 - (i + 1) * D + 2 * H) for i in range(3)
    ]
    r = report(before + now, [], incidents)
    assert r.change_failure_rate.value == pytest.approx(0.3)
    assert r.change_failure_rate.previous_value == pytest.approx(0.1)
    assert r.change_failure_rate.trend == "rising"


# -------------------------------------------------------------------------------- benchmarks


@pytest.mark.parametrize(
    ("metric", "value", "level"),
    [
        ("deployment_frequency", 7.0, "elite"),
        ("deployment_frequency", 6.99, "high"),
        ("deployment_frequency", 1.0, "high"),
        ("deployment_frequency", 0.5, "medium"),
        ("deployment_frequency", 0.1, "low"),
        ("change_lead_time", DAY, "elite"),
        ("change_lead_time", DAY + 1, "high"),
        ("change_lead_time", 8 * DAY, "medium"),
        ("change_lead_time", 40 * DAY, "low"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.06, "high"),
        ("change_failure_rate", 0.20, "high"),
        ("change_failure_rate", 0.21, "low"),
        ("failed_deployment_recovery", HOUR, "elite"),
        ("failed_deployment_recovery", 2 * HOUR, "high"),
        ("failed_deployment_recovery", 2 * DAY, "low"),
    ],
)
def test_benchmark_levels(metric, value, level) -> None:  # type: ignore[no-untyped-def]
    assert DORA_2024.bands(metric).level(value) == level


@pytest.mark.parametrize(
    ("metric", "value", "score"),
    [
        ("deployment_frequency", 20.0, 10.0),
        ("deployment_frequency", 7.0, 8.5),
        ("change_failure_rate", 0.05, 8.5),
        ("change_failure_rate", 0.125, 6.75),  # halfway between 5% (8.5) and 20% (5.0)
        ("change_failure_rate", 0.9, 0.0),
        ("change_lead_time", DAY, 8.5),
        ("failed_deployment_recovery", 60 * DAY, 0.0),
    ],
)
def test_benchmark_scores(metric, value, score) -> None:  # type: ignore[no-untyped-def]
    assert DORA_2024.bands(metric).score(value) == pytest.approx(score)


@pytest.mark.parametrize(
    ("levels", "overall"),
    [
        ([], None),
        (["elite"], "elite"),
        (["elite", "high", "high", "high"], "high"),
        (["high", "medium", "low", "high"], "medium"),
        (["elite", "low", "low"], "low"),
    ],
)
def test_overall_level_is_the_worse_middle(levels, overall) -> None:  # type: ignore[no-untyped-def]
    assert overall_level(levels) == overall


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([5.0], 90, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 75, 3.25),
    ],
)
def test_percentile(values, q, expected) -> None:  # type: ignore[no-untyped-def]
    assert percentile(values, q) == expected


# -------------------------------------------------------------------------------- properties

moments = st.integers(min_value=0, max_value=60 * 24).map(lambda m: T0 - timedelta(minutes=m * 30))


@st.composite
def worlds(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(min_value=0, max_value=12))
    deploys = [
        deploy(
            f"d{i}",
            draw(moments),
            service=draw(st.sampled_from(["a", "b"])),
            rollback=draw(st.booleans()),
            hotfix=draw(st.booleans()),
        )
        for i in range(n)
    ]
    incidents = [
        incident(
            f"I{i}",
            at := draw(moments),
            service=draw(st.sampled_from(["a", "b", None])),
            resolved=at + timedelta(hours=draw(st.integers(1, 30)))
            if draw(st.booleans())
            else None,
            cause=draw(st.sampled_from([None, *[d.id for d in deploys]])),
        )
        for i in range(draw(st.integers(min_value=0, max_value=6)))
    ]
    return deploys, incidents, draw(st.randoms(use_true_random=False))


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_rates_are_shares_and_row_order_is_irrelevant(case) -> None:  # type: ignore[no-untyped-def]
    deploys, incidents, rng = case
    first = report(deploys, [], incidents)
    for metric in (first.change_failure_rate, first.rework_rate):
        assert metric.value is None or 0.0 <= metric.value <= 1.0
        assert metric.numerator is None or metric.numerator <= metric.n
    shuffled_d, shuffled_i = deploys[:], incidents[:]
    rng.shuffle(shuffled_d)
    rng.shuffle(shuffled_i)
    assert report(shuffled_d, [], shuffled_i).model_dump() == first.model_dump()


def test_report_is_fast_enough_for_a_big_team() -> None:
    rng = random.Random(1)
    deploys = [
        deploy(f"d{i}", T0 - timedelta(minutes=rng.randrange(60 * 24 * 60)), service=f"s{i % 20}")
        for i in range(4000)
    ]
    incidents = [
        incident(f"I{i}", T0 - timedelta(minutes=rng.randrange(60 * 24 * 60)), service=f"s{i % 20}")
        for i in range(200)
    ]
    r = report(deploys, [], incidents)
    assert r.deployments > 0
