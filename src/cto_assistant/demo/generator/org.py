"""Teams, people, services and repositories of Acme Cloud (and their rows)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta

from cto_assistant.demo.generator import catalog
from cto_assistant.demo.generator.common import (
    EMAIL_DOMAIN,
    GITHUB_ORG,
    Ctx,
    Org,
    Person,
    Repo,
    Row,
    Scale,
    Service,
    Team,
    pd_id,
    stream,
)

EXECUTIVES = ["Chief Technology Officer", "VP Engineering", "Head of Security"]


def build_org(seed: int, today: date, scale: Scale) -> Org:
    """Build the org skeleton: teams, people (with leavers), services and repositories."""
    rng = stream(seed, "org")
    teams = _teams(scale)
    sizes = dict(catalog.CORE_TEAM_SIZES)
    if scale == "large":
        sizes = {team.key: (25 if team.key in catalog.CORE_TEAM_SIZES else 20) for team in teams}
    names = _name_pool(rng, sum(sizes.values()) + 64)
    people: list[Person] = []
    for team in teams:
        for position in range(sizes[team.key]):
            role = _role(team, position)
            started = today - timedelta(days=rng.randint(200, 2400))
            people.append(_person(rng, names.pop(), team.key, role, started, None))
    # joiners in the last quarter and leavers in the last six months, in fixed teams
    joiner_teams = ["PAY", "DATA", "GRW"] if scale == "small" else [t.key for t in teams[::8]]
    for index, key in enumerate(joiner_teams):
        members = [p for p in people if p.team_key == key and p.role not in _LEAD_ROLES]
        victim = members[-1]
        people[people.index(victim)] = replace(
            victim, started_at=today - timedelta(days=30 + 25 * index)
        )
    leaver_plan = [("SRE", 45), ("PLAT", 150), ("PAY", 95), ("MOB", 20), ("GRW", 120)]
    if scale == "large":
        leaver_plan += [(t.key, 30 + (i * 37) % 150) for i, t in enumerate(teams[8::3])]
    for key, days_ago in leaver_plan:
        started = today - timedelta(days=rng.randint(500, 1500))
        left = today - timedelta(days=days_ago)
        people.append(_person(rng, names.pop(), key, "Senior Software Engineer", started, left))
    for title in EXECUTIVES:
        people.append(_person(rng, names.pop(), None, title, today - timedelta(days=2000), None))
    leads = {}
    for team in teams:
        leads[team.key] = next(
            p.email for p in people if p.team_key == team.key and p.role == "Engineering Manager"
        )
    teams = [
        replace(
            team,
            lead_email=leads[team.key],
            pd_primary=pd_id(stream(seed, "pd-schedule", team.key, 1)),
            pd_secondary=pd_id(stream(seed, "pd-schedule", team.key, 2)),
            jira_board_id=team.index + 1,
            jira_project_id=str(10000 + team.index),
        )
        for team in teams
    ]
    services = _services(teams, scale)
    repos = _repos(services, scale)
    org = Org(teams=teams, people=people, services=services, repos=repos)
    org.departed_admin = next(p.email for p in people if p.team_key == "SRE" and not p.active)
    plat = [p for p in people if p.team_key == "PLAT" and p.active and p.role in _IC_ROLES]
    data = [p for p in people if p.team_key == "DATA" and p.active and p.role in _IC_ROLES]
    org.admins_without_mfa = [plat[1].email, data[0].email]
    return org


_LEAD_ROLES = ("Engineering Manager", "Product Manager")
_IC_ROLES = (
    "Staff Engineer",
    "Senior Software Engineer",
    "Software Engineer",
    "Site Reliability Engineer",
)


def _teams(scale: Scale) -> list[Team]:
    teams = [
        Team(
            key=key,
            slug=slug,
            name=name,
            slack_channel=f"#team-{slug}",
            profile=profile,
            deploy_tool=tool,
            index=index,
        )
        for index, (key, slug, name, profile, tool) in enumerate(catalog.CORE_TEAMS)
    ]
    if scale == "large":
        used = {team.key for team in teams}
        tools = ["github_actions", "github_actions", "gitlab", "jenkins", "circleci"]
        for word in catalog.EXTRA_TEAM_WORDS:
            base = word.replace("-", "").upper()
            key = base[:4]
            suffix = 2
            while key in used:
                key = f"{base[:3]}{suffix}"
                suffix += 1
            used.add(key)
            index = len(teams)
            teams.append(
                Team(
                    key=key,
                    slug=word,
                    name=word.replace("-", " ").title(),
                    slack_channel=f"#team-{word}",
                    profile="high",
                    deploy_tool=tools[index % len(tools)],
                    index=index,
                )
            )
    return teams


def _role(team: Team, position: int) -> str:
    if position == 0:
        return "Engineering Manager"
    if position == 1 and team.key in ("PAY", "CHK", "GRW"):
        return "Product Manager"
    if team.key == "SRE":
        return "Site Reliability Engineer"
    if position == 2:
        return "Staff Engineer"
    return "Senior Software Engineer" if position % 2 else "Software Engineer"


def _name_pool(rng: random.Random, count: int) -> list[tuple[str, str]]:
    pairs = [(first, last) for first in catalog.FIRST_NAMES for last in catalog.LAST_NAMES]
    rng.shuffle(pairs)
    return pairs[:count]


def _person(
    rng: random.Random,
    name: tuple[str, str],
    team_key: str | None,
    role: str,
    started: date,
    left: date | None,
) -> Person:
    first, last = name
    email = f"{first.lower()}.{last.lower()}@{EMAIL_DOMAIN}"
    return Person(
        source_id=pd_id(rng),
        name=f"{first} {last}",
        email=email,
        team_key=team_key,
        role=role,
        active=left is None,
        started_at=started,
        left_at=left,
        github_login=f"{first.lower()}-{last.lower()}",
        jira_account_id=f"712020:{rng.getrandbits(128):032x}",
        pagerduty_id=pd_id(rng),
        timezone=rng.choice(catalog.TIMEZONES),
    )


def _services(teams: list[Team], scale: Scale) -> list[Service]:
    services = [
        Service(
            name=name,
            team_key=team,
            tier=tier,
            environments=("production",) if tier == 3 else ("staging", "production"),
            internet_facing=facing,
            language=language,
            description=description,
            project=project,
            index=index,
        )
        for index, (name, team, tier, facing, language, project, description) in enumerate(
            catalog.CORE_SERVICES
        )
    ]
    if scale == "large":
        languages = ["go", "java", "python", "typescript", "kotlin"]
        for team in teams:
            count = 3 if team.key in catalog.CORE_TEAM_SIZES else 7
            for offset in range(count):
                noun = catalog.SERVICE_NOUNS[(team.index + offset * 5) % len(catalog.SERVICE_NOUNS)]
                index = len(services)
                tier = 1 + (index % 3)
                services.append(
                    Service(
                        name=f"{team.slug}-{noun}",
                        team_key=team.key,
                        tier=tier,
                        environments=("staging", "production"),
                        internet_facing=index % 4 == 0,
                        language=languages[index % len(languages)],
                        description=f"{team.name} {noun}",
                        project=team.slug,
                        index=index,
                    )
                )
    return services


def _repos(services: list[Service], scale: Scale) -> list[Repo]:
    repos: list[Repo] = []
    for service in services:
        protected = service.name not in catalog.UNPROTECTED_REPOS and not (
            scale == "large" and service.index % 11 == 5
        )
        repos.append(
            Repo(
                full_name=service.repo,
                team_key=service.team_key,
                service=service.name,
                language=service.language,
                branch_protected=protected,
                required_reviews=(2 if service.tier == 1 else 1) if protected else None,
                github_id=600_000_000 + 7919 * (len(repos) + 1),
                index=len(repos),
            )
        )
    for name, team, language in catalog.CORE_LIBRARIES:
        protected = name not in catalog.UNPROTECTED_REPOS
        repos.append(
            Repo(
                full_name=f"{GITHUB_ORG}/{name}",
                team_key=team,
                service=None,
                language=language,
                branch_protected=protected,
                required_reviews=1 if protected else None,
                github_id=600_000_000 + 7919 * (len(repos) + 1),
                index=len(repos),
            )
        )
    return repos


def team_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `team`."""
    for team in ctx.org.teams:
        yield {
            "source_id": team.key,
            "key": team.key,
            "name": team.name,
            "jira_project": team.key,
            "lead_email": team.lead_email,
            "slack_channel": team.slack_channel,
            "pagerduty_schedule": team.pd_primary,
        }


def person_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `person` (source_id is the PagerDuty user id)."""
    for person in ctx.org.people:
        yield {
            "source_id": person.pagerduty_id,
            "name": person.name,
            "email": person.email,
            "team_key": person.team_key,
            "role": person.role,
            "active": person.active,
            "started_at": person.started_at,
            "left_at": person.left_at,
            "github_login": person.github_login,
            "jira_account_id": person.jira_account_id,
            "pagerduty_id": person.pagerduty_id,
            "timezone": person.timezone,
        }


def service_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `service` (source_id is the PagerDuty service id)."""
    for service in ctx.org.services:
        yield {
            "source_id": pd_id(stream(ctx.seed, "pd-service", service.name)),
            "name": service.name,
            "team_key": service.team_key,
            "tier": service.tier,
            "repo": service.repo,
            "environments": list(service.environments),
            "internet_facing": service.internet_facing,
            "description": service.description,
        }


def repository_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `repository` (source_id is the GitHub repository id)."""
    for repo in ctx.org.repos:
        yield {
            "source_id": str(repo.github_id),
            "provider": "github",
            "full_name": repo.full_name,
            "default_branch": "main",
            "service": repo.service,
            "team_key": repo.team_key,
            "branch_protected": repo.branch_protected,
            "required_reviews": repo.required_reviews,
            "language": repo.language,
            "archived": False,
            "url": f"https://github.com/{repo.full_name}",
        }
