"""Keep reports in the `report` table and read them back (`cto report`, `/api/reports`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.reports.render import to_html, to_pdf
from cto_assistant.reports.weekly import WeeklyBrief, build_weekly
from cto_assistant.settings import Settings
from cto_assistant.store.models import Report
from cto_assistant.tools.base import ToolContext

Format = Literal["md", "html", "pdf"]
MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def write_weekly(*, session: Session, settings: Settings, now: datetime) -> Report:
    """Build this week's brief from the tools and store it."""
    brief: WeeklyBrief = build_weekly(ToolContext(session=session, settings=settings, now=now))
    report = Report(
        kind="weekly",
        period_start=brief.period_start,
        period_end=brief.period_end,
        markdown=brief.markdown,
        created_at=now,
    )
    session.add(report)
    session.flush()
    return report


def list_reports(*, session: Session, kind: str | None = None, limit: int = 50) -> list[Report]:
    """Stored reports, newest first."""
    query = sa.select(Report).order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)
    if kind:
        query = query.where(Report.kind == kind)
    return list(session.scalars(query))


def get_report(*, session: Session, report_id: int) -> Report | None:
    """One stored report."""
    return session.get(Report, report_id)


def report_view(report: Report) -> dict[str, Any]:
    """A report's metadata (no body) for lists."""
    title = report.markdown.splitlines()[0].lstrip("# ").strip() if report.markdown else ""
    return {
        "id": report.id,
        "kind": report.kind,
        "title": title,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "created_at": report.created_at.isoformat(),
        "formats": list(MEDIA_TYPES),
    }


def render(report: Report, fmt: Format) -> bytes:
    """The report in `fmt` (md as stored, html with inline SVG charts, pdf)."""
    if fmt == "pdf":
        return to_pdf(report.markdown)
    if fmt == "html":
        return to_html(report.markdown).encode("utf-8")
    return report.markdown.encode("utf-8")
