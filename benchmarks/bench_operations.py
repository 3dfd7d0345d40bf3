"""Operations benchmark: `cloud_spend` by service for a full year and `explain_cost_change`.

    .venv/bin/python benchmarks/bench_operations.py [--lines 2800] [--days 730] [--runs 15]

Builds a synthetic multi-million-row `cost_daily` in a migrated SQLite store (one row per cost
line per day, like a large company's Cost Explorer roll-up: `lines` x `days` rows), then times
the two tools through `call_tool` (p50/p95 over `runs`, after one warm-up) and reports peak RSS.
The floor is DuckDB running the same aggregations over the same rows held in memory.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from cto_assistant.settings import Settings
from cto_assistant.store import open_store
from cto_assistant.tools import operations  # registers the tools
from cto_assistant.tools.base import ToolContext, call_tool

SERVICES = [
    "Amazon Simple Storage Service",
    "Amazon Elastic Compute Cloud - Compute",
    "EC2 - Other",
    "Amazon Relational Database Service",
    "AWS Lambda",
    "Amazon CloudFront",
    "Amazon DynamoDB",
    "Amazon Elastic Container Service for Kubernetes",
    "AmazonCloudWatch",
    "Amazon ElastiCache",
    "Amazon Kinesis",
    "Amazon Redshift",
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]
TEAMS = ["PLAT", "PAY", "CHK", "IDN", "DATA", "MOB", "GRW", "SRE"]
TODAY = date(2026, 3, 18)


def build(path: Path, csv_path: Path, lines: int, days: int) -> int:
    """Fill `cost_daily` at `path` day by day and write the same rows to `csv_path`; count."""
    rng = random.Random(7)
    specs = []
    for index in range(lines):
        team = TEAMS[index % len(TEAMS)]
        specs.append(
            (
                SERVICES[index % len(SERVICES)],
                REGIONS[(index // 3) % len(REGIONS)],
                f"{100000000000 + index % 40}",
                f"Usage{index % 25}",
                team,
                f"project-{index % 60}",
                rng.uniform(1, 60),
            )
        )
    first = TODAY - timedelta(days=days)
    connection = sqlite3.connect(path)
    count = 0
    with csv_path.open("w") as handle:
        for offset in range(days):
            day = first + timedelta(days=offset)
            weekend = 0.85 if day.weekday() >= 5 else 1.0
            last_week = offset >= days - 7
            rows = []
            for index, (service, region, account, usage, team, project, base) in enumerate(specs):
                amount = base * weekend * (1 + 0.0005 * offset) * (0.96 + 0.08 * rng.random())
                if last_week and index % 97 == 0:
                    amount *= 1.4
                tags = json.dumps({"team": team, "project": project, "env": "prod"})
                rows.append(
                    (
                        "bench",
                        f"{day}|{index}",
                        day.isoformat(),
                        "aws",
                        account,
                        service,
                        region,
                        usage,
                        tags,
                        team,
                        project,
                        round(amount, 4),
                        round(amount * 0.9, 4),
                        "USD",
                    )
                )
            connection.executemany(
                "INSERT INTO cost_daily (source, source_id, day, provider, account, service, "
                "region, usage_type, tags, team, project, amortized_cost, unblended_cost, currency) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            handle.writelines("\t".join(str(v) for v in row) + "\n" for row in rows)
            count += len(rows)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    return count


def timed(function, runs: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds over `runs` calls after one warm-up."""
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[
        min(len(samples) - 1, round(0.95 * (len(samples) - 1)))
    ]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2800)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    assert operations.cloud_spend is not None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = open_store(f"sqlite:///{path}")
        frame_path = Path(folder) / "rows.tsv"
        started = time.perf_counter()
        count = build(path, frame_path, args.lines, args.days)
        print(f"built {count:,} cost rows in {time.perf_counter() - started:.1f} s")
        year_start, year_end = TODAY - timedelta(days=365), TODAY - timedelta(days=1)
        now = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
        with store.session() as session:
            ctx = ToolContext(session=session, settings=Settings(demo=True), now=now)
            spend_args = {"start": year_start, "end": year_end, "group_by": "service"}
            result = call_tool("cloud_spend", ctx, spend_args)
            assert result.status.value == "ok", result.summary
            print("cloud_spend:", result.summary)
            spend = timed(lambda: call_tool("cloud_spend", ctx, spend_args), args.runs)
            explained = call_tool("explain_cost_change", ctx, {})
            print("explain_cost_change:", explained.summary)
            explain = timed(lambda: call_tool("explain_cost_change", ctx, {}), args.runs)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        duck = duckdb.connect()
        duck.execute(
            f"CREATE TABLE cost_daily AS SELECT * FROM read_csv('{frame_path}', delim='\\t', "  # noqa: S608
            "header=false, quote='', escape='', columns={'source':'TEXT','source_id':'TEXT',"
            "'day':'DATE','provider':'TEXT','account':'TEXT','service':'TEXT','region':'TEXT',"
            "'usage_type':'TEXT','tags':'TEXT','team':'TEXT','project':'TEXT',"
            "'amortized_cost':'DOUBLE','unblended_cost':'DOUBLE','currency':'TEXT'})"
        )
        previous_start = year_start - timedelta(days=365)
        spend_sql = (
            "SELECT service, SUM(CASE WHEN day >= ? THEN amortized_cost ELSE 0 END), "
            "SUM(CASE WHEN day < ? THEN amortized_cost ELSE 0 END) FROM cost_daily "
            "WHERE day >= ? AND day <= ? GROUP BY service"
        )
        last = TODAY - timedelta(days=1)
        explain_sql = (
            "SELECT service, region, account, usage_type, team, project, provider, tags, "
            "SUM(CASE WHEN day < ? THEN amortized_cost ELSE 0 END), "
            "SUM(CASE WHEN day >= ? THEN amortized_cost ELSE 0 END) FROM cost_daily "
            "WHERE day >= ? AND day <= ? GROUP BY ALL"
        )
        duck_spend = timed(
            lambda: duck.execute(
                spend_sql, [year_start, year_start, previous_start, year_end]
            ).fetchall(),
            args.runs,
        )
        duck_explain = timed(
            lambda: duck.execute(
                explain_sql,
                [
                    last - timedelta(days=6),
                    last - timedelta(days=6),
                    last - timedelta(days=13),
                    last,
                ],
            ).fetchall(),
            args.runs,
        )
        store.dispose()
    print(f"rows: {count:,} ({args.lines} lines x {args.days} days)")
    print(
        f"cloud_spend (1 year by service): p50 {spend[0]:.0f} ms, p95 {spend[1]:.0f} ms; "
        f"DuckDB floor p50 {duck_spend[0]:.0f} ms (ratio {spend[0] / duck_spend[0]:.1f}x)"
    )
    print(
        f"explain_cost_change (week over week): p50 {explain[0]:.0f} ms, p95 {explain[1]:.0f} ms; "
        f"DuckDB floor p50 {duck_explain[0]:.0f} ms (ratio {explain[0] / duck_explain[0]:.1f}x)"
    )
    print(f"peak RSS of the tool runs: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
