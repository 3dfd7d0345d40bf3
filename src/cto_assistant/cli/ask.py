"""`cto ask` and `cto chat`: questions in plain English, answered from the store."""

from __future__ import annotations

import getpass
import json

import typer
from rich.markdown import Markdown

from cto_assistant.cli.common import cli_errors, console, settings_or_exit, store_or_exit


def _who() -> str:
    """The local user, recorded as the actor of any action."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def register(app: typer.Typer) -> None:
    """Add the assistant commands."""

    @app.command()
    def ask(
        question: str = typer.Argument(..., help="The question, in plain English."),
        json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
        session: str | None = typer.Option(None, "--session", help="Conversation id."),
    ) -> None:
        """Answer one question from the store."""
        from cto_assistant.assistant.service import Assistant

        settings = settings_or_exit()
        store = store_or_exit(settings)
        with cli_errors():
            reply = Assistant(store, settings).ask(question, conversation_id=session, user=_who())
        store.dispose()
        if json_output:
            typer.echo(json.dumps(reply.payload(), default=str))
            return
        console.print(Markdown(reply.answer.text))
        console.print(f"[dim]session {reply.conversation_id}[/]", highlight=False)

    @app.command()
    def chat(
        session: str | None = typer.Option(None, "--session", help="Continue a conversation."),
    ) -> None:
        """Chat interactively, with history (empty line or /quit to leave)."""
        from cto_assistant.assistant.service import Assistant

        settings = settings_or_exit()
        store = store_or_exit(settings)
        assistant = Assistant(store, settings)
        conversation = session
        console.print("[dim]Ask about delivery, security, cost or reliability. /quit to leave.[/]")
        while True:
            try:
                question = console.input("[bold cyan]you >[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not question or question in {"/quit", "/exit", "quit", "exit"}:
                break
            with cli_errors():
                reply = assistant.ask(question, conversation_id=conversation, user=_who())
            conversation = reply.conversation_id
            console.print(Markdown(reply.answer.text))
        store.dispose()
        if conversation:
            console.print(f"[dim]session {conversation}[/]", highlight=False)
