"""`cto …` — the command line (DESIGN.md §9). Each command group lives in its own module."""

from __future__ import annotations

import typer

from cto_assistant.cli import (
    ask,
    config,
    costs,
    demo,
    docs,
    imports,
    reports,
    serve,
    sync,
    users,
    worker,
)
from cto_assistant.cli import secrets as secrets_cli

app = typer.Typer(
    name="cto",
    help="CTO Assistant: delivery, security, cloud and reliability in one place.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    demo,
    serve,
    sync,
    ask,
    costs,
    imports,
    reports,
    users,
    config,
    docs,
    secrets_cli,
    worker,
):
    module.register(app)

__all__ = ["app"]
