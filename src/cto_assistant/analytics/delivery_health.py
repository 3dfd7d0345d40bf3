"""The delivery data-quality report: set-up problems that would make DORA and flow figures wrong.

Each check says how many rows it found out of how many it looked at, shows examples and how to
fix it; the report's status is `ok` when nothing is found, `warn` below `warn_share` of the
checked rows, `bad` above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

CHECK_TITLES = {
    "deployments_without_environment": "Deployments without an environment",
    "production_deploys_without_commits": "Production deployments with no linked commits",
    "incidents_without_service": "Incidents with no service",
    "squash_merged_prs_lead_time_from_merge": "Squash-merged PRs: lead time falls back to merge",
    "services_without_team": "Services without an owning team",
}
Status = Literal["ok", "warn", "bad"]


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A check's raw result (from the store)."""

    check: str
    count: int
    total: int
    examples: Sequence[str]
    fix: str


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CheckResult(_Model):
    """One data-quality check with its share, status, examples and fix."""

    check: str
    title: str
    count: int
    total: int
    share: float | None
    status: Status
    examples: list[str]
    fix: str


class DeliveryDataQuality(_Model):
    """Every delivery data-quality check, worst first."""

    status: Status
    problems: int
    checks: list[CheckResult]
    why: str


def check_status(count: int, total: int, *, warn_share: float = 0.05) -> Status:
    """ok when nothing is found; warn under `warn_share` of the rows checked; bad above."""
    if count == 0:
        return "ok"
    if total and count / total < warn_share:
        return "warn"
    return "bad"


def delivery_data_quality(
    checks: Sequence[CheckIn], *, warn_share: float = 0.05
) -> DeliveryDataQuality:
    """Grade each check and order them worst first."""
    rank = {"bad": 0, "warn": 1, "ok": 2}
    results = [
        CheckResult(
            check=c.check,
            title=CHECK_TITLES.get(c.check, c.check.replace("_", " ")),
            count=c.count,
            total=c.total,
            share=c.count / c.total if c.total else None,
            status=check_status(c.count, c.total, warn_share=warn_share),
            examples=list(c.examples),
            fix=c.fix,
        )
        for c in checks
    ]
    results.sort(key=lambda r: (rank[r.status], -r.count, r.check))
    worst: Status = results[0].status if results else "ok"
    problems = sum(1 for r in results if r.status != "ok")
    return DeliveryDataQuality(
        status=worst,
        problems=problems,
        checks=results,
        why=(
            "no delivery set-up problems found"
            if not problems
            else "; ".join(
                f"{r.title}: {r.count} of {r.total}" for r in results if r.status != "ok"
            )
        ),
    )
