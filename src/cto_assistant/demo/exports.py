"""Billing exports of the demo world: the multi-cloud costs as FinOps FOCUS 1.x files.

Acme Cloud runs mostly on AWS (served by the Cost Explorer simulator) and partly on GCP and
Azure. A real company gets those as FOCUS exports in a bucket; the demo writes the same files
(one gzip CSV per provider) so the FOCUS importer runs exactly as it would on real exports.
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from cto_assistant.demo.world import World

PROVIDER_NAMES = {"gcp": "Google Cloud", "azure": "Microsoft", "oci": "Oracle"}
COLUMNS = (
    "BillingAccountId",
    "SubAccountId",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ServiceName",
    "RegionId",
    "x_UsageType",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "Tags",
)


def _month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def write_focus_exports(world: World, folder: Path) -> list[Path]:
    """Write one FOCUS CSV (gzip) per non-AWS provider of the world; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    handles: dict[str, TextIO] = {}
    writers: dict[str, Any] = {}  # provider → csv writer
    paths: list[Path] = []
    try:
        for row in world.rows("cost_daily"):
            provider = row["provider"]
            if provider == "aws":
                continue
            if provider not in writers:
                path = folder / f"focus-{provider}.csv.gz"
                handles[provider] = gzip.open(path, "wt", newline="")  # noqa: SIM115 - closed below
                writers[provider] = csv.writer(handles[provider])
                writers[provider].writerow(COLUMNS)
                paths.append(path)
            day: date = row["day"]
            month_start, month_end = _month_bounds(day)
            name = PROVIDER_NAMES.get(provider, provider)
            writers[provider].writerow(
                (
                    row.get("account") or "",
                    row.get("account") or "",
                    name,
                    name,
                    name,
                    f"{day.isoformat()}T00:00:00Z",
                    f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z",
                    f"{month_start.isoformat()}T00:00:00Z",
                    f"{month_end.isoformat()}T00:00:00Z",
                    "Usage",
                    row.get("service") or "",
                    row.get("region") or "",
                    row.get("usage_type") or "",
                    repr(float(row["unblended_cost"])),
                    repr(float(row["amortized_cost"])),
                    row.get("currency") or "USD",
                    json.dumps(row.get("tags") or {}, sort_keys=True),
                )
            )
    finally:
        for handle in handles.values():
            handle.close()
    return paths


def write_catalog(world: World, path: Path) -> Path:
    """Write the world's organisation as the catalog file a company keeps (JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog = {
        "teams": [
            {
                "key": t["key"],
                "name": t["name"],
                "jira_project": t.get("jira_project"),
                "lead_email": t.get("lead_email"),
                "slack_channel": t.get("slack_channel"),
                "pagerduty_schedule": t.get("pagerduty_schedule"),
            }
            for t in world.rows("team")
        ],
        "people": [
            {
                "email": p["email"],
                "name": p["name"],
                "team": p.get("team_key"),
                "role": p.get("role"),
                "active": bool(p.get("active", True)),
                "started": _iso(p.get("started_at")),
                "left": _iso(p.get("left_at")),
                "github_login": p.get("github_login"),
                "jira_account_id": p.get("jira_account_id"),
                "pagerduty_id": p.get("pagerduty_id"),
                "timezone": p.get("timezone"),
            }
            for p in world.rows("person")
        ],
        "services": [
            {
                "name": s["name"],
                "team": s.get("team_key"),
                "tier": s.get("tier"),
                "repo": s.get("repo"),
                "environments": list(s.get("environments") or []),
                "internet_facing": bool(s.get("internet_facing")),
                "description": s.get("description"),
            }
            for s in world.rows("service")
        ],
        "repositories": [
            {
                "full_name": r["full_name"],
                "provider": r.get("provider") or "github",
                "service": r.get("service"),
                "team": r.get("team_key"),
                "default_branch": r.get("default_branch"),
                "language": r.get("language"),
            }
            for r in world.rows("repository")
        ],
    }
    catalog["budgets"] = [
        {
            "name": b["name"],
            "amount": float(b["amount"]),
            "period": b.get("period") or "monthly",
            "currency": b.get("currency") or "USD",
            "scope": dict(b.get("scope") or {}),
        }
        for b in world.rows("budget")
    ]
    path.write_text(json.dumps(catalog, indent=1))
    return path


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def write_evidence(world: World, path: Path) -> Path | None:
    """Write the world's evidence for checks we cannot evaluate from synced data (a GRC export)."""
    from cto_assistant.compliance import load_catalogue

    checks = load_catalogue().checks
    entries = [
        {
            "framework": row["framework"],
            "control_id": row["control_id"],
            "check": row["check"],
            "subject": row.get("subject"),
            "status": row["status"],
            "evidence": dict(row.get("evidence") or {}),
            "collected_at": row["collected_at"].isoformat(),
        }
        for row in world.rows("control_evidence")
        if row["check"] in checks and not checks[row["check"]].automated
    ]
    if not entries:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=1))
    return path
