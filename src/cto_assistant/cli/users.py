"""`cto user add|list`: accounts and roles (owned by the foundation issue)."""

from __future__ import annotations

import sys

import typer

from cto_assistant import accounts
from cto_assistant.cli.common import console, fail, settings_or_exit, store_or_exit


def register(app: typer.Typer) -> None:
    """Add the user command group."""
    group = typer.Typer(help="Manage users.", no_args_is_help=True)

    @group.command("add")
    def add(
        name: str = typer.Argument(..., help="User name."),
        role: str = typer.Option("viewer", "--role", help="admin or viewer."),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read the password from the first line of stdin."
        ),
    ) -> None:
        """Create a user (asks for the password twice, or reads it from stdin)."""
        try:
            accounts.validate_role(role)
            username = accounts.normalize_username(name)
        except accounts.AccountError as exc:
            fail(str(exc))
        settings = settings_or_exit()
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        store = store_or_exit(settings)
        try:
            with store.session() as session:
                accounts.create_user(
                    session=session, username=username, password=password, role=role
                )
                accounts.record_action(
                    session=session,
                    actor="cli",
                    action="create_user",
                    ok=True,
                    arguments={"username": username, "role": role},
                )
        except accounts.AccountError as exc:
            fail(str(exc))
        finally:
            store.dispose()
        console.print(
            f"[green]created[/] user [bold]{username}[/] with role {role}", highlight=False
        )

    @group.command("list")
    def list_users() -> None:
        """List users and their roles."""
        store = store_or_exit(settings_or_exit())
        try:
            with store.session() as session:
                users = accounts.list_users(session=session)
                rows = [(u.username, u.role, u.active, u.last_sign_in_at) for u in users]
        finally:
            store.dispose()
        if not rows:
            console.print("no users yet — add one with `cto user add NAME --role admin`")
        for username, role, active, last in rows:
            state = "" if active else " (disabled)"
            seen = last.isoformat(timespec="minutes") if last else "never"
            console.print(f"{username}\t{role}{state}\tlast sign-in: {seen}", highlight=False)

    app.add_typer(group, name="user")
