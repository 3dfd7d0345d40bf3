"""Reading alerts back: the list behind `cto alerts`, the `alerts` tool and `/api/alerts`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.store.models import Alert
from cto_assistant.watch.rules import severity_rank


def list_alerts(
    *,
    session: Session,
    open_only: bool = False,
    severity: str | None = None,
    domain: str | None = None,
    limit: int = 200,
) -> list[Alert]:
    """Alerts, open first, then most severe, then newest; `severity` is a minimum."""
    query = sa.select(Alert)
    if open_only:
        query = query.where(Alert.closed_at.is_(None))
    if domain:
        query = query.where(Alert.domain == domain)
    rows = list(session.scalars(query.order_by(Alert.opened_at.desc(), Alert.id.desc())))
    if severity:
        rows = [a for a in rows if severity_rank(a.severity) >= severity_rank(severity)]
    rows.sort(key=lambda a: (a.closed_at is not None, -severity_rank(a.severity)))
    return rows[:limit]
