"""SonarQube Web API payloads → `quality_snapshot` rows (pure functions, no I/O).

A snapshot is keyed `f"{project_key}@{analysis date}"` with the date in UTC as SonarQube writes
it (`2026-01-04T03:00:00+0000`), so the current measures of a
project and the history entry of its last analysis land on the same row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cto_assistant.connectors.payload import Reader
from cto_assistant.errors import SchemaDriftError

Row = dict[str, Any]

# SonarQube metric key → quality_snapshot column and its type.
METRICS: dict[str, tuple[str, type]] = {
    "coverage": ("coverage", float),
    "sqale_index": ("tech_debt_minutes", float),
    "code_smells": ("code_smells", int),
    "bugs": ("bugs", int),
    "vulnerabilities": ("vulnerabilities", int),
    "duplicated_lines_density": ("duplicated_lines_density", float),
    "ncloc": ("ncloc", int),
}
GATE_METRIC = "alert_status"  # the quality gate status as a metric (has history)
HISTORY_METRICS = (*METRICS, GATE_METRIC)


def snapshot_id(project_key: str, at: datetime) -> str:
    """The source_id of a project's snapshot at an analysis date."""
    return f"{project_key}@{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S%z')}"


def metric_value(metric: str, raw: Any, *, source: str, stream: str) -> Any:
    """A measure's string value converted to its column type (None stays None)."""
    if not isinstance(metric, str) or metric not in METRICS:
        raise SchemaDriftError(
            source,
            f"measure {str(metric)[:40]!r} is not a metric we map",
            stream=stream,
            field="metric",
        )
    number = Reader.of("value", raw, source=source, stream=stream, what=f"measure {metric}").number(
        "value"
    )
    if number is None:
        return None
    return int(number) if METRICS[metric][1] is int else number


def snapshot(
    *,
    project_key: str,
    repo: str,
    at: datetime,
    values: Mapping[str, Any],
    quality_gate: str | None = None,
    include_gate: bool = True,
    source: str = "sonarqube",
) -> Row:
    """A quality_snapshot row from metric key → converted value."""
    measures = Reader.of(
        "values", values, source=source, stream=None, what=f"project {project_key}"
    )
    values = measures.child("values").obj
    row: Row = {
        "source_id": snapshot_id(project_key, at),
        "repo": repo,
        "project_key": project_key,
        "at": at,
    }
    for metric, (column, _kind) in METRICS.items():
        row[column] = values.get(metric)
    if include_gate:
        row["quality_gate"] = quality_gate
    return row


def component_measures(body: Any, *, source: str, stream: str) -> dict[str, Any]:
    """Metric key → value from `api/measures/component` (metrics we do not map are skipped)."""
    r = Reader(body, source=source, stream=stream, what="measures/component response")
    component = r.need_child("component")
    values: dict[str, Any] = {}
    for m in component.need_objects("measures", "measure"):
        metric = str(m.need("metric"))
        if metric in METRICS:
            values[metric] = metric_value(metric, m.get("value"), source=source, stream=stream)
    return values


def gate_status(body: Any, *, source: str, stream: str) -> str:
    """The quality gate status (OK, WARN, ERROR, NONE) from `api/qualitygates/project_status`."""
    r = Reader(body, source=source, stream=stream, what="project_status response")
    return str(r.need("projectStatus.status"))


def history_by_date(
    pages: list[Any], *, source: str, stream: str
) -> dict[datetime, dict[str, Any]]:
    """Analysis date → metric → value, merged across `api/measures/search_history` pages."""
    found: dict[datetime, dict[str, Any]] = {}
    listed = Reader.of("pages", pages, source=source, stream=stream, what="search_history")
    for body in listed.items("pages"):
        r = Reader(body, source=source, stream=stream, what="search_history response")
        for m in r.need_objects("measures", "measure history"):
            metric = str(m.need("metric"))
            for p in m.need_objects("history", "history point"):
                at = p.need_time("date")
                values = found.setdefault(at, {})
                raw = p.get("value")
                if metric == GATE_METRIC:
                    values[metric] = raw
                elif metric in METRICS:
                    values[metric] = metric_value(metric, raw, source=source, stream=stream)
    return found
