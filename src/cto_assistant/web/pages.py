"""HTML pages: sign-in, the command center shell and the API reference (Jinja2 templates)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from cto_assistant.store import Store
from cto_assistant.store.db import count_rows
from cto_assistant.store.queries.operations import service_teams
from cto_assistant.web.auth import (
    CurrentUser,
    SessionManager,
    current_user,
    optional_user,
    require_csrf,
    sign_in,
    sign_out,
)

PRODUCT_NAME = "CTO Assistant"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Tables whose rows mean "a source has been synced": without any, the page says how to get data.
DATA_TABLES = ("team", "deployment", "incident", "vulnerability", "cost_daily", "ticket")

public = APIRouter(include_in_schema=False)
signed_in = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])


def safe_next(target: str | None) -> str:
    """A local path to return to after sign-in (never another site)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the values every page uses."""
    context.setdefault("product_name", PRODUCT_NAME)
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def data_counts(store: Store) -> dict[str, int]:
    """Rows per core table, to tell an empty store from a synced one."""
    with store.session() as session:
        return {table: count_rows(session, table) for table in DATA_TABLES}


@public.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: str | None = None, user: CurrentUser | None = Depends(optional_user)
) -> Response:
    """Show the sign-in form (or go home when already signed in)."""
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@public.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=1024),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Check the sign-in form and start a new session."""
    sessions: SessionManager = request.app.state.sessions
    if not sessions.check_presession_token(request, csrf_token):
        return _login_page(request, next, "The form expired; please sign in again.", 403, username)
    result = sign_in(request, username=username, password=password)
    if result.user is None:
        return _login_page(request, next, result.reason, result.status, username)
    response = RedirectResponse(safe_next(next), status_code=303)
    sessions.issue(response, result.user)
    return response


def _login_page(
    request: Request, next_path: str, error: str = "", status_code: int = 200, username: str = ""
) -> Response:
    sessions: SessionManager = request.app.state.sessions
    carrier = Response()  # collects the pre-session cookie that goes with this form's token
    token = sessions.presession_token(request, carrier)
    response = render(
        request,
        "login.html",
        status_code,
        error=error,
        next=safe_next(next_path),
        username=username,
        csrf_token=token,
    )
    for cookie in carrier.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", cookie)
    return response


@signed_in.post("/logout")
def logout(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Sign out and go back to the sign-in page."""
    response = RedirectResponse("/login", status_code=303)
    sign_out(request, response, user)
    return response


@signed_in.get("/", response_class=HTMLResponse)
def home(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """The command center shell."""
    from cto_assistant.web.api.dashboard import warm_chart_bundle

    counts = data_counts(request.app.state.store)
    warm_chart_bundle()
    return render(
        request, "home.html", user=user, csrf_token=user.csrf_token, has_data=any(counts.values())
    )


TIMELINE_KINDS = (
    ("deploy", "Deploys"),
    ("incident", "Incidents"),
    ("slo_burn", "SLO burns"),
    ("cost_anomaly", "Cost anomalies"),
    ("vulnerability", "New critical vulns"),
)


@signed_in.get("/timeline", response_class=HTMLResponse)
def timeline_page(
    request: Request,
    service: str | None = None,
    days: int = 14,
    user: CurrentUser = Depends(current_user),
) -> Response:
    """Deploys, incidents, SLO burns, cost anomalies and vulns on one time axis."""
    with request.app.state.store.session() as session:
        services = sorted(service_teams(session))
    return render(
        request,
        "timeline.html",
        user=user,
        csrf_token=user.csrf_token,
        services=services,
        service=service,
        days=days,
        kinds=TIMELINE_KINDS,
    )


@signed_in.get("/data-health", response_class=HTMLResponse)
def data_health_page(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Per-source sync state and the set-up problems that make metrics wrong."""
    return render(request, "health.html", user=user, csrf_token=user.csrf_token)


@signed_in.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Connected sources (with a connection test for admins), users and roles."""
    return render(request, "settings.html", user=user, csrf_token=user.csrf_token)


@signed_in.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Stored weekly briefs: read inline, download Markdown or PDF, generate one (admins)."""
    from cto_assistant.reports.schedule import due_at, weekly_config
    from cto_assistant.watch.config import watch_config

    settings = request.app.state.settings
    schedule = weekly_config(settings)
    now = settings.now()
    upcoming = due_at(now, schedule)
    if upcoming <= now:
        upcoming = due_at(upcoming + timedelta(days=7), schedule)
    mail = watch_config(settings).email
    return render(
        request,
        "reports.html",
        user=user,
        csrf_token=user.csrf_token,
        schedule=schedule,
        next_run=upcoming,
        mailed=bool(schedule.email and mail.host and mail.to),
    )


@signed_in.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Upload documents, search their passages, read their summaries."""
    from cto_assistant.web.api.documents import UPLOAD_MAX_BYTES

    return render(
        request,
        "documents.html",
        user=user,
        csrf_token=user.csrf_token,
        max_mib=UPLOAD_MAX_BYTES // (1024 * 1024),
    )


@signed_in.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Early-warning alerts with filters, each with its summary and history."""
    return render(request, "alerts.html", user=user, csrf_token=user.csrf_token)


@public.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """A readable reference of every API endpoint, built from the OpenAPI schema."""
    schema = request.app.openapi()
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "summary": op.get("summary", ""),
            "description": op.get("description", ""),
            "tags": op.get("tags", []),
            "parameters": op.get("parameters", []),
            "body": "requestBody" in op,
            "responses": sorted(op.get("responses", {}).keys()),
        }
        for path, methods in schema.get("paths", {}).items()
        for method, op in methods.items()
    ]
    return render(request, "api_docs.html", info=schema.get("info", {}), operations=operations)
