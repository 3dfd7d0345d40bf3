"""The FastAPI app factory: JSON API, server-sent events, pages, static assets, sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

import cto_assistant
from cto_assistant.logging import get_logger, register_secret
from cto_assistant.settings import Settings
from cto_assistant.store import Store, open_store
from cto_assistant.sync.scheduler import build_scheduler
from cto_assistant.tools.cache import ToolCache
from cto_assistant.web import events, health, metrics, pages
from cto_assistant.web.api import build_api_router
from cto_assistant.web.auth import NotAuthenticated, SessionManager, SignInLimiter
from cto_assistant.web.middleware import RequestLogMiddleware, SecurityHeadersMiddleware
from cto_assistant.web.warm import DashboardWarmer

STATIC_DIR = Path(__file__).parent / "static"
log = get_logger("web")


def create_app(
    settings: Settings, *, store: Store | None = None, sync_on_start: bool = True
) -> FastAPI:
    """Build the web app; refuses to start outside demo mode without CTO_SECRET_KEY.

    With sources configured and `sync_interval_minutes` > 0 the app runs the sync scheduler
    while it serves (first run at start unless `sync_on_start` is False).
    """
    secret_key = settings.require_secret_key().get_secret_value()
    register_secret(secret_key)
    owns_store = store is None
    active_store = store or open_store(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("web_started", host=settings.host, port=settings.port, demo=settings.demo)
        if settings.queue_url:  # sync events of the workers reach this process's browsers
            events.connect_relay(settings.queue_url, namespace=settings.queue_namespace)
        warmer = _start_warmer(app, settings, active_store)
        scheduler = build_scheduler(settings, active_store, run_immediately=sync_on_start)
        if scheduler is not None:
            scheduler.start()
        yield
        if scheduler is not None:
            scheduler.close()
        if warmer is not None:
            warmer.stop()
        if settings.queue_url:
            events.disconnect_relay()
        if owns_store:
            active_store.dispose()

    app = FastAPI(
        title="CTO Assistant",
        version=getattr(cto_assistant, "__version__", "0.1.0"),
        description="Delivery, security, cloud and reliability of one company, in one place.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # our own CSP-clean page at /api/docs (Swagger UI needs a CDN)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = active_store
    app.state.sessions = SessionManager(
        secret_key,
        max_age_seconds=settings.session_max_age_hours * 3600,
        secure=settings.session_cookie_secure,
    )
    app.state.sessions.load_revocations(active_store)
    app.state.sign_in_limiter = SignInLimiter()
    app.state.events = events.broker
    app.state.tool_cache = ToolCache(max_age_seconds=settings.tool_cache_seconds)

    app.add_middleware(GZipMiddleware, minimum_size=1024)  # skips text/event-stream
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestLogMiddleware)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    # outermost middleware: times whole requests
    metrics.install(app, settings, active_store, app.state.tool_cache)
    app.include_router(build_api_router())
    app.include_router(pages.public)
    app.include_router(pages.signed_in)
    return app


def _start_warmer(app: FastAPI, settings: Settings, store: Store) -> DashboardWarmer | None:
    """Keep the dashboard's answers warm in the app's tool cache (see web/warm.py)."""
    if not settings.dashboard_warm or settings.tool_cache_seconds == 0:
        return None
    warmer = app.state.warmer = DashboardWarmer(store, settings, app.state.tool_cache)
    warmer.start(events.broker)
    return warmer


async def _not_authenticated(request: Request, _exc: Exception) -> Response:
    """401 JSON for the API, a redirect to the sign-in page for pages."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "sign-in required"}, status_code=401)
    target = pages.safe_next(request.url.path)
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
