"""SonarQube measure history: one analysis per repository per week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from cto_assistant.demo.generator.common import Ctx, Row, at, stream

FAILING_GATE_REPOS = ("acme/billing-service", "acme/android-app", "acme/marketing-site")


def project_key(full_name: str) -> str:
    """The SonarQube project key of a repository."""
    return full_name.replace("/", "_")


def quality_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `quality_snapshot`: weekly coverage, debt, smells, bugs, vulnerabilities, gate."""
    weeks = ctx.delivery_days // 7
    last_sunday = ctx.today - timedelta(days=(ctx.today.weekday() + 1) % 7 or 7)
    for repo in ctx.org.repos:
        rng = stream(ctx.seed, "quality", repo.full_name)
        failing = repo.full_name in FAILING_GATE_REPOS or (
            ctx.scale == "large" and repo.index % 23 == 7
        )
        coverage = rng.uniform(62, 88)
        debt = rng.uniform(400, 9000)
        smells = rng.randint(20, 400)
        bugs = rng.randint(0, 6)
        vulns = rng.randint(0, 3)
        duplication = rng.uniform(1.0, 9.0)
        ncloc = rng.randint(4_000, 120_000)
        key = project_key(repo.full_name)
        for week in range(weeks, -1, -1):
            day = last_sunday - timedelta(days=7 * week)
            moment = at(day, 3) + timedelta(minutes=repo.index % 50)
            coverage = min(95.0, max(55.0, coverage + rng.gauss(0.05, 0.8)))
            debt = max(60.0, debt * rng.uniform(0.98, 1.04))
            smells = max(0, smells + rng.randint(-6, 8))
            bugs = max(0, min(9, bugs + rng.randint(-1, 1)))
            vulns = max(0, min(4, vulns + rng.choice([-1, 0, 0, 0, 1])))
            duplication = min(15.0, max(0.5, duplication + rng.gauss(0, 0.2)))
            ncloc = int(ncloc * rng.uniform(1.0, 1.01))
            gate = "OK"
            shown_coverage, shown_bugs = coverage, bugs
            if failing and week <= 3:
                shown_coverage, shown_bugs = min(coverage, 48.0 + week), max(bugs, 12)
                gate = "ERROR"
            yield {
                "source_id": f"{key}@{moment.strftime('%Y-%m-%dT%H:%M:%S%z')}",
                "repo": repo.full_name,
                "project_key": key,
                "at": moment,
                "coverage": round(shown_coverage, 1),
                "tech_debt_minutes": float(round(debt)),
                "code_smells": smells,
                "bugs": shown_bugs,
                "vulnerabilities": vulns,
                "duplicated_lines_density": round(duplication, 1),
                "ncloc": ncloc,
                "quality_gate": gate,
            }
