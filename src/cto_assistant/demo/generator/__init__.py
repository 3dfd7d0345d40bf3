"""The Acme Cloud generator: one module per domain, assembled into a `World` by `producers`.

Timestamps leave the generator at the precision the vendor APIs carry, so world → simulator →
connector → store gives back the same values: whole seconds for Jira (its changelog and JQL
speak seconds), Datadog hosts (`last_reported_time` is epoch seconds) and access grants (IAM
and the code hosts report seconds), whole milliseconds everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from cto_assistant.demo.generator import (
    costs,
    delivery,
    org,
    planning,
    quality,
    reliability,
    security,
)
from cto_assistant.demo.generator.common import GITHUB_ORG, Ctx, Row, Scale

Producer = Callable[[], Iterable[Row]]

WHOLE_SECONDS_TABLES = frozenset(
    {"sprint", "epic", "ticket", "ticket_transition", "host_health", "access_grant"}
)
NO_TIMESTAMP_TABLES = frozenset({"cost_daily", "budget", "cost_anomaly", "dependency"})


def truncate(row: Row, step_us: int) -> Row:
    """Cut every datetime of `row` down to a multiple of `step_us` microseconds (in place)."""
    for name, value in row.items():
        if isinstance(value, datetime) and value.microsecond % step_us:
            row[name] = value.replace(microsecond=value.microsecond - value.microsecond % step_us)
    return row


def _at_vendor_precision(table: str, producer: Producer) -> Producer:
    """A producer whose rows carry timestamps at the precision the table's vendor API has."""
    if table in NO_TIMESTAMP_TABLES:
        return producer
    step_us = 1_000_000 if table in WHOLE_SECONDS_TABLES else 1_000

    def rows() -> Iterator[Row]:
        for row in producer():
            yield truncate(row, step_us)

    return rows


def producers(ctx: Ctx) -> dict[str, Producer]:
    """One lazy row producer per store table."""

    def table(module: Any, name: str) -> Producer:
        return lambda: module.rows(ctx, name)

    def call(function: Callable[[Ctx], Iterable[Row]]) -> Producer:
        return lambda: function(ctx)

    found: dict[str, Producer] = {
        "team": call(org.team_rows),
        "person": call(org.person_rows),
        "service": call(org.service_rows),
        "repository": call(org.repository_rows),
        "quality_snapshot": call(quality.quality_rows),
        "cost_daily": call(costs.cost_rows),
        "budget": call(costs.budget_rows),
        "cost_anomaly": call(costs.anomaly_rows),
        "cost_forecast": call(costs.forecast_rows),
        "cost_recommendation": call(costs.recommendation_rows),
        "slo": call(reliability.slo_rows),
        "sli_point": call(reliability.sli_rows),
        "incident": call(reliability.incident_rows),
        "incident_event": call(reliability.incident_event_rows),
        "oncall_shift": call(reliability.oncall_rows),
        "monitor": call(reliability.monitor_rows),
        "host_health": call(reliability.host_rows),
    }
    for name in ("pull_request", "review", "commit", "deployment", "deployment_change"):
        found[name] = table(delivery, name)
    for name in ("sprint", "epic", "ticket", "ticket_transition"):
        found[name] = table(planning, name)
    for name in (
        "dependency",
        "vulnerability",
        "advisory",
        "access_grant",
        "control",
        "control_evidence",
    ):
        found[name] = table(security, name)
    return {name: _at_vendor_precision(name, producer) for name, producer in found.items()}


def extras(ctx: Ctx) -> dict[str, Any]:
    """Vendor-only facts the simulators need (documented in `cto_assistant.demo.world`)."""
    teams = ctx.org.teams
    return {
        "now": ctx.now,
        "jira": {
            "site": "https://acme.atlassian.net",
            "story_points_field": "customfield_10016",
            "sprint_field": "customfield_10020",
            "epic_link": "parent",
            "projects": [
                {
                    "id": team.jira_project_id,
                    "key": team.key,
                    "name": team.name,
                    "lead_email": team.lead_email,
                }
                for team in teams
            ],
            "boards": [
                {
                    "id": team.jira_board_id,
                    "name": planning.board_name(team),
                    "type": "scrum",
                    "project": team.key,
                    "team_key": team.key,
                }
                for team in teams
            ],
            "statuses": dict(planning.STATUS_CATEGORY),
        },
        "github": {
            "org": GITHUB_ORG,
            "repo_ids": {repo.full_name: repo.github_id for repo in ctx.org.repos},
        },
        "sonarqube": {
            "projects": [
                {
                    "key": quality.project_key(repo.full_name),
                    "name": repo.name,
                    "repo": repo.full_name,
                }
                for repo in ctx.org.repos
            ],
        },
        "snyk": {
            "org_id": "8f0e6a3c-6f0b-4c59-9a61-acme00000001",
            "projects": [
                {"id": str(repo.github_id), "name": repo.full_name, "repo": repo.full_name}
                for repo in ctx.org.repos
                if repo.index % 4 != 3
            ],
        },
        "pagerduty": {
            "subdomain": "acme",
            "schedules": [
                {
                    "id": schedule,
                    "name": f"{team.name} {label}",
                    "team_key": team.key,
                    "level": level,
                }
                for team in teams
                for level, label, schedule in (
                    (1, "Primary", team.pd_primary),
                    (2, "Secondary", team.pd_secondary),
                )
            ],
            "escalation_policies": [
                {
                    "id": f"E{team.pd_primary[1:]}",
                    "name": f"{team.name} escalation",
                    "team_key": team.key,
                    "levels": [team.pd_primary, team.pd_secondary],
                }
                for team in teams
            ],
        },
        "datadog": {"site": "datadoghq.com", "env": "production"},
        "ci": {
            "deploy_tool_by_team": {team.key: team.deploy_tool for team in teams},
        },
        "aws": {
            "accounts": [dict(account) for account in costs.AWS_ACCOUNTS],
            "payer_account": costs.AWS_ACCOUNTS[0]["id"],
        },
        "gcp": {"projects": list(costs.GCP_PROJECTS), "billing_account": "01A2B3-C4D5E6-F7A8B9"},
        "azure": {"subscriptions": list(costs.AZURE_SUBSCRIPTIONS)},
        "storylines": {
            "elite_team": next(team.key for team in teams if team.profile == "elite"),
            "medium_team": next(team.key for team in teams if team.profile == "medium"),
            "slipping_epic": planning.SLIPPING_EPIC,
            "active_incident_service": delivery.ACTIVE_INCIDENT_SERVICE,
            "fast_burn_service": reliability.FAST_BURN_SERVICE,
            "departed_admin": ctx.org.departed_admin,
            "admins_without_mfa": list(ctx.org.admins_without_mfa),
            "cost_driver": {
                "service": costs.S3,
                "region": costs.PLANTED_REGION,
                "project": costs.PLANTED_PROJECT,
            },
            "failing_quality_gates": list(quality.FAILING_GATE_REPOS),
        },
    }


def build_ctx(*, seed: int, today: date, scale: Scale) -> Ctx:
    """The build context: the org skeleton plus an empty memo."""
    return Ctx(seed=seed, today=today, scale=scale, org=org.build_org(seed, today, scale))
