"""`cto worker`, `cto scheduler` and `cto enqueue`: queue mode (docs/DEPLOYMENT.md).

`cto enqueue` (not `cto sync --queue`) queues a sync: `cto sync` stays the command that syncs
here and now with a progress bar, and a command that only hands work to others gets its own name.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from cto_assistant.cli.common import cli_errors, console, fail, settings_or_exit
from cto_assistant.settings import Settings


def _queue_settings() -> Settings:
    settings = settings_or_exit()
    if not settings.queue_url:
        fail("CTO_QUEUE_URL is not set: queue mode needs a Redis URL (docs/DEPLOYMENT.md)", code=2)
    return settings


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (a second signal still ends the process at once)."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signum, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def register(app: typer.Typer) -> None:
    """Add the queue-mode commands."""

    @app.command()
    def worker(
        threads: int = typer.Option(2, min=1, max=32, help="Jobs run at once by this process."),
        grace: float = typer.Option(
            30.0, min=0, help="Seconds running jobs get to finish on SIGTERM."
        ),
    ) -> None:
        """Run sync jobs from the queue until stopped (SIGTERM / Ctrl-C)."""
        from cto_assistant.jobs.runner import run_worker

        settings = _queue_settings()
        stop = _stop_on_signals()
        with cli_errors():
            run_worker(settings, threads=threads, stop=stop, grace_seconds=grace)

    @app.command()
    def scheduler() -> None:
        """Enqueue a sync of every source now and every `sync_interval_minutes` (run one)."""
        from cto_assistant.jobs.runner import run_scheduler

        settings = _queue_settings()
        stop = _stop_on_signals()
        with cli_errors():
            run_scheduler(settings, stop=stop)

    @app.command()
    def enqueue(
        sources: list[str] | None = typer.Argument(None, help="Source names (default: all)."),
        stream: list[str] | None = typer.Option(
            None, "--stream", "-s", help="Only these streams (NAME or SOURCE/NAME); repeatable."
        ),
        full: bool = typer.Option(False, "--full", help="Ignore stored cursors: pull everything."),
    ) -> None:
        """Queue a sync of sources for the workers; streams already queued are skipped."""
        from cto_assistant.jobs.queue import JobQueue
        from cto_assistant.store import open_store

        settings = _queue_settings()
        with cli_errors():
            queue = JobQueue(settings)
            store = open_store(settings.effective_database_url)
            queue.attach_store(store)
            try:
                report = queue.enqueue_sync(
                    sources=sources or None, streams=stream or None, full_refresh=full
                )
            finally:
                queue.broker.close()
                store.dispose()
        for label in report.enqueued:
            console.print(f"queued  {label}")
        for label in report.already_queued:
            console.print(f"[dim]already queued  {label}[/]")
        console.print(
            f"[green]{len(report.enqueued)} stream(s) queued[/], "
            f"{len(report.already_queued)} already queued"
        )
        if report.failed_sources:
            fail(f"not queued (see the log): {', '.join(report.failed_sources)}")
