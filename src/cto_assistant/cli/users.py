"""`cto user add`: accounts and roles (owned by the foundation issue)."""

from __future__ import annotations

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the user command group."""
    group = typer.Typer(help="Manage users.", no_args_is_help=True)

    @group.command("add")
    def add(
        name: str = typer.Argument(..., help="User name."),
        role: str = typer.Option("viewer", "--role", help="admin or viewer."),
    ) -> None:
        """Create a user (asks for the password)."""
        not_available("`cto user add`")

    app.add_typer(group, name="user")
