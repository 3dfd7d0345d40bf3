"""Benchmark `dora_metrics` for every team on the large world: wall time and peak RSS.

Two phases, two processes, so the loader's memory does not count against the tool:
1. load: stream the large world's org, delivery and incident tables into a SQLite file
   (bulk inserts, then the lead-time facts a sync round would compute; skipped when the file
   already exists);
2. measure: a fresh process opens the file and calls `dora_metrics` (company with the per-team
   breakdown, then each team on its own), printing seconds per call and the process's peak RSS.

Usage: .venv/bin/python benchmarks/bench_dora.py [--db PATH] [--days 30] [--scale large]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

TABLES = (
    "team",
    "service",
    "repository",
    "deployment",
    "deployment_change",
    "pull_request",
    "commit",
    "incident",
)
TODAY = date(2026, 3, 2)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(db: Path, scale: str) -> None:
    """Stream the world's tables into a migrated SQLite store with bulk inserts."""
    import sqlalchemy as sa

    from cto_assistant.demo.world import build_world
    from cto_assistant.store import open_store
    from cto_assistant.store.lead_time_facts import (
        forget_all_lead_time_facts,
        refresh_stale_lead_time_facts,
    )
    from cto_assistant.store.models import SOURCED_TABLES

    started = time.perf_counter()
    world = build_world(seed=42, today=TODAY, scale=scale)  # type: ignore[arg-type]
    store = open_store(f"sqlite:///{db}")
    stamp = datetime.now().astimezone()
    for table in TABLES:
        model = SOURCED_TABLES[table]
        t0 = time.perf_counter()
        count = 0
        batch: list[dict[str, Any]] = []
        with store.session() as session:
            for row in world.rows(table):
                batch.append(dict(row, source="demo", synced_at=stamp))
                if len(batch) == 5000:
                    session.execute(sa.insert(model), batch)
                    count += len(batch)
                    batch = []
            if batch:
                session.execute(sa.insert(model), batch)
                count += len(batch)
        print(f"load {table:18s} {count:>10,d} rows {time.perf_counter() - t0:7.1f}s", flush=True)
    t0 = time.perf_counter()
    with store.session() as session:  # rows written around the store's functions
        forget_all_lead_time_facts(session)
    refresh_stale_lead_time_facts(store.session)  # as a sync round's end would
    print(f"load lead-time facts {time.perf_counter() - t0:27.1f}s", flush=True)
    store.dispose()
    print(
        f"load total {time.perf_counter() - started:.1f}s, loader peak RSS {peak_rss_mb():.0f} MiB"
    )


def measure(db: Path, days: int) -> None:
    """Time dora_metrics for the company (with every team) and for each team; print peak RSS."""
    import cto_assistant.tools.engineering  # noqa: F401  (registers the tools)
    from cto_assistant.demo.world import build_world
    from cto_assistant.settings import Settings
    from cto_assistant.store import open_store
    from cto_assistant.store.lead_time_facts import refresh_stale_lead_time_facts
    from cto_assistant.store.queries.engineering import team_names
    from cto_assistant.tools.base import ToolContext, call_tool

    now = build_world(seed=42, today=TODAY, scale="small").now
    store = open_store(f"sqlite:///{db}")  # a file loaded by an older version: migrated
    refresh_stale_lead_time_facts(store.session)  # and its facts computed
    baseline = peak_rss_mb()
    with store.session() as session:
        ctx = ToolContext(session=session, settings=Settings(demo=True), now=now)
        t0 = time.perf_counter()
        result = call_tool("dora_metrics", ctx, {"days": days})
        whole = time.perf_counter() - t0
        teams = result.data["breakdown"] if result.data else []
        print(
            f"dora_metrics(all teams, days={days}): {whole:.2f}s, {len(teams)} teams, "
            f"{result.data['report']['deployments'] if result.data else 0} deployments; "
            f"{result.summary}"
        )
        timings = []
        for key in sorted(team_names(session=session)):
            t1 = time.perf_counter()
            call_tool("dora_metrics", ctx, {"team": key, "days": days})
            timings.append(time.perf_counter() - t1)
        timings.sort()
        print(
            f"dora_metrics(team=…) x{len(timings)}: median {timings[len(timings) // 2]:.3f}s, "
            f"max {timings[-1]:.3f}s, total {sum(timings):.1f}s"
        )
        levels: dict[str, int] = {}
        for row in teams:
            levels[str(row["level"])] = levels.get(str(row["level"]), 0) + 1
        print(f"team levels: {levels}")
    print(f"measure peak RSS {peak_rss_mb():.0f} MiB (after opening the store: {baseline:.0f} MiB)")


def main(argv: list[str] | None = None) -> int:
    """Load (once) and measure in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "cto-bench-dora" / "large.db"
    )
    parser.add_argument("--scale", choices=["small", "large"], default="large")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--phase", choices=["all", "load", "measure"], default="all")
    args = parser.parse_args(argv)
    if args.phase in ("all", "load") and not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        load(args.db, args.scale)
    if args.phase == "load":
        return 0
    if args.phase == "measure":
        measure(args.db, args.days)
        return 0
    return subprocess.call(
        [
            sys.executable,
            __file__,
            "--db",
            str(args.db),
            "--days",
            str(args.days),
            "--phase",
            "measure",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
