"""Cost Explorer responses → cost_daily, cost_forecast, cost_anomaly and cost_recommendation rows."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from cto_assistant.connectors.payload import Reader

NO_TAG = ""  # CE's group key for untagged cost is "key$"
NO_REGION = "NoRegion"  # CE's REGION value for global services
ROOT_CAUSE_KEYS = {
    "Service": "service",
    "Region": "region",
    "LinkedAccount": "account",
    "LinkedAccountName": "account_name",
    "UsageType": "usage_type",
}


def _amount(group: Reader, metric: str) -> tuple[float, str]:
    r = group.need_child(f"Metrics.{metric}")
    return r.need_number("Amount"), r.text("Unit") or "USD"


def _keys(group: Reader) -> tuple[str, str]:
    """The group's two dimension values (e.g. [service, tag] or [account, region])."""
    keys = group.need_list("Keys")
    if len(keys) != 2:
        raise group.drift("Keys", f"has {len(keys)} values, expected two (one per group-by)")
    return group.need_text("Keys.0"), group.need_text("Keys.1")


def cost_rows(
    body: Any,
    *,
    source: str,
    account: str,
    region: str,
    tag_key: str,
    team_tag_key: str,
    project_tag_key: str,
) -> list[dict[str, Any]]:
    """One GetCostAndUsage page grouped by [SERVICE, TAG:tag_key] for one account and region."""
    page = Reader(body, source=source, stream="costs", what="GetCostAndUsage response")
    rows: list[dict[str, Any]] = []
    for r in page.need_objects("ResultsByTime", "ResultByTime"):
        day = r.need_day("TimePeriod.Start")
        for g in r.objects("Groups", "cost group"):
            service, tag_group = _keys(g)
            _, _, tag_value = tag_group.partition("$")
            amortized, currency = _amount(g, "AmortizedCost")
            unblended, _ = _amount(g, "UnblendedCost")
            tags = {tag_key: tag_value} if tag_value != NO_TAG else {}
            identity = "|".join([day.isoformat(), account, region, service, tag_key, tag_value])
            rows.append(
                {
                    "source": source,
                    "source_id": "ce:" + hashlib.sha1(identity.encode()).hexdigest()[:32],  # noqa: S324 - a key
                    "day": day,
                    "provider": "aws",
                    "account": account,
                    "service": service,
                    "region": None if region == NO_REGION else region,
                    "usage_type": None,
                    "tags": tags,
                    "team": tags.get(team_tag_key),
                    "project": tags.get(project_tag_key),
                    "amortized_cost": amortized,
                    "unblended_cost": unblended,
                    "currency": currency,
                    "import_batch": None,
                }
            )
    return rows


def account_regions(body: Any, *, source: str) -> set[tuple[str, str]]:
    """The (account, region) pairs with cost in a page grouped by [LINKED_ACCOUNT, REGION]."""
    page = Reader(body, source=source, stream="costs", what="GetCostAndUsage response")
    pairs: set[tuple[str, str]] = set()
    for result in page.need_objects("ResultsByTime", "ResultByTime"):
        for group in result.objects("Groups", "cost group"):
            pairs.add(_keys(group))
    return pairs


def forecast(body: Any, *, source: str, metric: str, start: date, end: date) -> dict[str, Any]:
    """A GetCostForecast response → one cost_forecast row for [start, end)."""
    r = Reader(body, source=source, stream="forecast", what="GetCostForecast response")
    total = r.need_child("Total")
    results = r.objects("ForecastResultsByTime", "forecast period")
    return {
        "source": source,
        "source_id": f"forecast:{metric}:{start.isoformat()}:{end.isoformat()}",
        "provider": "aws",
        "metric": metric,
        "period_start": start,
        "period_end": end,
        "amount": total.need_number("Amount"),
        "lower": _bound_sum(results, "PredictionIntervalLowerBound"),
        "upper": _bound_sum(results, "PredictionIntervalUpperBound"),
        "currency": total.text("Unit") or "USD",
    }


def _bound_sum(results: list[Reader], bound: str) -> float | None:
    """The sum of one prediction bound over the forecast periods that give it (None if none do)."""
    values = [value for result in results if (value := result.number(bound)) is not None]
    return sum(values) if values else None


def anomaly(obj: Any, *, source: str) -> dict[str, Any]:
    """An Anomaly → cost_anomaly row (detector 'aws')."""
    r = Reader(obj, source=source, stream="anomalies", what="anomaly")
    impact = r.need_child("Impact")
    causes = [
        {ours: cause.get(theirs) for theirs, ours in ROOT_CAUSE_KEYS.items() if cause.get(theirs)}
        for cause in r.objects("RootCauses", "root cause")
    ]
    max_impact = impact.need_number("MaxImpact")
    total_impact = impact.number("TotalImpact")
    return {
        "source": source,
        "source_id": str(r.need("AnomalyId")),
        "detector": "aws",
        "start_day": r.need_day("AnomalyStartDate"),
        "end_day": r.day("AnomalyEndDate"),
        "dimension": {
            "monitor_arn": r.need("MonitorArn"),
            "dimension_value": r.get("DimensionValue"),
        },
        "expected": impact.number("TotalExpectedSpend"),
        "actual": impact.number("TotalActualSpend"),
        "impact": max_impact if total_impact is None else total_impact,
        "root_causes": causes,
    }


def rightsizing(obj: Any, *, source: str) -> dict[str, Any]:
    """A RightsizingRecommendation → cost_recommendation row (kind 'rightsizing')."""
    r = Reader(obj, source=source, stream="recommendations", what="rightsizing recommendation")
    current = r.need_child("CurrentInstance")
    action = str(r.need("RightsizingType"))
    current_type = current.text("ResourceDetails.EC2ResourceDetails.InstanceType")
    resource = current.text("InstanceName") or str(current.need("ResourceId"))
    target_type = None
    if action == "Modify":
        target = _default_target(r)
        saving = target.need_number("EstimatedMonthlySavings")
        currency = target.text("CurrencyCode") or "USD"
        target_type = target.text("ResourceDetails.EC2ResourceDetails.InstanceType")
        summary = f"Downsize {resource} from {current_type} to {target_type}"
    else:
        detail = r.need_child("TerminateRecommendationDetail")
        saving = detail.need_number("EstimatedMonthlySavings")
        currency = detail.text("CurrencyCode") or "USD"
        summary = f"Terminate idle {resource} ({current_type})"
    return {
        "source": source,
        "source_id": str(current.need("ResourceId")),
        "kind": "rightsizing",
        "resource": resource,
        "account": r.get("AccountId"),
        "region": current.text("ResourceDetails.EC2ResourceDetails.Region"),
        "summary": summary,
        "estimated_monthly_saving": saving,
        "currency": currency,
        "details": {
            "action": action.lower(),
            "current_type": current_type,
            "target_type": target_type,
            "monthly_cost": current.number("MonthlyCost") or 0.0,
            "findings": r.items("FindingReasonCodes"),
        },
    }


def _default_target(r: Reader) -> Reader:
    """The target instance AWS marks as the default, else the first one."""
    path = "ModifyRecommendationDetail.TargetInstances"
    targets = r.need_objects(path, "target instance")
    if not targets:
        raise r.drift(path, "is empty, expected at least one target instance")
    return next((t for t in targets if t.get("DefaultTargetInstance")), targets[0])


def savings_plans(body: Any, *, source: str) -> list[dict[str, Any]]:
    """A GetSavingsPlansPurchaseRecommendation response → cost_recommendation rows."""
    r = Reader(body, source=source, stream="recommendations", what="Savings Plans recommendation")
    rec = r.child("SavingsPlansPurchaseRecommendation")
    plan_type = rec.text("SavingsPlansType") or "COMPUTE_SP"
    term = rec.text("TermInYears") or "ONE_YEAR"
    payment = rec.text("PaymentOption") or "NO_UPFRONT"
    rows = []
    for d in rec.objects("SavingsPlansPurchaseRecommendationDetails", "Savings Plans detail"):
        hourly = d.need_number("HourlyCommitmentToPurchase")
        family = d.text("SavingsPlansDetails.InstanceFamily")
        rows.append(
            {
                "source": source,
                "source_id": str(d.need("RecommendationDetailId")),
                "kind": "savings_plan",
                "resource": f"{plan_type}{':' + family if family else ''}",
                "account": d.get("AccountId"),
                "region": d.text("SavingsPlansDetails.Region") or None,
                "summary": f"Commit ${hourly:,.2f}/hour to a {term.replace('_', ' ').lower()} {plan_type} ({payment.replace('_', ' ').lower()})",
                "estimated_monthly_saving": d.need_number("EstimatedMonthlySavingsAmount"),
                "currency": d.text("CurrencyCode") or "USD",
                "details": {
                    "savings_plans_type": plan_type,
                    "term": term,
                    "payment_option": payment,
                    "hourly_commitment": hourly,
                    "estimated_roi": d.number("EstimatedROI") or 0.0,
                },
            }
        )
    return rows
