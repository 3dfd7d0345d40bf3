"""Catalog file entries → team, person, service and repository rows (validated with pydantic)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cto_assistant.errors import SchemaDriftError


class TeamEntry(BaseModel):
    """One team: its key is how every other row names it."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=32)
    name: str
    jira_project: str | None = None
    lead_email: str | None = None
    slack_channel: str | None = None
    pagerduty_schedule: str | None = None


class PersonEntry(BaseModel):
    """One person with the handles other systems know them by."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3)
    name: str
    team: str | None = None
    role: str | None = None
    active: bool = True
    started: date | None = None
    left: date | None = None
    github_login: str | None = None
    jira_account_id: str | None = None
    pagerduty_id: str | None = None
    timezone: str | None = None


class ServiceEntry(BaseModel):
    """One service: owner, tier, repository, environments, exposure."""

    model_config = ConfigDict(extra="forbid")
    name: str
    team: str | None = None
    tier: int | None = Field(default=None, ge=0, le=5)
    repo: str | None = None
    environments: list[str] = Field(default_factory=list)
    internet_facing: bool = False
    description: str | None = None


class RepositoryEntry(BaseModel):
    """One repository and the service and team it belongs to."""

    model_config = ConfigDict(extra="forbid")
    full_name: str
    provider: str = "github"
    service: str | None = None
    team: str | None = None
    default_branch: str | None = None
    language: str | None = None


class BudgetEntry(BaseModel):
    """A spending budget: the whole company (empty scope) or a team, provider or project."""

    model_config = ConfigDict(extra="forbid")
    name: str
    amount: float = Field(gt=0)
    period: str = Field(default="monthly", pattern="^(monthly|quarterly|yearly)$")
    currency: str = "USD"
    scope: dict[str, str] = Field(default_factory=dict)


SECTIONS: dict[str, type[BaseModel]] = {
    "teams": TeamEntry,
    "people": PersonEntry,
    "services": ServiceEntry,
    "repositories": RepositoryEntry,
    "budgets": BudgetEntry,
}


def parse_entries(section: str, items: Any, *, source: str) -> list[BaseModel]:
    """Validate every entry of a catalog section; the first bad one names its index and field."""
    model = SECTIONS.get(section) if isinstance(section, str) else None
    if model is None:
        raise SchemaDriftError(
            source,
            f"unknown section {str(section)[:40]!r} (known: {', '.join(SECTIONS)})",
            field=str(section)[:40],
        )
    if items is None:
        return []
    if not isinstance(items, list):
        raise SchemaDriftError(source, f"'{section}' must be a list", stream=section, field=section)
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SchemaDriftError(
                source,
                f"{section}[{index}].{where}: {first['msg']}",
                stream=section,
                field=f"{section}[{index}].{where}",
            ) from None
    return parsed


def team_row(entry: TeamEntry) -> dict[str, Any]:
    """A `team` row keyed on the team key."""
    return {"source_id": entry.key, **entry.model_dump()}


def person_row(entry: PersonEntry) -> dict[str, Any]:
    """A `person` row keyed on the e-mail address."""
    data = entry.model_dump()
    return {
        "source_id": entry.email.lower(),
        "email": entry.email.lower(),
        "name": entry.name,
        "team_key": data["team"],
        "role": entry.role,
        "active": entry.active and entry.left is None,
        "started_at": entry.started,
        "left_at": entry.left,
        "github_login": entry.github_login,
        "jira_account_id": entry.jira_account_id,
        "pagerduty_id": entry.pagerduty_id,
        "timezone": entry.timezone,
    }


def service_row(entry: ServiceEntry) -> dict[str, Any]:
    """A `service` row keyed on the service name."""
    return {
        "source_id": entry.name,
        "name": entry.name,
        "team_key": entry.team,
        "tier": entry.tier,
        "repo": entry.repo,
        "environments": entry.environments,
        "internet_facing": entry.internet_facing,
        "description": entry.description,
    }


def repository_row(entry: RepositoryEntry) -> dict[str, Any]:
    """A `repository` row keyed on the full name."""
    return {
        "source_id": entry.full_name,
        "full_name": entry.full_name,
        "provider": entry.provider,
        "service": entry.service,
        "team_key": entry.team,
        "default_branch": entry.default_branch,
        "language": entry.language,
    }


def budget_row(entry: BudgetEntry) -> dict[str, Any]:
    """A `budget` row keyed on the budget name."""
    return {"source_id": entry.name, **entry.model_dump()}
