"""Pull-request flow: cycle time split, size, merge and abandon rates, review load.

- Cycle time of a merged PR: first commit (else opened) → merged, split into coding (first
  commit → opened), pickup (opened → first review), review (first review → merged) and, when a
  production deployment carried it, deploy (merged → in production). PRs merged in the window.
- Merge rate / abandoned rate: of the PRs closed in the window (merged or not), the share
  merged / closed without merging.
- Review distribution: reviews submitted in the window per reviewer; concentration = share of
  reviews done by the top 20% of reviewers (at least one person).
- Waiting on review now: open, non-draft PRs without any review, oldest first.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cto_assistant.analytics.dora import DurationStats, duration_stats, percentile

DRILL_CAP = 50


@dataclass(frozen=True, slots=True)
class PullRequestIn:
    """A pull request, as the flow analytics need it."""

    repo: str
    number: int
    state: str
    created_at: datetime
    first_commit_at: datetime | None = None
    first_review_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    additions: int | None = None
    deletions: int | None = None
    author: str | None = None
    title: str | None = None
    draft: bool = False
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewIn:
    """A review."""

    repo: str
    pr_number: int
    reviewer: str | None
    submitted_at: datetime


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Rate(_Model):
    """A share with its numerator and n."""

    value: float | None
    numerator: int
    n: int


class ReviewerLoad(_Model):
    """One reviewer's share of the reviews."""

    reviewer: str
    reviews: int
    share: float


class WaitingPr(_Model):
    """An open PR nobody has reviewed yet."""

    repo: str
    number: int
    title: str | None
    author: str | None
    opened_at: datetime
    waiting_seconds: float
    url: str | None


class PrFlow(_Model):
    """PR flow for one group (all, a team or a repo)."""

    group: str
    merged: int
    cycle_time: DurationStats
    coding: DurationStats
    pickup: DurationStats
    review: DurationStats
    deploy: DurationStats
    size_median_lines: float | None
    size_p90_lines: float | None
    merge_rate: Rate
    abandoned_rate: Rate
    reviews: int
    reviewers: int
    top20_review_share: float | None = Field(description="Share of reviews by the top 20%.")
    waiting_on_review: int


class PrReport(_Model):
    """PR flow overall, per team and per repository, with the drill-down lists."""

    window_start: datetime
    window_end: datetime
    overall: PrFlow
    teams: list[PrFlow]
    repos: list[PrFlow]
    top_reviewers: list[ReviewerLoad]
    waiting: list[WaitingPr]
    waiting_total: int
    why: str


def _span(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds())


def top_share(counts: Sequence[int], fraction: float = 0.2) -> float | None:
    """Share of the total held by the top `fraction` of contributors (at least one)."""
    total = sum(counts)
    if not total:
        return None
    top = max(1, math.ceil(len(counts) * fraction))
    return sum(sorted(counts, reverse=True)[:top]) / total


def pr_flow(
    group: str,
    prs: Sequence[PullRequestIn],
    reviews: Sequence[ReviewIn],
    *,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    deployed_at: Mapping[tuple[str, int], datetime] | None = None,
) -> PrFlow:
    """The flow figures of one group of PRs and reviews."""
    deployed_at = deployed_at or {}
    merged = [
        p for p in prs if p.merged_at is not None and window_start <= p.merged_at < window_end
    ]
    cycle, coding, pickup, review, deploy, sizes = [], [], [], [], [], []
    for pr in merged:
        start = pr.first_commit_at or pr.created_at
        cycle.append(_span(start, pr.merged_at) or 0.0)
        if (c := _span(pr.first_commit_at, pr.created_at)) is not None:
            coding.append(c)
        if (p := _span(pr.created_at, pr.first_review_at)) is not None:
            pickup.append(p)
        if (r := _span(pr.first_review_at, pr.merged_at)) is not None:
            review.append(r)
        if (d := _span(pr.merged_at, deployed_at.get((pr.repo, pr.number)))) is not None:
            deploy.append(d)
        if pr.additions is not None or pr.deletions is not None:
            sizes.append(float((pr.additions or 0) + (pr.deletions or 0)))
    closed = [
        p
        for p in prs
        if (p.merged_at or p.closed_at) is not None
        and window_start <= (p.merged_at or p.closed_at) < window_end  # type: ignore[operator]
    ]
    merged_closed = sum(1 for p in closed if p.merged_at is not None)
    abandoned = len(closed) - merged_closed
    in_window = [r for r in reviews if window_start <= r.submitted_at < window_end]
    per_reviewer = Counter(r.reviewer or "?" for r in in_window)
    waiting = [
        p
        for p in prs
        if p.state == "open" and not p.draft and p.first_review_at is None and p.created_at <= now
    ]
    return PrFlow(
        group=group,
        merged=len(merged),
        cycle_time=duration_stats(cycle),
        coding=duration_stats(coding),
        pickup=duration_stats(pickup),
        review=duration_stats(review),
        deploy=duration_stats(deploy),
        size_median_lines=percentile(sizes, 50),
        size_p90_lines=percentile(sizes, 90),
        merge_rate=Rate(
            value=merged_closed / len(closed) if closed else None,
            numerator=merged_closed,
            n=len(closed),
        ),
        abandoned_rate=Rate(
            value=abandoned / len(closed) if closed else None, numerator=abandoned, n=len(closed)
        ),
        reviews=len(in_window),
        reviewers=len(per_reviewer),
        top20_review_share=top_share(list(per_reviewer.values())),
        waiting_on_review=len(waiting),
    )


def pr_report(
    prs: Sequence[PullRequestIn],
    reviews: Sequence[ReviewIn],
    *,
    repo_teams: Mapping[str, str | None],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    deployed_at: Mapping[tuple[str, int], datetime] | None = None,
) -> PrReport:
    """PR flow overall, per team and per repository."""
    flow = functools.partial(
        pr_flow,
        window_start=window_start,
        window_end=window_end,
        now=now,
        deployed_at=deployed_at,
    )
    by_repo: dict[str, list[PullRequestIn]] = defaultdict(list)
    reviews_by_repo: dict[str, list[ReviewIn]] = defaultdict(list)
    for pr in prs:
        by_repo[pr.repo].append(pr)
    for review in reviews:
        reviews_by_repo[review.repo].append(review)
    by_team: dict[str, list[str]] = defaultdict(list)
    for repo in sorted(set(by_repo) | set(reviews_by_repo)):
        by_team[repo_teams.get(repo) or "(no team)"].append(repo)
    overall = flow("all", prs, reviews)
    teams = [
        flow(
            team,
            [p for r in repos for p in by_repo[r]],
            [v for r in repos for v in reviews_by_repo[r]],
        )
        for team, repos in sorted(by_team.items())
    ]
    repos = [
        flow(repo, by_repo[repo], reviews_by_repo[repo])
        for repo in sorted(set(by_repo) | set(reviews_by_repo))
    ]
    in_window = [r for r in reviews if window_start <= r.submitted_at < window_end]
    counts = Counter(r.reviewer or "?" for r in in_window)
    total = sum(counts.values())
    top = [
        ReviewerLoad(reviewer=name, reviews=count, share=count / total)
        for name, count in counts.most_common(10)
    ]
    waiting = sorted(
        (
            p
            for p in prs
            if p.state == "open"
            and not p.draft
            and p.first_review_at is None
            and p.created_at <= now
        ),
        key=lambda p: p.created_at,
    )
    cycle = overall.cycle_time.median
    return PrReport(
        window_start=window_start,
        window_end=window_end,
        overall=overall,
        teams=teams,
        repos=sorted(repos, key=lambda f: -(f.merged))[:DRILL_CAP],
        top_reviewers=top,
        waiting=[
            WaitingPr(
                repo=p.repo,
                number=p.number,
                title=p.title,
                author=p.author,
                opened_at=p.created_at,
                waiting_seconds=(now - p.created_at).total_seconds(),
                url=p.url,
            )
            for p in waiting[:DRILL_CAP]
        ],
        waiting_total=len(waiting),
        why=(
            f"{overall.merged} PRs merged in the window, median cycle time "
            f"{(cycle or 0) / 3600:.1f} h; {len(waiting)} waiting on a first review now"
        ),
    )
