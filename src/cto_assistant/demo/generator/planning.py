"""Jira planning per team: 2-week sprints, epics, tickets and their changelog.

Every team has one active sprint (holding `today`), closed sprints back to the start of history
and one future sprint. Tickets not finished in a sprint carry over to the next (both sprint ids
in `sprint_source_ids`); about one ticket in seven joins a sprint after it started (a `Sprint`
transition after the start: scope change). The epic `Q2-Payments-Refactor` (PAY) is planted on
top: ~70% of its points done, throughput falling, due in ten days, so its forecast slips.

Rows follow what the Jira connector reads back: `ticket.assignee` and `ticket_transition.author`
are Jira accountIds, a sprint's `board` is its board's name, and a transition's `source_id` is
"<issue id>-<n>:<field>" (one changelog history per change, "<issue id>-<n>").
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cto_assistant.demo.generator.common import Ctx, Person, Row, Team, at, stream

SPRINT_ANCHOR = date(2024, 1, 1)  # a Monday: every team's sprints start on this fortnight grid
SLIPPING_EPIC = "Q2-Payments-Refactor"
SLIPPING_EPIC_TEAM = "PAY"
STATUS_CATEGORY = {
    "To Do": "new",
    "In Progress": "indeterminate",
    "In Review": "indeterminate",
    "Done": "done",
}
_EPIC_THEMES = [
    "Observability uplift",
    "Cost optimisation",
    "API v2",
    "Accessibility",
    "Reliability hardening",
    "Self-serve onboarding",
    "GDPR data retention",
    "Performance budget",
    "Tech debt burn-down",
]
_SUMMARIES = [
    "Implement",
    "Investigate",
    "Migrate",
    "Add tests for",
    "Fix",
    "Design",
    "Clean up",
    "Instrument",
    "Document",
]
_TOPICS = [
    "retry policy",
    "webhook signatures",
    "dashboard latency",
    "invoice export",
    "refund flow",
    "session expiry",
    "event schema",
    "SDK upgrade",
    "alert thresholds",
    "feature flag cleanup",
    "database migration",
    "search relevance",
    "push opt-in",
    "card tokenisation",
    "ledger reconciliation",
    "audit trail",
]


@dataclass
class TeamPlan:
    """A team's Jira rows per table."""

    sprint: list[Row] = field(default_factory=list)
    epic: list[Row] = field(default_factory=list)
    ticket: list[Row] = field(default_factory=list)
    ticket_transition: list[Row] = field(default_factory=list)


def plan(ctx: Ctx, team: Team) -> TeamPlan:
    """The Jira history of one team (memoised in the small world)."""
    if ctx.scale == "small":
        cache = ctx.cache.setdefault("planning", {})
        if team.key not in cache:
            cache[team.key] = _Planner(ctx, team).run()
        return cache[team.key]
    return _Planner(ctx, team).run()


def rows(ctx: Ctx, table: str) -> Iterator[Row]:
    """Rows of one planning table, team by team."""
    for team in ctx.org.teams:
        yield from getattr(plan(ctx, team), table)


def sprint_bounds(start: date) -> tuple[datetime, datetime]:
    """A sprint's start (Monday 09:00) and end (two weeks later, Monday 08:00)."""
    return at(start, 9), at(start + timedelta(days=14), 8)


def board_name(team: Team) -> str:
    """The name of a team's scrum board (a sprint's `board`)."""
    return f"{team.key} board"


def sprint_id(team: Team, number: int) -> str:
    """The Jira sprint id of a team's sprint number."""
    return str(team.index * 10_000 + number)


class _Planner:
    def __init__(self, ctx: Ctx, team: Team) -> None:
        self.ctx = ctx
        self.team = team
        self.rng: random.Random = stream(ctx.seed, "planning", team.key)
        self.out = TeamPlan()
        self.counter = 0
        self.people = ctx.org.engineers(team.key)
        self.account_ids = {p.email: p.jira_account_id for p in ctx.org.people}
        self.lead_account = self.account_ids.get(team.lead_email)
        self.epics: list[tuple[str, datetime, date | None]] = []
        self.open_rows: list[Row] = []
        self.changes: dict[str, int] = {}

    # ---------------------------------------------------------------- helpers
    def _next_key(self) -> tuple[str, str]:
        self.counter += 1
        return (
            f"{self.team.key}-{self.counter}",
            str(10_000 + self.team.index * 100_000 + self.counter),
        )

    def _assignee(self, day: date) -> Person | None:
        pool = [p for p in self.people if p.active_on(day)]
        return self.rng.choice(pool) if pool else None

    # ---------------------------------------------------------------- run
    def run(self) -> TeamPlan:
        ctx, team = self.ctx, self.team
        offset = (ctx.today - SPRINT_ANCHOR).days % 14
        active_start = ctx.today - timedelta(days=offset)
        count = ctx.delivery_days // 14
        starts = [active_start - timedelta(days=14 * k) for k in range(count, -2, -1)]
        self._epics(starts[0])
        carried: list[Row] = []
        for start in starts:
            number = (start - SPRINT_ANCHOR).days // 14 + 1
            sid = sprint_id(team, number)
            begin, end = sprint_bounds(start)
            state = "future" if begin > ctx.now else "closed" if end < ctx.now else "active"
            self.out.sprint.append(
                {
                    "source_id": sid,
                    "team_key": team.key,
                    "board": board_name(team),
                    "name": f"{team.key} Sprint {number}",
                    "goal": f"{team.name}: {self.rng.choice(_TOPICS)}",
                    "state": state,
                    "start_at": begin,
                    "end_at": end,
                    "complete_at": end + timedelta(minutes=30) if state == "closed" else None,
                }
            )
            if state == "future":
                self._sprint_tickets(sid, begin, end, state, carried=[], fresh=4)
                continue
            capacity = max(4, len([p for p in self.people if p.active_on(start)]) * 3)
            carried = self._sprint_tickets(sid, begin, end, state, carried=carried, fresh=capacity)
        for _ in range(8):  # the backlog
            self._ticket(
                created=self.ctx.now - timedelta(days=self.rng.uniform(1, 60)),
                sprints=[],
                outcome="To Do",
                sprint_begin=None,
                sprint_end=None,
            )
        if team.key == SLIPPING_EPIC_TEAM:
            self._slipping_epic(starts)
        return self.out

    def _epics(self, first_start: date) -> None:
        themes = self.rng.sample(_EPIC_THEMES, 3)
        for index, theme in enumerate(themes):
            key, source_id = self._next_key()
            created = at(first_start, 10) + timedelta(days=20 * index)
            done = index == 0
            due = (created + timedelta(days=70)).date() if index < 2 else None
            self.out.epic.append(
                {
                    "source_id": source_id,
                    "key": key,
                    "name": f"{self.team.name}: {theme}",
                    "team_key": self.team.key,
                    "status": "Done" if done else "In Progress",
                    "done": done,
                    "due_date": due,
                    "created_at": created,
                }
            )
            if not done:
                self.epics.append((key, created, due))

    def _sprint_tickets(
        self, sid: str, begin: datetime, end: datetime, state: str, carried: list[Row], fresh: int
    ) -> list[Row]:
        """Fill one sprint; return the tickets that carry over to the next."""
        rng = self.rng
        for row in carried:  # moved on at the close of the previous sprint
            row["sprint_source_ids"].append(sid)
            self._transition(
                row,
                "Sprint",
                ",".join(row["sprint_source_ids"][:-1]),
                ",".join(row["sprint_source_ids"]),
                begin - timedelta(hours=1),
            )
            self._progress(row, begin, end, state, carried=True)
        points = 0.0
        leftovers: list[Row] = []
        while points < fresh:
            late = rng.random() < 0.14
            joined = (
                begin + timedelta(days=rng.uniform(1, 8)) if late else begin - timedelta(hours=2)
            )
            if joined > self.ctx.now:  # planned before the start, and before now
                joined = min(begin, self.ctx.now) - timedelta(hours=rng.uniform(1, 30))
            created = joined - timedelta(days=rng.uniform(0.1, 20))
            row = self._ticket(
                created=created, sprints=[sid], outcome=None, sprint_begin=joined, sprint_end=end
            )
            points += row["story_points"] or 0
            self._progress(row, max(begin, joined), end, state, carried=False)
        for row in self.open_rows:
            if row["status"] != "Done" and state == "closed":
                leftovers.append(row)
        self.open_rows = []
        return leftovers

    def _ticket(
        self,
        *,
        created: datetime,
        sprints: list[str],
        outcome: str | None,
        sprint_begin: datetime | None,
        sprint_end: datetime | None,
        epic: str | None = None,
        points: float | None = None,
    ) -> Row:
        rng = self.rng
        key, source_id = self._next_key()
        kind = rng.choices(["Story", "Bug", "Task"], weights=[6, 2.5, 1.5])[0]
        if epic is None and self.epics and rng.random() < 0.4:
            epic = rng.choice(self.epics)[0]
        if points is None:
            points = float(rng.choices([1, 2, 3, 5, 8, 13], weights=[2, 4, 5, 4, 2, 0.5])[0])
        assignee = self._assignee(created.date())
        row: Row = {
            "source_id": source_id,
            "key": key,
            "type": kind,
            "summary": f"{rng.choice(_SUMMARIES)} {rng.choice(_TOPICS)}",
            "status": "To Do",
            "status_category": "new",
            "priority": rng.choices(["Highest", "High", "Medium", "Low"], weights=[1, 3, 6, 2])[0],
            "assignee": assignee.jira_account_id
            if assignee and (sprints or rng.random() < 0.3)
            else None,
            "team_key": self.team.key,
            "project": self.team.key,
            "epic_key": epic,
            "sprint_source_ids": list(sprints),
            "story_points": points if kind != "Bug" or rng.random() < 0.5 else None,
            "labels": ["tech-debt"] if rng.random() < 0.1 else [],
            "created_at": created,
            "updated_at": created,
            "resolved_at": None,
            "due_date": None,
        }
        self.out.ticket.append(row)
        if sprints and sprint_begin is not None:
            self._transition(row, "Sprint", None, sprints[0], sprint_begin)
        if outcome is None:
            self.open_rows.append(row)
        return row

    def _transition(
        self, row: Row, fieldname: str, old: str | None, new: str | None, moment: datetime
    ) -> None:
        seq = self.changes.get(row["key"], 0) + 1
        self.changes[row["key"]] = seq
        self.out.ticket_transition.append(
            {
                "source_id": f"{row['source_id']}-{seq}:{fieldname}",
                "ticket_key": row["key"],
                "field": fieldname,
                "from_value": old,
                "to_value": new,
                "at": moment,
                "author": row["assignee"] or self.lead_account,
            }
        )
        row["updated_at"] = max(row["updated_at"], moment)

    def _move(self, row: Row, status: str, moment: datetime) -> None:
        self._transition(row, "status", row["status"], status, moment)
        row["status"] = status
        row["status_category"] = STATUS_CATEGORY[status]
        if status == "Done":
            row["resolved_at"] = moment

    def _progress(
        self, row: Row, begin: datetime, end: datetime, state: str, carried: bool
    ) -> None:
        """Walk a ticket through the workflow within its sprint."""
        rng = self.rng
        now = self.ctx.now
        if row["status"] == "Done" or state == "future":
            return
        if state == "closed":
            finish = rng.random() < (0.97 if carried else 0.84)
        else:
            elapsed = max(0.0, min(1.0, (now - begin) / (end - begin)))
            finish = rng.random() < elapsed * 0.75
        span = (end - begin) * rng.uniform(0.25, 0.95)
        done_at = begin + span
        if state != "closed":
            done_at = begin + (now - begin) * rng.uniform(0.3, 0.98)
        start_at = begin + (done_at - begin) * rng.uniform(0.05, 0.5)
        review_at = start_at + (done_at - start_at) * rng.uniform(0.5, 0.9)
        if row["status"] == "To Do" and (finish or rng.random() < 0.5) and start_at < now:
            self._move(row, "In Progress", start_at)
        if finish:
            if row["status"] == "In Progress":
                self._move(row, "In Review", review_at)
            self._move(row, "Done", done_at)
        elif row["status"] == "In Progress" and rng.random() < 0.4 and review_at < now:
            self._move(row, "In Review", review_at)

    def _slipping_epic(self, starts: list[date]) -> None:
        """Plant Q2-Payments-Refactor: ~70% of points done, slowing down, due in ten days."""
        rng = self.rng
        ctx = self.ctx
        key, source_id = self._next_key()
        created = ctx.now - timedelta(days=112)
        self.out.epic.append(
            {
                "source_id": source_id,
                "key": key,
                "name": SLIPPING_EPIC,
                "team_key": self.team.key,
                "status": "In Progress",
                "done": False,
                "due_date": ctx.today + timedelta(days=10),
                "created_at": created,
            }
        )
        points = [float(rng.choice([2, 3, 3, 5, 5, 8])) for _ in range(30)]
        total = sum(points)
        done_flags = [False] * len(points)
        done_points = 0.0
        for index in rng.sample(range(len(points)), len(points)):
            if done_points + points[index] <= total * 0.72:
                done_flags[index] = True
                done_points += points[index]
            if done_points >= total * 0.68:
                break
        # finished work sits in the closed sprints of the last ~14 weeks, thinning out lately:
        # one ticket in each of the last two sprints, the rest spread over the five before
        closed = [s for s in starts if sprint_bounds(s)[1] < ctx.now][-7:]
        done_indexes = [i for i, flag in enumerate(done_flags) if flag]
        placement = {done_indexes[-1]: closed[-1], done_indexes[-2]: closed[-2]}
        for index in done_indexes[:-2]:
            placement[index] = rng.choices(
                closed[:-2], weights=[4, 4, 3.5, 3, 2][-len(closed[:-2]) :]
            )[0]
        active = next(s for s in starts if sprint_bounds(s)[0] <= ctx.now < sprint_bounds(s)[1])
        open_in_sprint = 3
        for index, pts in enumerate(points):
            if done_flags[index]:
                start = placement[index]
                begin, end = sprint_bounds(start)
                sid = sprint_id(self.team, (start - SPRINT_ANCHOR).days // 14 + 1)
                row = self._ticket(
                    created=created + timedelta(days=rng.uniform(0, 5)),
                    sprints=[sid],
                    outcome="done",
                    sprint_begin=begin - timedelta(hours=2),
                    sprint_end=end,
                    epic=key,
                    points=pts,
                )
                row["type"] = "Story"
                row["story_points"] = pts
                self._move(row, "In Progress", begin + (end - begin) * 0.2)
                self._move(row, "In Review", begin + (end - begin) * rng.uniform(0.4, 0.7))
                self._move(row, "Done", begin + (end - begin) * rng.uniform(0.75, 0.98))
            elif open_in_sprint > 0:
                open_in_sprint -= 1
                begin, end = sprint_bounds(active)
                sid = sprint_id(self.team, (active - SPRINT_ANCHOR).days // 14 + 1)
                row = self._ticket(
                    created=created + timedelta(days=rng.uniform(0, 5)),
                    sprints=[sid],
                    outcome="open",
                    sprint_begin=begin - timedelta(hours=2),
                    sprint_end=end,
                    epic=key,
                    points=pts,
                )
                row["type"] = "Story"
                row["story_points"] = pts
                if open_in_sprint < 2 and begin < ctx.now:
                    self._move(row, "In Progress", min(ctx.now, begin + timedelta(hours=3)))
            else:
                row = self._ticket(
                    created=created + timedelta(days=rng.uniform(0, 30)),
                    sprints=[],
                    outcome="open",
                    sprint_begin=None,
                    sprint_end=None,
                    epic=key,
                    points=pts,
                )
                row["type"] = "Story"
                row["story_points"] = pts
