"""`cto sync [SOURCE…] [--check]` and `cto status`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import typer
from rich.progress import (
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cto_assistant.cli.common import cli_errors, console, fail, settings_or_exit, store_or_exit
from cto_assistant.connectors.base import CheckResult, Connector
from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.errors import CTOError
from cto_assistant.settings import Settings
from cto_assistant.store.db import utcnow
from cto_assistant.sync.engine import StreamRunResult, SyncEngine, error_text
from cto_assistant.sync.freshness import SourceStatus, format_age, source_status

STATE_STYLE = {"ok": "green", "degraded": "yellow", "failing": "red", "never_synced": "dim"}


class RichSyncProgress:
    """One spinner line per stream with running record and page counts."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def stream_started(self, source: str, stream: str) -> None:
        """Add a line for the stream."""
        self.tasks[(source, stream)] = self.progress.add_task(
            f"{source}/{stream}", total=None, records=0, pages=0, state="syncing"
        )

    def stream_advanced(self, source: str, stream: str, *, records: int, pages: int) -> None:
        """Update the stream's counts."""
        task = self.tasks.get((source, stream))
        if task is not None:
            self.progress.update(task, records=records, pages=pages)

    def stream_finished(self, result: StreamRunResult) -> None:
        """Mark the stream done or failed."""
        task = self.tasks.get((result.source, result.stream))
        if task is None:
            return
        state = "[green]done[/]" if result.ok else f"[red]failed ({result.error_kind})[/]"
        self.progress.update(
            task, records=result.records, pages=result.pages, state=state, total=1, completed=1
        )


def _run(
    connectors: Sequence[Connector], streams: list[str] | None, full: bool, settings: Settings
) -> int:
    store = store_or_exit(settings)
    columns = (
        SpinnerColumn(finished_text="•"),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[records]:>8} records"),
        TextColumn("{task.fields[pages]:>5} pages"),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            engine = SyncEngine(
                store,
                connectors,
                now=settings.now,
                progress=RichSyncProgress(progress),
                lock_dir=settings.data_dir / "locks",
            )
            with cli_errors():
                results = engine.run(streams=streams or None, full_refresh=full)
    finally:
        store.dispose()
    if not results:
        console.print("[yellow]nothing to sync: no stream matched[/]")
        return 0
    console.print(_summary(results))
    failed = [result for result in results if not result.ok]
    if failed:
        console.print(f"[red]{len(failed)} of {len(results)} stream(s) failed[/]")
        return 1
    console.print(f"[green]{len(results)} stream(s) synced[/]")
    return 0


def _summary(results: Sequence[StreamRunResult]) -> Table:
    table = Table(title="Sync summary")
    for name in ("Source", "Stream", "Status", "Records", "Pages", "Requests", "Time", "Error"):
        justify = "right" if name in ("Records", "Pages", "Requests", "Time") else "left"
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for result in results:
        status = "[green]ok[/]" if result.ok else f"[red]failed[/] ({result.error_kind})"
        table.add_row(
            result.source,
            result.stream,
            status,
            str(result.records),
            str(result.pages),
            str(result.requests),
            f"{result.duration_seconds:.1f}s",
            result.error or "",
        )
    return table


def _check(connectors: Sequence[Connector]) -> int:
    table = Table(title="Connector checks (read-only)")
    for name in ("Source", "Kind", "Capability", "Result", "Detail"):
        table.add_column(name, overflow="fold")
    failures = 0
    for connector in connectors:
        with console.status(f"checking {connector.name}…"):
            results = _safe_check(connector)
        for result in results:
            failures += not result.ok
            table.add_row(
                connector.name,
                connector.kind,
                result.capability,
                "[green]ok[/]" if result.ok else "[red]failed[/]",
                result.detail,
            )
    console.print(table)
    return 1 if failures else 0


def _safe_check(connector: Connector) -> list[CheckResult]:
    """Run a connector's check; an error becomes one failed capability, not a traceback."""
    try:
        return connector.check()
    except NotImplementedError:
        return [CheckResult("check", ok=False, detail="this connector has no check()")]
    except CTOError as exc:
        return [CheckResult("connect", ok=False, detail=error_text(exc))]


def _status_table(statuses: Sequence[SourceStatus], now: datetime) -> Table:
    table = Table(title="Sources")
    for name in ("Source", "Stream", "State", "Last success", "Age", "Records", "Last error"):
        table.add_column(name, justify="right" if name == "Records" else "left", overflow="fold")
    for status in statuses:
        style = STATE_STYLE[status.state]
        table.add_row(
            f"[bold]{status.source}[/]",
            "",
            f"[{style}]{status.state}[/]" + (" [yellow](stale)[/]" if status.stale else ""),
            _when(status.last_success_at),
            format_age(status.age_seconds),
            str(status.records),
            _error(status.last_error_kind, status.last_error),
        )
        for stream in status.streams:
            state = "running" if stream.running else (stream.last_status or "never")
            age = (now - stream.last_success_at).total_seconds() if stream.last_success_at else None
            table.add_row(
                "",
                stream.stream,
                state,
                _when(stream.last_success_at),
                format_age(age),
                str(stream.records),
                _error(stream.last_error_kind, stream.last_error),
            )
    return table


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _error(kind: str | None, text: str | None) -> str:
    if not text:
        return ""
    shown = text if len(text) <= 160 else text[:157] + "…"
    return f"[red]{kind}[/]: {shown}" if kind else shown


def register(app: typer.Typer) -> None:
    """Add the sync commands."""

    @app.command()
    def sync(
        sources: list[str] | None = typer.Argument(None, help="Source names (default: all)."),
        check: bool = typer.Option(
            False, "--check", help="Only run each connector's read-only check()."
        ),
        stream: list[str] | None = typer.Option(
            None, "--stream", "-s", help="Only these streams (NAME or SOURCE/NAME); repeatable."
        ),
        full: bool = typer.Option(False, "--full", help="Ignore stored cursors: pull everything."),
    ) -> None:
        """Sync sources now, with a progress bar; exit 1 if any stream failed."""
        settings = settings_or_exit()
        with cli_errors():
            connectors = configured_connectors(settings, sources=sources or None)
        if not connectors:
            fail("no sources configured: add a [sources.<name>] section to cto.toml", code=2)
        try:
            code = _check(connectors) if check else _run(connectors, stream, full, settings)
        finally:
            for connector in connectors:
                connector.close()
        raise typer.Exit(code)

    @app.command()
    def status(
        json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Show sources, streams, last success, freshness, records and last error."""
        settings = settings_or_exit()
        store = store_or_exit(settings)
        interval = settings.sync_interval_minutes
        stale_after = timedelta(minutes=2 * interval) if interval > 0 else None
        now = utcnow()
        try:
            with cli_errors(), store.session() as session:
                statuses = source_status(
                    session, configured=settings.sources, now=now, stale_after=stale_after
                )
        finally:
            store.dispose()
        if json_output:
            console.print_json(json.dumps([s.model_dump(mode="json") for s in statuses]))
            return
        if not statuses:
            console.print("[yellow]no source configured or synced yet[/]")
            return
        console.print(_status_table(statuses, now))
