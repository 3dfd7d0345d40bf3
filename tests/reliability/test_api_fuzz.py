"""Schemathesis against our own OpenAPI (/api/openapi.json), in-process, signed in and not.

Every operation gets generated requests (valid and invalid bodies, paths and queries). The
contract: never a 5xx; an error is a 4xx with a JSON `detail` (API) — the same answer whether
or not the request made sense. Bounded: a few examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.reliability.conftest import Demo, Figures
from tests.web.helpers import form_sign_in

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 6
SKIPPED = {
    ("GET", "/api/events"): "an endless event stream (covered in tests/web/test_events.py)",
}


@pytest.fixture(scope="session")
def api_schema(demo_app: FastAPI) -> Any:
    """The app's OpenAPI schema, loaded through ASGI."""
    return schemathesis.openapi.from_asgi("/api/openapi.json", demo_app)


@pytest.fixture(scope="session")
def credentials(demo_app: FastAPI, demo: Demo) -> Iterator[dict[str, Any]]:
    """The cookies and CSRF header of a signed-in admin."""
    with TestClient(demo_app) as client:
        assert form_sign_in(client, demo.run.username, demo.run.password).status_code == 303
        csrf = client.get("/api/me").json()["csrf_token"]
        yield {"cookies": dict(client.cookies.items()), "headers": {"X-CSRF-Token": csrf}}


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_no_operation_answers_5xx(
    signed_in: bool, api_schema: Any, credentials: dict[str, Any], figures: Figures
) -> None:
    """Every operation, generated requests: 2xx/3xx or a clear 4xx, never a 5xx."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            check_case(case, credentials if signed_in else None, figures)

        check()


def check_case(case: Any, credentials: dict[str, Any] | None, figures: Figures) -> None:
    """Send one generated request and check the answer."""
    signed_in = credentials is not None
    extra: dict[str, Any] = {}
    if credentials is not None:
        extra = {"cookies": credentials["cookies"], "headers": dict(credentials["headers"])}
    response = case.call(**extra)
    figures.count("api_fuzz", "requests")
    figures.append("api_fuzz", "operations", f"{case.method.upper()} {case.path}")
    assert response.status_code < 500, (case.method, case.path, response.status_code)
    if response.status_code >= 400 and case.path.startswith("/api/"):
        body = response.json()
        assert "detail" in body, (case.method, case.path, body)
    public = {"/api/session", "/api/session/csrf", "/healthz", "/readyz"}
    if not signed_in and case.path not in public and not case.path.startswith("/api/ingest"):
        assert response.status_code in (401, 403, 404, 405, 422), (case.path, response.status_code)
