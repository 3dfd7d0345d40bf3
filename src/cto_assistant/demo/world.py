"""The demo world: one consistent fictional company, as rows of the domain model.

`World` is the contract between the generator and the simulators. A world is a set of row
streams keyed by store table name (`store.models`); each row holds that table's columns except
`id`, `source` and `synced_at`; `source_id` is the id the *vendor* would use (Jira issue id,
GitHub node id, PagerDuty incident id …), so a simulator serves it and a connector maps it back
to the same key. Simulators turn rows into vendor JSON; connectors turn vendor JSON into rows:
world → simulator → connector → store must give back the world.

Rows are produced lazily (`rows(table)` is an iterator) so the large world streams in bounded
memory; a small world may simply hold lists. Tests build tiny worlds with `World.from_rows`.

`build_world(seed=, today=, scale=)` makes Acme Cloud (generator in `demo/generator/`). Its clock
is `world.now` = noon UTC of `today`: nothing happens after it. Row conventions (they are what
the connectors read back from the simulators, so world → simulator → connector → store is exact):
- datetimes are aware UTC at the vendor's precision: whole seconds for Jira rows (sprint, epic,
  ticket, ticket_transition), Datadog hosts and access grants, whole milliseconds elsewhere;
  dates are `date`;
- people are referenced by e-mail (incident assignee and event actor, oncall_shift.person,
  access_grant.person_email), by Jira accountId (ticket assignee, transition author) and by
  GitHub login (PR author, reviewer, commit author); automatic PagerDuty log entries (trigger,
  escalation assign) have the incident's service as actor;
- teams by key; services by name; repositories by full name "acme/<name>"; a sprint's `board`
  is its board's name ("<team key> board");
- cost tags are {"team": <team key>, "project": …, "env": prod|staging|dev, "service": <our
  service>} (shared and untagged lines carry fewer or none);
- a Snyk finding set aside is `ignored`, a Dependabot one `dismissed`; PagerDuty grants carry
  account roles (owner, admin, user); an SLO's tags include `sli:<type>`; a cost anomaly's
  `dimension` is {monitor_arn, dimension_value} and its root causes use the keys service,
  region, account, usage_type.
Vendor ids (`source_id`): team key; person = PagerDuty user id; service = PagerDuty service id;
repository = GitHub repo id; PR and review = GitHub node ids; commit = sha; deployment =
GitHub/GitLab numeric id, Jenkins "<job>#<build>" or CircleCI deploy job UUID (by `tool`);
deployment_change = "<deployment>:<sha>"; sprint/epic/ticket = Jira numeric ids (ticket key
"<PROJECT>-<n>"); ticket_transition = "<issue id>-<n>:<field>" (one changelog history
"<issue id>-<n>" per change; `field` "status" or "Sprint", Sprint values are sprint ids joined
by ","); quality_snapshot = "<sonar project key>@<analysis date>"; vulnerability = Snyk issue
UUID or "<repo>/dependabot/<alert number>"; advisory = "osv:<GHSA id>", "kev:<CVE>" or
"epss:<CVE>" (one per scored CVE, as the EPSS feed gives it); dependency =
"<repo>:<ecosystem>:<package>"; control = "<framework>:<control id>"; access_grant =
"<system>:<principal>"; cost_daily = "<day>|<provider>|<account>|<service>|<region>|<usage
type>|<team>|<project>|<env>|<service tag>"; cost_forecast = "forecast:<metric>:<start>:<end>";
budget = budget name; cost_anomaly = AWS anomaly id (hex32); cost_recommendation = the EC2
instance id (rightsizing), the CE recommendation detail UUID (savings_plan) or
"<kind>:<resource>" (kinds no Cost Explorer API serves); slo = Datadog SLO id (hex32);
sli_point = "<slo id>:<epoch milliseconds>" (hourly buckets, 5-minute buckets for the last 24
hours); incident = PagerDuty id (key "INC-<number>"); incident_event = PagerDuty log entry id;
oncall_shift = "<schedule id>:<start>:<level>"; monitor, host_health = Datadog numeric ids.

`world.extras` keys:
- "now": the world's clock (datetime, noon UTC of `today`).
- "jira": {"site", "story_points_field" ("customfield_10016"), "sprint_field"
  ("customfield_10020"), "epic_link" ("parent"), "projects": [{id, key, name, lead_email}],
  "boards": [{id, name, type, project, team_key}] (sprint.board is the board name),
  "statuses": {status name: status category key}}.
- "github": {"org": "acme", "repo_ids": {full_name: numeric repo id}}.
- "sonarqube": {"projects": [{key, name, repo}]}.
- "snyk": {"org_id", "projects": [{id, name, repo}]} (repos scanned by Snyk; the others only
  by Dependabot).
- "pagerduty": {"subdomain", "schedules": [{id, name, team_key, level}],
  "escalation_policies": [{id, name, team_key, levels: [schedule ids]}]}.
- "datadog": {"site", "env"}.
- "ci": {"deploy_tool_by_team": {team key: github_actions|gitlab|jenkins|circleci}}.
- "aws": {"accounts": [{id, name, payer}], "payer_account"}; "gcp": {"projects",
  "billing_account"}; "azure": {"subscriptions"}.
- "storylines": the planted facts, for tests and demos: elite_team, medium_team, slipping_epic,
  active_incident_service, fast_burn_service, departed_admin, admins_without_mfa, cost_driver
  {service, region, project}, failing_quality_gates, new_critical_cves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal

Row = dict[str, Any]
Scale = Literal["small", "large"]


@dataclass
class World:
    """A company as row streams per table, plus the facts that pinned it (seed, today, scale)."""

    seed: int
    today: date
    scale: Scale = "small"
    producers: dict[str, Callable[[], Iterable[Row]]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(
        cls,
        tables: Mapping[str, Iterable[Row]],
        *,
        seed: int = 0,
        today: date = date(2026, 1, 15),
        extras: Mapping[str, Any] | None = None,
    ) -> World:
        """A world from explicit rows (tests, hand-built fixtures)."""
        frozen = {name: list(rows) for name, rows in tables.items()}
        return cls(
            seed=seed,
            today=today,
            producers={name: _constant(rows) for name, rows in frozen.items()},
            extras=dict(extras or {}),
        )

    def tables(self) -> list[str]:
        """Names of the tables this world has rows for."""
        return sorted(self.producers)

    def rows(self, table: str) -> Iterator[Row]:
        """The rows of `table` (empty when the world has none)."""
        producer = self.producers.get(table)
        if producer is None:
            return iter(())
        return iter(producer())

    def count(self, table: str) -> int:
        """Number of rows of `table` (iterates once)."""
        return sum(1 for _ in self.rows(table))

    @property
    def now(self) -> datetime:
        """The world's clock (noon UTC of `today` for generated worlds)."""
        clock = self.extras.get("now")
        if isinstance(clock, datetime):
            return clock
        return datetime.combine(self.today, time(12, 0), tzinfo=UTC)


def build_world(*, seed: int = 42, today: date | None = None, scale: Scale = "small") -> World:
    """Generate Acme Cloud for `seed` as of `today` (rows stream; the small world memoises).

    Rows handed out by a small world are shared between calls: copy a row before changing it.
    """
    from cto_assistant.demo import generator
    from cto_assistant.demo.generator import security

    if today is None:  # the one clock read: callers (tests, `cto demo --today`) should pin it
        today = date.today()
    ctx = generator.build_ctx(seed=seed, today=today, scale=scale)
    producers = generator.producers(ctx)
    if scale == "small":
        producers = {name: _memoised(producer) for name, producer in producers.items()}
    extras = generator.extras(ctx)
    extras["storylines"]["new_critical_cves"] = list(security.security(ctx).new_critical_cves)
    return World(seed=seed, today=today, scale=scale, producers=producers, extras=extras)


def _constant(rows: list[Row]) -> Callable[[], Iterable[Row]]:
    """A producer that always hands out the same rows."""
    return lambda: rows


def _memoised(producer: Callable[[], Iterable[Row]]) -> Callable[[], Iterable[Row]]:
    """Materialise a producer's rows on first use and hand out the same list afterwards."""
    held: list[list[Row]] = []

    def rows() -> Iterable[Row]:
        if not held:
            held.append(list(producer()))
        return held[0]

    return rows
