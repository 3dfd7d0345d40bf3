"""Notifiers: dashboard (server-sent events), Slack incoming webhook, e-mail (SMTP), webhook.

Every outbound delivery is tried `delivery.attempts` times with doubling backoff; each attempt's
outcome is kept, and the whole delivery is recorded in `action_log` (`notify_<channel>`), so a
failing channel shows in the log and in `cto alerts --deliveries`. A delivery failure is never
raised: the sync that triggered it must finish.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
from sqlalchemy.orm import Session

from cto_assistant.logging import get_logger
from cto_assistant.store.models import ActionLog
from cto_assistant.watch.config import (
    Delivery,
    EmailConfig,
    SlackConfig,
    WatchConfig,
    WebhookConfig,
)
from cto_assistant.watch.rules import severity_rank

log = get_logger("watch")

SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":information_source:"}  # fmt: skip
EVENT_VERB = {"opened": "New alert", "escalated": "Escalated", "closed": "Resolved"}


class DeliveryError(Exception):
    """One delivery attempt failed (HTTP status, SMTP refusal, network error)."""


@dataclass(frozen=True)
class Notice:
    """What a notifier sends: the event and the alert as plain data, with its link."""

    event: str  # opened, escalated, closed
    alert: dict[str, Any]
    link: str

    @property
    def title(self) -> str:
        """`[CRITICAL] New alert: subject`."""
        verb = EVENT_VERB.get(self.event, self.event)
        return f"[{str(self.alert['severity']).upper()}] {verb}: {self.alert['subject']}"


class Notifier(Protocol):
    """A channel: its name, the lowest severity it carries, and one send attempt."""

    @property
    def channel(self) -> str:
        """Channel name: dashboard, slack, email, webhook."""

    @property
    def min_severity(self) -> str:
        """Lowest alert severity this channel carries."""

    def send(self, notice: Notice) -> None:
        """Deliver once; raise `DeliveryError` (or an OS/HTTP error) on failure."""


@dataclass
class DeliveryRecord:
    """How a delivery went: every attempt, and whether one succeeded."""

    channel: str
    notice: Notice
    delivered: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)


def deliver(
    notifier: Notifier,
    notice: Notice,
    policy: Delivery,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryRecord:
    """Send with retries and doubling backoff; never raises."""
    record = DeliveryRecord(channel=notifier.channel, notice=notice)
    wait = policy.backoff_seconds
    for attempt in range(1, policy.attempts + 1):
        try:
            notifier.send(notice)
        except (DeliveryError, OSError, httpx.HTTPError, smtplib.SMTPException) as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:500]
            record.attempts.append({"attempt": attempt, "ok": False, "error": error})
            log.warning(
                "notify attempt failed", channel=notifier.channel, attempt=attempt, error=error
            )
            if attempt < policy.attempts:
                sleep(wait)
                wait *= 2
            continue
        record.attempts.append({"attempt": attempt, "ok": True})
        record.delivered = True
        break
    return record


def record_delivery(session: Session, record: DeliveryRecord, *, at: Any) -> None:
    """Keep the delivery (all attempts) in `action_log`."""
    notice = record.notice
    session.add(
        ActionLog(
            actor="system",
            action=f"notify_{record.channel}",
            arguments={
                "alert_id": notice.alert.get("id"),
                "rule": notice.alert.get("rule"),
                "fingerprint": notice.alert.get("fingerprint"),
                "severity": notice.alert.get("severity"),
                "event": notice.event,
            },
            result={"delivered": record.delivered, "attempts": record.attempts},
            ok=record.delivered,
            at=at,
        )
    )


# ------------------------------------------------------------------------------- channels


class DashboardNotifier:
    """Live dashboard: an SSE event to every open browser (`alert_opened`, `alert_closed`)."""

    channel = "dashboard"
    min_severity = "info"

    def send(self, notice: Notice) -> None:
        """Publish the alert on the event stream (in-process, cannot fail remotely)."""
        from cto_assistant.web.events import publish

        publish(f"alert_{notice.event}", {"alert": notice.alert, "link": notice.link})


def slack_blocks(notice: Notice) -> dict[str, Any]:
    """A Block Kit message: header, the one-sentence summary, context, a link button."""
    alert = notice.alert
    emoji = SEVERITY_EMOJI.get(str(alert["severity"]), "")
    return {
        "text": f"{notice.title} — {alert['summary']}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} {alert['summary']}"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"*{alert['domain']}* · rule `{alert['rule']}` · opened "
                        f"{str(alert.get('opened_at', ''))[:16].replace('T', ' ')} UTC",
                    }
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in CTO Assistant"},
                        "url": notice.link,
                    }
                ],
            },
        ],
    }


def _post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        response = client.post(url, content=body, headers=headers)
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}")


@dataclass
class SlackNotifier:
    """Slack incoming webhook (Block Kit)."""

    url: str
    min_severity: str = "warning"
    timeout: float = 5.0
    channel: str = "slack"

    def send(self, notice: Notice) -> None:
        """POST the Block Kit message to the webhook."""
        body = json.dumps(slack_blocks(notice)).encode()
        _post_json(self.url, body, {"Content-Type": "application/json"}, self.timeout)


@dataclass
class WebhookNotifier:
    """Generic JSON webhook, optionally signed with HMAC-SHA256 (`X-CTO-Signature`)."""

    url: str
    secret: str | None = None
    min_severity: str = "info"
    timeout: float = 5.0
    channel: str = "webhook"

    def send(self, notice: Notice) -> None:
        """POST `{event, alert, link}` as JSON."""
        body = json.dumps(
            {"event": f"alert_{notice.event}", "alert": notice.alert, "link": notice.link},
            default=str,
        ).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "cto-assistant"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-CTO-Signature"] = f"sha256={digest}"
        _post_json(self.url, body, headers, self.timeout)


@dataclass
class EmailNotifier:
    """SMTP e-mail to the configured recipients."""

    config: EmailConfig
    timeout: float = 5.0
    channel: str = "email"

    @property
    def min_severity(self) -> str:
        """Lowest alert severity mailed."""
        return self.config.min_severity

    def send(self, notice: Notice) -> None:
        """Mail the alert as plain text with the link."""
        alert = notice.alert
        message = EmailMessage()
        message["Subject"] = f"[CTO Assistant] {notice.title}"
        message.set_content(
            f"{alert['summary']}\n\nRule: {alert['rule']} ({alert['domain']})\n"
            f"Severity: {alert['severity']}\nOpened: {alert.get('opened_at')}\n\n{notice.link}\n"
        )
        send_email(self.config, message, timeout=self.timeout)


def send_email(
    config: EmailConfig,
    message: EmailMessage,
    *,
    timeout: float = 10.0,
    to: Sequence[str] | None = None,
) -> None:
    """Send one message through the configured SMTP server (STARTTLS and login if set)."""
    if not config.host:
        raise DeliveryError("no SMTP host configured ([watch.email] host)")
    recipients = list(to or config.to)
    if not recipients:
        raise DeliveryError("no recipients configured ([watch.email] to)")
    message["From"] = config.sender
    message["To"] = ", ".join(recipients)
    with smtplib.SMTP(config.host, config.port, timeout=timeout) as smtp:
        smtp.ehlo()
        if config.starttls and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.secret() or "")
        refused = smtp.send_message(message, to_addrs=recipients)
    if refused:
        raise DeliveryError(f"recipients refused: {', '.join(refused)}")


def outbound_notifiers(config: WatchConfig) -> list[Notifier]:
    """The configured outbound channels (Slack, e-mail, webhook), in that order."""
    out: list[Notifier] = []
    timeout = config.delivery.timeout_seconds
    slack: SlackConfig = config.slack
    if url := slack.url():
        out.append(SlackNotifier(url=url, min_severity=slack.min_severity, timeout=timeout))
    if config.email.host and config.email.to:
        out.append(EmailNotifier(config=config.email, timeout=timeout))
    hook: WebhookConfig = config.webhook
    if target := hook.target():
        secret = hook.signing_secret.get_secret_value() if hook.signing_secret else None
        out.append(
            WebhookNotifier(
                url=target, secret=secret, min_severity=hook.min_severity, timeout=timeout
            )
        )
    return out


def wants(notifier: Notifier, severity: str) -> bool:
    """Whether this channel carries alerts of this severity."""
    return severity_rank(severity) >= severity_rank(notifier.min_severity)
