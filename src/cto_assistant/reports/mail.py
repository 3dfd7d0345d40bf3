"""E-mail a stored report (Markdown body, PDF attached) through `[watch.email]`."""

from __future__ import annotations

from email.message import EmailMessage

from cto_assistant.reports.render import to_pdf
from cto_assistant.settings import Settings
from cto_assistant.store.models import Report
from cto_assistant.watch.config import watch_config
from cto_assistant.watch.notifiers import send_email


def email_report(report: Report, settings: Settings) -> None:
    """Send the report to the configured recipients; raises `DeliveryError` when unset."""
    config = watch_config(settings)
    title = report.markdown.splitlines()[0].lstrip("# ").strip()
    message = EmailMessage()
    message["Subject"] = f"[CTO Assistant] {title}"
    message.set_content(report.markdown)
    message.add_attachment(
        to_pdf(report.markdown),
        maintype="application",
        subtype="pdf",
        filename=f"weekly-brief-{report.period_end.isoformat()}.pdf",
    )
    send_email(config.email, message, timeout=config.delivery.timeout_seconds * 4)
