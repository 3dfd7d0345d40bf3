"""The IAM simulator's XML, checked element by element against botocore's IAM model."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ListShape, Shape, StructureShape
from botocore.parsers import QueryParser
from botocore.validate import ParamValidator

from cto_assistant.demo.simulators.aws_iam import DEMO_CREDENTIALS, NAMESPACE, iam_model, make_app
from cto_assistant.demo.simulators.common import ServedApp, served
from tests.connectors.aws_iam.conftest import iam_world

CALLS: list[tuple[str, dict[str, str]]] = [
    ("GetAccountAuthorizationDetails", {"MaxItems": "3"}),
    (
        "GetAccountAuthorizationDetails",
        {"Filter.member.1": "Role", "Filter.member.2": "LocalManagedPolicy"},
    ),
    ("ListUsers", {"MaxItems": "2"}),
    ("ListMFADevices", {"UserName": "omar.singh"}),
    ("ListAccessKeys", {"UserName": "olga.lindqvist"}),
    ("GetLoginProfile", {"UserName": "olga.lindqvist"}),
    ("GetUser", {"UserName": "ci-deployer"}),
]


def signed_post(base_url: str, form: dict[str, str]) -> httpx.Response:
    """POST a form the way boto3 does, signed with SigV4 and the demo keys."""
    body = "&".join(f"{k}={v}" for k, v in {"Version": "2010-05-08", **form}.items())
    request = AWSRequest(
        "POST",
        f"{base_url}/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = Credentials(
        DEMO_CREDENTIALS["access_key_id"], DEMO_CREDENTIALS["secret_access_key"]
    )
    SigV4Auth(credentials, "iam", "us-east-1").add_auth(request)
    return httpx.post(str(request.url), content=body, headers=dict(request.headers.items()))


def strict_walk(element: ET.Element, shape: Shape, path: str) -> None:
    """Fail on any element the model does not know at that place."""
    if isinstance(shape, StructureShape):
        by_wire = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        for child in element:
            tag = child.tag.removeprefix("{" + NAMESPACE + "}")
            assert tag in by_wire, f"{path}: <{tag}> is not a member of {shape.name}"
            strict_walk(child, by_wire[tag], f"{path}/{tag}")
    elif isinstance(shape, ListShape):
        for child in element:
            assert child.tag.removeprefix("{" + NAMESPACE + "}") == "member", path
            strict_walk(child, shape.member, f"{path}/member")
    else:
        assert len(element) == 0, f"{path}: a {shape.type_name} has child elements"


@pytest.fixture(scope="module")
def running() -> Any:
    """The simulator for the tiny IAM world."""
    with served(make_app(iam_world(), page_size=100)) as app:
        yield app


@pytest.mark.parametrize(
    ("action", "form"), CALLS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(CALLS)]
)
def test_every_answer_matches_botocores_iam_model(
    running: ServedApp, action: str, form: dict[str, str]
) -> None:
    response = signed_post(running.base_url, {"Action": action, **form})
    assert response.status_code == 200, response.text
    shape = iam_model().operation_model(action).output_shape
    assert shape is not None
    root = ET.fromstring(response.content)  # noqa: S314 - our own simulator's answer
    assert root.tag == f"{{{NAMESPACE}}}{action}Response"
    result = root.find(f"{{{NAMESPACE}}}{action}Result")
    assert result is not None
    strict_walk(result, shape, action)
    parsed = QueryParser().parse(
        {"body": response.content, "headers": dict(response.headers), "status_code": 200},
        shape,
    )
    report = ParamValidator().validate(
        {k: v for k, v in parsed.items() if k != "ResponseMetadata"}, shape
    )
    assert not report.has_errors(), report.generate_report()


def test_errors_are_iam_xml_errors(running: ServedApp) -> None:
    missing = signed_post(
        running.base_url, {"Action": "GetLoginProfile", "UserName": "ci-deployer"}
    )
    assert missing.status_code == 404 and b"<Code>NoSuchEntity</Code>" in missing.content
    unknown = signed_post(running.base_url, {"Action": "DeleteUser", "UserName": "ci-deployer"})
    assert unknown.status_code == 400 and b"<Code>InvalidAction</Code>" in unknown.content
    other_key = httpx.post(
        f"{running.base_url}/",
        data={"Action": "ListUsers"},
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAOTHER/20260101/us-east-1/iam"},
    )
    assert other_key.status_code == 403 and b"InvalidClientTokenId" in other_key.content
