"""The answer writer: the number first, then the driver, then the source and its age.

Everything said comes from the tool result: its one-sentence summary (which carries the key
number), the first driver the tool named, a table for lists, the tool's Vega-Lite chart, and
"Source: PagerDuty, 3 min ago" from its sources. Nothing is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cto_assistant.tools.base import ToolResult, ToolStatus

SOURCE_NAMES = {
    "jira": "Jira",
    "github": "GitHub",
    "gitlab": "GitLab",
    "jenkins": "Jenkins",
    "circleci": "CircleCI",
    "sonarqube": "SonarQube",
    "snyk": "Snyk",
    "threat_intel": "threat intel (CISA KEV, EPSS, OSV)",
    "datadog": "Datadog",
    "pagerduty": "PagerDuty",
    "opsgenie": "Opsgenie",
    "aws_cost_explorer": "AWS Cost Explorer",
    "focus": "FOCUS billing export",
    "generic": "imported files",
}
DRIVER_KEYS = ("drivers", "driver", "top_drivers", "contributors", "reasons", "why", "causes")
TEXT_KEYS = ("summary", "text", "reason", "description", "label", "title", "name")
MAX_ROWS = 10
MAX_COLUMNS = 7


@dataclass
class Answer:
    """What the user reads: text (Markdown), an optional table and an optional chart."""

    text: str
    table: list[dict[str, Any]] | None = None
    columns: list[str] = field(default_factory=list)
    chart: dict[str, Any] | None = None
    source_line: str | None = None


def age_text(seconds: float | None) -> str:
    """'just now', '3 min ago', '2 h ago', '4 days ago'."""
    if seconds is None:
        return "age unknown"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def source_line(result: ToolResult, kinds: dict[str, str]) -> str | None:
    """'Source: PagerDuty, 3 min ago' (several sources joined; failing ones flagged)."""
    parts = []
    for ref in result.sources:
        name = SOURCE_NAMES.get(kinds.get(ref.source, ref.source), ref.source)
        flag = " (last sync failed)" if ref.failing else ""
        parts.append(f"{name}, {age_text(ref.age_seconds)}{flag}")
    if not parts:
        return None
    return ("Source: " if len(parts) == 1 else "Sources: ") + "; ".join(parts)


def _driver(data: Any, summary: str) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in DRIVER_KEYS:
        value = data.get(key)
        first = value[0] if isinstance(value, list) and value else value
        text = None
        if isinstance(first, str):
            text = first
        elif isinstance(first, dict):
            text = next((str(first[k]) for k in TEXT_KEYS if first.get(k)), None)
        if text and text not in summary:
            return text if text.endswith(".") else f"{text}."
    return None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


TABLE_KEYS = (
    "lines",
    "groups",
    "rows",
    "items",
    "results",
    "passages",
    "breakdown",
    "alerts",
    "events",
    "findings",
    "vulnerabilities",
    "incidents",
    "controls",
    "services",
    "teams",
    "documents",
)
"""Keys that usually hold a result's main list (preferred over other lists at the same depth)."""
LONG_TEXT = 160


def _rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(r, dict) for r in value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    first = rows[0]
    scalar = [k for k, v in first.items() if _scalar(v)]
    short = [k for k in scalar if not (isinstance(first[k], str) and len(first[k]) > LONG_TEXT)]
    return (short or scalar)[:MAX_COLUMNS]


def find_table(data: Any) -> tuple[list[dict[str, Any]], list[str]] | None:
    """The main list of records in the data (up to two levels down) and its columns.

    Shallower lists win; at the same depth a well-known key ("lines", "results", "alerts" …)
    wins over the others, then the order of the data. So cloud_spend's `report.lines` is found
    under `report`, and an alerts result's `alerts` at the top.
    """
    found: list[tuple[int, int, int, list[dict[str, Any]]]] = []
    if _rows(data):
        found.append((0, 0, 0, data))
    if isinstance(data, dict):
        order = 0
        for key, value in data.items():
            if key in DRIVER_KEYS:
                continue
            order += 1
            rank = TABLE_KEYS.index(key) if key in TABLE_KEYS else len(TABLE_KEYS)
            if _rows(value):
                found.append((1, rank, order, value))
            elif isinstance(value, dict):
                for inner_key, inner in value.items():
                    order += 1
                    if inner_key in DRIVER_KEYS or not _rows(inner):
                        continue
                    inner_rank = (
                        TABLE_KEYS.index(inner_key) if inner_key in TABLE_KEYS else len(TABLE_KEYS)
                    )
                    found.append((2, inner_rank, order, inner))
    for _, _, _, rows in sorted(found, key=lambda f: f[:3]):
        columns = _columns(rows)
        if columns:
            return rows, columns
    return None


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value).replace("|", "/").replace("\n", " ")


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of the first rows."""
    head = "| " + " | ".join(c.replace("_", " ") for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows[:MAX_ROWS]]
    more = [f"\n…{len(rows) - MAX_ROWS} more."] if len(rows) > MAX_ROWS else []
    return "\n".join([head, rule, *body, *more])


def write_answer(
    result: ToolResult, *, kinds: dict[str, str], now: datetime | None = None
) -> Answer:
    """Turn a tool result into the chat answer."""
    if result.status is ToolStatus.ERROR:
        return Answer(text=f"I could not get that: {result.summary}")
    if result.status is ToolStatus.NOT_CONFIGURED:
        return Answer(text=result.summary)
    payload = result.payload().get("data")
    lines = [result.summary.strip()]
    driver = _driver(payload, result.summary)
    if driver:
        lines.append(f"Main driver: {driver}")
    table = find_table(payload) if result.status is ToolStatus.OK else None
    if table and result.tool != "create_jira_ticket":
        lines.append("")
        lines.append(markdown_table(*table))
    src = source_line(result, kinds)
    if src:
        lines.append("")
        lines.append(src + ".")
    return Answer(
        text="\n".join(lines),
        table=table[0][:MAX_ROWS] if table else None,
        columns=table[1] if table else [],
        chart=result.chart,
        source_line=src,
    )


def not_available(tool: str, arguments: dict[str, Any]) -> Answer:
    """Say plainly that the right tool for this question does not exist yet."""
    args = ", ".join(f"{k}={v}" for k, v in arguments.items())
    call = f"{tool}({args})"
    return Answer(
        text=f"I understood the question (it needs {call}), but that capability is not "
        "available yet in this installation."
    )


def key_figures(result: ToolResult) -> list[str]:
    """Short 'name: value' lines from the top level of the result data (for ticket text)."""
    data = result.payload().get("data")
    if not isinstance(data, dict):
        return []
    figures = []
    for key, value in data.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            figures.append(f"{key.replace('_', ' ')}: {_cell(value)}")
        elif isinstance(value, str) and len(value) < 80:
            figures.append(f"{key.replace('_', ' ')}: {value}")
    return figures[:12]
