"""Vulnerability prioritization: SSVC branches, ordering, de-duplication, enrichment, SLA."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cto_assistant.analytics.vulnerabilities import (
    SSVC_TABLE,
    Finding,
    Inventory,
    Policy,
    PrioritizedVulnerability,
    ServiceFacts,
    ThreatFacts,
    dedupe,
    policy_with,
    prioritize,
    sla_position,
    ssvc_decision,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
WORM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # automatable, total impact
WORM_PARTIAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"  # automatable, partial
LOCAL_TOTAL = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"  # not automatable, total
LOCAL_PARTIAL = "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N"


def finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "source": "snyk",
        "source_id": "s1",
        "scanner": "snyk",
        "severity": "critical",
        "first_seen": NOW - timedelta(days=2),
        "repo": "acme/shop",
        "package": "org.example:lib",
        "version": "1.0.0",
        "fixed_version": "1.0.1",
        "cve_ids": ("CVE-2026-0001",),
        "cvss": 9.8,
        "cvss_vector": WORM,
    }
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def inventory(
    *, internet: bool = True, prod_days_ago: float | None = 1, staging: bool = True
) -> Inventory:
    deploys = {}
    if prod_days_ago is not None:
        deploys["production"] = NOW - timedelta(days=prod_days_ago)
    if staging:
        deploys["staging"] = NOW - timedelta(days=1)
    shop = ServiceFacts(
        name="shop",
        team="CHK",
        tier=1,
        internet_facing=internet,
        repo="acme/shop",
        declared_environments=("staging", "production"),
        last_deploy=deploys,
    )
    return Inventory(
        services={"shop": shop}, repo_service={"acme/shop": "shop"}, repo_team={"acme/shop": "CHK"}
    )


def decide(
    f: Finding, inv: Inventory | None = None, threat: ThreatFacts | None = None
) -> PrioritizedVulnerability:
    (item,) = prioritize([f], now=NOW, inventory=inv or inventory(), threat=threat).items
    return item


# ----------------------------------------------------------------------------- the decision table

# CISA's published deployer outcomes, written out as (exploitation, automatable, impact, mission):
GOLDEN = """
none no partial: Track Track Track
none no total: Track Track Track*
none yes partial: Track Track Attend
none yes total: Track Track Attend
poc no partial: Track Track Track*
poc no total: Track Track* Attend
poc yes partial: Track Track Attend
poc yes total: Track Track* Attend
active no partial: Track Track Attend
active no total: Track Attend Act
active yes partial: Attend Attend Act
active yes total: Attend Act Act
"""


def golden_rows() -> list[tuple[str, bool, bool, str, str]]:
    rows = []
    for line in GOLDEN.strip().splitlines():
        head, outcomes = line.split(":")
        exploitation, automatable, impact = head.split()
        for exposure, outcome in zip(
            ("small", "controlled", "open"), outcomes.split(), strict=True
        ):
            rows.append((exploitation, automatable == "yes", impact == "total", exposure, outcome))
    return rows


@pytest.mark.parametrize(
    ("exploitation", "automatable", "total", "exposure", "expected"), golden_rows()
)
def test_decision_table_matches_cisa(
    exploitation: str, automatable: bool, total: bool, exposure: str, expected: str
) -> None:
    assert ssvc_decision(exploitation, automatable, total, exposure) == expected  # type: ignore[arg-type]


def test_decision_table_is_complete() -> None:
    assert len(SSVC_TABLE) * 3 == 36


# ----------------------------------------------------------------------------- each branch from rows


@pytest.mark.parametrize(
    ("overrides", "inv_kwargs", "expected", "points"),
    [
        # active (KEV), automatable, total, production + internet-facing → Act
        ({"in_kev": True}, {}, "Act", ("active", "open", "yes", "total")),
        # active, automatable, total, production internal → Act (medium mission)
        ({"in_kev": True}, {"internet": False}, "Act", ("active", "controlled", "yes", "total")),
        # active, not automatable, total, controlled → Attend
        (
            {"in_kev": True, "cvss_vector": LOCAL_TOTAL},
            {"internet": False},
            "Attend",
            ("active", "controlled", "no", "total"),
        ),
        # active but not deployed to production recently → small → Attend (automatable+total)
        ({"in_kev": True}, {"prod_days_ago": 200}, "Attend", ("active", "small", "yes", "total")),
        # active, partial, not automatable, small → Track
        (
            {"in_kev": True, "cvss_vector": LOCAL_PARTIAL, "cvss": 3.0},
            {"prod_days_ago": None},
            "Track",
            ("active", "small", "no", "partial"),
        ),
        # exploited in the wild per maturity "attacked" (no KEV) → active
        ({"exploit_maturity": "attacked"}, {}, "Act", ("active", "open", "yes", "total")),
        # public PoC, automatable, total, open → Attend
        ({"exploit_maturity": "poc"}, {}, "Attend", ("poc", "open", "yes", "total")),
        # mature exploit code counts as PoC, controlled → Track*
        (
            {"exploit_maturity": "mature"},
            {"internet": False},
            "Track*",
            ("poc", "controlled", "yes", "total"),
        ),
        # PoC, not automatable, partial, open → Track*
        (
            {"exploit_maturity": "poc", "cvss_vector": LOCAL_PARTIAL, "cvss": 3.0},
            {},
            "Track*",
            ("poc", "open", "no", "partial"),
        ),
        # no exploit, automatable, partial, open → Attend
        (
            {"cvss_vector": WORM_PARTIAL, "cvss": 7.5, "severity": "high"},
            {},
            "Attend",
            ("none", "open", "yes", "partial"),
        ),
        # no exploit, not automatable, total, open → Track*
        (
            {"cvss_vector": LOCAL_TOTAL, "cvss": 7.8, "severity": "high"},
            {},
            "Track*",
            ("none", "open", "no", "total"),
        ),
        # no exploit, automatable, total, controlled → Track
        ({}, {"internet": False}, "Track", ("none", "controlled", "yes", "total")),
        # no vector: CVSS ≥ 9 is total, automatable taken as no → open → Track*
        ({"cvss_vector": None}, {}, "Track*", ("none", "open", "no", "total")),
    ],
)
def test_each_ssvc_branch_from_scanner_rows(
    overrides: dict[str, object],
    inv_kwargs: dict[str, object],
    expected: str,
    points: tuple[str, ...],
) -> None:
    item = decide(finding(**overrides), inventory(**inv_kwargs))  # type: ignore[arg-type]
    got = (
        item.exploitation.value,
        item.exposure.value,
        item.automatable.value,
        item.technical_impact.value,
    )
    assert got == points
    assert item.decision == expected


def test_reasons_read_as_words() -> None:
    item = decide(
        finding(in_kev=True, first_seen=NOW - timedelta(days=9), fixed_version="2.17.1", epss=0.9)
    )
    assert item.reasons[0] == "in CISA KEV"
    assert item.reasons[1].startswith("running in production on an internet-facing service")
    assert "fix available in 2.17.1" in item.reasons
    assert "9 days open, SLA 7 (2 days over)" in item.reasons
    assert "EPSS 90.0%" in item.reasons
    assert item.reason == "; ".join(item.reasons)


def test_exposure_comes_from_deployments_not_the_tag() -> None:
    # the scanner says production, but the service has not been deployed there in 90 days
    item = decide(finding(environment="production"), inventory(prod_days_ago=120))
    assert item.environment == "staging"
    assert "no successful production deploy in 90 days" in item.environment_basis
    # a finding scoped by the scanner to the staging target stays in staging
    staging = decide(finding(environment="staging"), inventory())
    assert staging.environment == "staging" and staging.exposure.value == "small"
    # without any deployment data the tag is used, and said so
    tagged = decide(finding(environment="prod"), Inventory())
    assert tagged.environment == "production"
    assert "no deployments recorded" in tagged.environment_basis
    # Dependabot rows carry no environment: the deployments decide
    assert decide(finding(environment=None), inventory()).environment == "production"


# ----------------------------------------------------------------------------- de-duplication


def test_same_cve_package_repo_across_snyk_and_dependabot_is_one_item_with_both_sources() -> None:
    snyk = finding(
        source="snyk",
        source_id="u-1",
        scanner="snyk",
        external_id="SNYK-JAVA-X-1",
        exploit_maturity="poc",
        epss=0.2,
        first_seen=NOW - timedelta(days=3),
    )
    bot = finding(
        source="github",
        source_id="acme/shop/dependabot/4",
        scanner="dependabot",
        external_id="GHSA-aaaa-bbbb-cccc",
        version="< 1.0.1",
        epss=0.4,
        first_seen=NOW - timedelta(days=2),
        exploit_maturity=None,
    )
    report = prioritize([bot, snyk], now=NOW, inventory=inventory())
    assert (report.n_rows, report.n_items) == (2, 1)
    (item,) = report.items
    assert sorted(s.scanner for s in item.sources) == ["dependabot", "snyk"]
    assert item.identifiers == ["CVE-2026-0001", "GHSA-aaaa-bbbb-cccc", "SNYK-JAVA-X-1"]
    assert item.first_seen == NOW - timedelta(days=3)  # the earliest sighting
    assert item.version == "1.0.0"  # the concrete version, not Dependabot's range
    assert item.epss == 0.4 and item.exploit_maturity == "poc"
    assert item.reasons[-1] == "reported by Dependabot and Snyk"


@pytest.mark.parametrize(
    ("second", "items"),
    [
        ({"repo": "acme/other"}, 2),  # another repository
        ({"package": "org.example:other"}, 2),  # another package
        ({"cve_ids": ("CVE-2026-0002",)}, 2),  # another CVE
        ({"cve_ids": ("CVE-2026-0001", "CVE-2026-0002")}, 1),  # shares one CVE
        ({"repo": "ACME/Shop"}, 1),  # repository names are case-insensitive
    ],
)
def test_dedup_scope(second: dict[str, object], items: int) -> None:
    rows = [
        finding(source_id="a"),
        finding(source="github", source_id="b", scanner="dependabot", **second),
    ]
    assert len(dedupe(rows)) == items


def test_rows_without_cve_merge_on_the_scanner_id_only() -> None:
    a = finding(source_id="a", cve_ids=(), external_id="py/sql-injection", scanner="code_scanning")
    b = finding(source_id="b", cve_ids=(), external_id="py/sql-injection", scanner="code_scanning")
    c = finding(source_id="c", cve_ids=(), external_id="py/xss", scanner="code_scanning")
    assert sorted(len(m.rows) for m in dedupe([a, b, c])) == [1, 2]


def test_a_row_bridging_two_clusters_joins_them() -> None:
    a = finding(source_id="a", cve_ids=("CVE-1",))
    b = finding(source_id="b", cve_ids=("CVE-2",))
    bridge = finding(source_id="c", cve_ids=("CVE-1", "CVE-2"), first_seen=NOW)
    assert len(dedupe([a, b, bridge])) == 1


def test_merged_state_open_wins_and_disagreement_is_said() -> None:
    fixed = finding(source_id="a", state="fixed", fixed_at=NOW - timedelta(days=1))
    still = finding(source="github", source_id="b", scanner="dependabot", state="open")
    (item,) = prioritize([fixed, still], now=NOW, inventory=inventory()).items
    assert item.state == "open"
    assert "scanners disagree: Dependabot open, Snyk fixed" in item.reasons


# ----------------------------------------------------------------------------- enrichment


def test_kev_and_epss_enrichment_from_the_threat_feeds() -> None:
    threat = ThreatFacts(
        kev={"CVE-2026-0001": datetime(2026, 2, 27, tzinfo=UTC)}, epss={"CVE-2026-0001": 0.61}
    )
    item = decide(finding(in_kev=False, epss=0.05), threat=threat)
    assert item.in_kev and item.epss == 0.61
    assert item.exploitation.why == "in CISA KEV (added 2026-02-27)"
    assert item.decision == "Act"
    # a feed without the CVE never turns KEV off
    assert decide(finding(in_kev=True), threat=ThreatFacts()).in_kev


# ----------------------------------------------------------------------------- SLA arithmetic


@pytest.mark.parametrize(
    ("first_seen", "now", "sla", "age", "left", "breached"),
    [
        # 9 days open against 7: two days over
        (datetime(2026, 2, 21, 12, tzinfo=UTC), NOW, 7, 9.0, -2.0, True),
        # first seen 21:00 in Tokyo (12:00 UTC) — the same instant as the line above
        (datetime(2026, 2, 21, 21, tzinfo=ZoneInfo("Asia/Tokyo")), NOW, 7, 9.0, -2.0, True),
        # 20:00 in Los Angeles on Feb 23 is 04:00 UTC on Feb 24: 6 days 8 hours by noon Mar 2
        (
            datetime(2026, 2, 23, 20, tzinfo=ZoneInfo("America/Los_Angeles")),
            NOW,
            7,
            6 + 1 / 3,
            2 / 3,
            False,
        ),
        # across the US DST change (Mar 8 2026): 7 x 24 h, not calendar days in New York
        (
            datetime(2026, 3, 5, 9, tzinfo=ZoneInfo("America/New_York")),
            datetime(2026, 3, 12, 13, tzinfo=UTC),
            7,
            7 - 1 / 24,
            1 / 24,
            False,
        ),
        # naive timestamps are taken as UTC
        (datetime(2026, 2, 23, 12), NOW, 7, 7.0, 0.0, False),
        # exactly at the due instant is not over
        (NOW - timedelta(days=30), NOW, 30, 30.0, 0.0, False),
    ],
)
def test_sla_arithmetic_across_time_zones(
    first_seen: datetime, now: datetime, sla: int, age: float, left: float, breached: bool
) -> None:
    got_age, due, got_left, got_breached = sla_position(
        first_seen=first_seen, now=now, sla_days=sla
    )
    assert got_age == pytest.approx(age)
    assert got_left == pytest.approx(left)
    assert got_breached is breached
    assert due.tzinfo is UTC


def test_sla_of_a_fixed_item_runs_to_the_fix() -> None:
    age, _, left, breached = sla_position(
        first_seen=NOW - timedelta(days=40), now=NOW, sla_days=30, fixed_at=NOW - timedelta(days=5)
    )
    assert (age, left, breached) == (35.0, -5.0, True)


def test_sla_is_configurable_and_validated() -> None:
    policy = policy_with({"critical": 3})
    assert policy.sla_for("critical") == 3 and policy.sla_for("high") == 30
    item = prioritize(
        [finding(first_seen=NOW - timedelta(days=4))], now=NOW, inventory=inventory(), policy=policy
    ).items[0]
    assert item.sla_breached and "SLA 3" in item.reason
    with pytest.raises(ValueError, match="unknown severity"):
        policy_with({"urgent": 1})
    with pytest.raises(ValueError, match="positive"):
        policy_with({"low": 0})


# ----------------------------------------------------------------------------- ordering and weeks


def test_order_is_class_then_epss_then_sla_used() -> None:
    rows = [
        finding(
            source_id="track",
            cve_ids=("CVE-T",),
            cvss_vector=LOCAL_PARTIAL,
            cvss=3.0,
            severity="low",
            epss=0.99,
        ),
        finding(source_id="act-low-epss", cve_ids=("CVE-A1",), in_kev=True, epss=0.10),
        finding(source_id="act-high-epss", cve_ids=("CVE-A2",), in_kev=True, epss=0.80),
        # same class and EPSS: the one further through its SLA first
        finding(
            source_id="attend-old",
            cve_ids=("CVE-B1",),
            exploit_maturity="poc",
            epss=0.2,
            first_seen=NOW - timedelta(days=6),
        ),
        finding(
            source_id="attend-new",
            cve_ids=("CVE-B2",),
            exploit_maturity="poc",
            epss=0.2,
            first_seen=NOW - timedelta(days=1),
        ),
        finding(
            source_id="fixed",
            cve_ids=("CVE-F",),
            in_kev=True,
            epss=1.0,
            state="fixed",
            fixed_at=NOW - timedelta(days=1),
        ),
    ]
    report = prioritize(rows, now=NOW, inventory=inventory())
    order = [i.cve_ids[0] for i in report.items]
    assert order == ["CVE-A2", "CVE-A1", "CVE-B1", "CVE-B2", "CVE-T", "CVE-F"]
    assert [i.rank for i in report.items] == [1, 2, 3, 4, 5, 6]
    assert report.by_decision == {"Act": 2, "Attend": 2, "Track*": 0, "Track": 1}


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_ranking_does_not_depend_on_input_order(rnd: random.Random) -> None:
    rows = [
        finding(
            source_id=f"r{i}",
            cve_ids=(f"CVE-{i % 5}",),
            repo=f"acme/r{i % 3}",
            in_kev=i % 4 == 0,
            epss=(i * 37 % 100) / 100,
            first_seen=NOW - timedelta(days=i % 11),
            scanner="snyk" if i % 2 else "dependabot",
            source="snyk" if i % 2 else "github",
        )
        for i in range(12)
    ]
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    first = prioritize(rows, now=NOW, inventory=inventory())
    second = prioritize(shuffled, now=NOW, inventory=inventory())
    assert [(i.key, i.rank, sorted(s.source_id for s in i.sources)) for i in first.items] == [
        (i.key, i.rank, sorted(s.source_id for s in i.sources)) for i in second.items
    ]


def test_new_and_fixed_this_week() -> None:
    rows = [
        finding(source_id="new", cve_ids=("CVE-N",), first_seen=NOW - timedelta(days=6, hours=23)),
        finding(source_id="old", cve_ids=("CVE-O",), first_seen=NOW - timedelta(days=7, hours=1)),
        finding(
            source_id="fix",
            cve_ids=("CVE-F",),
            first_seen=NOW - timedelta(days=20),
            state="fixed",
            fixed_at=NOW - timedelta(days=2),
        ),
        finding(
            source_id="dis",
            cve_ids=("CVE-D",),
            first_seen=NOW - timedelta(days=1),
            state="dismissed",
        ),
    ]
    report = prioritize(rows, now=NOW, inventory=inventory())
    assert [k.split("|")[-1] for k in report.new_this_week] == ["CVE-N"]
    assert [k.split("|")[-1] for k in report.fixed_this_week] == ["CVE-F"]


def test_policy_is_reported_with_the_result() -> None:
    report = prioritize([finding()], now=NOW, inventory=inventory(), policy=Policy())
    assert report.policy["sla_days"] == {"critical": 7, "high": 30, "medium": 90, "low": 120}
    assert replace(Policy(), recent_days=14).recent_days == 14


def test_a_report_of_some_severities_decides_those_items_alike() -> None:
    rows = [
        finding(
            source_id=f"r{i}",
            cve_ids=(f"CVE-{i % 12}",),  # rows i and i + 12 merge
            repo=f"acme/r{i % 2}",
            severity=("critical", "HIGH", "medium", "low")[i % 4],
            in_kev=i % 5 == 0,
            epss=(i * 37 % 100) / 100,
            first_seen=NOW - timedelta(days=i),
        )
        for i in range(24)
    ]
    full = prioritize(rows, now=NOW, inventory=inventory())
    some = prioritize(rows, now=NOW, inventory=inventory(), severities={"critical", "high"})
    wanted = [i for i in full.items if i.severity in ("critical", "high")]
    assert {i.severity for i in full.items} > {"critical", "high"}
    assert [i.model_dump(exclude={"rank"}) for i in some.items] == [
        i.model_dump(exclude={"rank"}) for i in wanted
    ]
    assert [i.rank for i in some.items] == list(range(1, len(wanted) + 1))
