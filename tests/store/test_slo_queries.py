"""SLO queries on SQLite and PostgreSQL: SLI sums per window in SQL equal the sums of the points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cto_assistant.analytics import slo as slo_analytics
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.queries import operations as q

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)


def slo_row(slo_id: str, window_days: int = 30) -> dict[str, object]:
    return {
        "source": "datadog",
        "source_id": slo_id,
        "service": "api",
        "name": f"{slo_id} availability",
        "target": 0.999,
        "window_days": window_days,
    }


def point_rows(slo_id: str, ats: list[datetime]) -> list[dict[str, object]]:
    """One bucket per moment, with a few bad events varying by position (so windows differ)."""
    return [
        {
            "source": "datadog",
            "source_id": f"{slo_id}:{n}",
            "slo_source_id": slo_id,
            "at": at,
            "good": 1_000.0 - n % 7,
            "total": 1_000.0,
        }
        for n, at in enumerate(ats)
    ]


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    found = []
    while start < end:
        found.append(start)
        start += step
    return found


def test_window_sums_in_sql_match_the_points(any_store: Store) -> None:
    hourly_then_5m = every(NOW - timedelta(days=40), NOW - timedelta(days=1), timedelta(hours=1))
    hourly_then_5m += every(
        NOW - timedelta(days=1), NOW - timedelta(minutes=5), timedelta(minutes=5)
    )
    series = {
        "fresh": hourly_then_5m,  # ends at NOW
        "stale": every(NOW - timedelta(days=10), NOW - timedelta(days=2), timedelta(hours=1)),
        "lone": [NOW - timedelta(hours=3)],  # one bucket: 5 minutes wide
        "twins": [NOW - timedelta(hours=2), NOW - timedelta(hours=1), NOW - timedelta(hours=1)],
        "ahead": every(NOW - timedelta(days=3), NOW + timedelta(hours=2), timedelta(minutes=30)),
        "week": hourly_then_5m,  # a 7-day SLO over the same buckets
        "old": [NOW - timedelta(days=35)],  # before the window: no data
    }
    with any_store.session() as session:
        upsert(session, "slo", [slo_row(s, 7 if s == "week" else 30) for s in [*series, "none"]])
        for slo_id, ats in series.items():
            upsert(session, "sli_point", point_rows(slo_id, ats))
    with any_store.session() as session:
        since = NOW - timedelta(days=30)
        ids = [*series, "none"]
        newest = q.sli_newest(session, slo_ids=ids, since=since)
        ends = {s: slo_analytics.window_end(at, before, NOW) for s, (at, before) in newest.items()}
        spans = slo_analytics.windows(30) | slo_analytics.windows(7)
        sums = q.sli_window_sums(session, ends=ends, since=since, windows=spans)
        points = q.sli_points(session, slo_ids=ids, since=since)

    assert set(newest) == set(sums) == set(points) == set(series) - {"old"}
    assert newest["twins"] == (NOW - timedelta(hours=1), NOW - timedelta(hours=1))
    assert newest["lone"] == (NOW - timedelta(hours=3), None)
    assert ends["stale"] == NOW - timedelta(days=2) and ends["ahead"] == NOW
    for slo_id, found in sums.items():
        expected = slo_analytics.window_sums(points[slo_id], now=NOW, spans=spans)
        assert expected is not None and expected.as_of == ends[slo_id]
        assert found == expected.events, slo_id
