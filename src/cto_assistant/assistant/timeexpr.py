"""Time expressions in plain English, resolved against the pinned `now`.

Periods are inclusive on both ends (the analytics convention: "March 1 to March 31") and never
reach past today. A moment ("tomorrow at 9am", "tonight") is a UTC datetime for tools that take
`at`. `find_time` returns the first expression it recognises with its span, so the router can
mask it before classifying the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_ALT = "|".join([m for m in MONTHS] + [m[:3] for m in MONTHS if len(m) > 3] + ["sept"])
_DAY_ALT = "|".join(
    [d for d in WEEKDAYS]
    + ["mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"]
)
_NUMBER_WORDS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
    "sixty": 60,
    "ninety": 90,
}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}


@dataclass(frozen=True)
class TimeSpan:
    """A resolved time expression: an inclusive date period, or a moment (`at`)."""

    text: str
    start: date | None = None
    end: date | None = None
    at: datetime | None = None
    span: tuple[int, int] = (0, 0)

    @property
    def days(self) -> int | None:
        """Length of the period in days (for tools that take a trailing window)."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).days + 1


def _month_index(word: str) -> int:
    word = word[:3]
    return next(i for i, m in enumerate(MONTHS) if m.startswith(word)) + 1


def _weekday_index(word: str) -> int:
    return next(i for i, d in enumerate(WEEKDAYS) if d.startswith(word[:3]))


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * quarter - 2, 1)
    return start, _month_end(date(year, 3 * quarter, 1))


def _clock(hour: str, minute: str | None, meridiem: str | None) -> time:
    h = int(hour) % 24
    if meridiem == "pm" and h < 12:
        h += 12
    if meridiem == "am" and h == 12:
        h = 0
    return time(h, int(minute or 0))


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


_BARE_CLOCK = r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<mer>am|pm)?"
_CLOCK = r"(?:at\s+)?" + _BARE_CLOCK
_NUM = r"(?P<n>\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")"
_UNIT = r"(?P<unit>day|week|month|quarter|year)s?"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "moment_day",
        re.compile(rf"\b(?P<day>tomorrow|today|tonight)\s+{_CLOCK}\b"),
    ),
    ("moment_day", re.compile(rf"\bat\s+{_BARE_CLOCK}\s+(?P<day2>tomorrow|today|tonight)\b")),
    ("moment_weekday", re.compile(rf"\b(?:on\s+|next\s+)?(?P<wd>{_DAY_ALT})\s+{_CLOCK}\b")),
    ("tonight", re.compile(r"\btonight\b")),
    ("weekend", re.compile(r"\b(?:this|over the|on the)\s+weekend\b")),
    ("tomorrow", re.compile(r"\btomorrow\b")),
    ("next_weekday", re.compile(rf"\b(?:on\s+|next\s+)(?P<wd>{_DAY_ALT})\b(?!\s+(?:to|until))")),
    (
        "trailing",
        re.compile(
            rf"\b(?:(?:in|over|for|during)\s+)?(?:the\s+)?(?:last|past|previous|trailing)\s+{_NUM}\s+{_UNIT}\b"
        ),
    ),
    ("trailing_short", re.compile(r"\b(?P<n>\d{1,3})(?P<unit>d|w)\b")),
    ("window", re.compile(rf"\b{_NUM}[-\s]{_UNIT}\s+(?:window|trend|period|view)\b")),
    ("since_weekday", re.compile(rf"\bsince\s+(?:last\s+)?(?P<wd>{_DAY_ALT})\b")),
    (
        "since_month",
        re.compile(
            rf"\bsince\s+(?:the\s+(?:start|beginning)\s+of\s+)?(?P<mon>{_MONTH_ALT})\b(?:\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?)?"
        ),
    ),
    (
        "quarter",
        re.compile(
            r"\b(?:in\s+|for\s+|during\s+)?q(?P<q>[1-4])(?:\s*(?:of\s+)?'?(?P<y>\d{4}|\d{2}))?\b"
        ),
    ),
    (
        "this_period",
        re.compile(
            r"\b(?:this|current|the current)\s+(?P<unit>week|month|quarter|year)\b|\b(?P<abbr>wtd|mtd|qtd|ytd)\b|\b(?P<unit2>week|month|quarter|year)\s+to\s+date\b|\bso far this (?P<unit3>week|month|quarter|year)\b"
        ),
    ),
    (
        "last_period",
        re.compile(r"\b(?:last|previous|prior|past)\s+(?P<unit>week|month|quarter|year)(?:'s)?\b"),
    ),
    ("yesterday", re.compile(r"\byesterday\b")),
    ("today", re.compile(r"\btoday\b|\bright now\b")),
    (
        "in_month",
        re.compile(rf"\b(?:in|for|during|of)\s+(?P<mon>{_MONTH_ALT})\b(?:\s+(?P<y>\d{{4}}))?"),
    ),
]


def _resolve(
    kind: str, m: re.Match[str], now: datetime
) -> tuple[date | None, date | None, datetime | None]:
    today = now.date()
    groups = m.groupdict()
    if kind == "moment_day":
        day_word = groups.get("day") or groups.get("day2") or "today"
        hour = groups.get("h")
        base = today + timedelta(days=1) if day_word == "tomorrow" else today
        meridiem = groups.get("mer") or ("pm" if day_word == "tonight" else None)
        at = datetime.combine(base, _clock(hour or "9", groups.get("m"), meridiem), now.tzinfo)
        return None, None, at
    if kind == "moment_weekday":
        wd = _weekday_index(groups["wd"])
        ahead = (wd - today.weekday()) % 7 or 7
        when = today + timedelta(days=ahead)
        at = datetime.combine(
            when, _clock(groups["h"], groups.get("m"), groups.get("mer")), now.tzinfo
        )
        return None, None, at
    if kind == "tonight":
        return None, None, datetime.combine(today, time(22, 0), now.tzinfo)
    if kind == "weekend":
        ahead = (5 - today.weekday()) % 7
        return None, None, datetime.combine(today + timedelta(days=ahead), time(12, 0), now.tzinfo)
    if kind == "tomorrow":
        return None, None, datetime.combine(today + timedelta(days=1), time(9, 0), now.tzinfo)
    if kind == "next_weekday":
        wd = _weekday_index(groups["wd"])
        ahead = (wd - today.weekday()) % 7 or 7
        return None, None, datetime.combine(today + timedelta(days=ahead), time(9, 0), now.tzinfo)
    if kind in ("trailing", "trailing_short", "window"):
        n = _number(groups["n"])
        unit = {"d": "day", "w": "week"}.get(groups["unit"], groups["unit"])
        days = n * _UNIT_DAYS[unit]
        return today - timedelta(days=days - 1), today, None
    if kind == "since_weekday":
        wd = _weekday_index(groups["wd"])
        back = (today.weekday() - wd) % 7
        return today - timedelta(days=back), today, None
    if kind == "since_month":
        month = _month_index(groups["mon"])
        year = today.year if month <= today.month else today.year - 1
        return date(year, month, int(groups.get("d") or 1)), today, None
    if kind == "quarter":
        q = int(groups["q"])
        year_text = groups.get("y")
        if year_text:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        else:
            year = today.year if 3 * q - 2 <= today.month else today.year - 1
        start, end = _quarter_bounds(year, q)
        return start, min(end, today), None
    if kind == "this_period":
        abbr = groups.get("abbr")
        unit = (
            groups.get("unit")
            or groups.get("unit2")
            or groups.get("unit3")
            or {
                "wtd": "week",
                "mtd": "month",
                "qtd": "quarter",
                "ytd": "year",
            }[abbr or "mtd"]
        )
        if unit == "week":
            return today - timedelta(days=today.weekday()), today, None
        if unit == "month":
            return today.replace(day=1), today, None
        if unit == "quarter":
            q = (today.month - 1) // 3 + 1
            return _quarter_bounds(today.year, q)[0], today, None
        return date(today.year, 1, 1), today, None
    if kind == "last_period":
        unit = groups["unit"]
        if unit == "week":
            monday = today - timedelta(days=today.weekday())
            return monday - timedelta(days=7), monday - timedelta(days=1), None
        if unit == "month":
            end = today.replace(day=1) - timedelta(days=1)
            return end.replace(day=1), end, None
        if unit == "quarter":
            q = (today.month - 1) // 3 + 1
            year, q = (today.year, q - 1) if q > 1 else (today.year - 1, 4)
            return *_quarter_bounds(year, q), None
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), None
    if kind == "yesterday":
        day = today - timedelta(days=1)
        return day, day, None
    if kind == "today":
        return today, today, None
    if kind == "in_month":
        month = _month_index(groups["mon"])
        year = (
            int(groups["y"])
            if groups.get("y")
            else (today.year if month <= today.month else today.year - 1)
        )
        start = date(year, month, 1)
        return start, min(_month_end(start), today), None
    raise ValueError(kind)


def find_time(text: str, now: datetime) -> TimeSpan | None:
    """The first time expression in `text` (lower-cased), resolved against `now`, or None."""
    best: tuple[int, int, str, re.Match[str]] | None = None
    for order, (kind, pattern) in enumerate(PATTERNS):
        match = pattern.search(text)
        if match is None:
            continue
        if kind == "in_month" and match.group("mon") == "may" and not match.group("y"):
            continue  # "may" is more often a verb than a month
        if best is None or (match.start(), order) < (best[0], best[1]):
            best = (match.start(), order, kind, match)
    if best is None:
        return None
    _, _, kind, match = best
    start, end, at = _resolve(kind, match, now)
    return TimeSpan(text=match.group(0).strip(), start=start, end=end, at=at, span=match.span())
