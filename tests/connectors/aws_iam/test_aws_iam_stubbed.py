"""AWS IAM connector with botocore's Stubber: answers validated against botocore's IAM model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from botocore.stub import Stubber

from cto_assistant.connectors.aws_iam import AwsIamConfig, AwsIamConnector
from cto_assistant.connectors.aws_iam.mapping import AdminRules, document_grants_admin
from cto_assistant.connectors.base import ConnectorContext, Record
from cto_assistant.errors import AuthError, RateLimitedError

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ACCT = "111122223333"
STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
}


def encoded(document: dict[str, Any]) -> str:
    """A policy document as IAM sends it on the wire (URL-encoded JSON)."""
    return quote(json.dumps(document))


def user(name: str, **extra: Any) -> dict[str, Any]:
    """A UserDetail."""
    return {
        "Path": "/",
        "UserName": name,
        "UserId": f"AIDA{name.upper().replace('.', '')[:12]:0<12}XXXXX",
        "Arn": f"arn:aws:iam::{ACCT}:user/{name}",
        "CreateDate": T0,
        "GroupList": [],
        "AttachedManagedPolicies": [],
        "UserPolicyList": [],
        "Tags": [],
        **extra,
    }


def role(name: str, **extra: Any) -> dict[str, Any]:
    """A RoleDetail."""
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": f"AROA{name.upper()[:12]:0<12}XXXXX",
        "Arn": f"arn:aws:iam::{ACCT}:role/{name}",
        "CreateDate": T0,
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "RoleLastUsed": {},
        **extra,
    }


def local_policy(name: str, versions: list[tuple[dict[str, Any], bool]]) -> dict[str, Any]:
    """A ManagedPolicyDetail with its versions (document, is default)."""
    return {
        "PolicyName": name,
        "Arn": f"arn:aws:iam::{ACCT}:policy/{name}",
        "DefaultVersionId": "v1",
        "PolicyVersionList": [
            {"Document": encoded(doc), "VersionId": f"v{i}", "IsDefaultVersion": default}
            for i, (doc, default) in enumerate(versions, start=1)
        ],
    }


@pytest.fixture
def stubbed() -> tuple[AwsIamConnector, Stubber, list[float]]:
    """A connector whose boto3 client is stubbed (no HTTP at all)."""
    waits: list[float] = []
    config = AwsIamConfig(
        base_url="https://iam.invalid/",
        access_key_id="AKIATESTTESTTESTTEST",
        secret_access_key="test",
        email_template="{user}@acme.cloud",
        page_size=2,
    )
    conn = AwsIamConnector(ConnectorContext(name="iam_stub", config=config, sleep=waits.append))
    stubber = Stubber(conn.client)
    stubber.activate()
    return conn, stubber, waits


def no_activity(stubber: Stubber, name: str, *, login: bool | None = None) -> None:
    """Stub ListMFADevices and ListAccessKeys with nothing (and GetLoginProfile if asked)."""
    stubber.add_response(
        "list_mfa_devices",
        {"MFADevices": [], "IsTruncated": False},
        {"UserName": name, "MaxItems": 2},
    )
    stubber.add_response(
        "list_access_keys",
        {"AccessKeyMetadata": [], "IsTruncated": False},
        {"UserName": name, "MaxItems": 2},
    )
    if login is True:
        stubber.add_response(
            "get_login_profile", {"LoginProfile": {"UserName": name, "CreateDate": T0}}
        )
    elif login is False:
        stubber.add_client_error(
            "get_login_profile", service_error_code="NoSuchEntity", http_status_code=404
        )


def test_policies_groups_paging_and_principal_types(
    stubbed: tuple[AwsIamConnector, Stubber, list[float]],
) -> None:
    conn, stubber, _ = stubbed
    gaad = {"Filter": ["User", "Group", "Role", "LocalManagedPolicy"], "MaxItems": 2}
    stubber.add_response(
        "get_account_authorization_details",
        {
            "UserDetailList": [
                user(
                    "ana.silva",
                    UserPolicyList=[{"PolicyName": "break-glass", "PolicyDocument": encoded(STAR)}],
                ),
                user("ben.ito", GroupList=["ops"]),
            ],
            "IsTruncated": True,
            "Marker": "page-2",
        },
        gaad,
    )
    stubber.add_response(
        "get_account_authorization_details",
        {
            "UserDetailList": [
                user(
                    "shared-console",
                    AttachedManagedPolicies=[
                        {
                            "PolicyName": "ReadOnlyAccess",
                            "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                        }
                    ],
                ),
            ],
            "GroupDetailList": [
                {
                    "GroupName": "ops",
                    "Arn": f"arn:aws:iam::{ACCT}:group/ops",
                    "GroupPolicyList": [],
                    "AttachedManagedPolicies": [
                        {"PolicyName": "OpsAll", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/OpsAll"}
                    ],
                }
            ],
            "RoleDetailList": [
                role(
                    "deployer",
                    AttachedManagedPolicies=[
                        {"PolicyName": "OpsAll", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/OpsAll"}
                    ],
                    RoleLastUsed={"LastUsedDate": T0, "Region": "eu-west-1"},
                ),
                role(
                    "was-admin",
                    AttachedManagedPolicies=[
                        {"PolicyName": "Rolled", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/Rolled"}
                    ],
                ),
            ],
            "Policies": [
                local_policy("OpsAll", [(STAR, True)]),
                local_policy("Rolled", [(STAR, False), (READ, True)]),
            ],
            "IsTruncated": False,
        },
        {**gaad, "Marker": "page-2"},
    )
    stubber.add_response(
        "list_users",
        {
            "Users": [
                {
                    "Path": "/",
                    "UserName": "ana.silva",
                    "UserId": "AIDAAAAAAAAAAAAAAAAAA",
                    "Arn": f"arn:aws:iam::{ACCT}:user/ana.silva",
                    "CreateDate": T0,
                    "PasswordLastUsed": datetime(2026, 2, 1, tzinfo=UTC),
                },
            ],
            "IsTruncated": False,
        },
        {"MaxItems": 2},
    )
    stubber.add_response(
        "list_mfa_devices",
        {
            "MFADevices": [
                {"UserName": "ana.silva", "SerialNumber": "arn:mfa/ana", "EnableDate": T0}
            ],
            "IsTruncated": False,
        },
        {"UserName": "ana.silva", "MaxItems": 2},
    )
    stubber.add_response(
        "list_access_keys",
        {
            "AccessKeyMetadata": [
                {
                    "UserName": "ana.silva",
                    "AccessKeyId": "AKIAOLDKEY0000000000",
                    "Status": "Active",
                    "CreateDate": datetime(2022, 5, 1, tzinfo=UTC),
                },
                {
                    "UserName": "ana.silva",
                    "AccessKeyId": "AKIAOFFKEY0000000000",
                    "Status": "Inactive",
                    "CreateDate": datetime(2020, 1, 1, tzinfo=UTC),
                },
            ],
            "IsTruncated": False,
        },
        {"UserName": "ana.silva", "MaxItems": 2},
    )
    stubber.add_response(
        "get_access_key_last_used",
        {
            "UserName": "ana.silva",
            "AccessKeyLastUsed": {
                "LastUsedDate": datetime(2026, 2, 20, tzinfo=UTC),
                "ServiceName": "s3",
                "Region": "us-east-1",
            },
        },
        {"AccessKeyId": "AKIAOLDKEY0000000000"},
    )
    no_activity(stubber, "ben.ito")
    no_activity(stubber, "shared-console", login=True)
    rows = {
        r.values["principal"].rsplit("/", 1)[1]: dict(r.values)
        for r in conn.pull("principals", None)
        if isinstance(r, Record)
    }
    stubber.assert_no_pending_responses()
    ana = rows["ana.silva"]
    assert ana["privileged"] and ana["role"] == "break-glass (inline)"
    assert ana["person_email"] == "ana.silva@acme.cloud"  # from the name template
    assert ana["mfa"] is True
    assert ana["last_used_at"] == datetime(2026, 2, 20, tzinfo=UTC)  # latest of password and key
    assert ana["key_created_at"] == datetime(2022, 5, 1, tzinfo=UTC)  # the inactive key ignored
    ben = rows["ben.ito"]
    assert (ben["privileged"], ben["role"], ben["mfa"]) == (True, "OpsAll", False)
    shared = rows["shared-console"]
    assert (shared["principal_type"], shared["person_email"], shared["privileged"]) == (
        "shared",
        None,
        False,
    )
    assert shared["mfa"] is False and shared["role"] == "ReadOnlyAccess"
    assert rows["deployer"]["principal_type"] == "role" and rows["deployer"]["role"] == "OpsAll"
    assert rows["deployer"]["last_used_at"] == T0
    assert "was-admin" not in rows  # only the default policy version counts
    assert conn.context.stats.requests == 2 + 1 + 3 + 2 + 3


def test_throttling_code_backs_off_then_succeeds(
    stubbed: tuple[AwsIamConnector, Stubber, list[float]],
) -> None:
    conn, stubber, waits = stubbed
    stubber.add_client_error("list_users", service_error_code="Throttling", http_status_code=400)
    stubber.add_client_error("list_users", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("list_users", {"Users": [], "IsTruncated": False})
    result = conn.call("list_users", stream="principals")
    assert result is not None and result["Users"] == []
    assert len(waits) == 2 and 0 <= waits[0] <= 0.5 and 0 <= waits[1] <= 1.0
    assert conn.context.stats.retries == 2


def test_throttling_that_never_ends_is_rate_limited(
    stubbed: tuple[AwsIamConnector, Stubber, list[float]],
) -> None:
    conn, stubber, _ = stubbed
    for _ in range(5):
        stubber.add_client_error(
            "list_users", service_error_code="Throttling", http_status_code=400
        )
    with pytest.raises(RateLimitedError, match="ListUsers throttled"):
        conn.call("list_users", stream="principals")


def test_access_denied_is_auth_error_naming_the_source_and_permission(
    stubbed: tuple[AwsIamConnector, Stubber, list[float]],
) -> None:
    conn, stubber, _ = stubbed
    stubber.add_client_error(
        "get_account_authorization_details",
        service_error_code="AccessDenied",
        service_message="not authorized to perform: iam:GetAccountAuthorizationDetails",
        http_status_code=403,
    )
    with pytest.raises(AuthError) as caught:
        list(conn.pull("principals", None))
    assert str(caught.value) == (
        "iam_stub/principals: GetAccountAuthorizationDetails: AccessDenied (credentials missing "
        "or wrong, or lacking iam:GetAccountAuthorizationDetails)"
    )


@pytest.mark.parametrize(
    ("statement", "admin"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": ["s3:*", "*:*"], "Resource": ["*"]}, True),
        ({"Effect": "Allow", "Action": "IAM:*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::logs/*"}, False),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, False),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, False),
    ],
)
def test_admin_statements(statement: dict[str, Any], admin: bool) -> None:
    document = {"Version": "2012-10-17", "Statement": statement}
    assert document_grants_admin(document, AdminRules()) is admin
