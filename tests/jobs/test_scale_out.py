"""Scale-out on real PostgreSQL and Redis: two `cto worker` processes, one `cto serve`, a kill -9.

The vendors are the small demo world's simulators (the sandbox) on loopback. A full sync is
queued with `cto enqueue`; while one worker holds the lock of `aws/costs` (the longest stream)
and has committed part of its rows, that worker is killed with SIGKILL. The job must come back
to the other worker (Dramatiq requeues a dead worker's unacknowledged message once its
heartbeat expires) and complete: every stream finished, no duplicate row, cursors present,
the killed run closed as interrupted; the web process is healthy, ready and reports the syncs
on /metrics. Each run gets its own PostgreSQL schema and Redis key namespace.

Skipped when PostgreSQL or Redis is missing; a failure when CI=true.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.demo.sandbox import Sandbox, sources_toml, start_sandbox
from cto_assistant.demo.simulators.common import ServedApp
from cto_assistant.demo.world import build_world
from cto_assistant.jobs.queue import QUEUE_NAME
from cto_assistant.settings import Settings
from cto_assistant.store import Store, open_store
from cto_assistant.store.models import SOURCED_TABLES, SyncCursor, SyncRun
from cto_assistant.store.rollup import cost_rollup_usable
from cto_assistant.sync.engine import INTERRUPTED
from cto_assistant.sync.locks import stream_lock_key

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CTO = Path(sys.executable).parent / "cto"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("CTO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KILLED_SOURCE, KILLED_STREAM = "aws", "costs"
HEARTBEAT_TIMEOUT_SECONDS = 3
METRICS_TOKEN = "scale-out-metrics-token"
DEADLINE_SECONDS = 150
T = TypeVar("T")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} unreachable ({exc.__class__.__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}: the scale-out test must run in CI")
    pytest.skip(message)


@dataclass
class Services:
    """The per-test PostgreSQL schema and Redis namespace."""

    database_url: str
    schema: str
    namespace: str
    redis: redis.Redis
    store: Store


@pytest.fixture
def services() -> Iterator[Services]:
    """A fresh schema on the test PostgreSQL and a fresh Redis namespace; both removed after."""
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        admin = sa.create_engine(admin_url)
        with admin.connect():
            pass
    except Exception as exc:  # any connection problem is a skip locally, a failure in CI
        _unavailable(f"PostgreSQL at {POSTGRES_URL}", exc)
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        client.ping()
    except redis.RedisError as exc:
        admin.dispose()
        _unavailable(f"Redis at {REDIS_URL}", exc)
    schema = f"t_scale_{uuid.uuid4().hex[:10]}"
    namespace = f"cto-test-{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in admin_url else "?"
    url = f"{admin_url}{sep}options=-csearch_path%3D{schema}"
    store = open_store(url)
    try:
        yield Services(url, schema, namespace, client, store)
    finally:
        store.dispose()
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sandbox() -> Iterator[tuple[Sandbox, ServedApp]]:
    """The small demo world served by every vendor simulator on loopback."""
    world = build_world(seed=42, today=date(2026, 1, 15), scale="small")
    running = start_sandbox(world)
    yield running
    running[1].stop()


class Processes:
    """Subprocesses of the test, stopped (then killed) at teardown."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start `cto ARGS…` with its output in `<name>.log`."""
        with (self.folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(CTO), *args],
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        """The tail of a process's output (for assertion messages)."""
        return (self.folder / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        """SIGTERM everything still running, then SIGKILL what did not stop."""
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, check: Callable[[], T], *, timeout: float, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _lock_holder(services: Services, source: str, stream: str) -> int | None:
    """The OS pid of the `cto worker` holding the advisory lock of `source/stream`, if any."""
    key = stream_lock_key(services.schema, source, stream)
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    query = sa.text(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :high AND l.objid = :low "
        "AND l.objsubid = 1"
    )
    with services.store.engine.connect() as connection:
        name = connection.scalar(query, {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF})
    if not name or not str(name).startswith("cto-worker-"):
        return None
    return int(str(name).removeprefix("cto-worker-"))


def _count(services: Services, statement: sa.Select[Any]) -> int:
    with services.store.session() as session:
        return int(session.scalar(statement) or 0)


def _tool_answers(base: str) -> dict[str, float]:
    """A web process's `cto_tool_answers_total` by outcome (0 before the first answer)."""
    text = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
    ).text
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "cto_tool_answers_total"
    }


def _second_web_process_reads_the_shared_answers(services: Services, processes: Processes) -> int:
    """The first web process's warmer shared the dashboard's answers through PostgreSQL; a web
    process started now warms from them without computing a single one."""
    from cto_assistant.store.models import ToolAnswer
    from cto_assistant.store.rollup import data_version
    from cto_assistant.tools.base import REGISTRY
    from cto_assistant.tools.cache import ToolCache
    from cto_assistant.tools.catalog import load_tools
    from cto_assistant.web.widgets import DEFAULT_LAYOUT, WIDGETS

    load_tools()
    shareable = sum(ToolCache.cacheable(REGISTRY[WIDGETS[w].tool]) for w in DEFAULT_LAYOUT)

    def shared_now() -> bool:
        with services.store.session() as session:
            version = data_version(session)
            shared = session.scalar(
                sa.select(sa.func.count())
                .select_from(ToolAnswer)
                .where(ToolAnswer.data_version == version)
            )
        return shared == shareable

    _wait_for("the first web process's shared answers", shared_now, timeout=60, interval=0.5)
    port = _free_port()
    second = processes.start("web2", "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def warmed() -> dict[str, float] | None:
        assert second.poll() is None, processes.log("web2")
        try:
            found = _tool_answers(base)
        except httpx.TransportError:
            return None
        return found if found.get("recalled", 0) >= shareable else None

    answers = _wait_for("the second web process's warm-up", warmed, timeout=60, interval=0.5)
    assert answers["computed"] == 0, answers
    return int(answers["recalled"])


def test_two_workers_sync_everything_and_survive_a_killed_worker(
    services: Services, sandbox: tuple[Sandbox, ServedApp], tmp_path: Path
) -> None:
    started = time.monotonic()
    world_sandbox, served = sandbox
    # Slow the cost simulator a little so the kill lands mid-stream on any machine.
    world_sandbox.states["aws-ce"].add_fault("slow", delay_seconds=0.05, times=None)
    sections = world_sandbox.sources(served.base_url)
    config = tmp_path / "cto.toml"
    config.write_text(sources_toml(sections))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTO_")}
    env.update(
        {
            "CTO_CONFIG": str(config),
            "CTO_DATA_DIR": str(tmp_path / "data"),
            "CTO_DATABASE_URL": services.database_url,
            "CTO_QUEUE_URL": REDIS_URL,
            "CTO_QUEUE_NAMESPACE": services.namespace,
            "CTO_QUEUE_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT_SECONDS),
            "CTO_SECRET_KEY": "scale-out-test-secret-key-0123456789",
            "CTO_METRICS_TOKEN": METRICS_TOKEN,
            "CTO_PORT": str(port),
            "CTO_LOG_JSON": "true",
            "NO_COLOR": "1",
        }
    )
    processes = Processes(tmp_path, env)
    try:
        web = processes.start("web", "serve")
        workers = [processes.start(f"worker{i}", "worker", "--threads", "1") for i in (1, 2)]
        base = f"http://127.0.0.1:{port}"

        def web_up() -> bool:
            assert web.poll() is None, processes.log("web")
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait_for("the web process", web_up, timeout=30)

        enqueue = subprocess.run(
            [str(CTO), "enqueue"], env=env, cwd=tmp_path, capture_output=True, timeout=60
        )
        assert enqueue.returncode == 0, enqueue.stdout.decode() + enqueue.stderr.decode()
        settings = Settings(sources=sections)
        expected = {
            (connector.name, stream.name): stream
            for connector in configured_connectors(settings)
            for stream in connector.enabled_streams()
        }
        assert f"{len(expected)} stream(s) queued" in enqueue.stdout.decode()

        # Kill the worker that runs aws/costs once it has committed some of its rows.
        cost_rows = sa.select(sa.func.count()).select_from(SOURCED_TABLES["cost_daily"])
        victim_pid = _wait_for(
            "a worker mid-way through aws/costs",
            lambda: (
                _count(services, cost_rows.where(SOURCED_TABLES["cost_daily"].source == "aws")) > 0
                and _lock_holder(services, KILLED_SOURCE, KILLED_STREAM)
            ),
            timeout=90,
            interval=0.1,
        )
        victim = next(w for w in workers if w.pid == victim_pid)
        survivor = next(w for w in workers if w.pid != victim_pid)
        assert (
            _count(
                services,
                sa.select(sa.func.count())
                .select_from(SyncCursor)
                .where(SyncCursor.source == KILLED_SOURCE, SyncCursor.stream == KILLED_STREAM),
            )
            == 0
        ), "the cursor must not move before the stream's last checkpoint"
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()

        def all_done() -> bool:
            assert survivor.poll() is None, processes.log(
                "worker2" if survivor is workers[1] else "worker1"
            )
            return not any(services.redis.scan_iter(f"{services.namespace}:pending:*"))

        remaining = DEADLINE_SECONDS - (time.monotonic() - started)
        _wait_for("every queued stream to finish", all_done, timeout=remaining, interval=0.5)
        recovered_s = time.monotonic() - killed_at

        def round_finished() -> bool:
            """The round's finishing job ran after the last stream (the rollup is current)."""
            if services.redis.exists(f"{services.namespace}:pending:finish-round"):
                return False
            with services.store.session() as session:
                return cost_rollup_usable(session)

        _wait_for("the sync round's finishing job", round_finished, timeout=60, interval=0.5)

        with services.store.session() as session:
            runs = (
                session.execute(
                    sa.select(SyncRun).order_by(SyncRun.source, SyncRun.stream, SyncRun.id)
                )
                .scalars()
                .all()
            )
            cursors = {
                (row.source, row.stream): row.cursor
                for row in session.scalars(sa.select(SyncCursor))
            }
            duplicates = {}
            for table, model in SOURCED_TABLES.items():
                total = session.scalar(sa.select(sa.func.count()).select_from(model))
                distinct = session.scalar(
                    sa.select(sa.func.count()).select_from(
                        sa.select(model.source, model.source_id).distinct().subquery()
                    )
                )
                if total != distinct:
                    duplicates[table] = (total, distinct)
        latest = {(run.source, run.stream): run for run in runs}

        assert not duplicates, f"duplicate (source, source_id) rows: {duplicates}"
        assert set(latest) == set(expected), "every queued stream ran"
        assert not [run for run in runs if run.status == "running"], "no run left open"
        broken = {
            key: (run.error_kind, run.error)
            for key, run in latest.items()
            if run.status != "success" and run.error_kind != "upstream"
        }
        assert not broken, f"streams that failed for a reason other than the vendor: {broken}"
        killed_runs = [
            run for run in runs if (run.source, run.stream) == (KILLED_SOURCE, KILLED_STREAM)
        ]
        assert [run.status for run in killed_runs] == ["failed", "success"]
        assert killed_runs[0].error == INTERRUPTED
        assert cursors.get((KILLED_SOURCE, KILLED_STREAM)), "the retried job stored its cursor"
        missing = [
            key
            for key, stream in expected.items()
            if stream.incremental
            and latest[key].status == "success"
            and latest[key].records
            and not cursors.get(key)
        ]
        assert not missing, f"incremental streams without a cursor: {missing}"
        assert services.redis.zcard(f"{services.namespace}:{QUEUE_NAME}.XQ") == 0, "dead letters"

        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        assert httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ready"
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
        metrics = httpx.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
        ).text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
        }
        costs = (("source", KILLED_SOURCE), ("stream", KILLED_STREAM))
        assert samples[("cto_sync_duration_seconds_count", costs)] == 2  # killed + retried run
        assert samples[("cto_sync_duration_seconds_sum", costs)] > 0
        assert samples[("cto_sync_errors_total", (("error_kind", "other"), *costs))] == 1
        healthz = (("method", "GET"), ("route", "/healthz"))
        assert samples[("cto_http_request_duration_seconds_count", healthz)] >= 2
        assert samples[("cto_http_requests_total", (*healthz, ("status", "200")))] >= 2
        shared = _second_web_process_reads_the_shared_answers(services, processes)
        print(
            f"scale-out: {len(expected)} streams, total {time.monotonic() - started:.1f}s, "
            f"{shared} dashboard answers read by a second web process, "
            f"recovered {recovered_s:.1f}s after the kill"
        )
    finally:
        processes.stop_all()
