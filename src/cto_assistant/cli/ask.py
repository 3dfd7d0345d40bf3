"""`cto ask` and `cto chat`: questions in plain English (owned by the assistant issue)."""

from __future__ import annotations

import typer

from cto_assistant.cli.common import not_available


def register(app: typer.Typer) -> None:
    """Add the assistant commands."""

    @app.command()
    def ask(
        question: str = typer.Argument(..., help="The question, in plain English."),
        json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
        session: str | None = typer.Option(None, "--session", help="Conversation id."),
    ) -> None:
        """Answer one question from the store."""
        not_available("`cto ask`")

    @app.command()
    def chat() -> None:
        """Chat interactively, with history."""
        not_available("`cto chat`")
