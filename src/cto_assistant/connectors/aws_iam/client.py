"""AWS IAM through boto3's `iam` client: who holds access to the account, and how privileged.

One stream, `principals` → `access_grant` (system "aws" by default): every IAM user, and every
IAM role that holds an admin policy. The calls, in order:

  GetAccountAuthorizationDetails  Filter User, Group, Role, LocalManagedPolicy — users with their
                                  groups, tags and policies, groups, roles (with RoleLastUsed) and
                                  the account's own policies in one paged answer (Marker /
                                  IsTruncated). AWS-managed policies are not fetched (a thousand
                                  of them): they are judged by name (AdministratorAccess, …).
  ListUsers                       PasswordLastUsed (GAAD leaves it out), paged.
  per user: ListMFADevices, ListAccessKeys, GetAccessKeyLastUsed per active key, and
            GetLoginProfile only for users with no person e-mail (shared vs service account).

A sync therefore makes G + L + 2U + K + S requests (G, L pages; U users; K active keys; S users
without an e-mail). IAM is free and has no change feed, so every sync is a full snapshot.

Credentials come from the standard AWS chain unless keys are configured; they are never logged.
Retries are ours: throttling (`Throttling`, HTTP 429) waits Retry-After or backs off with
jitter, 5xx and connection errors retry; `AccessDenied` and bad credentials are AuthError naming
the source and the missing permission; unparseable answers are SchemaDriftError.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)
from botocore.parsers import ResponseParserError
from pydantic import Field, SecretStr

from cto_assistant.connectors.aws import common_failure, pause, service_failure
from cto_assistant.connectors.aws_cost_explorer.client import send_through
from cto_assistant.connectors.aws_iam import mapping
from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.payload import Reader, parse_time
from cto_assistant.errors import (
    ConnectorError,
    SchemaDriftError,
)
from cto_assistant.logging import get_logger, register_secret

log = get_logger("connectors.aws_iam")

THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
    }
)
GAAD_FILTER = ["User", "Group", "Role", "LocalManagedPolicy"]
STREAM = "principals"


class AwsIamConfig(ConnectorConfig):
    """Where IAM is, whose credentials, and how principals map to people."""

    kind: str = Field(default="aws_iam", description="Connector kind: 'aws_iam'.")
    base_url: str = Field(
        default="", description="Endpoint URL; empty means AWS's own (iam.amazonaws.com)."
    )
    region: str = Field(default="us-east-1", description="Signing region (IAM is global).")
    profile: str | None = Field(default=None, description="AWS profile of the shared config files.")
    access_key_id: SecretStr | None = Field(
        default=None, description="Access key (else the AWS chain)."
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key (else the AWS chain)."
    )
    session_token: SecretStr | None = Field(
        default=None, description="Session token for temporary keys."
    )
    system: str = Field(
        default="aws",
        description="The access_grant.system of these rows (e.g. 'aws:prod' for one account).",
    )
    email_tag: str | None = Field(
        default="email", description="User tag whose value is the person's e-mail."
    )
    email_template: str | None = Field(
        default=None,
        description="E-mail for untagged users whose name matches email_user_pattern, "
        "e.g. '{user}@acme.cloud'.",
    )
    email_user_pattern: str = Field(
        default=r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9.-]*$",
        description="User names that are people (first.last) for email_template.",
    )
    admin_policy_names: list[str] = Field(
        default_factory=lambda: ["AdministratorAccess", "IAMFullAccess"],
        description="Policy names that make a principal privileged.",
    )
    admin_actions: list[str] = Field(
        default_factory=lambda: ["*", "*:*", "iam:*"],
        description="Actions that, allowed on Resource '*', make a policy an admin policy.",
    )


class AwsIamConnector(Connector):
    """AWS IAM users and admin roles as access grants (MFA, access-key age, last use)."""

    kind = "aws_iam"
    config_model = AwsIamConfig
    category = "security"
    streams = (
        Stream(
            STREAM,
            tables=("access_grant",),
            snapshot=True,
            description="IAM users (MFA, keys, last use, admin or not) and IAM roles with admin "
            "policies.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._client: Any = None
        self._sleep = context.sleep or time.sleep
        self._random = random.Random()
        self._last_status = 0
        self._last_headers: dict[str, str] = {}

    @property
    def settings(self) -> AwsIamConfig:
        """The typed config."""
        assert isinstance(self.config, AwsIamConfig)
        return self.config

    @property
    def client(self) -> Any:
        """The boto3 `iam` client (built on first use; botocore's own retries off)."""
        if self._client is None:
            s = self.settings
            secrets = [
                v.get_secret_value() if v else None
                for v in (s.access_key_id, s.secret_access_key, s.session_token)
            ]
            for value in secrets:
                register_secret(value)
            session = boto3.Session(
                profile_name=s.profile,
                region_name=s.region,
                aws_access_key_id=secrets[0],
                aws_secret_access_key=secrets[1],
                aws_session_token=secrets[2],
            )
            boto_config = BotoConfig(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=min(10.0, s.timeout_seconds),
                read_timeout=s.timeout_seconds,
                user_agent_extra="cto-assistant/0.1",
            )
            self._client = session.client(
                "iam", endpoint_url=s.base_url or None, config=boto_config
            )
            self._client.meta.events.register("before-parse.iam", self._remember_response)
            if self.context.transport is not None:
                self._client.meta.events.register(
                    "before-send.iam", send_through(self.context.transport)
                )
        return self._client

    def _remember_response(self, response_dict: dict[str, Any], **_: Any) -> None:
        """Keep the HTTP status and headers: a non-XML error body hides them from botocore."""
        self._last_status = int(response_dict.get("status_code") or 0)
        self._last_headers = {k.lower(): v for k, v in (response_dict.get("headers") or {}).items()}

    def close(self) -> None:
        """Close the boto3 client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # --------------------------------------------------------------------------- calling IAM

    def call(
        self, operation: str, *, stream: str | None, absent_ok: bool = False, **params: Any
    ) -> dict[str, Any] | None:
        """Call one IAM operation with our retries and typed errors (NoSuchEntity → None if ok)."""
        stats = self.context.stats
        action = operation_action(operation)
        attempt = 0
        while True:
            attempt += 1
            stats.requests += 1
            self._last_status, self._last_headers = 0, {}
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**params)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code") or "")
                if absent_ok and code == "NoSuchEntity":
                    stats.pages += 1
                    return None
                meta = exc.response.get("ResponseMetadata", {})
                headers = {k.lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
                status = int(meta.get("HTTPStatusCode") or 0)
                wait = self._classify(status, code, headers, action, attempt, stream, exc)
            except ResponseParserError as exc:
                if self._last_status < 400:
                    raise SchemaDriftError(
                        self.name, f"{action} answer is not valid IAM XML", stream=stream
                    ) from exc
                code = f"HTTP {self._last_status}"
                wait = self._classify(
                    self._last_status, code, self._last_headers, action, attempt, stream, exc
                )
            except BotoCoreError as exc:  # credentials, network, anything else of botocore
                wait = common_failure(
                    exc,
                    source=self.name,
                    action=action,
                    attempt=attempt,
                    max_attempts=self.config.max_attempts,
                    stream=stream,
                    rng=self._random,
                )
            else:
                stats.pages += 1
                return result
            pause(stats, self._sleep, source=self.name, action=action, attempt=attempt, wait=wait)

    def _classify(
        self,
        status: int,
        code: str,
        headers: dict[str, str],
        operation: str,
        attempt: int,
        stream: str | None,
        exc: Exception,
    ) -> float:
        """Raise the typed error for a failed call, or return how long to wait before retrying."""
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
            permission=f"iam:{operation}",
        )

    def pages(self, operation: str, *, stream: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a Marker/IsTruncated-paged operation."""
        marker: str | None = None
        while True:
            paged: dict[str, Any] = {**params, **({"Marker": marker} if marker else {})}
            body = self.call(operation, stream=stream, **paged)
            assert body is not None
            yield body
            if not body.get("IsTruncated"):
                return
            marker = body.get("Marker")
            if not marker:
                raise SchemaDriftError(
                    self.name,
                    f"{operation_action(operation)} page is truncated but has no 'Marker'",
                    stream=stream,
                    field="Marker",
                )

    def _items(self, operation: str, key: str, *, stream: str, **params: Any) -> list[Any]:
        """Every item of `key` across the pages of an operation."""
        items: list[Any] = []
        for body in self.pages(operation, stream=stream, **params):
            value = body.get(key)
            if not isinstance(value, list):
                raise SchemaDriftError(
                    self.name,
                    f"{operation_action(operation)} answer has no '{key}' list",
                    stream=stream,
                    field=key,
                )
            items.extend(value)
        return items

    # ----------------------------------------------------------------------------- streams

    def rules(self) -> tuple[mapping.AdminRules, mapping.EmailRule]:
        """The admin and e-mail rules of this source's config."""
        s = self.settings
        return (
            mapping.AdminRules(frozenset(s.admin_policy_names), frozenset(s.admin_actions)),
            mapping.EmailRule(s.email_tag, s.email_template, s.email_user_pattern),
        )

    def authorization(self, *, stream: str = STREAM) -> mapping.Authorization:
        """Every page of GetAccountAuthorizationDetails, gathered."""
        auth = mapping.Authorization()
        for page in self.pages(
            "get_account_authorization_details",
            stream=stream,
            Filter=GAAD_FILTER,
            MaxItems=min(self.config.page_size, 1000),
        ):
            auth.add_page(page, source=self.name, stream=stream)
        return auth

    def pull_principals(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield every IAM user and every admin IAM role as an access grant."""
        s = self.settings
        admin_rules, email_rule = self.rules()
        auth = self.authorization()
        password_used: dict[str, datetime | None] = {}
        for user in self._items(
            "list_users", "Users", stream=STREAM, MaxItems=min(self.config.page_size, 1000)
        ):
            r = Reader(user, source=self.name, stream=STREAM, what="IAM user")
            password_used[str(r.need("UserName"))] = r.time("PasswordLastUsed")
        for user in auth.users:
            r = Reader(user, source=self.name, stream=STREAM, what="IAM user")
            name = str(r.need("UserName"))
            activity = self.activity(
                name,
                password_last_used=password_used.get(name),
                needs_password_check=email_rule.email(name, r.get("Tags")) is None,
            )
            yield Record(
                "access_grant",
                mapping.user_grant(
                    user,
                    source=self.name,
                    system=s.system,
                    auth=auth,
                    rules=admin_rules,
                    emails=email_rule,
                    activity=activity,
                ),
            )
        for role in auth.roles:
            held = mapping.role_holdings(role, auth, admin_rules)
            if held.admin_policy is None:
                continue
            yield Record(
                "access_grant",
                mapping.role_grant(role, source=self.name, system=s.system, held=held),
            )

    def activity(
        self, user: str, *, password_last_used: datetime | None, needs_password_check: bool
    ) -> mapping.UserActivity:
        """MFA devices, active keys and their last use (and console password if asked)."""
        page = min(self.config.page_size, 1000)
        devices = self._items(
            "list_mfa_devices", "MFADevices", stream=STREAM, UserName=user, MaxItems=page
        )
        keys = mapping.active_key_dates(
            self._items(
                "list_access_keys", "AccessKeyMetadata", stream=STREAM, UserName=user, MaxItems=page
            ),
            source=self.name,
            stream=STREAM,
        )
        last_used: list[datetime] = []
        for key_id, _created in keys:
            body = self.call("get_access_key_last_used", stream=STREAM, AccessKeyId=key_id)
            used = parse_time((body or {}).get("AccessKeyLastUsed", {}).get("LastUsedDate"))
            if used is not None:
                last_used.append(used)
        has_password: bool | None = None
        if needs_password_check:
            profile = self.call("get_login_profile", stream=STREAM, absent_ok=True, UserName=user)
            has_password = profile is not None
        return mapping.UserActivity(
            mfa_devices=len(devices),
            has_password=has_password,
            password_last_used=password_last_used,
            key_created=tuple(created for _, created in keys if created is not None),
            key_last_used=tuple(last_used),
        )

    def check(self) -> list[CheckResult]:
        """Probe read access: one small ListUsers and one small GAAD page (read-only)."""
        results = []
        for capability, operation, params in (
            ("list users", "list_users", {"MaxItems": 1}),
            (
                "read authorization details",
                "get_account_authorization_details",
                {"Filter": ["User"], "MaxItems": 1},
            ),
        ):
            try:
                self.call(operation, stream=None, **params)
            except ConnectorError as exc:
                results.append(CheckResult(capability, False, str(exc)))
            else:
                results.append(CheckResult(capability, True))
        return results


def operation_action(operation: str) -> str:
    """The IAM action name of a boto3 operation ('list_mfa_devices' → 'ListMFADevices')."""
    special = {"mfa": "MFA"}
    return "".join(special.get(part, part.capitalize()) for part in operation.split("_"))
