"""The `alerts` tool: early-warning alerts from `watch/`, with their reasons."""

from __future__ import annotations

from typing import Literal

from cto_assistant.tools.base import ToolContext, ToolResult, no_data, ok, tool
from cto_assistant.watch.evaluate import alert_view
from cto_assistant.watch.queries import list_alerts


@tool(domain="summary")
def alerts(
    ctx: ToolContext,
    *,
    open: bool = True,
    severity: Literal["info", "warning", "critical"] | None = None,
    domain: Literal["delivery", "security", "operations", "data"] | None = None,
) -> ToolResult:
    """Early-warning alerts (open by default) with severity, reason and history."""
    rows = list_alerts(session=ctx.session, open_only=open, severity=severity, domain=domain)
    if not rows:
        which = "open " if open else ""
        return no_data(f"No {which}alerts.", data={"alerts": []})
    views = [alert_view(a) for a in rows]
    live = [v for v in views if v["open"]]
    critical = sum(1 for v in live if v["severity"] == "critical")
    head = views[0]
    summary = (
        f"{len(live)} open alert{'s' if len(live) != 1 else ''} ({critical} critical); "
        f"top: {head['subject']}."
        if live
        else f"No open alerts; {len(views)} closed."
    )
    return ok({"alerts": views, "open": len(live)}, summary=summary)
