"""Incidents: active views, MTTA/MTTR by hand, after-hours pages in each person's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.analytics.incidents import (
    FollowUp,
    IncidentRecord,
    TimelineEntry,
    active,
    grouped_response_times,
    pager_load,
    postmortems,
    response_times,
)

T0 = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)  # 09:30 in Los Angeles (PDT), 01:30 in Tokyo


def inc(
    key: str,
    *,
    sev: str = "SEV-3",
    team: str = "PLAT",
    ack: float | None = 5,
    res: float | None = 60,
    assignee: str = "la@acme",
    at: datetime = T0,
    postmortem: str | None = None,
) -> IncidentRecord:
    return IncidentRecord(
        key=key,
        title=f"{key} title",
        service="api",
        team=team,
        severity=sev,
        urgency="high",
        status="resolved" if res is not None else "acknowledged",
        triggered_at=at,
        acknowledged_at=at + timedelta(minutes=ack) if ack is not None else None,
        resolved_at=at + timedelta(minutes=res) if res is not None else None,
        assignee=assignee,
        postmortem_url=postmortem,
    )


def test_mtta_and_mttr_by_hand() -> None:
    items = [inc("A", ack=4, res=30), inc("B", ack=10, res=90), inc("C", ack=None, res=None)]
    times = response_times(items)
    assert times.incidents == 3 and times.acknowledged == 2 and times.resolved == 2
    assert times.mtta_minutes == 7 and times.mttr_minutes == 60
    by_sev = grouped_response_times(
        [*items, inc("D", sev="SEV-1", ack=2, res=20)], lambda i: i.severity
    )
    assert list(by_sev) == ["SEV-1", "SEV-3"]
    assert by_sev["SEV-1"].mttr_minutes == 20


def test_active_incidents_have_age_responders_and_timeline() -> None:
    items = [inc("A", res=None, sev="SEV-3"), inc("B", res=None, sev="SEV-2"), inc("C")]
    events = {
        "B": [
            TimelineEntry(T0 + timedelta(minutes=20), "note", "sre@acme", "looking"),
            TimelineEntry(T0, "trigger", None, "triggered"),
        ]
    }
    views = active(items, events, now=T0 + timedelta(hours=2))
    assert [v.key for v in views] == ["B", "A"]
    assert views[0].age_minutes == 120
    assert views[0].responders == ["la@acme", "sre@acme"]
    assert [e.kind for e in views[0].timeline] == ["trigger", "note"]


def test_after_hours_pages_use_each_persons_time_zone() -> None:
    items = [
        inc("A", assignee="la@acme"),
        inc("B", assignee="tokyo@acme"),
        inc("C", assignee="la@acme", at=T0 + timedelta(hours=10)),
    ]  # 02:30 in LA
    people = {
        "la@acme": ("L A", "PLAT", "America/Los_Angeles"),
        "tokyo@acme": ("T O", "PLAT", "Asia/Tokyo"),
    }
    load = {p.person: p for p in pager_load(items, people=people)}
    assert (load["la@acme"].pages, load["la@acme"].after_hours) == (2, 1)
    assert (load["tokyo@acme"].pages, load["tokyo@acme"].after_hours) == (1, 1)
    assert load["la@acme"].after_hours_share == pytest.approx(0.5)


def test_unknown_time_zone_falls_back_to_utc() -> None:
    (load,) = pager_load([inc("A")], people={"la@acme": ("L", None, "Mars/Olympus")})
    assert load.after_hours == 0 and load.timezone is None  # 16:30 UTC on a Tuesday


def test_postmortems_list_missing_ones_and_open_follow_ups() -> None:
    items = [
        inc("A", sev="SEV-2", postmortem="https://wiki/pm/1"),
        inc("B", sev="SEV-1"),
        inc("C", sev="SEV-4"),
        inc("D", sev="SEV-2", res=None),
    ]
    follow = {
        "A": [
            FollowUp("PLAT-1", "fix A", "Open", False, None),
            FollowUp("PLAT-2", "x", "Done", True, None),
        ]
    }
    found = {p.key: p for p in postmortems(items, follow)}
    assert set(found) == {"A", "B"}
    assert found["A"].open_follow_ups == 1 and not found["A"].missing
    assert found["B"].missing
