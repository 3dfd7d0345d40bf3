"""A tiny incident/on-call world shared by the PagerDuty and Opsgenie tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from cto_assistant.demo.world import World

TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
POSTMORTEM = "https://wiki.acme.cloud/postmortems/inc-101"


def t(text: str) -> datetime:
    """A UTC timestamp from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def incident_world(*, extra_incidents: int = 0) -> World:
    """Two teams, four people, two services, incidents in every state, shifts with a handoff."""
    people = [
        ("Alice Admin", "alice@acme.cloud", "CHK", "PALICE1"),
        ("Bob Owner", "bob@acme.cloud", "PAY", "PBOB001"),
        ("Carol Oncall", "carol@acme.cloud", "CHK", "PCAROL1"),
        ("Dave Dev", "dave@acme.cloud", "PAY", "PDAVE01"),
    ]
    incidents: list[dict[str, Any]] = [
        {
            "source_id": "Q1RESOLV",
            "key": "INC-101",
            "service": "checkout-service",
            "team_key": "CHK",
            "title": "Checkout latency above SLO",
            "severity": "SEV-3",
            "urgency": "low",
            "status": "resolved",
            "triggered_at": t("2025-12-20 10:00"),
            "acknowledged_at": t("2025-12-20 10:05"),
            "resolved_at": t("2025-12-20 11:00"),
            "assignee": "carol@acme.cloud",
            "postmortem_url": POSTMORTEM,
        },
        {
            "source_id": "Q2ACKED",
            "key": "INC-102",
            "service": "checkout-service",
            "team_key": "CHK",
            "title": "Checkout 5xx errors on payment step",
            "severity": "SEV-2",
            "urgency": "high",
            "status": "acknowledged",
            "triggered_at": t("2026-01-15 09:00"),
            "acknowledged_at": t("2026-01-15 09:04"),
            "resolved_at": None,
            "assignee": "carol@acme.cloud",
            "postmortem_url": None,
        },
        {
            "source_id": "Q3TRIGG",
            "key": "INC-103",
            "service": "payments-api",
            "team_key": "PAY",
            "title": "Card authorisations failing",
            "severity": "SEV-1",
            "urgency": "high",
            "status": "triggered",
            "triggered_at": t("2026-01-15 11:30"),
            "acknowledged_at": None,
            "resolved_at": None,
            "assignee": "dave@acme.cloud",
            "postmortem_url": None,
        },
    ]
    for n in range(extra_incidents):
        incidents.append(
            {
                "source_id": f"QX{n:04d}",
                "key": f"INC-{200 + n}",
                "service": "payments-api",
                "team_key": "PAY",
                "title": f"Old incident {n}",
                "severity": "SEV-4",
                "urgency": "low",
                "status": "resolved",
                "triggered_at": t("2025-11-01 08:00"),
                "acknowledged_at": t("2025-11-01 08:10"),
                "resolved_at": t("2025-11-01 09:00"),
                "assignee": "dave@acme.cloud",
                "postmortem_url": None,
            }
        )
    events: list[dict[str, Any]] = []
    for inc in incidents:
        key, sid = inc["key"], inc["source_id"]
        events.append(
            {
                "source_id": f"{sid}T",
                "incident_key": key,
                "at": inc["triggered_at"],
                "kind": "trigger",
                "actor": None,
                "summary": f"Triggered: {inc['title']}",
            }
        )
        events.append(
            {
                "source_id": f"{sid}A",
                "incident_key": key,
                "at": inc["triggered_at"],
                "kind": "assign",
                "actor": None,
                "summary": f"Assigned to {inc['assignee']}",
            }
        )
        if inc["acknowledged_at"]:
            events.append(
                {
                    "source_id": f"{sid}K",
                    "incident_key": key,
                    "at": inc["acknowledged_at"],
                    "kind": "acknowledge",
                    "actor": inc["assignee"],
                    "summary": "Acknowledged",
                }
            )
        if inc["status"] == "acknowledged":
            events.append(
                {
                    "source_id": f"{sid}N",
                    "incident_key": key,
                    "at": t("2026-01-15 09:30"),
                    "kind": "note",
                    "actor": "alice@acme.cloud",
                    "summary": "Rolling back checkout-service 4.2.0",
                }
            )
        if inc["resolved_at"]:
            events.append(
                {
                    "source_id": f"{sid}R",
                    "incident_key": key,
                    "at": inc["resolved_at"],
                    "kind": "resolve",
                    "actor": inc["assignee"],
                    "summary": "Resolved",
                }
            )
    shifts = [
        (
            "Checkout Primary",
            "CHK",
            "carol@acme.cloud",
            1,
            "2026-01-12 09:00",
            "2026-01-19 09:00",
            False,
        ),
        (
            "Checkout Primary",
            "CHK",
            "dave@acme.cloud",
            1,
            "2026-01-19 09:00",
            "2026-01-26 09:00",
            False,
        ),
        (
            "Checkout Primary",
            "CHK",
            "bob@acme.cloud",
            1,
            "2026-01-15 18:00",
            "2026-01-16 06:00",
            True,
        ),
        (
            "Checkout Secondary",
            "CHK",
            "alice@acme.cloud",
            2,
            "2026-01-12 09:00",
            "2026-01-26 09:00",
            False,
        ),
        (
            "Payments Primary",
            "PAY",
            "bob@acme.cloud",
            1,
            "2026-01-12 09:00",
            "2026-01-26 09:00",
            False,
        ),
        (
            "Checkout Primary",
            "CHK",
            "alice@acme.cloud",
            1,
            "2025-11-01 09:00",
            "2025-11-08 09:00",
            False,
        ),
    ]
    return World.from_rows(
        {
            "team": [
                {"source_id": "CHK", "key": "CHK", "name": "Checkout"},
                {"source_id": "PAY", "key": "PAY", "name": "Payments"},
            ],
            "person": [
                {
                    "source_id": email,
                    "name": name,
                    "email": email,
                    "team_key": team,
                    "role": "Engineer",
                    "active": True,
                    "pagerduty_id": pd,
                    "timezone": "Europe/Berlin",
                }
                for name, email, team, pd in people
            ],
            "access_grant": [
                {
                    "source_id": "pd-alice",
                    "system": "pagerduty",
                    "principal": "alice@acme.cloud",
                    "person_email": "alice@acme.cloud",
                    "role": "admin",
                    "privileged": True,
                },
                {
                    "source_id": "pd-bob",
                    "system": "pagerduty",
                    "principal": "bob@acme.cloud",
                    "person_email": "bob@acme.cloud",
                    "role": "owner",
                    "privileged": True,
                },
            ],
            "service": [
                {
                    "source_id": "PSVC001",
                    "name": "checkout-service",
                    "team_key": "CHK",
                    "description": "Checkout orchestration",
                },
                {
                    "source_id": "PSVC002",
                    "name": "payments-api",
                    "team_key": "PAY",
                    "description": "Card and wallet payments API",
                },
            ],
            "incident": incidents,
            "incident_event": events,
            "oncall_shift": [
                {
                    "source_id": f"shift-{i}",
                    "schedule": s,
                    "team_key": team,
                    "person": who,
                    "level": level,
                    "start_at": t(start),
                    "end_at": t(end),
                    "is_override": override,
                }
                for i, (s, team, who, level, start, end, override) in enumerate(shifts)
            ],
        },
        today=TODAY,
    )
