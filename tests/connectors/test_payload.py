"""Reading vendor payloads: field paths, schema drift naming the field, time formats."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cto_assistant.connectors.payload import Reader, dig, iso, parse_time
from cto_assistant.errors import SchemaDriftError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T10:00:00Z", datetime(2024, 1, 2, 10, tzinfo=UTC)),
        ("2024-01-02T10:00:00.000+0000", datetime(2024, 1, 2, 10, tzinfo=UTC)),
        ("2024-01-02T12:00:00+02:00", datetime(2024, 1, 2, 10, tzinfo=UTC)),
        ("2024-01-02T05:00:00-0500", datetime(2024, 1, 2, 10, tzinfo=UTC)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        (1704189600, datetime(2024, 1, 2, 10, tzinfo=UTC)),
        (1704189600000, datetime(2024, 1, 2, 10, tzinfo=UTC)),
        (date(2024, 1, 2), datetime(2024, 1, 2, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


@given(st.datetimes(timezones=st.just(UTC)))
def test_iso_round_trips(moment: datetime) -> None:
    assert parse_time(iso(moment)) == moment


def test_dig_follows_dicts_and_list_indexes() -> None:
    body = {"a": {"b": [{"c": 1}]}}
    assert dig(body, "a.b.0.c") == 1
    assert dig(body, "a.x") is None
    assert dig(body, "a.b.5.c", missing="gone") == "gone"


def test_reader_names_the_missing_field() -> None:
    reader = Reader({"fields": {"status": None}}, source="jira", stream="issues", what="issue")
    with pytest.raises(
        SchemaDriftError, match="jira/issues: issue has no 'fields.status' field"
    ) as caught:
        reader.need("fields.status")
    assert caught.value.field == "fields.status"


def test_reader_rejects_a_non_object() -> None:
    with pytest.raises(SchemaDriftError, match="expected an object"):
        Reader(["x"], source="jira", stream="issues")


def test_reader_time_fields() -> None:
    reader = Reader(
        {"created": "2024-01-02T10:00:00.000+0000", "bad": "soon"}, source="s", stream="t"
    )
    assert reader.need_time("created") == datetime(2024, 1, 2, 10, tzinfo=UTC)
    assert reader.time("missing") is None
    with pytest.raises(SchemaDriftError, match="'bad' is not a timestamp"):
        reader.time("bad")


def test_out_of_range_epochs_are_not_timestamps() -> None:
    assert parse_time(10**30) is None
    assert parse_time(-(10**20)) is None
