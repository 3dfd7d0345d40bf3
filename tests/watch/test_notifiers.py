"""Notifiers against local receivers: Block Kit, signed webhooks, SMTP, retries and failures."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import ActionLog
from cto_assistant.watch.config import Delivery, EmailConfig, watch_config
from cto_assistant.watch.notifiers import (
    EmailNotifier,
    Notice,
    SlackNotifier,
    WebhookNotifier,
    deliver,
    outbound_notifiers,
    record_delivery,
)
from tests.watch.receivers import http_receiver, smtp_sink, unused_port

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
NOTICE = Notice(
    "opened",
    {
        "id": 7,
        "rule": "slo_burn",
        "domain": "operations",
        "severity": "critical",
        "subject": "SLO burn: payments-api availability (29.4x)",
        "summary": "payments-api availability is burning its error budget 29.4x over 1h.",
        "fingerprint": "slo_burn:payments-api:availability",
        "opened_at": NOW.isoformat(),
    },
    "http://127.0.0.1:8000/?alert=7",
)
FAST = Delivery(attempts=3, backoff_seconds=0.01, timeout_seconds=2)


def test_slack_gets_a_block_kit_message_with_summary_and_link() -> None:
    with http_receiver() as (receiver, running):
        record = deliver(SlackNotifier(url=f"{running.base_url}/hook"), NOTICE, FAST)
    assert record.delivered and len(record.attempts) == 1
    body = receiver.received[0]["body"]
    assert body["text"].startswith("[CRITICAL] New alert: SLO burn")
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds == ["header", "section", "context", "actions"]
    assert NOTICE.alert["summary"] in body["blocks"][1]["text"]["text"]
    assert body["blocks"][3]["elements"][0]["url"] == NOTICE.link


def test_failures_are_retried_until_the_receiver_recovers() -> None:
    waits: list[float] = []
    with http_receiver(500, 500) as (receiver, running):
        record = deliver(SlackNotifier(url=running.base_url), NOTICE, FAST, sleep=waits.append)
    assert record.delivered
    assert [a["ok"] for a in record.attempts] == [False, False, True]
    assert "HTTP 500" in record.attempts[0]["error"]
    assert waits == [0.01, 0.02]  # doubling backoff
    assert len(receiver.received) == 3


def test_an_unreachable_receiver_fails_after_every_attempt_without_raising() -> None:
    url = f"http://127.0.0.1:{unused_port()}/hook"
    record = deliver(WebhookNotifier(url=url), NOTICE, FAST, sleep=lambda _: None)
    assert not record.delivered
    assert len(record.attempts) == 3 and all("ConnectError" in a["error"] for a in record.attempts)


def test_deliveries_are_recorded_in_the_action_log(sqlite_store: Store) -> None:
    with http_receiver(500) as (_, running):
        record = deliver(WebhookNotifier(url=running.base_url), NOTICE, FAST, sleep=lambda _: None)
    with sqlite_store.session() as session:
        record_delivery(session, record, at=NOW)
    with sqlite_store.session() as session:
        row = session.scalars(sa.select(ActionLog)).one()
        assert row.action == "notify_webhook" and row.ok and row.actor == "system"
        assert row.arguments["alert_id"] == 7 and row.arguments["event"] == "opened"
        assert [a["ok"] for a in row.result["attempts"]] == [False, True]


def test_webhook_body_is_signed_when_a_secret_is_set() -> None:
    with http_receiver() as (receiver, running):
        deliver(WebhookNotifier(url=running.base_url, secret="s3cret"), NOTICE, FAST)
    got = receiver.received[0]
    raw = json.dumps(got["body"]).encode()
    assert got["body"]["event"] == "alert_opened" and got["body"]["alert"]["id"] == 7
    expected = hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert got["headers"]["x-cto-signature"] == f"sha256={expected}"


def test_email_goes_through_smtp_to_every_recipient() -> None:
    with smtp_sink() as sink:
        config = EmailConfig(
            host="127.0.0.1", port=sink.port, to=["cto@acme.test", "vpe@acme.test"]
        )
        record = deliver(EmailNotifier(config=config), NOTICE, FAST)
    assert record.delivered
    message = sink.messages[0]
    subject = str(message["Subject"]).replace("\r", "").replace("\n", "")  # unfold
    assert subject == f"[CTO Assistant] {NOTICE.title}"
    assert sink.recipients[0] == ["cto@acme.test", "vpe@acme.test"]
    assert NOTICE.link in message.get_payload()


def test_email_to_a_closed_port_is_recorded_as_failed() -> None:
    config = EmailConfig(host="127.0.0.1", port=unused_port(), to=["cto@acme.test"])
    record = deliver(EmailNotifier(config=config), NOTICE, FAST, sleep=lambda _: None)
    assert not record.delivered and len(record.attempts) == 3


def test_channels_come_from_config_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEST_SLACK_URL", "http://127.0.0.1:9/slack")
    settings = Settings(
        data_dir=tmp_path,
        watch={
            "slack": {"webhook_url_env": "TEST_SLACK_URL"},
            "email": {"host": "127.0.0.1", "to": ["cto@acme.test"]},
            "webhook": {"url": "http://127.0.0.1:9/hook", "min_severity": "critical"},
        },
    )
    channels = outbound_notifiers(watch_config(settings))
    assert [c.channel for c in channels] == ["slack", "email", "webhook"]
    assert [c.min_severity for c in channels] == ["warning", "critical", "critical"]


def test_a_bad_watch_setting_is_one_config_error(tmp_path: Path) -> None:
    from cto_assistant.errors import ConfigError

    settings = Settings(data_dir=tmp_path, watch={"rules": {"cost_anomaly": {"min_impakt": 5}}})
    with pytest.raises(ConfigError, match="watch.rules.cost_anomaly.min_impakt"):
        watch_config(settings)
