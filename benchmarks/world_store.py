"""Build (or reuse) a SQLite store holding the large Acme Cloud world, for the benchmarks.

    .venv/bin/python benchmarks/world_store.py [--scale large|small] [--today 2026-03-18]

The store lives under benchmarks/.world/ (gitignored) and is reused while it exists: building the
large world takes minutes. Rows go in with plain multi-row INSERTs (the store is empty, so an
upsert would be an insert anyway); each table is tagged with the source that feeds it in a sync,
and what a sync round derives from the rows (the deployment changes' lead-time facts) follows.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cto_assistant.store import Store, open_store
from cto_assistant.store.lead_time_facts import (
    forget_all_lead_time_facts,
    refresh_stale_lead_time_facts,
)
from cto_assistant.store.models import SOURCED_TABLES, Base

WORLD_DIR = Path(__file__).parent / ".world"
TODAY = date(2026, 3, 18)
CHUNK = 20_000
SOURCES = {
    "access_grant": "aws_iam",
    "advisory": "threat_intel",
    "budget": "aws",
    "commit": "github",
    "control": "compliance",
    "control_evidence": "compliance",
    "cost_anomaly": "aws",
    "cost_daily": "aws",
    "cost_forecast": "aws",
    "cost_recommendation": "aws",
    "dependency": "github",
    "deployment": "github",
    "deployment_change": "github",
    "epic": "jira",
    "host_health": "datadog",
    "incident": "pagerduty",
    "incident_event": "pagerduty",
    "monitor": "datadog",
    "oncall_shift": "pagerduty",
    "person": "jira",
    "pull_request": "github",
    "quality_snapshot": "sonarqube",
    "repository": "github",
    "review": "github",
    "service": "pagerduty",
    "slo": "datadog",
    "sli_point": "datadog",
    "sprint": "jira",
    "team": "jira",
    "ticket": "jira",
    "ticket_transition": "jira",
    "vulnerability": "snyk",
}


def store_path(scale: str, today: date) -> Path:
    """Where the world store of `scale` as of `today` is cached."""
    return WORLD_DIR / f"{scale}-{today.isoformat()}.db"


def bring_up_to_date(store: Store) -> None:
    """Apply the migrations a cached store lacks, create tables and indexes the models have but
    it predates, record the schema as the newest migration's (so `cto` processes on this store
    do not migrate again), and compute the lead-time facts still stale."""
    from alembic import command

    from cto_assistant.store.db import alembic_config

    store.migrate()
    Base.metadata.create_all(store.engine, checkfirst=True)
    with store.engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                index.create(connection, checkfirst=True)
    command.stamp(alembic_config(str(store.url)), "head")
    refresh_stale_lead_time_facts(store.session)


def build(scale: str, today: date, *, log: Any = print) -> tuple[Path, int, float]:
    """Load the world of `scale` into a fresh store; return (path, rows, seconds)."""
    from cto_assistant.demo.world import build_world

    path = store_path(scale, today)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = open_store(f"sqlite:///{partial}")
    world = build_world(seed=42, today=today, scale=scale)  # type: ignore[arg-type]
    total = 0
    for table in world.tables():
        model = SOURCED_TABLES.get(table)
        if model is None:
            continue
        sa_table: sa.Table = model.__table__  # type: ignore[attr-defined]
        source = SOURCES.get(table, "demo")
        count = 0
        chunk: list[dict[str, Any]] = []
        table_started = time.perf_counter()
        with store.session() as session:
            for row in world.rows(table):
                chunk.append({**row, "source": source, "synced_at": world.now})
                if len(chunk) >= CHUNK:
                    session.execute(sa.insert(sa_table), chunk)
                    count += len(chunk)
                    chunk = []
            if chunk:
                session.execute(sa.insert(sa_table), chunk)
                count += len(chunk)
        total += count
        log(f"{table:22s} {count:>10,d} rows {time.perf_counter() - table_started:7.1f}s")
    with store.session() as session:  # rows written around the store's functions
        forget_all_lead_time_facts(session)
    refresh_stale_lead_time_facts(store.session)  # as a sync round's end would
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    store.dispose()
    partial.rename(path)
    return path, total, time.perf_counter() - started


def ensure(scale: str = "large", today: date = TODAY, *, log: Any = print) -> Path:
    """The cached world store, built first when missing."""
    path = store_path(scale, today)
    if not path.exists():
        build(scale, today, log=log)
    return path


def main() -> None:
    """Build the world store (unless cached) and print where it is."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "large"], default="large")
    parser.add_argument("--today", type=date.fromisoformat, default=TODAY)
    args = parser.parse_args()
    started = time.perf_counter()
    path = ensure(args.scale, args.today)
    print(f"{path} ready in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
