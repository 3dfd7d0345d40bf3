"""Jira actions against the simulator: create an issue, attach a chart, find an account."""

from __future__ import annotations

import struct
import zlib

import pytest

from cto_assistant.connectors.jira.mapping import adf_text
from cto_assistant.errors import UpstreamError
from tests.connectors.jira.world import connector, rows, simulator

ADA = "5b10ac8d82e05b22cc7d4ef5"


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


DESCRIPTION = """Cloud spend rose **15%** week over week.

Drivers:
- S3 in us-east-1 (+40%)
- tag `project=data-processing-pipeline`

1. Check lifecycle rules
2. Review the pipeline's retention"""


def test_create_issue_and_attach_a_chart_round_trip() -> None:
    png = tiny_png()
    with simulator() as sim:
        jira = connector(sim.base_url)
        created = jira.create_issue(
            "PAY",
            "Task",
            "Investigate S3 spend",
            DESCRIPTION,
            priority="High",
            assignee_account_id=ADA,
            labels=("cost", "auto filed"),
        )
        attached = jira.add_attachment(created["key"], "spend.png", png)
        issue = jira.client.get_json(f"rest/api/3/issue/{created['key']}")
        pulled = rows(jira.pull("issues", None))["ticket"]
    assert created == {"key": "PAY-9", "id": created["id"], "url": f"{sim.base_url}/browse/PAY-9"}
    fields = issue["fields"]
    assert fields["priority"]["name"] == "High"
    assert fields["assignee"]["accountId"] == ADA
    assert fields["labels"] == ["cost", "auto-filed"]
    text = adf_text(fields["description"])
    assert "Cloud spend rose 15% week over week." in text
    assert "S3 in us-east-1 (+40%)" in text
    kinds = [node["type"] for node in fields["description"]["content"]]
    assert kinds == ["paragraph", "paragraph", "bulletList", "orderedList"]
    assert [(a["filename"], a["size"], a["mimeType"]) for a in attached] == [
        ("spend.png", len(png), "image/png")
    ]
    assert [a["filename"] for a in fields["attachment"]] == ["spend.png"]
    stored = [c for c in sim.state.created if c["kind"] == "attachment"]
    assert stored[0]["content"] == png and stored[0]["issue_key"] == "PAY-9"
    assert [c["key"] for c in sim.state.created if c["kind"] == "issue"] == ["PAY-9"]
    # The created issue is served afterwards, like any other.
    new = next(t for t in pulled if t["key"] == "PAY-9")
    assert (new["priority"], new["assignee"], new["status"]) == ("High", ADA, "To Do")


def test_description_may_be_given_as_adf() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "As ADF"}]}],
    }
    with simulator() as sim:
        jira = connector(sim.base_url)
        key = jira.create_issue("CHK", "Bug", "ADF given", doc)["key"]
        issue = jira.client.get_json(f"rest/api/3/issue/{key}")
    assert issue["fields"]["description"] == doc
    assert issue["fields"]["priority"]["name"] == "Medium"  # Jira's default


def test_create_issue_refused_by_jira_is_an_upstream_error() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url)
        with pytest.raises(UpstreamError, match="HTTP 400"):
            jira.create_issue("PAY", "Task", "Bad priority", priority="Urgent!!")
        with pytest.raises(UpstreamError, match="HTTP 404"):
            jira.add_attachment("PAY-999", "x.png", b"x")
    assert sim.state.created == []


def test_find_account_id_by_email() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url)
        assert jira.find_account_id("ben@acme.example") == "5b10a2844c20165700ede21g"
        assert jira.find_account_id("BEN@acme.example") == "5b10a2844c20165700ede21g"
        assert jira.find_account_id("nobody@acme.example") is None
