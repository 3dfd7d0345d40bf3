"""Actions: tools that change something outside the store (Jira tickets), always logged.

`create_jira_ticket` maps a team to its Jira project and lead, writes a description that
carries the analysis of the conversation's previous answer (handed over by the assistant in
`ctx.extras["previous"]`: question, answer, tool, arguments, key figures, chart), assigns the
lead, and attaches the previous answer's chart as a PNG rendered by vl-convert. Every attempt,
successful or not, is a row in `action_log` naming who asked.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from cto_assistant import accounts
from cto_assistant.errors import CTOError
from cto_assistant.store.models import Person, Team
from cto_assistant.tools.base import ToolContext, ToolResult, ToolStatus, not_configured, ok, tool

PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
LEAD_ROLE = re.compile(r"\b(manager|lead|head)\b", re.IGNORECASE)
CHART_WIDTH = 720


def _team_row(ctx: ToolContext, team: str) -> tuple[str, str | None, str | None]:
    """(team key, Jira project, lead email) for a team key, name or project."""
    wanted = team.strip().lower()
    for row in ctx.session.scalars(sa.select(Team)):
        if wanted in {row.key.lower(), (row.name or "").lower(), (row.jira_project or "").lower()}:
            return (
                row.key,
                row.jira_project or row.key,
                row.lead_email or _lead_by_role(ctx, row.key),
            )
    key = team.strip().upper()
    known = ctx.session.scalar(
        sa.select(Person.team_key).where(sa.func.upper(Person.team_key) == key)
    )
    if known is None:
        raise LookupError(team)
    return known, known, _lead_by_role(ctx, known)


def _lead_by_role(ctx: ToolContext, team_key: str) -> str | None:
    """The team's manager or lead when no team row names a lead (before teams are synced)."""
    for person in ctx.session.scalars(
        sa.select(Person).where(Person.team_key == team_key, Person.active).order_by(Person.name)
    ):
        if person.role and LEAD_ROLE.search(person.role):
            return person.email
    return None


def _person(ctx: ToolContext, who: str) -> Person | None:
    lowered = who.strip().lower()
    return ctx.session.scalars(
        sa.select(Person).where(
            sa.or_(sa.func.lower(Person.email) == lowered, sa.func.lower(Person.name) == lowered)
        )
    ).first()


def _jira_source(ctx: ToolContext) -> tuple[str, dict[str, Any]] | None:
    for name, section in ctx.settings.sources.items():
        if section.get("kind", name) == "jira":
            return name, section
    return None


def render_chart_png(spec: dict[str, Any]) -> bytes:
    """Render a Vega-Lite spec to PNG with vl-convert (a fixed width replaces 'container')."""
    import vl_convert

    spec = dict(spec)
    if spec.get("width") in (None, "container"):
        spec["width"] = CHART_WIDTH
    if spec.get("height") == "container":
        spec["height"] = 320
    return bytes(vl_convert.vegalite_to_png(vl_spec=spec, scale=2))


def describe(previous: dict[str, Any] | None, summary: str, requested_by: str) -> str:
    """The ticket description: the analysis from the conversation, then provenance."""
    lines = [summary, ""]
    if previous:
        if previous.get("question"):
            lines += [f"Question asked: {previous['question']}", ""]
        if previous.get("answer"):
            lines += ["Analysis:", str(previous["answer"]), ""]
        figures = previous.get("figures") or []
        if figures:
            lines.append("Key figures:")
            lines += [f"- {figure}" for figure in figures]
            lines.append("")
        if previous.get("tool"):
            lines.append(f"Computed by the `{previous['tool']}` tool.")
    lines.append(f"Filed by the CTO Assistant at the request of {requested_by}.")
    return "\n".join(lines)


@tool(domain="actions", writes=True)
def create_jira_ticket(
    ctx: ToolContext,
    *,
    summary: str,
    team: str | None = None,
    project: str | None = None,
    description: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    attach_chart: bool = False,
) -> ToolResult:
    """Create a Jira ticket for a team (its project, its lead) with the analysis and chart."""
    actor = ctx.user or "system"
    arguments = {
        "team": team,
        "project": project,
        "summary": summary,
        "priority": priority,
        "assignee": assignee,
        "attach_chart": attach_chart,
    }

    def record(ok_: bool, result: dict[str, Any]) -> None:
        accounts.record_action(
            session=ctx.session,
            actor=actor,
            action="create_jira_ticket",
            ok=ok_,
            arguments=arguments,
            result=result,
            now=ctx.now,
        )

    def failed(message: str) -> ToolResult:
        record(False, {"error": message})
        return ToolResult(status=ToolStatus.ERROR, summary=message, error=message)

    source = _jira_source(ctx)
    if source is None:
        record(False, {"error": "jira not configured"})
        return not_configured("Jira is not connected, so I cannot create tickets yet.")
    if priority is not None:
        match = next((p for p in PRIORITIES if p.lower() == priority.strip().lower()), None)
        if match is None:
            return failed(f"Unknown priority {priority!r} (use {', '.join(PRIORITIES)}).")
        priority = match
    lead_email: str | None = None
    team_key: str | None = None
    if team:
        try:
            team_key, team_project, lead_email = _team_row(ctx, team)
        except LookupError:
            return failed(f"I do not know a team called {team!r}.")
        project = project or team_project
    if not project:
        return failed("Which team or Jira project should the ticket go to?")
    assignee_email = lead_email
    if assignee:
        person = _person(ctx, assignee)
        if person is None:
            return failed(f"I do not know a person called {assignee!r}.")
        assignee_email = person.email
    assignee_name = None
    if assignee_email:
        person = _person(ctx, assignee_email)
        assignee_name = person.name if person else assignee_email
    previous = ctx.extras.get("previous")
    text = description or describe(previous, summary, actor)
    chart = (previous or {}).get("chart") if attach_chart else None

    from cto_assistant.connectors.registry import build_connector

    name, section = source
    try:
        connector = build_connector(name, section)
        try:
            account_id = connector.find_account_id(assignee_email) if assignee_email else None  # type: ignore[attr-defined]
            created = connector.create_issue(  # type: ignore[attr-defined]
                project,
                "Task",
                summary,
                text,
                priority=priority,
                assignee_account_id=account_id,
                labels=("cto-assistant",),
            )
            attachment = None
            if chart:
                png = render_chart_png(chart)
                connector.add_attachment(created["key"], "analysis-chart.png", png, "image/png")  # type: ignore[attr-defined]
                attachment = {"filename": "analysis-chart.png", "bytes": len(png)}
        finally:
            connector.close()
    except CTOError as exc:
        return failed(f"Jira refused the ticket: {exc}")
    result = {
        "key": created["key"],
        "url": created["url"],
        "project": project,
        "team": team_key,
        "priority": priority,
        "assignee": assignee_name,
        "assignee_email": assignee_email if account_id else None,
        "attachment": attachment,
        "chart_requested": attach_chart,
    }
    record(True, result)
    who = f" and assigned it to {assignee_name}" if assignee_name and account_id else ""
    note = ""
    if attach_chart and attachment is None:
        note = " There was no chart in the previous answer to attach."
    return ok(
        result,
        summary=f"Done. I created {created['key']}{who}.{note}",
        sources=[],
        as_of=ctx.now,
    )
