"""Check that every figure in a model's answer came from a tool result.

`figures(text)` finds the numbers a reader would take as facts: money ("$1,234.50", "€3.2k"),
percentages ("12.5%"), scaled amounts ("1.4M", "2 million"), durations ("4.2h", "150ms"),
plain counts and ISO dates — and skips what is part of a name ("us-east-1", "INC-1042", "S3",
"Q2", "p95", "v1.2"), list markers and citation brackets. `check_numbers` compares them with
every number the tools returned (and the question and the tool arguments): a figure matches a
known value when it is that value rounded to the figure's own precision (also as a percentage
of a ratio); dates must appear verbatim. Trivial figures (0, 1, 2, years) always pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DATE_RE = re.compile(r"(?<![\w-])(\d{4}-\d{2}-\d{2})(?![\d-])")
NUMBER_RE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
SCALES = {
    "k": 1e3,
    "K": 1e3,
    "thousand": 1e3,
    "M": 1e6,
    "million": 1e6,
    "mn": 1e6,
    "B": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
SUFFIX_RE = re.compile(
    r"\s?(%|pp|ms|mins?|minutes|m|hrs|hours|h|days|d|sec|s|x|thousand|million|billion|bn|mn|k|K|M|B)"
    r"(?![A-Za-z])"
)
IDENTIFIER_BEFORE = set("_.#/:[@")
TRIVIAL_MAX = 2
YEARS = range(1990, 2101)


@dataclass(frozen=True)
class Figure:
    """One number in a text: as written, its value, and the rounding it implies."""

    text: str
    value: float
    tolerance: float
    percent: bool = False
    date: str | None = None
    trivial: bool = False


@dataclass
class NumberCheck:
    """Which figures of an answer no tool returned."""

    figures: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every figure is backed by a tool result."""
        return not self.unsupported


def _line_marker(text: str, start: int, end: int) -> bool:
    """'1. ' or '2) ' at the start of a line (a list marker, not a figure)."""
    line_start = text.rfind("\n", 0, start) + 1
    return (
        not text[line_start:start].strip()
        and text[end : end + 1] in (".", ")")
        and (end + 1 >= len(text) or text[end + 1] in " \t")
    )


def figures(text: str) -> list[Figure]:
    """Every figure in `text` (see the module docstring for what counts)."""
    found: list[tuple[int, Figure]] = []
    for match in DATE_RE.finditer(text):
        found.append((match.start(), Figure(match.group(1), 0.0, 0.0, date=match.group(1))))
    masked = DATE_RE.sub(lambda m: " " * len(m.group(0)), text)
    for match in NUMBER_RE.finditer(masked):
        start, end = match.span()
        before = masked[start - 1] if start else " "
        if before.isalnum() or before in IDENTIFIER_BEFORE:
            continue
        if (
            before in "-\u2212"
            and start >= 2
            and (masked[start - 2].isalnum() or masked[start - 2] in "_-")
        ):
            continue  # "us-east-1", "INC-1042"
        after = masked[end] if end < len(masked) else " "
        if after in ":]" or (after in ".)" and _line_marker(masked, start, end)):
            continue
        raw = match.group(0)
        suffix_match = SUFFIX_RE.match(masked, end)
        suffix = suffix_match.group(1) if suffix_match else ""
        if not suffix and after.isalpha():
            continue  # "3rd", "5xx", "2FA"
        mantissa = raw.replace(",", "")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        scale = SCALES.get(suffix, 1.0)
        value = float(mantissa) * scale
        tolerance = 0.5 * 10 ** (-decimals) * scale
        currency = before in "$€£"
        trivial = (
            not suffix
            and not currency
            and decimals == 0
            and (value <= TRIVIAL_MAX or int(value) in YEARS)
        )
        shown = (before if currency else "") + raw + (suffix_match.group(0) if suffix_match else "")
        percent = suffix in ("%", "pp")
        found.append((start, Figure(shown, value, tolerance, percent=percent, trivial=trivial)))
    return [figure for _, figure in sorted(found, key=lambda pair: pair[0])]


def known_values(sources: Iterable[Any]) -> tuple[set[float], set[str]]:
    """Every number (and ISO date) inside JSON-like values and strings."""
    numbers: set[float] = set()
    dates: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            if math.isfinite(value):
                numbers.add(float(value))
        elif isinstance(value, str):
            dates.update(DATE_RE.findall(value))
            for figure in figures(value):
                if figure.date is None:
                    numbers.add(figure.value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list | tuple):
            numbers.add(float(len(value)))
            for item in value:
                walk(item)

    for source in sources:
        walk(source)
    return numbers, dates


def _matches(figure: Figure, numbers: set[float]) -> bool:
    target = abs(figure.value)
    for known in numbers:
        candidates = [abs(known)]
        if figure.percent:
            candidates.append(abs(known) * 100)  # a ratio shown as a percentage
        for candidate in candidates:
            if abs(candidate - target) <= figure.tolerance + 1e-9 * max(1.0, target):
                return True
    return False


def check_numbers(answer: str, *, sources: Iterable[Any]) -> NumberCheck:
    """Flag every figure in `answer` that no source value supports."""
    numbers, dates = known_values(sources)
    check = NumberCheck()
    for figure in figures(answer):
        check.figures.append(figure.text)
        if figure.trivial:
            continue
        supported = figure.date in dates if figure.date else _matches(figure, numbers)
        if not supported and figure.text not in check.unsupported:
            check.unsupported.append(figure.text)
    return check
