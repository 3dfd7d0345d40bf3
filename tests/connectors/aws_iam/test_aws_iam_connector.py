"""AWS IAM connector: real boto3 (SigV4, Query API, XML) against the IAM simulator on loopback."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cto_assistant.demo.simulators.aws_iam import make_app
from cto_assistant.demo.simulators.common import ServedApp, served
from cto_assistant.demo.world import World, build_world
from cto_assistant.errors import AuthError, RateLimitedError, SchemaDriftError, UpstreamError
from cto_assistant.store import Store, db
from cto_assistant.store.models import AccessGrant
from cto_assistant.sync.engine import SyncEngine
from tests.connectors.aws_iam.conftest import connector_for, rows_of

Sim = tuple[ServedApp, Any]


def expected(world: World) -> dict[str, dict[str, Any]]:
    """The world's IAM rows as the connector must give them back (IAM dates are to the second)."""
    out = {}
    for row in world.rows("access_grant"):
        if row["system"] != "aws" or not row["principal"].startswith("arn:aws:iam::"):
            continue
        values = {"source": "aws_iam", **row}
        for column in ("last_used_at", "granted_at", "key_created_at"):
            if values[column] is not None:
                values[column] = values[column].replace(microsecond=0)
        out[row["principal"]] = values
    return out


def test_full_sync_gives_back_the_world(sim: Sim, world: World) -> None:
    running, state = sim
    conn = connector_for(running.base_url)
    got = rows_of(conn)
    assert got == expected(world)
    # 1 GAAD page + 1 ListUsers page + 2 per user (MFA, keys) + 1 per active key
    # + GetLoginProfile for the 2 users without an e-mail: 1 + 1 + 12 + 4 + 2
    assert state.request_count() == conn.context.stats.requests == 20


def test_storylines_departed_admin_and_admin_without_mfa(sim: Sim) -> None:
    got = rows_of(connector_for(sim[0].base_url))
    olga = got["arn:aws:iam::210987654321:user/olga.lindqvist"]
    assert (olga["privileged"], olga["mfa"], olga["principal_type"]) == (True, False, "user")
    omar = got["arn:aws:iam::210987654321:user/omar.singh"]
    assert omar["privileged"] and omar["person_email"] == "omar.singh@acme.cloud"
    reader = got["arn:aws:iam::210987654321:user/ravi.mueller"]
    assert (reader["privileged"], reader["role"]) == (False, "ReadOnlyAccess")
    # a custom policy allowing *:* is admin; the non-admin service-linked role is left out
    assert got["arn:aws:iam::210987654321:user/legacy-etl"]["role"] == "EtlFullControl"
    assert not any("AWSServiceRoleForSupport" in principal for principal in got)


def test_pagination_across_page_boundaries(world: World) -> None:
    app = make_app(world, page_size=100)
    with served(app) as running:
        conn = connector_for(running.base_url, page_size=2)
        got = rows_of(conn)
    assert got == expected(world)
    state = app.state.sim
    # GAAD: 6 users + 1 group + 2 roles + 1 local policy = 10 items → 5 pages; ListUsers 6 → 3
    assert conn.context.stats.pages == 5 + 3 + 12 + 4 + 2
    assert state.request_count("/") == 26


def test_demo_world_round_trip_through_the_sandbox_config() -> None:
    world = build_world(seed=42, today=date(2026, 3, 2))
    app = make_app(world)
    with served(app) as running:
        got = rows_of(connector_for(running.base_url))
    assert got == expected(world)
    story = world.extras["storylines"]
    departed = [r for r in got.values() if r["person_email"] == story["departed_admin"]]
    assert departed and departed[0]["privileged"]
    no_mfa = {r["person_email"] for r in got.values() if r["privileged"] and r["mfa"] is False}
    assert no_mfa & set(story["admins_without_mfa"])


def test_429_honours_retry_after(sim: Sim, world: World) -> None:
    running, state = sim
    waits: list[float] = []
    state.add_fault("rate_limit", times=2, retry_after=7)
    got = rows_of(connector_for(running.base_url, sleep=waits.append))
    assert waits == [7.0, 7.0]
    assert got == expected(world)


def test_429_forever_is_rate_limited_error(sim: Sim) -> None:
    running, state = sim
    state.add_fault("rate_limit", times=None, retry_after=1)
    with pytest.raises(RateLimitedError) as caught:
        rows_of(connector_for(running.base_url, max_attempts=3))
    assert caught.value.source == "aws_iam" and caught.value.stream == "principals"


def test_5xx_is_retried_then_upstream_error(sim: Sim, world: World) -> None:
    running, state = sim
    state.add_fault("server_error", times=2, skip=3)
    waits: list[float] = []
    assert rows_of(connector_for(running.base_url, sleep=waits.append)) == expected(world)
    assert len(waits) == 2
    state.add_fault("server_error", times=None)
    with pytest.raises(
        UpstreamError, match="GetAccountAuthorizationDetails: HTTP 503 after 3 attempts"
    ):
        rows_of(connector_for(running.base_url, max_attempts=3))


def test_401_is_auth_error_naming_the_source(sim: Sim) -> None:
    running, state = sim
    state.add_fault("auth_revoked", times=1)
    with pytest.raises(AuthError) as caught:
        rows_of(connector_for(running.base_url))
    assert str(caught.value).startswith("aws_iam/principals:")


def test_wrong_key_is_auth_error(sim: Sim) -> None:
    conn = connector_for(sim[0].base_url, access_key_id="AKIAOTHER00000000000")
    with pytest.raises(AuthError, match="InvalidClientTokenId"):
        rows_of(conn)
    checks = conn.check()
    assert [c.ok for c in checks] == [False, False] and "aws_iam" in checks[0].detail


def test_access_denied_names_the_source_and_the_missing_permission(world: World) -> None:
    app = make_app(world, denied_actions=["ListMFADevices"])
    with served(app) as running, pytest.raises(AuthError) as caught:
        rows_of(connector_for(running.base_url))
    message = str(caught.value)
    assert (
        message.startswith("aws_iam/principals: ListMFADevices") or "iam:ListMFADevices" in message
    )
    assert "AccessDenied" in message and "iam:ListMFADevices" in message


def test_malformed_answer_is_schema_drift(sim: Sim) -> None:
    running, state = sim
    state.add_fault("malformed", times=1)
    with pytest.raises(SchemaDriftError) as caught:
        rows_of(connector_for(running.base_url))
    assert caught.value.stream == "principals"
    state.add_fault("truncate", times=1, skip=1)
    with pytest.raises(SchemaDriftError):
        rows_of(connector_for(running.base_url))


class RenameElement:
    """ASGI middleware that renames an XML element in every answer (schema drift)."""

    def __init__(self, app: ASGIApp, old: bytes, new: bytes) -> None:
        self.app, self.old, self.new = app, old, new

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks).replace(b"<" + self.old + b">", b"<" + self.new + b">")
        body = body.replace(b"</" + self.old + b">", b"</" + self.new + b">")
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_renamed_field_is_schema_drift_naming_the_field(world: World) -> None:
    app = RenameElement(make_app(world), b"UserName", b"LoginName")
    with served(app) as running, pytest.raises(SchemaDriftError) as caught:
        rows_of(connector_for(running.base_url))
    assert caught.value.field == "UserName" and caught.value.stream == "principals"


def test_simulator_requires_auth(sim: Sim) -> None:
    response = httpx.post(
        f"{sim[0].base_url}/", data={"Action": "ListUsers", "Version": "2010-05-08"}
    )
    assert response.status_code == 401
    assert b"<Code>MissingAuthenticationToken</Code>" in response.content


def test_sync_engine_writes_the_grants(sim: Sim, sqlite_store: Store, world: World) -> None:
    engine = SyncEngine(sqlite_store, [connector_for(sim[0].base_url)])
    results = engine.run()
    assert [(r.stream, r.ok, r.records, r.requests) for r in results] == [
        ("principals", True, 7, 20)
    ]
    engine.run()  # a re-sync updates in place
    with sqlite_store.session() as session:
        assert db.count_rows(session, "access_grant") == 7
        no_mfa = session.query(AccessGrant).filter_by(privileged=True, mfa=False).all()
        assert [g.person_email for g in no_mfa] == ["olga.lindqvist@acme.cloud"]
