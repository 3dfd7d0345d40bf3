"""Security queries on SQLite and PostgreSQL: the loose index scan, Core reads, shared inputs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cto_assistant.analytics.access import Grant
from cto_assistant.analytics.vulnerabilities import Policy, as_utc
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.queries import security as q

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def deployment_rows(seed: int, n: int = 300) -> list[dict[str, Any]]:
    """Deployments of a few services and repos, some without service, finish time or env."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        finished = NOW - timedelta(hours=rng.randint(1, 24 * 200))
        rows.append(
            {
                "source": "gh",
                "source_id": f"d{i}",
                "service": rng.choice(["shop", "ledger", "Search", None]),
                "repo": rng.choice(["acme/shop", "acme/Ledger", "acme/ledger", None]),
                "environment": rng.choice(["production", "Production", "staging", "prod", None]),
                "status": rng.choice(["success", "success", "success", "failure"]),
                "started_at": finished - timedelta(minutes=5),
                "finished_at": finished if rng.random() > 0.1 else None,
            }
        )
    return rows


def expected_last_deploys(rows: list[dict[str, Any]]) -> dict[str, dict[str, datetime]]:
    """Owner → environment → latest successful deploy, computed row by row."""
    out: dict[str, dict[str, datetime]] = {}
    for row in rows:
        if row["status"] != "success" or row["environment"] is None:
            continue
        owner = row["service"] or (f"repo:{row['repo'].lower()}" if row["repo"] else None)
        moment = row["finished_at"] or row["started_at"]
        if owner is None or moment is None:
            continue
        env = row["environment"].lower()
        current = out.setdefault(owner, {}).get(env)
        if current is None or moment > current:
            out[owner][env] = moment
    return out


def test_last_deploys_matches_a_row_by_row_reading(any_store: Store) -> None:
    for seed in (1, 2, 3):
        rows = deployment_rows(seed)
        with any_store.session() as session:
            upsert(session, "deployment", rows, synced_at=NOW)
        with any_store.session() as session:
            assert q.last_deploys(session=session) == expected_last_deploys(rows)


def test_last_deploys_of_an_empty_store_is_empty(any_store: Store) -> None:
    with any_store.session() as session:
        assert q.last_deploys(session=session) == {}


def test_rows_are_read_into_the_analytics_records(any_store: Store) -> None:
    used = NOW - timedelta(days=3)
    with any_store.session() as session:
        upsert(
            session,
            "access_grant",
            [
                {
                    "source": "aws",
                    "source_id": "g1",
                    "system": "aws",
                    "principal": "arn:aws:iam::1:user/ana",
                    "principal_type": "user",
                    "person_email": "ana@acme.io",
                    "role": "AdministratorAccess",
                    "privileged": True,
                    "mfa": False,
                    "last_used_at": used,
                },
                {
                    "source": "github",
                    "source_id": "g2",
                    "system": "github",
                    "principal": "bob",
                    "role": "member",
                },
            ],
        )
        upsert(
            session,
            "vulnerability",
            [
                {
                    "source": "snyk",
                    "source_id": "v1",
                    "scanner": "snyk",
                    "repo": "acme/shop",
                    "package": "lib",
                    "severity": "CRITICAL",
                    "cve_ids": ["cve-2026-1"],
                    "in_kev": True,
                    "first_seen": NOW - timedelta(days=2),
                    "state": "open",
                },
                {
                    "source": "snyk",
                    "source_id": "v2",
                    "scanner": "snyk",
                    "severity": "",
                    "first_seen": NOW - timedelta(days=400),
                    "state": "fixed",
                    "fixed_at": NOW - timedelta(days=300),
                },
            ],
        )
    with any_store.session() as session:
        grants = q.access_grants(session=session)
        assert grants[0] == Grant(
            source="aws",
            source_id="g1",
            system="aws",
            principal="arn:aws:iam::1:user/ana",
            principal_type="user",
            person_email="ana@acme.io",
            role="AdministratorAccess",
            privileged=True,
            mfa=False,
            last_used_at=used,
        )
        assert grants[1].privileged is False and grants[1].mfa is None
        assert [g.source_id for g in q.access_grants(session=session, systems=["github"])] == ["g2"]
        findings = q.vulnerability_findings(session=session, since=NOW - timedelta(days=180))
        assert [f.source_id for f in findings] == ["v1"]  # v2 was fixed long ago
        assert findings[0].severity == "critical"
        assert findings[0].cve_ids == ("cve-2026-1",)
        assert findings[0].in_kev is True
        assert as_utc(findings[0].first_seen) == NOW - timedelta(days=2)


def test_compliance_reads_the_same_with_inputs_passed_in(any_store: Store) -> None:
    severities = ["critical", "high", "medium", "low"]
    with any_store.session() as session:
        upsert(session, "deployment", deployment_rows(7), synced_at=NOW)
        upsert(
            session,
            "service",
            [
                {"source": "pd", "source_id": "s1", "name": "shop", "tier": 1, "repo": "acme/shop"},
                {"source": "pd", "source_id": "s2", "name": "ledger", "repo": "acme/ledger"},
            ],
        )
        upsert(
            session,
            "vulnerability",
            [
                {
                    "source": "snyk",
                    "source_id": f"v{i}",
                    "scanner": "snyk",
                    "repo": ["acme/shop", "acme/ledger"][i % 2],
                    "package": f"lib{i % 5}",
                    "severity": severities[i % 4],
                    "cve_ids": [f"CVE-2026-{i % 7}"],
                    "first_seen": NOW - timedelta(days=i),
                    "state": "open" if i % 3 else "fixed",
                    "fixed_at": None if i % 3 else NOW - timedelta(days=i / 2),
                }
                for i in range(40)
            ],
        )
    policy = Policy()
    with any_store.session() as session:
        alone = q.assess_compliance(session=session, now=NOW, policy=policy)
        inventory = q.service_inventory(session=session)
        report = q.prioritized_vulnerabilities(
            session=session, now=NOW, policy=policy, inventory=inventory
        )
        shared = q.assess_compliance(
            session=session,
            now=NOW,
            policy=policy,
            inventory=inventory,
            vulnerabilities=report,
            stored=q.stored_evidence(session=session),
        )
    assert shared.model_dump() == alone.model_dump()
    assert alone.checks["critical_vulns_remediated"].n_pass + (
        alone.checks["critical_vulns_remediated"].n_fail
    ) == sum(1 for i in report.items if i.severity == "critical")
