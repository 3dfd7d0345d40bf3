"""Rows of the delivery tables for the store's query tests (one deployment service, one repo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
H = timedelta(hours=1)
D1 = NOW - 50 * H
REPO = "acme/api"


def deployment(source_id: str, finished: datetime, **extra: Any) -> dict[str, Any]:
    """A successful production deployment of `api` that took an hour."""
    row = {
        "source_id": source_id,
        "service": "api",
        "environment": "production",
        "status": "success",
        "finished_at": finished,
        "started_at": finished - H,
    }
    return row | extra


def carried(deployment_id: str, sha: str, pr: int | None, repo: str = REPO) -> dict[str, Any]:
    """A change a deployment carried."""
    return {
        "source_id": f"{deployment_id}:{sha}",
        "deployment_source_id": deployment_id,
        "repo": repo,
        "sha": sha,
        "pr_number": pr,
    }


def pull_request(number: int, merge_sha: str | None, **extra: Any) -> dict[str, Any]:
    """A PR merged 10 hours before D1, reviewed 8 hours before that."""
    row = {
        "source_id": f"PR{number}",
        "repo": REPO,
        "number": number,
        "state": "merged",
        "created_at": D1 - 20 * H,
        "first_commit_at": D1 - 30 * H,
        "first_review_at": D1 - 18 * H,
        "merged_at": D1 - 10 * H,
        "closed_at": D1 - 10 * H,
        "merge_commit_sha": merge_sha,
        "additions": 10,
        "deletions": 2,
        "title": f"PR {number}",
    }
    return row | extra
