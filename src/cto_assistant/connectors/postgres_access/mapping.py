"""PostgreSQL catalog rows → `access_grant` rows (system "postgres:<label>").

A login role is privileged when it — or any role it is a member of, directly or through other
groups — is a superuser, has CREATEROLE, CREATEDB or BYPASSRLS, or holds INSERT, UPDATE, DELETE
or TRUNCATE on a table of the watched schemas (owners hold them all). Membership counts whatever
its INHERIT setting: a member can always `SET ROLE` to the group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ATTRIBUTES = ("superuser", "createrole", "bypassrls", "createdb")
WRITE_PRIVILEGES = frozenset({"INSERT", "UPDATE", "DELETE", "TRUNCATE"})
MAX_ROLE_CHARS = 128


@dataclass
class RoleFacts:
    """One role of the cluster: its attributes, direct groups and the tables it can write."""

    name: str
    can_login: bool
    attributes: set[str] = field(default_factory=set)  # of ATTRIBUTES
    valid_until: datetime | None = None
    member_of: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)  # "schema.table"
    reads: bool = False


def ancestors(name: str, roles: Mapping[str, RoleFacts]) -> list[str]:
    """Every role `name` is a member of, transitively, nearest first (cycles are safe)."""
    seen: list[str] = []
    queue = sorted(roles[name].member_of) if name in roles else []
    while queue:
        group = queue.pop(0)
        if group in seen or group == name:
            continue
        seen.append(group)
        if group in roles:
            queue.extend(sorted(roles[group].member_of))
    return seen


def strongest(facts: RoleFacts) -> str | None:
    """The strongest privilege one role holds by itself ('superuser' … 'write'), or None."""
    for attribute in ATTRIBUTES:
        if attribute in facts.attributes:
            return attribute
    return "write" if facts.writes else None


def privilege(name: str, roles: Mapping[str, RoleFacts]) -> tuple[str | None, str | None]:
    """(privilege, group it comes through) of a role; the role's own privilege wins ties."""
    order = {label: rank for rank, label in enumerate((*ATTRIBUTES, "write"))}
    best: tuple[int, str, str | None] | None = None
    for holder in [name, *ancestors(name, roles)]:
        facts = roles.get(holder)
        if facts is None:
            continue
        label = strongest(facts)
        if label is None:
            continue
        candidate = (order[label], label, None if holder == name else holder)
        if best is None or candidate[0] < best[0]:
            best = candidate
    return (best[1], best[2]) if best else (None, None)


@dataclass(frozen=True)
class EmailRule:
    """How a role name maps to a person e-mail: itself if it is one, else a template."""

    template: str | None = None  # e.g. "{role}@acme.cloud"
    pattern: str = r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9.-]*$"

    def email(self, role: str) -> str | None:
        """The person e-mail of a role name, or None (an application or shared role)."""
        if "@" in role:
            return role.lower()
        if self.template and re.fullmatch(self.pattern, role):
            return self.template.format(role=role).lower()
        return None


def access_grant(
    name: str,
    roles: Mapping[str, RoleFacts],
    *,
    source: str,
    system: str,
    emails: EmailRule,
    now: datetime,
) -> dict[str, Any]:
    """One login role → one `access_grant` row."""
    facts = roles[name]
    label, via = privilege(name, roles)
    readers = [facts, *(roles[g] for g in ancestors(name, roles) if g in roles)]
    role = label or ("read" if any(f.reads for f in readers) else "login")
    if via:
        role += f" via {via}"
    if facts.valid_until is not None and facts.valid_until < now:
        role += f" (password expired {facts.valid_until.date().isoformat()})"
    email = emails.email(name)
    return {
        "source": source,
        "source_id": f"{system}:{name}",
        "system": system,
        "principal": name,
        "principal_type": "user" if email else "service",
        "person_email": email,
        "role": role[:MAX_ROLE_CHARS],
        "privileged": label is not None,
        "mfa": None,
        "last_used_at": None,
        "granted_at": None,
        "key_created_at": None,
    }


def role_facts(
    role_rows: Iterable[Mapping[str, Any]],
    member_rows: Iterable[Mapping[str, Any]],
    table_rows: Iterable[Mapping[str, Any]],
) -> dict[str, RoleFacts]:
    """Build the role map from pg_roles, pg_auth_members and exploded table ACL rows."""
    roles: dict[str, RoleFacts] = {}
    for row in role_rows:
        valid = row.get("rolvaliduntil")
        if isinstance(valid, datetime) and valid.tzinfo is None:
            valid = valid.replace(tzinfo=UTC)
        if isinstance(valid, datetime) and valid.year >= 9999:
            valid = None  # 'infinity'
        roles[str(row["rolname"])] = RoleFacts(
            name=str(row["rolname"]),
            can_login=bool(row["rolcanlogin"]),
            attributes={
                a for a in ATTRIBUTES if row.get(f"rol{a}" if a != "superuser" else "rolsuper")
            },
            valid_until=valid,
        )
    for row in member_rows:
        member = roles.get(str(row["member"]))
        if member is not None:
            member.member_of.add(str(row["grouprole"]))
    public_writes: set[str] = set()
    public_reads = False
    for row in table_rows:
        table = f"{row['schema']}.{row['table']}"
        grantee = row.get("grantee")
        privilege_type = str(row["privilege_type"])
        if grantee is None:  # PUBLIC
            if privilege_type in WRITE_PRIVILEGES:
                public_writes.add(table)
            elif privilege_type == "SELECT":
                public_reads = True
            continue
        facts = roles.get(str(grantee))
        if facts is None:
            continue
        if privilege_type in WRITE_PRIVILEGES:
            facts.writes.add(table)
        elif privilege_type == "SELECT":
            facts.reads = True
    if public_writes or public_reads:
        for facts in roles.values():
            facts.writes |= public_writes
            facts.reads = facts.reads or public_reads
    return roles
