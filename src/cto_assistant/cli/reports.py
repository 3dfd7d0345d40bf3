"""`cto report weekly` and `cto alerts` (owned by the watch/report issue)."""

from __future__ import annotations

from pathlib import Path

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add report and alert commands."""

    @app.command()
    def report(
        kind: str = typer.Argument("weekly", help="Report kind: weekly."),
        fmt: str = typer.Option("md", "--format", help="md, html or pdf."),
        output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file."),
    ) -> None:
        """Write the executive report."""
        not_available("`cto report`")

    @app.command()
    def alerts(open_only: bool = typer.Option(False, "--open", help="Only open alerts.")) -> None:
        """List early-warning alerts."""
        not_available("`cto alerts`")
