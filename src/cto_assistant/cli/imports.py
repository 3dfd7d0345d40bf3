"""`cto import deployments|incidents FILE`: the GENERIC source (owned by the connector issue)."""

from __future__ import annotations

from pathlib import Path

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the generic import command."""

    @app.command("import")
    def import_file(
        kind: str = typer.Argument(..., help="deployments or incidents"),
        path: Path = typer.Argument(..., help="CSV or JSON file in the documented shape."),
    ) -> None:
        """Import deployments or incidents from a CSV/JSON file (all or nothing)."""
        not_available("`cto import`")
