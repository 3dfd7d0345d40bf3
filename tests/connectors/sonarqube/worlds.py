"""A tiny world of SonarQube analyses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cto_assistant.demo.world import Row, World

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def snapshot(
    repo: str,
    day: int,
    *,
    coverage: float,
    debt: float,
    smells: int,
    gate: str,
    key: str | None = None,
) -> Row:
    """One world quality_snapshot row (analysis `day` days after T0)."""
    project_key = key or repo.replace("/", ":", 1)
    moment = T0 + timedelta(days=day)
    return {
        "source_id": f"{project_key}@{moment.strftime('%Y-%m-%dT%H:%M:%S%z')}",
        "repo": repo,
        "project_key": project_key,
        "at": moment,
        "coverage": coverage,
        "tech_debt_minutes": debt,
        "code_smells": smells,
        "bugs": smells // 10,
        "vulnerabilities": 1 if gate == "ERROR" else 0,
        "duplicated_lines_density": 3.5,
        "ncloc": 12000 + 100 * day,
        "quality_gate": gate,
    }


def history(repo: str, days: range, *, start_coverage: float = 70.0) -> list[Row]:
    """Analyses of one repo on `days`, coverage rising 0.5 per analysis."""
    return [
        snapshot(
            repo,
            day,
            coverage=start_coverage + 0.5 * i,
            debt=600.0 - 10 * i,
            smells=40 - i,
            gate="ERROR" if i == 0 else "OK",
        )
        for i, day in enumerate(days)
    ]


def quality_world(extra: list[Row] | None = None) -> World:
    """Three projects with a few analyses each."""
    rows = [
        *history("acme/checkout-service", range(0, 5)),
        *history("acme/payments-api", range(1, 4), start_coverage=82.25),
        *history("acme/mobile-app", range(2, 3), start_coverage=55.0),
        *(extra or []),
    ]
    return World.from_rows({"quality_snapshot": rows})
