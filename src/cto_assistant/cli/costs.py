"""`cto import-costs`: FOCUS / CUR billing exports into cost_daily (owned by the ops connectors)."""

from __future__ import annotations

from pathlib import Path

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the cost import command."""

    @app.command("import-costs")
    def import_costs(
        paths: list[Path] = typer.Argument(..., help="Files or folders of billing exports."),
        fmt: str = typer.Option("focus", "--format", help="focus or cur."),
    ) -> None:
        """Import billing exports (FOCUS 1.x CSV/Parquet) into the cost store."""
        not_available("`cto import-costs`")
