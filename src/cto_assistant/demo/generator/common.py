"""Shared pieces of the world generator: the build context, seeded random streams, id makers.

Determinism rules: every random choice comes from a `random.Random` made by `stream(seed, *names)`
(a SHA-256 of the names, never `hash()`), or from `unit(...)`, a stateless integer hash used for
per-row noise in the large streams. Nothing here reads the clock; time is relative to `ctx.now`.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

Row = dict[str, Any]
Scale = Literal["small", "large"]

EMAIL_DOMAIN = "acme.cloud"
GITHUB_ORG = "acme"

_MASK64 = (1 << 64) - 1
_PD_ALPHABET = string.ascii_uppercase + string.digits


def stream(seed: int, *names: object) -> random.Random:
    """A random stream private to one domain/entity: same names, same numbers."""
    key = "|".join([str(seed), *(str(name) for name in names)]).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def stable_int(*names: object) -> int:
    """A 64-bit integer derived from names (process-independent, unlike `hash`)."""
    key = "|".join(str(name) for name in names).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def unit(key: int, a: int, b: int = 0) -> float:
    """A uniform number in [0, 1) from integers, with no state (splitmix64 finaliser)."""
    z = (key + a * 0x9E3779B97F4A7C15 + b * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return (z >> 11) / float(1 << 53)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson-distributed count with mean `lam` (Knuth's method; small means only)."""
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def hex_id(rng: random.Random, length: int) -> str:
    """A lowercase hex id of `length` characters."""
    return f"{rng.getrandbits(length * 4):0{length}x}"


def pd_id(rng: random.Random, prefix: str = "P", length: int = 6) -> str:
    """A PagerDuty-style id such as P1ABC23."""
    return prefix + "".join(rng.choice(_PD_ALPHABET) for _ in range(length))


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng`."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def node_id(rng: random.Random, prefix: str) -> str:
    """A GitHub GraphQL-style node id such as PR_kwDOAbCd12345678."""
    alphabet = string.ascii_letters + string.digits + "_-"
    return prefix + "_kwDO" + "".join(rng.choice(alphabet) for _ in range(14))


def at(day: date, hour: float = 0.0) -> datetime:
    """An aware UTC datetime on `day`, `hour` hours after midnight."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC) + timedelta(hours=hour)


def days_between(start: date, end: date) -> list[date]:
    """Every day from start (inclusive) to end (exclusive)."""
    return [start + timedelta(days=offset) for offset in range((end - start).days)]


def is_workday(day: date) -> bool:
    """Monday to Friday."""
    return day.weekday() < 5


@dataclass(frozen=True)
class Team:
    """One engineering team and its delivery profile."""

    key: str
    slug: str
    name: str
    slack_channel: str
    profile: str  # elite, high, medium: the DORA storyline this team plays
    deploy_tool: str  # github_actions, gitlab, jenkins, circleci
    index: int
    lead_email: str = ""
    pd_primary: str = ""
    pd_secondary: str = ""
    jira_board_id: int = 0
    jira_project_id: str = ""


@dataclass(frozen=True)
class Person:
    """One person of the company (engineers, leads, executives)."""

    source_id: str
    name: str
    email: str
    team_key: str | None
    role: str
    active: bool
    started_at: date
    left_at: date | None
    github_login: str
    jira_account_id: str
    pagerduty_id: str
    timezone: str

    def active_on(self, day: date) -> bool:
        """Whether this person worked here on `day`."""
        return self.started_at <= day and (self.left_at is None or day < self.left_at)


@dataclass(frozen=True)
class Service:
    """A deployable service, owned by one team, built from one repository."""

    name: str
    team_key: str
    tier: int
    environments: tuple[str, ...]
    internet_facing: bool
    language: str
    description: str
    project: str  # the cost-allocation `project` tag
    index: int

    @property
    def repo(self) -> str:
        """The repository full name."""
        return f"{GITHUB_ORG}/{self.name}"


@dataclass(frozen=True)
class Repo:
    """A repository; `service` is None for libraries and infrastructure code."""

    full_name: str
    team_key: str
    service: str | None
    language: str
    branch_protected: bool
    required_reviews: int | None
    github_id: int
    index: int

    @property
    def name(self) -> str:
        """The repository name without the org."""
        return self.full_name.split("/", 1)[1]


@dataclass
class Org:
    """Teams, people, services and repositories: the skeleton every other domain hangs on."""

    teams: list[Team]
    people: list[Person]
    services: list[Service]
    repos: list[Repo]
    departed_admin: str = ""
    admins_without_mfa: list[str] = field(default_factory=list)

    def team(self, key: str) -> Team:
        """The team with `key`."""
        return next(team for team in self.teams if team.key == key)

    def members(self, team_key: str) -> list[Person]:
        """Everyone ever in a team, in a stable order."""
        return [person for person in self.people if person.team_key == team_key]

    def engineers(self, team_key: str) -> list[Person]:
        """Everyone in a team who writes code (leads included)."""
        return [p for p in self.members(team_key) if p.role != "Product Manager"]

    def service(self, name: str) -> Service:
        """The service called `name`."""
        return next(service for service in self.services if service.name == name)


@dataclass
class Ctx:
    """Everything a producer needs: seed, clock, scale, history spans and the org."""

    seed: int
    today: date
    scale: Scale
    org: Org
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """The world's clock: noon UTC of `today`."""
        return at(self.today, 12)

    @property
    def delivery_days(self) -> int:
        """Days of delivery, planning, incident and quality history."""
        return 182 if self.scale == "small" else 730

    @property
    def cost_days(self) -> int:
        """Days of daily cost history (13 months small, 2 years large)."""
        return 395 if self.scale == "small" else 730

    @property
    def history_start(self) -> date:
        """First day of delivery history."""
        return self.today - timedelta(days=self.delivery_days)
