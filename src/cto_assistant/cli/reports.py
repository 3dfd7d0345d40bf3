"""`cto report weekly` and `cto alerts`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer
from rich.table import Table

from cto_assistant.cli.common import cli_errors, console, fail, settings_or_exit, store_or_exit


def register(app: typer.Typer) -> None:
    """Add report and alert commands."""

    @app.command()
    def report(
        kind: str = typer.Argument("weekly", help="Report kind: weekly."),
        fmt: str = typer.Option("md", "--format", help="md, html or pdf."),
        output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file."),
        email: bool = typer.Option(False, "--email", help="Also e-mail it ([watch.email])."),
    ) -> None:
        """Write the executive report (stored, and printed or written to a file)."""
        from cto_assistant.reports.mail import email_report
        from cto_assistant.reports.render import to_markdown_files
        from cto_assistant.reports.store import render, write_weekly
        from cto_assistant.watch.notifiers import DeliveryError

        if kind != "weekly":
            fail(f"unknown report kind {kind!r} (weekly)", code=2)
        if fmt not in ("md", "html", "pdf"):
            fail(f"unknown format {fmt!r} (md, html, pdf)", code=2)
        if fmt == "pdf" and output is None:
            fail("a PDF needs an output file: -o brief.pdf", code=2)
        settings = settings_or_exit()
        store = store_or_exit(settings)
        with cli_errors(), store.session() as session:
            stored = write_weekly(session=session, settings=settings, now=settings.now())
            if output is not None and fmt == "md":
                written = to_markdown_files(stored.markdown, output)
                console.print(f"Wrote {', '.join(str(p) for p in written)}")
            elif output is not None:
                output.write_bytes(render(stored, cast(Literal["html", "pdf"], fmt)))
                console.print(f"Wrote {output} (report #{stored.id})")
            else:
                typer.echo(render(stored, cast(Literal["md", "html"], fmt)).decode())
            if email:
                try:
                    email_report(stored, settings)
                except (DeliveryError, OSError) as exc:
                    fail(f"e-mail not sent: {exc}")
                console.print("E-mailed the report.")
        store.dispose()

    @app.command()
    def alerts(
        open_only: bool = typer.Option(False, "--open", help="Only open alerts."),
        severity: str | None = typer.Option(
            None, help="Minimum severity: info, warning, critical."
        ),
        domain: str | None = typer.Option(None, help="delivery, security, operations or data."),
    ) -> None:
        """List early-warning alerts."""
        from cto_assistant.watch.queries import list_alerts

        settings = settings_or_exit()
        store = store_or_exit(settings)
        with cli_errors(), store.session() as session:
            rows = list_alerts(
                session=session, open_only=open_only, severity=severity, domain=domain
            )
            if not rows:
                console.print("No open alerts." if open_only else "No alerts.")
                return
            table = Table(show_lines=False, header_style="bold")
            for column in ("#", "severity", "domain", "rule", "alert", "opened", "closed"):
                table.add_column(column)
            colors = {"critical": "red", "warning": "yellow", "info": "cyan"}
            for alert in rows:
                table.add_row(
                    str(alert.id),
                    f"[{colors.get(alert.severity, 'white')}]{alert.severity}[/]",
                    alert.domain,
                    alert.rule,
                    alert.subject,
                    alert.opened_at.strftime("%Y-%m-%d %H:%M"),
                    alert.closed_at.strftime("%Y-%m-%d %H:%M") if alert.closed_at else "open",
                )
            console.print(table)
        store.dispose()
