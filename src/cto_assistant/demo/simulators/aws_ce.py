"""AWS Cost Explorer simulator: the awsJson1_1 protocol served from the world's cost rows.

`POST /` with `X-Amz-Target: AWSInsightsIndexService.<Operation>` and a JSON body, as boto3
sends it: GetCostAndUsage (DAILY/MONTHLY, Metrics, up to two GroupBy of DIMENSION
SERVICE/REGION/LINKED_ACCOUNT/USAGE_TYPE or TAG, Filter with Dimensions/Tags/And, paged with
NextPageToken), GetCostForecast (the world's `cost_forecast` row for that metric and period
when there is one), GetAnomalies, GetRightsizingRecommendation and
GetSavingsPlansPurchaseRecommendation, from the world's `cost_daily` (provider aws),
`cost_anomaly` (detector aws) and `cost_recommendation` rows.

Auth: a SigV4 `Authorization` header whose credential is the demo access key
`AKIADEMOACME00000000` (secret `demo-secret-key`). The signature itself is not verified: the
point is that boto3's real signing path runs. No header → 401 MissingAuthenticationTokenException;
another key → 403 UnrecognizedClientException, in AWS's JSON error shape.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cto_assistant.demo.simulators.common import new_simulator
from cto_assistant.demo.world import Row, World

DEMO_CREDENTIALS = {"access_key_id": "AKIADEMOACME00000000", "secret_access_key": "demo-secret-key"}
TARGET_PREFIX = "AWSInsightsIndexService."
MONITOR_ARN = "arn:aws:ce::000000000000:anomalymonitor/acme-services"
DIMENSIONS = {
    "SERVICE": "service",
    "REGION": "region",
    "LINKED_ACCOUNT": "account",
    "USAGE_TYPE": "usage_type",
}
METRICS = {
    "AmortizedCost": "amortized",
    "UnblendedCost": "unblended",
    "BlendedCost": "unblended",
    "NetUnblendedCost": "unblended",
    "NetAmortizedCost": "amortized",
}
CAUSE_KEYS = {
    "service": "Service",
    "region": "Region",
    "account": "LinkedAccount",
    "account_name": "LinkedAccountName",
    "usage_type": "UsageType",
}
AMZ_JSON = "application/x-amz-json-1.1"


def aws_error(status: int, code: str, message: str) -> JSONResponse:
    """An error in the awsJson1_1 shape boto3 parses."""
    return JSONResponse(
        {"__type": code, "message": message},
        status_code=status,
        headers={"x-amzn-ErrorType": code},
        media_type=AMZ_JSON,
    )


def _money(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".") if value else "0"


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])


class CostIndex:
    """The world's AWS daily costs, indexed once by day."""

    def __init__(self, rows: list[Row]) -> None:
        self.answers: dict[str, list[dict[str, Any]]] = {}  # query (without page token) → results
        self.by_day: dict[date, list[Row]] = defaultdict(list)
        for row in rows:
            if row.get("provider", "aws") == "aws":
                day = (
                    row["day"]
                    if isinstance(row["day"], date)
                    else date.fromisoformat(str(row["day"]))
                )
                self.by_day[day].append(row)

    def value(self, row: Row, group: dict[str, str]) -> str:
        """The key a row has for one GroupBy entry (TAG keys in CE's 'key$value' form)."""
        if group["Type"] == "TAG":
            value = (row.get("tags") or {}).get(group["Key"])
            return f"{group['Key']}${value if value is not None else ''}"
        value = row.get(DIMENSIONS[group["Key"]])
        if value in (None, "") and group["Key"] == "REGION":
            return "NoRegion"  # CE's key for global services' cost
        return str(value or "")

    def matches(self, row: Row, expression: dict[str, Any] | None) -> bool:
        """Whether a row passes a CE filter Expression (Dimensions, Tags, And, Or, Not)."""
        if not expression:
            return True
        if "And" in expression:
            return all(self.matches(row, e) for e in expression["And"])
        if "Or" in expression:
            return any(self.matches(row, e) for e in expression["Or"])
        if "Not" in expression:
            return not self.matches(row, expression["Not"])
        if "Dimensions" in expression:
            dim = expression["Dimensions"]
            return self.value(row, {"Type": "DIMENSION", "Key": dim["Key"]}) in dim.get(
                "Values", []
            )
        if "Tags" in expression:
            tag = expression["Tags"]
            return str((row.get("tags") or {}).get(tag["Key"], "")) in tag.get("Values", [])
        return True


def cost_and_usage(
    index: CostIndex, body: dict[str, Any], today: date, page_size: int
) -> dict[str, Any]:
    """GetCostAndUsage over the index (the aggregation is computed once per query, then paged)."""
    query = json.dumps({k: v for k, v in body.items() if k != "NextPageToken"}, sort_keys=True)
    results = index.answers.get(query)
    if results is None:
        results = _aggregate(index, body, today)
        index.answers[query] = results
    return _paged(results, body, page_size)


def _aggregate(index: CostIndex, body: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """Every ResultsByTime entry of a GetCostAndUsage query."""
    start = date.fromisoformat(body["TimePeriod"]["Start"])
    end = date.fromisoformat(body["TimePeriod"]["End"])
    metrics = body["Metrics"]
    groups = body.get("GroupBy", [])
    monthly = body["Granularity"] == "MONTHLY"
    periods: list[tuple[date, date]] = []
    cursor = start
    while cursor < end:
        if monthly:
            nxt = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        else:
            nxt = cursor + timedelta(days=1)
        periods.append((cursor, min(nxt, end)))
        cursor = nxt
    results: list[dict[str, Any]] = []
    for p_start, p_end in periods:
        sums: dict[tuple[str, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        units: dict[tuple[str, ...], str] = {}
        day = p_start
        while day < p_end:
            for row in index.by_day.get(day, ()):
                if not index.matches(row, body.get("Filter")):
                    continue
                key = tuple(index.value(row, g) for g in groups)
                sums[key]["amortized"] += float(row["amortized_cost"])
                sums[key]["unblended"] += float(row["unblended_cost"])
                units[key] = row.get("currency") or "USD"
            day += timedelta(days=1)
        estimated = p_end > today - timedelta(days=2)
        if groups:
            results.append(
                {
                    "TimePeriod": {"Start": p_start.isoformat(), "End": p_end.isoformat()},
                    "Total": {},
                    "Groups": [
                        {
                            "Keys": list(key),
                            "Metrics": {
                                m: {"Amount": _money(sums[key][METRICS[m]]), "Unit": units[key]}
                                for m in metrics
                            },
                        }
                        for key in sorted(sums)
                    ],
                    "Estimated": estimated,
                }
            )
        else:
            total = sums.get((), {"amortized": 0.0, "unblended": 0.0})
            results.append(
                {
                    "TimePeriod": {"Start": p_start.isoformat(), "End": p_end.isoformat()},
                    "Total": {
                        m: {"Amount": _money(total[METRICS[m]]), "Unit": "USD"} for m in metrics
                    },
                    "Groups": [],
                    "Estimated": estimated,
                }
            )
    return results


def _paged(results: list[dict[str, Any]], body: dict[str, Any], page_size: int) -> dict[str, Any]:
    """One page of a GetCostAndUsage answer: by groups across periods, as CE pages."""
    groups = body.get("GroupBy", [])
    offset = _offset(body.get("NextPageToken"))
    flat = [(i, g) for i, r in enumerate(results) for g in r["Groups"]] if groups else []
    response: dict[str, Any] = {"DimensionValueAttributes": []}
    if groups:
        response["GroupDefinitions"] = groups
        chosen = flat[offset : offset + page_size]
        paged: dict[int, list[Any]] = defaultdict(list)
        for i, g in chosen:
            paged[i].append(g)
        first = chosen[0][0] if chosen else 0
        last = chosen[-1][0] if chosen else len(results) - 1
        if offset == 0 and not chosen:
            first, last = 0, len(results) - 1
        response["ResultsByTime"] = [
            {**results[i], "Groups": paged.get(i, [])} for i in range(first, last + 1)
        ]
        if offset + page_size < len(flat):
            response["NextPageToken"] = _token(offset + page_size)
    else:
        response["ResultsByTime"] = results
    return response


def forecast(
    index: CostIndex, body: dict[str, Any], planned: dict[tuple[str, str, str], Row] | None = None
) -> dict[str, Any]:
    """GetCostForecast: the world's `cost_forecast` row for this metric and period when there
    is one, else the mean of the 14 days before Start times the days forecast (±10%)."""
    start = date.fromisoformat(body["TimePeriod"]["Start"])
    end = date.fromisoformat(body["TimePeriod"]["End"])
    field = "amortized" if "AMORTIZED" in body["Metric"] else "unblended"
    row = (planned or {}).get((field, start.isoformat(), end.isoformat()))
    if row is not None:
        mean = float(row["amount"])
        lower = float(row["lower"] if row.get("lower") is not None else mean * 0.9)
        upper = float(row["upper"] if row.get("upper") is not None else mean * 1.1)
    else:
        history = [
            sum(float(r[f"{field}_cost"]) for r in index.by_day.get(start - timedelta(days=d), ()))
            for d in range(1, 15)
        ]
        mean = sum(history) / len(history) * (end - start).days
        lower, upper = mean * 0.9, mean * 1.1
    return {
        "Total": {"Amount": _money(mean), "Unit": "USD"},
        "ForecastResultsByTime": [
            {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "MeanValue": _money(mean),
                "PredictionIntervalLowerBound": _money(lower),
                "PredictionIntervalUpperBound": _money(upper),
            }
        ],
    }


def anomaly_object(row: Row) -> dict[str, Any]:
    """A world cost_anomaly row as a CE Anomaly."""
    dimension = row.get("dimension") or {}
    impact = float(row.get("impact") or 0.0)
    obj: dict[str, Any] = {
        "AnomalyId": str(row["source_id"]),
        "AnomalyStartDate": str(row["start_day"]),
        "DimensionValue": dimension.get("dimension_value")
        or dimension.get("service")
        or "AWS services",
        "RootCauses": [
            {CAUSE_KEYS[k]: str(v) for k, v in cause.items() if k in CAUSE_KEYS}
            for cause in row.get("root_causes") or []
        ],
        "AnomalyScore": {
            "MaxScore": round(min(1.0, abs(impact) / 1000), 3),
            "CurrentScore": round(min(1.0, abs(impact) / 2000), 3),
        },
        "Impact": {"MaxImpact": impact, "TotalImpact": impact},
        "MonitorArn": dimension.get("monitor_arn") or MONITOR_ARN,
    }
    if row.get("end_day"):
        obj["AnomalyEndDate"] = str(row["end_day"])
    if row.get("expected") is not None:
        obj["Impact"]["TotalExpectedSpend"] = float(row["expected"])
    if row.get("actual") is not None:
        obj["Impact"]["TotalActualSpend"] = float(row["actual"])
    return obj


def rightsizing_object(row: Row) -> dict[str, Any]:
    """A world rightsizing recommendation as a CE RightsizingRecommendation."""
    details = row.get("details") or {}
    current_type = details.get("current_type", "m5.2xlarge")
    target_type = details.get("target_type")
    saving = _money(float(row["estimated_monthly_saving"]))
    obj: dict[str, Any] = {
        "AccountId": row.get("account") or "",
        "CurrentInstance": {
            "ResourceId": str(row["source_id"]),
            "InstanceName": row.get("resource") or str(row["source_id"]),
            "Tags": [],
            "ResourceDetails": {
                "EC2ResourceDetails": {
                    "InstanceType": current_type,
                    "Region": row.get("region") or "",
                    "Platform": "Linux/UNIX",
                    "Vcpu": "8",
                    "Memory": "32 GiB",
                }
            },
            "ResourceUtilization": {
                "EC2ResourceUtilization": {"MaxCpuUtilizationPercentage": "12.5"}
            },
            "MonthlyCost": _money(float(details.get("monthly_cost", 0.0))),
            "CurrencyCode": row.get("currency") or "USD",
        },
        "RightsizingType": "Modify" if target_type else "Terminate",
        "FindingReasonCodes": ["CPU_OVER_PROVISIONED"],
    }
    if target_type:
        obj["ModifyRecommendationDetail"] = {
            "TargetInstances": [
                {
                    "EstimatedMonthlyCost": _money(
                        max(
                            0.0,
                            float(details.get("monthly_cost", 0.0))
                            - float(row["estimated_monthly_saving"]),
                        )
                    ),
                    "EstimatedMonthlySavings": saving,
                    "CurrencyCode": row.get("currency") or "USD",
                    "DefaultTargetInstance": True,
                    "ResourceDetails": {
                        "EC2ResourceDetails": {
                            "InstanceType": target_type,
                            "Region": row.get("region") or "",
                        }
                    },
                }
            ]
        }
    else:
        obj["TerminateRecommendationDetail"] = {
            "EstimatedMonthlySavings": saving,
            "CurrencyCode": row.get("currency") or "USD",
        }
    return obj


def savings_plan_detail(row: Row) -> dict[str, Any]:
    """A world savings_plan recommendation as a CE SavingsPlansPurchaseRecommendationDetail."""
    details = row.get("details") or {}
    saving = float(row["estimated_monthly_saving"])
    hourly = float(details.get("hourly_commitment", 1.0))
    return {
        "SavingsPlansDetails": {
            "Region": row.get("region") or "",
            "InstanceFamily": "",
            "OfferingId": "",
        },
        "AccountId": row.get("account") or "",
        "UpfrontCost": "0",
        "EstimatedROI": _money(float(details.get("estimated_roi", 0.0))),
        "CurrencyCode": row.get("currency") or "USD",
        "EstimatedSPCost": _money(hourly * 730),
        "EstimatedMonthlySavingsAmount": _money(saving),
        "EstimatedSavingsAmount": _money(saving),
        "HourlyCommitmentToPurchase": _money(hourly),
        # CE's detail ids are UUIDs (36 characters in the model); world ids that are not get one.
        "RecommendationDetailId": detail_id(str(row["source_id"])),
    }


def detail_id(source_id: str) -> str:
    """The world's id when it is a UUID, else a stable UUID derived from it."""
    return source_id if len(source_id) == 36 else str(uuid.uuid5(uuid.NAMESPACE_OID, source_id))


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    offset = _offset(token)
    chosen = items[offset : offset + size]
    return chosen, (_token(offset + size) if offset + size < len(items) else None)


def make_app(
    world: World, *, credentials: dict[str, str] | None = None, page_size: int = 500
) -> FastAPI:
    """The Cost Explorer simulator for `world` (demo keys unless `credentials`; groups per page)."""
    creds = credentials or DEMO_CREDENTIALS
    app, _state = new_simulator("aws_cost_explorer", world, credentials=creds)
    index = CostIndex(list(world.rows("cost_daily")))
    anomalies = sorted(
        (
            anomaly_object(r)
            for r in world.rows("cost_anomaly")
            if r.get("detector", "aws") == "aws"
        ),
        key=lambda a: (a["AnomalyStartDate"], a["AnomalyId"]),
    )
    recommendations = list(world.rows("cost_recommendation"))
    planned = {
        (str(r["metric"]), str(r["period_start"]), str(r["period_end"])): r
        for r in world.rows("cost_forecast")
        if r.get("provider", "aws") == "aws"
    }
    rightsizing = [rightsizing_object(r) for r in recommendations if r["kind"] == "rightsizing"]
    plans = [savings_plan_detail(r) for r in recommendations if r["kind"] == "savings_plan"]
    today = world.today

    @app.post("/", response_model=None)
    async def dispatch(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header:
            return aws_error(
                401, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        if (
            not header.startswith("AWS4-HMAC-SHA256 ")
            or f"Credential={creds['access_key_id']}/" not in header
        ):
            return aws_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        target = request.headers.get("x-amz-target", "")
        operation = target.removeprefix(TARGET_PREFIX)
        body = json.loads(await request.body() or b"{}")
        if operation == "GetCostAndUsage":
            result = cost_and_usage(index, body, today, page_size)
        elif operation == "GetCostForecast":
            result = forecast(index, body, planned)
        elif operation == "GetAnomalies":
            start = body["DateInterval"]["StartDate"]
            end = body["DateInterval"].get("EndDate", "9999-12-31")
            chosen = [a for a in anomalies if start <= a["AnomalyStartDate"] <= end]
            items, token = _page(
                chosen, body.get("NextPageToken"), int(body.get("MaxResults") or 100)
            )
            result = {"Anomalies": items, **({"NextPageToken": token} if token else {})}
        elif operation == "GetRightsizingRecommendation":
            items, token = _page(
                rightsizing, body.get("NextPageToken"), int(body.get("PageSize") or 100)
            )
            saving = sum(
                float(r["estimated_monthly_saving"])
                for r in recommendations
                if r["kind"] == "rightsizing"
            )
            result = {
                "Metadata": {
                    "RecommendationId": "rs-acme",
                    "GenerationTimestamp": f"{today.isoformat()}T06:00:00Z",
                    "LookbackPeriodInDays": "FOURTEEN_DAYS",
                },
                "Summary": {
                    "TotalRecommendationCount": str(len(rightsizing)),
                    "EstimatedTotalMonthlySavingsAmount": _money(saving),
                    "SavingsCurrencyCode": "USD",
                },
                "RightsizingRecommendations": items,
                "Configuration": body.get("Configuration")
                or {"RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": True},
                **({"NextPageToken": token} if token else {}),
            }
        elif operation == "GetSavingsPlansPurchaseRecommendation":
            items, token = _page(plans, body.get("NextPageToken"), int(body.get("PageSize") or 100))
            result = {
                "Metadata": {
                    "RecommendationId": "sp-acme",
                    "GenerationTimestamp": f"{today.isoformat()}T06:00:00Z",
                },
                "SavingsPlansPurchaseRecommendation": {
                    "AccountScope": "PAYER",
                    "SavingsPlansType": body["SavingsPlansType"],
                    "TermInYears": body["TermInYears"],
                    "PaymentOption": body["PaymentOption"],
                    "LookbackPeriodInDays": body["LookbackPeriodInDays"],
                    "SavingsPlansPurchaseRecommendationDetails": items,
                },
                **({"NextPageToken": token} if token else {}),
            }
        else:
            return aws_error(
                400, "UnknownOperationException", f"Unknown operation {operation or '(none)'}"
            )
        return Response(json.dumps(result), media_type=AMZ_JSON)

    return app
