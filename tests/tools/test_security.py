"""Security tools on a real SQLite store: hand-built rows, the demo world, real scanner output."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import vendor_spec

from cto_assistant.analytics.vulnerabilities import Finding, Inventory, ServiceFacts, prioritize
from cto_assistant.errors import ToolError
from cto_assistant.settings import Settings
from cto_assistant.store import Store, open_store
from cto_assistant.store.db import upsert
from cto_assistant.store.models import Control, ControlEvidence
from cto_assistant.store.queries.security import evaluate_controls
from cto_assistant.tools import security as tools
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolStatus, call_tool

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
WORM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
SECURITY_TOOLS = (
    "vulnerabilities",
    "security_posture",
    "threat_intel",
    "compliance_status",
    "access_audit",
)


@pytest.fixture
def ctx(sqlite_store: Store) -> Iterator[ToolContext]:
    with sqlite_store.session() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=NOW)


def vuln(source_id: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": "snyk",
        "source_id": source_id,
        "scanner": "snyk",
        "external_id": f"SNYK-JAVA-{source_id}",
        "title": "Remote code execution",
        "repo": "acme/shop",
        "package": "org.example:lib",
        "version": "1.0.0",
        "fixed_version": "1.0.1",
        "severity": "critical",
        "cvss": 9.8,
        "cvss_vector": WORM,
        "cve_ids": ["CVE-2026-0001"],
        "first_seen": NOW - timedelta(days=2),
        "state": "open",
    }
    row.update(kw)
    return row


def seed(ctx: ToolContext) -> None:
    s = ctx.session
    upsert(
        s,
        "service",
        [
            {
                "source": "pd",
                "source_id": "S1",
                "name": "shop",
                "team_key": "CHK",
                "tier": 1,
                "repo": "acme/shop",
                "environments": ["staging", "production"],
                "internet_facing": True,
            },
            {
                "source": "pd",
                "source_id": "S2",
                "name": "ledger",
                "team_key": "PAY",
                "tier": 1,
                "repo": "acme/ledger",
                "environments": ["production"],
                "internet_facing": False,
            },
        ],
    )
    upsert(
        s,
        "repository",
        [
            {
                "source": "gh",
                "source_id": "1",
                "provider": "github",
                "full_name": "acme/shop",
                "service": "shop",
                "team_key": "CHK",
                "branch_protected": True,
                "required_reviews": 1,
            },
            {
                "source": "gh",
                "source_id": "2",
                "provider": "github",
                "full_name": "acme/ledger",
                "service": "ledger",
                "team_key": "PAY",
                "branch_protected": False,
                "required_reviews": 0,
            },
        ],
    )
    upsert(
        s,
        "deployment",
        [
            {
                "source": "gh",
                "source_id": "d1",
                "service": "shop",
                "environment": "production",
                "status": "success",
                "finished_at": NOW - timedelta(days=1),
            },
            {
                "source": "gh",
                "source_id": "d2",
                "service": "ledger",
                "environment": "production",
                "status": "success",
                "finished_at": NOW - timedelta(days=3),
            },
        ],
    )
    upsert(
        s,
        "vulnerability",
        [
            vuln("a"),
            vuln(
                "acme/shop/dependabot/1",
                source="github",
                scanner="dependabot",
                external_id="GHSA-xxxx-yyyy-zzzz",
                version="< 1.0.1",
            ),
            vuln(
                "b",
                repo="acme/ledger",
                cve_ids=["CVE-2026-0002"],
                severity="high",
                cvss=7.5,
                cvss_vector="CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N",
                first_seen=NOW - timedelta(days=40),
            ),
            vuln(
                "c",
                cve_ids=["CVE-2025-9"],
                state="fixed",
                first_seen=NOW - timedelta(days=12),
                fixed_at=NOW - timedelta(days=3),
            ),
        ],
    )
    upsert(
        s,
        "advisory",
        [
            {
                "source": "cisa",
                "source_id": "kev:CVE-2026-0001",
                "feed": "kev",
                "cve_ids": ["CVE-2026-0001"],
                "kev": True,
                "published": NOW - timedelta(days=1),
                "product": "Example Lib",
                "title": "Example RCE",
            },
            {
                "source": "osv",
                "source_id": "GHSA-xxxx-yyyy-zzzz",
                "feed": "osv",
                "cve_ids": ["CVE-2026-0001"],
                "published": NOW - timedelta(days=3),
                "severity": "critical",
                "title": "RCE in lib",
                "affected": [
                    {
                        "ecosystem": "Maven",
                        "package": "org.example:lib",
                        "ranges": [{"introduced": "0", "fixed": "1.0.1"}],
                    }
                ],
            },
            {
                "source": "first",
                "source_id": "epss:CVE-2026-0001",
                "feed": "epss",
                "cve_ids": ["CVE-2026-0001"],
                "epss": 0.72,
                "published": NOW - timedelta(days=1),
            },
        ],
    )
    upsert(
        s,
        "dependency",
        [
            {
                "source": "gh",
                "source_id": "acme/shop:maven:org.example:lib",
                "repo": "acme/shop",
                "ecosystem": "maven",
                "package": "org.example:lib",
                "version": "1.0.0",
            },
        ],
    )
    upsert(
        s,
        "person",
        [
            {
                "source": "pd",
                "source_id": "P1",
                "name": "Omar Singh",
                "email": "omar@acme.cloud",
                "active": False,
                "left_at": date(2026, 1, 9),
            },
            {"source": "pd", "source_id": "P2", "name": "Olga L", "email": "olga@acme.cloud"},
        ],
    )
    upsert(
        s,
        "access_grant",
        [
            {
                "source": "aws",
                "source_id": "aws:omar",
                "system": "aws",
                "principal": "user/omar",
                "principal_type": "user",
                "person_email": "omar@acme.cloud",
                "role": "AdministratorAccess",
                "privileged": True,
                "mfa": True,
                "last_used_at": NOW - timedelta(days=60),
            },
            {
                "source": "aws",
                "source_id": "aws:olga",
                "system": "aws",
                "principal": "user/olga",
                "principal_type": "user",
                "person_email": "olga@acme.cloud",
                "role": "AdministratorAccess",
                "privileged": True,
                "mfa": False,
                "last_used_at": NOW - timedelta(days=1),
            },
            {
                "source": "pg",
                "source_id": "pg:olga",
                "system": "postgres:prod",
                "principal": "olga",
                "principal_type": "user",
                "person_email": "olga@acme.cloud",
                "role": "rds_superuser",
                "privileged": True,
                "last_used_at": NOW,
            },
        ],
    )
    s.flush()


# ----------------------------------------------------------------------------- contract


def test_every_security_tool_is_registered_documented_and_typed() -> None:
    for name in SECURITY_TOOLS:
        spec = REGISTRY[name]
        assert spec.domain == "security" and spec.description and not spec.writes
    args = REGISTRY["vulnerabilities"].json_schema()["properties"]
    assert {"repo", "service", "severity", "environment", "state", "limit", "sla_days"} == set(args)
    assert args["state"]["default"] == "open" and args["limit"]["default"] == 50
    assert REGISTRY["threat_intel"].json_schema()["properties"]["days"]["default"] == 30


@pytest.mark.parametrize("name", SECURITY_TOOLS)
def test_nothing_synced_is_no_data_not_zero(ctx: ToolContext, name: str) -> None:
    result = call_tool(name, ctx, {})
    assert result.status is ToolStatus.NO_DATA
    assert result.summary.startswith("N/A")


# ----------------------------------------------------------------------------- vulnerabilities


def test_vulnerabilities_dedup_enrich_and_explain(ctx: ToolContext) -> None:
    seed(ctx)
    result = call_tool("vulnerabilities", ctx, {"service": "SHOP"})
    assert result.status is ToolStatus.OK
    data = result.data
    assert data["total"] == 1 and data["scanner_rows"] == 4
    (item,) = data["items"]
    assert item["decision"] == "Act" and item["in_kev"] and item["epss"] == 0.72
    assert sorted(s["scanner"] for s in item["sources"]) == ["dependabot", "snyk"]
    assert item["reasons"][:2] == [
        f"in CISA KEV (added {(NOW - timedelta(days=1)).date().isoformat()})",
        f"running in production on an internet-facing service (last successful production deploy {(NOW - timedelta(days=1)).date().isoformat()})",
    ]
    assert "2 days open, SLA 7 (5 days left)" in item["reasons"]
    assert result.summary.startswith(
        "1 open vulnerability in shop (1 Act); top: CVE-2026-0001 in org.example:lib [Act]"
    )
    assert data["n_new_this_week"] == 1 and data["n_fixed_this_week"] == 1
    assert result.chart is not None and result.chart["$schema"].endswith("v6.json")


def test_vulnerability_filters_and_sla_argument(ctx: ToolContext) -> None:
    seed(ctx)
    assert call_tool("vulnerabilities", ctx, {"repo": "ledger"}).data["total"] == 1
    assert (
        call_tool("vulnerabilities", ctx, {"severity": "high"}).data["items"][0]["repo"]
        == "acme/ledger"
    )
    assert call_tool("vulnerabilities", ctx, {"environment": "prod"}).data["total"] == 2
    assert call_tool("vulnerabilities", ctx, {"environment": "staging"}).data["total"] == 0
    assert call_tool("vulnerabilities", ctx, {"state": "fixed"}).data["total"] == 1
    assert call_tool("vulnerabilities", ctx, {"state": "all", "limit": 1}).data["total"] == 3
    assert call_tool("vulnerabilities", ctx, {}).data["sla_breaches"] == 1  # the 40-day-old high
    strict = call_tool("vulnerabilities", ctx, {"sla_days": {"critical": 1}})
    assert strict.data["sla_breaches"] == 2 and strict.data["policy"]["sla_days"]["critical"] == 1
    bad = call_tool("vulnerabilities", ctx, {"sla_days": {"urgent": 1}})
    assert bad.status is ToolStatus.ERROR and "unknown severity" in bad.summary


def test_sla_from_the_installation_settings(ctx: ToolContext) -> None:
    seed(ctx)
    ctx.extras["security"] = {"sla_days": {"high": 60}}
    assert call_tool("vulnerabilities", ctx, {}).data["sla_breaches"] == 0


def test_unknown_entities_list_close_candidates(ctx: ToolContext) -> None:
    seed(ctx)
    result = call_tool("vulnerabilities", ctx, {"service": "shopp"})
    assert result.status is ToolStatus.ERROR and result.data["candidates"] == ["shop"]
    assert "Did you mean shop?" in result.summary
    assert call_tool("vulnerabilities", ctx, {"repo": "acme/nothing"}).status is ToolStatus.ERROR
    assert call_tool("access_audit", ctx, {"system": "awz"}).data["candidates"] == ["aws"]
    assert call_tool("compliance_status", ctx, {"framework": "pci"}).data["candidates"] == [
        "iso27001",
        "soc2",
    ]


# ----------------------------------------------------------------------------- posture, intel


def test_security_posture_and_threat_intel(ctx: ToolContext) -> None:
    seed(ctx)
    posture = call_tool("security_posture", ctx, {})
    assert posture.status is ToolStatus.OK
    assert posture.summary.startswith(
        "2 open critical/high vulnerabilities (1 critical, 1 high), 1 past SLA; riskiest: shop (risk 10)"
    )
    assert posture.data["weights"]["Act"] == 10.0
    assert {c["framework"] for c in posture.data["compliance"]} == {"soc2", "iso27001"}
    intel = call_tool("threat_intel", ctx, {"days": 7})
    assert intel.status is ToolStatus.OK and intel.data["total"] == 1
    assert intel.summary.startswith(
        "1 of 1 threats from the last 7 days touch our stack; top: CVE-2026-0001 (in CISA KEV)"
    )
    assert "org.example:lib@1.0.0 in acme/shop is in the affected range" in intel.summary
    assert intel.data["summary_paragraph"].startswith("1 of 1 threats published in the last 7 days")


# ----------------------------------------------------------------------------- access, compliance


def test_access_audit_ranks_findings_and_filters_systems(ctx: ToolContext) -> None:
    seed(ctx)
    result = call_tool("access_audit", ctx, {})
    titles = [f["title"] for f in result.data["findings"]]
    assert titles[:2] == [
        "Departed Omar Singh (user/omar) still holds AWS admin",
        "Olga L (user/olga): AWS admin without MFA",
    ]
    assert result.data["privileged_by_system"] == {"aws": 2, "postgres:prod": 1}
    only_db = call_tool("access_audit", ctx, {"system": "postgres"})
    assert (
        only_db.data["privileged_by_system"] == {"postgres:prod": 1}
        and only_db.data["n_findings"] == 0
    )


def test_evaluate_controls_keeps_history_and_access_drift(ctx: ToolContext) -> None:
    seed(ctx)
    first = evaluate_controls(ctx.session, NOW - timedelta(days=1))
    again = evaluate_controls(ctx.session, NOW - timedelta(days=1))  # same moment: same rows
    count = ctx.session.scalar(sa.select(sa.func.count()).select_from(ControlEvidence))
    assert first.snapshot_written and not again.snapshot_written
    assert count == first.evidence  # deterministic ids: nothing duplicated
    stored = {c.source_id: c.status for c in ctx.session.scalars(sa.select(Control))}
    assert stored["soc2:CC6.1"] == "failing" and stored["soc2:CC6.2"] == "failing"
    # Omar's access is removed and a new superuser appears; the next evaluation records it
    ctx.session.execute(sa.text("DELETE FROM access_grant WHERE source_id = 'aws:omar'"))
    upsert(
        ctx.session,
        "access_grant",
        [
            {
                "source": "pg",
                "source_id": "pg:new",
                "system": "postgres:prod",
                "principal": "new_admin",
                "principal_type": "user",
                "person_email": "olga@acme.cloud",
                "role": "rds_superuser",
                "privileged": True,
            },
        ],
    )
    before_eval = call_tool("access_audit", ctx, {})
    drift = before_eval.data["drift"]
    assert [a["principal"] for a in drift["added"]] == ["new_admin"]
    assert [r["principal"] for r in drift["removed"]] == ["user/omar"]
    second = evaluate_controls(ctx.session, NOW)
    assert second.snapshot_written
    after_eval = call_tool(
        "access_audit", ctx, {}
    )  # still compared with the snapshot before the change
    assert after_eval.data["drift"]["removed"][0]["principal"] == "user/omar"
    assert "1 removed" in after_eval.summary
    status = call_tool("compliance_status", ctx, {"framework": "SOC 2"})
    assert len({h["day"] for h in status.data["history"]}) == 2
    assert status.chart is not None and status.chart["mark"]["type"] == "line"


def test_compliance_status_points_at_the_failing_evidence(ctx: ToolContext) -> None:
    seed(ctx)
    result = call_tool("compliance_status", ctx, {"framework": "iso"})
    assert [f["framework"] for f in result.data["frameworks"]] == ["iso27001"]
    failing = {f["control_id"]: f for f in result.data["failing_controls"]}
    assert [e["subject"] for e in failing["A.8.5"]["evidence"]] == ["aws:user/olga"]
    assert [e["subject"] for e in failing["A.5.18"]["evidence"]] == ["omar@acme.cloud"]
    assert [e["subject"] for e in failing["A.8.32"]["evidence"]] == ["acme/ledger"]
    evidence = failing["A.8.32"]["evidence"][0]
    assert evidence["detail"]["branch_protected"] is False and evidence["collected_at"]
    assert result.summary.startswith("ISO 27001 ")


def test_export_bundle_for_an_auditor(ctx: ToolContext) -> None:
    seed(ctx)
    evaluate_controls(ctx.session, NOW - timedelta(days=1))
    bundle = tools.export_compliance_evidence(ctx.session, "soc2", "zip", now=NOW)
    assert (
        bundle.filename == "soc2-evidence-20260302T1200Z.zip"
        and bundle.media_type == "application/zip"
    )
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for name, digest in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
        rows = list(csv.DictReader(io.StringIO(archive.read("evidence.csv").decode())))
        history = list(csv.DictReader(io.StringIO(archive.read("history.csv").decode())))
    mfa = [r for r in rows if r["control_id"] == "CC6.1" and r["evidence_status"] == "fail"]
    assert [r["subject"] for r in mfa] == ["aws:user/olga"] and mfa[0]["collected_at"]
    assert history and all(r["framework"] == "soc2" for r in history)
    as_json = json.loads(
        tools.export_compliance_evidence(ctx.session, "SOC 2", "json", now=NOW).content
    )
    assert as_json["posture"]["framework"] == "soc2" and as_json["controls"]
    assert tools.export_compliance_evidence(ctx.session, "soc2", "csv", now=NOW).content.startswith(
        b"framework,control_id"
    )
    with pytest.raises(ToolError):
        tools.export_compliance_evidence(ctx.session, "pci", "csv", now=NOW)


def test_security_summary_for_the_executive_summary(ctx: ToolContext) -> None:
    assert tools.security_summary(ctx)["status"] == "nominal"  # nothing synced: no alarm
    seed(ctx)
    summary = tools.security_summary(ctx)
    assert summary["status"] == "critical"
    assert summary["reasons"][0] == "1 exploited (KEV) vulnerability in production"
    assert summary["vulnerabilities"]["new_critical_this_week"] == 1
    assert summary["access"]["critical"] == 1
    assert set(summary["compliance"]) == {"soc2", "iso27001"}


# ----------------------------------------------------------------------------- the demo world

DEMO_TABLES = (
    "team", "person", "service", "repository", "deployment", "vulnerability", "advisory", "dependency",
    "access_grant", "control", "control_evidence", "incident", "slo", "monitor",
)  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Any]]:
    world_module = pytest.importorskip("cto_assistant.demo.world")
    world = world_module.build_world(seed=42, today=date(2026, 3, 2))
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'cto.db'}")
    with store.session() as session:
        for table in DEMO_TABLES:
            upsert(session, table, [dict(row, source="demo") for row in world.rows(table)])
    yield store, world
    store.dispose()


@pytest.fixture
def demo_ctx(demo: tuple[Store, Any]) -> Iterator[ToolContext]:
    store, world = demo
    with store.sessions() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=world.now)
        session.rollback()


def test_demo_three_new_criticals_two_in_checkout_the_kev_one_first(
    demo_ctx: ToolContext, demo: tuple[Store, Any]
) -> None:
    world = demo[1]
    result = call_tool("vulnerabilities", demo_ctx, {"severity": "critical"})
    new = result.data["new_this_week"]
    assert sorted(i["cve_ids"][0] for i in new) == sorted(
        world.extras["storylines"]["new_critical_cves"]
    )
    assert sum(1 for i in new if i["service"] == "checkout-service") == 2
    first = result.data["items"][0]
    assert (first["service"], first["environment"], first["in_kev"], first["decision"]) == (
        "checkout-service",
        "production",
        True,
        "Act",
    )
    assert first["rank"] == 1 and sorted(s["scanner"] for s in first["sources"]) == [
        "dependabot",
        "snyk",
    ]
    assert first["reasons"][0].startswith("in CISA KEV")
    assert first["reasons"][1].startswith("running in production on an internet-facing service")
    assert "fix available in 5.3.39" in first["reasons"]
    checkout = call_tool(
        "vulnerabilities", demo_ctx, {"service": "checkout-service", "severity": "critical"}
    )
    assert [i["environment"] for i in checkout.data["items"]] == ["production", "staging"]
    assert checkout.summary.startswith(
        "2 open critical vulnerabilities in checkout-service (1 Act, 1 Track)"
    )
    overall = call_tool("vulnerabilities", demo_ctx, {})
    assert overall.data["items"][0]["key"] == first["key"]  # first of everything, too


def test_demo_access_findings_top_three(demo_ctx: ToolContext, demo: tuple[Store, Any]) -> None:
    story = demo[1].extras["storylines"]
    result = call_tool("access_audit", demo_ctx, {})
    top = result.data["findings"][:3]
    assert (top[0]["kind"], top[0]["system"], top[0]["person"]) == (
        "leaver_privileged",
        "aws",
        story["departed_admin"],
    )
    assert [f["kind"] for f in top[1:]] == ["privileged_without_mfa"] * 2
    assert sorted(f["person"] for f in top[1:]) == sorted(story["admins_without_mfa"])


def test_demo_failing_controls_point_at_the_exact_evidence(
    demo_ctx: ToolContext, demo: tuple[Store, Any]
) -> None:
    story = demo[1].extras["storylines"]
    result = call_tool("compliance_status", demo_ctx, {})
    failing = {(f["framework"], f["control_id"]): f for f in result.data["failing_controls"]}
    mfa_people = sorted(e["detail"]["person"] for e in failing[("soc2", "CC6.1")]["evidence"])
    assert mfa_people == sorted(story["admins_without_mfa"])
    assert [e["subject"] for e in failing[("iso27001", "A.5.18")]["evidence"]] == [
        story["departed_admin"]
    ]
    unprotected = {e["subject"] for e in failing[("soc2", "CC8.1")]["evidence"]}
    assert unprotected and all(
        not e["detail"]["branch_protected"] for e in failing[("soc2", "CC8.1")]["evidence"]
    )
    assert unprotected <= {"acme/incident-bot", "acme/design-system", "acme/marketing-site"}
    by_framework = {f["framework"]: f for f in result.data["frameworks"]}
    assert by_framework["soc2"]["posture_pct"] > 50 and by_framework["iso27001"]["posture_pct"] > 50
    # evidence-only checks are filled by the demo's collected evidence, with its date
    review = next(c for c in by_framework["soc2"]["controls"] if c["control_id"] == "CC6.3")
    check = next(r for r in review["check_results"] if r["check"] == "privileged_access_review")
    assert check["basis"] == "evidence collected by demo" and check["collected_at"]


def test_demo_threat_intel_leads_with_the_kev_spring_advisory(demo_ctx: ToolContext) -> None:
    result = call_tool("threat_intel", demo_ctx, {"days": 30})
    top = result.data["items"][0]
    assert top["kev"] and top["confirmed"]
    assert "acme/checkout-service" in top["repos"]
    assert "org.springframework:spring-beans@5.3.17" in result.data["summary_paragraph"]
    assert result.data["not_ours"] >= 3  # recent Ivanti, Citrix, vm2 … entries do not touch us
    assert all(i["key"] != "" and i["matches"] for i in result.data["items"])


# ----------------------------------------------------------------------------- real scanner output


def _finding(row: dict[str, Any]) -> Finding:
    names = {f.name for f in fields(Finding)}
    values = {k: v for k, v in row.items() if k in names}
    values["cve_ids"] = tuple(values.get("cve_ids") or ())
    values["severity"] = str(values.get("severity") or "low")
    return Finding(**values)


def _load(*parts: str) -> Any:
    path: Path = vendor_spec(*parts)
    return json.loads(path.read_text())


def test_real_snyk_issues_run_through_prioritization() -> None:
    mapping = pytest.importorskip("cto_assistant.connectors.snyk.mapping")
    rows = [
        mapping.vulnerability(i, source="snyk")
        for i in _load("snyk", "defectdojo_fixtures", "snyk_sca_scan_api_many_vuln.json")["data"]
    ]
    rows += [
        mapping.vulnerability(i, source="snyk")
        for i in _load("snyk", "defectdojo_fixtures", "snyk_sca_scan_api_single_vuln.json")["data"]
    ]
    findings = [replace(_finding(r), repo="acme/etl") for r in rows]
    inventory = Inventory(
        services={
            "etl": ServiceFacts(
                "etl", internet_facing=True, repo="acme/etl", last_deploy={"production": NOW}
            )
        },
        repo_service={"acme/etl": "etl"},
    )
    report = prioritize(findings, now=NOW, inventory=inventory)
    assert report.n_rows == 6 and report.n_items == 5  # the single-issue page repeats CVE-2023-4863
    webp = next(i for i in report.items if "CVE-2023-4863" in i.cve_ids)
    # in KEV, mature exploit, needs user interaction (UI:R), total impact, internet-facing prod → Act
    assert (
        webp.exploitation.value,
        webp.automatable.value,
        webp.technical_impact.value,
        webp.decision,
    ) == (
        "active",
        "no",
        "total",
        "Act",
    )
    h11 = next(i for i in report.items if "CVE-2025-43859" in i.cve_ids)  # CVSS 4.0 vector
    assert h11.state == "fixed" and h11.technical_impact.value == "total"
    code = [
        mapping.vulnerability(i, source="snyk")
        for i in _load("snyk", "defectdojo_fixtures", "snyk_code_scan_api_many_vuln.json")["data"]
    ]
    code_report = prioritize([_finding(r) for r in code], now=NOW)
    assert code_report.n_items == len(code) and all(
        i.decision in ("Track", "Track*") for i in code_report.items
    )


def test_real_github_alerts_dedupe_with_snyk_across_sources() -> None:
    gh = pytest.importorskip("cto_assistant.connectors.github.mapping")
    snyk = pytest.importorskip("cto_assistant.connectors.snyk.mapping")
    alerts = _load("github", "defectdojo_fixtures", "code_scanning_github_sast_many_vul.json")
    scanning = [
        gh.code_scanning_alert(a, source="github", stream="code_scanning_alerts") for a in alerts
    ]
    report = prioritize([_finding(r) for r in scanning], now=NOW)
    assert report.n_items == len(scanning) and report.items[0].sources[0].scanner == "code_scanning"
    # a Dependabot alert in GitHub's shape for the same CVE as the real Snyk issue merges with it
    (issue,) = _load("snyk", "defectdojo_fixtures", "snyk_sca_scan_api_single_vuln.json")["data"]
    snyk_row = dict(snyk.vulnerability(issue, source="snyk"), repo="acme/etl")
    alert = {
        "number": 7,
        "state": "open",
        "created_at": "2025-09-12T08:00:00Z",
        "html_url": "https://github.com/acme/etl/security/dependabot/7",
        "url": "https://api.github.com/repos/acme/etl/dependabot/alerts/7",
        "security_advisory": {
            "ghsa_id": "GHSA-j7hp-h8jx-5ppr",
            "severity": "high",
            "summary": "libwebp heap overflow",
            "identifiers": [
                {"type": "GHSA", "value": "GHSA-j7hp-h8jx-5ppr"},
                {"type": "CVE", "value": "CVE-2023-4863"},
            ],
            "cvss": {"score": 8.8, "vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"},
        },
        "security_vulnerability": {
            "package": {"ecosystem": "pip", "name": "Pillow"},
            "severity": "high",
            "vulnerable_version_range": "< 10.0.1",
            "first_patched_version": {"identifier": "10.0.1"},
        },
    }
    bot_row = gh.dependabot_alert(alert, source="github", stream="dependabot_alerts")
    merged = prioritize([_finding(snyk_row), _finding(bot_row)], now=NOW)
    (item,) = merged.items
    assert sorted(s.scanner for s in item.sources) == ["dependabot", "snyk"]
    assert (item.severity, item.cvss, item.version, item.fixed_version) == (
        "critical",
        9.6,
        "9.5.0",
        "10.0.1",
    )
    assert item.state == "open"  # Snyk ignores it, Dependabot still reports it open


def test_a_leaver_is_a_leaver_if_any_source_says_so(sqlite_store: Store) -> None:
    from cto_assistant.store.queries.security import people

    base = {"name": "Omar Singh", "email": "Omar.Singh@acme.example"}
    with sqlite_store.session() as session:
        upsert(
            session,
            "person",
            [
                {
                    "source": "catalog",
                    "source_id": "o",
                    **base,
                    "active": False,
                    "left_at": date(2026, 1, 31),
                }
            ],
        )
        upsert(
            session, "person", [{"source": "pagerduty", "source_id": "P1", **base, "active": True}]
        )
        [omar] = people(session=session)
    assert omar.email == "omar.singh@acme.example"
    assert omar.active is False and omar.left_at == date(2026, 1, 31)


def test_the_executive_summary_counts_every_new_critical_not_only_the_top_rows(
    ctx: ToolContext,
) -> None:
    """With more critical vulnerabilities than a page of rows, the summary and the security
    posture still agree on how many are new this week (the new ones rank last here)."""
    from cto_assistant.tools.base import call_tool
    from cto_assistant.tools.catalog import load_tools

    load_tools()
    seed(ctx)
    old = [vuln(f"O{i}", external_id=f"SNYK-OLD-{i}", package=f"org.old:lib{i}",
                cve_ids=[f"CVE-2025-{1000 + i}"], first_seen=NOW - timedelta(days=60))
           for i in range(60)]  # fmt: skip
    new = [vuln(f"N{i}", external_id=f"SNYK-NEW-{i}", package=f"org.new:lib{i}", cvss=9.0,
                cvss_vector=None, cve_ids=[f"CVE-2026-{2000 + i}"], repo="acme/ledger")
           for i in range(3)]  # fmt: skip
    upsert(ctx.session, "vulnerability", old + new)
    posture = call_tool("security_posture", ctx, {})
    summary = call_tool("executive_summary", ctx, {})
    signal = next(s for s in summary.data["signals"] if s["key"] == "vulns")
    new_in_posture = posture.data["new_critical_this_week"]
    assert signal["value"] == str(new_in_posture)
    assert new_in_posture == 1 + 3  # the seeded one and these three
