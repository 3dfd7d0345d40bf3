"""The documented shapes of the GENERIC source and their mapping to domain records.

One shape per kind, shared by the webhook endpoints (JSON bodies) and `cto import` (CSV columns
or JSON objects with the same names). Values are normalized here — statuses and severities to the
domain's words, environments to lower case — so everything after the mapper speaks one language.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cto_assistant.connectors.base import Record

Kind = Literal["deployments", "incidents"]
KINDS: tuple[Kind, ...] = ("deployments", "incidents")

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=512, pattern=r"^https?://\S+$")
]
Sha = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[0-9a-fA-F]{7,64}$")
]

DEPLOYMENT_STATUSES: dict[str, str] = {
    **dict.fromkeys(("success", "succeeded", "successful", "ok", "passed", "done"), "success"),
    **dict.fromkeys(("failure", "failed", "error", "errored", "broken"), "failure"),
    **dict.fromkeys(("in_progress", "running", "pending", "queued", "started"), "in_progress"),
    **dict.fromkeys(("cancelled", "canceled", "aborted", "skipped"), "cancelled"),
}
INCIDENT_STATUSES: dict[str, str] = {
    **dict.fromkeys(("triggered", "open", "firing", "new", "active"), "triggered"),
    **dict.fromkeys(
        ("acknowledged", "investigating", "identified", "monitoring", "mitigated"), "acknowledged"
    ),
    **dict.fromkeys(("resolved", "closed", "done"), "resolved"),
}
SEVERITY_WORDS = {
    "critical": 1,
    "high": 2,
    "major": 2,
    "medium": 3,
    "moderate": 3,
    "minor": 4,
    "low": 4,
    "info": 5,
    "informational": 5,
}
ENVIRONMENT_ALIASES = {
    "prod": "production",
    "prd": "production",
    "live": "production",
    "stage": "staging",
    "stg": "staging",
    "dev": "development",
}
_SEVERITY = re.compile(r"^(?:sev|p)?[-_ ]?([1-5])$")
_SPLIT = re.compile(r"[\s,;]+")


def _normalize(value: Any, allowed: dict[str, str], what: str) -> Any:
    if not isinstance(value, str):
        return value
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in allowed:
        choices = ", ".join(sorted(set(allowed.values())))
        raise ValueError(f"unknown {what} {value!r} (use one of: {choices})")
    return allowed[key]


class _Shape(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
    )


class DeploymentIn(_Shape):
    """One deployment, as a CI system without a connector reports it."""

    id: Id = Field(description="Your id for this deployment; re-sending it updates the row.")
    service: Name = Field(description="Service deployed, e.g. 'checkout-service'.")
    environment: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None,
        description="Target environment, e.g. 'production' or 'staging' (prod → production).",
    )
    status: str = Field(
        description="success, failure, in_progress or cancelled "
        "(also accepted: succeeded, failed, error, running, canceled, …)."
    )
    started_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with a time zone, e.g. 2025-05-01T12:00:00Z."
    )
    finished_at: AwareDatetime | None = Field(
        default=None, description="Required when status is success or failure."
    )
    sha: Sha | None = Field(default=None, description="The commit deployed (head).")
    commit_shas: list[Sha] = Field(
        default_factory=list,
        validation_alias=AliasChoices("commit_shas", "shas"),
        description="Commits this deployment shipped, newest first (for lead time); in CSV "
        "separated by spaces, commas or semicolons. Also accepted as `shas`.",
        max_length=5000,
    )
    repo: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Repository, e.g. 'acme/checkout-service'."
    )
    ref: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Branch or tag deployed."
    )
    url: Url | None = Field(default=None, description="Link to the pipeline or deployment.")
    tool: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="The CI/CD tool, e.g. 'argo' or 'spinnaker'."
    )
    is_rollback: bool = Field(default=False, description="This deployment rolled back a change.")
    is_hotfix: bool = Field(default=False, description="This deployment shipped a hotfix.")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return _normalize(value, DEPLOYMENT_STATUSES, "status")

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()
            return ENVIRONMENT_ALIASES.get(key, key) or None
        return value

    @field_validator("commit_shas", mode="before")
    @classmethod
    def _split_shas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in _SPLIT.split(value) if part]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentIn:
        if self.status in ("success", "failure") and self.finished_at is None:
            raise ValueError(f"finished_at is required when status is {self.status}")
        _ordered(self.started_at, "started_at", self.finished_at, "finished_at")
        return self

    @property
    def shipped_shas(self) -> list[str]:
        """Every commit shipped: `sha` first, then `commit_shas`, without repeats."""
        return list(dict.fromkeys(([self.sha] if self.sha else []) + self.commit_shas))


class IncidentIn(_Shape):
    """One incident, as an incident tool without a connector reports it."""

    id: Id = Field(description="Your id for this incident; re-sending it updates the row.")
    key: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Short display key, e.g. 'INC-42' (default: the id)."
    )
    service: Name | None = Field(default=None, description="Service affected.")
    team: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="Owning team key, e.g. 'PAY'."
    )
    title: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="What happened."
    )
    severity: str | None = Field(
        default=None,
        description="SEV-1 … SEV-5 (also accepted: sev1, 1, P1, critical, high, medium, low).",
    )
    urgency: Literal["high", "low"] | None = Field(default=None, description="high or low.")
    status: str = Field(
        description="triggered, acknowledged or resolved "
        "(also accepted: open, investigating, mitigated, closed, …)."
    )
    triggered_at: AwareDatetime = Field(description="ISO 8601 with a time zone.")
    acknowledged_at: AwareDatetime | None = Field(default=None, description="First response.")
    resolved_at: AwareDatetime | None = Field(
        default=None, description="Required when status is resolved."
    )
    assignee: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Who handles it (e-mail or handle)."
    )
    deployment_id: Id | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "deployment_id", "linked_deployment_id", "caused_by_deployment"
        ),
        description="Id of the deployment that caused it (as sent to the deployments "
        "endpoint). Also accepted as `linked_deployment_id`.",
    )
    postmortem_url: Url | None = Field(default=None, description="Link to the postmortem.")
    url: Url | None = Field(default=None, description="Link to the incident.")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return _normalize(value, INCIDENT_STATUSES, "status")

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        text = str(value).strip().lower()
        match = _SEVERITY.match(text)
        level = int(match.group(1)) if match else SEVERITY_WORDS.get(text)
        if level is None:
            raise ValueError(f"unknown severity {value!r} (use SEV-1 … SEV-5)")
        return f"SEV-{level}"

    @field_validator("urgency", mode="before")
    @classmethod
    def _urgency(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> IncidentIn:
        if self.status == "resolved" and self.resolved_at is None:
            raise ValueError("resolved_at is required when status is resolved")
        _ordered(self.triggered_at, "triggered_at", self.acknowledged_at, "acknowledged_at")
        _ordered(self.triggered_at, "triggered_at", self.resolved_at, "resolved_at")
        return self

    @property
    def display_key(self) -> str:
        """The key shown in the product."""
        return self.key or self.id


SHAPES: dict[Kind, type[DeploymentIn] | type[IncidentIn]] = {
    "deployments": DeploymentIn,
    "incidents": IncidentIn,
}
#: Tables whose rows of one item are replaced as a whole on re-import (child rows).
CHILD_TABLES: dict[Kind, str] = {"deployments": "deployment_change", "incidents": "incident_event"}
TABLES: dict[Kind, tuple[str, ...]] = {
    "deployments": ("deployment", "deployment_change"),
    "incidents": ("incident", "incident_event"),
}


def _ordered(
    first: datetime | None, first_name: str, then: datetime | None, then_name: str
) -> None:
    if first is not None and then is not None and then < first:
        raise ValueError(f"{then_name} is before {first_name}")


def deployment_records(item: DeploymentIn, *, source: str) -> list[Record]:
    """The deployment row and one deployment_change row per shipped commit."""
    shas = item.shipped_shas
    records = [
        Record(
            "deployment",
            {
                "source": source,
                "source_id": item.id,
                "service": item.service,
                "repo": item.repo,
                "environment": item.environment,
                "sha": shas[0] if shas else None,
                "ref": item.ref,
                "started_at": item.started_at,
                "finished_at": item.finished_at,
                "status": item.status,
                "tool": item.tool or "generic",
                "is_rollback": item.is_rollback,
                "is_hotfix": item.is_hotfix,
                "url": item.url,
            },
        )
    ]
    for sha in shas:
        records.append(
            Record(
                "deployment_change",
                {
                    "source": source,
                    "source_id": f"{item.id}@{sha}",
                    "deployment_source_id": item.id,
                    "repo": item.repo,
                    "sha": sha,
                },
            )
        )
    return records


def incident_records(item: IncidentIn, *, source: str) -> list[Record]:
    """The incident row and its timeline (trigger, acknowledge, resolve) from the timestamps."""
    key = item.display_key
    records = [
        Record(
            "incident",
            {
                "source": source,
                "source_id": item.id,
                "key": key,
                "service": item.service,
                "team_key": item.team,
                "title": item.title,
                "severity": item.severity,
                "urgency": item.urgency,
                "status": item.status,
                "triggered_at": item.triggered_at,
                "acknowledged_at": item.acknowledged_at,
                "resolved_at": item.resolved_at,
                "assignee": item.assignee,
                "caused_by_deployment": item.deployment_id,
                "postmortem_url": item.postmortem_url,
                "url": item.url,
            },
        )
    ]
    steps = (
        ("trigger", item.triggered_at, None),
        ("acknowledge", item.acknowledged_at, item.assignee),
        ("resolve", item.resolved_at, None),
    )
    for kind, at, actor in steps:
        if at is not None:
            records.append(
                Record(
                    "incident_event",
                    {
                        "source": source,
                        "source_id": f"{item.id}:{kind}",
                        "incident_key": key,
                        "at": at,
                        "kind": kind,
                        "actor": actor,
                        "summary": None,
                    },
                )
            )
    return records


def records_for(kind: Kind, item: DeploymentIn | IncidentIn, *, source: str) -> list[Record]:
    """The domain records of one validated item."""
    if kind == "deployments":
        assert isinstance(item, DeploymentIn)
        return deployment_records(item, source=source)
    assert isinstance(item, IncidentIn)
    return incident_records(item, source=source)


__all__ = [
    "CHILD_TABLES",
    "KINDS",
    "SHAPES",
    "TABLES",
    "DeploymentIn",
    "IncidentIn",
    "Kind",
    "deployment_records",
    "incident_records",
    "records_for",
]
