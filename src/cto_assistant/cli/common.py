"""What every command shares: settings loading, the store, errors printed as one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from cto_assistant.errors import CTOError
from cto_assistant.logging import configure_logging
from cto_assistant.settings import Settings, load_settings
from cto_assistant.store import Store, open_store

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one red line on stderr and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def not_available(what: str) -> NoReturn:
    """Say plainly that a command is not built yet."""
    err_console.print(f"[yellow]{what} is not available yet in this version.[/]")
    raise typer.Exit(2)


def settings_or_exit(**overrides: Any) -> Settings:
    """Load settings; a bad setting prints one line naming it and exits 2."""
    try:
        settings = load_settings(**overrides)
    except CTOError as exc:
        fail(f"invalid setting {exc}", code=2)
    configure_logging(settings)
    return settings


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn our errors into one-line messages instead of tracebacks."""
    try:
        yield
    except CTOError as exc:
        fail(str(exc))


def store_or_exit(settings: Settings) -> Store:
    """Open (and migrate) the store named by the settings."""
    with cli_errors():
        return open_store(settings.effective_database_url)
