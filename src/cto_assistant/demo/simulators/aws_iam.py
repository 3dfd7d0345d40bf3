"""AWS IAM simulator: the Query API (form-encoded requests, XML answers) from the world's grants.

`POST /` with `Action=<Operation>&Version=2010-05-08&…`, as boto3 sends it. Served:
GetAccountAuthorizationDetails (Filter, MaxItems/Marker paging across the combined lists),
ListUsers, ListMFADevices, ListAccessKeys, GetAccessKeyLastUsed, GetLoginProfile, GetUser.
Answers are serialized through botocore's own IAM output shapes (element names, `member`
lists, ISO 8601 dates, URL-encoded policy documents), so they are what boto3 expects.

The account is built once from the world's `access_grant` rows of system "aws" whose principal
is an IAM ARN (`arn:aws:iam::<account>:user/<name>` or `:role/<name>`; Identity Center
"sso:" principals are not IAM and are not served):
- a user gets its `email` tag from person_email, a console password unless it is a "service"
  account, a virtual MFA device when mfa is true, one active access key created at
  key_created_at whose last use is last_used_at (also its PasswordLastUsed); created at granted_at;
- its `role` is an AWS-managed policy (AdministratorAccess, ReadOnlyAccess …) — people get
  AdministratorAccess through the `admins` group, service accounts directly; a privileged role
  name that is not AWS-managed becomes a local policy allowing `*:*`;
- roles get their policy attached and RoleLastUsed; a non-admin service-linked role is added.

Auth: a SigV4 `Authorization` header whose credential is the demo access key
`AKIADEMOACME00000000` (secret `demo-secret-key`); the signature is not verified. No header →
401 MissingAuthenticationToken, another key → 403 InvalidClientTokenId; `denied_actions` answer
403 AccessDenied, in IAM's XML error shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape
from fastapi import FastAPI, Request
from fastapi.responses import Response

from cto_assistant.demo.simulators.common import new_simulator
from cto_assistant.demo.world import Row, World

DEMO_CREDENTIALS = {"access_key_id": "AKIADEMOACME00000000", "secret_access_key": "demo-secret-key"}
NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
AWS_MANAGED = "arn:aws:iam::aws:policy/"
AWS_MANAGED_NAMES = frozenset(
    {"AdministratorAccess", "IAMFullAccess", "PowerUserAccess", "ReadOnlyAccess", "ViewOnlyAccess"}
)
ADMIN_GROUP = "admins"
PRINCIPAL = re.compile(r"^arn:aws:iam::(\d{12}):(user|role)/(?:.*/)?([\w+=,.@-]+)$")
GAAD_LISTS = {
    "User": "UserDetailList",
    "Group": "GroupDetailList",
    "Role": "RoleDetailList",
    "LocalManagedPolicy": "Policies",
}
XML = "text/xml"

_MODEL: ServiceModel | None = None


def iam_model() -> ServiceModel:
    """botocore's IAM service model (loaded once)."""
    global _MODEL
    if _MODEL is None:
        _MODEL = botocore.session.get_session().get_service_model("iam")
    return _MODEL


def _stable(prefix: str, seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest().upper()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(
        alphabet[int(digest[i : i + 2], 16) % 32] for i in range(0, 2 * length, 2)
    )


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


ADMIN_DOCUMENT = _document([{"Effect": "Allow", "Action": "*", "Resource": "*"}])
TRUST_DOCUMENT = _document(
    [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ]
)


# ------------------------------------------------------------------------------ serializing


def _scalar(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.name == "policyDocumentType" and not isinstance(value, str):
        return quote(json.dumps(value, separators=(",", ":")), safe="")
    return escape(str(value))


def to_xml(shape: Shape, value: Any, element: str) -> str:
    """Serialize `value` as `element` of `shape` the way IAM does (unknown keys are errors)."""
    if isinstance(shape, StructureShape):
        unknown = set(value) - set(shape.members)
        if unknown:
            raise KeyError(f"{shape.name} has no member(s) {sorted(unknown)}")
        inner = "".join(
            to_xml(member, value[name], member.serialization.get("name", name))
            for name, member in shape.members.items()
            if value.get(name) is not None
        )
        return f"<{element}>{inner}</{element}>"
    if isinstance(shape, ListShape):
        item = shape.member.serialization.get("name", "member")
        inner = "".join(to_xml(shape.member, v, item) for v in value)
        return f"<{element}>{inner}</{element}>"
    return f"<{element}>{_scalar(shape, value)}</{element}>"


def answer(operation: str, result: dict[str, Any]) -> Response:
    """The XML answer of `operation` carrying `result` (validated against its output shape)."""
    op: OperationModel = iam_model().operation_model(operation)
    shape = op.output_shape
    body = to_xml(shape, result, f"{operation}Result") if shape is not None else ""
    request_id = str(uuid.uuid4())
    xml = (
        f'<{operation}Response xmlns="{NAMESPACE}">{body}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return Response(xml, media_type=XML, headers={"x-amzn-RequestId": request_id})


def iam_error(status: int, code: str, message: str) -> Response:
    """An error in IAM's XML shape."""
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(xml, status_code=status, media_type=XML)


# ----------------------------------------------------------------------------- the account


class IamAccount:
    """The IAM entities of the world's grants, built once."""

    def __init__(self, rows: Iterable[Row], *, system: str = "aws") -> None:
        self.users: list[dict[str, Any]] = []  # UserDetail
        self.listed: list[dict[str, Any]] = []  # User (ListUsers)
        self.groups: dict[str, dict[str, Any]] = {}
        self.roles: list[dict[str, Any]] = []
        self.policies: dict[str, dict[str, Any]] = {}
        self.mfa: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.keys: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.key_use: dict[str, dict[str, Any]] = {}
        self.logins: dict[str, dict[str, Any]] = {}
        account = ""
        for row in rows:
            if row.get("system") != system:
                continue
            match = PRINCIPAL.match(str(row.get("principal") or ""))
            if match is None:
                continue
            account, kind, name = match.groups()
            if kind == "user":
                self._add_user(row, account, name)
            else:
                self._add_role(row, account, name)
        if account:
            self.roles.append(
                {
                    "Path": "/aws-service-role/support.amazonaws.com/",
                    "RoleName": "AWSServiceRoleForSupport",
                    "RoleId": _stable("AROA", "support", 17),
                    "Arn": f"arn:aws:iam::{account}:role/aws-service-role/support.amazonaws.com/"
                    "AWSServiceRoleForSupport",
                    "CreateDate": datetime(2019, 1, 1, tzinfo=UTC),
                    "AssumeRolePolicyDocument": TRUST_DOCUMENT,
                    "AttachedManagedPolicies": [
                        {
                            "PolicyName": "AWSSupportServiceRolePolicy",
                            "PolicyArn": f"{AWS_MANAGED}aws-service-role/AWSSupportServiceRolePolicy",
                        }
                    ],
                    "RolePolicyList": [],
                    "InstanceProfileList": [],
                    "Tags": [],
                    "RoleLastUsed": {},
                }
            )

    def _attachment(self, account: str, policy: str, privileged: bool) -> dict[str, str]:
        if policy in AWS_MANAGED_NAMES or not privileged:
            return {"PolicyName": policy, "PolicyArn": f"{AWS_MANAGED}{policy}"}
        arn = f"arn:aws:iam::{account}:policy/{policy}"
        if arn not in self.policies:
            self.policies[arn] = {
                "PolicyName": policy,
                "PolicyId": _stable("ANPA", arn, 17),
                "Arn": arn,
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 0,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "CreateDate": datetime(2020, 1, 1, tzinfo=UTC),
                "UpdateDate": datetime(2020, 1, 1, tzinfo=UTC),
                "PolicyVersionList": [
                    {
                        "Document": ADMIN_DOCUMENT,
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "CreateDate": datetime(2020, 1, 1, tzinfo=UTC),
                    }
                ],
            }
        self.policies[arn]["AttachmentCount"] += 1
        return {"PolicyName": policy, "PolicyArn": arn}

    def _add_user(self, row: Row, account: str, name: str) -> None:
        arn = str(row["principal"])
        created = row.get("granted_at") or datetime(2020, 1, 1, tzinfo=UTC)
        tags = [{"Key": "email", "Value": row["person_email"]}] if row.get("person_email") else []
        attached: list[dict[str, str]] = []
        groups: list[str] = []
        policy = row.get("role")
        person = row.get("principal_type") != "service"
        if policy == "AdministratorAccess" and person:
            groups.append(ADMIN_GROUP)
            self._admin_group(account)
        elif policy:
            attached.append(self._attachment(account, str(policy), bool(row.get("privileged"))))
        user_id = _stable("AIDA", arn, 17)
        self.users.append(
            {
                "Path": "/",
                "UserName": name,
                "UserId": user_id,
                "Arn": arn,
                "CreateDate": created,
                "UserPolicyList": [],
                "GroupList": groups,
                "AttachedManagedPolicies": attached,
                "Tags": tags,
            }
        )
        used = row.get("last_used_at")
        self.listed.append(
            {
                "Path": "/",
                "UserName": name,
                "UserId": user_id,
                "Arn": arn,
                "CreateDate": created,
                "PasswordLastUsed": used if person else None,
                "Tags": tags,
            }
        )
        if person:
            self.logins[name] = {
                "UserName": name,
                "CreateDate": created,
                "PasswordResetRequired": False,
            }
        if row.get("mfa"):
            self.mfa[name].append(
                {
                    "UserName": name,
                    "SerialNumber": f"arn:aws:iam::{account}:mfa/{name}",
                    "EnableDate": created,
                }
            )
        if row.get("key_created_at"):
            key_id = _stable("AKIA", arn, 16)
            self.keys[name].append(
                {
                    "UserName": name,
                    "AccessKeyId": key_id,
                    "Status": "Active",
                    "CreateDate": row["key_created_at"],
                }
            )
            self.key_use[key_id] = {
                "UserName": name,
                "AccessKeyLastUsed": {
                    "LastUsedDate": used,
                    "ServiceName": "s3" if used else "N/A",
                    "Region": "us-east-1" if used else "N/A",
                },
            }

    def _admin_group(self, account: str) -> None:
        if ADMIN_GROUP in self.groups:
            return
        arn = f"arn:aws:iam::{account}:group/{ADMIN_GROUP}"
        self.groups[ADMIN_GROUP] = {
            "Path": "/",
            "GroupName": ADMIN_GROUP,
            "GroupId": _stable("AGPA", arn, 17),
            "Arn": arn,
            "CreateDate": datetime(2019, 6, 1, tzinfo=UTC),
            "GroupPolicyList": [],
            "AttachedManagedPolicies": [
                {
                    "PolicyName": "AdministratorAccess",
                    "PolicyArn": f"{AWS_MANAGED}AdministratorAccess",
                }
            ],
        }

    def _add_role(self, row: Row, account: str, name: str) -> None:
        arn = str(row["principal"])
        policy = row.get("role")
        attached = (
            [self._attachment(account, str(policy), bool(row.get("privileged")))] if policy else []
        )
        used = row.get("last_used_at")
        self.roles.append(
            {
                "Path": "/",
                "RoleName": name,
                "RoleId": _stable("AROA", arn, 17),
                "Arn": arn,
                "CreateDate": row.get("granted_at") or datetime(2020, 1, 1, tzinfo=UTC),
                "AssumeRolePolicyDocument": TRUST_DOCUMENT,
                "InstanceProfileList": [],
                "RolePolicyList": [],
                "AttachedManagedPolicies": attached,
                "Tags": [],
                "RoleLastUsed": {"LastUsedDate": used, "Region": "us-east-1"} if used else {},
            }
        )

    def authorization_items(self, filters: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """Every (list name, entity) GAAD returns for `filters` (all kinds when empty)."""
        wanted = filters or list(GAAD_LISTS)
        items: list[tuple[str, dict[str, Any]]] = []
        sources: dict[str, list[dict[str, Any]]] = {
            "User": self.users,
            "Group": list(self.groups.values()),
            "Role": self.roles,
            "LocalManagedPolicy": list(self.policies.values()),
        }
        for kind in GAAD_LISTS:
            if kind in wanted:
                items.extend((GAAD_LISTS[kind], entity) for entity in sources[kind])
        return items


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        return -1


def _paged(
    items: list[Any], form: dict[str, str], default: int
) -> tuple[list[Any], dict[str, Any]] | None:
    """One page of `items` and its IsTruncated/Marker; None for a bad marker."""
    offset = _offset(form.get("Marker"))
    if offset < 0:
        return None
    size = max(1, min(1000, int(form.get("MaxItems") or default)))
    chosen = items[offset : offset + size]
    more = offset + size < len(items)
    return chosen, {"IsTruncated": more, **({"Marker": _token(offset + size)} if more else {})}


def _members(form: dict[str, str], name: str) -> list[str]:
    found = sorted(
        (int(key.rsplit(".", 1)[1]), value)
        for key, value in form.items()
        if key.startswith(f"{name}.member.")
    )
    return [value for _, value in found]


def make_app(
    world: World,
    *,
    credentials: dict[str, str] | None = None,
    page_size: int = 100,
    system: str = "aws",
    denied_actions: Iterable[str] = (),
) -> FastAPI:
    """The IAM simulator for `world` (demo keys unless `credentials`; MaxItems default)."""
    creds = credentials or DEMO_CREDENTIALS
    app, _state = new_simulator("aws_iam", world, credentials=creds)
    iam = IamAccount(world.rows("access_grant"), system=system)
    denied = frozenset(denied_actions)

    @app.post("/", response_model=None)
    async def dispatch(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header:
            return iam_error(401, "MissingAuthenticationToken", "Missing Authentication Token")
        if (
            not header.startswith("AWS4-HMAC-SHA256 ")
            or f"Credential={creds['access_key_id']}/" not in header
        ):
            return iam_error(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        raw = parse_qs((await request.body()).decode(), keep_blank_values=True)
        form = {key: values[-1] for key, values in raw.items()}
        action = form.get("Action", "")
        if action in denied:
            return iam_error(
                403,
                "AccessDenied",
                f"User: arn:aws:iam::123456789012:user/cto-assistant is not authorized to "
                f"perform: iam:{action} on resource: *",
            )
        user = form.get("UserName", "")
        if action == "GetAccountAuthorizationDetails":
            page = _paged(iam.authorization_items(_members(form, "Filter")), form, page_size)
            if page is None:
                return iam_error(400, "ValidationError", "Invalid Marker")
            chosen, paging = page
            lists: dict[str, list[dict[str, Any]]] = {name: [] for name in GAAD_LISTS.values()}
            for list_name, entity in chosen:
                lists[list_name].append(entity)
            return answer(action, {**lists, **paging})
        if action == "ListUsers":
            page = _paged(iam.listed, form, page_size)
            if page is None:
                return iam_error(400, "ValidationError", "Invalid Marker")
            return answer(action, {"Users": page[0], **page[1]})
        if action in ("ListMFADevices", "ListAccessKeys", "GetLoginProfile", "GetUser"):
            if user not in iam.logins and not any(u["UserName"] == user for u in iam.listed):
                return iam_error(404, "NoSuchEntity", f"The user with name {user} cannot be found.")
            if action == "ListMFADevices":
                page = _paged(iam.mfa.get(user, []), form, page_size)
                assert page is not None
                return answer(action, {"MFADevices": page[0], **page[1]})
            if action == "ListAccessKeys":
                page = _paged(iam.keys.get(user, []), form, page_size)
                assert page is not None
                return answer(action, {"AccessKeyMetadata": page[0], **page[1]})
            if action == "GetUser":
                return answer(
                    action, {"User": next(u for u in iam.listed if u["UserName"] == user)}
                )
            profile = iam.logins.get(user)
            if profile is None:
                return iam_error(
                    404, "NoSuchEntity", f"Login Profile for User {user} cannot be found."
                )
            return answer(action, {"LoginProfile": profile})
        if action == "GetAccessKeyLastUsed":
            use = iam.key_use.get(form.get("AccessKeyId", ""))
            if use is None:
                return iam_error(403, "AccessDenied", "The access key does not belong to you.")
            return answer(action, use)
        return iam_error(400, "InvalidAction", f"Could not find operation {action or '(none)'}")

    return app
