"""A tiny IAM world and helpers shared by the AWS IAM tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cto_assistant.connectors.aws_iam import AwsIamConfig, AwsIamConnector
from cto_assistant.connectors.base import ConnectorContext, Record
from cto_assistant.demo.simulators.aws_iam import DEMO_CREDENTIALS, make_app
from cto_assistant.demo.simulators.common import ServedApp, serve
from cto_assistant.demo.world import World

ACCOUNT = "210987654321"


def grant(
    name: str,
    *,
    kind: str = "user",
    email: str | None = None,
    role: str = "AdministratorAccess",
    privileged: bool = True,
    mfa: bool | None = True,
    used: datetime | None = datetime(2026, 3, 1, 2, 25, 41, 789676, tzinfo=UTC),
    granted: datetime = datetime(2023, 2, 11, 10, tzinfo=UTC),
    key: datetime | None = None,
) -> dict[str, Any]:
    """A world access_grant row for an IAM user or role."""
    resource = "role" if kind == "role" else "user"
    principal = f"arn:aws:iam::{ACCOUNT}:{resource}/{name}"
    return {
        "source_id": f"aws:{principal}",
        "system": "aws",
        "principal": principal,
        "principal_type": kind,
        "person_email": email,
        "role": role,
        "privileged": privileged,
        "mfa": mfa,
        "last_used_at": used,
        "granted_at": granted,
        "key_created_at": key,
    }


def iam_world() -> World:
    """Admins with and without MFA, a departed admin, a service user, a reader, an admin role."""
    rows = [
        grant(
            "olga.lindqvist",
            email="olga.lindqvist@acme.cloud",
            mfa=False,
            key=datetime(2025, 8, 14, 12, tzinfo=UTC),
        ),
        grant(
            "omar.singh",
            email="omar.singh@acme.cloud",
            used=datetime(2026, 1, 13, tzinfo=UTC),
            key=datetime(2024, 9, 8, 12, tzinfo=UTC),
        ),
        grant("nadia.kowalski", email="nadia.kowalski@acme.cloud", key=None),
        grant(
            "ravi.mueller",
            email="ravi.mueller@acme.cloud",
            role="ReadOnlyAccess",
            privileged=False,
            key=None,
        ),
        grant(
            "ci-deployer",
            kind="service",
            mfa=None,
            used=datetime(2026, 3, 2, 10, tzinfo=UTC),
            key=datetime(2024, 12, 27, 12, tzinfo=UTC),
        ),
        grant(
            "legacy-etl",
            kind="service",
            role="EtlFullControl",
            mfa=None,
            used=None,
            key=datetime(2021, 1, 5, 12, tzinfo=UTC),
        ),
        grant(
            "terraform-apply",
            kind="role",
            mfa=None,
            used=datetime(2026, 3, 1, 12, tzinfo=UTC),
            granted=datetime(2024, 4, 1, 12, tzinfo=UTC),
        ),
        {
            **grant("sso-user"),
            "principal": "sso:someone@acme.cloud",
            "source_id": "aws:sso:someone@acme.cloud",
        },  # Identity Center: not IAM, not served
    ]
    return World.from_rows({"access_grant": rows})


def connector_for(
    base_url: str, *, sleep: Callable[[float], None] | None = None, **extra: Any
) -> AwsIamConnector:
    """An IAM connector pointed at a simulator, with demo keys and a fake clock for retries."""
    config = AwsIamConfig(base_url=f"{base_url}/", **{**DEMO_CREDENTIALS, **extra})
    return AwsIamConnector(
        ConnectorContext(name="aws_iam", config=config, sleep=sleep or (lambda _s: None))
    )


def rows_of(conn: AwsIamConnector) -> dict[str, dict[str, Any]]:
    """The access_grant rows of one sync, by principal."""
    items = [i.values for i in conn.pull("principals", None) if isinstance(i, Record)]
    return {str(r["principal"]): dict(r) for r in items}


@pytest.fixture
def world() -> World:
    """The tiny IAM world."""
    return iam_world()


@pytest.fixture
def sim(world: World) -> Iterator[tuple[ServedApp, Any]]:
    """The IAM simulator for the tiny world on loopback, and its state."""
    app = make_app(world, page_size=100)
    running = serve(app)
    try:
        yield running, app.state.sim
    finally:
        running.stop()
