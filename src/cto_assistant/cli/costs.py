"""`cto import-costs PATH… [--format focus|cur]`: billing exports into cost_daily."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cto_assistant.cli.common import (
    cli_errors,
    console,
    fail,
    settings_or_exit,
    store_or_exit,
)
from cto_assistant.connectors.focus.importer import check_files, import_focus
from cto_assistant.connectors.focus.mapping import TagKeys


def register(app: typer.Typer) -> None:
    """Add the cost import command."""

    @app.command("import-costs")
    def import_costs(
        paths: list[Path] = typer.Argument(..., help="Files or folders of billing exports."),
        fmt: str = typer.Option("focus", "--format", help="focus (FOCUS 1.x) or cur."),
        source: str = typer.Option("focus", "--source", help="Source name the rows carry."),
        team_tag: str = typer.Option("team", "--team-tag", help="Tag key naming the team."),
        project_tag: str = typer.Option(
            "project", "--project-tag", help="Tag key naming the project."
        ),
    ) -> None:
        """Import billing exports (FOCUS 1.x CSV/Parquet, gzip or not) into the cost store."""
        if fmt == "cur":
            fail(
                "--format cur is not supported: export the data as FOCUS 1.x from the AWS "
                "Billing console (Data Exports → FOCUS) and import that.",
                code=2,
            )
        if fmt != "focus":
            fail(f"unknown --format {fmt!r} (focus or cur)", code=2)
        settings = settings_or_exit()
        with cli_errors():
            files = check_files(paths)
        store = store_or_exit(settings)
        with (
            cli_errors(),
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as bar,
        ):
            task = bar.add_task("importing", total=len(files), rows=0)
            scanned = 0

            def progress(phase: str, path: Path, rows: int) -> None:
                nonlocal scanned
                if phase == "done":
                    scanned += rows
                    bar.update(task, advance=1, rows=scanned, description="importing")
                else:
                    bar.update(task, description=f"{phase} {path.name}")

            result = import_focus(
                store,
                files,
                source=source,
                tag_keys=TagKeys(team=team_tag, project=project_tag),
                progress=progress,
            )
        store.dispose()
        rate = result.source_rows / result.seconds if result.seconds else 0.0
        for file in result.files:
            totals = ", ".join(
                f"{amount:,.2f} {cur}" for cur, amount in sorted(file.billed_total.items())
            )
            replaced = f", replaced {file.rows_replaced}" if file.rows_replaced else ""
            console.print(
                f"  {file.path}: {file.source_rows:,} rows → {file.rows_written:,} daily rows"
                f"{replaced} (billed {totals or '0'})",
                highlight=False,
            )
        console.print(
            f"[green]Imported {len(result.files)} file(s): {result.source_rows:,} FOCUS rows → "
            f"{result.rows_written:,} cost_daily rows in {result.seconds:.1f}s "
            f"({rate:,.0f} rows/s).[/]",
            highlight=False,
        )
