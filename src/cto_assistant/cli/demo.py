"""`cto demo` and `cto sandbox`: the Acme Cloud world, served by vendor simulators."""

from __future__ import annotations

import os
import time
from datetime import date

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cto_assistant.cli.common import cli_errors, console, fail, settings_or_exit


def _parse_today(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--today: {value!r} is not a date (YYYY-MM-DD)", code=2)


def _parse_scale(value: str) -> str:
    if value not in ("small", "large"):
        fail(f"--scale: {value!r} is not one of small, large", code=2)
    return value


def register(app: typer.Typer) -> None:
    """Add the demo commands."""

    @app.command()
    def demo(
        seed: int = typer.Option(42, help="Seed of the generated world."),
        today: str | None = typer.Option(None, help="Pin 'today' (YYYY-MM-DD)."),
        scale: str = typer.Option("small", help="small or large."),
        port: int = typer.Option(8000, help="Port of the command center."),
        no_serve: bool = typer.Option(False, "--no-serve", help="Stop after the sync."),
    ) -> None:
        """Build the demo company, sync it through the real connectors, open the command center."""
        from cto_assistant.cli.serve import run_web
        from cto_assistant.cli.sync import RichSyncProgress
        from cto_assistant.demo.run import prepare_demo

        pinned = _parse_today(today)
        chosen_scale = _parse_scale(scale)
        # Progress bars tell the story; log lines only when something is wrong (or asked for).
        level = os.environ.get("CTO_LOG_LEVEL", "WARNING")
        base = settings_or_exit(demo=True, port=port, log_level=level)
        started = time.perf_counter()
        columns = (
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[records]:>8} records"),
            TextColumn("{task.fields[pages]:>5} pages"),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress, cli_errors():
            phases: dict[str, TaskID] = {}

            def on_phase(name: str) -> None:
                for task in phases.values():
                    progress.update(task, state="[green]done[/]", total=1, completed=1)
                phases[name] = progress.add_task(name, total=None, records="", pages="", state="")

            run = prepare_demo(
                base,
                seed=seed,
                today=pinned,
                scale=chosen_scale,  # type: ignore[arg-type]
                progress=RichSyncProgress(progress),
                on_phase=on_phase,
                separate_process=True,
            )
            for task in phases.values():
                progress.update(task, state="[green]done[/]", total=1, completed=1)
        records = sum(r.records for r in run.results)
        failed = [r for r in run.results if not r.ok]
        console.print(
            f"Acme Cloud (seed {seed}, today {run.world.today}, {chosen_scale}): "
            f"{records:,} records from {len(run.settings.sources)} sources, "
            f"{sum(r.requests for r in run.results):,} requests, "
            f"{time.perf_counter() - started:.1f} s."
        )
        for result in failed:
            console.print(f"[red]{result.source}/{result.stream} failed:[/] {result.error}")
        console.print(f"Sign in as [bold]{run.username}[/] with password [bold]{run.password}[/]")
        if no_serve:
            run.stop()
            raise typer.Exit(1 if failed else 0)
        run.store.dispose()
        try:
            run_web(run.settings, sync_on_start=False)
        finally:
            run.served.stop()

    @app.command()
    def sandbox(
        port: int = typer.Option(8900, help="Port for the simulators."),
        seed: int = typer.Option(42, help="Seed of the generated world."),
        today: str | None = typer.Option(None, help="Pin 'today' (YYYY-MM-DD)."),
    ) -> None:
        """Serve every vendor simulator on loopback and print the matching cto.toml."""
        from cto_assistant.demo.sandbox import sources_toml, start_sandbox
        from cto_assistant.demo.world import build_world

        settings_or_exit()
        world = build_world(seed=seed, today=_parse_today(today))
        sandbox_app, served = start_sandbox(world, port=port)
        table = Table("vendor", "URL")
        for prefix in sandbox_app.states:
            table.add_row(prefix, f"{served.base_url}/{prefix}")
        console.print(table)
        console.print("# cto.toml — sync from the sandbox with `cto sync`")
        console.print(
            sources_toml(sandbox_app.sources(served.base_url)), highlight=False, markup=False
        )
        console.print("Serving; press Ctrl+C to stop.")
        try:
            while served.thread.is_alive():
                served.thread.join(timeout=1)
        except KeyboardInterrupt:
            served.stop()
