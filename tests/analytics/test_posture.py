"""Security posture: counts by project and team, risk score with weights, MTTR, trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.analytics.posture import DEFAULT_WEIGHTS, security_posture
from cto_assistant.analytics.vulnerabilities import Finding, Inventory, ServiceFacts, prioritize

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
WORM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
LOCAL = "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N"


def f(sid: str, repo: str, severity: str, days: float, **kw: object) -> Finding:
    base: dict[str, object] = {
        "cve_ids": (f"CVE-{sid}",),
        "repo": repo,
        "package": "p",
        "cvss_vector": LOCAL,
        "cvss": 5.0,
    }
    base.update(kw)
    return Finding("snyk", sid, "snyk", severity, NOW - timedelta(days=days), **base)  # type: ignore[arg-type]


INVENTORY = Inventory(
    services={
        "shop": ServiceFacts(
            "shop",
            team="CHK",
            internet_facing=True,
            repo="acme/shop",
            last_deploy={"production": NOW},
        ),
        "auth": ServiceFacts("auth", team="IDN", repo="acme/auth", last_deploy={"production": NOW}),
    },
    repo_service={"acme/shop": "shop", "acme/auth": "auth"},
    repo_team={"acme/shop": "CHK", "acme/auth": "IDN", "acme/lib": "PLAT"},
)

ROWS = [
    f("1", "acme/shop", "critical", 2, in_kev=True, cvss_vector=WORM, cvss=9.8),  # Act
    f("2", "acme/shop", "high", 40),  # Track, 10 days over SLA 30
    f("3", "acme/auth", "critical", 10),  # Track, 3 days over SLA 7
    f("4", "acme/lib", "high", 5),  # no service: the repo is the project
    f(
        "5", "acme/auth", "critical", 20, state="fixed", fixed_at=NOW - timedelta(days=16)
    ),  # 4 days to fix
    f(
        "6", "acme/auth", "critical", 40, state="fixed", fixed_at=NOW - timedelta(days=30)
    ),  # 10 days to fix
    f(
        "7", "acme/shop", "high", 400, state="fixed", fixed_at=NOW - timedelta(days=200)
    ),  # outside MTTR window
]


def test_posture_by_project_team_with_explained_risk() -> None:
    posture = security_posture(prioritize(ROWS, now=NOW, inventory=INVENTORY), now=NOW)
    assert (posture.open_critical, posture.open_high, posture.sla_breaches) == (2, 2, 2)
    shop = posture.projects[0]
    assert shop.project == "shop" and shop.team == "CHK"
    assert shop.contributions == {"Act": 10.0, "Track": 1.0, "sla_breach": 3.0}
    assert shop.risk_score == 14.0
    assert [(p.project, p.risk_score) for p in posture.projects] == [
        ("shop", 14.0),
        ("auth", 4.0),
        ("acme/lib", 1.0),
    ]
    assert [(t.team, t.critical, t.high, t.sla_breaches) for t in posture.teams] == [
        ("CHK", 1, 1, 1),
        ("IDN", 1, 0, 1),
        ("PLAT", 0, 1, 0),
    ]
    assert posture.weights == DEFAULT_WEIGHTS
    assert posture.breached[0].endswith("CVE-2")  # the most overdue first


def test_mean_time_to_remediate_per_severity() -> None:
    posture = security_posture(prioritize(ROWS, now=NOW, inventory=INVENTORY), now=NOW)
    critical = next(m for m in posture.mttr if m.severity == "critical")
    assert (
        critical.n,
        critical.mean_days,
        critical.median_days,
        critical.within_sla_pct,
        critical.sla_days,
    ) == (2, 7.0, 7.0, 50.0, 7)
    high = next(m for m in posture.mttr if m.severity == "high")
    assert (high.n, high.mean_days) == (0, None)  # N/A, never a zero


def test_trend_rebuilds_open_counts_per_week() -> None:
    posture = security_posture(prioritize(ROWS, now=NOW, inventory=INVENTORY), now=NOW, weeks=4)
    # at -21 and -14 days no critical was open (#5 was fixed at -16, #3 arrived at -10)
    assert [(p.critical, p.high) for p in posture.trend] == [(0, 1), (0, 1), (1, 1), (2, 2)]
    assert posture.trend[-1].at == NOW


@pytest.mark.parametrize(
    "weights", [{"Act": 1.0, "Attend": 1.0, "Track*": 1.0, "Track": 1.0, "sla_breach": 0.0}]
)
def test_weights_are_parameters(weights: dict[str, float]) -> None:
    posture = security_posture(
        prioritize(ROWS, now=NOW, inventory=INVENTORY), now=NOW, weights=weights
    )
    assert {p.project: p.risk_score for p in posture.projects} == {
        "shop": 2.0,
        "auth": 1.0,
        "acme/lib": 1.0,
    }
