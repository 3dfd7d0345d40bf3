"""Who can do what in a production PostgreSQL database, read through a read-only connection.

One stream, `roles` → `access_grant` (system "postgres:<label>"): every login role, privileged
when it (or a group it belongs to) is a superuser, has CREATEROLE / CREATEDB / BYPASSRLS, or can
write (INSERT, UPDATE, DELETE, TRUNCATE) a table of the watched schemas. Three catalog queries
(pg_roles, pg_auth_members, the exploded ACLs of pg_class), so the connecting role needs no
special grant: any role can read the catalogs — give it a dedicated, otherwise powerless login.

The session is read-only twice over: `default_transaction_read_only=on` in the connection
options and psycopg's `read_only` transaction flag; a statement timeout bounds every query.
The DSN (`dsn` or `dsn_env`) is a secret: never logged, its password registered with the
redactor, and connection errors are reported without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg.rows import dict_row
from pydantic import Field, SecretStr

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.postgres_access import mapping
from cto_assistant.errors import AuthError, ConnectorError, UpstreamError
from cto_assistant.logging import get_logger, register_secret

log = get_logger("connectors.postgres_access")

STREAM = "roles"
AUTH_STATES = frozenset({"28000", "28P01", "42501"})  # bad auth, bad password, no privilege

ROLES_SQL = """
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin, rolvaliduntil
FROM pg_catalog.pg_roles
WHERE rolname !~ '^pg_'
"""
MEMBERS_SQL = """
SELECT m.rolname AS member, g.rolname AS grouprole
FROM pg_catalog.pg_auth_members am
JOIN pg_catalog.pg_roles m ON m.oid = am.member
JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
"""
# Table privileges from the ACLs themselves: information_schema.role_table_grants only shows
# grants that involve the *current* role, which would hide everyone else's write access.
TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS table, r.rolname AS grantee, a.privilege_type
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) AS a
LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
WHERE n.nspname = ANY(%(schemas)s)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
"""


class PostgresAccessConfig(ConnectorConfig):
    """Which database, how to reach it, and how its roles map to people."""

    kind: str = Field(default="postgres_access", description="Connector kind: 'postgres_access'.")
    base_url: str = Field(default="", description="Unused: the database is given by `dsn`.")
    dsn: SecretStr = Field(
        description="libpq URL or key=value DSN of the database (or `dsn_env`); a secret."
    )
    label: str = Field(
        default="prod", description="Name in the rows' system 'postgres:<label>'.", min_length=1
    )
    schemas: list[str] = Field(
        default_factory=lambda: ["public"],
        description="Schemas whose tables count for write access.",
    )
    email_template: str | None = Field(
        default=None,
        description="E-mail of roles named like people (email_role_pattern), e.g. "
        "'{role}@acme.cloud'; role names that are e-mails are used as they are.",
    )
    email_role_pattern: str = Field(
        default=r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9.-]*$",
        description="Role names that are people (first.last) for email_template.",
    )
    statement_timeout_ms: int = Field(
        default=30_000, ge=100, description="Statement timeout of the session."
    )


class PostgresAccessConnector(Connector):
    """Login roles of one PostgreSQL database: superusers, role admins and writers."""

    kind = "postgres_access"
    config_model = PostgresAccessConfig
    category = "security"
    streams = (
        Stream(
            STREAM,
            tables=("access_grant",),
            snapshot=True,
            description="Login roles, privileged when superuser, CREATEROLE/CREATEDB/BYPASSRLS "
            "or writer of a watched schema (directly or through a group).",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        password = conninfo_password(self.settings.dsn.get_secret_value())
        register_secret(password)

    @property
    def settings(self) -> PostgresAccessConfig:
        """The typed config."""
        assert isinstance(self.config, PostgresAccessConfig)
        return self.config

    @property
    def system(self) -> str:
        """The rows' system name."""
        return f"postgres:{self.settings.label}"

    def connect(self) -> psycopg.Connection[dict[str, Any]]:
        """A read-only session (errors name the source, never the DSN)."""
        s = self.settings
        self.context.stats.requests += 1
        try:
            conn = psycopg.connect(
                s.dsn.get_secret_value(),
                connect_timeout=max(1, int(s.timeout_seconds)),
                options=(
                    f"-c default_transaction_read_only=on -c statement_timeout={s.statement_timeout_ms}"
                ),
                application_name="cto-assistant",
                row_factory=dict_row,
            )
        except psycopg.Error as exc:
            raise self._error(exc, "connect") from None
        conn.read_only = True
        return conn

    def _error(self, exc: psycopg.Error, what: str) -> ConnectorError:
        state = exc.sqlstate or ""
        text = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
        if state in AUTH_STATES or "authentication failed" in text:
            return AuthError(self.name, f"{what}: {text}", stream=STREAM)
        return UpstreamError(self.name, f"{what}: {text}", stream=STREAM)

    def roles(self) -> dict[str, mapping.RoleFacts]:
        """The cluster's roles with their memberships and table privileges."""
        with self.connect() as conn:
            try:
                with conn.cursor() as cur:
                    role_rows = cur.execute(ROLES_SQL).fetchall()
                    member_rows = cur.execute(MEMBERS_SQL).fetchall()
                    table_rows = cur.execute(
                        TABLES_SQL, {"schemas": list(self.settings.schemas)}
                    ).fetchall()
            except psycopg.Error as exc:
                raise self._error(exc, "read catalogs") from None
        self.context.stats.pages += 3
        return mapping.role_facts(role_rows, member_rows, table_rows)

    def pull_roles(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield one access grant per login role."""
        roles = self.roles()
        emails = mapping.EmailRule(self.settings.email_template, self.settings.email_role_pattern)
        now = self.clock()
        for name in sorted(roles):
            if not roles[name].can_login:
                continue  # group roles are not principals; their members carry their privilege
            yield Record(
                "access_grant",
                mapping.access_grant(
                    name, roles, source=self.name, system=self.system, emails=emails, now=now
                ),
            )

    def check(self) -> list[CheckResult]:
        """Connect read-only and read pg_roles."""
        try:
            with self.connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT count(*) AS n FROM pg_catalog.pg_roles")
        except ConnectorError as exc:
            return [CheckResult("read roles", False, str(exc))]
        except psycopg.Error as exc:
            return [CheckResult("read roles", False, str(self._error(exc, "read roles")))]
        return [CheckResult("read roles", True)]


def conninfo_password(dsn: str) -> str | None:
    """The password inside a DSN, if any (so the redactor can mask it on its own)."""
    try:
        return conninfo.conninfo_to_dict(dsn).get("password")  # type: ignore[return-value]
    except psycopg.ProgrammingError:
        return None
