"""What the three CI/CD connectors share: deploy-recognition settings and a safe `check()`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator

from cto_assistant.connectors.base import CheckResult, ConnectorConfig, Stream
from cto_assistant.connectors.cicd.mapping import DeployRules
from cto_assistant.errors import ConnectorError

DEPLOYMENTS = Stream(
    "deployments",
    tables=("deployment", "deployment_change"),
    incremental=True,
    description="Deployments with their environment, status and the commits they shipped.",
)


class CICDConfig(ConnectorConfig):
    """Settings every CI/CD connector has: how environments, rollbacks and hotfixes are named."""

    production_environments: list[str] = Field(
        default_factory=lambda: ["production", "prod"],
        description="Environment names (case-insensitive) that count as production.",
    )
    staging_environments: list[str] = Field(
        default_factory=lambda: ["staging", "stage"],
        description="Environment names (case-insensitive) that count as staging.",
    )
    rollback_pattern: str = Field(
        default=r"(?i)rollback", description="Regex on job/workflow names marking a rollback."
    )
    hotfix_pattern: str = Field(
        default=r"(?i)hotfix", description="Regex on the deployed ref marking a hotfix."
    )
    services: dict[str, str] = Field(
        default_factory=dict,
        description="Project / job / slug → service name (default: the repository's name).",
    )

    @field_validator("rollback_pattern", "hotfix_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        re.compile(value)
        return value

    def rules(self) -> DeployRules:
        """The deploy-recognition rules these settings describe."""
        return DeployRules(
            production_environments=tuple(self.production_environments),
            staging_environments=tuple(self.staging_environments),
            rollback_pattern=self.rollback_pattern,
            hotfix_pattern=self.hotfix_pattern,
        )

    def service_for(self, key: str, repo: str | None = None) -> str:
        """The service a project / job / slug deploys: configured, else the repo's last segment."""
        if key in self.services:
            return self.services[key]
        return (repo or key).rstrip("/").rsplit("/", 1)[-1]


def probe(capability: str, call: Callable[[], Any]) -> CheckResult:
    """Run one read-only call and report it as a CheckResult."""
    try:
        call()
    except ConnectorError as exc:
        return CheckResult(capability, ok=False, detail=str(exc))
    return CheckResult(capability, ok=True)
