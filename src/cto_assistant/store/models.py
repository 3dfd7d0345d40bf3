"""The domain model: every table of the store (DESIGN.md §3).

Conventions
- Rows that came from a vendor carry `source` (the configured source name, e.g. "jira") and
  `source_id` (the vendor's id); `(source, source_id)` is unique and is the upsert key, so a
  re-sync never duplicates.
- References between vendor rows use natural keys (team key, service name, repository full name,
  person email or vendor handle), not surrogate ids: streams can land in any order and a row never
  waits for its parent. Analytics join on these keys.
- Every timestamp is an aware UTC datetime (`UTCDateTime`); dates are plain `Date`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from cto_assistant.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so migrations diff cleanly)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Sourced:
    """Mixin for rows that came from a vendor: upserts are keyed on (source, source_id)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(255))
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("source", "source_id", name=f"uq_{cls.__tablename__}_source"),)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------- org


class Team(Sourced, Base):
    __tablename__ = "team"
    key: Mapped[str] = mapped_column(String(32), index=True)  # PLAT, PAY, …
    name: Mapped[str] = mapped_column(String(128))
    jira_project: Mapped[str | None] = mapped_column(String(32))
    lead_email: Mapped[str | None] = mapped_column(String(255))
    slack_channel: Mapped[str | None] = mapped_column(String(128))
    pagerduty_schedule: Mapped[str | None] = mapped_column(String(128))


class Person(Sourced, Base):
    __tablename__ = "person"
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255), index=True)
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[date | None] = mapped_column(Date)
    left_at: Mapped[date | None] = mapped_column(Date)
    github_login: Mapped[str | None] = mapped_column(String(128), index=True)
    jira_account_id: Mapped[str | None] = mapped_column(String(128))
    pagerduty_id: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))


class Service(Sourced, Base):
    __tablename__ = "service"
    name: Mapped[str] = mapped_column(String(128), index=True)
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    tier: Mapped[int | None] = mapped_column(Integer)
    repo: Mapped[str | None] = mapped_column(String(255))  # repository full_name
    environments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    internet_facing: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)


class Repository(Sourced, Base):
    __tablename__ = "repository"
    provider: Mapped[str] = mapped_column(String(32))  # github, gitlab
    full_name: Mapped[str] = mapped_column(String(255), index=True)
    default_branch: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(128))
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    branch_protected: Mapped[bool | None] = mapped_column(Boolean)
    required_reviews: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(64))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(String(512))


# ---------------------------------------------------------------------------------- delivery


class PullRequest(Sourced, Base):
    __tablename__ = "pull_request"
    repo: Mapped[str] = mapped_column(String(255), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(128))  # vendor login
    state: Mapped[str] = mapped_column(String(16))  # open, merged, closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_commit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merge_commit_sha: Mapped[str | None] = mapped_column(String(64), index=True)
    base_branch: Mapped[str | None] = mapped_column(String(255))
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    changed_files: Mapped[int | None] = mapped_column(Integer)
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(String(512))

    # lead time joins deployment_change → pull_request on (repo, number)
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_pull_request_source"),
        Index("ix_pull_request_repo_number", "repo", "number"),
    )


class Review(Sourced, Base):
    __tablename__ = "review"
    repo: Mapped[str] = mapped_column(String(255), index=True)
    pr_number: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32))  # APPROVED, CHANGES_REQUESTED, COMMENTED
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class Commit(Sourced, Base):
    __tablename__ = "commit"
    sha: Mapped[str] = mapped_column(String(64), index=True)
    repo: Mapped[str] = mapped_column(String(255), index=True)
    author: Mapped[str | None] = mapped_column(String(128))
    authored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pr_number: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)


class Deployment(Sourced, Base):
    __tablename__ = "deployment"
    service: Mapped[str | None] = mapped_column(String(128), index=True)
    repo: Mapped[str | None] = mapped_column(String(255))
    environment: Mapped[str | None] = mapped_column(String(64))  # production, staging, None
    sha: Mapped[str | None] = mapped_column(String(64))
    ref: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(32))  # success, failure, in_progress, cancelled
    tool: Mapped[str | None] = mapped_column(String(32))  # github_actions, gitlab, jenkins, …
    is_rollback: Mapped[bool] = mapped_column(Boolean, default=False)
    is_hotfix: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_deployment_source"),
        # the latest deploy per (service, environment): a loose index scan, one hop per pair
        Index("ix_deployment_service_env_status_finished", "service", "environment", "status",
              "finished_at"),
        Index("ix_deployment_synced_at", "synced_at"),  # freshness of the deployment data
    )  # fmt: skip


class DeploymentChange(Sourced, Base):
    """Which commits (and PRs) a deployment carried, for lead time."""

    __tablename__ = "deployment_change"
    deployment_source_id: Mapped[str] = mapped_column(String(255), index=True)
    repo: Mapped[str | None] = mapped_column(String(255))
    sha: Mapped[str] = mapped_column(String(64))
    pr_number: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_deployment_change_source"),
        # the deployments whose lead-time facts a commit or a PR write makes stale
        Index("ix_deployment_change_sha", "sha"),
        Index("ix_deployment_change_repo_pr_number", "repo", "pr_number"),
    )


class LeadTimeChange(Base):
    """A change (a PR, or a commit without one) as a deployment carried it, with what lead
    time needs of its commits and PR: derived from deployment_change, commit and pull_request
    by `store/lead_time_facts.py`, so the DORA query reads this table alone."""

    __tablename__ = "lead_time_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_source_id: Mapped[str] = mapped_column(String(255))
    repo: Mapped[str | None] = mapped_column(String(255))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    sha: Mapped[str] = mapped_column(String(64))  # the change's first
    first_commit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    own_commits: Mapped[int] = mapped_column(Integer)
    pr_first_commit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pr_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pr_first_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pr_merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # a deployment's changes with their facts, from the index alone
        Index("ix_lead_time_change_deployment", "deployment_source_id", "repo", "pr_number",
              "sha", "first_commit_at", "own_commits", "pr_first_commit_at", "pr_created_at",
              "pr_first_review_at", "pr_merged_at"),
    )  # fmt: skip


class LeadTimeStale(Base):
    """A deployment whose lead-time facts are stale: read live until they are recomputed."""

    __tablename__ = "lead_time_stale"
    deployment_source_id: Mapped[str] = mapped_column(String(255), primary_key=True)


# ---------------------------------------------------------------------------------- planning


class Sprint(Sourced, Base):
    __tablename__ = "sprint"
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    board: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    goal: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # future, active, closed
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Epic(Sourced, Base):
    __tablename__ = "epic"
    key: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    team_key: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(64))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Ticket(Sourced, Base):
    __tablename__ = "ticket"
    key: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(64))
    status_category: Mapped[str | None] = mapped_column(String(16))  # new, indeterminate, done
    priority: Mapped[str | None] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(255))  # account id or email
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    project: Mapped[str | None] = mapped_column(String(32))
    epic_key: Mapped[str | None] = mapped_column(String(64), index=True)
    sprint_source_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    story_points: Mapped[float | None] = mapped_column(Float)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_date: Mapped[date | None] = mapped_column(Date)


class TicketTransition(Sourced, Base):
    __tablename__ = "ticket_transition"
    ticket_key: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(32), default="status")  # status, Sprint, points
    from_value: Mapped[str | None] = mapped_column(String(255))
    to_value: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(255))


# ----------------------------------------------------------------------------------- quality


class QualitySnapshot(Sourced, Base):
    __tablename__ = "quality_snapshot"
    repo: Mapped[str] = mapped_column(String(255), index=True)  # repo full_name or project key
    project_key: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    coverage: Mapped[float | None] = mapped_column(Float)
    tech_debt_minutes: Mapped[float | None] = mapped_column(Float)
    code_smells: Mapped[int | None] = mapped_column(Integer)
    bugs: Mapped[int | None] = mapped_column(Integer)
    vulnerabilities: Mapped[int | None] = mapped_column(Integer)
    duplicated_lines_density: Mapped[float | None] = mapped_column(Float)
    ncloc: Mapped[int | None] = mapped_column(Integer)
    quality_gate: Mapped[str | None] = mapped_column(String(16))  # OK, WARN, ERROR


# ---------------------------------------------------------------------------------- security


class Vulnerability(Sourced, Base):
    __tablename__ = "vulnerability"
    scanner: Mapped[str] = mapped_column(String(32))  # snyk, dependabot, code_scanning
    external_id: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    repo: Mapped[str | None] = mapped_column(String(255), index=True)
    service: Mapped[str | None] = mapped_column(String(128), index=True)
    environment: Mapped[str | None] = mapped_column(String(64))
    ecosystem: Mapped[str | None] = mapped_column(String(32))
    package: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(128))
    fixed_version: Mapped[str | None] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))  # critical, high, medium, low
    cvss: Mapped[float | None] = mapped_column(Float)
    cvss_vector: Mapped[str | None] = mapped_column(String(255))
    cve_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cwe_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    epss: Mapped[float | None] = mapped_column(Float)
    in_kev: Mapped[bool] = mapped_column(Boolean, default=False)
    exploit_maturity: Mapped[str | None] = mapped_column(String(32))  # none, poc, mature, …
    fixable: Mapped[bool | None] = mapped_column(Boolean)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # open, fixed, dismissed, ignored
    url: Mapped[str | None] = mapped_column(String(512))


class Advisory(Sourced, Base):
    __tablename__ = "advisory"
    feed: Mapped[str] = mapped_column(String(32))  # kev, osv, ghsa
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    modified: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cve_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    affected: Mapped[list[Any]] = mapped_column(
        JSON, default=list
    )  # [{ecosystem, package, ranges}]
    vendor_project: Mapped[str | None] = mapped_column(String(255))
    product: Mapped[str | None] = mapped_column(String(255))
    kev: Mapped[bool] = mapped_column(Boolean, default=False)
    epss: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str | None] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(512))


class Dependency(Sourced, Base):
    """The stack inventory: one package version used by one repository."""

    __tablename__ = "dependency"
    repo: Mapped[str] = mapped_column(String(255), index=True)
    ecosystem: Mapped[str] = mapped_column(String(32))
    package: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str | None] = mapped_column(String(128))
    direct: Mapped[bool | None] = mapped_column(Boolean)


class Control(Sourced, Base):
    __tablename__ = "control"
    framework: Mapped[str] = mapped_column(String(32))  # soc2, iso27001
    control_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    check: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str | None] = mapped_column(String(16))  # passing, failing, no_evidence
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ControlEvidence(Sourced, Base):
    __tablename__ = "control_evidence"
    framework: Mapped[str] = mapped_column(String(32))
    control_id: Mapped[str] = mapped_column(String(32), index=True)
    check: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # pass, fail
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessGrant(Sourced, Base):
    __tablename__ = "access_grant"
    system: Mapped[str] = mapped_column(String(64), index=True)  # aws, github, postgres:prod, …
    principal: Mapped[str] = mapped_column(String(255))
    principal_type: Mapped[str | None] = mapped_column(String(32))  # user, role, service, shared
    person_email: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(128))
    privileged: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa: Mapped[bool | None] = mapped_column(Boolean)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    key_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -------------------------------------------------------------------------------- operations


class CostDaily(Sourced, Base):
    """Daily cost rolled up from whatever the source gives (CE, FOCUS, CUR)."""

    __tablename__ = "cost_daily"
    day: Mapped[date] = mapped_column(Date)
    provider: Mapped[str] = mapped_column(String(32))  # aws, gcp, azure, oci
    account: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(64))
    usage_type: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    team: Mapped[str | None] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(128))
    amortized_cost: Mapped[float] = mapped_column(Float)
    unblended_cost: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    import_batch: Mapped[str | None] = mapped_column(String(128), index=True)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_cost_daily_source"),
        Index("ix_cost_daily_day_provider", "day", "provider"),
        # Covering the per-day totals of a month (charts, projections) without the wide rows.
        Index(
            "ix_cost_daily_day_costs",
            "day",
            "provider",
            "team",
            "amortized_cost",
            "unblended_cost",
        ),
    )


class CostRollup(Base):
    """`cost_daily` summed per month or ISO week and slice key, rebuilt after cost writes."""

    __tablename__ = "cost_rollup"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grain: Mapped[str] = mapped_column(String(8))  # month, week
    period_start: Mapped[date] = mapped_column(Date)  # 1st of the month / Monday of the week
    provider: Mapped[str | None] = mapped_column(String(32))
    account: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(64))
    usage_type: Mapped[str | None] = mapped_column(String(255))
    team: Mapped[str | None] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[str | None] = mapped_column(Text)  # the JSON text of cost_daily.tags
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    amortized_cost: Mapped[float] = mapped_column(Float)
    unblended_cost: Mapped[float] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_cost_rollup_grain_period", "grain", "period_start"),)


class StoreState(Base):
    """Named counters of the store: the data version, the cost_daily id the rollup covers."""

    __tablename__ = "store_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ToolAnswer(Base):
    """The newest answer of one dashboard tool call, shared by every process on this store.

    Keyed on a hash of (tool, arguments, settings, security): a web process that starts, or one
    that did not compute an answer, reads it here instead of computing it (tools/cache.py).
    """

    __tablename__ = "tool_answer"
    call_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64))
    data_version: Mapped[int] = mapped_column(Integer)
    computed_for: Mapped[datetime] = mapped_column(UTCDateTime())  # the answer's `now`
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    result: Mapped[str] = mapped_column(Text)  # the ToolResult as JSON


class Budget(Sourced, Base):
    __tablename__ = "budget"
    name: Mapped[str] = mapped_column(String(255))
    period: Mapped[str] = mapped_column(String(16), default="monthly")
    amount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {} = whole company


class CostAnomaly(Sourced, Base):
    __tablename__ = "cost_anomaly"
    detector: Mapped[str] = mapped_column(String(32))  # aws, ours
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date | None] = mapped_column(Date)
    dimension: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expected: Mapped[float | None] = mapped_column(Float)
    actual: Mapped[float | None] = mapped_column(Float)
    impact: Mapped[float | None] = mapped_column(Float)
    root_causes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class CostRecommendation(Sourced, Base):
    __tablename__ = "cost_recommendation"
    kind: Mapped[str] = mapped_column(String(32))  # rightsizing, savings_plan, …
    resource: Mapped[str | None] = mapped_column(String(255))
    account: Mapped[str | None] = mapped_column(String(128))
    region: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    estimated_monthly_saving: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CostForecast(Sourced, Base):
    """A vendor's cost forecast for a period (AWS GetCostForecast: the rest of the month)."""

    __tablename__ = "cost_forecast"
    provider: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(32))  # amortized, unblended
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # exclusive
    amount: Mapped[float] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Slo(Sourced, Base):
    __tablename__ = "slo"
    service: Mapped[str | None] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(255))
    target: Mapped[float] = mapped_column(Float)  # e.g. 0.999
    window_days: Mapped[int] = mapped_column(Integer, default=30)
    sli_type: Mapped[str | None] = mapped_column(String(32))  # availability, latency
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)


class SliPoint(Sourced, Base):
    __tablename__ = "sli_point"
    slo_source_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    good: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_sli_point_source"),
        # covering: an SLO's window sums are range scans of the index, never of the table
        Index("ix_sli_point_slo_at", "slo_source_id", "at", "good", "total"),
    )


class Incident(Sourced, Base):
    __tablename__ = "incident"
    key: Mapped[str] = mapped_column(String(64), index=True)
    service: Mapped[str | None] = mapped_column(String(128), index=True)
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))  # SEV-1 … SEV-5
    urgency: Mapped[str | None] = mapped_column(String(16))  # high, low
    status: Mapped[str] = mapped_column(String(16))  # triggered, acknowledged, resolved
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assignee: Mapped[str | None] = mapped_column(String(255))
    caused_by_deployment: Mapped[str | None] = mapped_column(String(255))
    postmortem_url: Mapped[str | None] = mapped_column(String(512))
    url: Mapped[str | None] = mapped_column(String(512))


class IncidentEvent(Sourced, Base):
    """One entry of an incident's timeline (PagerDuty log entry, Datadog timeline cell)."""

    __tablename__ = "incident_event"
    incident_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(64))  # trigger, acknowledge, assign, note, resolve
    actor: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text)


class OncallShift(Sourced, Base):
    __tablename__ = "oncall_shift"
    schedule: Mapped[str] = mapped_column(String(255))
    team_key: Mapped[str | None] = mapped_column(String(32), index=True)
    person: Mapped[str] = mapped_column(String(255))  # email or name
    level: Mapped[int] = mapped_column(Integer, default=1)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    is_override: Mapped[bool] = mapped_column(Boolean, default=False)


class Monitor(Sourced, Base):
    __tablename__ = "monitor"
    name: Mapped[str] = mapped_column(String(512))
    service: Mapped[str | None] = mapped_column(String(128), index=True)
    type: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))  # OK, Alert, Warn, No Data
    priority: Mapped[int | None] = mapped_column(Integer)
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)


class HostHealth(Sourced, Base):
    __tablename__ = "host_health"
    host: Mapped[str] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16))  # up, down, unknown
    cpu_pct: Mapped[float | None] = mapped_column(Float)
    mem_pct: Mapped[float | None] = mapped_column(Float)
    last_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)


# ----------------------------------------------------------------------------- the assistant


class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin, viewer
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Conversation(Base):
    __tablename__ = "conversation"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(String(255))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    __tablename__ = "message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # user, assistant
    text: Mapped[str] = mapped_column(Text)
    tool: Mapped[str | None] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ActionLog(Base):
    __tablename__ = "action_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))  # username or "system"
    action: Mapped[str] = mapped_column(String(64))  # create_jira_ticket, sign_in, …
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Alert(Base):
    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(16))  # delivery, security, operations, data
    severity: Mapped[str] = mapped_column(String(16))  # info, warning, critical
    subject: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_severity: Mapped[str | None] = mapped_column(String(16))


class SyncRun(Base):
    __tablename__ = "sync_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    stream: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # running, success, failed
    records: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(32))  # auth, rate_limited, upstream, …


class SyncCursor(Base):
    __tablename__ = "sync_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (UniqueConstraint("source", "stream", name="uq_sync_cursor_stream"),)


class Document(Base):
    __tablename__ = "document"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(512))  # path, upload name or URL
    media_type: Mapped[str | None] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DocumentChunk(Base):
    __tablename__ = "document_chunk"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(512))
    page: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class DashboardLayout(Base):
    __tablename__ = "dashboard_layout"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    widgets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Report(Base):
    __tablename__ = "report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # weekly
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    markdown: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecretEntry(Base):
    """A secret stored in the database, encrypted with the key from the environment."""

    __tablename__ = "secret_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


SOURCED_TABLES: dict[str, type[Sourced]] = {
    model.__tablename__: model  # type: ignore[attr-defined]
    for model in Sourced.__subclasses__()
}
"""Every vendor-fed table by name: the kinds a connector may yield."""
