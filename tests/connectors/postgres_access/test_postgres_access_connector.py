"""PostgreSQL access source against the real PostgreSQL of this machine / CI, with its own roles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from cto_assistant.connectors.base import ConnectorContext, Record
from cto_assistant.connectors.postgres_access import (
    PostgresAccessConfig,
    PostgresAccessConnector,
)
from cto_assistant.connectors.postgres_access.mapping import (
    EmailRule,
    RoleFacts,
    access_grant,
    privilege,
)
from cto_assistant.connectors.registry import build_connector
from cto_assistant.errors import AuthError
from cto_assistant.logging import redact_text
from tests.conftest import _postgres_url

pytestmark = pytest.mark.postgres


@dataclass
class Cluster:
    """The roles and schema one test created (unique names), and the admin URL."""

    url: str
    schema: str
    superuser: str
    writer: str
    reader: str
    group: str
    member: str
    expired: str


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """Create a schema with a table and roles: superuser, writer, reader, writer-by-group."""
    url = _libpq(_postgres_url() or "")
    tag = uuid.uuid4().hex[:10]
    c = Cluster(
        url=url,
        schema=f"cto_acc_{tag}",
        superuser=f"cto_su_{tag}",
        writer=f"cto_w_{tag}",
        reader=f"cto_r_{tag}",
        group=f"cto_g_{tag}",
        member=f"cto_m_{tag}",
        expired=f"cto_x_{tag}",
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{c.schema}"')
        conn.execute(f'CREATE TABLE "{c.schema}".orders (id int primary key, total numeric)')
        conn.execute(f'CREATE ROLE "{c.superuser}" LOGIN SUPERUSER')
        conn.execute(f'CREATE ROLE "{c.writer}" LOGIN')
        conn.execute(f'CREATE ROLE "{c.reader}" LOGIN')
        conn.execute(f'CREATE ROLE "{c.group}" NOLOGIN')
        conn.execute(f'CREATE ROLE "{c.member}" LOGIN NOINHERIT')
        conn.execute(f"CREATE ROLE \"{c.expired}\" LOGIN VALID UNTIL '2020-01-01'")
        conn.execute(f'GRANT USAGE ON SCHEMA "{c.schema}" TO "{c.writer}", "{c.reader}"')
        conn.execute(f'GRANT SELECT, INSERT ON "{c.schema}".orders TO "{c.writer}"')
        conn.execute(f'GRANT SELECT ON "{c.schema}".orders TO "{c.reader}", "{c.expired}"')
        conn.execute(f'GRANT UPDATE ON "{c.schema}".orders TO "{c.group}"')
        conn.execute(f'GRANT "{c.group}" TO "{c.member}"')
    try:
        yield c
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{c.schema}" CASCADE')
            for role in (c.member, c.group, c.expired, c.reader, c.writer, c.superuser):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def connector(url: str, schema: str, **extra: object) -> PostgresAccessConnector:
    """A connector on `url` watching `schema`."""
    config = PostgresAccessConfig(dsn=url, label="prod", schemas=[schema], **extra)
    conn = PostgresAccessConnector(ConnectorContext(name="pg_prod", config=config))
    conn.clock = lambda: datetime(2026, 3, 2, 12, tzinfo=UTC)
    return conn


def grants(conn: PostgresAccessConnector) -> dict[str, dict[str, object]]:
    """The rows of one sync, by principal."""
    rows = [item.values for item in conn.pull("roles", None) if isinstance(item, Record)]
    return {str(row["principal"]): dict(row) for row in rows}


def test_finds_the_superuser_and_the_writer_as_privileged_and_the_reader_as_not(
    cluster: Cluster,
) -> None:
    rows = grants(connector(cluster.url, cluster.schema))
    su, writer, reader = rows[cluster.superuser], rows[cluster.writer], rows[cluster.reader]
    assert (su["privileged"], su["role"]) == (True, "superuser")
    assert (writer["privileged"], writer["role"]) == (True, "write")
    assert (reader["privileged"], reader["role"]) == (False, "read")
    assert (
        su["system"] == "postgres:prod" and su["source_id"] == f"postgres:prod:{cluster.superuser}"
    )
    assert su["source"] == "pg_prod" and su["principal_type"] == "service" and su["mfa"] is None


def test_a_member_of_a_writing_group_is_privileged_through_it(cluster: Cluster) -> None:
    rows = grants(connector(cluster.url, cluster.schema))
    assert rows[cluster.member]["privileged"] is True
    assert rows[cluster.member]["role"] == f"write via {cluster.group}"
    assert cluster.group not in rows  # NOLOGIN group roles are not principals


def test_an_expired_password_is_shown_in_the_role(cluster: Cluster) -> None:
    rows = grants(connector(cluster.url, cluster.schema))
    assert rows[cluster.expired]["role"] == "read (password expired 2020-01-01)"
    assert rows[cluster.expired]["privileged"] is False


def test_writes_outside_the_watched_schemas_do_not_count(cluster: Cluster) -> None:
    rows = grants(connector(cluster.url, "public_nothing_here"))
    assert rows[cluster.writer]["privileged"] is False
    assert rows[cluster.superuser]["privileged"] is True


def test_the_session_is_read_only(cluster: Cluster) -> None:
    conn = connector(cluster.url, cluster.schema)
    with conn.connect() as session:
        setting = session.execute("SHOW default_transaction_read_only").fetchone()
        assert setting is not None and setting["default_transaction_read_only"] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.execute(
                sql.SQL("INSERT INTO {}.orders VALUES (1, 2)").format(
                    sql.Identifier(cluster.schema)
                )
            )


def test_wrong_password_is_an_auth_error_that_never_shows_it(cluster: Cluster) -> None:
    role = f"cto_pw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'right-one'")
    try:
        info = psycopg.conninfo.conninfo_to_dict(cluster.url)
        dsn = psycopg.conninfo.make_conninfo(
            "", **{**info, "user": role, "password": "s3cret-wrong-pw"}
        )
        conn = connector(dsn, cluster.schema)
        try:
            list(conn.pull("roles", None))
        except AuthError as exc:
            assert "pg_prod" in str(exc) and "s3cret-wrong-pw" not in str(exc)
        else:  # trust auth (this machine) accepts any password: the catalogs are still read
            assert conn.check()[0].ok
        assert "s3cret-wrong-pw" not in redact_text(f"dsn={dsn}")
    finally:
        with psycopg.connect(cluster.url, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_unreachable_database_is_an_upstream_error_naming_the_source() -> None:
    conn = connector("postgresql://nobody@127.0.0.1:1/none", "public", timeout_seconds=2)
    result = conn.check()
    assert not result[0].ok and "pg_prod" in result[0].detail


def test_built_from_a_settings_section_with_dsn_env(cluster: Cluster) -> None:
    built = build_connector(
        "pg_prod",
        {"kind": "postgres_access", "dsn_env": "PROD_DB_URL", "schemas": [cluster.schema]},
        environ={"PROD_DB_URL": cluster.url},
    )
    assert isinstance(built, PostgresAccessConnector)
    assert [c.ok for c in built.check()] == [True]


# ------------------------------------------------------------- pure mapping (no database)


def test_privilege_follows_nested_groups_and_prefers_the_strongest() -> None:
    roles = {
        "alice.kim": RoleFacts("alice.kim", True, member_of={"devs"}),
        "devs": RoleFacts("devs", False, member_of={"admins"}, writes={"public.t"}),
        "admins": RoleFacts("admins", False, attributes={"createrole"}, member_of={"devs"}),
    }
    assert privilege("alice.kim", roles) == ("createrole", "admins")
    row = access_grant(
        "alice.kim",
        roles,
        source="pg",
        system="postgres:prod",
        emails=EmailRule("{role}@acme.cloud"),
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert row["person_email"] == "alice.kim@acme.cloud" and row["principal_type"] == "user"
    assert row["role"] == "createrole via admins" and row["privileged"] is True
