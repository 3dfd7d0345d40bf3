"""Delivery history per repository: pull requests, reviews, commits, deployments, changes.

Each repository is simulated on its own random stream, so any table can be produced repository
by repository (the large world streams them) and the result never depends on which table was
asked for first. The DORA storyline is planted through each team's profile: `elite` ships every
merge within the hour, `high` deploys to production daily, `medium` (mobile) weekly; mobile's
change failures are placed by window so the last 30 days fail more often than the 30 before.
Change failures carry an incident (see reliability) and a rollback or hotfix deployment.

The small world memoises each repository's history. The large one simulates every repository
once per build (`DeliverySpool`): repository by repository, each table's rows go to a temp file
as pickled value tuples, so every delivery table and the change failures share one simulation
while memory holds one repository at a time.
"""

from __future__ import annotations

import bisect
import math
import pickle
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cto_assistant.demo.generator.common import (
    Ctx,
    Person,
    Repo,
    Row,
    at,
    hex_id,
    is_workday,
    node_id,
    poisson,
    stream,
    uuid4,
)

PROFILES: dict[str, dict[str, float]] = {
    # PRs per workday per repo, hours of coding/pickup/review, change failure rate, hours to restore
    "elite": {"rate": 3.0, "coding": 5.0, "pickup": 0.8, "review": 1.0, "cfr": 0.03, "mttr": 0.6},
    "high": {"rate": 1.3, "coding": 20.0, "pickup": 6.0, "review": 5.0, "cfr": 0.08, "mttr": 4.0},
    "medium": {
        "rate": 0.8,
        "coding": 220.0,
        "pickup": 60.0,
        "review": 36.0,
        "cfr": 0.14,
        "mttr": 20.0,
    },
}
ACTIVE_INCIDENT_SERVICE = "checkout-service"
TABLES = ("pull_request", "review", "commit", "deployment", "deployment_change")

_VERBS = ["Add", "Fix", "Refactor", "Remove", "Update", "Improve", "Handle", "Speed up", "Document"]
_OBJECTS = [
    "retry on webhook delivery",
    "idempotency keys",
    "pagination in list endpoint",
    "feature flag",
    "metrics labels",
    "database index",
    "error handling",
    "cache invalidation",
    "timeout config",
    "input validation",
    "audit logging",
    "dependency versions",
    "flaky integration test",
    "rate limiter",
    "graceful shutdown",
    "tracing spans",
    "schema migration",
    "currency rounding",
]


@dataclass
class Failure:
    """A production change failure: the deployment, when it broke, and how it was restored."""

    deployment_id: str
    service: str
    team_key: str
    repo: str
    finished_at: datetime
    restored_at: datetime | None  # None: still broken (the active incident)
    remedy: str | None  # rollback, hotfix


@dataclass
class RepoHistory:
    """Everything one repository produced, as rows per table plus its change failures."""

    pull_request: list[Row] = field(default_factory=list)
    review: list[Row] = field(default_factory=list)
    commit: list[Row] = field(default_factory=list)
    deployment: list[Row] = field(default_factory=list)
    deployment_change: list[Row] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


@dataclass
class _Pr:
    created: datetime
    first_commit: datetime
    first_review: datetime | None
    approved: datetime | None
    merged: datetime | None
    closed: datetime | None
    author: Person
    hotfix: bool = False
    number: int = 0
    merge_sha: str = ""
    commits: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass
class _Deploy:
    env: str
    start: datetime
    prs: list[_Pr]
    status: str = "success"
    rollback: bool = False
    hotfix: bool = False
    sha: str = ""
    failed_change: bool = False
    restored_at: datetime | None = None
    remedy: str | None = None


def history(ctx: Ctx, repo: Repo) -> RepoHistory:
    """The delivery history of one repository (memoised in the small world)."""
    if ctx.scale == "small":
        cache = ctx.cache.setdefault("delivery", {})
        if repo.full_name not in cache:
            cache[repo.full_name] = _simulate(ctx, repo)
        return cache[repo.full_name]
    return _simulate(ctx, repo)


def rows(ctx: Ctx, table: str) -> Iterator[Row]:
    """Rows of one delivery table, repository by repository."""
    if ctx.scale == "small":
        for repo in ctx.org.repos:
            yield from getattr(history(ctx, repo), table)
        return
    yield from spool(ctx).rows(table)


def failures(ctx: Ctx) -> list[Failure]:
    """Every production change failure of every repository, oldest first."""
    if ctx.scale == "small":
        found = [f for repo in ctx.org.repos for f in history(ctx, repo).failures]
    else:
        found = list(spool(ctx).failures)
    return sorted(found, key=lambda failure: (failure.finished_at, failure.deployment_id))


def spool(ctx: Ctx) -> DeliverySpool:
    """The build's delivery spool (simulated on first use)."""
    if "delivery_spool" not in ctx.cache:
        ctx.cache["delivery_spool"] = DeliverySpool(ctx)
    return ctx.cache["delivery_spool"]


class DeliverySpool:
    """Every repository simulated once, its rows spooled per table to temp files.

    A table's file is a sequence of pickles, one per repository: the list of that repository's
    rows as value tuples (the column names are kept once per table). Reading a table streams it
    back repository by repository, in the same order and with the same rows as simulating.
    The files go when the spool is garbage-collected (or at exit).
    """

    def __init__(self, ctx: Ctx) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="acme-delivery-")
        self.columns: dict[str, tuple[str, ...]] = {}
        self.failures: list[Failure] = []
        handles = {table: self._path(table).open("wb") for table in TABLES}
        try:
            for repo in ctx.org.repos:
                simulated = _simulate(ctx, repo)
                self.failures.extend(simulated.failures)
                for table in TABLES:
                    found: list[Row] = getattr(simulated, table)
                    if not found:
                        continue
                    columns = self.columns.setdefault(table, tuple(found[0]))
                    values = [tuple(row.values()) for row in found]
                    assert all(tuple(row) == columns for row in found[:1] + found[-1:])
                    pickle.dump(values, handles[table], protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            for handle in handles.values():
                handle.close()

    def _path(self, table: str) -> Path:
        return Path(self._folder.name) / f"{table}.pickles"

    def rows(self, table: str) -> Iterator[Row]:
        """The spooled rows of `table`, as fresh dicts."""
        columns = self.columns.get(table)
        if columns is None:
            return
        with self._path(table).open("rb") as handle:
            while True:
                try:
                    chunk = pickle.load(handle)  # noqa: S301 - our own temp file
                except EOFError:
                    return
                for values in chunk:
                    yield dict(zip(columns, values, strict=True))


def _simulate(ctx: Ctx, repo: Repo) -> RepoHistory:
    rng = stream(ctx.seed, "delivery", repo.full_name)
    team = ctx.org.team(repo.team_key)
    profile = PROFILES[team.profile]
    rate = (
        profile["rate"]
        * (0.6 if ctx.scale == "large" else 1.0)
        * (0.5 if repo.service is None else 1.0)
    )
    engineers = ctx.org.engineers(repo.team_key)
    ranked = engineers[:]
    rng.shuffle(ranked)
    review_weights = [1.0 / (rank + 1) ** 1.4 for rank in range(len(ranked))]
    now = ctx.now
    planted = repo.service == ACTIVE_INCIDENT_SERVICE

    prs: list[_Pr] = []
    day = ctx.history_start
    while day <= ctx.today:
        day_rate = rate if is_workday(day) else rate * 0.08
        for _ in range(poisson(rng, day_rate)):
            created = at(day, rng.uniform(8.5, 18.5))
            if created >= now:
                continue
            authors = [p for p in engineers if p.active_on(day)]
            prs.append(_new_pr(rng, created, rng.choice(authors), profile, now))
        day += timedelta(days=1)
    if planted:
        author = next(p for p in engineers if p.active_on(ctx.today))
        created = now - timedelta(hours=9)
        prs.append(
            _Pr(
                created=created,
                first_commit=created - timedelta(hours=5),
                first_review=created + timedelta(hours=1.5),
                approved=created + timedelta(hours=3.5),
                merged=now - timedelta(hours=4.5),
                closed=None,
                author=author,
            )
        )

    deploys: list[_Deploy] = []
    if repo.service is not None:
        deploys = _schedule(ctx, rng, repo, team.profile, prs, planted)
        _plant_failures(ctx, rng, repo, team.profile, deploys, profile, prs, engineers)
    prs.sort(key=lambda pr: (pr.created, pr.first_commit))
    for number, pr in enumerate(prs, start=1):
        pr.number = number
    out = RepoHistory()
    _emit_prs(ctx, rng, repo, prs, ranked, review_weights, out)
    _emit_deploys(ctx, rng, repo, team.deploy_tool, deploys, out)
    return out


def _hours(rng: random.Random, mean: float) -> timedelta:
    return timedelta(hours=rng.lognormvariate(math.log(mean) - 0.3, 0.75))


def _new_pr(
    rng: random.Random, created: datetime, author: Person, profile: dict[str, float], now: datetime
) -> _Pr:
    first_commit = created - _hours(rng, profile["coding"])
    abandoned = rng.random() < 0.04
    first_review = created + _hours(rng, profile["pickup"])
    approved = first_review + _hours(rng, profile["review"])
    merged = approved + timedelta(hours=rng.uniform(0.05, 1.5))
    closed = first_review + timedelta(hours=rng.uniform(2, 72))
    pr = _Pr(
        created=created,
        first_commit=first_commit,
        first_review=first_review,
        approved=None if abandoned else approved,
        merged=None if abandoned else merged,
        closed=closed if abandoned else None,
        author=author,
    )
    # whatever has not happened yet by `now` is unknown: the PR is still open
    if pr.first_review is not None and pr.first_review >= now:
        pr.first_review = pr.approved = pr.merged = pr.closed = None
    if pr.approved is not None and pr.approved >= now:
        pr.approved = pr.merged = None
    if pr.merged is not None and pr.merged >= now:
        pr.merged = None
    if pr.closed is not None and pr.closed >= now:
        pr.closed = None
    return pr


def _schedule(
    ctx: Ctx, rng: random.Random, repo: Repo, profile: str, prs: list[_Pr], planted: bool
) -> list[_Deploy]:
    """Plan staging and production deployments carrying the merged PRs."""
    now = ctx.now
    horizon = now - timedelta(hours=5 if planted else 1)  # every deployment finishes before now
    merged = sorted((pr for pr in prs if pr.merged is not None), key=lambda pr: _when(pr.merged))
    # merged PRs are sorted by merge time, so "every pending PR merged before t" is a prefix of
    # the pending ones: found by bisection on the merge times rather than by a scan
    times = [_when(pr.merged) for pr in merged]
    deploys: list[_Deploy] = []
    if profile == "elite":
        index = 0
        while index < len(merged):
            start = times[index] + timedelta(hours=rng.uniform(0.3, 0.8))
            if start >= horizon:
                break
            end = bisect.bisect_right(times, start - timedelta(minutes=12), lo=index)
            batch = merged[index:end] or [merged[index]]
            index += len(batch)
            deploys.append(_Deploy("staging", start - timedelta(minutes=15), batch))
            deploys.append(_Deploy("production", start, batch))
    else:
        staged = shipped = 0  # merged[:staged] went to staging, merged[:shipped] to production
        day = ctx.history_start
        while day <= ctx.today:
            if is_workday(day):
                stage_hours = [18.0] if profile == "medium" else [11.5, 16.5]
                for hour in stage_hours:
                    start = at(day, hour + rng.uniform(0, 0.6))
                    end = bisect.bisect_left(times, start, lo=staged)
                    if end > staged and start < horizon:
                        deploys.append(_Deploy("staging", start, merged[staged:end]))
                        staged = end
                prod_day = day.weekday() == 1 if profile == "medium" else rng.random() < 0.85
                if prod_day:
                    start = at(day, (14.0 if profile == "medium" else 15.0) + rng.uniform(0, 1.5))
                    end = bisect.bisect_left(times, start - timedelta(hours=0.5), lo=shipped)
                    if end > shipped and start < horizon:
                        batch = merged[shipped:end]
                        shipped = end
                        if rng.random() < 0.03 and profile != "medium":
                            deploys.append(
                                _Deploy(
                                    "production",
                                    start - timedelta(minutes=40),
                                    [],
                                    status="failure",
                                )
                            )
                        deploys.append(_Deploy("production", start, batch))
            day += timedelta(days=1)
    if planted:
        in_production = {
            id(pr) for deploy in deploys if deploy.env == "production" for pr in deploy.prs
        }
        start = now - timedelta(hours=3.2)
        cutoff = start - timedelta(minutes=10)
        batch = [pr for pr in merged if id(pr) not in in_production and _when(pr.merged) < cutoff]
        deploys.append(_Deploy("staging", start - timedelta(minutes=25), batch))
        deploys.append(_Deploy("production", start, batch, failed_change=True))
    deploys.sort(key=lambda deploy: deploy.start)
    return deploys


def _when(moment: datetime | None) -> datetime:
    """A timestamp known to be set (merged PRs always have `merged`)."""
    assert moment is not None
    return moment


def _duration(profile: str) -> timedelta:
    return timedelta(minutes={"elite": 8, "high": 18, "medium": 45}[profile])


def _plant_failures(
    ctx: Ctx,
    rng: random.Random,
    repo: Repo,
    profile_name: str,
    deploys: list[_Deploy],
    profile: dict[str, float],
    prs: list[_Pr],
    engineers: list[Person],
) -> None:
    """Mark change failures and add their rollback or hotfix deployments."""
    now = ctx.now
    mttr = profile["mttr"]
    safe_until = now - timedelta(hours=mttr * 6 + 2)
    candidates = [
        d
        for d in deploys
        if d.env == "production"
        and d.status == "success"
        and not d.failed_change
        and d.start < safe_until
    ]
    chosen: list[_Deploy] = []
    if profile_name == "medium":
        last30 = [d for d in candidates if d.start >= now - timedelta(days=30)]
        prev30 = [
            d for d in candidates if now - timedelta(days=60) <= d.start < now - timedelta(days=30)
        ]
        older = [d for d in candidates if d.start < now - timedelta(days=60)]
        chosen += rng.sample(last30, min(2, len(last30)))
        chosen += rng.sample(prev30, min(1 if repo.index % 3 != 2 else 0, len(prev30)))
        chosen += [d for d in older if rng.random() < profile["cfr"]]
    else:
        chosen = [d for d in candidates if rng.random() < profile["cfr"]]
    for deploy in chosen:
        deploy.failed_change = True
    remedies: list[_Deploy] = []
    for deploy in deploys:
        if deploy.env != "production" or not deploy.failed_change:
            continue
        broke = deploy.start + _duration(profile_name)
        if repo.service == ACTIVE_INCIDENT_SERVICE and deploy.start > now - timedelta(hours=4):
            continue  # the active incident: not restored yet
        restore = broke + timedelta(hours=mttr * rng.uniform(0.4, 1.8))
        deploy.restored_at = restore + _duration(profile_name)
        if rng.random() < 0.55:
            deploy.remedy = "rollback"
            remedies.append(_Deploy("production", restore, [], rollback=True))
        else:
            deploy.remedy = "hotfix"
            author = next((p for p in engineers if p.active_on(restore.date())), engineers[0])
            opened = broke + (restore - broke) * 0.4
            fix = _Pr(
                created=opened,
                first_commit=opened - timedelta(minutes=20),
                first_review=opened + timedelta(minutes=10),
                approved=opened + timedelta(minutes=25),
                merged=restore - timedelta(minutes=8),
                closed=None,
                author=author,
                hotfix=True,
            )
            prs.append(fix)
            remedies.append(_Deploy("production", restore, [fix], hotfix=True))
    deploys.extend(remedies)
    deploys.sort(key=lambda deploy: deploy.start)


def _emit_prs(
    ctx: Ctx,
    rng: random.Random,
    repo: Repo,
    prs: list[_Pr],
    ranked: list[Person],
    weights: list[float],
    out: RepoHistory,
) -> None:
    now = ctx.now
    for pr in prs:
        title = f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        if pr.hotfix:
            title = f"hotfix: revert risky change in {repo.name}"
        commit_count = 1 + poisson(rng, 1.6)
        span = (pr.created - pr.first_commit).total_seconds()
        times = sorted(
            pr.first_commit + timedelta(seconds=span * rng.random())
            for _ in range(commit_count - 1)
        )
        times = [pr.first_commit, *times]
        if pr.first_review and pr.approved and rng.random() < 0.3:
            times.append(pr.first_review + (pr.approved - pr.first_review) * 0.5)
        pr.commits = [(hex_id(rng, 40), moment) for moment in times if moment < now]
        additions = int(rng.lognormvariate(4.2, 1.1)) + 1
        deletions = int(additions * rng.uniform(0.05, 0.8))
        if pr.merged is not None:
            pr.merge_sha = hex_id(rng, 40)
        state = "merged" if pr.merged else "closed" if pr.closed else "open"
        stamps = [
            s
            for s in (
                pr.created,
                *(t for _, t in pr.commits),
                pr.first_review,
                pr.approved,
                pr.merged,
                pr.closed,
            )
            if s is not None
        ]
        pr_node = node_id(rng, "PR")
        out.pull_request.append(
            {
                "source_id": pr_node,
                "repo": repo.full_name,
                "number": pr.number,
                "title": title,
                "author": pr.author.github_login,
                "state": state,
                "created_at": pr.created,
                "updated_at": max(stamps),
                "first_commit_at": pr.first_commit,
                "first_review_at": pr.first_review,
                "approved_at": pr.approved,
                "merged_at": pr.merged,
                "closed_at": pr.merged or pr.closed,
                "merge_commit_sha": pr.merge_sha or None,
                "base_branch": "main",
                "additions": additions,
                "deletions": deletions,
                "changed_files": max(1, additions // 40),
                "draft": False,
                "url": f"https://github.com/{repo.full_name}/pull/{pr.number}",
            }
        )
        for sha, moment in pr.commits:
            out.commit.append(_commit(repo, sha, pr, moment, f"{title} (wip)"))
        if pr.merged is not None:
            out.commit.append(_commit(repo, pr.merge_sha, pr, pr.merged, f"{title} (#{pr.number})"))
        _emit_reviews(rng, repo, pr, ranked, weights, out)


def _commit(repo: Repo, sha: str, pr: _Pr, moment: datetime, message: str) -> Row:
    return {
        "source_id": sha,
        "sha": sha,
        "repo": repo.full_name,
        "author": pr.author.github_login,
        "authored_at": moment,
        "committed_at": moment,
        "pr_number": pr.number,
        "message": message,
    }


def _emit_reviews(
    rng: random.Random,
    repo: Repo,
    pr: _Pr,
    ranked: list[Person],
    weights: list[float],
    out: RepoHistory,
) -> None:
    if pr.first_review is None:
        return
    day = pr.first_review.date()
    pool = [
        (p, w)
        for p, w in zip(ranked, weights, strict=True)
        if p is not pr.author and p.active_on(day)
    ]
    if not pool:
        return
    people = [p for p, _ in pool]
    chosen = rng.choices(people, weights=[w for _, w in pool], k=1)[0]
    reviews: list[tuple[Person, str, datetime]] = []
    # the first review lands at first_review_at; approval (if any) at approved_at
    first_state = "CHANGES_REQUESTED" if rng.random() < 0.25 else "COMMENTED"
    reviews.append((chosen, first_state, pr.first_review))
    if pr.approved is not None:
        reviews.append((chosen, "APPROVED", pr.approved))
    if repo.required_reviews == 2 and pr.approved is not None and len(people) > 1:
        others = [p for p in people if p is not chosen]
        second = rng.choices(others, weights=[w for p, w in pool if p is not chosen], k=1)[0]
        moment = max(pr.first_review, pr.approved - timedelta(minutes=rng.uniform(1, 30)))
        reviews.append((second, "APPROVED", moment))
    for reviewer, state, moment in reviews:
        review_node = node_id(rng, "PRR")
        out.review.append(
            {
                "source_id": review_node,
                "repo": repo.full_name,
                "pr_number": pr.number,
                "reviewer": reviewer.github_login,
                "state": state,
                "submitted_at": moment,
            }
        )


def _emit_deploys(
    ctx: Ctx, rng: random.Random, repo: Repo, tool: str, deploys: list[_Deploy], out: RepoHistory
) -> None:
    if repo.service is None:
        return
    team = ctx.org.team(repo.team_key)
    last_good: dict[str, str] = {}
    for seq, deploy in enumerate(deploys, start=1):
        if deploy.rollback:
            sha = last_good.get("production_previous", "") or hex_id(rng, 40)
        elif deploy.prs:
            sha = deploy.prs[-1].merge_sha
        else:
            sha = last_good.get(deploy.env, "") or hex_id(rng, 40)
        deployment_id = _deployment_id(rng, tool, repo, deploy.env, seq)
        finished = deploy.start + _duration(team.profile)
        out.deployment.append(
            {
                "source_id": deployment_id,
                "service": repo.service,
                "repo": repo.full_name,
                "environment": deploy.env,
                "sha": sha,
                "ref": "main",
                "started_at": deploy.start,
                "finished_at": finished,
                "status": deploy.status,
                "tool": tool,
                "is_rollback": deploy.rollback,
                "is_hotfix": deploy.hotfix,
                "url": _deployment_url(tool, repo, deploy.env, deployment_id),
            }
        )
        if deploy.status == "success":
            if deploy.env == "production" and not deploy.rollback:
                last_good["production_previous"] = last_good.get("production", sha)
            last_good[deploy.env] = sha
        if deploy.status == "success":
            for pr in deploy.prs:
                for commit_sha, _ in [*pr.commits, (pr.merge_sha, pr.merged)]:
                    out.deployment_change.append(
                        {
                            "source_id": f"{deployment_id}:{commit_sha}",
                            "deployment_source_id": deployment_id,
                            "repo": repo.full_name,
                            "sha": commit_sha,
                            "pr_number": pr.number,
                        }
                    )
        if deploy.failed_change:
            out.failures.append(
                Failure(
                    deployment_id=deployment_id,
                    service=repo.service,
                    team_key=repo.team_key,
                    repo=repo.full_name,
                    finished_at=finished,
                    restored_at=deploy.restored_at,
                    remedy=deploy.remedy,
                )
            )


def _deployment_id(rng: random.Random, tool: str, repo: Repo, env: str, seq: int) -> str:
    if tool == "circleci":
        return uuid4(rng)
    if tool == "jenkins":
        return f"{repo.name}-deploy-{env}#{seq}"
    base = 1_000_000_000 if tool == "github_actions" else 50_000_000
    return str(base + repo.index * 100_000 + seq)


def _deployment_url(tool: str, repo: Repo, env: str, deployment_id: str) -> str:
    if tool == "circleci":
        return f"https://app.circleci.com/pipelines/github/{repo.full_name}/{deployment_id}"
    if tool == "jenkins":
        job, number = deployment_id.split("#")
        return f"https://jenkins.acme.cloud/job/{job}/{number}/"
    if tool == "gitlab":
        return f"https://gitlab.acme.cloud/{repo.full_name}/-/environments/{env}/deployments/{deployment_id}"
    return f"https://github.com/{repo.full_name}/deployments/{deployment_id}"
