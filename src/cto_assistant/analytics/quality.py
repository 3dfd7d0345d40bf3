"""Code quality per repository and team: latest measures, 30-day deltas, worst offenders.

The latest snapshot at or before `now` is a repository's state; the latest at or before
`now - delta_days` is its baseline. Team coverage is weighted by lines of code when every repo
reports them (else a plain mean); debt, smells and bugs add up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

DRILL_CAP = 50


@dataclass(frozen=True, slots=True)
class SnapshotIn:
    """One analysis of a repository."""

    repo: str
    at: datetime
    coverage: float | None = None
    tech_debt_minutes: float | None = None
    code_smells: int | None = None
    bugs: int | None = None
    vulnerabilities: int | None = None
    duplicated_lines_density: float | None = None
    ncloc: int | None = None
    quality_gate: str | None = None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class RepoQuality(_Model):
    """A repository's latest measures and their change over the delta window."""

    repo: str
    team: str | None
    at: datetime
    coverage: float | None
    tech_debt_minutes: float | None
    code_smells: int | None
    bugs: int | None
    vulnerabilities: int | None
    duplicated_lines_density: float | None
    ncloc: int | None
    quality_gate: str | None
    baseline_at: datetime | None
    coverage_delta: float | None
    debt_delta_minutes: float | None
    smells_delta: int | None
    bugs_delta: int | None
    gate_changed: bool


class QualityRollup(_Model):
    """Quality of a group of repositories (a team, or everything)."""

    group: str
    repos: int
    coverage: float | None
    coverage_delta: float | None
    tech_debt_minutes: float
    debt_delta_minutes: float
    code_smells: int
    smells_delta: int
    bugs: int
    bugs_delta: int
    failing_gates: int
    coverage_basis: str


class Offender(_Model):
    """A repository that stands out for the wrong reason."""

    repo: str
    team: str | None
    reason: str
    value: float | None


class QualityReport(_Model):
    """Quality per repo and team, with deltas and the worst offenders."""

    now: datetime
    delta_days: int
    overall: QualityRollup
    teams: list[QualityRollup]
    repos: list[RepoQuality]
    repos_total: int
    worst: list[Offender]
    why: str


def _latest(rows: Sequence[SnapshotIn], moment: datetime) -> SnapshotIn | None:
    best = None
    for row in rows:
        if row.at <= moment and (best is None or row.at > best.at):
            best = row
    return best


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4)


def repo_quality(
    rows: Sequence[SnapshotIn], *, team: str | None, now: datetime, delta_days: int = 30
) -> RepoQuality | None:
    """One repository's latest state and its delta (None without a snapshot by `now`)."""
    latest = _latest(rows, now)
    if latest is None:
        return None
    base = _latest([r for r in rows if r is not latest], now - timedelta(days=delta_days))
    return RepoQuality(
        repo=latest.repo,
        team=team,
        at=latest.at,
        coverage=latest.coverage,
        tech_debt_minutes=latest.tech_debt_minutes,
        code_smells=latest.code_smells,
        bugs=latest.bugs,
        vulnerabilities=latest.vulnerabilities,
        duplicated_lines_density=latest.duplicated_lines_density,
        ncloc=latest.ncloc,
        quality_gate=latest.quality_gate,
        baseline_at=base.at if base else None,
        coverage_delta=_delta(latest.coverage, base.coverage) if base else None,
        debt_delta_minutes=_delta(latest.tech_debt_minutes, base.tech_debt_minutes)
        if base
        else None,
        smells_delta=(
            latest.code_smells - base.code_smells
            if base and latest.code_smells is not None and base.code_smells is not None
            else None
        ),
        bugs_delta=(
            latest.bugs - base.bugs
            if base and latest.bugs is not None and base.bugs is not None
            else None
        ),
        gate_changed=bool(base and base.quality_gate != latest.quality_gate),
    )


def rollup(group: str, repos: Sequence[RepoQuality]) -> QualityRollup:
    """Aggregate repositories: coverage weighted by lines of code when all report them."""
    covered = [r for r in repos if r.coverage is not None]
    weighted = bool(covered) and all(r.ncloc for r in covered)

    def mean(rows: Sequence[RepoQuality], value: Callable[[RepoQuality], float]) -> float | None:
        if not rows:
            return None
        if weighted:
            lines = sum(r.ncloc or 0 for r in rows)
            return sum(value(r) * (r.ncloc or 0) for r in rows) / lines
        return sum(value(r) for r in rows) / len(rows)

    coverage = mean(covered, lambda r: r.coverage or 0.0)
    with_base = [r for r in covered if r.coverage_delta is not None]
    now_same = mean(with_base, lambda r: r.coverage or 0.0)
    then_same = mean(with_base, lambda r: (r.coverage or 0.0) - (r.coverage_delta or 0.0))
    previous = now_same - then_same if now_same is not None and then_same is not None else None
    return QualityRollup(
        group=group,
        repos=len(repos),
        coverage=round(coverage, 2) if coverage is not None else None,
        coverage_delta=round(previous, 2) if previous is not None else None,
        tech_debt_minutes=float(sum(r.tech_debt_minutes or 0 for r in repos)),
        debt_delta_minutes=float(sum(r.debt_delta_minutes or 0 for r in repos)),
        code_smells=sum(r.code_smells or 0 for r in repos),
        smells_delta=sum(r.smells_delta or 0 for r in repos),
        bugs=sum(r.bugs or 0 for r in repos),
        bugs_delta=sum(r.bugs_delta or 0 for r in repos),
        failing_gates=sum(1 for r in repos if (r.quality_gate or "").upper() == "ERROR"),
        coverage_basis="weighted by lines of code" if weighted else "mean of repositories",
    )


def quality_report(
    snapshots: Iterable[SnapshotIn],
    *,
    repo_teams: Mapping[str, str | None],
    now: datetime,
    delta_days: int = 30,
    worst_count: int = 5,
) -> QualityReport:
    """Per-repo and per-team quality with deltas and the worst offenders."""
    by_repo: dict[str, list[SnapshotIn]] = defaultdict(list)
    for row in snapshots:
        by_repo[row.repo].append(row)
    repos = [
        found
        for repo, rows in sorted(by_repo.items())
        if (found := repo_quality(rows, team=repo_teams.get(repo), now=now, delta_days=delta_days))
    ]
    teams: dict[str, list[RepoQuality]] = defaultdict(list)
    for repo in repos:
        teams[repo.team or "(no team)"].append(repo)
    worst: list[Offender] = []
    for repo in repos:
        if (repo.quality_gate or "").upper() == "ERROR":
            worst.append(
                Offender(
                    repo=repo.repo,
                    team=repo.team,
                    reason="quality gate failing",
                    value=repo.coverage,
                )
            )
    for repo in sorted([r for r in repos if r.coverage is not None], key=lambda r: r.coverage or 0)[
        :worst_count
    ]:
        worst.append(
            Offender(
                repo=repo.repo,
                team=repo.team,
                reason=f"low coverage {repo.coverage:.1f}%",
                value=repo.coverage,
            )
        )
    for repo in sorted(
        [r for r in repos if (r.coverage_delta or 0) < 0], key=lambda r: r.coverage_delta or 0
    )[:worst_count]:
        worst.append(
            Offender(
                repo=repo.repo,
                team=repo.team,
                reason=f"coverage fell {repo.coverage_delta:+.1f} pts",
                value=repo.coverage_delta,
            )
        )
    for repo in sorted(
        [r for r in repos if (r.debt_delta_minutes or 0) > 0],
        key=lambda r: -(r.debt_delta_minutes or 0),
    )[:worst_count]:
        worst.append(
            Offender(
                repo=repo.repo,
                team=repo.team,
                reason=f"debt up {(repo.debt_delta_minutes or 0) / 60:.0f} h",
                value=repo.debt_delta_minutes,
            )
        )
    overall = rollup("all", repos)
    ordered = sorted(
        repos,
        key=lambda r: (
            (r.quality_gate or "").upper() != "ERROR",
            r.coverage if r.coverage is not None else 999,
        ),
    )
    return QualityReport(
        now=now,
        delta_days=delta_days,
        overall=overall,
        teams=[rollup(team, rows) for team, rows in sorted(teams.items())],
        repos=ordered[:DRILL_CAP],
        repos_total=len(repos),
        worst=worst,
        why=(
            f"{len(repos)} repositories; coverage {overall.coverage}% ({overall.coverage_basis}), "
            f"{overall.failing_gates} failing quality gate(s); deltas against the analysis "
            f"{delta_days} days earlier"
        ),
    )
