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

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from cto_assistant.analytics.dora import (
    DurationStats,
    duration_stats,
    percentile,
    span_seconds,
)

DRILL_CAP = 50


class PullRequestIn(NamedTuple):
    """A pull request, as the flow analytics need it (a named tuple: immutable, and cheap to
    build by the thousand)."""

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


class ReviewIn(NamedTuple):
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


def top_share(counts: Sequence[int], fraction: float = 0.2) -> float | None:
    """Share of the total held by the top `fraction` of contributors (at least one)."""
    total = sum(counts)
    if not total:
        return None
    top = max(1, math.ceil(len(counts) * fraction))
    return sum(sorted(counts, reverse=True)[:top]) / total


class _Facts(NamedTuple):
    """What one PR adds to the flow of each group it is in: worked out once per PR."""

    merged_in: bool  # merged in the window
    closed_in: bool  # merged or closed in the window
    merged: bool
    waiting: bool  # open, not a draft, no review yet
    cycle: float | None  # the phases, of a PR merged in the window
    coding: float | None
    pickup: float | None
    review: float | None
    deploy: float | None
    size: float | None


@dataclass(frozen=True, slots=True)
class _Window:
    """The window a flow covers, and what is known of deployments."""

    start: datetime
    end: datetime
    now: datetime
    deployed_at: Mapping[tuple[str, int], datetime]

    def facts(self, pr: PullRequestIn) -> _Facts:
        """One PR's part in the flow of this window."""
        done = pr.merged_at or pr.closed_at
        waiting = (
            pr.state == "open"
            and not pr.draft
            and pr.first_review_at is None
            and pr.created_at <= self.now
        )
        merged = pr.merged_at
        closed_in = done is not None and self.start <= done < self.end
        if merged is None or not self.start <= merged < self.end:
            return _Facts(False, closed_in, merged is not None, waiting, *(None,) * 6)
        size = None
        if pr.additions is not None or pr.deletions is not None:
            size = float((pr.additions or 0) + (pr.deletions or 0))
        return _Facts(
            merged_in=True,
            closed_in=closed_in,
            merged=True,
            waiting=waiting,
            cycle=span_seconds(pr.first_commit_at or pr.created_at, merged) or 0.0,
            coding=span_seconds(pr.first_commit_at, pr.created_at),
            pickup=span_seconds(pr.created_at, pr.first_review_at),
            review=span_seconds(pr.first_review_at, merged),
            deploy=span_seconds(merged, self.deployed_at.get((pr.repo, pr.number))),
            size=size,
        )

    def reviewers(self, reviews: Iterable[ReviewIn]) -> list[str]:
        """Who submitted each review in the window ("?" when unknown)."""
        return [r.reviewer or "?" for r in reviews if self.start <= r.submitted_at < self.end]


def _known(values: Iterable[float | None]) -> list[float]:
    """The values that are known."""
    return [v for v in values if v is not None]


def _flow(group: str, facts: Sequence[_Facts], reviewers: Sequence[str]) -> PrFlow:
    """The flow figures of one group from its PRs' facts and its reviewers in the window."""
    merged = [f for f in facts if f.merged_in]
    closed = [f for f in facts if f.closed_in]
    merged_closed = sum(1 for f in closed if f.merged)
    abandoned = len(closed) - merged_closed
    per_reviewer = Counter(reviewers)
    sizes = _known(f.size for f in merged)
    return PrFlow(
        group=group,
        merged=len(merged),
        cycle_time=duration_stats(_known(f.cycle for f in merged)),
        coding=duration_stats(_known(f.coding for f in merged)),
        pickup=duration_stats(_known(f.pickup for f in merged)),
        review=duration_stats(_known(f.review for f in merged)),
        deploy=duration_stats(_known(f.deploy for f in merged)),
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
        reviews=len(reviewers),
        reviewers=len(per_reviewer),
        top20_review_share=top_share(list(per_reviewer.values())),
        waiting_on_review=sum(1 for f in facts if f.waiting),
    )


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
    window = _Window(window_start, window_end, now, deployed_at or {})
    return _flow(group, [window.facts(p) for p in prs], window.reviewers(reviews))


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
    """PR flow overall, per team and per repository (the 50 repositories that merged most)."""
    window = _Window(window_start, window_end, now, deployed_at or {})
    facts = [window.facts(p) for p in prs]
    by_repo: dict[str, list[_Facts]] = defaultdict(list)
    reviewers_by_repo: dict[str, list[str]] = defaultdict(list)
    for pr, fact in zip(prs, facts, strict=True):
        by_repo[pr.repo].append(fact)
    in_window = [r for r in reviews if window_start <= r.submitted_at < window_end]
    for review in in_window:
        reviewers_by_repo[review.repo].append(review.reviewer or "?")
    repo_names = sorted(set(by_repo) | {r.repo for r in reviews})
    by_team: dict[str, list[str]] = defaultdict(list)
    for repo in repo_names:
        by_team[repo_teams.get(repo) or "(no team)"].append(repo)
    overall = _flow("all", facts, [r.reviewer or "?" for r in in_window])
    teams = [
        _flow(
            team,
            [f for r in repos for f in by_repo[r]],
            [v for r in repos for v in reviewers_by_repo[r]],
        )
        for team, repos in sorted(by_team.items())
    ]
    merged_in = {repo: sum(1 for f in by_repo[repo] if f.merged_in) for repo in repo_names}
    busiest = sorted(repo_names, key=lambda repo: -merged_in[repo])[:DRILL_CAP]
    counts = Counter(r.reviewer or "?" for r in in_window)
    total = sum(counts.values())
    top = [
        ReviewerLoad(reviewer=name, reviews=count, share=count / total)
        for name, count in counts.most_common(10)
    ]
    waiting = sorted(
        (p for p, fact in zip(prs, facts, strict=True) if fact.waiting),
        key=lambda p: p.created_at,
    )
    cycle = overall.cycle_time.median
    return PrReport(
        window_start=window_start,
        window_end=window_end,
        overall=overall,
        teams=teams,
        repos=[_flow(repo, by_repo[repo], reviewers_by_repo[repo]) for repo in busiest],
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
