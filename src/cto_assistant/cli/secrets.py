"""`cto secrets key|set|list|delete`: connector tokens stored encrypted in the database."""

from __future__ import annotations

import sys

import typer

from cto_assistant import secrets as vault
from cto_assistant.cli.common import cli_errors, console, fail, settings_or_exit, store_or_exit


def register(app: typer.Typer) -> None:
    """Add the secrets command group."""
    group = typer.Typer(
        help=f"Secrets encrypted at rest (key: ${vault.KEY_ENV}).", no_args_is_help=True
    )

    @group.command("key")
    def key() -> None:
        """Print a new random key to put in CTO_SECRETS_KEY (keep it out of cto.toml)."""
        console.print(vault.new_key(), highlight=False)

    @group.command("set")
    def set_(
        name: str = typer.Argument(..., help="Secret name, e.g. JIRA_TOKEN."),
        value_stdin: bool = typer.Option(
            False, "--value-stdin", help="Read the value from the first line of stdin."
        ),
    ) -> None:
        """Store a secret (asks for the value, never takes it as an argument)."""
        settings = settings_or_exit()
        with cli_errors():
            vault.check_name(name)
            box = vault.box_from_environment()
        if value_stdin:
            value = sys.stdin.readline().rstrip("\r\n")
        else:
            value = typer.prompt("Value", hide_input=True)
        if not value:
            fail("the value is empty")
        store = store_or_exit(settings)
        try:
            with cli_errors(), store.session() as session:
                vault.set_secret(session=session, box=box, name=name, value=value)
        finally:
            store.dispose()
        console.print(f"[green]stored[/] secret [bold]{name}[/] (encrypted)", highlight=False)

    @group.command("list")
    def list_() -> None:
        """List stored secret names and when they changed (never their values)."""
        store = store_or_exit(settings_or_exit())
        try:
            with store.session() as session:
                found = vault.list_secrets(session=session)
        finally:
            store.dispose()
        if not found:
            console.print("no secrets stored — add one with `cto secrets set NAME`")
        for info in found:
            stamp = info.updated_at.isoformat(timespec="minutes")
            console.print(f"{info.name}\tupdated {stamp}", highlight=False)

    @group.command("delete")
    def delete(name: str = typer.Argument(..., help="Secret name.")) -> None:
        """Forget a stored secret."""
        store = store_or_exit(settings_or_exit())
        try:
            with store.session() as session:
                existed = vault.delete_secret(session=session, name=name)
        finally:
            store.dispose()
        if not existed:
            fail(f"no stored secret {name}")
        console.print(f"deleted secret [bold]{name}[/]", highlight=False)

    app.add_typer(group, name="secrets")
