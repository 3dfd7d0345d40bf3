"""Access audit: privilege classification, ranked findings with reasons, drift between snapshots."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cto_assistant.analytics.access import (
    AccessPolicy,
    Grant,
    PersonStatus,
    SnapshotEntry,
    audit_access,
    diff_snapshots,
    privilege_label,
    snapshot_is_new,
    snapshot_of,
    snapshot_since,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
RECENT = NOW - timedelta(days=1)


def grant(system: str, principal: str, role: str, **kw: object) -> Grant:
    base: dict[str, object] = {
        "source": "demo",
        "source_id": f"{system}:{principal}",
        "system": system,
        "principal": principal,
        "role": role,
        "principal_type": "user",
        "mfa": True,
        "last_used_at": RECENT,
        "granted_at": NOW - timedelta(days=400),
    }
    base.update(kw)
    return Grant(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("system", "role", "privileged", "label"),
    [
        ("aws", "AdministratorAccess", False, "AWS admin"),
        ("aws", "ReadOnlyAccess", False, None),
        ("postgres:prod", "rds_superuser", False, "production database superuser"),
        ("postgres:prod", "app_rw", False, "production database write"),
        ("postgres:prod", "readonly", False, None),
        ("github", "admin", False, "GitHub org owner"),
        ("github", "member", False, None),
        ("datadog", "Datadog Admin Role", False, "Datadog admin"),
        ("pagerduty", "admin", False, "PagerDuty admin"),
        ("pagerduty", "manager", False, None),
        ("vault", "operator", True, "vault operator"),  # the source's own flag counts too
    ],
)
def test_privilege_classification(
    system: str, role: str, privileged: bool, label: str | None
) -> None:
    assert privilege_label(grant(system, "p", role, privileged=privileged)) == label


PEOPLE = [
    PersonStatus("omar@acme.cloud", "Omar Singh", active=False, left_at=date(2026, 1, 9)),
    PersonStatus("olga@acme.cloud", "Olga Lindqvist"),
    PersonStatus("tariq@acme.cloud", "Tariq Garcia"),
    PersonStatus("ana@acme.cloud", "Ana Costa"),
    PersonStatus("leo@acme.cloud", "Leo Future", left_at=date(2026, 6, 1)),  # leaving later
]


def demo_grants() -> list[Grant]:
    return [
        grant(
            "aws",
            "user/omar",
            "AdministratorAccess",
            person_email="omar@acme.cloud",
            last_used_at=datetime(2026, 1, 6, tzinfo=UTC),
            key_created_at=NOW - timedelta(days=540),
        ),
        grant(
            "aws",
            "user/olga",
            "AdministratorAccess",
            person_email="olga@acme.cloud",
            mfa=False,
            key_created_at=NOW - timedelta(days=200),
        ),
        grant("github", "tariq", "admin", person_email="tariq@acme.cloud", mfa=False),
        grant("github", "ana", "admin", person_email="ana@acme.cloud"),
        grant(
            "datadog",
            "ana@acme.cloud",
            "Datadog Admin Role",
            person_email="ana@acme.cloud",
            last_used_at=NOW - timedelta(days=120),
        ),
        grant(
            "aws",
            "user/ci-deployer",
            "AdministratorAccess",
            principal_type="service",
            mfa=None,
            key_created_at=NOW - timedelta(days=430),
        ),
        grant("aws", "user/root", "AdministratorAccess", principal_type="shared", mfa=True),
        grant("github", "leo", "admin", person_email="leo@acme.cloud"),
    ]


def test_findings_are_ranked_with_reasons() -> None:
    report = audit_access(demo_grants(), PEOPLE, now=NOW)
    got = [(f.rank, f.severity, f.kind, f.principal) for f in report.findings]
    assert got == [
        (1, "critical", "leaver_privileged", "user/omar"),
        (2, "high", "privileged_without_mfa", "user/olga"),
        (3, "high", "privileged_without_mfa", "tariq"),
        (4, "high", "access_key_age", "user/ci-deployer"),
        (5, "high", "access_key_age", "user/omar"),
        (6, "medium", "access_key_age", "user/olga"),
        (7, "medium", "unused_privileged", "ana@acme.cloud"),  # Datadog admin idle 120 days
        (8, "medium", "shared_account", "user/root"),
    ]  # Omar last used his key 55 days ago: not "unused" yet
    first = report.findings[0]
    assert first.title == "Departed Omar Singh (user/omar) still holds AWS admin"
    assert (
        first.reason
        == "Omar Singh (user/omar) left 2026-01-09 but still holds AdministratorAccess on aws; last used 2026-01-06"
    )
    assert report.findings[4].reason.startswith(
        "access key on aws created 540 days ago (rotate within 90)"
    )
    assert report.privileged_by_system == {"aws": 4, "github": 3, "datadog": 1}
    assert report.findings_by_kind["privileged_without_mfa"] == 2


def test_a_leaver_with_plain_access_is_high_and_future_leavers_are_not_leavers() -> None:
    grants = [
        grant("jira", "omar", "user", person_email="omar@acme.cloud"),
        grant("github", "leo", "admin", person_email="leo@acme.cloud"),
    ]
    report = audit_access(grants, PEOPLE, now=NOW)
    assert [(f.kind, f.severity) for f in report.findings] == [("leaver_access", "high")]


def test_thresholds_are_configurable() -> None:
    policy = AccessPolicy(unused_days=200, key_warn_days=600, key_critical_days=900)
    report = audit_access(demo_grants(), PEOPLE, now=NOW, policy=policy)
    assert {f.kind for f in report.findings} == {
        "leaver_privileged",
        "privileged_without_mfa",
        "shared_account",
    }
    assert report.policy == {"unused_days": 200, "key_warn_days": 600, "key_critical_days": 900}


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_ranking_does_not_depend_on_input_order(rnd: random.Random) -> None:
    rows = demo_grants()
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    a = audit_access(rows, PEOPLE, now=NOW).findings
    b = audit_access(shuffled, list(reversed(PEOPLE)), now=NOW).findings
    assert [(f.kind, f.principal) for f in a] == [(f.kind, f.principal) for f in b]


def test_drift_between_snapshots() -> None:
    before = snapshot_of(demo_grants())
    after_grants = [g for g in demo_grants() if g.principal != "user/omar"]
    after_grants.append(
        grant(
            "postgres:prod", "new_admin", "rds_superuser", person_email="ana@acme.cloud", mfa=None
        )
    )
    after_grants = [
        g
        if g.principal != "tariq"
        else grant("github", "tariq", "admin", person_email="tariq@acme.cloud", mfa=True)
        for g in after_grants
    ]
    earlier = NOW - timedelta(days=1)
    drift = diff_snapshots(before, snapshot_of(after_grants), previous_at=earlier, current_at=NOW)
    assert [(e.system, e.principal) for e in drift.added] == [("postgres:prod", "new_admin")]
    assert [(e.system, e.principal) for e in drift.removed] == [("aws", "user/omar")]
    assert [(c.principal, c.changes) for c in drift.changed] == [("tariq", {"mfa": [False, True]})]
    assert drift.summary == (
        "Privileged access since 2026-03-01T12:00+00:00: 1 added (new_admin on postgres:prod), 1 removed, 1 changed."
    )
    report = audit_access(after_grants, PEOPLE, now=NOW, previous=before, previous_at=earlier)
    assert report.drift is not None and len(report.drift.added) == 1


def test_the_previous_snapshot_is_the_last_one_that_differs() -> None:
    a = [SnapshotEntry(system="aws", principal="x", role="admin")]
    b = [*a, SnapshotEntry(system="aws", principal="y", role="admin")]
    t1, t2 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    # evaluation already stored today's state (b) at t2: compare with a at t1
    assert snapshot_since([(t1, a), (t2, b)], b) == (t1, a)
    # today's grants changed since the last stored snapshot: compare with it
    assert snapshot_since([(t1, a), (t2, b)], a) == (t2, b)
    assert snapshot_since([], b) == (None, None)
    assert snapshot_is_new(None, b) and snapshot_is_new(a, b) and not snapshot_is_new(b, list(b))
