"""Compliance: the catalogue, each automated check, control status rules and posture."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cto_assistant.analytics.access import Grant, PersonStatus
from cto_assistant.analytics.compliance import (
    CheckResult,
    ComplianceInputs,
    IncidentFacts,
    RepoFacts,
    StoredEvidence,
    add_business_days,
    assess,
    evaluate_checks,
    incident_level,
    posture_history,
)
from cto_assistant.analytics.vulnerabilities import Finding, Inventory, ServiceFacts, prioritize
from cto_assistant.compliance import load_catalogue, normalize_framework, parse_catalogue

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday
CATALOGUE = load_catalogue()


def test_catalogue_loads_from_the_package_with_a_valid_crosswalk() -> None:
    assert set(CATALOGUE.frameworks) == {"soc2", "iso27001"}
    assert len(CATALOGUE.controls_of("soc2")) >= 10 and len(CATALOGUE.controls_of("iso27001")) >= 10
    automated = {k for k, c in CATALOGUE.checks.items() if c.automated}
    assert automated == {
        "branch_protection_on_production_repos",
        "mfa_for_admins",
        "offboarding_revokes_access",
        "stale_privileged_access",
        "critical_vulns_remediated",
        "postmortems_for_sev1_sev2",
        "slos_and_monitors_on_tier1",
    }
    ids = {f"{c.framework}:{c.control_id}" for c in CATALOGUE.controls}
    for control in CATALOGUE.controls:  # the crosswalk goes both ways
        for target in control.crosswalk:
            back = next(c for c in CATALOGUE.controls if f"{c.framework}:{c.control_id}" == target)
            assert f"{control.framework}:{control.control_id}" in back.crosswalk or target in ids


def test_catalogue_references_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown checks"):
        parse_catalogue(
            {
                "frameworks": {"x": {"title": "X"}},
                "checks": {},
                "controls": [
                    {
                        "framework": "x",
                        "id": "1",
                        "title": "t",
                        "description": "d",
                        "checks": ["nope"],
                    }
                ],
            }
        )


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("SOC 2", "soc2"),
        ("soc2", "soc2"),
        ("ISO 27001", "iso27001"),
        ("iso", "iso27001"),
        ("pci", None),
    ],
)
def test_framework_names(name: str, key: str | None) -> None:
    assert normalize_framework(name) == key


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        ("SEV-1", 1),
        ("sev2", 2),
        ("P1", 1),
        ("2", 2),
        ("critical", 1),
        ("SEV-4", 4),
        ("weird", None),
        (None, None),
    ],
)
def test_incident_levels(severity: str | None, level: int | None) -> None:
    assert incident_level(severity) == level


@pytest.mark.parametrize(
    ("resolved", "tz", "due"),
    [
        # resolved Monday → due end of the next Monday (UTC)
        (
            datetime(2026, 3, 2, 10, tzinfo=UTC),
            "UTC",
            datetime(2026, 3, 9, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        # resolved Friday 23:00 in Los Angeles (Saturday 07:00 UTC): counted from Friday there
        (
            datetime(2026, 2, 28, 7, tzinfo=UTC),
            "America/Los_Angeles",
            datetime(2026, 3, 7, 7, 59, 59, 999999, tzinfo=UTC),
        ),
        # the same instant counted in UTC starts on Saturday → due the Friday after
        (
            datetime(2026, 2, 28, 7, tzinfo=UTC),
            "UTC",
            datetime(2026, 3, 6, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        # resolved Saturday 01:00 in Tokyo (Friday 16:00 UTC)
        (
            datetime(2026, 2, 27, 16, tzinfo=UTC),
            "Asia/Tokyo",
            datetime(2026, 3, 6, 14, 59, 59, 999999, tzinfo=UTC),
        ),
    ],
)
def test_business_days_across_time_zones(resolved: datetime, tz: str, due: datetime) -> None:
    assert add_business_days(resolved, 5, tz) == due
    assert add_business_days(resolved.astimezone(ZoneInfo("Europe/Berlin")), 5, tz) == due


def _inputs(**kw: object) -> ComplianceInputs:
    services = {
        "shop": ServiceFacts(
            "shop", tier=1, repo="acme/shop", last_deploy={"production": NOW - timedelta(days=1)}
        ),
        "admin": ServiceFacts(
            "admin", tier=2, repo="acme/admin", last_deploy={"staging": NOW - timedelta(days=1)}
        ),
        "site": ServiceFacts(
            "site", tier=1, repo="acme/site", declared_environments=("production",)
        ),
    }
    base: dict[str, object] = {
        "repos": [
            RepoFacts("acme/shop", "shop", branch_protected=True, required_reviews=1),
            RepoFacts("acme/admin", "admin", branch_protected=False),  # not in production: skipped
            RepoFacts("acme/site", "site", branch_protected=True, required_reviews=0),  # no review
            RepoFacts("acme/lib", None, branch_protected=False),  # a library: skipped
            RepoFacts("acme/old", "shop", archived=True),
        ],
        "services": services,
        "grants": [
            Grant(
                "aws",
                "aws:a",
                "aws",
                "a",
                person_email="a@x",
                role="AdministratorAccess",
                mfa=True,
                last_used_at=NOW,
            ),
            Grant(
                "aws",
                "aws:b",
                "aws",
                "b",
                person_email="b@x",
                role="AdministratorAccess",
                mfa=False,
                last_used_at=NOW - timedelta(days=100),
            ),
            Grant(
                "pg",
                "pg:c",
                "postgres:prod",
                "c",
                person_email="c@x",
                role="rds_superuser",
                mfa=None,
                last_used_at=NOW,
            ),
            Grant(
                "aws",
                "aws:ci",
                "aws",
                "ci",
                principal_type="service",
                role="AdministratorAccess",
                last_used_at=NOW,
            ),
        ],
        "people": [
            PersonStatus("a@x"),
            PersonStatus("b@x"),
            PersonStatus("c@x", active=False, left_at=date(2026, 2, 1)),
            PersonStatus("d@x", active=False),
        ],
        "incidents": [
            IncidentFacts(
                "INC-1",
                "SEV-1",
                NOW - timedelta(days=30),
                NOW - timedelta(days=29),
                "https://wiki/pm-1",
            ),
            IncidentFacts(
                "INC-2", "SEV-2", NOW - timedelta(days=20), NOW - timedelta(days=19)
            ),  # overdue
            IncidentFacts(
                "INC-3", "SEV-2", NOW - timedelta(days=2), NOW - timedelta(days=1)
            ),  # pending
            IncidentFacts(
                "INC-4", "SEV-3", NOW - timedelta(days=20), NOW - timedelta(days=19)
            ),  # not in scope
            IncidentFacts(
                "INC-5", "SEV-1", NOW - timedelta(days=200), NOW - timedelta(days=199)
            ),  # too old
        ],
        "slo_services": frozenset({"shop"}),
        "monitor_services": frozenset({"shop", "site"}),
        "collected": {
            "repository": NOW - timedelta(hours=2),
            "deployment": NOW - timedelta(hours=1),
        },
    }
    base.update(kw)
    return ComplianceInputs(**base)  # type: ignore[arg-type]


def _status(results: Mapping[str, CheckResult], check: str) -> list[tuple[str | None, str]]:
    return [(e.subject, e.status) for e in results[check].evidence]


def test_each_automated_check_on_hand_built_evidence() -> None:
    results = evaluate_checks(_inputs(), CATALOGUE, now=NOW)
    assert _status(results, "branch_protection_on_production_repos") == [
        ("acme/site", "fail"),
        ("acme/shop", "pass"),
    ]
    assert results["branch_protection_on_production_repos"].collected_at == NOW - timedelta(hours=2)
    assert _status(results, "mfa_for_admins") == [
        ("aws:b", "fail"),
        ("aws:a", "pass"),
        ("postgres:prod:c", "n/a"),
    ]
    assert _status(results, "offboarding_revokes_access") == [("c@x", "fail"), ("d@x", "pass")]
    assert results["offboarding_revokes_access"].evidence[0].detail["remaining_grants"] == [
        "postgres:prod:c (rds_superuser)"
    ]
    assert _status(results, "stale_privileged_access")[0] == ("aws:b", "fail")
    assert _status(results, "postmortems_for_sev1_sev2") == [
        ("INC-2", "fail"),
        ("INC-3", "pending"),
        ("INC-1", "pass"),
    ]
    assert _status(results, "slos_and_monitors_on_tier1") == [("site", "fail"), ("shop", "pass")]
    assert results["privileged_access_review"].status == "no_evidence"
    assert results["critical_vulns_remediated"].status == "no_evidence"  # no scanner data


def test_critical_vulns_within_sla() -> None:
    rows = [
        Finding(
            "snyk",
            "1",
            "snyk",
            "critical",
            NOW - timedelta(days=3),
            cve_ids=("CVE-1",),
            repo="r",
            package="p",
        ),
        Finding(
            "snyk",
            "2",
            "snyk",
            "critical",
            NOW - timedelta(days=9),
            cve_ids=("CVE-2",),
            repo="r",
            package="p",
        ),
        Finding(
            "snyk",
            "3",
            "snyk",
            "critical",
            NOW - timedelta(days=30),
            cve_ids=("CVE-3",),
            repo="r",
            package="p",
            state="fixed",
            fixed_at=NOW - timedelta(days=25),
        ),
        Finding(
            "snyk",
            "4",
            "snyk",
            "high",
            NOW - timedelta(days=90),
            cve_ids=("CVE-4",),
            repo="r",
            package="p",
        ),
    ]
    report = prioritize(rows, now=NOW, inventory=Inventory())
    results = evaluate_checks(_inputs(vulnerabilities=report), CATALOGUE, now=NOW)
    assert sorted(_status(results, "critical_vulns_remediated")) == [
        ("r|p|CVE-1", "pass"),
        ("r|p|CVE-2", "fail"),
        ("r|p|CVE-3", "pass"),
    ]


def test_collected_evidence_fills_evidence_only_checks_and_missing_data() -> None:
    old = NOW - timedelta(days=10)
    stored = [
        StoredEvidence(
            "grc",
            "soc2",
            "CC6.3",
            "privileged_access_review",
            "Q1 review",
            "pass",
            {"by": "CISO"},
            NOW - timedelta(days=3),
        ),
        StoredEvidence(
            "grc", "soc2", "CC6.3", "privileged_access_review", "Q4 review", "fail", {}, old
        ),  # older batch
        StoredEvidence("grc", "soc2", "CC6.1", "mfa_for_admins", "all", "pass", {}, old),
        StoredEvidence(
            "cto-assistant", "soc2", "CC6.1", "tls_everywhere", "x", "fail", {}, old
        ),  # our own rows are not evidence
    ]
    results = evaluate_checks(_inputs(stored=stored, grants=None), CATALOGUE, now=NOW)
    review = results["privileged_access_review"]
    assert (review.status, review.basis, [e.subject for e in review.evidence]) == (
        "passing",
        "evidence collected by grc",
        ["Q1 review"],
    )
    assert (
        results["mfa_for_admins"].basis == "evidence collected by grc"
    )  # access not synced: falls back
    assert results["tls_everywhere"].status == "no_evidence"


def test_control_status_and_posture() -> None:
    stored = [
        StoredEvidence("grc", "soc2", "-", check, "acme", "pass", {}, NOW)
        for check, c in CATALOGUE.checks.items()
        if not c.automated
    ]
    rows = [
        Finding(
            "snyk",
            "1",
            "snyk",
            "critical",
            NOW - timedelta(days=1),
            cve_ids=("CVE-1",),
            repo="r",
            package="p",
        )
    ]
    report = assess(
        _inputs(stored=stored, vulnerabilities=prioritize(rows, now=NOW)),
        CATALOGUE,
        now=NOW,
        frameworks=["soc2"],
    )
    (soc2,) = report.frameworks
    status = {c.control_id: c.status for c in soc2.controls}
    assert (
        status["CC6.1"] == "failing"
        and status["CC8.1"] == "failing"
        and status["CC7.4"] == "failing"
    )
    assert status["CC7.1"] == "passing" and status["A1.2"] == "passing"
    cc61 = next(c for c in soc2.controls if c.control_id == "CC6.1")
    assert cc61.failing_subjects == ["mfa_for_admins: aws:b"]
    assert cc61.reason == "MFA on every privileged human account — 1 failing: aws:b"
    assert soc2.passing + soc2.failing + soc2.no_evidence == soc2.total
    assert soc2.posture_pct == pytest.approx(round(100 * soc2.passing / soc2.total, 1))


def test_a_control_without_evidence_says_so() -> None:
    report = assess(ComplianceInputs(), CATALOGUE, now=NOW)
    assert all(c.status == "no_evidence" for p in report.frameworks for c in p.controls)
    assert all(p.posture_pct == 0.0 for p in report.frameworks)


def test_posture_history_from_stored_rows() -> None:
    day1, day2 = NOW - timedelta(days=7), NOW
    rows = [
        StoredEvidence("cto-assistant", "soc2", "CC6.1", "mfa_for_admins", None, "fail", {}, day1),
        StoredEvidence(
            "cto-assistant", "soc2", "CC6.2", "offboarding_revokes_access", None, "pass", {}, day1
        ),
        StoredEvidence("cto-assistant", "soc2", "CC6.1", "mfa_for_admins", None, "pass", {}, day2),
        StoredEvidence(
            "cto-assistant", "soc2", "CC6.2", "offboarding_revokes_access", None, "pass", {}, day2
        ),
        StoredEvidence("cto-assistant", "soc2", "CC6.2", "x", "s", "pending", {}, day2),
    ]
    points = posture_history(rows)
    assert [(p.day, p.passing, p.evaluated, p.posture_pct) for p in points] == [
        (day1.date(), 1, 2, 50.0),
        (day2.date(), 2, 2, 100.0),
    ]
