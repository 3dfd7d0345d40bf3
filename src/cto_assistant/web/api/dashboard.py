"""The dashboard API: layout per user, widget data, timeline, data health, sources, charts.

Every figure comes from one tool call (`web.widgets`); routes parse, call and return.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cto_assistant.connectors.base import CheckResult
from cto_assistant.connectors.registry import build_connector
from cto_assistant.errors import CTOError
from cto_assistant.secrets import secret_lookup
from cto_assistant.store.db import utcnow
from cto_assistant.store.models import DashboardLayout
from cto_assistant.store.queries.engineering import team_names
from cto_assistant.store.rollup import data_version
from cto_assistant.tools.base import ToolContext
from cto_assistant.tools.cache import ToolCache
from cto_assistant.tools.summary import call_tool_cached
from cto_assistant.web.auth import CurrentUser, current_user, require_admin
from cto_assistant.web.warm import compute_widgets
from cto_assistant.web.widgets import (
    VENDOR_NAMES,
    WIDGETS,
    LayoutItem,
    clean_layout,
    default_layout,
    envelope,
    load_tools,
    widget_payload,
)

router = APIRouter(tags=["dashboard"])


def db_session(request: Request) -> Iterator[Session]:
    """A store session in one transaction for the length of the request."""
    with request.app.state.store.session() as session:
        yield session


def tool_context(
    request: Request,
    session: Session = Depends(db_session),
    user: CurrentUser = Depends(current_user),
) -> ToolContext:
    """The tool context of this request: its session, the settings, the pinned clock."""
    load_tools()
    settings = request.app.state.settings
    return ToolContext(
        session=session,
        settings=settings,
        now=settings.now(),
        user=user.username,
        cache=app_tool_cache(request),
    )


def app_tool_cache(request: Request) -> ToolCache:
    """This app's tool cache (create_app makes it; answers reused until a sync commits)."""
    cache: ToolCache = request.app.state.tool_cache
    return cache


class Layout(BaseModel):
    """A user's dashboard: the widgets in order, with size and filters."""

    widgets: list[LayoutItem] = Field(max_length=len(WIDGETS))
    saved: bool = Field(default=False, description="False while the default layout is shown.")


def _saved_layout(session: Session, user_id: int) -> DashboardLayout | None:
    return session.scalar(sa.select(DashboardLayout).where(DashboardLayout.user_id == user_id))


def read_layout(session: Session, user_id: int) -> Layout:
    """The user's saved layout, or the default one."""
    row = _saved_layout(session, user_id)
    if row is None:
        return Layout(widgets=default_layout(), saved=False)
    items = [LayoutItem.model_validate(item) for item in row.widgets or []]
    return Layout(widgets=clean_layout(items), saved=True)


@router.get("/dashboard/layout", response_model=Layout, summary="The user's dashboard layout")
def get_layout(
    session: Session = Depends(db_session), user: CurrentUser = Depends(current_user)
) -> Layout:
    """Return the signed-in user's layout (the default until they change it)."""
    return read_layout(session, user.id)


@router.put("/dashboard/layout", response_model=Layout, summary="Save the dashboard layout")
def put_layout(
    body: Layout, session: Session = Depends(db_session), user: CurrentUser = Depends(current_user)
) -> Layout:
    """Save the user's widgets, order, sizes and filters (unknown widgets are dropped)."""
    items = clean_layout(body.widgets)
    row = _saved_layout(session, user.id)
    stored = [item.model_dump() for item in items]
    if row is None:
        session.add(DashboardLayout(user_id=user.id, widgets=stored, updated_at=utcnow()))
    else:
        row.widgets = stored
        row.updated_at = utcnow()
    return Layout(widgets=items, saved=True)


@router.delete("/dashboard/layout", response_model=Layout, summary="Reset the dashboard layout")
def reset_layout(
    session: Session = Depends(db_session), user: CurrentUser = Depends(current_user)
) -> Layout:
    """Forget the user's layout and return the default one."""
    row = _saved_layout(session, user.id)
    if row is not None:
        session.delete(row)
    return Layout(widgets=default_layout(), saved=False)


@router.get("/dashboard", summary="Layout, widget catalogue and every placed widget's data")
def dashboard(
    request: Request,
    budget_ms: int | None = Query(
        default=None,
        ge=0,
        le=60_000,
        description="Answer within this many ms: a widget not computed by then comes as state "
        "`loading` (`pending`), and `GET /api/widgets/{id}` waits for it. Default: wait for all.",
    ),
    ctx: ToolContext = Depends(tool_context),
    user: CurrentUser = Depends(current_user),
) -> dict[str, Any]:
    """Everything the dashboard shows, in one call: each widget with its envelope and state.

    Right after a sync a widget carries its previous answer (`refreshing`) rather than wait for
    the new one; with `budget_ms`, one with no answer at all yet does not hold the others up.
    """
    started = time.perf_counter()
    layout = read_layout(ctx.session, user.id)
    # Read before the widgets start: once their threads run, each query waits for the GIL.
    teams = team_names(session=ctx.session)
    version = data_version(ctx.session)
    widgets = compute_widgets(
        request.app.state.store,
        ctx.settings,
        ctx.cache,
        [(item.id, item.options) for item in layout.widgets],
        now=ctx.now,
        user=ctx.user,
        stale_ok=True,
        compact=True,
        # without a cache an unfinished widget would be computed again by its own request
        budget_ms=budget_ms
        if ctx.cache is not None and ctx.cache.max_age.total_seconds() > 0
        else None,
    )
    return {
        "layout": layout.model_dump(),
        "catalog": [widget.info() for widget in WIDGETS.values()],
        "widgets": widgets,
        "teams": teams,
        "now": ctx.now.isoformat(),
        "data_version": version,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }


@router.get("/widgets/{widget_id}", summary="One widget's data (for live refresh and filters)")
def widget(
    widget_id: str,
    request: Request,
    full: bool = Query(default=False, description="Every row (the detail modal), not the tile's."),
    ctx: ToolContext = Depends(tool_context),
) -> dict[str, Any]:
    """Run one widget's tool; query parameters set its filters (e.g. `?team=PAY`)."""
    found = WIDGETS.get(widget_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no widget {widget_id!r}")
    options = {k: v for k, v in request.query_params.items() if k in found.filters}
    # Only the plain widget is shared through the store: filter values are free text, and
    # a saved layout's filtered widgets are shared by the dashboard call and the warmer.
    shared = not options
    return widget_payload(
        found, replace(ctx, stale_ok=True, shared=shared), options, compact=not full
    )


@router.get("/widgets/{widget_id}/detail", summary="The detail behind one row of a widget")
def widget_detail(
    widget_id: str,
    key: str = Query(min_length=1, max_length=200, description="The row's key, e.g. INC-1234."),
    ctx: ToolContext = Depends(tool_context),
) -> dict[str, Any]:
    """Run the widget's detail tool for one row (e.g. an incident's timeline)."""
    found = WIDGETS.get(widget_id)
    if found is None or found.detail_tool is None:
        raise HTTPException(status_code=404, detail=f"widget {widget_id!r} has no row detail")
    result = call_tool_cached(found.detail_tool, ctx, {found.detail_arg: key})
    return envelope(result, ctx)


@router.get("/timeline", summary="Deploys, incidents, SLO burns, anomalies, vulns on one axis")
def timeline(
    service: str | None = Query(default=None, max_length=128),
    days: int = Query(default=14, ge=1, le=180),
    ctx: ToolContext = Depends(tool_context),
) -> dict[str, Any]:
    """The timeline of one service, or of the company when no service is given."""
    arguments: dict[str, Any] = {"days": days}
    if service:
        arguments["service"] = service
    return envelope(call_tool_cached("timeline", ctx, arguments), ctx)


@router.get("/data-health", summary="Source freshness and set-up problems with their fixes")
def data_health(ctx: ToolContext = Depends(tool_context)) -> dict[str, Any]:
    """Per source sync state, plus set-up problems that make metrics wrong."""
    return {
        "freshness": envelope(call_tool_cached("data_freshness", ctx), ctx),
        "setup": envelope(call_tool_cached("data_health", ctx), ctx),
    }


@router.get("/sources", summary="Connected sources with their sync status")
def sources(ctx: ToolContext = Depends(tool_context)) -> dict[str, Any]:
    """The configured sources, their kind and freshness (no secrets)."""
    freshness = envelope(call_tool_cached("data_freshness", ctx), ctx)
    return {
        "sources": (freshness.get("data") or {}).get("sources", []),
        "vendors": VENDOR_NAMES,
        "as_of": freshness.get("as_of"),
    }


class CheckOut(BaseModel):
    """One capability probed by a connector's read-only check."""

    capability: str
    ok: bool
    detail: str


@router.post(
    "/sources/{name}/check",
    response_model=list[CheckOut],
    summary="Test a source's connection (read-only, admin)",
    dependencies=[Depends(require_admin)],
)
def check_source(name: str, request: Request) -> list[CheckOut]:
    """Run the connector's read-only check of each capability; never writes to the vendor."""
    section = request.app.state.settings.sources.get(name)
    if section is None:
        raise HTTPException(status_code=404, detail=f"no source named {name!r}")
    try:
        lookup = secret_lookup(request.app.state.settings.effective_database_url)
        connector = build_connector(name, section, secrets=lookup)
    except CTOError as exc:
        return [CheckOut(capability="config", ok=False, detail=str(exc))]
    try:
        results: list[CheckResult] = connector.check()
    except NotImplementedError:
        results = [CheckResult("check", ok=False, detail="this connector has no check()")]
    except CTOError as exc:
        results = [CheckResult("connect", ok=False, detail=str(exc))]
    finally:
        connector.close()
    return [CheckOut(capability=r.capability, ok=r.ok, detail=r.detail) for r in results]


# ------------------------------------------------------------------------------ charts


class _Bundle:
    """The vega-embed ES module from the vl-convert wheel, built once (it takes seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.source: bytes | None = None
        self.gzipped: bytes | None = None

    def get(self) -> tuple[bytes, bytes]:
        with self._lock:
            if self.source is None or self.gzipped is None:
                import vl_convert

                code = vl_convert.javascript_bundle(
                    "export { vegaEmbed, vegaLite, vega, lodashDebounce };"
                )
                self.source = code.encode()
                self.gzipped = gzip.compress(self.source, compresslevel=6)
            return self.source, self.gzipped


VEGA_BUNDLE = _Bundle()


def warm_chart_bundle() -> None:
    """Build the vega-embed bundle in a background thread so the first page does not wait."""
    threading.Thread(target=VEGA_BUNDLE.get, name="vega-bundle", daemon=True).start()


@router.get(
    "/charts/vega-embed.js",
    summary="The vega-embed bundle (ES module) that renders the tools' Vega-Lite charts",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}},
)
def vega_embed(request: Request) -> Response:
    """Serve `vl_convert.javascript_bundle()` as an ES module, cached for a day."""
    source, gzipped = VEGA_BUNDLE.get()
    headers = {"Cache-Control": "private, max-age=86400, immutable", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(gzipped, media_type="text/javascript", headers=headers)
    return Response(source, media_type="text/javascript", headers=headers)
