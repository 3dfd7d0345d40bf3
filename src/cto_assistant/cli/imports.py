"""`cto import deployments|incidents FILE`: the GENERIC source from CSV or JSON files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from cto_assistant.cli.common import console, err_console, fail, settings_or_exit, store_or_exit
from cto_assistant.errors import CTOError, ImportFileError
from cto_assistant.sync.ingest import DEFAULT_SOURCE, import_file

MAX_PROBLEMS_SHOWN = 50


class ImportKind(StrEnum):
    """What a file holds."""

    deployments = "deployments"
    incidents = "incidents"


def register(app: typer.Typer) -> None:
    """Add the generic import command."""

    @app.command("import")
    def import_command(
        kind: ImportKind = typer.Argument(..., help="deployments or incidents"),
        path: Path = typer.Argument(..., help="CSV, JSON array or NDJSON file (see docs)."),
        source: str = typer.Option(
            DEFAULT_SOURCE, "--source", help="GENERIC source the rows are filed under."
        ),
    ) -> None:
        """Import deployments or incidents from a CSV/JSON file (all rows or none)."""
        settings = settings_or_exit()
        section = settings.sources.get(source)
        if section is None and source != DEFAULT_SOURCE:
            fail(f'no source named {source} (add [sources.{source}] kind = "generic")', code=2)
        if section is not None and section.get("kind", source) != "generic":
            fail(f"source {source} is of kind {section.get('kind')!r}, not 'generic'", code=2)
        store = store_or_exit(settings)
        try:
            with console.status(f"importing {kind.value} from {path}…"):
                result = import_file(store, kind.value, path, source=source)
        except ImportFileError as exc:
            err_console.print(
                f"[bold red]error:[/] {exc.path}: refused, nothing was imported "
                f"({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''})",
                highlight=False,
            )
            for problem in exc.problems[:MAX_PROBLEMS_SHOWN]:
                err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
            if len(exc.problems) > MAX_PROBLEMS_SHOWN:
                err_console.print(f"  … and {len(exc.problems) - MAX_PROBLEMS_SHOWN} more")
            raise typer.Exit(1) from None
        except CTOError as exc:
            fail(str(exc))
        finally:
            store.dispose()
        details = ", ".join(f"{count} {table}" for table, count in result.records.items())
        console.print(
            f"[green]imported {result.items} {kind.value}[/] into source {result.source} "
            f"({details})",
            highlight=False,
        )
