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
    writers: dict[str, tuple[gzip.GzipFile, csv.writer]] = {}  # type: ignore[valid-type]
    paths: list[Path] = []
    try:
        for row in world.rows("cost_daily"):
            provider = row["provider"]
            if provider == "aws":
                continue
            if provider not in writers:
                path = folder / f"focus-{provider}.csv.gz"
                handle = gzip.open(path, "wt", newline="")  # noqa: SIM115 - closed below
                writer = csv.writer(handle)
                writer.writerow(COLUMNS)
                writers[provider] = (handle, writer)  # type: ignore[assignment]
                paths.append(path)
            day: date = row["day"]
            month_start, month_end = _month_bounds(day)
            name = PROVIDER_NAMES.get(provider, provider)
            writers[provider][1].writerow(  # type: ignore[attr-defined]
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
        for handle, _writer in writers.values():
            handle.close()
    return paths
