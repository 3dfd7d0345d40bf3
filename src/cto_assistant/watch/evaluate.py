"""Evaluate the rules into alerts: de-duplicate, escalate, auto-resolve, then notify.

    findings now          open alert with that fingerprint     →  effect
    ------------          --------------------------------        ------
    present (opens)       none                                     open a new alert, notify
    present               open, severity rose above notified       update, notify (escalation)
    present               open, same or lower severity             update silently
    absent                open                                     close (auto-resolve)
    rule's tool failed    open                                     keep as is (unknown ≠ fine)

Each alert keeps its history (`details.history`: opened, escalated, de-escalated, closed with
the time and severity); a condition that returns after closing opens a new alert row, so the
table is the full record. Alerts are committed before any message goes out, and deliveries are
recorded afterwards, so a slow or failing channel never holds a database transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from cto_assistant.logging import get_logger
from cto_assistant.settings import Settings, load_settings
from cto_assistant.store import Store
from cto_assistant.store.models import Alert
from cto_assistant.tools.base import ToolContext, ToolResult, ToolStatus, call_tool
from cto_assistant.tools.catalog import load_tools
from cto_assistant.watch.config import WatchConfig, link_base, watch_config
from cto_assistant.watch.notifiers import (
    DashboardNotifier,
    DeliveryRecord,
    Notice,
    Notifier,
    deliver,
    outbound_notifiers,
    record_delivery,
    wants,
)
from cto_assistant.watch.rules import RULES, Finding, Rule, severity_rank

log = get_logger("watch")

MAX_HISTORY = 50


@dataclass
class Evaluation:
    """What one evaluation did."""

    at: datetime
    opened: list[dict[str, Any]] = field(default_factory=list)
    escalated: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    still_open: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{len(self.opened)} opened, {len(self.escalated)} escalated, "
            f"{len(self.closed)} closed, {self.still_open} still open"
            + (f"; rules failing: {', '.join(sorted(self.errors))}" if self.errors else "")
        )


def alert_view(alert: Alert) -> dict[str, Any]:
    """An alert as plain JSON-ready data (API, CLI, notifiers)."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "domain": alert.domain,
        "severity": alert.severity,
        "subject": alert.subject,
        "summary": alert.summary,
        "fingerprint": alert.fingerprint,
        "opened_at": alert.opened_at.isoformat() if alert.opened_at else None,
        "updated_at": alert.updated_at.isoformat() if alert.updated_at else None,
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
        "open": alert.closed_at is None,
        "notified_severity": alert.notified_severity,
        "details": alert.details or {},
    }


def _findings(
    rule: Rule, config: WatchConfig, ctx: ToolContext, cache: dict[str, ToolResult]
) -> tuple[list[Finding], str | None]:
    """Run a rule's tool calls (cached per evaluation) and collect its findings."""
    cfg = rule.config(config.rules)
    findings: list[Finding] = []
    for arguments in rule.arguments(cfg, ctx):
        key = f"{rule.tool}:{sorted(arguments.items())}"
        result = cache.get(key)
        if result is None:
            result = cache[key] = call_tool(rule.tool, ctx, arguments)
        if result.status in (ToolStatus.ERROR, ToolStatus.NOT_CONFIGURED):
            return [], f"{rule.tool}: {result.summary}"
        if result.status == ToolStatus.OK:
            plain = result.model_copy(update={"data": to_jsonable_python(result.data)})
            findings.extend(rule.find(plain, cfg, ctx))
    unique = {f.fingerprint: f for f in findings}
    return list(unique.values()), None


def _history(alert: Alert, event: str, at: datetime, severity: str) -> dict[str, Any]:
    details = dict(alert.details or {})
    history = list(details.get("history") or [])
    history.append({"event": event, "at": at.isoformat(), "severity": severity})
    details["history"] = history[-MAX_HISTORY:]
    return details


def evaluate(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    config: WatchConfig | None = None,
    rules: Sequence[Rule] = RULES,
) -> Evaluation:
    """Evaluate every enabled rule and write the alert changes into `session` (no messages)."""
    config = config or watch_config(settings)
    load_tools()
    ctx = ToolContext(session=session, settings=settings, now=now, user="watch")
    base = link_base(settings, config)
    result = Evaluation(at=now)
    cache: dict[str, ToolResult] = {}
    open_alerts = {
        a.fingerprint: a for a in session.scalars(sa.select(Alert).where(Alert.closed_at.is_(None)))
    }
    for rule in rules:
        cfg = rule.config(config.rules)
        mine = {fp: a for fp, a in open_alerts.items() if a.rule == rule.name}
        if cfg.enabled:
            findings, error = _findings(rule, config, ctx, cache)
        else:
            findings, error = [], None
        if error is not None:
            result.errors[rule.name] = error
            result.still_open += len(mine)
            log.warning("watch rule failed", rule=rule.name, error=error)
            continue
        for finding in findings:
            alert = mine.pop(finding.fingerprint, None)
            details = {**finding.details, "link": base + finding.link, "tool": rule.tool}
            if alert is None:
                if not finding.opens:
                    continue
                alert = Alert(
                    rule=rule.name,
                    domain=rule.domain,
                    severity=finding.severity,
                    subject=finding.subject[:255],
                    summary=finding.summary,
                    fingerprint=finding.fingerprint[:128],
                    details={},
                    opened_at=now,
                    updated_at=now,
                    notified_severity=finding.severity,
                )
                alert.details = {**details, "history": _history(alert, "opened", now, finding.severity)["history"]}  # fmt: skip
                session.add(alert)
                session.flush()
                result.opened.append(alert_view(alert))
                result.notices.append(Notice("opened", alert_view(alert), base + finding.link))
                continue
            previous = alert.severity
            history = (alert.details or {}).get("history") or []
            alert.subject, alert.summary = finding.subject[:255], finding.summary
            alert.updated_at = now
            alert.severity = finding.severity
            alert.details = {**details, "history": history}
            if severity_rank(finding.severity) > severity_rank(alert.notified_severity):
                alert.details = _history(alert, "escalated", now, finding.severity)
                alert.notified_severity = finding.severity
                result.escalated.append(alert_view(alert))
                result.notices.append(Notice("escalated", alert_view(alert), base + finding.link))
            elif severity_rank(finding.severity) < severity_rank(previous):
                alert.details = _history(alert, "de-escalated", now, finding.severity)
                result.still_open += 1
            else:
                result.still_open += 1
        for alert in mine.values():
            alert.closed_at = now
            alert.updated_at = now
            reason = "rule disabled" if not cfg.enabled else "condition cleared"
            alert.details = {**_history(alert, "closed", now, alert.severity), "closed_because": reason}  # fmt: skip
            result.closed.append(alert_view(alert))
            link = str((alert.details or {}).get("link") or base)
            result.notices.append(Notice("closed", alert_view(alert), link))
    session.flush()
    return result


def notify(
    evaluation: Evaluation,
    config: WatchConfig,
    *,
    notifiers: Sequence[Notifier] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryRecord]:
    """Send each notice: the dashboard always; outbound channels on open and escalation."""
    outbound = list(notifiers) if notifiers is not None else outbound_notifiers(config)
    dashboard = DashboardNotifier()
    for notice in evaluation.notices:
        dashboard.send(notice)
        if notice.event == "closed":
            continue
        for notifier in outbound:
            if wants(notifier, str(notice.alert["severity"])):
                record = deliver(notifier, notice, config.delivery, sleep=sleep)
                evaluation.deliveries.append(record)
    return evaluation.deliveries


def run_watch(
    store: Store,
    settings: Settings,
    *,
    now: datetime | None = None,
    notifiers: Sequence[Notifier] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Evaluation:
    """Evaluate (committed), notify, then record every delivery in `action_log`."""
    config = watch_config(settings)
    at = now or settings.now()
    with store.session() as session:
        evaluation = evaluate(session, settings, now=at, config=config)
    if not config.enabled:
        return evaluation
    notify(evaluation, config, notifiers=notifiers, sleep=sleep)
    if evaluation.deliveries:
        with store.session() as session:
            for record in evaluation.deliveries:
                record_delivery(session, record, at=at)
    log.info("watch evaluated", summary=evaluation.describe())
    return evaluation


def after_sync(store: Store, *, now: Callable[[], datetime]) -> Evaluation | None:
    """The sync engine's post-sync hook: evaluate the rules; never raises."""
    owner = getattr(now, "__self__", None)  # engines are built with `now=settings.now`
    try:
        settings = owner if isinstance(owner, Settings) else load_settings()
        if not watch_config(settings).enabled:
            return None
        return run_watch(store, settings, now=now())
    except Exception as exc:  # a broken rule or channel must never fail the sync it follows
        log.error("watch evaluation failed", error=f"{exc.__class__.__name__}: {exc}")
        return None
