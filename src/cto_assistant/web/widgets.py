"""The dashboard's widgets: what each one shows, which tool feeds it, and its state.

A widget is one tool call plus presentation facts (title, size, the chat question a click asks,
the sources it needs). `widget_payload` runs the call and adds what the browser needs to be
honest about the number: the data's age, and whether its source is failing, stale, not
connected, or the tool does not exist yet. Nothing here computes a metric.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cto_assistant.logging import get_logger
from cto_assistant.sync.freshness import format_age
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, ToolStatus
from cto_assistant.tools.summary import call_tool_cached

WidgetState = Literal[
    "ok", "empty", "stale", "failing", "not_configured", "unavailable", "error", "loading"
]

log = get_logger("web.widgets")
MAX_WIDTH = 4
MAX_HEIGHT = 2
VENDOR_NAMES: dict[str, str] = {
    "jira": "Jira",
    "github": "GitHub",
    "gitlab": "GitLab",
    "jenkins": "Jenkins",
    "circleci": "CircleCI",
    "sonarqube": "SonarQube",
    "snyk": "Snyk",
    "threat_intel": "Threat intel",
    "datadog": "Datadog",
    "pagerduty": "PagerDuty",
    "opsgenie": "Opsgenie",
    "aws_cost_explorer": "AWS Cost Explorer",
    "focus": "FOCUS billing export",
    "generic": "Webhooks / file import",
}


@dataclass(frozen=True)
class Widget:
    """A dashboard widget: one tool call and how to present and drill into it."""

    id: str
    title: str
    tool: str
    question: str
    width: int = 1
    height: int = 1
    args: Mapping[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()  # connector kinds that can feed it; () = any / none needed
    filters: tuple[str, ...] = ()  # tool arguments the user may set (e.g. team)
    detail_tool: str | None = None  # tool for one row's detail (e.g. incident_details)
    detail_arg: str = "incident"  # the detail tool's argument that takes the row's key
    description: str = ""
    grid: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # what the tile shows

    def info(self) -> dict[str, Any]:
        """The registry entry as the browser sees it."""
        return {
            "id": self.id,
            "title": self.title,
            "tool": self.tool,
            "args": dict(self.args),
            "question": self.question,
            "size": {"w": self.width, "h": self.height},
            "filters": list(self.filters),
            "detail_tool": self.detail_tool,
            "description": self.description,
            "available": self.tool in REGISTRY,
        }


# ------------------------------------------------------------------------------ tiles
#
# A tile shows a few rows of its tool's answer; the detail modal shows all of them. On the
# large world the full answers weigh ~900 KB, most of it rows no tile draws, so the grid gets
# each answer cut to what its tile draws (`compact`), with the count of every list it cut
# (`<list>_total`), and the modal fetches the whole answer when it opens.

SLO_ORDER = {"breached": 0, "burning": 1, "at_risk": 2, "ok": 3, "no_data": 4}
TILE_ROWS = 4
GENERIC_TILE_ROWS = 5


def _cut(data: dict[str, Any], name: str, rows: Sequence[Any], limit: int) -> None:
    """Keep the first `limit` rows as `name` and their count as `<name>_total`.

    A total the tool gave (it may have cut the list itself) is kept.
    """
    data[name] = list(rows[:limit])
    given = data.get(f"{name}_total")
    data[f"{name}_total"] = given if isinstance(given, int) and given >= len(rows) else len(rows)


def _rows(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    return value if isinstance(value, list) else []


def _slos_tile(data: dict[str, Any]) -> dict[str, Any]:
    """The SLOs burning most budget first."""
    rows = _rows(data, "slos")
    ordered = sorted(
        rows,
        key=lambda r: (
            SLO_ORDER.get(r.get("status"), 5),
            2 if r.get("budget_remaining") is None else r["budget_remaining"],
        ),
    )
    tile = dict(data)
    _cut(tile, "slos", ordered, TILE_ROWS)
    return tile


def _first_rows_tile(
    name: str, limit: int = TILE_ROWS
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def tile(data: dict[str, Any]) -> dict[str, Any]:
        cut = dict(data)
        _cut(cut, name, _rows(data, name), limit)
        return cut

    tile.__doc__ = f"The first {limit} of `{name}`."
    return tile


def _on_call_tile(data: dict[str, Any]) -> dict[str, Any]:
    """First-level responders only."""
    rows = [r for r in _rows(data, "on_call") if r.get("level") in (1, None)]
    tile = dict(data)
    _cut(tile, "on_call", rows, 6)
    return tile


def _security_tile(data: dict[str, Any]) -> dict[str, Any]:
    """The counts, compliance, and the riskiest projects."""
    tile = dict(data)
    projects = sorted(_rows(data, "projects"), key=lambda p: -(p.get("risk_score") or 0))
    _cut(tile, "projects", projects, 2)
    for name in ("breached", "teams", "mttr", "trend"):
        _cut(tile, name, _rows(data, name), 0)
    return tile


def _dora_tile(data: dict[str, Any]) -> dict[str, Any]:
    """The keys and their trend; per-team rows and per-change lists stay for the modal."""
    tile = dict(data)
    _cut(tile, "breakdown", _rows(data, "breakdown"), 0)
    report = data.get("report")
    if isinstance(report, dict):
        tile["report"] = {
            k: ([] if k in ("failures", "incident_links", "slowest_changes") else v)
            for k, v in report.items()
        }
    return tile


def _lists_tile(data: dict[str, Any]) -> dict[str, Any]:
    """Every top-level list cut to the generic tile's rows (it draws the chart or a few rows)."""
    tile = dict(data)
    for name, value in data.items():
        if isinstance(value, list):
            _cut(tile, name, value, GENERIC_TILE_ROWS)
    return tile


WIDGETS: dict[str, Widget] = {
    w.id: w
    for w in (
        Widget("executive_summary", "Executive summary", "executive_summary",
               "Give me the executive summary", 2, 1,
               description="System status with its reasons and the key figures."),
        Widget("cloud_spend", "Cloud spend", "cost_forecast",
               "Analyze the latest cloud spend data", 2, 1, args={"backtest": False},
               kinds=("aws_cost_explorer", "focus"),
               description="This month vs last, month-end projection, budget and anomalies."),
        Widget("incidents", "Active incidents", "active_incidents",
               "Tell me more about the active incidents", 1, 1,
               kinds=("pagerduty", "opsgenie", "datadog", "generic"),
               filters=("team", "service"), detail_tool="incident_details",
               description="Open incidents with severity, assignee and age."),
        Widget("security", "Security posture", "security_posture",
               "What is our security posture?", 1, 1,
               kinds=("snyk", "github", "threat_intel"), grid=_security_tile,
               description="Critical and high vulnerabilities by project, SLA breaches, "
                           "compliance per framework."),
        Widget("dora", "DORA metrics", "dora_metrics",
               "How are our DORA metrics?", 2, 1, args={"days": 30},
               kinds=("github", "gitlab", "jenkins", "circleci", "generic"),
               filters=("team",), grid=_dora_tile,
               description="The four keys and rework rate with level and 30-day trend."),
        Widget("slos", "SLOs", "slo_status", "Which SLOs are burning error budget?", 1, 1,
               kinds=("datadog",), filters=("service",), grid=_slos_tile,
               description="Error budget left, burning ones first."),
        Widget("on_call", "On call now", "on_call", "Who is on call now?", 1, 1,
               kinds=("pagerduty", "opsgenie"), filters=("team",), grid=_on_call_tile,
               description="Who is on call now, per team and level."),
        Widget("sprint", "Sprint & epics", "sprint_status", "How is the current sprint going?",
               1, 1, kinds=("jira",), filters=("team",), grid=_first_rows_tile("sprints"),
               description="Active sprint progress, scope change and at-risk items."),
        Widget("pr_flow", "PR flow", "pr_insights", "How is our pull request flow?", 1, 1,
               args={"days": 30}, kinds=("github", "gitlab"), filters=("team",),
               grid=_lists_tile,
               description="Cycle time split, review distribution, merge rate."),
        Widget("code_quality", "Code quality", "code_quality", "How is our code quality?", 1, 1,
               kinds=("sonarqube",),
               description="Coverage, debt, smells and quality gates."),
        Widget("alerts", "Alerts", "alerts", "What alerts are open?", 1, 1,
               args={"open": True},
               description="Early-warning alerts with their reasons."),
        Widget("freshness", "Data freshness", "data_freshness", "How fresh is our data?", 1, 1,
               description="Per source: last sync, age and errors."),
    )
}  # fmt: skip

DEFAULT_LAYOUT: tuple[str, ...] = (
    "executive_summary",
    "cloud_spend",
    "incidents",
    "security",
    "dora",
    "slos",
    "on_call",
    "sprint",
    "pr_flow",
    "freshness",
)


class LayoutItem(BaseModel):
    """One widget placed on a user's dashboard."""

    id: str = Field(description="Widget id, from `GET /api/dashboard` `catalog`.")
    w: int = Field(default=1, ge=1, le=MAX_WIDTH, description="Width in grid columns.")
    h: int = Field(default=1, ge=1, le=MAX_HEIGHT, description="Height in grid rows.")
    options: dict[str, str] = Field(
        default_factory=dict, description="Filter values, e.g. {'team': 'PAY'}."
    )


def default_layout() -> list[LayoutItem]:
    """The layout a user sees before changing anything."""
    return [
        LayoutItem(id=key, w=WIDGETS[key].width, h=WIDGETS[key].height) for key in DEFAULT_LAYOUT
    ]


def clean_layout(items: list[LayoutItem]) -> list[LayoutItem]:
    """Drop unknown widgets, duplicates and filters a widget does not accept."""
    seen: set[str] = set()
    cleaned = []
    for item in items:
        widget = WIDGETS.get(item.id)
        if widget is None or item.id in seen:
            continue
        seen.add(item.id)
        options = {k: v for k, v in item.options.items() if k in widget.filters and v}
        cleaned.append(item.model_copy(update={"options": options}))
    return cleaned


# ------------------------------------------------------------------------------ tools

_TOOL_MODULES = ("summary", "operations", "engineering", "security", "watch", "research", "actions")
RETRY_IMPORT_SECONDS = 30.0
_imported: set[str] = set()
_failed: dict[str, float] = {}


def load_tools() -> None:
    """Import the tool catalogue; a broken tool module is logged and its widgets go unavailable.

    A module that failed is retried after a while, so a fixed module appears without a restart.
    """
    now = time.monotonic()
    for name in ("catalog", *_TOOL_MODULES):
        module = f"cto_assistant.tools.{name}"
        if (
            module in _imported
            or now - _failed.get(module, -RETRY_IMPORT_SECONDS) < RETRY_IMPORT_SECONDS
        ):
            continue
        try:
            loaded = importlib.import_module(module)
            if name == "catalog" and hasattr(loaded, "load_tools"):
                loaded.load_tools()
        except ModuleNotFoundError as exc:
            if exc.name != module:
                _failed[module] = now
                log.warning("tool module failed to load", module=module, error=str(exc))
                continue
            _failed[module] = now  # not written yet
            continue
        except Exception as exc:  # a colleague's module with a bug must not take the page down
            _failed[module] = now
            log.warning("tool module failed to load", module=module, error=repr(exc))
            continue
        _imported.add(module)
        _failed.pop(module, None)


# ------------------------------------------------------------------------------ payloads


def configured_kinds(ctx: ToolContext) -> set[str]:
    """Connector kinds of the configured sources."""
    return {str(section.get("kind", name)) for name, section in ctx.settings.sources.items()}


def stale_after_seconds(ctx: ToolContext) -> float:
    """Data older than this is flagged stale: three missed syncs, at least an hour."""
    interval = ctx.settings.sync_interval_minutes or 60 * 8
    return max(3 * interval * 60.0, 3600.0)


def _connect_hint(widget: Widget) -> str:
    names = [VENDOR_NAMES.get(kind, kind) for kind in widget.kinds if kind != "generic"]
    if not names:
        return "No source connected"
    shown = " or ".join(names[:2])
    return f"{shown} not connected"


def widget_payload(
    widget: Widget,
    ctx: ToolContext,
    options: Mapping[str, str] | None = None,
    *,
    compact: bool = False,
) -> dict[str, Any]:
    """Run the widget's tool and describe its data's age and health for the browser.

    `compact` cuts the data to what the tile draws (`Widget.grid`) and says so (`compact`).
    """
    payload = _full_payload(widget, ctx, options)
    data = payload.get("data")
    if compact and widget.grid is not None and isinstance(data, dict):
        payload = payload | {"data": widget.grid(data), "compact": True}
    return payload


def _full_payload(
    widget: Widget, ctx: ToolContext, options: Mapping[str, str] | None
) -> dict[str, Any]:
    base = _described(widget, options)
    arguments = base["arguments"]
    if widget.tool not in REGISTRY:
        return base | _state(
            "unavailable",
            f"Not available yet: the {widget.tool.replace('_', ' ')} tool is not installed.",
        )
    started = time.perf_counter()
    result = call_tool_cached(widget.tool, ctx, arguments)
    if result.refreshing:  # figures from before the sync, but the sources' health as of now
        current = ctx.source_refs(source.source for source in result.sources)
        result = result.model_copy(update={"sources": current})
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    payload = base | envelope(result, ctx) | {"elapsed_ms": elapsed_ms}
    kinds = configured_kinds(ctx)
    connected = not widget.kinds or bool(kinds & set(widget.kinds))
    if result.status is ToolStatus.NOT_CONFIGURED or (
        not connected and result.status is not ToolStatus.OK
    ):
        return payload | _state("not_configured", _connect_hint(widget), link="/settings")
    if result.status is ToolStatus.ERROR:
        return payload | _state("error", result.summary)
    failing = [s["source"] for s in payload["sources"] if s.get("failing")]
    if failing:
        names = ", ".join(failing)
        return payload | _state(
            "failing",
            f"{names} sync failing — showing data from {payload['age']} ago",
            link="/data-health",
        )
    if result.status is ToolStatus.NO_DATA:
        return payload | _state("empty", result.summary)
    age = payload["age_seconds"]
    if age is not None and age > stale_after_seconds(ctx):
        return payload | _state("stale", f"Data is {payload['age']} old", link="/data-health")
    return payload | _state("ok", "")


def pending_payload(widget: Widget, options: Mapping[str, str] | None) -> dict[str, Any]:
    """A widget whose answer is still being computed: the browser fetches it on its own."""
    return _described(widget, options) | {"pending": True} | _state("loading", "")


def _described(widget: Widget, options: Mapping[str, str] | None) -> dict[str, Any]:
    """The widget, its options and the tool arguments they make."""
    arguments = dict(widget.args)
    arguments.update({k: v for k, v in (options or {}).items() if k in widget.filters and v})
    return widget.info() | {"options": dict(options or {}), "arguments": arguments}


def envelope(result: ToolResult, ctx: ToolContext) -> dict[str, Any]:
    """A tool envelope as JSON, with the age of its data at `ctx.now`."""
    body = result.payload()
    as_of: datetime | None = result.as_of
    age = (ctx.now - as_of).total_seconds() if as_of is not None else None
    return body | {"age_seconds": age, "age": format_age(age)}


def _state(state: WidgetState, message: str, *, link: str | None = None) -> dict[str, Any]:
    return {"state": state, "problem": {"message": message, "link": link} if message else None}


__all__ = [
    "DEFAULT_LAYOUT",
    "WIDGETS",
    "LayoutItem",
    "Widget",
    "clean_layout",
    "default_layout",
    "envelope",
    "load_tools",
    "widget_payload",
]
