"""`/metrics` in Prometheus text format: HTTP requests of this process and syncs of the store.

Request metrics are this process's own (label `route` is the route template, never the raw
path, so cardinality stays bounded); scrape every web process, not the load balancer.
Sync metrics are read from the run log (`sync_run`) at scrape time, so any web process reports
the syncs of every worker, the in-process scheduler and `cto sync` alike:

    cto_http_requests_total{method,route,status}        counter
    cto_http_request_duration_seconds{method,route}     histogram
    cto_sync_duration_seconds{source,stream}            summary (count, sum) of finished runs
    cto_sync_runs_total{source,stream,status}           counter
    cto_sync_errors_total{source,stream,error_kind}     counter
    cto_sync_records_total{source,stream}               counter
    cto_sync_last_success_timestamp_seconds{source,stream}  gauge
    cto_sync_metrics_up                                 1 when the run log could be read
    cto_tool_answers_total{outcome}                     counter: this process's tool cache —
        hit (kept here), recalled (read from another process's shared answer), stale (a previous
        version's answer shown while recomputed), computed (the tool ran and its answer was kept)

Auth: with `metrics_token` set, `/metrics` wants `Authorization: Bearer <token>`; unset, it is
open, because it carries no company data (source and stream names, counts, durations, error
kinds — never error texts) and Prometheus cannot sign in. Set the token whenever the web port
is reachable from outside the scraping network.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cto_assistant.logging import register_secret
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import SyncRun
from cto_assistant.tools.cache import ToolCache

METRICS_PATH = "/metrics"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "cto_http_requests",
            "HTTP requests served, by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "cto_http_request_duration_seconds",
            "HTTP request latency until the response is sent, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class MetricsMiddleware:
    """Count and time every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = route_label(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(
                time.perf_counter() - started
            )


def route_label(scope: Scope) -> str:
    """The matched route's template (`/api/incidents/{key}`), or `unmatched`."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class SyncRunCollector(Collector):
    """Prometheus collector that reads the sync run log at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterable[Metric]:
        """Yield the sync metric families (empty ones when the database is unreachable)."""
        duration = SummaryMetricFamily(
            "cto_sync_duration_seconds",
            "Wall-clock time of finished stream runs.",
            labels=("source", "stream"),
        )
        runs = CounterMetricFamily(
            "cto_sync_runs", "Stream runs by status.", labels=("source", "stream", "status")
        )
        errors = CounterMetricFamily(
            "cto_sync_errors",
            "Failed stream runs by error kind.",
            labels=("source", "stream", "error_kind"),
        )
        records = CounterMetricFamily(
            "cto_sync_records", "Records committed by stream runs.", labels=("source", "stream")
        )
        last_success = GaugeMetricFamily(
            "cto_sync_last_success_timestamp_seconds",
            "Unix time the last successful run of a stream finished.",
            labels=("source", "stream"),
        )
        up = GaugeMetricFamily("cto_sync_metrics_up", "1 when the run log could be read.")
        try:
            rows = list(sync_run_stats(self.store))
        except SQLAlchemyError:
            rows = []
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
        finished_runs: dict[tuple[str, str], int] = {}
        run_seconds: dict[tuple[str, str], float] = {}
        committed_records: dict[tuple[str, str], int] = {}
        by_status: dict[tuple[str, str, str], int] = {}
        for source, stream, status, kind, count, seconds, committed, finished in rows:
            key = (source, stream)
            by_status[(*key, status)] = by_status.get((*key, status), 0) + count
            committed_records[key] = committed_records.get(key, 0) + (committed or 0)
            if status != "running":
                finished_runs[key] = finished_runs.get(key, 0) + count
                run_seconds[key] = run_seconds.get(key, 0.0) + (seconds or 0.0)
            if status == "failed":
                errors.add_metric([source, stream, kind or "other"], count)
            if status == "success" and finished is not None:
                last_success.add_metric([source, stream], _epoch(finished))
        for labels, count in sorted(by_status.items()):
            runs.add_metric(list(labels), count)
        for key, count in sorted(finished_runs.items()):
            duration.add_metric(list(key), count, run_seconds[key])
        for key, committed in sorted(committed_records.items()):
            records.add_metric(list(key), committed)
        yield from (duration, runs, errors, records, last_success, up)


class ToolCacheCollector(Collector):
    """Prometheus collector over this process's tool cache counters."""

    def __init__(self, cache: ToolCache) -> None:
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        """One counter family, labelled by how each cached tool call was answered."""
        answers = CounterMetricFamily(
            "cto_tool_answers",
            "Tool calls through this process's cache, by how they were answered.",
            labels=("outcome",),
        )
        for outcome, count in self.cache.stats().items():
            answers.add_metric([outcome], count)
        yield answers


SyncStatRow = tuple[str, str, str, str | None, int, float | None, int | None, datetime | None]


def sync_run_stats(store: Store) -> Iterator[SyncStatRow]:
    """Per (source, stream, status, error kind): runs, seconds, records, last finish."""
    seconds: sa.ColumnElement[Any]
    if store.dialect == "postgresql":
        seconds = sa.extract("epoch", SyncRun.finished_at - SyncRun.started_at)
    else:
        seconds = (
            sa.func.julianday(SyncRun.finished_at) - sa.func.julianday(SyncRun.started_at)
        ) * 86400.0
    query = (
        sa.select(
            SyncRun.source,
            SyncRun.stream,
            SyncRun.status,
            SyncRun.error_kind,
            sa.func.count(),
            sa.func.sum(seconds),
            sa.func.sum(SyncRun.records),
            sa.func.max(SyncRun.finished_at),
        )
        .group_by(SyncRun.source, SyncRun.stream, SyncRun.status, SyncRun.error_kind)
        .order_by(SyncRun.source, SyncRun.stream, SyncRun.status)
    )
    with store.session() as session:
        for row in session.execute(query):
            source, stream, status, kind, count, total, committed, finished = row
            yield (
                source,
                stream,
                status,
                kind,
                int(count),
                None if total is None else float(total),
                None if committed is None else int(committed),
                finished,
            )


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def install(
    app: FastAPI, settings: Settings, store: Store, cache: ToolCache | None = None
) -> CollectorRegistry:
    """Add the request-metrics middleware and the `/metrics` route to `app`."""
    registry = CollectorRegistry(auto_describe=True)
    metrics = HttpMetrics(registry)
    registry.register(SyncRunCollector(store))
    if cache is not None:
        registry.register(ToolCacheCollector(cache))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is not None:
        register_secret(token)

    @app.get(METRICS_PATH, include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        """Serve every metric in Prometheus text format (bearer token when configured)."""
        if token is not None and not _bearer_matches(request, token):
            return Response(
                "metrics token required\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


__all__ = [
    "METRICS_PATH",
    "MetricsMiddleware",
    "SyncRunCollector",
    "ToolCacheCollector",
    "install",
    "sync_run_stats",
]
