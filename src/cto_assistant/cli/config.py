"""`cto config check`: validate and print the effective settings, secrets redacted."""

from __future__ import annotations

import json

import typer

from cto_assistant.cli.common import console, settings_or_exit


def register(app: typer.Typer) -> None:
    """Add the config command group."""
    group = typer.Typer(help="Inspect configuration.", no_args_is_help=True)

    @group.command("check")
    def check(
        json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Validate the settings and print them with secrets redacted."""
        settings = settings_or_exit()
        data = settings.redacted()
        if json_output:
            console.print_json(json.dumps(data))
            return
        for key, value in data.items():
            console.print(f"[bold]{key}[/] = {value}", highlight=False)
        console.print("[green]settings OK[/]")

    app.add_typer(group, name="config")
