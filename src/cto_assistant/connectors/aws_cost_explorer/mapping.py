"""Cost Explorer responses → cost_daily, cost_forecast, cost_anomaly and cost_recommendation rows."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from cto_assistant.connectors.payload import Reader
from cto_assistant.errors import SchemaDriftError

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
    value = group.need(f"Metrics.{metric}")
    r = Reader(value, source=group.source, stream=group.stream, what=f"metric {metric}")
    return float(r.need("Amount")), str(r.get("Unit") or "USD")


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
    for result in page.need("ResultsByTime"):
        r = Reader(result, source=source, stream="costs", what="ResultByTime")
        day = date.fromisoformat(str(r.need("TimePeriod.Start")))
        for group in r.get("Groups", []):
            g = Reader(group, source=source, stream="costs", what="cost group")
            keys = g.need("Keys")
            if not isinstance(keys, list) or len(keys) != 2:
                raise SchemaDriftError(
                    source, "cost group Keys is not [service, tag]", stream="costs", field="Keys"
                )
            service, tag_group = str(keys[0]), str(keys[1])
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
    for result in page.need("ResultsByTime"):
        for group in Reader(result, source=source, stream="costs").get("Groups", []):
            keys = Reader(group, source=source, stream="costs", what="cost group").need("Keys")
            pairs.add((str(keys[0]), str(keys[1])))
    return pairs


def forecast(body: Any, *, source: str, metric: str, start: date, end: date) -> dict[str, Any]:
    """A GetCostForecast response → one cost_forecast row for [start, end)."""
    r = Reader(body, source=source, stream="forecast", what="GetCostForecast response")
    total = Reader(r.need("Total"), source=source, stream="forecast", what="forecast total")
    lower = upper = None
    results = r.get("ForecastResultsByTime", [])
    if results:
        lows = [
            float(x["PredictionIntervalLowerBound"])
            for x in results
            if x.get("PredictionIntervalLowerBound")
        ]
        highs = [
            float(x["PredictionIntervalUpperBound"])
            for x in results
            if x.get("PredictionIntervalUpperBound")
        ]
        lower = sum(lows) if lows else None
        upper = sum(highs) if highs else None
    return {
        "source": source,
        "source_id": f"forecast:{metric}:{start.isoformat()}:{end.isoformat()}",
        "provider": "aws",
        "metric": metric,
        "period_start": start,
        "period_end": end,
        "amount": float(total.need("Amount")),
        "lower": lower,
        "upper": upper,
        "currency": str(total.get("Unit") or "USD"),
    }


def anomaly(obj: Any, *, source: str) -> dict[str, Any]:
    """An Anomaly → cost_anomaly row (detector 'aws')."""
    r = Reader(obj, source=source, stream="anomalies", what="anomaly")
    impact = Reader(r.need("Impact"), source=source, stream="anomalies", what="anomaly impact")
    causes = []
    for cause in r.get("RootCauses", []):
        causes.append(
            {ours: cause[theirs] for theirs, ours in ROOT_CAUSE_KEYS.items() if cause.get(theirs)}
        )
    start = r.get("AnomalyStartDate")
    end = r.get("AnomalyEndDate")
    return {
        "source": source,
        "source_id": str(r.need("AnomalyId")),
        "detector": "aws",
        "start_day": _day(start, r, "AnomalyStartDate"),
        "end_day": _day(end, r, "AnomalyEndDate") if end else None,
        "dimension": {
            "monitor_arn": r.need("MonitorArn"),
            "dimension_value": r.get("DimensionValue"),
        },
        "expected": impact.get("TotalExpectedSpend"),
        "actual": impact.get("TotalActualSpend"),
        "impact": impact.get("TotalImpact", impact.need("MaxImpact")),
        "root_causes": causes,
    }


def _day(value: Any, r: Reader, path: str) -> date:
    if value is None:
        value = r.need(path)
    text = str(value)[:10]
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SchemaDriftError(
            r.source, f"{path} is not a date: {text!r}", stream=r.stream, field=path
        ) from exc


def rightsizing(obj: Any, *, source: str) -> dict[str, Any]:
    """A RightsizingRecommendation → cost_recommendation row (kind 'rightsizing')."""
    r = Reader(obj, source=source, stream="recommendations", what="rightsizing recommendation")
    current = Reader(
        r.need("CurrentInstance"), source=source, stream="recommendations", what="current instance"
    )
    action = str(r.need("RightsizingType"))
    current_type = current.get("ResourceDetails.EC2ResourceDetails.InstanceType")
    region = current.get("ResourceDetails.EC2ResourceDetails.Region")
    target_type = None
    if action == "Modify":
        targets = r.need("ModifyRecommendationDetail.TargetInstances")
        target = next((t for t in targets if t.get("DefaultTargetInstance")), targets[0])
        saving = float(
            Reader(target, source=source, stream="recommendations").need("EstimatedMonthlySavings")
        )
        currency = target.get("CurrencyCode") or "USD"
        target_type = (
            (target.get("ResourceDetails") or {}).get("EC2ResourceDetails", {}).get("InstanceType")
        )
        summary = f"Downsize {current.get('InstanceName') or current.need('ResourceId')} from {current_type} to {target_type}"
    else:
        detail = Reader(
            r.need("TerminateRecommendationDetail"), source=source, stream="recommendations"
        )
        saving = float(detail.need("EstimatedMonthlySavings"))
        currency = detail.get("CurrencyCode") or "USD"
        summary = f"Terminate idle {current.get('InstanceName') or current.need('ResourceId')} ({current_type})"
    return {
        "source": source,
        "source_id": str(current.need("ResourceId")),
        "kind": "rightsizing",
        "resource": current.get("InstanceName") or current.need("ResourceId"),
        "account": r.get("AccountId"),
        "region": region,
        "summary": summary,
        "estimated_monthly_saving": saving,
        "currency": currency,
        "details": {
            "action": action.lower(),
            "current_type": current_type,
            "target_type": target_type,
            "monthly_cost": float(current.get("MonthlyCost") or 0.0),
            "findings": list(r.get("FindingReasonCodes", [])),
        },
    }


def savings_plans(body: Any, *, source: str) -> list[dict[str, Any]]:
    """A GetSavingsPlansPurchaseRecommendation response → cost_recommendation rows."""
    r = Reader(body, source=source, stream="recommendations", what="Savings Plans recommendation")
    rec = r.get("SavingsPlansPurchaseRecommendation") or {}
    plan_type = rec.get("SavingsPlansType", "COMPUTE_SP")
    term = rec.get("TermInYears", "ONE_YEAR")
    payment = rec.get("PaymentOption", "NO_UPFRONT")
    rows = []
    for item in rec.get("SavingsPlansPurchaseRecommendationDetails", []):
        d = Reader(item, source=source, stream="recommendations", what="Savings Plans detail")
        hourly = float(d.need("HourlyCommitmentToPurchase"))
        family = d.get("SavingsPlansDetails.InstanceFamily")
        rows.append(
            {
                "source": source,
                "source_id": str(d.need("RecommendationDetailId")),
                "kind": "savings_plan",
                "resource": f"{plan_type}{':' + family if family else ''}",
                "account": d.get("AccountId"),
                "region": d.get("SavingsPlansDetails.Region") or None,
                "summary": f"Commit ${hourly:,.2f}/hour to a {term.replace('_', ' ').lower()} {plan_type} ({payment.replace('_', ' ').lower()})",
                "estimated_monthly_saving": float(d.need("EstimatedMonthlySavingsAmount")),
                "currency": d.get("CurrencyCode") or "USD",
                "details": {
                    "savings_plans_type": plan_type,
                    "term": term,
                    "payment_option": payment,
                    "hourly_commitment": hourly,
                    "estimated_roi": float(d.get("EstimatedROI") or 0.0),
                },
            }
        )
    return rows
