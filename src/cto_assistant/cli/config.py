"""`cto config check`: validate and print the effective settings, secrets redacted."""

from __future__ import annotations

import json

import typer

from cto_assistant.cli.common import console, err_console, settings_or_exit


def register(app: typer.Typer) -> None:
    """Add the config command group."""
    group = typer.Typer(help="Inspect configuration.", no_args_is_help=True)

    @group.command("check")
    def check(
        json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Validate the settings and print them with secrets redacted."""
        from cto_assistant.connectors.registry import check_sources

        settings = settings_or_exit()
        data = settings.redacted()
        problems = check_sources(settings)
        if json_output:
            data["problems"] = {name: str(exc) for name, exc in problems.items()}
            console.print_json(json.dumps(data))
        else:
            for key, value in data.items():
                console.print(f"[bold]{key}[/] = {value}", highlight=False)
            for exc in problems.values():
                err_console.print(f"[bold red]error:[/] invalid setting {exc}", highlight=False)
            if not problems:
                console.print("[green]settings OK[/]")
        if problems:
            raise typer.Exit(2)

    app.add_typer(group, name="config")
