"""Reading vendor payloads: field paths, schema drift naming the field, time formats."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cto_assistant.connectors.payload import TEXT, Reader, dig, expect, iso, parse_time
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


# ------------------------------------------------------------------- typed fields


def issue_reader(**fields: object) -> Reader:
    """A Jira-like issue with the given `fields`."""
    return Reader(
        {"key": "ACME-12", "fields": fields}, source="jira", stream="issues", what="issue"
    )


def test_wrong_types_name_the_object_and_the_field() -> None:
    reader = issue_reader(sprint=[1], summary=3, parent={"key": ["x"]})
    with pytest.raises(
        SchemaDriftError,
        match=r"jira/issues: issue ACME-12: 'fields.sprint' is a list, expected an object",
    ) as caught:
        reader.child("fields.sprint")
    assert caught.value.field == "fields.sprint"
    with pytest.raises(SchemaDriftError, match=r"'fields.summary' is a number \(3\), expected a"):
        reader.text("fields.summary")
    with pytest.raises(SchemaDriftError, match="'fields.parent.key' is a list") as nested:
        reader.child("fields.parent").text("key")
    assert nested.value.field == "fields.parent.key"


def test_an_object_on_the_way_of_another_type_is_drift() -> None:
    reader = issue_reader(priority="High")
    assert reader.get("fields.priority.name") is None  # `get` stays lenient
    with pytest.raises(SchemaDriftError, match="'fields.priority' is a string 'High', expected an"):
        reader.text("fields.priority.name")


def test_optional_fields_absent_or_null_are_none_required_ones_drift() -> None:
    reader = issue_reader(labels=None, points="", due=None)
    assert reader.text("fields.summary") is None
    assert reader.number("fields.points") is None
    assert reader.integer("fields.points") is None
    assert reader.items("fields.labels") == []
    assert reader.objects("fields.labels") == []
    assert reader.child("fields.parent").obj == {}
    assert reader.day("fields.due") is None
    for need in (reader.need_text, reader.need_number, reader.need_list, reader.need_child):
        with pytest.raises(SchemaDriftError, match="issue ACME-12 has no 'fields.labels' field"):
            need("fields.labels")


@pytest.mark.parametrize(
    ("value", "number"), [(3, 3.0), (2.5, 2.5), ("12.25", 12.25), (" 7 ", 7.0)]
)
def test_numbers_take_numeric_strings(value: object, number: float) -> None:
    assert issue_reader(points=value).need_number("fields.points") == number


@pytest.mark.parametrize("value", [True, "abc", "NaN", "1e400", [], {}])
def test_numbers_refuse_other_values(value: object) -> None:
    with pytest.raises(SchemaDriftError, match="'fields.points' is .*, expected a finite number"):
        issue_reader(points=value).number("fields.points")


def test_integers_are_whole_numbers() -> None:
    assert issue_reader(n="42").need_integer("fields.n") == 42
    assert issue_reader(n=42.0).need_integer("fields.n") == 42
    with pytest.raises(SchemaDriftError, match="expected a whole number"):
        issue_reader(n=4.5).integer("fields.n")


def test_days_take_the_date_part() -> None:
    reader = issue_reader(start="2025-06-11T10:00:00Z", bad="June")
    assert reader.need_day("fields.start") == date(2025, 6, 11)
    with pytest.raises(SchemaDriftError, match="'fields.bad' is not a date: 'June'"):
        reader.day("fields.bad")


def test_objects_are_named_by_id_or_position() -> None:
    page = Reader(
        {"entries": [{"id": "E1", "at": 1}, {"at": []}, "junk"]},
        source="pd",
        stream="incidents",
        what="incident",
    )
    first, second = page.objects("entries", "log entry", skip_others=True)
    assert first.label == "log entry E1"
    with pytest.raises(
        SchemaDriftError, match=r"log entry #1 of incident: 'at' is not a timestamp"
    ):
        second.time("at")
    with pytest.raises(
        SchemaDriftError, match=r"incident: 'entries.2' is a string 'junk', expected"
    ):
        page.objects("entries")


def test_values_handed_on_their_own_are_read_the_same_way() -> None:
    commits = Reader.of("commits", [("abc", None)], source="ci", stream=None, what="commits")
    assert commits.need_text("commits.0.0") == "abc"  # tuples are lists
    assert commits.text("commits.0.1") is None
    with pytest.raises(SchemaDriftError, match="ci: commit: 'message' is an object"):
        expect({}, TEXT, source="ci", field="message", what="commit")
    assert expect(None, TEXT, source="ci", field="message", what="commit") is None


def test_texts_are_lists_of_strings() -> None:
    reader = Reader({"tags": ["a", "b"], "mixed": ["a", 1]}, source="dd", stream=None, what="SLO")
    assert reader.texts("tags") == ["a", "b"]
    assert reader.texts("absent") == []
    with pytest.raises(
        SchemaDriftError, match=r"SLO: 'mixed.1' is a number \(1\), expected a string"
    ):
        reader.texts("mixed")
