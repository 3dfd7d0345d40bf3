"""Attribution: recovers a planted driver among noise, writes the sentence, ignores row order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from cto_assistant.analytics.attribution import (
    CostRow,
    CostTable,
    attribute,
    describe_slice,
    sentence,
)

DIMS = ("service", "region", "account", "project")
SERVICES = [
    "Amazon Simple Storage Service",
    "Amazon Elastic Compute Cloud - Compute",
    "AWS Lambda",
    "Amazon Relational Database Service",
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
ACCOUNTS = ["111", "222", "333"]
PROJECTS = ["data-processing-pipeline", "checkout", "web"]


def noisy_world(seed: int) -> list[CostRow]:
    rng = random.Random(seed)
    rows = []
    for service in SERVICES:
        for region in REGIONS:
            for account in ACCOUNTS:
                for project in PROJECTS:
                    before = rng.uniform(50, 150)
                    after = before * rng.uniform(0.97, 1.03)
                    if service == SERVICES[0] and region == "us-east-1" and project == PROJECTS[0]:
                        after = before * 1.4 + 200  # the planted driver, spread over 3 accounts
                    rows.append(
                        CostRow(
                            {
                                "service": service,
                                "region": region,
                                "account": account,
                                "project": project,
                            },
                            before,
                            after,
                        )
                    )
    return rows


def test_recovers_the_planted_driver_among_noise() -> None:
    result = attribute(noisy_world(7), dimensions=DIMS)
    driver = result.drivers[0]
    assert driver.conditions == {
        "service": SERVICES[0],
        "region": "us-east-1",
        "project": "data-processing-pipeline",
    }
    assert driver.rows == 3
    assert driver.share_of_change is not None and driver.share_of_change > 0.8
    assert len(result.drivers) == 1  # one driver explains most: no padding


def test_the_sentence_names_the_driver_with_numbers() -> None:
    rows = [
        CostRow({"service": SERVICES[0], "region": "us-east-1", "project": "dpp"}, 1000.0, 1400.0),
        CostRow({"service": SERVICES[1], "region": "us-east-1", "project": "web"}, 2000.0, 2020.0),
    ]
    result = attribute(rows, dimensions=("service", "region", "project"))
    text = sentence(result, period="this week")
    assert text == (
        "Cloud spend is up 14.0% this week (+$420 to $3,420), mostly a 40% rise in "
        "S3 in us-east-1 (project=dpp) (+$400)."
    )


def test_a_drop_is_explained_as_a_drop() -> None:
    rows = [
        CostRow({"service": "a"}, 100.0, 40.0),
        CostRow({"service": "b"}, 100.0, 101.0),
    ]
    result = attribute(rows, dimensions=("service",))
    assert result.drivers[0].conditions == {"service": "a"}
    assert "down" in sentence(result, period="this week") and "drop" in sentence(result, period="x")


def test_describe_slice_orders_words() -> None:
    assert describe_slice({"region": "eu-west-1", "tag:env": "prod", "service": "AWS Lambda"}) == (
        "Lambda in eu-west-1 (env=prod)"
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.randoms(use_true_random=False))
def test_attribution_is_independent_of_row_order(seed: int, shuffler: random.Random) -> None:
    rows = noisy_world(seed)
    shuffled = rows[:]
    shuffler.shuffle(shuffled)
    first, second = attribute(rows, dimensions=DIMS), attribute(shuffled, dimensions=DIMS)
    assert [(d.shared, round(d.change, 6)) for d in first.drivers] == [
        (d.shared, round(d.change, 6)) for d in second.drivers
    ]


def test_an_even_rise_has_no_driver() -> None:
    rows = [CostRow({"service": s, "region": r}, 100.0, 101.0) for s in "abc" for r in "xyz"]
    result = attribute(rows, dimensions=("service", "region"))
    assert result.drivers == []
    assert sentence(result, period="this week").endswith("spread thinly with no single driver.")


def tied_world(seed: int) -> list[CostRow]:
    """S3 rises in every region, account and project: 10 random rows by 70, the rest by 60."""
    rows = noisy_world(seed)
    s3 = [index for index, row in enumerate(rows) if row.dims["service"] == SERVICES[0]]
    higher = set(random.Random(seed).sample(s3, 10))
    for index in s3:
        rows[index] = CostRow(rows[index].dims, 100.0, 170.0 if index in higher else 160.0)
    return rows


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_a_table_by_column_attributes_like_its_rows(seed: int) -> None:
    rows = tied_world(seed)
    built: list[int] = []

    def row(index: int) -> CostRow:
        built.append(index)
        return rows[index]

    base = CostTable.of_rows(rows, DIMS)
    table = CostTable(base.columns, base.previous, base.current, row=row)
    by_rows, by_table = attribute(rows, dimensions=DIMS), attribute(table, dimensions=DIMS)
    assert by_table == by_rows
    assert by_rows.drivers and by_rows.drivers[0].rows > 5
    for driver in by_rows.drivers:
        ranked = sorted(rows, key=lambda r: (-abs(r.change), sorted(map(str, r.dims.items()))))
        inside = [
            r for r in ranked if all(r.dims.get(k) == v for k, v in driver.conditions.items())
        ]
        assert driver.top_rows == inside[:5]
    assert len(built) < sum(driver.rows for driver in by_rows.drivers)  # rows built only to rank
