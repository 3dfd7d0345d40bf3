"""`cto serve`: the web command center (owned by the foundation issue)."""

from __future__ import annotations

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the serve command."""

    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="Bind address (default 127.0.0.1)."),
        port: int | None = typer.Option(None, help="Port (default 8000)."),
    ) -> None:
        """Run the web command center and the sync scheduler."""
        not_available("`cto serve`")
