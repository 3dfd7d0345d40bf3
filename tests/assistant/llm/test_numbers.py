"""The figure check: numbers in an answer must come from tool results."""

from __future__ import annotations

import pytest

from cto_assistant.assistant.llm.numbers import check_numbers, figures

DATA = {
    "total": 1_234_567.89,
    "change_ratio": 0.1234,
    "deploys_per_day": 3.4,
    "window": {"start": "2025-04-01", "end": "2025-06-30T23:59:59+00:00"},
    "summary": "MTTR was 4.2h across 17 incidents",
    "services": [{"name": "s3"}, {"name": "ec2"}, {"name": "rds"}],
}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Spend was $1,234,567.89.", ["$1,234,567.89"]),
        ("about $1.2M", ["$1.2M"]),
        ("€1.23 million", ["€1.23 million"]),
        ("up 12.3%", ["12.3%"]),
        ("3.4k requests, 150ms p95", ["3.4k", "150ms"]),
        ("since 2025-04-01", ["2025-04-01"]),
        ("us-east-1, INC-1042, S3, Q2, p95, v1.2, PLAT-17, 5xx, 3rd", []),
        ("1. first\n2. second\n10) tenth", []),
        ("cited [1] at 09:30", []),
        ("fell -5% (from 20)", ["5%", "20"]),
    ],
)
def test_figures_are_found_and_names_are_not(text: str, found: list[str]) -> None:
    assert [f.text for f in figures(text)] == found


@pytest.mark.parametrize(
    ("answer", "unsupported"),
    [
        ("Spend was $1,234,567.89 [cloud_spend].", []),
        ("Spend was about $1.2M, or $1,235k.", []),  # rounded to the figure's own precision
        ("Spend grew 12.3% (12%).", []),  # a ratio shown as a percentage
        ("3.4 deploys a day; MTTR 4.2h over 17 incidents in 3 services.", []),
        ("From 2025-04-01 to 2025-06-30.", []),
        ("In 2025 we had 1 or 2 problems.", []),  # trivial figures and years
        ("Spend was $1.3M.", ["$1.3M"]),
        ("Spend grew 15%.", ["15%"]),
        ("We had 18 incidents since 2025-03-01.", ["18", "2025-03-01"]),
        ("Cost per deploy was $999.", ["$999"]),
    ],
)
def test_every_figure_not_in_a_tool_result_is_flagged(answer: str, unsupported: list[str]) -> None:
    assert check_numbers(answer, sources=[DATA]).unsupported == unsupported


def test_figures_from_the_question_count_as_known() -> None:
    check = check_numbers("Over the last 90 days: 3.4 a day.", sources=["last 90 days", DATA])
    assert check.ok and check.figures == ["90 days", "3.4"]
