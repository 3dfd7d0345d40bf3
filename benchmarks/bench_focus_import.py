"""FOCUS import benchmark: a 1,000,000-row FOCUS CSV through `import_focus` into SQLite.

    .venv/bin/python benchmarks/bench_focus_import.py [--rows N] [--keep DIR]

Prints the import's rows/s and its ratio to a plain DuckDB scan + aggregate of the same file
(the same GROUP BY the importer runs, without parsing tags or writing the store): the ratio says
how much the store write and the row mapping cost on top of DuckDB itself.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from cto_assistant.connectors.focus.importer import import_focus
from cto_assistant.connectors.focus.mapping import _columns, _relation_sql, connect, rollup_sql
from cto_assistant.store import open_store

SERVICES = [
    ("Amazon Simple Storage Service", "Storage"),
    ("Amazon Elastic Compute Cloud", "Compute"),
    ("Amazon Relational Database Service", "Databases"),
    ("AWS Lambda", "Compute"),
    ("Amazon CloudFront", "Networking"),
    ("Amazon DynamoDB", "Databases"),
    ("Amazon Elastic Kubernetes Service", "Compute"),
    ("Amazon CloudWatch", "Management and Governance"),
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1", ""]
TEAMS = ["platform", "payments", "checkout", "identity", "data", "mobile", "growth", "sre"]


def generate(path: Path, rows: int) -> None:
    """Write a FOCUS 1.0-shaped CSV of `rows` rows with DuckDB (deterministic)."""
    services = ", ".join(f"('{s}', '{c}')" for s, c in SERVICES)
    regions = "[" + ", ".join(f"'{r}'" for r in REGIONS) + "]"
    teams = "[" + ", ".join(f"'{t}'" for t in TEAMS) + "]"
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
          WITH s(name, category) AS (VALUES {services}),
          svc AS (SELECT row_number() OVER () - 1 AS k, name, category FROM s)
          SELECT 'billing-1' AS BillingAccountId, 'USD' AS BillingCurrency,
                 '2026-01-01T00:00:00Z' AS BillingPeriodStart, '2026-02-01T00:00:00Z' AS BillingPeriodEnd,
                 CASE WHEN i % 97 = 0 THEN 'Credit' ELSE 'Usage' END AS ChargeCategory,
                 svc.name || ' usage' AS ChargeDescription,
                 strftime(TIMESTAMP '2026-01-01' + INTERVAL (i % 744) HOUR, '%Y-%m-%dT%H:00:00Z') AS ChargePeriodStart,
                 strftime(TIMESTAMP '2026-01-01' + INTERVAL (i % 744 + 1) HOUR, '%Y-%m-%dT%H:00:00Z') AS ChargePeriodEnd,
                 round(CASE WHEN i % 97 = 0 THEN -((i % 13) * 0.37) ELSE ((i * 7919) % 10007) / 1000.0 END, 6) AS BilledCost,
                 round(CASE WHEN i % 97 = 0 THEN -((i % 13) * 0.37) ELSE ((i * 7919) % 10007) / 1100.0 END, 6) AS EffectiveCost,
                 'AWS' AS ProviderName, 'AWS' AS PublisherName, 'AWS' AS InvoiceIssuerName,
                 svc.name AS ServiceName, svc.category AS ServiceCategory,
                 {regions}[1 + (i % {len(REGIONS)})] AS RegionId,
                 lpad(CAST(100000000000 + (i % 6) AS VARCHAR), 12, '0') AS SubAccountId,
                 'Usage-' || (i % 5) AS x_UsageType,
                 '{{"user:team": "' || {teams}[1 + (i % {len(TEAMS)})] ||
                   '", "user:project": "p' || (i % 4) || '"}}' AS Tags
          FROM range({rows}) t(i) JOIN svc ON svc.k = i % {len(SERVICES)}
        ) TO '{path}' (HEADER, DELIMITER ',')
        """  # noqa: S608 - generated literals only
    )
    con.close()


def duckdb_baseline(path: Path) -> tuple[float, int]:
    """Seconds for DuckDB alone to scan the file and run the importer's GROUP BY."""
    con = connect()
    started = time.perf_counter()
    relation = _relation_sql(path)
    groups = con.execute(rollup_sql(relation, _columns(con, relation))).fetchall()
    seconds = time.perf_counter() - started
    con.close()
    return seconds, len(groups)


def main() -> None:
    """Generate, import, compare, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Folder to keep the files in.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="focus-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "focus-1m.csv"
    started = time.perf_counter()
    generate(csv_path, args.rows)
    print(
        f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f}s"
    )

    base_seconds, groups = duckdb_baseline(csv_path)
    store = open_store(f"sqlite:///{folder / 'bench.db'}")
    result = import_focus(store, [csv_path])
    again = import_focus(store, [csv_path])  # a re-import replaces: the steady-state case
    store.dispose()

    rate = result.source_rows / result.seconds
    print(
        f"duckdb scan+aggregate: {base_seconds:.2f}s ({args.rows / base_seconds:,.0f} rows/s, {groups:,} groups)"
    )
    print(
        f"import (first):        {result.seconds:.2f}s ({rate:,.0f} rows/s → {result.rows_written:,} cost_daily rows)"
    )
    print(
        f"import (replace):      {again.seconds:.2f}s ({again.source_rows / again.seconds:,.0f} rows/s, "
        f"{again.files[0].rows_replaced:,} rows replaced)"
    )
    print(f"ratio import/duckdb:   {result.seconds / base_seconds:.2f}x")


if __name__ == "__main__":
    main()
