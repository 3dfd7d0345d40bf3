"""`cto sync` and `cto status` (owned by the connector-framework issue)."""

from __future__ import annotations

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the sync commands."""

    @app.command()
    def sync(
        sources: list[str] | None = typer.Argument(None, help="Source names (default: all)."),
        check: bool = typer.Option(False, "--check", help="Only run read-only checks."),
    ) -> None:
        """Sync sources now, with a progress bar."""
        not_available("`cto sync`")

    @app.command()
    def status() -> None:
        """Show sources, last sync, freshness and last error."""
        not_available("`cto status`")
