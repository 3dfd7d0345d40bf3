"""`cto docs add PATH…`, `cto docs list`, `cto docs search QUERY`, `cto docs show DOC`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cto_assistant.cli.common import (
    cli_errors,
    console,
    err_console,
    settings_or_exit,
    store_or_exit,
)
from cto_assistant.documents import EXTENSIONS, DocumentError, add_document, read_file
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.tools.base import ToolContext, ToolResult, ToolStatus, call_tool
from cto_assistant.tools.catalog import load_tools

docs_app = typer.Typer(help="Documents: add, list, search and summarize.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `docs` command group."""
    app.add_typer(docs_app, name="docs")


def collect_files(paths: list[Path]) -> list[Path]:
    """The files named, and the supported files inside named folders (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
            )
        else:
            files.append(path)
    return files


@docs_app.command("add")
def add(
    paths: list[Path] = typer.Argument(..., help="Files or folders of documents."),
) -> None:
    """Add documents (PDF, DOCX, PPTX, XLSX, HTML, Markdown, text, draw.io, Mermaid, PlantUML)."""
    settings = settings_or_exit()
    store = store_or_exit(settings)
    files = collect_files(paths)
    if not files:
        err_console.print("[yellow]no supported files found[/]")
        raise typer.Exit(1)
    failures = 0
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("adding", total=len(files))
        for path in files:
            bar.update(task, description=path.name[:40])
            try:
                added = add_document(
                    store, read_file(path), name=path.name, source=str(path), now=settings.now()
                )
            except DocumentError as exc:
                failures += 1
                bar.console.print(f"[red]✗[/] {exc}", highlight=False)
            else:
                state = "already stored" if added.already_present else f"{added.seconds:.2f}s"
                pages = f", {added.pages} pages" if added.pages else ""
                bar.console.print(
                    f"[green]✓[/] #{added.id} {added.title} ({added.kind}{pages}, "
                    f"{added.chunks} chunks, {state})",
                    highlight=False,
                )
            bar.advance(task)
    if failures:
        err_console.print(f"[red]{failures} of {len(files)} file(s) refused[/]")
        raise typer.Exit(1)


def _run(settings: Settings, store: Store, name: str, **arguments: object) -> ToolResult:
    load_tools()
    with store.session() as session:
        ctx = ToolContext(session=session, settings=settings, now=settings.now())
        return call_tool(name, ctx, arguments)


@docs_app.command("list")
def list_command() -> None:
    """List the stored documents."""
    settings = settings_or_exit()
    store = store_or_exit(settings)
    with cli_errors():
        result = _run(settings, store, "list_documents", limit=500)
    if result.status != ToolStatus.OK:
        console.print(result.summary)
        return
    table = Table("id", "title", "kind", "pages", "chunks", "added")
    for row in result.data:
        table.add_row(
            str(row["id"]), row["title"], str(row["kind"]), str(row["pages"] or ""),
            str(row["chunks"]), row["added_at"][:16],
        )  # fmt: skip
    console.print(table)


@docs_app.command("search")
def search(
    query: str = typer.Argument(..., help="Words to look for."),
    limit: int = typer.Option(5, "--limit", "-n", help="How many passages."),
) -> None:
    """Search every document; print passages with document, heading and page."""
    settings = settings_or_exit()
    store = store_or_exit(settings)
    with cli_errors():
        result = _run(settings, store, "search_documents", query=query, limit=limit)
    console.print(result.summary, highlight=False)
    for passage in result.data or []:
        page = f"p. {passage['page']}" if passage["page"] is not None else ""
        where = " · ".join(filter(None, [passage["document"], passage["heading"], page]))
        console.print(f"\n[bold]{where}[/]", highlight=False)
        console.print(passage["snippet"], highlight=False, markup=False)


@docs_app.command("show")
def show(document: str = typer.Argument(..., help="Title, file name or id.")) -> None:
    """Print a document's summary."""
    settings = settings_or_exit()
    store = store_or_exit(settings)
    with cli_errors():
        result = _run(settings, store, "summarize_document", document=document)
    if result.status != ToolStatus.OK:
        console.print(result.summary, highlight=False)
        raise typer.Exit(1)
    console.print(f"[bold]{result.data['title']}[/]", highlight=False)
    console.print(result.data["summary"], highlight=False, markup=False)
