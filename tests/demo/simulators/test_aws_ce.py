"""The CE simulator's answers are valid for the botocore service model (vendor-specs and Stubber)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.model import ServiceModel
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators.aws_ce import make_app
from tests.conftest import vendor_spec
from tests.connectors.aws_cost_explorer.test_aws_ce_connector import TODAY, ce_world

AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIADEMOACME00000000/20260115/us-east-1/ce/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=abc"
}
PERIOD = {"Start": (TODAY - timedelta(days=5)).isoformat(), "End": TODAY.isoformat()}
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "GetCostAndUsage",
        "get_cost_and_usage",
        {
            "TimePeriod": PERIOD,
            "Granularity": "DAILY",
            "Metrics": ["AmortizedCost", "UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "TAG", "Key": "project"}],
        },
    ),
    (
        "GetCostAndUsage",
        "get_cost_and_usage",
        {"TimePeriod": PERIOD, "Granularity": "MONTHLY", "Metrics": ["UnblendedCost"]},
    ),
    (
        "GetCostForecast",
        "get_cost_forecast",
        {
            "TimePeriod": {"Start": TODAY.isoformat(), "End": "2026-02-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
        },
    ),
    ("GetAnomalies", "get_anomalies", {"DateInterval": {"StartDate": "2025-12-01"}}),
    ("GetRightsizingRecommendation", "get_rightsizing_recommendation", {"Service": "AmazonEC2"}),
    (
        "GetSavingsPlansPurchaseRecommendation",
        "get_savings_plans_purchase_recommendation",
        {
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
        },
    ),
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(ce_world(), page_size=10))


def call(
    client: TestClient, operation: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    response = client.post(
        "/",
        content=json.dumps(body),
        headers={
            "X-Amz-Target": f"AWSInsightsIndexService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            **(AUTH if headers is None else headers),
        },
    )
    return response


@pytest.mark.parametrize(
    ("operation", "method", "params"), CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)]
)
def test_responses_validate_against_the_service_model(
    client: TestClient, operation: str, method: str, params: dict[str, Any]
) -> None:
    model = ServiceModel(
        json.loads(vendor_spec("aws_cost_explorer", "service-2.json").read_text()), "ce"
    )
    op = model.operation_model(operation)
    validator = ParamValidator()
    assert not validator.validate(params, op.input_shape).has_errors()
    response = call(client, operation, params)
    assert response.status_code == 200, response.text
    body = response.json()
    report = validator.validate(body, op.output_shape)
    assert not report.has_errors(), report.generate_report()
    # And botocore's own Stubber accepts the same body for the same call.
    ce = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(ce) as stub:
        stub.add_response(method, body, params)
        getattr(ce, method)(**params)


def test_grouped_costs_page_with_next_page_token(client: TestClient) -> None:
    params = CALLS[0][2]
    seen = 0
    token = None
    pages = 0
    while True:
        body = call(
            client, "GetCostAndUsage", {**params, **({"NextPageToken": token} if token else {})}
        ).json()
        pages += 1
        seen += sum(len(r["Groups"]) for r in body["ResultsByTime"])
        token = body.get("NextPageToken")
        if not token:
            break
    full = call(TestClient(make_app(ce_world())), "GetCostAndUsage", params).json()
    assert "NextPageToken" not in full
    assert seen == sum(len(r["Groups"]) for r in full["ResultsByTime"]) and pages == -(-seen // 10)


def test_signature_is_required(client: TestClient) -> None:
    missing = call(client, "GetCostForecast", CALLS[2][2], headers={})
    assert (
        missing.status_code == 401
        and missing.json()["__type"] == "MissingAuthenticationTokenException"
    )
    wrong = call(
        client,
        "GetCostForecast",
        CALLS[2][2],
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAOTHER/20260115/us-east-1/ce/aws4_request"
        },
    )
    assert wrong.status_code == 403 and wrong.json()["__type"] == "UnrecognizedClientException"
