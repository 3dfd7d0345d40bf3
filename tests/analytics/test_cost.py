"""Spend breakdowns: totals add up for any grouping; month to date against the same day."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from cto_assistant.analytics.cost import month_to_date, short_service, spend_report
from cto_assistant.analytics.timeutil import previous_period, same_day_last_month


def test_report_sorts_groups_and_computes_changes() -> None:
    report = spend_report(
        current={"S3": 150.0, "EC2": 300.0, None: 10.0},
        previous={"S3": 100.0, "EC2": 300.0, "RDS": 50.0},
        start=date(2026, 3, 1),
        end=date(2026, 3, 7),
        previous_start=date(2026, 2, 22),
        previous_end=date(2026, 2, 28),
        group_by="service",
        cost_type="amortized",
    )
    assert [line.key for line in report.lines] == ["EC2", "S3", "(none)", "RDS"]
    assert report.total == 460.0 and report.previous_total == 450.0
    s3 = report.lines[1]
    assert s3.change == 50.0 and s3.change_pct == 0.5
    assert report.lines[3].amount == 0.0 and report.lines[3].change_pct == -1.0
    assert report.lines[2].change_pct is None  # nothing before: no made-up percentage


def test_top_folds_the_rest_into_other_and_keeps_the_total() -> None:
    report = spend_report(
        current={"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0},
        previous={},
        start=date(2026, 3, 1),
        end=date(2026, 3, 1),
        previous_start=date(2026, 2, 28),
        previous_end=date(2026, 2, 28),
        group_by="service",
        cost_type="amortized",
        top=2,
    )
    assert [line.key for line in report.lines] == ["a", "b"]
    assert (
        report.other is not None and report.other.amount == 5.0 and report.other.key == "other (2)"
    )


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=4),
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=10),
)
def test_group_totals_sum_to_the_total(groups: dict[str | None, float], top: int) -> None:
    report = spend_report(
        current=groups,
        previous={},
        start=date(2026, 3, 1),
        end=date(2026, 3, 1),
        previous_start=date(2026, 2, 28),
        previous_end=date(2026, 2, 28),
        group_by="service",
        cost_type="amortized",
        top=top,
    )
    shown = sum(line.amount for line in report.lines) + (report.other.amount if report.other else 0)
    assert abs(shown - report.total) < 0.005


def test_month_to_date_compares_with_the_same_day_last_month() -> None:
    this = [(date(2026, 3, d), 10.0) for d in range(1, 11)]
    last = [(date(2026, 2, d), 8.0) for d in range(1, 29)]
    mtd = month_to_date(this_month=this, last_month=last, through=date(2026, 3, 10))
    assert mtd.month_to_date == 100.0
    assert mtd.last_month_to_same_day == 80.0
    assert mtd.last_month_total == 224.0
    assert mtd.change_pct == 0.25
    assert len(mtd.series) == 31
    assert mtd.series[9].this_month_cumulative == 100.0
    assert mtd.series[10].this_month is None  # the future is not a zero
    assert mtd.series[28].last_month is None  # Feb 29 does not exist in 2026


def test_calendar_helpers() -> None:
    assert previous_period(date(2026, 3, 1), date(2026, 3, 7)) == (
        date(2026, 2, 22),
        date(2026, 2, 28),
    )
    assert same_day_last_month(date(2026, 3, 31)) == date(2026, 2, 28)
    assert short_service("Amazon Simple Storage Service") == "S3"
