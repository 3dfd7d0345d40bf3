"""PR flow: cycle time split, merge/abandon rates, review concentration, waiting PRs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cto_assistant.analytics.pull_requests import (
    PullRequestIn,
    ReviewIn,
    pr_flow,
    pr_report,
    top_share,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
START = NOW - timedelta(days=30)
H = timedelta(hours=1)


def pr(
    number: int,
    *,
    repo: str = "acme/a",
    state: str = "merged",
    created: datetime,
    first_commit: datetime | None = None,
    review: datetime | None = None,
    merged: datetime | None = None,
    closed: datetime | None = None,
    size: int = 100,
    draft: bool = False,
) -> PullRequestIn:
    return PullRequestIn(
        repo=repo,
        number=number,
        state=state,
        created_at=created,
        first_commit_at=first_commit,
        first_review_at=review,
        merged_at=merged,
        closed_at=closed or merged,
        additions=size,
        deletions=0,
        draft=draft,
    )


def cases() -> tuple[list[PullRequestIn], list[ReviewIn]]:
    c = NOW - timedelta(days=5)
    prs = [
        # coding 10 h, pickup 2 h, review 4 h → cycle 16 h; deployed 3 h after merge
        pr(1, created=c, first_commit=c - 10 * H, review=c + 2 * H, merged=c + 6 * H, size=50),
        # no first commit known: cycle from opened = 8 h; pickup 6 h, review 2 h
        pr(2, created=c, review=c + 6 * H, merged=c + 8 * H, size=300),
        pr(3, state="closed", created=c, closed=c + 20 * H, size=10),  # abandoned
        pr(4, state="open", created=NOW - 30 * H),  # waiting on review
        pr(5, state="open", created=NOW - 3 * H, draft=True),  # draft: not waiting
        pr(6, state="open", created=NOW - 2 * H, review=NOW - H),  # reviewed
        pr(7, created=START - 10 * H, merged=START - H),  # merged before window
    ]
    reviews = [
        ReviewIn(repo="acme/a", pr_number=n, reviewer=who, submitted_at=c + H)
        for n, who in [(1, "ann"), (2, "ann"), (3, "ann"), (4, "bob"), (6, "cy")]
    ]
    return prs, reviews


def test_flow_hand_computed() -> None:
    prs, reviews = cases()
    flow = pr_flow(
        "all",
        prs,
        reviews,
        window_start=START,
        window_end=NOW,
        now=NOW,
        deployed_at={("acme/a", 1): NOW - timedelta(days=5) + 9 * H},
    )
    assert flow.merged == 2
    assert flow.cycle_time.median == 12 * 3600  # (16 h, 8 h)
    assert flow.coding.n == 1 and flow.coding.median == 10 * 3600
    assert flow.pickup.median == 4 * 3600 and flow.review.median == 3 * 3600
    assert flow.deploy.median == 3 * 3600
    assert flow.size_median_lines == 175
    assert (flow.merge_rate.numerator, flow.merge_rate.n) == (2, 3)
    assert flow.abandoned_rate.value == pytest.approx(1 / 3)
    # reviews: ann 3, bob 1, cy 1 → top 20% of 3 reviewers = 1 person = 3/5
    assert flow.reviewers == 3 and flow.top20_review_share == pytest.approx(0.6)
    assert flow.waiting_on_review == 1


def test_report_by_team_and_waiting_list() -> None:
    prs, reviews = cases()
    extra = pr(1, repo="acme/b", created=NOW - 50 * H, state="open")
    r = pr_report(
        [*prs, extra],
        reviews,
        repo_teams={"acme/a": "PAY"},
        window_start=START,
        window_end=NOW,
        now=NOW,
    )
    assert [t.group for t in r.teams] == ["(no team)", "PAY"]
    assert [(w.repo, w.number) for w in r.waiting] == [("acme/b", 1), ("acme/a", 4)]
    assert r.waiting[1].waiting_seconds == 30 * 3600
    assert r.top_reviewers[0].reviewer == "ann"


@pytest.mark.parametrize(
    ("counts", "share"), [([], None), ([5], 1.0), ([1, 1, 1, 1, 1], 0.2), ([6, 1, 1, 1, 1, 0], 0.7)]
)
def test_top_share(counts, share) -> None:  # type: ignore[no-untyped-def]
    assert top_share(counts) == (pytest.approx(share) if share is not None else None)


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=30))
def test_top_share_is_a_share_and_ignores_order(counts: list[int]) -> None:
    share = top_share(counts)
    assert share is None or 0.0 <= share <= 1.0
    assert share == top_share(list(reversed(counts)))
