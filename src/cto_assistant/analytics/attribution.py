"""Explain a change in spend: the fewest, most focused slices that account for most of it.

Input: cost rows already summed per slice key for the two periods (`CostRow`: the dimension
values and the previous and current amounts). A *slice* is a conjunction of up to `max_depth`
dimension = value conditions ("service = S3 and region = us-east-1").

The search, greedy and deterministic:
1. The direction to explain is the sign of the total change.
2. Candidate slices are grown breadth-first: every single condition, then the most focused
   candidates that can still win (change ≥ `focus` x the best so far, smallest previous spend
   first, at most `beam` of them) are refined with one more condition, up to `max_depth`.
   Slices with exactly the same rows are kept once.
3. Among candidates whose change reaches `focus` (80%) of the best change, the one with the
   smallest previous spend wins: "S3 in us-east-1 for project X" beats "all of us-east-1" when
   it carries nearly the same change, because it says where the money went.
4. A driver must rise (or fall) more than its share of spend would at the overall rate: its
   excess over a proportional change must reach `min_share` of the change; otherwise the change
   is spread thin and no driver is named.
5. Its rows are removed and the search repeats, until the drivers explain `target_share` of
   the change, a next driver would explain less than `min_share`, or `max_drivers` are found.
A driver is described by every dimension that is constant across its rows, so the sentence
names the service, the region and the tags that the rows share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cto_assistant.analytics.cost import change_ratio, money, short_service

_EPSILON_DIGITS = 6  # decisions compare amounts rounded to a micro-dollar (order-independent)


@dataclass(frozen=True, slots=True)
class CostRow:
    """Spend of one slice key in the previous and the current period."""

    dims: Mapping[str, str | None]
    previous: float
    current: float

    @property
    def change(self) -> float:
        """Current - previous."""
        return self.current - self.previous


@dataclass(frozen=True, slots=True)
class CostTable:
    """Cost rows by column (many rows, few objects): each dimension's values, the previous and
    current amounts, and the row at a position (built only for the drivers' top rows)."""

    columns: Mapping[str, Sequence[str | None]]
    previous: Sequence[float]
    current: Sequence[float]
    row: Callable[[int], CostRow]

    @classmethod
    def of_rows(cls, rows: Sequence[CostRow], dimensions: Sequence[str]) -> CostTable:
        """The table of some rows."""
        return cls(
            columns={name: [row.dims.get(name) for row in rows] for name in dimensions},
            previous=[row.previous for row in rows],
            current=[row.current for row in rows],
            row=rows.__getitem__,
        )


@dataclass(frozen=True, slots=True)
class Driver:
    """A slice that explains part of the change, with the rows behind it."""

    conditions: dict[str, str | None]
    shared: dict[str, str | None]  # every dimension constant over the slice's rows
    previous: float
    current: float
    change: float
    change_pct: float | None
    share_of_change: float | None
    rows: int
    top_rows: list[CostRow] = field(default_factory=list)

    def describe(self) -> str:
        """'S3 in us-east-1 (project=data-processing-pipeline)'."""
        return describe_slice(self.shared or self.conditions)


@dataclass(frozen=True, slots=True)
class Attribution:
    """The change between two periods and the drivers that explain it."""

    previous_total: float
    current_total: float
    change: float
    change_pct: float | None
    drivers: list[Driver]
    explained_share: float | None
    dimensions: tuple[str, ...]
    focus: float
    target_share: float
    min_share: float


def attribute(
    rows: Iterable[CostRow] | CostTable,
    *,
    dimensions: Sequence[str],
    max_depth: int = 3,
    focus: float = 0.8,
    target_share: float = 0.8,
    min_share: float = 0.1,
    max_drivers: int = 3,
    beam: int = 12,
) -> Attribution:
    """Find the smallest set of focused slices that explains most of the change."""
    table = rows if isinstance(rows, CostTable) else CostTable.of_rows(list(rows), dimensions)
    changes = [now - before for before, now in zip(table.previous, table.current, strict=True)]
    remaining = list(range(len(changes)))  # rows by position
    previous_total = sum(table.previous)
    current_total = sum(table.current)
    change = current_total - previous_total
    sign = 1.0 if change >= 0 else -1.0
    rate = change / previous_total if previous_total else 0.0
    drivers: list[Driver] = []
    explained = 0.0
    search = _Search(table.columns, changes, table.previous, dimensions, sign)
    while remaining and len(drivers) < max_drivers:
        best = search.best_slice(remaining, max_depth, focus, beam)
        if best is None:
            break
        conditions, members = best
        slice_change = sum(changes[i] for i in members)
        # a driver must move more than its share of spend would: excess over a proportional rise
        proportional = sum(table.previous[i] for i in members) * rate
        if _r(sign * (slice_change - proportional)) < _r(min_share * abs(change)):
            break
        if _r(sign * slice_change) <= 0 or (
            change != 0 and _r(sign * slice_change) < _r(min_share * abs(change))
        ):
            break
        drivers.append(_driver(conditions, members, table, changes, dimensions, change))
        explained += slice_change
        taken = set(members)
        remaining = [i for i in remaining if i not in taken]
        if change != 0 and explained / change >= target_share:
            break
    return Attribution(
        previous_total=previous_total,
        current_total=current_total,
        change=change,
        change_pct=change_ratio(current_total, previous_total),
        drivers=drivers,
        explained_share=explained / change if change else None,
        dimensions=tuple(dimensions),
        focus=focus,
        target_share=target_share,
        min_share=min_share,
    )


def _r(amount: float) -> float:
    return round(amount, _EPSILON_DIGITS)


Conditions = tuple[tuple[str, str | None], ...]
Members = tuple[int, ...]  # positions of rows


@dataclass(frozen=True, slots=True)
class _Search:
    """The slice search over rows by position (every member tuple holds ascending positions,
    so two slices have the same rows exactly when their tuples are equal; tuples of ints,
    unlike lists, also leave the garbage collector's oldest generation alone)."""

    columns: Mapping[str, Sequence[str | None]]
    changes: Sequence[float]
    previous: Sequence[float]
    dimensions: Sequence[str]
    sign: float

    def best_slice(
        self, rows: list[int], max_depth: int, focus: float, beam: int
    ) -> tuple[dict[str, str | None], Members] | None:
        """The most focused slice of `rows` carrying nearly the largest change, and its rows."""
        seen: dict[Conditions, tuple[float, float, Members]] = {}
        member_sets = _MemberSets()
        frontier: list[tuple[Conditions, Members]] = [((), tuple(rows))]
        best_change = 0.0
        for _depth in range(max_depth):
            children = self._children(frontier, seen, member_sets)
            if not children:
                break
            for key, members in children.items():
                change = _r(self.sign * sum(map(self.changes.__getitem__, members)))
                previous = _r(sum(map(self.previous.__getitem__, members)))
                seen[key] = (change, previous, members)
            best_change = max(change for change, _, _ in seen.values())
            if best_change <= 0:
                return None
            # refine the most focused slices that can still win (a child never carries more)
            contenders = sorted(
                (
                    (previous, _conditions_text(key), key)
                    for key, (change, previous, _) in _children_scores(children, seen)
                    if change >= _r(focus * best_change)
                ),
            )
            frontier = [(key, children[key]) for _, _, key in contenders[:beam]]
        if not seen or best_change <= 0:
            return None
        qualifying = [
            (previous, -len(key), _conditions_text(key), key)
            for key, (change, previous, _) in seen.items()
            if change >= _r(focus * best_change)
        ]
        qualifying.sort()
        winner = qualifying[0][3]
        return dict(winner), seen[winner][2]

    def _children(
        self,
        frontier: list[tuple[Conditions, Members]],
        seen: dict[Conditions, tuple[float, float, Members]],
        member_sets: _MemberSets,
    ) -> dict[Conditions, Members]:
        """The frontier's slices refined by one more condition (new row sets only)."""
        children: dict[Conditions, Members] = {}
        for conditions, members in frontier:
            used = {name for name, _ in conditions}
            for dimension in self.dimensions:
                if dimension in used:
                    continue
                groups: dict[str | None, list[int]] = defaultdict(list)
                column = self.columns[dimension]
                for index in members:
                    groups[column[index]].append(index)
                if len(groups) < 2 and conditions:
                    continue  # the condition adds nothing: every row already has this value
                for value, found in groups.items():
                    key = tuple(sorted((*conditions, (dimension, value)), key=_condition_key))
                    if key in children or key in seen:
                        continue
                    group = tuple(found)
                    if not member_sets.add(group):
                        continue  # the same rows under other words: one description is enough
                    children[key] = group
        return children


class _MemberSets:
    """Sets of row positions seen so far, keyed cheaply by (size, first, last)."""

    def __init__(self) -> None:
        self._by_ends: dict[tuple[int, int, int], list[Members]] = {}

    def add(self, members: Members) -> bool:
        """Record `members` (ascending positions); False when the same set was seen before."""
        same_ends = self._by_ends.setdefault((len(members), members[0], members[-1]), [])
        if members in same_ends:
            return False
        same_ends.append(members)
        return True


def _children_scores(
    children: dict[Conditions, Members],
    seen: dict[Conditions, tuple[float, float, Members]],
) -> list[tuple[Conditions, tuple[float, float, Members]]]:
    """The scores of this level's new slices."""
    return [(key, seen[key]) for key in children]


def _condition_key(condition: tuple[str, str | None]) -> tuple[str, str]:
    return condition[0], condition[1] or ""


def _conditions_text(conditions: Conditions) -> str:
    return "|".join(f"{name}={value}" for name, value in conditions)


def _driver(
    conditions: dict[str, str | None],
    members: Members,
    table: CostTable,
    changes: Sequence[float],
    dimensions: Sequence[str],
    total_change: float,
) -> Driver:
    previous = sum(table.previous[i] for i in members)
    current = sum(table.current[i] for i in members)
    shared: dict[str, str | None] = {}
    for dimension in dimensions:
        column = table.columns[dimension]
        values = {column[i] for i in members}
        if len(values) == 1:
            (value,) = values
            if value is not None:
                shared[dimension] = value
    return Driver(
        conditions=conditions,
        shared=shared,
        previous=previous,
        current=current,
        change=current - previous,
        change_pct=change_ratio(current, previous),
        share_of_change=(current - previous) / total_change if total_change else None,
        rows=len(members),
        top_rows=_top_rows(members, table, changes, 5),
    )


def _top_rows(
    members: Members, table: CostTable, changes: Sequence[float], count: int
) -> list[CostRow]:
    """The `count` rows that changed most (ties: by their dimension values), building rows only
    for those that can make the cut: every row changing at least as much as the count-th."""
    by_change = sorted(members, key=lambda i: -abs(changes[i]))
    if len(by_change) > count:
        cut = abs(changes[by_change[count - 1]])
        by_change = [i for i in by_change if abs(changes[i]) >= cut]
    rows = [table.row(i) for i in by_change]
    return sorted(rows, key=lambda row: (-abs(row.change), sorted(map(str, row.dims.items()))))[
        :count
    ]


_TAG_ORDER = ("project", "team", "env")


def describe_slice(dims: Mapping[str, str | None]) -> str:
    """Words for a slice: service, 'in' region, then account / usage type / tags in parentheses."""
    words = []
    if dims.get("service"):
        words.append(short_service(dims["service"]))
    if dims.get("region"):
        words.append(f"in {dims['region']}")
    details = []
    tag_names = [
        name
        for name in dims
        if name not in ("service", "region", "account", "usage_type", "provider")
    ]
    tag_names.sort(
        key=lambda name: (_TAG_ORDER.index(name) if name in _TAG_ORDER else len(_TAG_ORDER), name)
    )
    if dims.get("usage_type") and not words:
        details.append(f"usage {dims['usage_type']}")
    for name in tag_names:
        label = name.removeprefix("tag:")
        details.append(f"{label}={dims[name]}")
    if not words:
        if dims.get("account"):
            words.append(f"account {dims['account']}")
        elif dims.get("provider"):
            words.append(str(dims["provider"]).upper())
        elif details:
            words.append(details.pop(0))
        else:
            words.append("all spend")
    text = " ".join(words)
    if details:
        text += f" ({', '.join(details[:2])})"
    return text


def sentence(attribution: Attribution, *, period: str, subject: str = "Cloud spend") -> str:
    """One sentence, number first: 'Cloud spend is up 14.5% this week (+$9,006 to $70,959), …'."""
    change = attribution.change
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    pct = attribution.change_pct
    amount = (
        f"{'+' if change >= 0 else '-'}{money(abs(change))} to {money(attribution.current_total)}"
    )
    head = (
        f"{subject} is {direction} {abs(pct) * 100:.1f}% {period} ({amount})"
        if pct is not None and direction != "flat"
        else f"{subject} is {money(attribution.current_total)} {period} ({amount})"
    )
    if not attribution.drivers:
        return head + ", spread thinly with no single driver."
    first = attribution.drivers[0]
    verb = "rise" if first.change >= 0 else "drop"
    lead = "mostly" if (first.share_of_change or 0) >= 0.5 else "largely"
    driver_pct = f"{abs(first.change_pct) * 100:.0f}% " if first.change_pct is not None else "new "
    text = f"{head}, {lead} a {driver_pct}{verb} in {first.describe()} ({_signed(first.change)})"
    if len(attribution.drivers) > 1:
        others = "; ".join(f"{d.describe()} ({_signed(d.change)})" for d in attribution.drivers[1:])
        text += f", then {others}"
    return text + "."


def _signed(amount: float) -> str:
    return ("+" if amount >= 0 else "-") + money(abs(amount))
