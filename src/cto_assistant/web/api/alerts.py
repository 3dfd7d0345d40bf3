"""Alerts and reports: `/api/alerts` (the `alerts` tool), `/api/reports` (stored briefs)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session

from cto_assistant.reports.schedule import generate_report
from cto_assistant.reports.store import MEDIA_TYPES, get_report, list_reports, render, report_view
from cto_assistant.tools.base import ToolContext, call_tool
from cto_assistant.web.api.dashboard import db_session, tool_context
from cto_assistant.web.auth import CurrentUser, require_admin

router = APIRouter(tags=["alerts"])
# The HTML brief is shown in a sandboxed same-origin iframe on /reports: no script at all, its
# own inline stylesheet and data: images only, framed by our pages and nobody else's.
REPORT_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox",
    "X-Frame-Options": "SAMEORIGIN",
}


@router.get("/alerts")
def alerts(
    open: bool = Query(True, description="Only open alerts."),
    severity: Literal["info", "warning", "critical"] | None = Query(None),
    domain: Literal["delivery", "security", "operations", "data"] | None = Query(None),
    ctx: ToolContext = Depends(tool_context),
) -> dict[str, Any]:
    """Early-warning alerts with their reasons (the `alerts` tool's envelope)."""
    arguments = {"open": open, "severity": severity, "domain": domain}
    return call_tool("alerts", ctx, arguments).payload()


@router.get("/reports")
def reports(session: Session = Depends(db_session)) -> dict[str, Any]:
    """Stored reports, newest first (metadata only)."""
    return {"reports": [report_view(r) for r in list_reports(session=session)]}


@router.get("/reports/{report_id}")
def report(
    report_id: int,
    format: Literal["md", "html", "pdf"] = Query("html"),
    session: Session = Depends(db_session),
) -> Response:
    """One stored report as Markdown, HTML (inline SVG charts) or PDF."""
    found = get_report(session=session, report_id=report_id)
    if found is None:
        raise HTTPException(status_code=404, detail="no such report")
    headers = dict(REPORT_HTML_HEADERS) if format == "html" else {}
    if format == "pdf":
        name = f"weekly-brief-{found.period_end.isoformat()}.pdf"
        headers["Content-Disposition"] = f'inline; filename="{name}"'
    return Response(render(found, format), media_type=MEDIA_TYPES[format], headers=headers)


@router.post("/reports", status_code=201, summary="Generate the weekly report now (admins)")
def create_report(request: Request, _admin: CurrentUser = Depends(require_admin)) -> dict[str, Any]:
    """Write and store this week's brief now (the scheduled run also writes one weekly)."""
    state = request.app.state
    return report_view(generate_report(state.store, state.settings))
