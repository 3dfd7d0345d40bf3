"""`cto serve`: the web command center (owned by the foundation issue)."""

from __future__ import annotations

from typing import Any

import typer

from cto_assistant.cli.common import console, fail, settings_or_exit
from cto_assistant.errors import ConfigError, CTOError
from cto_assistant.settings import Settings


def run_web(settings: Settings, *, sync_on_start: bool = True) -> None:
    """Build the app and serve it until interrupted; bad settings exit with one line.

    `cto demo` calls this too, with `demo=True` settings.
    """
    import uvicorn

    from cto_assistant.web.app import create_app

    try:
        web_app = create_app(settings, sync_on_start=sync_on_start)
    except ConfigError as exc:
        fail(f"invalid setting {exc}", code=2)
    except CTOError as exc:
        fail(str(exc))
    console.print(f"CTO Assistant on [bold]http://{settings.host}:{settings.port}[/]")
    uvicorn.run(
        web_app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structured logging; one line per request from our middleware
        access_log=False,
        proxy_headers=False,
    )


def register(app: typer.Typer) -> None:
    """Add the serve command."""

    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="Bind address (default 127.0.0.1)."),
        port: int | None = typer.Option(None, help="Port (default 8000)."),
    ) -> None:
        """Run the web command center and the sync scheduler."""
        overrides: dict[str, Any] = {}
        if host is not None:
            overrides["host"] = host
        if port is not None:
            overrides["port"] = port
        run_web(settings_or_exit(**overrides))
