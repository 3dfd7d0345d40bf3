"""The `[watch]` section of cto.toml: rule thresholds and notifiers, validated here.

    [watch]
    base_url = "https://cto.example.com"          # links in Slack / e-mail / webhook messages

    [watch.rules.cost_anomaly]
    min_impact = 1000                              # USD over the anomaly's window

    [watch.rules.epic_slip]
    enabled = true                                 # opt-in: see `EpicSlipRule`

    [watch.slack]
    webhook_url_env = "CTO_SLACK_WEBHOOK_URL"      # or webhook_url = "https://hooks.slack.com/…"

    [watch.email]
    host = "smtp.example.com"
    sender = "cto-assistant@example.com"
    to = ["cto@example.com"]
    password_env = "CTO_SMTP_PASSWORD"

    [watch.webhook]
    url = "https://hooks.example.com/cto"

Every threshold has a default chosen so that a healthy company hears nothing and the demo world
hears exactly its storylines; each default states its reason in its description.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cto_assistant.errors import ConfigError
from cto_assistant.settings import Settings

Severity = str  # "info" | "warning" | "critical"
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleConfig(_Section):
    """What every rule has: an on/off switch."""

    enabled: bool = Field(default=True, description="Evaluate this rule after every sync.")


class CostAnomalyRule(RuleConfig):
    """Cost anomaly above an impact threshold."""

    days: int = Field(default=14, ge=1, le=90, description="Look-back of the anomaly detector.")
    min_impact: float = Field(
        default=1000.0,
        ge=0,
        description="Alert when an anomaly costs at least this much above expected (USD). Below "
        "~$1,000 the engineer-hours spent chasing it cost more than the leak.",
    )
    critical_impact: float = Field(
        default=5000.0, ge=0, description="Impact from which the alert is critical (USD)."
    )


class BudgetRule(RuleConfig):
    """Month-end projection over budget."""

    min_overrun_pct: float = Field(
        default=0.0, ge=0, description="Alert when the projection exceeds the budget by this much."
    )
    critical_overrun_pct: float = Field(
        default=0.10, ge=0, description="Overrun (fraction of budget) from which it is critical."
    )


class SloBurnRule(RuleConfig):
    """SLO multi-window burn-rate alerts (page → critical, ticket → warning)."""

    ticket: bool = Field(default=True, description="Also alert on slow (ticket) burns.")


class KevRule(RuleConfig):
    """Open critical vulnerability in production that CISA KEV lists as exploited."""

    severities: list[str] = Field(
        default_factory=lambda: ["critical"], description="Vulnerability severities to watch."
    )
    environments: list[str] = Field(
        default_factory=lambda: ["production"], description="Environments to watch."
    )


class SlaBreachRule(RuleConfig):
    """Remediation SLA breach, alerted when it happens (not for the whole backlog)."""

    min_severity: str = Field(
        default="critical", description="Lowest vulnerability severity that alerts on breach."
    )
    new_within_hours: float = Field(
        default=24.0,
        gt=0,
        description="Open an alert for breaches that happened within this many hours; older "
        "breaches are the backlog the weekly report covers (an alert stays open while the "
        "breach lasts).",
    )


class ChangeFailureRule(RuleConfig):
    """A team's change failure rate jumped, beyond chance."""

    days: int = Field(default=30, ge=7, le=180, description="DORA window (and the one before).")
    min_jump: float = Field(
        default=0.10, ge=0, description="Smallest rise (absolute, e.g. 0.10 = 10 points)."
    )
    min_deployments: int = Field(
        default=10, ge=1, description="Deployments needed in each window to judge a change."
    )
    min_z: float = Field(
        default=1.96,
        ge=0,
        description="Two-proportion z-score the rise must reach (1.96 = 95% confidence): with "
        "20 deploys a team's rate moves 10+ points by chance alone.",
    )


class SprintRule(RuleConfig):
    """An active sprint behind its plan late enough that the plan means something."""

    enabled: bool = Field(
        default=False,
        description="Opt-in: most sprints trail the ideal burndown until their last days, so "
        "at the CTO level this is noise; sprint health is on the Sprint widget and in the "
        "weekly brief. Team leads turn it on for their own channel.",
    )

    min_elapsed: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Fraction of the sprint that must have passed: early-sprint burndowns are "
        "flat by nature.",
    )


class EpicSlipRule(RuleConfig):
    """An epic's forecast (P50) past its due date."""

    enabled: bool = Field(
        default=False,
        description="Opt-in: epic forecasts are planning signals that move daily with Monte "
        "Carlo noise; by default they go to the weekly brief's 'decisions needed'.",
    )
    horizon_days: int = Field(
        default=60, ge=1, description="Only epics due within this many days (or overdue)."
    )
    min_slip_days: int = Field(default=7, ge=0, description="P50 must pass the due date by this.")


class IncidentAckRule(RuleConfig):
    """A high-severity incident open without acknowledgement for too long."""

    severities: list[str] = Field(
        default_factory=lambda: ["SEV-1", "SEV-2"], description="Incident severities to watch."
    )
    max_unacknowledged_minutes: float = Field(
        default=15.0, gt=0, description="Minutes an incident may stay unacknowledged."
    )


class LeaverRule(RuleConfig):
    """A person who left still holds privileged access."""


class SourceHealthRule(RuleConfig):
    """A data source failing, or stale beyond a threshold."""

    stale_after_hours: float = Field(
        default=24.0, gt=0, description="Age of a source's data that counts as stale."
    )


class Rules(_Section):
    """Per-rule settings, `[watch.rules.<rule>]`."""

    cost_anomaly: CostAnomalyRule = Field(default_factory=CostAnomalyRule)
    budget_projection: BudgetRule = Field(default_factory=BudgetRule)
    slo_burn: SloBurnRule = Field(default_factory=SloBurnRule)
    kev_in_production: KevRule = Field(default_factory=KevRule)
    remediation_sla: SlaBreachRule = Field(default_factory=SlaBreachRule)
    change_failure_jump: ChangeFailureRule = Field(default_factory=ChangeFailureRule)
    sprint_at_risk: SprintRule = Field(default_factory=SprintRule)
    epic_slip: EpicSlipRule = Field(default_factory=EpicSlipRule)
    incident_unacknowledged: IncidentAckRule = Field(default_factory=IncidentAckRule)
    privileged_leaver: LeaverRule = Field(default_factory=LeaverRule)
    source_health: SourceHealthRule = Field(default_factory=SourceHealthRule)


def _secret(value: SecretStr | None, env: str | None) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if env:
        return os.environ.get(env) or None
    return None


class Delivery(_Section):
    """Retry policy shared by the outbound notifiers."""

    attempts: int = Field(default=3, ge=1, le=10, description="Tries per message.")
    backoff_seconds: float = Field(
        default=0.5, ge=0, description="Wait before the 2nd try; doubles after each failure."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="Per-attempt timeout.")


class SlackConfig(_Section):
    """Slack incoming webhook."""

    webhook_url: SecretStr | None = Field(default=None, description="Incoming-webhook URL.")
    webhook_url_env: str | None = Field(default=None, description="Env var holding the URL.")
    min_severity: str = Field(default="warning", description="Lowest severity sent.")

    def url(self) -> str | None:
        """The webhook URL, from the config or the environment."""
        return _secret(self.webhook_url, self.webhook_url_env)


class EmailConfig(_Section):
    """SMTP e-mail (alerts and reports)."""

    host: str | None = Field(default=None, description="SMTP server; unset = no e-mail.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    starttls: bool = Field(default=True, description="Upgrade with STARTTLS when offered.")
    username: str | None = Field(default=None, description="SMTP login, if required.")
    password: SecretStr | None = Field(default=None, description="SMTP password.")
    password_env: str | None = Field(default=None, description="Env var holding the password.")
    sender: str = Field(default="cto-assistant@localhost", description="From address.")
    to: list[str] = Field(default_factory=list, description="Recipients.")
    min_severity: str = Field(default="critical", description="Lowest alert severity mailed.")

    def secret(self) -> str | None:
        """The SMTP password, from the config or the environment."""
        return _secret(self.password, self.password_env)


class WebhookConfig(_Section):
    """Generic JSON webhook."""

    url: SecretStr | None = Field(default=None, description="URL that receives a JSON POST.")
    url_env: str | None = Field(default=None, description="Env var holding the URL.")
    signing_secret: SecretStr | None = Field(
        default=None, description="If set, the body's HMAC-SHA256 goes in X-CTO-Signature."
    )
    min_severity: str = Field(default="info", description="Lowest severity sent.")

    def target(self) -> str | None:
        """The webhook URL, from the config or the environment."""
        return _secret(self.url, self.url_env)


class WatchConfig(_Section):
    """The whole `[watch]` section."""

    enabled: bool = Field(default=True, description="Evaluate rules after every sync.")
    base_url: str | None = Field(
        default=None, description="Public URL of the web UI for links; default host:port."
    )
    rules: Rules = Field(default_factory=Rules)
    delivery: Delivery = Field(default_factory=Delivery)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    weekly_report: dict[str, Any] = Field(
        default_factory=dict,
        description="When the weekly brief is written (validated by "
        "`cto_assistant.reports.schedule.WeeklyReportConfig`).",
    )


def watch_config(settings: Settings) -> WatchConfig:
    """Validate `settings.watch`; a bad key or value is one `ConfigError` naming it."""
    raw: dict[str, Any] = dict(getattr(settings, "watch", None) or {})
    try:
        return WatchConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"watch.{where}", first["msg"]) from None


def link_base(settings: Settings, config: WatchConfig) -> str:
    """Where links in messages point: the configured base URL or the local server."""
    if config.base_url:
        return config.base_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"
