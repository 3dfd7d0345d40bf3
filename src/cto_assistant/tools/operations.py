"""Operations tools: cloud spend, its changes, anomalies, forecast and savings; SLOs, incidents,
on-call and infrastructure health. Each tool queries `store.queries.operations`, computes with
`analytics`, and returns one envelope with a number-first summary, sources and, where a
picture says more, a Vega-Lite v6 chart.

`operations_summary(ctx)` is the operations part of `executive_summary`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from cto_assistant.analytics import anomaly as anomaly_analytics
from cto_assistant.analytics import attribution, forecast, savings
from cto_assistant.analytics import incidents as incident_analytics
from cto_assistant.analytics import infra as infra_analytics
from cto_assistant.analytics import oncall as oncall_analytics
from cto_assistant.analytics import slo as slo_analytics
from cto_assistant.analytics.cost import (
    money,
    month_to_date,
    percent,
    short_service,
    spend_report,
)
from cto_assistant.analytics.timeutil import (
    month_start,
    previous_month_start,
    previous_period,
)
from cto_assistant.errors import ToolError
from cto_assistant.store.queries import operations as q
from cto_assistant.tools.base import ToolContext, ToolResult, no_data, ok, tool

CostType = Literal["amortized", "unblended"]
VEGA_LITE = "https://vega.github.io/schema/vega-lite/v6.json"
EXPLAIN_DIMENSIONS = ("service", "region", "account", "usage_type", "project", "team", "provider")
SERIES_DIMENSIONS = ("service", "region", "account")  # one anomaly-detection series per key

# ------------------------------------------------------------------------------- helpers


def _plain(value: Any) -> Any:
    """Dataclasses → dicts, recursively (tool data stays JSON-ready through pydantic)."""
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _team_key(ctx: ToolContext, team: str | None) -> str | None:
    if team is None:
        return None
    key = q.resolve_team(ctx.session, team=team)
    if key is None:
        raise ToolError(f"no team called {team!r}")
    return key


def _aware(moment: datetime | None, default: datetime) -> datetime:
    if moment is None:
        return default
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _short_day(day: date, *, today: date | None = None) -> str:
    if today is not None and day.year != today.year:
        return f"{day:%b} {day.day}, {day.year}"
    return f"{day:%b} {day.day}"


def _chart(title: str, values: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "$schema": VEGA_LITE,
        "title": title,
        "data": {"values": values},
        "width": "container",
        **spec,
    }


def _cost_window(
    ctx: ToolContext, filters: q.CostFilter, start: date | None, end: date | None
) -> tuple[date, date] | None:
    """The period to show: defaults to the month of the latest cost day, to that day."""
    span = q.cost_date_range(ctx.session, filters=filters)
    if span is None:
        return None
    latest = min(span[1], ctx.now.date())
    end = end or latest
    start = start or month_start(end)
    if start > end:
        raise ToolError(f"start {start} is after end {end}")
    return start, end


def _no_costs(ctx: ToolContext) -> ToolResult:
    return no_data("No cloud cost data has been synced yet.", sources=ctx.sources_for("cost_daily"))


# ---------------------------------------------------------------------------------- spend


@tool(domain="operations")
def cloud_spend(
    ctx: ToolContext,
    *,
    start: date | None = None,
    end: date | None = None,
    group_by: str = "service",
    provider: str | None = None,
    team: str | None = None,
    service: str | None = None,
    region: str | None = None,
    account: str | None = None,
    cost_type: CostType = "amortized",
    top: int = 15,
) -> ToolResult:
    """Cloud spend for a period by service, region, account, team, provider or tag:KEY, vs the period before."""
    filters = q.CostFilter(provider, _team_key(ctx, team), service, region, account)
    window = _cost_window(ctx, filters, start, end)
    if window is None:
        return _no_costs(ctx)
    start, end = window
    previous_start, previous_end = previous_period(start, end)
    current, previous = q.cost_by_group_two_periods(
        ctx.session,
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
        group_by=group_by,
        cost_type=cost_type,
        filters=filters,
    )
    if not current and not previous:
        return no_data(
            f"No cloud spend recorded from {start} to {end} for these filters.",
            sources=ctx.sources_for("cost_daily"),
        )
    report = spend_report(
        current=current,
        previous=previous,
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
        group_by=group_by,
        cost_type=cost_type,
        top=top,
    )
    both_months = q.daily_cost(
        ctx.session, start=previous_month_start(end), end=end, cost_type=cost_type, filters=filters
    )
    this_month = [(day, amount) for day, amount in both_months if day >= month_start(end)]
    last_month = [(day, amount) for day, amount in both_months if day < month_start(end)]
    mtd = month_to_date(this_month=this_month, last_month=last_month, through=end)
    label = (
        (lambda key: short_service(key) if key != "(none)" else key)
        if group_by == "service"
        else (lambda key: key)
    )
    lead = report.lines[0] if report.lines else None
    summary = (
        f"{money(report.total)} cloud spend ({cost_type}) from "
        f"{_short_day(start, today=ctx.now.date())} to {_short_day(end, today=ctx.now.date())}, {percent(report.change_pct)} vs the previous {(end - start).days + 1} days"
        + (
            f"; largest {label(lead.key)} at {money(lead.amount)} ({lead.share * 100:.0f}%)."
            if lead
            else "."
        )
    )
    bars = [
        {"group": label(line.key), "period": period, "amount": round(amount, 2)}
        for line in [*report.lines, *([report.other] if report.other else [])]
        for period, amount in (("current", line.amount), ("previous", line.previous))
    ]
    chart = _chart(
        f"Cloud spend by {group_by}, {_short_day(start)}-{_short_day(end)} vs previous period",
        bars,
        mark={"type": "bar", "tooltip": True},
        encoding={
            "y": {"field": "group", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "amount", "type": "quantitative", "title": "USD"},
            "yOffset": {"field": "period"},
            "color": {"field": "period", "type": "nominal"},
        },
    )
    return ok(
        {"report": _plain(report), "month_to_date": _plain(mtd), "filters": asdict(filters)},
        summary=summary,
        sources=ctx.sources_for("cost_daily"),
        chart=chart,
    )


@tool(domain="operations")
def explain_cost_change(
    ctx: ToolContext,
    *,
    start: date | None = None,
    end: date | None = None,
    compare_to: date | None = None,
    cost_type: CostType = "amortized",
    provider: str | None = None,
    team: str | None = None,
) -> ToolResult:
    """Explain what drove the change in cloud spend between a period and the one before (default: this week vs last)."""
    filters = q.CostFilter(provider=provider, team=_team_key(ctx, team))
    span = q.cost_date_range(ctx.session, filters=filters)
    if span is None:
        return _no_costs(ctx)
    latest = min(span[1], ctx.now.date())
    end = end or latest
    start = start or end - timedelta(days=6)
    if start > end:
        raise ToolError(f"start {start} is after end {end}")
    length = (end - start).days + 1
    if compare_to is None:
        previous_start, previous_end = previous_period(start, end)
    else:
        previous_start, previous_end = compare_to, compare_to + timedelta(days=length - 1)
    current, previous = q.slice_sums(
        ctx.session,
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
        cost_type=cost_type,
        filters=filters,
    )
    if not current and not previous:
        return no_data(
            f"No cloud spend recorded from {previous_start} to {end}.",
            sources=ctx.sources_for("cost_daily"),
        )
    table, dimensions = _attribution_table(current, previous)
    result = attribution.attribute(table, dimensions=dimensions)
    weekly = length == 7 and end == latest and previous_end == start - timedelta(days=1)
    period = (
        "this week"
        if weekly
        else f"from {_short_day(start)}-{_short_day(end)} vs {_short_day(previous_start)}-{_short_day(previous_end)}"
    )
    text = attribution.sentence(result, period=period)
    causes = _possible_causes(ctx, result, start, end)
    bars = [
        {"slice": "previous period", "amount": round(result.previous_total, 2), "kind": "total"}
    ]
    bars += [
        {"slice": d.describe(), "amount": round(d.change, 2), "kind": "driver"}
        for d in result.drivers
    ]
    rest = result.change - sum(d.change for d in result.drivers)
    bars.append({"slice": "everything else", "amount": round(rest, 2), "kind": "rest"})
    chart = _chart(
        f"What changed: {_short_day(start)}-{_short_day(end)} vs {_short_day(previous_start)}-{_short_day(previous_end)}",
        bars[1:],
        mark={"type": "bar", "tooltip": True},
        encoding={
            "x": {"field": "slice", "type": "nominal", "sort": None, "title": None},
            "y": {"field": "amount", "type": "quantitative", "title": "Change (USD)"},
            "color": {"field": "kind", "type": "nominal", "legend": None},
        },
    )
    data = {
        "period": {"start": start, "end": end},
        "compared_to": {"start": previous_start, "end": previous_end},
        "cost_type": cost_type,
        "sentence": text,
        "attribution": _plain(result),
        "possible_causes": causes,
    }
    return ok(data, summary=text, sources=ctx.sources_for("cost_daily", "deployment"), chart=chart)


def _attribution_table(
    current: dict[tuple[Any, ...], float], previous: dict[tuple[Any, ...], float]
) -> tuple[attribution.CostTable, tuple[str, ...]]:
    """Spend per slice key (`q.slice_sums`) → an attribution table by column, with tag
    dimensions (tag:KEY beyond team and project); no object per key (thousands of them)."""
    keys = list({**previous, **current})
    at = {name: q.SLICE_DIMENSIONS.index(name) for name in EXPLAIN_DIMENSIONS}
    tags_column = [key[len(q.SLICE_DIMENSIONS)] for key in keys]
    tag_dims = {tags: _tag_dimensions(tags) for tags in set(tags_column)}  # shared tag sets
    tag_keys = sorted({name for found in tag_dims.values() for name in found})
    columns = {name: [key[at[name]] for key in keys] for name in EXPLAIN_DIMENSIONS}
    for name in tag_keys:
        columns[name] = [tag_dims[tags].get(name) for tags in tags_column]
    before = [previous.get(key, 0.0) for key in keys]
    after = [current.get(key, 0.0) for key in keys]

    def leaf(index: int) -> attribution.CostRow:
        dims = {name: columns[name][index] for name in EXPLAIN_DIMENSIONS}
        dims.update(tag_dims[tags_column[index]])
        return attribution.CostRow(dims=dims, previous=before[index], current=after[index])

    table = attribution.CostTable(columns=columns, previous=before, current=after, row=leaf)
    return table, (*EXPLAIN_DIMENSIONS, *tag_keys)


def _tag_dimensions(tags_json: str | None) -> dict[str, str | None]:
    """`tag:KEY` → value of a tag set's JSON text (team and project are columns already)."""
    tags = json.loads(tags_json) if tags_json else {}
    return {
        f"tag:{key}": None if value is None else str(value)
        for key, value in (tags or {}).items()
        if key not in ("team", "project")
    }


def _possible_causes(
    ctx: ToolContext, result: attribution.Attribution, start: date, end: date
) -> list[dict[str, Any]]:
    """Production deployments of the driving slices' teams' services in the window."""
    teams = {
        row.dims.get("team") for d in result.drivers for row in d.top_rows if row.dims.get("team")
    }
    if not teams:
        return []
    owners = q.service_teams(ctx.session)
    services = sorted(name for name, team in owners.items() if team in teams)
    if not services:
        return []
    window_start = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    window_end = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    found = q.deployments(ctx.session, start=window_start, end=window_end, services=services)
    return [
        {
            **asdict(d),
            "team": owners.get(d.service or ""),
            "note": "deployed in the window by the owning team: a possible cause, not a proven one",
        }
        for d in found[:10]
    ]


# ------------------------------------------------------------------------------ anomalies


@tool(domain="operations")
def cost_anomalies(
    ctx: ToolContext,
    *,
    days: int = 30,
    team: str | None = None,
    provider: str | None = None,
    min_impact: float = 100.0,
) -> ToolResult:
    """Cost anomalies of the last days with money impact and likely cause, ours beside AWS's own."""
    team_key = _team_key(ctx, team)
    filters = q.CostFilter(provider=provider, team=team_key)
    span = q.cost_date_range(ctx.session, filters=filters)
    if span is None:
        return _no_costs(ctx)
    rules = anomaly_analytics.AnomalyRules(min_impact=min_impact)
    end = min(span[1], ctx.now.date())
    start = end - timedelta(days=days - 1)
    history_start = start - timedelta(days=7 * rules.baseline_weeks)
    series = q.daily_cost_by(
        ctx.session, start=history_start, end=end, dimensions=SERIES_DIMENSIONS, filters=filters
    )
    team_series = q.daily_cost_by(
        ctx.session, start=history_start, end=end, dimensions=("team",), filters=filters
    )
    first_day = span[0]
    ours = [
        a
        for a in anomaly_analytics.detect_all(
            series, dimensions=SERIES_DIMENSIONS, start=start, end=end, rules=rules
        )
        if a.start_day >= first_day
    ]
    teams_found = anomaly_analytics.detect_all(
        {k: v for k, v in team_series.items() if k != (None,)},
        dimensions=("team",),
        start=start,
        end=end,
        rules=rules,
    )
    aws = [a for a in q.stored_anomalies(ctx.session, since=start, detector="aws")]
    owner_of = q.owning_teams(
        ctx.session, start=history_start, end=end, dimensions=SERIES_DIMENSIONS, filters=filters
    )
    service_owner = q.service_teams(ctx.session)
    items = []
    for found in ours:
        key = (found.dimension["service"], found.dimension["region"], found.dimension["account"])
        owner = owner_of.get(key)
        items.append(
            {
                **_plain(found),
                "label": f"{short_service(found.dimension['service'])} in {found.dimension['region']}",
                "owner_team": owner,
                "aws_agrees": [
                    asdict(a)
                    for a in aws
                    if _same_service(a, found.dimension["service"])
                    and (a.end_day is None or a.end_day >= found.start_day)
                    and a.start_day <= found.end_day
                ],
                "possible_causes": _deploys_near(
                    ctx, owner, found.start_day, found.end_day, service_owner
                ),
            }
        )
    biggest = items[0] if items else None
    summary = (
        f"{len(ours)} cost anomal{'y' if len(ours) == 1 else 'ies'} in the last {days} days"
        + (
            f", the largest {money(biggest['impact'])} above expected on {biggest['label']} "
            f"since {_short_day(biggest['start_day'])} ({biggest['severity']})"
            if biggest
            else ""
        )
        + f"; AWS flagged {len(aws)}."
    )
    return ok(
        {
            "window": {"start": start, "end": end},
            "rules": asdict(rules),
            "anomalies": items,
            "team_anomalies": _plain(teams_found),
            "aws_anomalies": _plain(aws),
        },
        summary=summary,
        sources=ctx.sources_for("cost_daily", "cost_anomaly"),
    )


def _same_service(stored: q.AnomalyRow, service: str | None) -> bool:
    """Whether a provider anomaly is about `service` (its monitored value or a root cause)."""
    named = {stored.dimension.get("service"), stored.dimension.get("dimension_value")}
    named |= {cause.get("service") for cause in stored.root_causes if isinstance(cause, dict)}
    return service is not None and service in named


def _deploys_near(
    ctx: ToolContext,
    team: str | None,
    start: date,
    end: date,
    owners: dict[str, str | None],
) -> list[dict[str, Any]]:
    if team is None:
        return []
    services = [name for name, owner in owners.items() if owner == team]
    if not services:
        return []
    found = q.deployments(
        ctx.session,
        start=datetime.combine(start - timedelta(days=2), datetime.min.time(), tzinfo=UTC),
        end=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
        services=services,
    )
    return [asdict(d) for d in found[:5]]


# ------------------------------------------------------------------------------- forecast


def _projection(
    ctx: ToolContext,
    filters: q.CostFilter,
    cost_type: CostType,
    history_days: int,
) -> tuple[forecast.Projection, list[tuple[date, float]], q.BudgetRow | None] | None:
    span = q.cost_date_range(ctx.session, filters=filters)
    if span is None:
        return None
    through = min(span[1], ctx.now.date())
    history = q.daily_cost(
        ctx.session,
        start=max(span[0], through - timedelta(days=history_days)),
        end=through,
        cost_type=cost_type,
        filters=filters,
    )
    last_start = previous_month_start(through)
    last_total = sum(a for d, a in history if last_start <= d < month_start(through))
    has_last_month = bool(history) and history[0][0] <= last_start
    budget = q.matching_budget(q.budgets(ctx.session), team=filters.team, provider=filters.provider)
    projection = forecast.project_month(
        history,
        through=through,
        last_month_total=last_total if has_last_month else None,
        budget=budget.amount if budget else None,
    )
    return projection, history, budget


@tool(domain="operations")
def cost_forecast(
    ctx: ToolContext,
    *,
    team: str | None = None,
    provider: str | None = None,
    cost_type: CostType = "amortized",
    backtest: bool = True,
) -> ToolResult:
    """Month-end cloud spend projection with an interval, vs last month and the budget, and its backtest error."""
    filters = q.CostFilter(provider=provider, team=_team_key(ctx, team))
    found = _projection(ctx, filters, cost_type, history_days=800 if backtest else 460)
    if found is None:
        return _no_costs(ctx)
    projection, history, budget = found
    tested = forecast.backtest(history) if backtest else None
    vendor = q.vendor_forecasts(ctx.session, period_start=projection.month_start)
    parts = [
        f"Projected month-end spend {money(projection.projected_total)} "
        f"({projection.confidence * 100:.0f}% interval {money(projection.lower)}-{money(projection.upper)})"
    ]
    if projection.vs_last_month_pct is not None:
        parts.append(
            f"{percent(projection.vs_last_month_pct)} vs last month ({money(projection.last_month_total or 0)})"
        )
    if projection.budget is not None and projection.vs_budget is not None:
        side = "over" if projection.vs_budget > 0 else "under"
        parts.append(
            f"{money(abs(projection.vs_budget))} {side} the {money(projection.budget)} budget"
        )
    summary = ", ".join(parts) + "."
    if tested is not None and tested.coverage is not None:
        errors = ", ".join(
            f"{error * 100:.1f}% at day {day}"
            for day, error in tested.mape_by_cutoff.items()
            if error is not None
        )
        summary += (
            f" Backtest over {tested.months} months: mean error {errors}; the real total fell"
            f" inside the interval {tested.coverage * 100:.0f}% of the time."
        )
    this_month = [(d, a) for d, a in history if d >= projection.month_start]
    last_start = previous_month_start(projection.through)
    last_month = [(d, a) for d, a in history if last_start <= d < projection.month_start]
    mtd = month_to_date(this_month=this_month, last_month=last_month, through=projection.through)
    values: list[dict[str, Any]] = []
    for point in mtd.series:
        if point.last_month_cumulative is not None:
            values.append(
                {
                    "day": point.day_of_month,
                    "series": "last month",
                    "amount": round(point.last_month_cumulative, 2),
                }
            )
        if point.this_month_cumulative is not None:
            values.append(
                {
                    "day": point.day_of_month,
                    "series": "this month",
                    "amount": round(point.this_month_cumulative, 2),
                }
            )
    running = projection.month_to_date
    band = 0.0
    spread = projection.upper - projection.projected_total
    total_days = max(projection.days_remaining, 1)
    values.append(
        {
            "day": projection.through.day,
            "series": "projection",
            "amount": round(running, 2),
            "lower": round(running, 2),
            "upper": round(running, 2),
        }
    )
    for index, (day, amount) in enumerate(projection.daily_forecast, start=1):
        running += amount
        band = spread * index / total_days
        values.append(
            {
                "day": day.day,
                "series": "projection",
                "amount": round(running, 2),
                "lower": round(max(projection.month_to_date, running - band), 2),
                "upper": round(running + band, 2),
            }
        )
    layers: list[dict[str, Any]] = [
        {
            "transform": [{"filter": "datum.series === 'projection'"}],
            "mark": {"type": "area", "opacity": 0.2},
            "encoding": {
                "x": {"field": "day", "type": "quantitative"},
                "y": {"field": "lower", "type": "quantitative"},
                "y2": {"field": "upper"},
            },
        },
        {
            "mark": {"type": "line", "point": False, "tooltip": True},
            "encoding": {
                "x": {"field": "day", "type": "quantitative", "title": "Day of month"},
                "y": {"field": "amount", "type": "quantitative", "title": "Cumulative USD"},
                "color": {"field": "series", "type": "nominal"},
                "strokeDash": {
                    "condition": {"test": "datum.series === 'projection'", "value": [4, 3]},
                    "value": [1, 0],
                },
            },
        },
    ]
    if projection.budget is not None:
        layers.append(
            {
                "data": {"values": [{"budget": projection.budget}]},
                "mark": {"type": "rule", "color": "firebrick", "strokeDash": [6, 4]},
                "encoding": {"y": {"field": "budget", "type": "quantitative"}},
            }
        )
    chart = _chart("This month vs last month, with the month-end projection", values, layer=layers)
    data = {
        "projection": _plain(projection),
        "budget": asdict(budget) if budget else None,
        "month_to_date": _plain(mtd),
        "backtest": (
            {
                "mape_by_cutoff_day": tested.mape_by_cutoff,
                "months": tested.months,
                "interval_coverage": tested.coverage,
                "points": _plain(tested.points),
            }
            if tested
            else None
        ),
        "vendor_forecasts": _plain(vendor),
    }
    return ok(data, summary=summary, sources=ctx.sources_for("cost_daily", "budget"), chart=chart)


# -------------------------------------------------------------------------------- savings


@tool(domain="operations")
def savings_opportunities(ctx: ToolContext, *, days: int = 30) -> ToolResult:
    """Ranked ways to cut cloud cost with estimated monthly savings: provider advice and our own findings."""
    span = q.cost_date_range(ctx.session)
    recs = q.recommendations(ctx.session)
    if span is None and not recs:
        return _no_costs(ctx)
    kwargs: dict[str, Any] = {}
    if span is not None:
        end = min(span[1], ctx.now.date())
        start = end - timedelta(days=days - 1)
        unowned, total, top = q.unowned_cost(ctx.session, start=start, end=end)
        scale = 30 / days
        kwargs["unowned_monthly"] = unowned * scale
        kwargs["total_monthly"] = total * scale
        kwargs["unowned_top"] = [(name, amount * scale) for name, amount in top]
        kwargs["trends"] = [
            savings.UsageTrend(
                r.service,
                r.region,
                r.account,
                r.project,
                r.usage_type,
                r.recent_daily,
                r.baseline_daily,
            )
            for r in q.usage_trends(
                ctx.session,
                baseline_start=end - timedelta(days=34),
                recent_start=end - timedelta(days=6),
                end=end,
            )
        ]
        compute = q.compute_cost_by_team(ctx.session, start=start, end=end)
        owners = q.service_teams(ctx.session)
        host_rows = q.hosts(ctx.session)
        per_team: dict[str | None, int] = {}
        for host in host_rows:
            team_key = owners.get(host.service or "")
            per_team[team_key] = per_team.get(team_key, 0) + 1
        kwargs["hosts"] = [
            savings.HostUsage(
                host=h.host,
                service=h.service,
                team=owners.get(h.service or ""),
                status=h.status,
                cpu_pct=h.cpu_pct,
                monthly_cost=(compute.get(owners.get(h.service or "")) or 0.0)
                * scale
                / per_team[owners.get(h.service or "")]
                if compute.get(owners.get(h.service or ""))
                else None,
            )
            for h in host_rows
        ]
    report = savings.find_savings(
        recommendations=[
            savings.Recommendation(
                r.kind,
                r.summary,
                r.estimated_monthly_saving,
                r.resource,
                r.account,
                r.region,
                r.details,
            )
            for r in recs
        ],
        **kwargs,
    )
    if not report.opportunities:
        return ok(
            _plain(report),
            summary="No savings opportunities found.",
            sources=ctx.sources_for("cost_daily", "cost_recommendation"),
        )
    top_item = report.opportunities[0]
    summary = (
        f"{money(report.total_monthly_saving)}/month in {len(report.opportunities)} savings opportunities; "
        f"the largest: {top_item.title} ({money(top_item.estimated_monthly_saving)}/month)."
    )
    chart = _chart(
        "Estimated monthly savings",
        [
            {
                "opportunity": o.title[:60],
                "saving": round(o.estimated_monthly_saving, 2),
                "found_by": o.found_by,
            }
            for o in report.opportunities[:12]
        ],
        mark={"type": "bar", "tooltip": True},
        encoding={
            "y": {"field": "opportunity", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "saving", "type": "quantitative", "title": "USD / month"},
            "color": {"field": "found_by", "type": "nominal"},
        },
    )
    return ok(
        _plain(report),
        summary=summary,
        sources=ctx.sources_for("cost_daily", "cost_recommendation", "host_health"),
        chart=chart,
    )


# ------------------------------------------------------------------------------------ SLOs


def _slo_sums(ctx: ToolContext, rows: list[q.SloRow]) -> dict[str, slo_analytics.WindowSums]:
    """Each SLO's SLI events summed in SQL over its windows, ending at its newest bucket's end."""
    since = ctx.now - timedelta(days=max(row.window_days for row in rows))
    newest = q.sli_newest(ctx.session, slo_ids=[row.source_id for row in rows], since=since)
    ends = {
        slo_id: slo_analytics.window_end(at, previous, ctx.now)
        for slo_id, (at, previous) in newest.items()
    }
    spans = set().union(*(slo_analytics.windows(row.window_days) for row in rows))
    events = q.sli_window_sums(ctx.session, ends=ends, since=since, windows=spans)
    return {
        slo_id: slo_analytics.WindowSums(as_of=end, events=events[slo_id])
        for slo_id, end in ends.items()
    }


def _slo_statuses(ctx: ToolContext, services: list[str] | None) -> list[slo_analytics.SloStatus]:
    rows = q.slos(ctx.session, services=services)
    if not rows:
        return []
    sums = _slo_sums(ctx, rows)
    statuses = [
        slo_analytics.evaluate_sums(
            name=row.name,
            service=row.service,
            target=row.target,
            window_days=row.window_days,
            sums=sums.get(row.source_id),
            now=ctx.now,
        )
        for row in rows
    ]
    order = {"burning": 0, "breached": 1, "at_risk": 2, "ok": 3, "no_data": 4}
    statuses.sort(
        key=lambda s: (
            order[s.status],
            s.budget_remaining if s.budget_remaining is not None else 9,
            s.name,
        )
    )
    return statuses


def _team_services(ctx: ToolContext, team_key: str | None, service: str | None) -> list[str] | None:
    if service is not None:
        return [service]
    if team_key is None:
        return None
    return sorted(name for name, owner in q.service_teams(ctx.session).items() if owner == team_key)


@tool(domain="operations")
def slo_status(
    ctx: ToolContext, *, service: str | None = None, team: str | None = None
) -> ToolResult:
    """SLOs with error budget left, burn rate, multi-window burn-rate alerts and exhaustion time."""
    statuses = _slo_statuses(ctx, _team_services(ctx, _team_key(ctx, team), service))
    if not statuses:
        return no_data("No SLOs have been synced for this scope.", sources=ctx.sources_for("slo"))
    troubled = [s for s in statuses if s.status in ("burning", "breached", "at_risk")]
    if troubled:
        worst = troubled[0]
        left = (
            f"{worst.budget_remaining * 100:.0f}%" if worst.budget_remaining is not None else "n/a"
        )
        summary = (
            f"{len(troubled)} of {len(statuses)} SLOs need attention; worst: {worst.name} "
            f"({worst.status}, {worst.reason}, {left} of the error budget left"
            + (
                f", exhausted by {worst.exhaustion_at:%b %d %H:%M} UTC at this burn"
                if worst.exhaustion_at
                else ""
            )
            + ")."
        )
    else:
        summary = f"All {len(statuses)} SLOs are within budget."
    chart = _chart(
        "Error budget remaining",
        [
            {
                "slo": s.name,
                "remaining": round((s.budget_remaining or 0) * 100, 1),
                "status": s.status,
            }
            for s in statuses
        ],
        mark={"type": "bar", "tooltip": True},
        encoding={
            "y": {"field": "slo", "type": "nominal", "sort": "x", "title": None},
            "x": {"field": "remaining", "type": "quantitative", "title": "% of error budget left"},
            "color": {"field": "status", "type": "nominal"},
        },
    )
    return ok(
        {"slos": [slo_analytics.as_dict(s) for s in statuses]},
        summary=summary,
        sources=ctx.sources_for("slo", "sli_point"),
        chart=chart,
    )


# ------------------------------------------------------------------------------- incidents


def _age(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _names(ctx: ToolContext) -> dict[str, tuple[str | None, str | None, str | None]]:
    return q.people(ctx.session)


@tool(domain="operations")
def active_incidents(
    ctx: ToolContext, *, team: str | None = None, service: str | None = None
) -> ToolResult:
    """Active incidents with severity, assignee, age, responders and timeline."""
    team_key = _team_key(ctx, team)
    open_ = q.incidents(ctx.session, team=team_key, service=service, open_only=True)
    events = q.incident_events(ctx.session, keys=[i.key for i in open_])
    views = incident_analytics.active(open_, events, now=ctx.now)
    names = _names(ctx)
    items = [
        {
            **_plain(v),
            "assignee_name": names.get(v.assignee or "", (None,))[0],
            "age": _age(v.age_minutes),
        }
        for v in views
    ]
    sources = ctx.sources_for("incident", "incident_event")
    if not items:
        if not sources:
            return no_data("No incident data has been synced yet.")
        return ok({"incidents": []}, summary="No active incidents.", sources=sources)
    first = items[0]
    summary = (
        f"{len(items)} active incident{'s' if len(items) != 1 else ''}: {first['severity']} on "
        f"{first['service']} ({first['title']}), assigned to {first['assignee_name'] or first['assignee']}, "
        f"{first['age']} old."
    )
    return ok({"incidents": items}, summary=summary, sources=sources)


@tool(domain="operations")
def incident_details(ctx: ToolContext, *, incident: str) -> ToolResult:
    """One incident's timeline, impact, responders and the deployment linked to it."""
    record = q.incident_by_key(ctx.session, key=incident)
    if record is None:
        return no_data(f"No incident {incident!r} found.", sources=ctx.sources_for("incident"))
    events = q.incident_events(ctx.session, keys=[record.key]).get(record.key, [])
    detail = incident_analytics.view(record, events, now=ctx.now)
    deployment = (
        q.deployment_by_id(ctx.session, deployment_id=record.caused_by_deployment)
        if record.caused_by_deployment
        else None
    )
    slos = (
        [s for s in _slo_statuses(ctx, [record.service]) if s.status != "no_data"]
        if record.service
        else []
    )
    names = _names(ctx)
    state = "resolved" if record.resolved_at else record.status
    summary = (
        f"{record.key} ({record.severity}, {state}) on {record.service}: {record.title}; "
        f"{_age(detail.age_minutes)} {'long' if record.resolved_at else 'old'}, "
        f"{len(detail.responders)} responder(s)"
        + (
            f", linked to deployment {deployment.sha[:7] if deployment.sha else deployment.source_id}"
            if deployment
            else ""
        )
        + "."
    )
    return ok(
        {
            "incident": _plain(detail),
            "responder_names": {r: names.get(r, (None,))[0] for r in detail.responders},
            "linked_deployment": asdict(deployment) if deployment else None,
            "impact": {
                "slos": [
                    {
                        "name": s.name,
                        "status": s.status,
                        "budget_remaining": s.budget_remaining,
                        "burn_rate_1h": s.burn_rate_1h,
                    }
                    for s in slos
                ]
            },
        },
        summary=summary,
        sources=ctx.sources_for("incident", "incident_event"),
    )


@tool(domain="operations")
def incident_stats(
    ctx: ToolContext, *, team: str | None = None, service: str | None = None, days: int = 30
) -> ToolResult:
    """Incident counts by severity, MTTA and MTTR by team and severity, pages per person and after-hours pages."""
    team_key = _team_key(ctx, team)
    since = ctx.now - timedelta(days=days)
    found = q.incidents(ctx.session, team=team_key, service=service, since=since, until=ctx.now)
    sources = ctx.sources_for("incident")
    if not found:
        if not sources:
            return no_data("No incident data has been synced yet.")
        return ok(
            {"incidents": 0}, summary=f"No incidents in the last {days} days.", sources=sources
        )
    overall = incident_analytics.response_times(found)
    by_team = incident_analytics.grouped_response_times(found, lambda i: i.team)
    by_severity = incident_analytics.grouped_response_times(found, lambda i: i.severity)
    load = incident_analytics.pager_load(found, people=q.people(ctx.session))
    after = sum(p.after_hours for p in load)
    summary = (
        f"{overall.incidents} incidents in the last {days} days, MTTA "
        f"{_age(overall.mtta_minutes or 0)}, MTTR {_age(overall.mttr_minutes or 0)}; "
        f"{after} of {sum(p.pages for p in load)} pages came after hours."
    )
    chart = _chart(
        f"MTTR by team, last {days} days (hours)",
        [
            {
                "team": t,
                "mttr_hours": round((r.mttr_minutes or 0) / 60, 2),
                "incidents": r.incidents,
            }
            for t, r in by_team.items()
        ],
        mark={"type": "bar", "tooltip": True},
        encoding={
            "x": {"field": "team", "type": "nominal", "sort": "-y"},
            "y": {"field": "mttr_hours", "type": "quantitative", "title": "MTTR (h)"},
        },
    )
    return ok(
        {
            "window": {"since": since, "until": ctx.now},
            "overall": asdict(overall),
            "by_team": _plain(by_team),
            "by_severity": _plain(by_severity),
            "pager_load": _plain(load),
        },
        summary=summary,
        sources=sources,
        chart=chart,
    )


@tool(domain="operations")
def postmortems(ctx: ToolContext, *, days: int = 90, team: str | None = None) -> ToolResult:
    """Recent postmortems, major incidents still missing one, and their open follow-ups."""
    team_key = _team_key(ctx, team)
    found = [
        i
        for i in q.incidents(ctx.session, team=team_key, since=ctx.now - timedelta(days=days + 30))
        if i.resolved_at and i.resolved_at >= ctx.now - timedelta(days=days)
    ]
    follow = q.follow_up_tickets(
        ctx.session,
        keys=[i.key for i in found if i.postmortem_url or i.severity in incident_analytics.MAJOR],
    )
    items = incident_analytics.postmortems(found, follow)
    sources = ctx.sources_for("incident", "ticket")
    if not items:
        return ok(
            {"postmortems": []},
            summary=f"No postmortems due in the last {days} days.",
            sources=sources,
        )
    written = [i for i in items if not i.missing]
    missing = [i for i in items if i.missing]
    open_follow = sum(i.open_follow_ups for i in items)
    summary = (
        f"{len(written)} postmortem(s) in the last {days} days, {len(missing)} major incident(s) "
        f"without one"
        + (f" (latest {missing[0].key} on {missing[0].service})" if missing else "")
        + f"; {open_follow} open follow-up(s)."
    )
    return ok({"postmortems": _plain(items)}, summary=summary, sources=sources)


# --------------------------------------------------------------------------------- on-call


@tool(domain="operations")
def on_call(
    ctx: ToolContext,
    *,
    team: str | None = None,
    at: datetime | None = None,
    level: int | None = None,
) -> ToolResult:
    """Who is on call now or at a given time, by team and escalation level, overrides included."""
    team_key = _team_key(ctx, team)
    moment = _aware(at, ctx.now)
    shifts = q.oncall_shifts(ctx.session, at=moment, team=team_key)
    entries = oncall_analytics.on_call_at(shifts, at=moment)
    if level is not None:
        entries = [e for e in entries if e.level == level]
    sources = ctx.sources_for("oncall_shift")
    if not entries:
        return no_data(
            f"Nobody is on call{' for ' + team_key if team_key else ''} at {moment:%Y-%m-%d %H:%M} UTC in the synced schedules.",
            sources=sources,
        )
    names = _names(ctx)
    items = [
        {
            **asdict(e),
            "name": names.get(e.person, (None,))[0] or e.person,
            "timezone": names.get(e.person, (None, None, None))[2],
        }
        for e in entries
    ]
    when = "now" if at is None else f"at {moment:%Y-%m-%d %H:%M} UTC"
    level_word = {1: "primary", 2: "secondary"}
    parts = [
        f"{item['name']} ({level_word.get(item['level']) or 'level ' + str(item['level'])}"
        + (", override" if item["is_override"] else "")
        + f", until {item['until']:%a %H:%M} UTC)"
        for item in items[:4]
    ]
    scope = f" for {team_key}" if team_key else ""
    summary = (
        f"On call{scope} {when}: " + "; ".join(parts) + ("; …" if len(items) > 4 else "") + "."
    )
    return ok({"at": moment, "on_call": items}, summary=summary, sources=sources)


# ------------------------------------------------------------------------------ infra health


@tool(domain="operations")
def infrastructure_health(
    ctx: ToolContext, *, service: str | None = None, team: str | None = None
) -> ToolResult:
    """Health of hosts and monitors by service, and what changed in the last 24 hours."""
    services = _team_services(ctx, _team_key(ctx, team), service)
    host_rows = q.hosts(ctx.session, services=services)
    monitor_rows = q.monitors(ctx.session, services=services)
    sources = ctx.sources_for("host_health", "monitor")
    if not host_rows and not monitor_rows:
        return no_data("No hosts or monitors have been synced for this scope.", sources=sources)
    report = infra_analytics.health(
        hosts=host_rows,
        monitors=monitor_rows,
        deployments=q.deployment_records(
            ctx.session, start=ctx.now - timedelta(hours=24), end=ctx.now, services=services
        ),
        teams=q.service_teams(ctx.session),
        now=ctx.now,
    )
    unhealthy = [s for s in report.services if s.status in ("down", "alert", "warn")]
    summary = (
        f"{len(unhealthy)} of {len(report.services)} services unhealthy"
        + (
            f" ({', '.join(f'{s.service}: {s.reason}' for s in unhealthy[:3])})"
            if unhealthy
            else ""
        )
        + f"; {len(report.changes)} change(s) in the last 24 h."
    )
    return ok(_plain(report), summary=summary, sources=sources)


# ------------------------------------------------------------------------ executive summary


def operations_summary(ctx: ToolContext) -> dict[str, Any]:
    """The operations facts for `executive_summary`: incidents, spend vs budget, SLOs at risk."""
    open_ = q.incidents(ctx.session, open_only=True)
    views = incident_analytics.active(open_, {}, now=ctx.now)
    slos = _slo_statuses(ctx, None)
    at_risk = [s for s in slos if s.status in ("burning", "breached", "at_risk")]
    found = _projection(ctx, q.CostFilter(), "amortized", history_days=70)
    spend: dict[str, Any] | None = None
    if found is not None:
        projection, _, budget = found
        spend = {
            "month_to_date": projection.month_to_date,
            "projected_total": projection.projected_total,
            "lower": projection.lower,
            "upper": projection.upper,
            "last_month_total": projection.last_month_total,
            "budget": projection.budget,
            "budget_name": budget.name if budget else None,
            "over_budget": projection.over_budget,
            "through": projection.through,
        }
    reasons: list[str] = []
    status = "nominal"
    if any(incident_analytics.severity_rank(v.severity) == 1 for v in views):
        status = "critical"
        reasons.append("a SEV-1 incident is active")
    if any(incident_analytics.severity_rank(v.severity) == 2 for v in views):
        status = "critical" if status == "critical" else "degraded"
        reasons.append("a SEV-2 incident is active")
    if any(s.status == "burning" for s in slos):
        status = "critical" if status == "critical" else "degraded"
        reasons.append("an SLO is burning its error budget fast")
    if spend and spend["over_budget"]:
        reasons.append("cloud spend is projected over budget")
        status = "degraded" if status == "nominal" else status
    return {
        "status": status,
        "reasons": reasons,
        "active_incidents": [
            {
                "key": v.key,
                "severity": v.severity,
                "service": v.service,
                "title": v.title,
                "assignee": v.assignee,
                "age_minutes": v.age_minutes,
            }
            for v in views
        ],
        "slos_at_risk": [
            {
                "name": s.name,
                "service": s.service,
                "status": s.status,
                "reason": s.reason,
                "budget_remaining": s.budget_remaining,
                "burn_rate_1h": s.burn_rate_1h,
            }
            for s in at_risk
        ],
        "spend": spend,
    }
