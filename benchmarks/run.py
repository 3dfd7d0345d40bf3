"""`make bench`: the scale benchmark, end to end, written to benchmarks/results/REPORT.md + report.json.

    .venv/bin/python benchmarks/run.py [--scale large|small] [--runs 15] [--skip sync,focus,cli]

1. Build (or reuse, under benchmarks/.world/) the world store; bring its schema up to date and
   build the cost rollup (timed: what a first sync after upgrading pays once).
2. Heavy tools in-process, no cache: p50/p95 each; `cloud_spend` and `explain_cost_change` also
   with the rollup switched off (the baseline: raw `cost_daily` rows) and against DuckDB.
3. The dashboard data endpoint (`GET /api/dashboard`) over HTTP (TestClient, signed in): cold
   (cache emptied before each call: every widget computed, side by side), the first load after
   a sync once the warmer (web/warm.py) has run, and warm; plus the warm-up's own duration.
   Then the same page in Chromium (bench_browser): time to every widget rendered, bytes; and
   N users against a live server while an import writes (bench_load).
4. `cto ask` router + tool call in-process over the evaluation set, and a few `cto ask --json`
   processes end to end.
5. A full sync of the small demo world through the vendor simulators over loopback HTTP, then an
   incremental re-sync: seconds and requests per 1,000 records.
6. FOCUS import rows/s against a DuckDB scan of the same file (bench_focus_import).
Peak memory is the peak RSS of this process (the server-side work all runs in it); each tool's
peak allocation is tracemalloc's peak over one separate, untimed call.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import world_store  # noqa: E402

from cto_assistant.settings import Settings  # noqa: E402
from cto_assistant.store import open_store  # noqa: E402
from cto_assistant.store.queries import operations as cost_queries  # noqa: E402
from cto_assistant.store.rollup import (  # noqa: E402
    bump_data_version,
    data_version,
    refresh_cost_rollup,
)
from cto_assistant.tools.base import ToolContext, call_tool  # noqa: E402
from cto_assistant.tools.catalog import load_tools  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_MS = 300.0
PAGE_BUDGET_MS = 200  # what the dashboard page asks for (web/static/js/dashboard.js BUDGET_MS)
HEAVY_TOOLS: list[tuple[str, dict[str, Any]]] = [
    ("cloud_spend", {"start": "YEAR_START", "end": "YEAR_END", "group_by": "service"}),
    ("cloud_spend", {}),
    ("explain_cost_change", {}),
    ("cost_forecast", {}),
    ("cost_anomalies", {}),
    ("savings_opportunities", {}),
    ("dora_metrics", {}),
    ("dora_metrics", {"team": "PAY"}),
    ("pr_insights", {}),
    ("sprint_status", {}),
    ("sprint_status", {"team": "PAY"}),
    ("epic_status", {"epic": "Q2-Payments-Refactor"}),
    ("code_quality", {}),
    ("vulnerabilities", {"severity": "critical"}),
    ("security_posture", {}),
    ("compliance_status", {}),
    ("access_audit", {}),
    ("slo_status", {}),
    ("active_incidents", {}),
    ("incident_stats", {}),
    ("on_call", {}),
    ("on_call", {"team": "PLAT"}),
    ("infrastructure_health", {}),
    ("timeline", {}),
    ("executive_summary", {}),
]


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def peak_allocation_mb(function: Callable[[], Any]) -> float:
    """Peak Python memory allocated during one call (tracemalloc; a separate, untimed call)."""
    tracemalloc.start()
    try:
        function()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def summarize_ms(samples: list[float]) -> dict[str, float]:
    """p50/p95/max of millisecond samples, rounded as the report prints them."""
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
        "runs": len(samples),
    }


def timed(
    function: Callable[[], Any], runs: int, *, before: Callable[[], Any] | None = None
) -> dict[str, float]:
    """p50/p95/max in ms over `runs` calls after one warm-up (`before` runs untimed each time)."""
    if before:
        before()
    function()
    samples = []
    for _ in range(runs):
        if before:
            before()
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return summarize_ms(samples)


@contextmanager
def rollup_disabled() -> Iterator[None]:
    """Answer every cost query from raw cost_daily rows (the baseline)."""
    original = cost_queries.cost_rollup_usable
    cost_queries.cost_rollup_usable = lambda session: False  # type: ignore[assignment]
    try:
        yield
    finally:
        cost_queries.cost_rollup_usable = original


def resolve(arguments: dict[str, Any], today: date) -> dict[str, Any]:
    """Fill the placeholders of a tool's benchmark arguments."""
    values = {"YEAR_START": today - timedelta(days=365), "YEAR_END": today - timedelta(days=1)}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in arguments.items()}


def label(name: str, arguments: dict[str, Any]) -> str:
    """`tool(arg=value, …)` for the report."""
    shown = ", ".join(f"{k}={v}" for k, v in arguments.items())
    return f"{name}({shown})"


# ---------------------------------------------------------------------------------- parts


def bench_tools(store: Any, now: datetime, runs: int) -> dict[str, Any]:
    """Each heavy tool's p50/p95 without the cache; cost tools also on raw rows."""
    load_tools()
    today = now.date()
    found: dict[str, Any] = {}
    settings = Settings(demo=True)
    with store.session() as session:

        def call(name: str, arguments: dict[str, Any]) -> Any:
            """One call as a user's: a fresh context, so nothing is reused from the last one."""
            return call_tool(
                name, ToolContext(session=session, settings=settings, now=now), arguments
            )

        for name, raw_arguments in HEAVY_TOOLS:
            arguments = resolve(raw_arguments, today)
            try:
                result = call(name, arguments)
            except Exception as exc:  # a tool bug is a finding of the run, not its end
                found[label(name, raw_arguments)] = {"status": f"crashed: {exc!r}"[:160]}
                continue
            entry: dict[str, Any] = {
                "status": result.status.value,
                "summary": result.summary[:160],
                **timed(lambda n=name, a=arguments: call(n, a), runs),
                "peak_alloc_mb": peak_allocation_mb(lambda n=name, a=arguments: call(n, a)),
            }
            if name in ("cloud_spend", "explain_cost_change"):
                with rollup_disabled():
                    entry["baseline"] = timed(
                        lambda n=name, a=arguments: call(n, a), max(3, runs // 3)
                    )
            found[label(name, raw_arguments)] = entry
            print(
                f"  {label(name, raw_arguments):60s} p50 {entry['p50_ms']:7.1f}  p95 {entry['p95_ms']:7.1f}",
                flush=True,
            )
    return found


def bench_duckdb(store_path: Path, today: date, runs: int) -> dict[str, Any]:
    """The floor: DuckDB aggregating the same cost rows (scanned from the SQLite file)."""
    import sqlite3

    import duckdb

    dump = Path(tempfile.mkdtemp(prefix="bench-duck-")) / "cost.tsv"
    source = sqlite3.connect(store_path)
    with dump.open("w") as handle:
        cursor = source.execute(
            "SELECT day, service, region, account, usage_type, team, project, provider, "
            "replace(replace(tags, char(9), ' '), char(10), ' '), amortized_cost FROM cost_daily"
        )
        while batch := cursor.fetchmany(100_000):
            handle.writelines(
                "\t".join("" if v is None else str(v) for v in row) + "\n" for row in batch
            )
    source.close()
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE cost AS SELECT * FROM read_csv('{dump}', delim='\\t', header=false, "  # noqa: S608
        "quote='', escape='', columns={'day':'DATE','service':'TEXT','region':'TEXT',"
        "'account':'TEXT','usage_type':'TEXT','team':'TEXT','project':'TEXT',"
        "'provider':'TEXT','tags':'TEXT','amortized_cost':'DOUBLE'})"
    )
    rows = con.execute("SELECT count(*) FROM cost").fetchone()[0]  # type: ignore[index]
    year_start, year_end = today - timedelta(days=365), today - timedelta(days=1)
    spend = timed(
        lambda: con.execute(
            "SELECT service, SUM(CASE WHEN day >= ? THEN amortized_cost ELSE 0 END), "
            "SUM(CASE WHEN day < ? THEN amortized_cost ELSE 0 END) FROM cost "
            "WHERE day >= ? AND day <= ? GROUP BY service",
            [year_start, year_start, year_start - timedelta(days=365), year_end],
        ).fetchall(),
        runs,
    )
    last = today - timedelta(days=1)
    explain = timed(
        lambda: con.execute(
            "SELECT service, region, account, usage_type, team, project, provider, tags, "
            "SUM(CASE WHEN day < ? THEN amortized_cost ELSE 0 END), "
            "SUM(CASE WHEN day >= ? THEN amortized_cost ELSE 0 END) FROM cost "
            "WHERE day >= ? AND day <= ? GROUP BY ALL",
            [last - timedelta(days=6), last - timedelta(days=6), last - timedelta(days=13), last],
        ).fetchall(),
        runs,
    )
    con.close()
    return {"cost_rows": rows, "cloud_spend_year_by_service": spend, "explain_cost_change": explain}


def bench_dashboard(store: Any, now: datetime, runs: int) -> dict[str, Any]:
    """GET /api/dashboard over HTTP: cold, just restarted, warm, and around a sync."""
    from bench_app import PASSWORD, bench_app, forget_answers
    from fastapi.testclient import TestClient

    from cto_assistant.store.rollup import bump_data_version
    from cto_assistant.web import events

    app, username = bench_app(store, now, name="web", role="admin")
    password = PASSWORD
    with TestClient(app) as client:
        page = client.get("/login")
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the sign-in form"
        client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        first = client.get("/api/dashboard")
        assert first.status_code == 200, first.text[:300]
        widgets = first.json()["widgets"]
        states = {name: w.get("state") for name, w in widgets.items()}
        per_widget = {name: w.get("elapsed_ms") for name, w in widgets.items()}

        restarted = timed(
            lambda: client.get("/api/dashboard"),
            runs,
            before=lambda: forget_answers(app, store, shared=False),
        )
        cold = timed(
            lambda: client.get("/api/dashboard"),
            runs,
            before=lambda: forget_answers(app, store, shared=True),
        )
        # As the page asks when nothing is computed: what it has within its budget, then each
        # widget it still lacks on its own (the browser fetches those side by side).
        first_paint: list[float] = []
        complete: list[float] = []
        pending: list[int] = []
        for _ in range(max(3, runs // 3)):
            forget_answers(app, store, shared=True)
            started = time.perf_counter()
            body = client.get(f"/api/dashboard?budget_ms={PAGE_BUDGET_MS}").json()
            first_paint.append((time.perf_counter() - started) * 1000)
            missing = [name for name, shown in body["widgets"].items() if shown.get("pending")]
            for name in missing:
                client.get(f"/api/widgets/{name}")
            complete.append((time.perf_counter() - started) * 1000)
            pending.append(len(missing))
        cold_page = {
            "first_paint": summarize_ms(first_paint),
            "complete": summarize_ms(complete),
            "widgets_pending": pending,
            "budget_ms": PAGE_BUDGET_MS,
        }
        warm = timed(lambda: client.get("/api/dashboard"), runs)
        size = len(client.get("/api/dashboard").content)
        warm_ups: list[float] = []

        def sync_then_warm() -> None:
            """What a finished sync does: a new data version, then the `sync_finished` event."""
            with store.session() as session:
                bump_data_version(session)
            events.publish("sync_finished", {"sources": ["bench"]})
            assert app.state.warmer.wait_idle(300), "the warm-up did not finish in 5 minutes"
            warm_ups.append(app.state.warmer.last_ms)

        after_sync = timed(
            lambda: client.get("/api/dashboard"), max(3, runs // 3), before=sync_then_warm
        )
        loads: list[Any] = []

        def sync_only() -> None:
            """A sync just committed; its warm-up starts but is not waited for."""
            app.state.warmer.wait_idle(300)
            app.state.tool_cache.wait_revalidated(300)
            with store.session() as session:
                bump_data_version(session)
            events.publish("sync_finished", {"sources": ["bench"]})

        right_after_sync = timed(
            lambda: loads.append(client.get("/api/dashboard")), max(3, runs // 3), before=sync_only
        )
        app.state.warmer.wait_idle(300)
        refreshing = [
            sum(1 for w in load.json()["widgets"].values() if w.get("refreshing")) for load in loads
        ]
    return {
        "cold": cold,
        "cold_page": cold_page,
        "restarted": restarted,
        "warm": warm,
        "after_sync": after_sync,
        "right_after_sync": right_after_sync | {"widgets_refreshing": refreshing},
        "warm_up_ms": {
            "p50_ms": round(statistics.median(warm_ups), 1),
            "max_ms": round(max(warm_ups), 1),
        },
        "widgets": len(widgets),
        "widget_states": states,
        "cold_widget_ms": per_widget,
        "response_bytes": size,
    }


def bench_assistant(store: Any, now: datetime, cli_runs: int, sample: int = 1) -> dict[str, Any]:
    """Router + tool in-process over the evaluation set; a sample of `cto ask` processes."""
    from tests.assistant.evaluation import conversations

    from cto_assistant.assistant.service import Assistant

    settings = Settings(demo=True, clock=now, log_level="ERROR")
    assistant = Assistant(store, settings)
    router = assistant.router()
    routing: list[float] = []
    answered: list[float] = []
    questions: list[str] = []
    for index, turns in enumerate(conversations()):
        if index % sample:
            continue
        conversation_id = None
        for case in turns:
            if case.get("tool") == "create_jira_ticket":
                continue  # writes to Jira: not a read latency
            started = time.perf_counter()
            router.route(case["q"], now=now)
            routing.append((time.perf_counter() - started) * 1000)
            assistant.cache.clear()  # every question pays its tool call
            started = time.perf_counter()
            reply = assistant.ask(case["q"], conversation_id=conversation_id)
            answered.append((time.perf_counter() - started) * 1000)
            conversation_id = reply.conversation_id
            questions.append(case["q"])

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
            "runs": len(values),
        }

    found: dict[str, Any] = {"router": summary(routing), "router_and_tool": summary(answered)}
    if cli_runs:
        env = {
            **os.environ,
            "CTO_DATABASE_URL": str(store.url),
            "CTO_CLOCK": now.isoformat(),
            "CTO_LOG_LEVEL": "ERROR",
            "CTO_DEMO": "true",
        }
        cto = str(Path(sys.executable).with_name("cto"))
        cli: list[float] = []
        for question in questions[:: max(1, len(questions) // cli_runs)][:cli_runs]:
            started = time.perf_counter()
            subprocess.run(
                [cto, "ask", "--json", question], env=env, check=True, capture_output=True
            )
            cli.append((time.perf_counter() - started) * 1000)
        found["cto_ask_process"] = summary(cli)
    return found


def bench_sync(scale: str = "small") -> dict[str, Any]:
    """A full sync of a demo world over loopback HTTP, then an incremental re-sync."""
    from cto_assistant.demo.run import prepare_demo
    from cto_assistant.sync.engine import SyncEngine

    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    started = time.perf_counter()
    run = prepare_demo(
        Settings(data_dir=folder, log_level="ERROR"),
        seed=42,
        today=world_store.TODAY,
        scale=scale,
        separate_process=True,
    )
    total = time.perf_counter() - started
    records = sum(r.records for r in run.results)
    requests = sum(r.requests for r in run.results)
    failed = sorted({f"{r.source}/{r.stream}" for r in run.results if not r.ok})
    from cto_assistant.connectors.registry import configured_connectors

    engine = SyncEngine(run.store, configured_connectors(run.settings), now=run.settings.now)
    started = time.perf_counter()
    again = engine.run()
    incremental = time.perf_counter() - started
    run.served.stop()
    run.store.dispose()
    return {
        "world": f"{scale} (seed 42)",
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "demo_prepare_seconds": round(total, 1),
        "records": records,
        "requests": requests,
        "requests_per_1000_records": round(1000 * requests / max(records, 1), 1),
        "failed_streams": failed,
        "incremental_seconds": round(incremental, 1),
        "incremental_requests": sum(r.requests for r in again),
        "incremental_records": sum(r.records for r in again),
    }


def bench_focus(rows: int) -> dict[str, Any]:
    """FOCUS import rows/s vs a DuckDB scan + aggregate of the same file."""
    import bench_focus_import as focus

    from cto_assistant.connectors.focus.importer import import_focus

    folder = Path(tempfile.mkdtemp(prefix="bench-focus-"))
    csv_path = folder / "focus.csv"
    focus.generate(csv_path, rows)
    base_seconds, _groups = focus.duckdb_baseline(csv_path)
    store = open_store(f"sqlite:///{folder / 'bench.db'}")
    result = import_focus(store, [csv_path])
    again = import_focus(store, [csv_path])
    store.dispose()
    return {
        "rows": rows,
        "duckdb_seconds": round(base_seconds, 2),
        "import_seconds": round(result.seconds, 2),
        "import_rows_per_second": round(rows / result.seconds),
        "reimport_seconds": round(again.seconds, 2),
        "ratio": round(result.seconds / base_seconds, 2),
    }


# --------------------------------------------------------------------------------- report


def verdict(value: float | None, target: float) -> str:
    """✅ under target, ❌ over."""
    if value is None:
        return "—"
    return "✅" if value < target else "❌"


def sync_section(sync: dict[str, Any] | None) -> list[str]:
    """The Markdown of one sync measurement (none when the part did not run)."""
    if not sync:
        return []
    world = sync.get("world", "small (seed 42)")
    return [
        f"## Sync ({world.split()[0]} world through the vendor simulators over loopback HTTP)",
        "",
        *([f"Measured {sync['ran_at']} (`--sync-scale large`, kept by later runs)."]
          if world.startswith("large") and "ran_at" in sync else []),
        f"Full sync: **{sync['demo_prepare_seconds']} s** wall clock (world build, simulators "
        f"and sync through the real connectors) for {sync['records']:,} records and "
        f"{sync['requests']:,} requests = **{sync['requests_per_1000_records']} "
        "requests per 1,000 records**. "
        f"Incremental re-sync of the unchanged world: **{sync['incremental_seconds']} s** "
        f"({sync['incremental_requests']:,} requests, {sync['incremental_records']:,} records; "
        "target < 30 s on the large world). "
        + (f"Failed streams: {', '.join(sync['failed_streams'])}." if sync["failed_streams"] else ""),
        "",
    ]  # fmt: skip


PART_KEYS = {"sync": ("sync", "sync_large")}  # a --skip part → the report keys it fills


def carry_over(report: dict[str, Any], skipped: set[str]) -> None:
    """Keep, from the previous report.json, the figures of the parts this run does not measure
    (skipped ones, and the large-world sync that only `--sync-scale large` measures), each
    labelled with the run that measured it."""
    previous_path = RESULTS / "report.json"
    if not previous_path.exists():
        return
    previous = json.loads(previous_path.read_text())
    keys = {"sync_large"} | {key for part in skipped for key in PART_KEYS.get(part, (part,))}
    report["peak_rss_carried_mb"] = max(
        previous.get("peak_rss_mb", 0), previous.get("peak_rss_carried_mb", 0)
    )
    for key in sorted(keys):
        if key in previous:
            report[key] = previous[key]
            own = previous[key].get("ran_at") if isinstance(previous[key], dict) else None
            measured = own or previous.get("carried", {}).get(key) or previous.get("ran_at", "?")
            report.setdefault("carried", {})[key] = measured


def write_report(report: dict[str, Any]) -> None:
    """REPORT.md and report.json under benchmarks/results/."""
    report["peak_rss_mb"] = max(round(peak_rss_mb()), report.get("peak_rss_carried_mb", 0))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    lines = [
        "# Benchmark report",
        "",
        f"Run {report['ran_at']} on {report['machine']} — world: {report['world']}.",
        "Regenerate with `make bench` (see benchmarks/run.py for what each figure measures).",
        *(
            [
                "Kept from earlier runs (not measured in this one): "
                + ", ".join(f"{key} ({at})" for key, at in sorted(report["carried"].items()))
                + "."
            ]
            if report.get("carried")
            else []
        ),
        "",
    ]
    setup = report.get("setup", {})
    if setup:
        lines += [
            f"Store: {setup['cost_rows']:,} cost rows; rollup built in {setup['rollup_seconds']} s "
            f"({setup['rollup_rows']:,} rollup rows); store file {setup['store_mb']:,} MB.",
            "",
        ]
    tools = report.get("tools", {})
    if tools:
        lines += [
            "## Tools (in-process, no cache; target p95 < 300 ms)",
            "",
            "| tool | p50 ms | p95 ms | target | peak alloc MB | baseline p50 / p95 ms (raw rows) | status |",
            "|---|---:|---:|---|---:|---|---|",
        ]
        for name, entry in tools.items():
            if "p50_ms" not in entry:
                lines.append(f"| `{name}` | | | | | | {entry['status']} |")
                continue
            base = entry.get("baseline")
            base_text = f"{base['p50_ms']} / {base['p95_ms']}" if base else ""
            lines.append(
                f"| `{name}` | {entry['p50_ms']} | {entry['p95_ms']} | "
                f"{verdict(entry['p95_ms'], TARGET_MS)} | {entry.get('peak_alloc_mb', '')} | "
                f"{base_text} | {entry['status']} |"
            )
        duck = report.get("duckdb")
        if duck:
            lines += [
                "",
                f"DuckDB floor over the same {duck['cost_rows']:,} rows: year by service p50 "
                f"{duck['cloud_spend_year_by_service']['p50_ms']} ms, week-over-week slices p50 "
                f"{duck['explain_cost_change']['p50_ms']} ms.",
            ]
        lines.append("")
    dash = report.get("dashboard")
    if dash:
        lines += [
            "## Dashboard data endpoint (`GET /api/dashboard`, over HTTP)",
            "",
            "| case | p50 ms | p95 ms | target p95 < 300 ms |",
            "|---|---:|---:|---|",
            f"| cold (nothing computed anywhere yet: the first start after the first sync) | {dash['cold']['p50_ms']} | {dash['cold']['p95_ms']} | {verdict(dash['cold']['p95_ms'], TARGET_MS)} |",
            *(
                [
                    f"| cold, as the page asks (`?budget_ms={dash['cold_page']['budget_ms']}`): first paint, {statistics.median(dash['cold_page']['widgets_pending']):.0f} of {dash['widgets']} widgets still loading | {dash['cold_page']['first_paint']['p50_ms']} | {dash['cold_page']['first_paint']['p95_ms']} | {verdict(dash['cold_page']['first_paint']['p95_ms'], TARGET_MS)} |",
                    f"| cold, as the page asks: every widget in (the loading ones fetched on their own) | {dash['cold_page']['complete']['p50_ms']} | {dash['cold_page']['complete']['p95_ms']} | |",
                ]
                if "cold_page" in dash
                else []
            ),
            *(
                [
                    f"| web process just started (empty memory; the answers another process shared in the store) | {dash['restarted']['p50_ms']} | {dash['restarted']['p95_ms']} | {verdict(dash['restarted']['p95_ms'], TARGET_MS)} |"
                ]
                if "restarted" in dash
                else []
            ),
            *(
                [
                    f"| first load after a sync (warmer done) | {dash['after_sync']['p50_ms']} | {dash['after_sync']['p95_ms']} | {verdict(dash['after_sync']['p95_ms'], TARGET_MS)} |"
                ]
                if "after_sync" in dash
                else []
            ),
            *(
                [
                    f"| right after a sync (warm-up still running: previous answers, marked updating) | {dash['right_after_sync']['p50_ms']} | {dash['right_after_sync']['p95_ms']} | {verdict(dash['right_after_sync']['p95_ms'], TARGET_MS)} |"
                ]
                if "right_after_sync" in dash
                else []
            ),
            f"| warm (same data version) | {dash['warm']['p50_ms']} | {dash['warm']['p95_ms']} | {verdict(dash['warm']['p95_ms'], TARGET_MS)} |",
            "",
            *(
                [
                    f"Warm-up after a sync (every placed widget recomputed in the background, "
                    f"the sync's `sync_finished` event to cache filled): p50 "
                    f"{dash['warm_up_ms']['p50_ms']:,} ms, max {dash['warm_up_ms']['max_ms']:,} ms.",
                    "",
                ]
                if "warm_up_ms" in dash
                else []
            ),
            f"{dash['widgets']} widgets, {dash['response_bytes']:,} bytes; baseline before this "
            "work: 400-600 ms median on the small world.",
            "",
        ]
    browser = report.get("browser")
    if browser and "warm" in browser:
        lines += [
            "## Dashboard in Chromium (request to every widget rendered, fresh browser context)",
            "",
            "| server state | ready p50 ms | ready max ms | bytes transferred (first load) | console errors |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {label} | {browser[case]['ready_p50_ms']:,} | {browser[case]['ready_max_ms']:,} "
                f"| {browser[case]['bytes_p50']:,} | {browser[case]['console_errors']} |"
                for case, label in (
                    ("warm", "warmed after the sync (what users meet)"),
                    ("restarted", "web process just started (answers shared in the store)"),
                    ("cold", "nothing computed anywhere yet"),
                )
                if case in browser
            ),
            "",
        ]
    load = report.get("load")
    if load:
        during = load["import_during_load"]
        lines += [
            "## Load (live server on the large world, an import writing meanwhile)",
            "",
            f"{load['users']} signed-in users looping over {', '.join(load['calls'])} for "
            f"{load['seconds']} s while a {during.get('rows', 0):,}-row FOCUS import wrote to the "
            f"same store ({during.get('seconds', '?')} s; the warmer re-warmed "
            f"{load['warm_ups']} time(s) in all): **{load['requests_per_second']} requests/s**, "
            f"p50 {load['p50_ms']} ms, p95 {load['p95_ms']} ms, **{load['errors']} errors** "
            f"over {load['requests']:,} requests.",
            "",
        ]
    ask = report.get("assistant")
    if ask:
        lines += [
            "## Assistant (evaluation set, tests/assistant/cases)",
            "",
            "| case | p50 ms | p95 ms | target |",
            "|---|---:|---:|---|",
            f"| router only | {ask['router']['p50_ms']} | {ask['router']['p95_ms']} | |",
            f"| router + tool in-process (n={ask['router_and_tool']['runs']}) | {ask['router_and_tool']['p50_ms']} | {ask['router_and_tool']['p95_ms']} | p95 < 300 ms {verdict(ask['router_and_tool']['p95_ms'], TARGET_MS)} |",
        ]
        if "cto_ask_process" in ask:
            cli = ask["cto_ask_process"]
            lines.append(
                f"| `cto ask --json` process end to end (n={cli['runs']}) | {cli['p50_ms']} | {cli['p95_ms']} | baseline 3,300 ms |"
            )
        lines.append("")
    for key in ("sync", "sync_large"):
        lines += sync_section(report.get(key))
    focus = report.get("focus")
    if focus:
        lines += [
            "## FOCUS import",
            "",
            f"{focus['rows']:,} FOCUS rows: import {focus['import_seconds']} s "
            f"({focus['import_rows_per_second']:,} rows/s, rollup refresh included), DuckDB scan + "
            f"aggregate {focus['duckdb_seconds']} s → **{focus['ratio']}x** (target within 3x "
            f"{verdict(focus['ratio'], 3.0)}); re-import (replace) {focus['reimport_seconds']} s.",
            "",
        ]
    lines += [
        f"Peak RSS of the benchmark process (server work in-process): {report['peak_rss_mb']} MB.",
        "",
    ]
    notes = report.get("notes") or []
    if notes:
        lines += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    (RESULTS / "REPORT.md").write_text("\n".join(lines))


def main() -> None:
    """Run every part and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "large"], default="large")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cli-runs", type=int, default=8)
    parser.add_argument("--focus-rows", type=int, default=1_000_000)
    parser.add_argument("--ask-every", type=int, default=1, help="every Nth evaluation case")
    parser.add_argument(
        "--sync-scale",
        choices=["small", "large"],
        default="small",
        help="world of the sync part (large: about half an hour; kept by later runs)",
    )
    parser.add_argument("--load-users", type=int, default=8, help="concurrent dashboard users")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="length of the load run")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: tools,duckdb,dashboard,assistant,browser,load,sync,focus",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    logging.disable(logging.CRITICAL)
    now = datetime.combine(world_store.TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    report: dict[str, Any] = {
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "world": f"{args.scale} (seed 42, today {world_store.TODAY})",
        "notes": [],
    }
    carry_over(report, skip)
    started = time.perf_counter()
    path = world_store.ensure(args.scale)
    report["world_build_seconds"] = round(time.perf_counter() - started, 1)
    store = open_store(f"sqlite:///{path}", migrate=False)
    world_store.bring_up_to_date(store)
    started = time.perf_counter()
    with store.session() as session:
        refresh_cost_rollup(session)
        if data_version(session) == 0:  # the bulk-loaded world counts as one finished sync
            bump_data_version(session)
    import sqlalchemy as sa

    with store.session() as session:
        cost_rows = session.scalar(sa.text("SELECT count(*) FROM cost_daily"))
        rollup_rows = session.scalar(sa.text("SELECT count(*) FROM cost_rollup"))
    report["setup"] = {
        "cost_rows": cost_rows,
        "rollup_rows": rollup_rows,
        "rollup_seconds": round(time.perf_counter() - started, 1),
        "store_mb": round(path.stat().st_size / 1e6),
    }
    print("setup", report["setup"], flush=True)
    if "tools" not in skip:
        report["tools"] = bench_tools(store, now, args.runs)
        report["peak_rss_mb"] = round(peak_rss_mb())
        write_report(report)
    if "duckdb" not in skip:
        report["duckdb"] = bench_duckdb(path, world_store.TODAY, args.runs)
    if "dashboard" not in skip:
        report["dashboard"] = bench_dashboard(store, now, args.runs)
        print("dashboard", report["dashboard"]["cold"], report["dashboard"]["warm"], flush=True)
        report["peak_rss_mb"] = round(peak_rss_mb())
        write_report(report)
    if "assistant" not in skip:
        report["assistant"] = bench_assistant(store, now, args.cli_runs, args.ask_every)
        write_report(report)
        print("assistant", report["assistant"], flush=True)
    if "browser" not in skip:
        from bench_browser import bench_browser

        report["browser"] = bench_browser(store, now, runs=max(3, args.runs // 3))
        print("browser", report["browser"], flush=True)
        write_report(report)
    if "load" not in skip:
        from bench_load import bench_load

        report["load"] = bench_load(store, now, users=args.load_users, seconds=args.load_seconds)
        print("load", report["load"], flush=True)
        write_report(report)
    store.dispose()
    report["peak_rss_mb"] = round(peak_rss_mb())
    if "sync" not in skip:
        key = "sync" if args.sync_scale == "small" else "sync_large"
        report[key] = bench_sync(args.sync_scale)
        report.get("carried", {}).pop(key, None)
        print("sync", report[key], flush=True)
        write_report(report)
    if "focus" not in skip:
        report["focus"] = bench_focus(args.focus_rows)
        print("focus", report["focus"], flush=True)
    write_report(report)
    print((RESULTS / "REPORT.md").read_text())


if __name__ == "__main__":
    main()
