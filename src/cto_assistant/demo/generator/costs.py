"""Daily cloud costs (AWS mostly, some GCP and Azure), budgets, anomalies, recommendations.

A cost *line* is one (provider, account, service, region, usage type, tags) series. Its expected
daily cost is `base * growth^days * weekend factor * planted multipliers`; each row adds a small
stateless noise (`unit`), so rows stream day by day in bounded memory and any day can be
recomputed alone. The week-over-week storyline is calibrated on expected values: S3 in us-east-1
tagged project=data-processing-pipeline rises 40% over the last 7 days (the largest driver),
its Spark compute 25% and its data transfer 30%, and the S3 lines' size is solved so that the
total rises 15% (amortized). Covered EC2/RDS usage is cheaper unblended than amortized (partial
upfront commitments), with the one upfront fee on its purchase day.

Anomalies, forecasts and recommendations are shaped as Cost Explorer returns them and the
connector maps them: an anomaly's `dimension` is {monitor_arn, dimension_value} and its root
causes use lower-case keys (service, region, account, usage_type); a forecast is keyed
"forecast:<metric>:<start>:<end>"; a rightsizing recommendation is keyed by its EC2 instance id,
a Savings Plans one by its recommendation detail UUID. CE has no API for S3 tiering or idle RDS
advice, so those two are world-only (no simulator serves them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cto_assistant.demo.generator.common import (
    Ctx,
    Row,
    Service,
    stable_int,
    stream,
    unit,
    uuid4,
)

S3 = "Amazon Simple Storage Service"
EC2 = "Amazon Elastic Compute Cloud - Compute"
PLANTED_PROJECT = "data-processing-pipeline"
PLANTED_REGION = "us-east-1"
WOW_TARGET = 0.15
S3_RISE = 0.40
UNBLENDED_RATIO = 0.8  # covered usage, unblended ÷ amortized

AWS_ACCOUNTS: list[dict[str, Any]] = [
    {"id": "123456789012", "name": "acme-management", "payer": True},
    {"id": "210987654321", "name": "acme-prod", "payer": False},
    {"id": "345678901234", "name": "acme-staging", "payer": False},
    {"id": "456789012345", "name": "acme-data", "payer": False},
    {"id": "567890123456", "name": "acme-shared-services", "payer": False},
]
_ACCOUNT: dict[str, str] = {str(account["name"]): str(account["id"]) for account in AWS_ACCOUNTS}
GCP_PROJECTS = ["acme-analytics-prod", "acme-ml-prod"]
AZURE_SUBSCRIPTIONS = ["acme-corp-azure"]
MONITOR_ARN = f"arn:aws:ce::{AWS_ACCOUNTS[0]['id']}:anomalymonitor/acme-aws-services"
_REGION_PREFIX = {"us-east-1": "", "us-west-2": "USW2-", "eu-west-1": "EU-"}


@dataclass
class Line:
    """One cost series."""

    provider: str
    account: str
    service: str
    region: str
    usage_type: str
    team: str | None
    project: str | None
    env: str | None
    base: float
    weekend: float = 1.0
    growth: float = 0.0006  # per day
    start: int = 0  # day index (from the first cost day) the series begins
    covered: bool = False
    noise: float = 0.04
    spikes: list[tuple[int, int, float]] = field(default_factory=list)  # [from, to) day index, *
    planted: float = 1.0  # multiplier over the last 7 days (before S3 calibration)
    component: str | None = None  # the `service` tag: which of our services runs on it
    key: int = 0
    source_prefix: str = ""

    @property
    def tags(self) -> dict[str, str]:
        """The cost-allocation tags of this line."""
        tags = {
            "team": self.team,
            "project": self.project,
            "env": self.env,
            "service": self.component,
        }
        return {name: value for name, value in tags.items() if value is not None}


@dataclass
class CostModel:
    """The lines, the day span and the calibrated S3 scale."""

    first_day: date
    days: int
    lines: list[Line]
    upfront_day: int
    upfront_fee: float


def model(ctx: Ctx) -> CostModel:
    """The calibrated cost model of the world (memoised; small even in the large world)."""
    if "costs" not in ctx.cache:
        ctx.cache["costs"] = _build_model(ctx)
    return ctx.cache["costs"]


def _usage(region: str, usage: str) -> str:
    return _REGION_PREFIX.get(region, "") + usage


def _build_model(ctx: Ctx) -> CostModel:
    rng = stream(ctx.seed, "costs")
    days = ctx.cost_days
    first_day = ctx.today - timedelta(days=days)
    last7 = days - 7
    lines: list[Line] = []
    envs = ["prod", "staging"] + (["dev"] if ctx.scale == "large" else [])
    for service in ctx.org.services:
        if service.name.endswith("-app"):
            continue
        region = (
            "eu-west-1"
            if service.team_key == "IDN"
            else "us-west-2"
            if service.index % 9 == 4
            else "us-east-1"
        )
        tier_scale = {1: 1.0, 2: 0.55, 3: 0.25}[service.tier] * rng.uniform(0.8, 1.25)
        start = 0 if service.index < 25 or service.index % 10 else rng.randint(30, days // 2)
        for env in envs:
            env_scale = {"prod": 1.0, "staging": 0.22, "dev": 0.1}[env]
            account = _ACCOUNT[
                "acme-data"
                if service.team_key == "DATA"
                else "acme-prod"
                if env == "prod"
                else "acme-staging"
            ]

            def add(
                svc: str,
                usage: str,
                base: float,
                *,
                weekend: float = 1.0,
                covered: bool = False,
                growth: float = 0.0006,
                planted: float = 1.0,
                env: str = env,
                region: str = region,
                account: str = account,
                owner: Service = service,
                scale: float = env_scale,
                start: int = start,
            ) -> None:
                lines.append(
                    Line(
                        "aws",
                        account,
                        svc,
                        region,
                        _usage(region, usage),
                        owner.team_key,
                        owner.project,
                        env,
                        base * scale,
                        weekend=weekend,
                        growth=growth,
                        start=start,
                        covered=covered and env == "prod",
                        planted=planted,
                        component=owner.name,
                    )
                )

            families = ["m6i.xlarge", "c6i.2xlarge"] if ctx.scale == "large" else ["m6i.xlarge"]
            for family in families:
                add(
                    EC2,
                    f"BoxUsage:{family}",
                    110 * tier_scale / len(families),
                    weekend=0.85,
                    covered=True,
                )
            add(S3, "TimedStorage-ByteHrs", 9 * tier_scale, growth=0.0012)
            add("AmazonCloudWatch", "CW:MetricMonitorUsage", 5 * tier_scale)
            if service.tier < 3:
                add(
                    "Amazon Relational Database Service",
                    "InstanceUsage:db.r6g.xlarge",
                    65 * tier_scale,
                    covered=True,
                )
            if service.internet_facing:
                add("EC2 - Other", "DataTransfer-Out-Bytes", 30 * tier_scale, weekend=0.8)
            if service.name in ("checkout-service", "cart-service", "auth-service", "payments-api"):
                add("Amazon ElastiCache", "NodeUsage:cache.r6g.large", 28)
            if service.name in ("notifications-service", "job-scheduler", "event-ingest"):
                add("AWS Lambda", "Lambda-GB-Second", 14, weekend=0.7)
            if service.name == "event-ingest":
                add("Amazon Kinesis", "ShardHour", 45)
            if service.name == "analytics-warehouse":
                add("Amazon Redshift", "Node:ra3.4xlarge", 160, covered=True)
            if service.name == "data-pipeline" and env == "prod":
                # the storyline: S3 (calibrated below), Spark compute and transfer all rise
                add(
                    S3,
                    "TimedStorage-ByteHrs",
                    1.0,
                    growth=0.0010,
                    planted=1 + S3_RISE,
                    region=PLANTED_REGION,
                )
                add(
                    S3,
                    "Requests-Tier1",
                    0.35,
                    weekend=0.85,
                    growth=0.0010,
                    planted=1 + S3_RISE,
                    region=PLANTED_REGION,
                )
                add(
                    S3,
                    "Requests-Tier2",
                    0.12,
                    weekend=0.85,
                    growth=0.0010,
                    planted=1 + S3_RISE,
                    region=PLANTED_REGION,
                )
                add(
                    EC2,
                    "SpotUsage:r6i.4xlarge",
                    260,
                    weekend=0.9,
                    planted=1.25,
                    region=PLANTED_REGION,
                )
                add(
                    "EC2 - Other",
                    "DataTransfer-Regional-Bytes",
                    70,
                    planted=1.30,
                    region=PLANTED_REGION,
                )
    shared = _ACCOUNT["acme-shared-services"]
    for svc, usage, base in [
        ("Amazon Elastic Container Service for Kubernetes", "AmazonEKS-Hours:perCluster", 29),
        ("EC2 - Other", "NatGateway-Hours", 48),
        ("Amazon Route 53", "HostedZone", 6),
    ]:
        lines.append(
            Line(
                "aws",
                shared,
                svc,
                "us-east-1",
                usage,
                "PLAT",
                "platform-core",
                "prod",
                base * (4 if ctx.scale == "large" else 1),
            )
        )
    for svc, usage, base in [
        ("AWS CloudTrail", "PaidEventsRecorded", 4),
        ("Amazon GuardDuty", "PaidS3DataEventsAnalyzed", 12),
        ("AWS Config", "ConfigurationItemRecorded", 6),
        ("AWS Key Management Service", "KMS-Requests", 3),
        ("AWS Support (Business)", "Dollar", 45),
    ]:
        lines.append(
            Line(
                "aws",
                _ACCOUNT["acme-management"],
                svc,
                "us-east-1",
                usage,
                None,
                None,
                None,
                base * (4 if ctx.scale == "large" else 1),
                noise=0.02,
            )
        )
    for svc, usage, region, base, team, project in [
        ("BigQuery", "Analysis", "us-central1", 85, "DATA", "analytics"),
        (
            "Cloud Storage",
            "Standard Storage US Multi-region",
            "us-central1",
            22,
            "DATA",
            "analytics",
        ),
        (
            "Compute Engine",
            "N2 Instance Core running in Americas",
            "us-central1",
            40,
            "GRW",
            "recommendations",
        ),
        ("Vertex AI", "Online prediction", "europe-west1", 18, "GRW", "recommendations"),
    ]:
        account = GCP_PROJECTS[0] if team == "DATA" else GCP_PROJECTS[1]
        lines.append(
            Line(
                "gcp",
                account,
                svc,
                region,
                usage,
                team,
                project,
                "prod",
                base * (5 if ctx.scale == "large" else 1),
                weekend=0.8 if svc == "BigQuery" else 1.0,
            )
        )
    for svc, usage, region, base in [
        ("Virtual Machines", "D4s v5", "eastus", 30),
        ("Storage", "Hot LRS Data Stored", "westeurope", 6),
        ("Microsoft Defender for Cloud", "Standard Node", "eastus", 5),
    ]:
        lines.append(
            Line(
                "azure",
                AZURE_SUBSCRIPTIONS[0],
                svc,
                region,
                usage,
                "SRE",
                "corp-it",
                "prod",
                base * (3 if ctx.scale == "large" else 1),
            )
        )
    nat = next(line for line in lines if line.usage_type == "NatGateway-Hours")
    nat.spikes.append((days - 121, days - 118, 2.6))
    staging_ec2 = next(line for line in lines if line.service == EC2 and line.env == "staging")
    staging_ec2.spikes.append((days - 250, days - 246, 1.9))
    for index, line in enumerate(lines):
        line.key = stable_int(ctx.seed, "cost-line", index)
        line.source_prefix = "|".join(
            [
                line.provider,
                line.account,
                line.service,
                line.region,
                line.usage_type,
                line.team or "",
                line.project or "",
                line.env or "",
                line.component or "",
            ]
        )
        line.noise = line.noise * rng.uniform(0.6, 1.2)
    _calibrate(lines, days, first_day, last7)
    covered_daily = sum(_expected(line, days - 300, first_day) for line in lines if line.covered)
    return CostModel(
        first_day=first_day,
        days=days,
        lines=lines,
        upfront_day=days - 300,
        upfront_fee=round(covered_daily * (1 - UNBLENDED_RATIO) * 365, 2),
    )


def _is_planted_s3(line: Line) -> bool:
    return (
        line.service == S3
        and line.project == PLANTED_PROJECT
        and line.region == PLANTED_REGION
        and line.planted > 1
    )


def _expected(line: Line, index: int, first_day: date, last7: int | None = None) -> float:
    """Expected amortized cost of `line` on day `index` (no noise)."""
    if index < line.start:
        return 0.0
    day = first_day + timedelta(days=index)
    value = line.base * (1 + line.growth) ** index
    if day.weekday() >= 5:
        value *= line.weekend
    for begin, end, factor in line.spikes:
        if begin <= index < end:
            value *= factor
    if last7 is not None and index >= last7:
        value *= line.planted
    return value


def _calibrate(lines: list[Line], days: int, first_day: date, last7: int) -> None:
    """Scale the planted S3 lines so total spend rises WOW_TARGET over the last 7 days.

    Solved on amortized + unblended together, so both views land within a point of the target.
    """
    prev = range(last7 - 7, last7)
    last = range(last7, days)

    def both(line: Line, index: int) -> float:
        value = _expected(line, index, first_day, last7)
        return value * (1 + (UNBLENDED_RATIO if line.covered else 1.0))

    others = [line for line in lines if not _is_planted_s3(line)]
    planted = [line for line in lines if _is_planted_s3(line)]
    other_prev = sum(both(line, i) for line in others for i in prev)
    other_last = sum(both(line, i) for line in others for i in last)
    s3_prev = sum(both(line, i) for line in planted for i in prev)
    s3_last = sum(both(line, i) for line in planted for i in last)
    scale = ((1 + WOW_TARGET) * other_prev - other_last) / (s3_last - (1 + WOW_TARGET) * s3_prev)
    for line in planted:
        line.base *= scale


def daily_totals(ctx: Ctx, first: int, end: int, *, unblended: bool = False) -> list[float]:
    """Expected total per day index in [first, end), amortized or unblended (no noise)."""
    cost = model(ctx)
    last7 = cost.days - 7
    return [
        sum(
            _expected(line, i, cost.first_day, last7)
            * (UNBLENDED_RATIO if unblended and line.covered else 1.0)
            for line in cost.lines
        )
        for i in range(first, end)
    ]


def cost_rows(ctx: Ctx, *, since: date | None = None) -> Iterator[Row]:
    """Rows of `cost_daily`, day by day (streams: nothing is held but the lines)."""
    cost = model(ctx)
    last7 = cost.days - 7
    first_day = cost.first_day
    skip = max(0, (since - first_day).days) if since else 0
    for index in range(skip, cost.days):
        day = first_day + timedelta(days=index)
        iso = day.isoformat()
        for line in cost.lines:
            expected = _expected(line, index, first_day, last7)
            if expected <= 0:
                continue
            amortized = round(expected * (1 + line.noise * (2 * unit(line.key, index) - 1)), 4)
            unblended = round(amortized * UNBLENDED_RATIO, 4) if line.covered else amortized
            yield {
                "source_id": f"{iso}|{line.source_prefix}",
                "day": day,
                "provider": line.provider,
                "account": line.account,
                "service": line.service,
                "region": line.region,
                "usage_type": line.usage_type,
                "tags": line.tags,
                "team": line.team,
                "project": line.project,
                "amortized_cost": amortized,
                "unblended_cost": unblended,
                "currency": "USD",
                "import_batch": None,
            }
        if index == cost.upfront_day:
            yield {
                "source_id": f"{iso}|aws|{_ACCOUNT['acme-management']}|Savings Plans upfront fee",
                "day": day,
                "provider": "aws",
                "account": _ACCOUNT["acme-management"],
                "service": "Savings Plans for AWS Compute usage",
                "region": "global",
                "usage_type": "ComputeSP:3yrPartialUpfront",
                "tags": {},
                "team": None,
                "project": None,
                "amortized_cost": 0.0,
                "unblended_cost": cost.upfront_fee,
                "currency": "USD",
                "import_batch": None,
            }


def budget_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `budget`: the company budget sits below this month's projection."""
    cost = model(ctx)
    month_start = ctx.today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    days_in_month = (next_month - month_start).days
    today_index = cost.days  # the first day without data
    month_index = today_index - (ctx.today - month_start).days
    projections: list[float] = []
    for unblended in (False, True):  # below the projection whichever cost view is used
        totals = daily_totals(ctx, month_index - 31, today_index, unblended=unblended)
        mtd = totals[31:]
        run_rate = sum(totals[-7:]) / 7
        projections.append(sum(mtd) + run_rate * (days_in_month - len(mtd)))
        if mtd:
            projections.append(sum(mtd) / len(mtd) * days_in_month)
    recent = daily_totals(ctx, today_index - 1, today_index)
    company = round(min(projections) * 0.92, -3)
    data_lines = [line for line in cost.lines if line.team == "DATA"]
    data_share = sum(
        _expected(line, today_index - 1, cost.first_day, cost.days - 7) for line in data_lines
    ) / (recent[-1] or 1)
    budgets = [
        ("acme-cloud-monthly", company, {}),
        ("data-team-monthly", round(company * data_share * 0.9, -2), {"team": "DATA"}),
        ("payments-team-monthly", round(company * 0.2, -2), {"team": "PAY"}),
        ("gcp-monthly", round(company * 0.08, -2), {"provider": "gcp"}),
    ]
    for name, amount, scope in budgets:
        yield {
            "source_id": name,
            "name": name,
            "period": "monthly",
            "amount": float(amount),
            "currency": "USD",
            "scope": scope,
        }


def forecast_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `cost_forecast`: AWS's forecast for the rest of this month, per cost metric."""
    cost = model(ctx)
    month_start = ctx.today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    remaining = (next_month - ctx.today).days
    aws = [line for line in cost.lines if line.provider == "aws"]
    for metric, unblended in (("amortized", False), ("unblended", True)):
        amount = sum(
            _expected(line, cost.days + offset, cost.first_day, cost.days - 7)
            * (UNBLENDED_RATIO if unblended and line.covered else 1.0)
            for line in aws
            for offset in range(remaining)
        )
        yield {
            "source_id": f"forecast:{metric}:{ctx.today.isoformat()}:{next_month.isoformat()}",
            "provider": "aws",
            "metric": metric,
            "period_start": ctx.today,
            "period_end": next_month,
            "amount": round(amount, 2),
            "lower": round(amount * 0.92, 2),
            "upper": round(amount * 1.08, 2),
            "currency": "USD",
            "generated_at": ctx.now,
        }


def anomaly_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `cost_anomaly`: the S3 spike this week and two resolved ones in the past."""
    cost = model(ctx)
    last7 = cost.days - 7
    planted = [line for line in cost.lines if _is_planted_s3(line)]
    actual = sum(
        _expected(line, i, cost.first_day, last7)
        for line in planted
        for i in range(last7, cost.days)
    )
    expected = sum(
        _expected(line, i, cost.first_day) for line in planted for i in range(last7, cost.days)
    )
    rng = stream(ctx.seed, "anomalies")
    account = planted[0].account
    yield {
        "source_id": f"{rng.getrandbits(128):032x}",
        "detector": "aws",
        "start_day": cost.first_day + timedelta(days=last7),
        "end_day": None,
        "dimension": {"monitor_arn": MONITOR_ARN, "dimension_value": S3},
        "expected": round(expected, 2),
        "actual": round(actual, 2),
        "impact": round(actual - expected, 2),
        "root_causes": [
            {
                "service": S3,
                "region": PLANTED_REGION,
                "account": account,
                "usage_type": line.usage_type,
            }
            for line in planted
        ],
    }
    for line in cost.lines:
        for begin, end, factor in line.spikes:
            spiked = sum(_expected(line, i, cost.first_day) for i in range(begin, end))
            yield {
                "source_id": f"{rng.getrandbits(128):032x}",
                "detector": "aws",
                "start_day": cost.first_day + timedelta(days=begin),
                "end_day": cost.first_day + timedelta(days=end - 1),
                "dimension": {"monitor_arn": MONITOR_ARN, "dimension_value": line.service},
                "expected": round(spiked / factor, 2),
                "actual": round(spiked, 2),
                "impact": round(spiked - spiked / factor, 2),
                "root_causes": [
                    {
                        "service": line.service,
                        "region": line.region,
                        "account": line.account,
                        "usage_type": line.usage_type,
                    }
                ],
            }


def recommendation_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `cost_recommendation`: rightsizing, a savings plan, S3 tiering, an idle database."""
    cost = model(ctx)
    rng = stream(ctx.seed, "recommendations")
    prod = _ACCOUNT["acme-prod"]
    index = cost.days - 1
    s3_daily = sum(
        _expected(line, index, cost.first_day, cost.days - 7)
        for line in cost.lines
        if _is_planted_s3(line)
    )
    covered_daily = sum(
        _expected(line, index, cost.first_day) for line in cost.lines if line.covered
    )
    items: list[Row] = []
    # the instances run these services; CE returns no tags, so only the instance id tells
    for _service, current, target in [
        ("checkout-service", "m6i.4xlarge", "m6i.2xlarge"),
        ("fraud-detection", "r6i.2xlarge", "r6i.xlarge"),
        ("feature-flags", "c6i.2xlarge", "c6i.large"),
    ]:
        instance = f"i-0{rng.getrandbits(64):016x}"  # CE names the instance by its id
        saving = round(rng.uniform(180, 900), 2)
        items.append(
            {
                "source_id": instance,
                "kind": "rightsizing",
                "resource": instance,
                "account": prod,
                "region": "us-east-1",
                "summary": f"Downsize {instance} from {current} to {target}",
                "estimated_monthly_saving": saving,
                "details": {
                    "action": "modify",
                    "current_type": current,
                    "target_type": target,
                    "monthly_cost": round(saving * rng.uniform(1.8, 2.4), 2),
                    "findings": ["CPU_OVER_PROVISIONED"],
                },
            }
        )
    hourly = round(covered_daily / 24 * 0.3, 2)
    items.append(
        {
            "source_id": uuid4(rng),  # CE's RecommendationDetailId
            "kind": "savings_plan",
            "resource": "COMPUTE_SP",
            "account": _ACCOUNT["acme-management"],
            "region": None,
            "summary": f"Commit ${hourly:,.2f}/hour to a one year COMPUTE_SP (no upfront)",
            "estimated_monthly_saving": round(covered_daily * 30 * 0.12, 2),
            "details": {
                "savings_plans_type": "COMPUTE_SP",
                "term": "ONE_YEAR",
                "payment_option": "NO_UPFRONT",
                "hourly_commitment": hourly,
                "estimated_roi": 0.12,
            },
        }
    )
    items.append(
        {
            "kind": "storage_tiering",
            "resource": "s3://acme-data-processing-raw",
            "account": _ACCOUNT["acme-data"],
            "region": PLANTED_REGION,
            "summary": "Move the data-processing-pipeline raw zone to S3 Intelligent-Tiering",
            "estimated_monthly_saving": round(s3_daily * 30 * 0.25, 2),
            "details": {"project": PLANTED_PROJECT, "objects_not_accessed_90d_pct": 71},
        }
    )
    items.append(
        {
            "kind": "idle_resource",
            "resource": "arn:aws:rds:us-east-1:345678901234:db:pricing-staging-2",
            "account": _ACCOUNT["acme-staging"],
            "region": "us-east-1",
            "summary": "Delete idle RDS instance pricing-staging-2 (no connections in 30 days)",
            "estimated_monthly_saving": round(rng.uniform(300, 600), 2),
            "details": {"connections_30d": 0},
        }
    )
    for item in items:
        yield {
            "source_id": f"{item['kind']}:{item['resource'] or item['account']}",
            "currency": "USD",
            **item,  # rightsizing and savings_plan rows bring CE's own ids
        }
