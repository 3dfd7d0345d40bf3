"""AWS IAM payloads (boto3's parsed answers) → `access_grant` rows.

`Authorization` gathers the pages of GetAccountAuthorizationDetails (users, groups, roles and
the account's own managed policies). A principal is privileged when a policy it holds — attached,
inline, or through a group — is one of the named admin policies (AdministratorAccess by default)
or allows an admin action (`*`, `*:*`, `iam:*` by default) on every resource. Its `role` is the
policy that makes it privileged, else the sorted names of what it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from cto_assistant.connectors.payload import Reader, parse_time
from cto_assistant.errors import SchemaDriftError

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
MAX_ROLE_CHARS = 128


@dataclass
class Authorization:
    """The account's users, groups, roles and local managed policies (from GAAD pages)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # arn → ManagedPolicyDetail

    def add_page(self, page: Mapping[str, Any], *, source: str, stream: str) -> None:
        """Add one GetAccountAuthorizationDetails page."""
        for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
            value = page.get(key, [])
            if not isinstance(value, list):
                raise SchemaDriftError(
                    source, f"GetAccountAuthorizationDetails '{key}' is not a list", stream=stream
                )
        self.users.extend(page.get("UserDetailList", []))
        self.roles.extend(page.get("RoleDetailList", []))
        for group in page.get("GroupDetailList", []):
            name = Reader(group, source=source, stream=stream, what="group").need("GroupName")
            self.groups[str(name)] = group
        for policy in page.get("Policies", []):
            arn = Reader(policy, source=source, stream=stream, what="policy").need("Arn")
            self.policies[str(arn)] = policy


@dataclass(frozen=True)
class AdminRules:
    """What makes a policy grant privileged access."""

    policy_names: frozenset[str] = frozenset({"AdministratorAccess", "IAMFullAccess"})
    actions: frozenset[str] = frozenset({"*", "*:*", "iam:*"})


@dataclass(frozen=True)
class Holdings:
    """The policies a principal holds and the first one that makes it privileged."""

    names: tuple[str, ...]
    admin_policy: str | None

    @property
    def role(self) -> str | None:
        """The admin policy, else the held policy names (bounded for the column)."""
        if self.admin_policy:
            return self.admin_policy
        text = ", ".join(self.names)
        return text[:MAX_ROLE_CHARS] if text else None


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy document as a dict (boto3 decodes them; raw answers are URL-encoded JSON)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            decoded = json.loads(unquote(value))
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def document_grants_admin(document: Mapping[str, Any] | None, rules: AdminRules) -> bool:
    """Whether a policy document allows an admin action on every resource."""
    if not document:
        return False
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
        resources = {str(r) for r in _as_list(statement.get("Resource"))}
        if actions & {a.lower() for a in rules.actions} and "*" in resources:
            return True
    return False


def _managed_policy_admin(arn: str, name: str, auth: Authorization, rules: AdminRules) -> bool:
    if name in rules.policy_names and arn.startswith(AWS_MANAGED_PREFIX):
        return True
    local = auth.policies.get(arn)
    if local is None:
        return name in rules.policy_names
    for version in local.get("PolicyVersionList") or []:
        if version.get("IsDefaultVersion"):
            return document_grants_admin(policy_document(version.get("Document")), rules)
    return False


def holdings(
    attached: Iterable[Mapping[str, Any]],
    inline: Iterable[Mapping[str, Any]],
    auth: Authorization,
    rules: AdminRules,
    *,
    via: str = "",
) -> tuple[list[str], str | None]:
    """Names of attached + inline policies and the first admin one (prefixed by `via`)."""
    names: list[str] = []
    admin: str | None = None
    for policy in attached:
        name = str(policy.get("PolicyName") or policy.get("PolicyArn") or "")
        names.append(f"{via}{name}")
        if admin is None and _managed_policy_admin(
            str(policy.get("PolicyArn", "")), name, auth, rules
        ):
            admin = f"{via}{name}"
    for policy in inline:
        name = f"{via}{policy.get('PolicyName') or 'inline'} (inline)"
        names.append(name)
        if admin is None and document_grants_admin(
            policy_document(policy.get("PolicyDocument")), rules
        ):
            admin = name
    return names, admin


def user_holdings(user: Mapping[str, Any], auth: Authorization, rules: AdminRules) -> Holdings:
    """What a user holds directly and through its groups."""
    names, admin = holdings(
        user.get("AttachedManagedPolicies") or [], user.get("UserPolicyList") or [], auth, rules
    )
    for group_name in user.get("GroupList") or []:
        group = auth.groups.get(str(group_name))
        if group is None:
            continue
        more, group_admin = holdings(
            group.get("AttachedManagedPolicies") or [],
            group.get("GroupPolicyList") or [],
            auth,
            rules,
            via=f"{group_name}/",
        )
        names.extend(more)
        admin = admin or group_admin
    if admin and "/" in admin:  # granted through a group: the policy name is the role
        admin = admin.split("/", 1)[1]
    return Holdings(tuple(sorted(set(names))), admin)


def role_holdings(role: Mapping[str, Any], auth: Authorization, rules: AdminRules) -> Holdings:
    """What an IAM role holds."""
    names, admin = holdings(
        role.get("AttachedManagedPolicies") or [], role.get("RolePolicyList") or [], auth, rules
    )
    return Holdings(tuple(sorted(set(names))), admin)


@dataclass(frozen=True)
class EmailRule:
    """How a user's person e-mail is found: a tag, an e-mail user name, or a name template."""

    tag: str | None = "email"
    template: str | None = None  # e.g. "{user}@acme.cloud"
    pattern: str = r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9.-]*$"

    def email(self, user_name: str, tags: Sequence[Mapping[str, Any]] | None) -> str | None:
        """The person e-mail for a user, or None (a service or shared account)."""
        if self.tag:
            wanted = self.tag.lower()
            for tag in tags or []:
                if str(tag.get("Key", "")).lower() == wanted and tag.get("Value"):
                    return str(tag["Value"]).strip().lower()
        if "@" in user_name:
            return user_name.lower()
        if self.template and re.fullmatch(self.pattern, user_name):
            return self.template.format(user=user_name).lower()
        return None


@dataclass(frozen=True)
class UserActivity:
    """What per-user calls add to a GAAD user: MFA, console password, access keys, last use."""

    mfa_devices: int = 0
    has_password: bool | None = None  # None: not asked (a person's account)
    password_last_used: datetime | None = None
    key_created: tuple[datetime, ...] = ()  # active keys
    key_last_used: tuple[datetime, ...] = ()


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def user_grant(
    user: Mapping[str, Any],
    *,
    source: str,
    system: str,
    auth: Authorization,
    rules: AdminRules,
    emails: EmailRule,
    activity: UserActivity,
    stream: str = "principals",
) -> dict[str, Any]:
    """One IAM user → one `access_grant` row.

    principal_type: "user" when a person e-mail is found; otherwise "shared" when the account
    has a console password (someone logs in as it) and "service" when it has none. MFA is None
    for service accounts (no console sign-in to protect).
    """
    r = Reader(user, source=source, stream=stream, what="IAM user")
    arn = str(r.need("Arn"))
    name = str(r.need("UserName"))
    held = user_holdings(user, auth, rules)
    email = emails.email(name, r.get("Tags"))
    principal_type = "user" if email else "shared" if activity.has_password else "service"
    mfa: bool | None = activity.mfa_devices > 0
    if principal_type == "service" and not mfa:
        mfa = None
    used = [t for t in (activity.password_last_used, *activity.key_last_used) if t is not None]
    return {
        "source": source,
        "source_id": f"{system}:{arn}",
        "system": system,
        "principal": arn,
        "principal_type": principal_type,
        "person_email": email,
        "role": held.role,
        "privileged": held.admin_policy is not None,
        "mfa": mfa,
        "last_used_at": _utc(max(used)) if used else None,
        "granted_at": _utc(r.time("CreateDate")),
        "key_created_at": _utc(min(activity.key_created)) if activity.key_created else None,
    }


def role_grant(
    role: Mapping[str, Any],
    *,
    source: str,
    system: str,
    held: Holdings,
    stream: str = "principals",
) -> dict[str, Any]:
    """One IAM role (an admin one) → one `access_grant` row."""
    r = Reader(role, source=source, stream=stream, what="IAM role")
    arn = str(r.need("Arn"))
    r.need("RoleName")
    return {
        "source": source,
        "source_id": f"{system}:{arn}",
        "system": system,
        "principal": arn,
        "principal_type": "role",
        "person_email": None,
        "role": held.role,
        "privileged": held.admin_policy is not None,
        "mfa": None,
        "last_used_at": _utc(r.time("RoleLastUsed.LastUsedDate")),
        "granted_at": _utc(r.time("CreateDate")),
        "key_created_at": None,
    }


def active_key_dates(
    keys: Iterable[Mapping[str, Any]], *, source: str, stream: str
) -> list[tuple[str, datetime | None]]:
    """(AccessKeyId, CreateDate) of each active key of a ListAccessKeys answer."""
    found = []
    for key in keys:
        r = Reader(key, source=source, stream=stream, what="access key")
        if str(r.get("Status", "Active")) != "Active":
            continue
        found.append((str(r.need("AccessKeyId")), parse_time(r.get("CreateDate"))))
    return found
