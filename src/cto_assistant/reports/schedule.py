"""The scheduled weekly brief: once per ISO week, at a configured weekday and hour (UTC).

    [watch.weekly_report]
    enabled = true        # default
    weekday = "monday"    # monday … sunday
    hour = 7              # 0-23, UTC
    email = true          # also e-mail it when [watch.email] has a host and recipients

Both schedulers call `run_weekly_if_due` on every tick: the in-process `SyncScheduler` of
`cto serve` (embedded mode) and the `cto scheduler` loop (queue mode). A tick at or after this
week's due time generates the brief unless a weekly report already exists for the ISO week, so
a late tick catches up and a second tick (or a second process) finds the stored one and skips.
`generate_report` is the same path without the schedule (the web UI's "Generate now").
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from cto_assistant.errors import ConfigError
from cto_assistant.logging import get_logger
from cto_assistant.settings import Settings
from cto_assistant.store.db import Store
from cto_assistant.store.models import Report

log = get_logger("reports.schedule")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_generating = threading.Lock()  # one brief at a time per process (scheduler vs. "Generate now")


class WeeklyReportConfig(BaseModel):
    """`[watch.weekly_report]`: when the weekly brief is written, and whether it is mailed."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Write the brief on a schedule.")
    weekday: Weekday = Field(default="monday", description="Day of the week (UTC).")
    hour: int = Field(default=7, ge=0, le=23, description="Hour of the day (UTC).")
    email: bool = Field(
        default=True,
        description="E-mail it through [watch.email] when that has a host and recipients.",
    )


def weekly_config(settings: Settings) -> WeeklyReportConfig:
    """`settings.watch["weekly_report"]`, validated; a bad key is one `ConfigError`."""
    raw: dict[str, Any] = dict((getattr(settings, "watch", None) or {}).get("weekly_report") or {})
    try:
        return WeeklyReportConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"watch.weekly_report.{where}", first["msg"]) from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def week_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start (Monday 00:00 UTC) and end (next Monday) of the ISO week holding `now`."""
    moment = _utc(now)
    start = (moment - timedelta(days=moment.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(days=7)


def due_at(now: datetime, config: WeeklyReportConfig) -> datetime:
    """This ISO week's scheduled moment."""
    start, _ = week_bounds(now)
    return start + timedelta(days=WEEKDAYS.index(config.weekday), hours=config.hour)


def report_of_week(session: Session, now: datetime) -> Report | None:
    """The weekly report created in the ISO week of `now`, if any."""
    start, end = week_bounds(now)
    query = (
        sa.select(Report)
        .where(Report.kind == "weekly", Report.created_at >= start, Report.created_at < end)
        .order_by(Report.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def generate_report(
    store: Store, settings: Settings, *, now: datetime | None = None, email: bool = False
) -> Report:
    """Write and store the weekly brief now; optionally e-mail it (failures are logged)."""
    from cto_assistant.reports.store import write_weekly

    moment = now or settings.now()
    with _generating, store.session() as session:
        report = write_weekly(session=session, settings=settings, now=moment)
    log.info("weekly report stored", report_id=report.id, period_end=str(report.period_end))
    if email:
        _email(report, settings)
    _announce(report)
    return report


def run_weekly_if_due(
    store: Store, settings: Settings, *, now: datetime | None = None
) -> Report | None:
    """Write this week's brief if it is due and not written yet; the new report or None.

    Never raises: a scheduler tick must survive a failing report (the error is logged).
    """
    try:
        config = weekly_config(settings)
        if not config.enabled:
            return None
        moment = _utc(now or settings.now())
        if moment < due_at(moment, config):
            return None
        with store.session() as session:
            if report_of_week(session, moment) is not None:
                return None
        return generate_report(store, settings, now=moment, email=config.email)
    except Exception as exc:  # a report problem must not stop the syncs
        log.error("weekly report failed", error=str(exc), error_type=type(exc).__name__)
        return None


def _email(report: Report, settings: Settings) -> bool:
    from cto_assistant.reports.mail import email_report
    from cto_assistant.watch.config import watch_config
    from cto_assistant.watch.notifiers import DeliveryError

    mail = watch_config(settings).email
    if not mail.host or not mail.to:
        return False
    try:
        email_report(report, settings)
    except (DeliveryError, OSError) as exc:
        log.warning("weekly report not e-mailed", report_id=report.id, error=str(exc))
        return False
    log.info("weekly report e-mailed", report_id=report.id, recipients=len(mail.to))
    return True


def _announce(report: Report) -> None:
    """Tell open browsers (the reports page refreshes its list)."""
    from cto_assistant.web.events import publish

    publish("report_created", {"id": report.id, "kind": report.kind})


__all__ = [
    "WeeklyReportConfig",
    "due_at",
    "generate_report",
    "report_of_week",
    "run_weekly_if_due",
    "week_bounds",
    "weekly_config",
]
