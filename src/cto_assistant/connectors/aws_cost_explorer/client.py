"""AWS Cost Explorer through boto3's `ce` client: daily costs, forecast, anomalies, recommendations.

Credentials come from the standard AWS chain (environment, shared config/credentials files with
the configured `profile`, SSO, instance/container roles) unless keys are given in the config;
they are never logged. Cost Explorer charges per request (USD 0.01), so the calls are few:

costs — GetCostAndUsage takes at most two GroupBy dimensions per call, and cost_daily needs
account x region x service x a cost-allocation tag. The cheapest exact decomposition is:
  1 call   DAILY, GroupBy [LINKED_ACCOUNT, REGION]       → the (account, region) pairs with cost
  1 call   per pair: Filter account AND region, GroupBy [SERVICE, TAG:<cost_tag_key>]
so a daily sync makes 1 + P requests (P = active account/region pairs, each paged with
NextPageToken when large). Grouping [SERVICE, REGION] and [LINKED_ACCOUNT] separately would be
fewer calls but gives rollups that cannot be joined back into one row per cost; usage type is
left out (a third dimension would multiply the calls by the number of services).
forecast — 1 GetCostForecast (today → end of month); anomalies — 1 GetAnomalies (+ pages);
recommendations — 1 GetRightsizingRecommendation + 1 GetSavingsPlansPurchaseRecommendation.
A daily sync therefore makes 5 + P requests (Acme's demo: 3 accounts x 3 regions → 14, USD 0.14).

Incremental: CE restates recent days (late usage, credits, amortisation), so a re-sync re-pulls
`restate_days` before the cursor up to today; rows land on the same keys, so nothing doubles.

Retries are ours, not botocore's (its retries sleep on their own clock): throttling (HTTP 429,
ThrottlingException, LimitExceededException) waits Retry-After or backs off with jitter, 5xx and
connection errors retry, 401/403 and bad credentials are AuthError, unparseable bodies are
SchemaDriftError. When the connector is given an httpx transport (the demo mounts simulators
in-process), botocore's requests are sent through it, signed exactly as on the network.
"""

from __future__ import annotations

import calendar
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import httpx
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)
from botocore.parsers import ResponseParserError
from pydantic import Field, SecretStr

from cto_assistant.connectors.aws import common_failure, pause, service_failure
from cto_assistant.connectors.aws_cost_explorer import mapping
from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.errors import (
    ConnectorError,
    SchemaDriftError,
)
from cto_assistant.logging import get_logger, register_secret

log = get_logger("connectors.aws_cost_explorer")

THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "429",
    }
)
AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AccessDeniedException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)


class AwsCostExplorerConfig(ConnectorConfig):
    """Where Cost Explorer is, whose credentials, and what to pull."""

    kind: str = Field(
        default="aws_cost_explorer", description="Connector kind: 'aws_cost_explorer'."
    )
    base_url: str = Field(
        default="", description="Endpoint URL; empty means AWS's own (ce.us-east-1)."
    )
    region: str = Field(default="us-east-1", description="Region of the Cost Explorer endpoint.")
    profile: str | None = Field(default=None, description="AWS profile of the shared config files.")
    access_key_id: SecretStr | None = Field(
        default=None, description="Access key (else the AWS chain)."
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key (else the AWS chain)."
    )
    cost_tag_key: str = Field(
        default="project", description="Cost-allocation tag grouped with SERVICE."
    )
    team_tag_key: str = Field(default="team", description="Tag key whose value is the team.")
    project_tag_key: str = Field(
        default="project", description="Tag key whose value is the project."
    )
    history_days: int = Field(
        default=90, ge=1, le=420, description="Days of cost pulled on a first sync."
    )
    restate_days: int = Field(
        default=3, ge=0, le=31, description="Days before the cursor re-pulled."
    )
    anomaly_days: int = Field(
        default=90, ge=1, le=365, description="Days of anomalies on a first sync."
    )
    forecast_metric: str = Field(default="UNBLENDED_COST", description="GetCostForecast metric.")
    savings_plans_type: str = Field(
        default="COMPUTE_SP", description="Savings Plans type to recommend."
    )
    term_in_years: str = Field(default="ONE_YEAR", description="ONE_YEAR or THREE_YEARS.")
    payment_option: str = Field(default="NO_UPFRONT", description="Savings Plans payment option.")
    lookback_days: str = Field(default="THIRTY_DAYS", description="Recommendation lookback period.")


class _Body:
    """The raw-stream shape AWSResponse reads its content from."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        """Yield the whole body once."""
        yield self.content


def send_through(transport: httpx.BaseTransport) -> Callable[..., AWSResponse]:
    """A botocore `before-send` hook that sends each signed request through an httpx transport."""
    client = httpx.Client(transport=transport)

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        raw: Any = request.body
        if hasattr(raw, "read"):
            raw = raw.read()
        content: bytes = raw.encode() if isinstance(raw, str) else bytes(raw or b"")
        response = client.request(
            request.method, request.url, headers=dict(request.headers.items()), content=content
        )
        headers: Any = dict(response.headers)
        return AWSResponse(request.url, response.status_code, headers, _Body(response.content))

    return before_send


class AwsCostExplorerConnector(Connector):
    """AWS Cost Explorer: daily cost, month-end forecast, anomalies and recommendations."""

    kind = "aws_cost_explorer"
    config_model = AwsCostExplorerConfig
    category = "operations"
    streams = (
        Stream(
            "costs",
            tables=("cost_daily",),
            incremental=True,
            description="Daily amortized/unblended cost by account, region, service and tag.",
        ),
        Stream("forecast", tables=("cost_forecast",), description="Month-end cost forecast."),
        Stream(
            "anomalies",
            tables=("cost_anomaly",),
            incremental=True,
            description="Cost anomalies AWS detected (detector 'aws').",
        ),
        Stream(
            "recommendations",
            tables=("cost_recommendation",),
            description="EC2 rightsizing and Savings Plans purchase recommendations.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        pinned = self.settings.now
        self.clock: Callable[[], datetime] = (
            (lambda: pinned) if pinned is not None else (lambda: datetime.now(UTC))
        )
        self._client: Any = None
        self._sleep = context.sleep or time.sleep
        self._random = random.Random()

    @property
    def settings(self) -> AwsCostExplorerConfig:
        """The typed config."""
        assert isinstance(self.config, AwsCostExplorerConfig)
        return self.config

    @property
    def client(self) -> Any:
        """The boto3 `ce` client (built on first use; botocore's own retries off)."""
        if self._client is None:
            s = self.settings
            key = s.access_key_id.get_secret_value() if s.access_key_id else None
            secret = s.secret_access_key.get_secret_value() if s.secret_access_key else None
            register_secret(key)
            register_secret(secret)
            session = boto3.Session(
                profile_name=s.profile,
                region_name=s.region,
                aws_access_key_id=key,
                aws_secret_access_key=secret,
            )
            boto_config = BotoConfig(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=min(10.0, s.timeout_seconds),
                read_timeout=s.timeout_seconds,
                user_agent_extra="cto-assistant/0.1",
            )
            self._client = session.client("ce", endpoint_url=s.base_url or None, config=boto_config)
            if self.context.transport is not None:
                self._client.meta.events.register(
                    "before-send.ce", send_through(self.context.transport)
                )
        return self._client

    def close(self) -> None:
        """Close the boto3 client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------------ calling CE

    def call(self, operation: str, *, stream: str | None, **params: Any) -> dict[str, Any]:
        """Call one CE operation with our retries and typed errors."""
        stats = self.context.stats
        attempt = 0
        while True:
            attempt += 1
            stats.requests += 1
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**params)
            except ClientError as exc:
                wait = self._handle_client_error(exc, operation, attempt, stream)
            except ResponseParserError as exc:
                raise SchemaDriftError(
                    self.name, f"{operation} response is not valid JSON", stream=stream
                ) from exc
            except BotoCoreError as exc:  # credentials, network, anything else of botocore
                wait = common_failure(
                    exc,
                    source=self.name,
                    action=operation,
                    attempt=attempt,
                    max_attempts=self.config.max_attempts,
                    stream=stream,
                    rng=self._random,
                )
            else:
                stats.pages += 1
                return result
            pause(
                stats, self._sleep, source=self.name, action=operation, attempt=attempt, wait=wait
            )

    def _handle_client_error(
        self, exc: ClientError, operation: str, attempt: int, stream: str | None
    ) -> float:
        """Raise the typed error for `exc`, or return how long to wait before retrying."""
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(exc.response.get("Error", {}).get("Code") or status)
        headers = {k.lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
        return service_failure(
            exc,
            source=self.name,
            action=operation,
            status=status,
            code=code,
            headers=headers,
            attempt=attempt,
            max_attempts=self.config.max_attempts,
            stream=stream,
            rng=self._random,
            throttle_codes=THROTTLE_CODES,
            auth_codes=AUTH_CODES,
            permission="ce:* permission",
        )

    def pages(self, operation: str, *, stream: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a NextPageToken-paged operation."""
        token: str | None = None
        while True:
            body = self.call(
                operation, stream=stream, **params, **({"NextPageToken": token} if token else {})
            )
            yield body
            token = body.get("NextPageToken")
            if not token:
                return

    # ----------------------------------------------------------------------------- streams

    def today(self) -> date:
        """Today in UTC (CE days are UTC)."""
        return self.clock().astimezone(UTC).date()

    def pull_costs(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield daily cost from the cursor minus `restate_days` (or `history_days` back) to today."""
        s = self.settings
        today = self.today()
        start = (
            (date.fromisoformat(since) - timedelta(days=s.restate_days))
            if since
            else today - timedelta(days=s.history_days)
        )
        end = today + timedelta(days=1)  # End is exclusive; today's partial cost is included
        period = {"Start": start.isoformat(), "End": end.isoformat()}
        pairs: set[tuple[str, str]] = set()
        for body in self.pages(
            "get_cost_and_usage",
            stream="costs",
            TimePeriod=period,
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
            GroupBy=[
                {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                {"Type": "DIMENSION", "Key": "REGION"},
            ],
        ):
            pairs |= mapping.account_regions(body, source=self.name)
        for account, region in sorted(pairs):
            cost_filter = {
                "And": [
                    {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account]}},
                    {"Dimensions": {"Key": "REGION", "Values": [region]}},
                ]
            }
            for body in self.pages(
                "get_cost_and_usage",
                stream="costs",
                TimePeriod=period,
                Granularity="DAILY",
                Metrics=["AmortizedCost", "UnblendedCost"],
                Filter=cost_filter,
                GroupBy=[
                    {"Type": "DIMENSION", "Key": "SERVICE"},
                    {"Type": "TAG", "Key": s.cost_tag_key},
                ],
            ):
                for row in mapping.cost_rows(
                    body,
                    source=self.name,
                    account=account,
                    region=region,
                    tag_key=s.cost_tag_key,
                    team_tag_key=s.team_tag_key,
                    project_tag_key=s.project_tag_key,
                ):
                    yield Record("cost_daily", row)
        yield Checkpoint(today.isoformat())

    def pull_forecast(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield the forecast from today to the end of the month."""
        today = self.today()
        month_end = date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
        end = month_end + timedelta(days=1)
        metric = self.settings.forecast_metric
        body = self.call(
            "get_cost_forecast",
            stream="forecast",
            TimePeriod={"Start": today.isoformat(), "End": end.isoformat()},
            Metric=metric,
            Granularity="MONTHLY",
            PredictionIntervalLevel=80,
        )
        row = mapping.forecast(
            body,
            source=self.name,
            metric=metric.lower().removesuffix("_cost"),
            start=today,
            end=end,
        )
        row["generated_at"] = self.clock()
        yield Record("cost_forecast", row)

    def pull_anomalies(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield anomalies that started after the cursor minus `restate_days` (they evolve)."""
        s = self.settings
        today = self.today()
        start = (
            (date.fromisoformat(since) - timedelta(days=s.restate_days))
            if since
            else today - timedelta(days=s.anomaly_days)
        )
        for body in self.pages(
            "get_anomalies",
            stream="anomalies",
            MaxResults=min(self.config.page_size, 100),
            DateInterval={"StartDate": start.isoformat(), "EndDate": today.isoformat()},
        ):
            items = body.get("Anomalies")
            if not isinstance(items, list):
                raise SchemaDriftError(
                    self.name,
                    "GetAnomalies response has no 'Anomalies' field",
                    stream="anomalies",
                    field="Anomalies",
                )
            for obj in items:
                yield Record("cost_anomaly", mapping.anomaly(obj, source=self.name))
        yield Checkpoint(today.isoformat())

    def pull_recommendations(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield EC2 rightsizing and Savings Plans purchase recommendations."""
        s = self.settings
        page_size = min(self.config.page_size, 100)
        for body in self.pages(
            "get_rightsizing_recommendation",
            stream="recommendations",
            Service="AmazonEC2",
            PageSize=page_size,
            Configuration={
                "RecommendationTarget": "SAME_INSTANCE_FAMILY",
                "BenefitsConsidered": True,
            },
        ):
            for obj in body.get("RightsizingRecommendations", []):
                yield Record("cost_recommendation", mapping.rightsizing(obj, source=self.name))
        for body in self.pages(
            "get_savings_plans_purchase_recommendation",
            stream="recommendations",
            SavingsPlansType=s.savings_plans_type,
            TermInYears=s.term_in_years,
            PaymentOption=s.payment_option,
            LookbackPeriodInDays=s.lookback_days,
            PageSize=page_size,
        ):
            for row in mapping.savings_plans(body, source=self.name):
                yield Record("cost_recommendation", row)

    def check(self) -> list[CheckResult]:
        """Probe read access with one small GetCostAndUsage (costs USD 0.01)."""
        today = self.today()
        try:
            self.call(
                "get_cost_and_usage",
                stream=None,
                Granularity="MONTHLY",
                Metrics=["UnblendedCost"],
                TimePeriod={
                    "Start": (today - timedelta(days=1)).isoformat(),
                    "End": today.isoformat(),
                },
            )
        except ConnectorError as exc:
            return [CheckResult("read costs", False, str(exc))]
        return [CheckResult("read costs", True)]
