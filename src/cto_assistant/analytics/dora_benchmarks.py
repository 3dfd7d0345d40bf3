"""Versioned DORA benchmark tables: performance clusters per metric, as data.

Source of the 2024 table: the *Accelerate State of DevOps Report 2024* (DORA, Google Cloud),
software-delivery performance clusters. Facts restated in our own words and units:

- share of respondents: elite 19%, high 22%, medium 35%, low 25%;
- deployment frequency: elite deploys on demand (several times a day); high between once a day
  and once a week; medium between once a week and once a month; low between once a month and
  once every six months;
- change lead time: elite under a day; high one day to one week; medium one week to one month;
  low one to six months;
- change failure rate (typical value of the cluster): elite 5%, high 20%, medium 10%, low 40%;
- failed deployment recovery time: elite under an hour; high and medium under a day; low one
  week to one month.

The report lists no cluster values for the fifth key, deployment rework rate, so it has no level.

Bucketing is per metric, on its own: a value gets the best level whose bound it meets, trying the
levels from elite down. The 2024 clusters are not monotone on every metric (medium's typical
failure rate, 10%, is lower than high's, 20%; high and medium share the "under a day" recovery
bound), so on those metrics `medium` can never be reached on its own; the docs say so.

The 0-10 score is ours: anchor points per metric (the cluster bounds), interpolated on a log
scale for durations and frequencies and linearly for rates, 10 at or beyond elite, 0 at the
far end of low. A team's score is the mean of its metric scores.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

Level = Literal["elite", "high", "medium", "low"]
LEVELS: tuple[Level, ...] = ("elite", "high", "medium", "low")
Direction = Literal["higher_is_better", "lower_is_better"]
MetricName = Literal[
    "deployment_frequency", "change_lead_time", "change_failure_rate", "failed_deployment_recovery"
]

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY


@dataclass(frozen=True)
class MetricBands:
    """One metric's cluster bounds: the value a level must meet, and its description."""

    metric: MetricName
    unit: str
    direction: Direction
    bounds: tuple[tuple[Level, float], ...]  # tried in order; the first met wins
    descriptions: tuple[tuple[Level, str], ...]
    score_anchors: tuple[tuple[float, float], ...]  # (value, score), ordered best → worst
    log_scale: bool = True

    def level(self, value: float) -> Level:
        """The best level whose bound `value` meets (the last level when none is met)."""
        for level, bound in self.bounds:
            if self.direction == "higher_is_better" and value >= bound:
                return level
            if self.direction == "lower_is_better" and value <= bound:
                return level
        return "low"

    def threshold_text(self) -> str:
        """The bounds as one readable line (for tooltips)."""
        return "; ".join(f"{level}: {text}" for level, text in self.descriptions)

    def score(self, value: float) -> float:
        """0-10 against the anchors (10 at or beyond the best anchor, 0 at or past the worst)."""
        anchors = self.score_anchors
        better = (
            (lambda a, b: a >= b) if self.direction == "higher_is_better" else (lambda a, b: a <= b)
        )
        if better(value, anchors[0][0]):
            return anchors[0][1]
        if not better(value, anchors[-1][0]):
            return anchors[-1][1]
        for (v1, s1), (v2, s2) in itertools.pairwise(anchors):
            if better(value, v2):
                if self.log_scale:
                    low, high = math.log(max(v1, 1e-9)), math.log(max(v2, 1e-9))
                    x = math.log(max(value, 1e-9))
                else:
                    low, high, x = v1, v2, value
                fraction = 0.0 if high == low else (x - low) / (high - low)
                return round(s1 + (s2 - s1) * fraction, 2)
        return anchors[-1][1]


@dataclass(frozen=True)
class BenchmarkTable:
    """A published benchmark, versioned: its clusters per metric."""

    version: str
    source: str
    cluster_shares: tuple[tuple[Level, float], ...]
    metrics: tuple[MetricBands, ...]
    rework_note: str

    def bands(self, metric: MetricName) -> MetricBands:
        """The bands of one metric."""
        for bands in self.metrics:
            if bands.metric == metric:
                return bands
        raise KeyError(metric)


DORA_2024 = BenchmarkTable(
    version="dora-2024",
    source="Accelerate State of DevOps Report 2024 (DORA), software delivery performance clusters",
    cluster_shares=(("elite", 0.19), ("high", 0.22), ("medium", 0.35), ("low", 0.25)),
    metrics=(
        MetricBands(
            metric="deployment_frequency",
            unit="production deployments per week",
            direction="higher_is_better",
            # once a day = 7 a week; once a week = 1; once a month = 7/30 a week
            bounds=(("elite", 7.0), ("high", 1.0), ("medium", 7.0 / 30.0)),
            descriptions=(
                ("elite", "on demand, several deploys a day (7+ a week)"),
                ("high", "once a day to once a week"),
                ("medium", "once a week to once a month"),
                ("low", "once a month to once every six months"),
            ),
            score_anchors=(
                (14.0, 10.0),
                (7.0, 8.5),
                (1.0, 6.0),
                (7.0 / 30.0, 3.5),
                (7.0 / 182.0, 0.0),
            ),
        ),
        MetricBands(
            metric="change_lead_time",
            unit="seconds (median, first commit to running in production)",
            direction="lower_is_better",
            bounds=(("elite", DAY), ("high", WEEK), ("medium", MONTH)),
            descriptions=(
                ("elite", "under a day"),
                ("high", "one day to one week"),
                ("medium", "one week to one month"),
                ("low", "one to six months"),
            ),
            score_anchors=((HOUR, 10.0), (DAY, 8.5), (WEEK, 6.0), (MONTH, 3.5), (6 * MONTH, 0.0)),
        ),
        MetricBands(
            metric="change_failure_rate",
            unit="share of production deployments",
            direction="lower_is_better",
            bounds=(("elite", 0.05), ("high", 0.20), ("medium", 0.10)),
            descriptions=(
                ("elite", "about 5%"),
                ("high", "about 20%"),
                ("medium", "about 10% (below high's 20%: never reached on its own)"),
                ("low", "about 40%"),
            ),
            score_anchors=((0.0, 10.0), (0.05, 8.5), (0.20, 5.0), (0.40, 2.0), (0.60, 0.0)),
            log_scale=False,
        ),
        MetricBands(
            metric="failed_deployment_recovery",
            unit="seconds (median, failed deployment to recovery)",
            direction="lower_is_better",
            bounds=(("elite", HOUR), ("high", DAY), ("medium", DAY)),
            descriptions=(
                ("elite", "under an hour"),
                ("high", "under a day"),
                ("medium", "under a day (same bound as high)"),
                ("low", "one week to one month"),
            ),
            score_anchors=((10 * 60.0, 10.0), (HOUR, 8.5), (DAY, 6.0), (WEEK, 3.0), (MONTH, 0.0)),
        ),
    ),
    rework_note="The 2024 report publishes no cluster values for deployment rework rate.",
)

LATEST = DORA_2024
TABLES: dict[str, BenchmarkTable] = {DORA_2024.version: DORA_2024}


def overall_level(levels: list[Level]) -> Level | None:
    """The median of per-metric levels; between two middle levels, the worse one."""
    if not levels:
        return None
    ranks = sorted(LEVELS.index(level) for level in levels)
    return LEVELS[ranks[len(ranks) // 2]]
