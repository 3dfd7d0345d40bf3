"""`cto demo` and `cto sandbox`: the Acme Cloud world (owned by the demo-world issue)."""

from __future__ import annotations

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the demo commands."""

    @app.command()
    def demo(
        seed: int = typer.Option(42, help="Seed of the generated world."),
        today: str | None = typer.Option(None, help="Pin 'today' (YYYY-MM-DD)."),
        scale: str = typer.Option("small", help="small or large."),
        port: int = typer.Option(8000, help="Port of the command center."),
        no_serve: bool = typer.Option(False, "--no-serve", help="Stop after the sync."),
    ) -> None:
        """Build the demo company, sync it through the real connectors, open the command center."""
        not_available("`cto demo`")

    @app.command()
    def sandbox(port: int = typer.Option(8900, help="Port for the simulators.")) -> None:
        """Serve every vendor simulator on loopback and print the matching cto.toml."""
        not_available("`cto sandbox`")
