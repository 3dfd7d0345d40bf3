"""`cto ask` and `cto chat`: questions in plain English, answered from the store.

`--mode` forces who answers (router, llm, or auto); a write action the model proposes is shown
and runs only when the user confirms it at the prompt.
"""

from __future__ import annotations

import getpass
import json
from typing import TYPE_CHECKING, cast

import typer
from rich.markdown import Markdown

from cto_assistant.cli.common import cli_errors, console, settings_or_exit, store_or_exit

if TYPE_CHECKING:
    from cto_assistant.assistant.llm.config import Mode
    from cto_assistant.assistant.service import Assistant, Reply

MODE_HELP = (
    "Who answers: router (no model), llm (the configured model) or auto; default: [llm] mode."
)


def _mode(value: str | None) -> Mode | None:
    """Check a --mode value."""
    if value is not None and value not in ("router", "llm", "auto"):
        raise typer.BadParameter("must be router, llm or auto")
    return cast("Mode | None", value)


def _confirm_pending(assistant: Assistant, reply: Reply) -> None:
    """Offer each write action the model proposed; run it only on an explicit yes."""
    from cto_assistant.assistant.llm.runner import confirm_action

    for action in (reply.llm or {}).get("pending_actions", []):
        args = ", ".join(f"{k}={v!r}" for k, v in action["arguments"].items())
        if not typer.confirm(f"Run {action['tool']}({args})?", default=False):
            console.print("[dim]Not done.[/]")
            continue
        with cli_errors():
            result = confirm_action(
                store=assistant.store,
                settings=assistant.settings,
                conversation_id=reply.conversation_id,
                action_id=action["id"],
                user=_who(),
            )
        console.print(result.summary)


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
        mode: str | None = typer.Option(None, "--mode", help=MODE_HELP),
    ) -> None:
        """Answer one question from the store."""
        from cto_assistant.assistant.service import Assistant

        settings = settings_or_exit()
        store = store_or_exit(settings)
        assistant = Assistant(store, settings)
        with cli_errors():
            reply = assistant.ask(question, conversation_id=session, user=_who(), mode=_mode(mode))
        if json_output:
            store.dispose()
            typer.echo(json.dumps(reply.payload(), default=str))
            return
        console.print(Markdown(reply.answer.text))
        _confirm_pending(assistant, reply)
        store.dispose()
        console.print(f"[dim]session {reply.conversation_id}[/]", highlight=False)

    @app.command()
    def chat(
        session: str | None = typer.Option(None, "--session", help="Continue a conversation."),
        mode: str | None = typer.Option(None, "--mode", help=MODE_HELP),
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
                reply = assistant.ask(
                    question,
                    conversation_id=conversation,
                    user=_who(),
                    mode=_mode(mode),
                )
            conversation = reply.conversation_id
            console.print(Markdown(reply.answer.text))
            _confirm_pending(assistant, reply)
        store.dispose()
        if conversation:
            console.print(f"[dim]session {conversation}[/]", highlight=False)
