"""EventBridge schedule expressions: ``rate(value unit)`` and six-field ``cron(...)``, in UTC.

Why our own matcher: ``croniter`` is not installed, and it speaks the five-field Unix dialect
(day-of-week 0-6 from Sunday, both day fields ANDed/ORed Unix-style, no year field, no ``W``).
AWS's dialect is Quartz-like (day-of-week 1-7 from Sunday, exactly one of the day fields ``?``,
``L``, ``W`` and ``#``, a 1970-2199 year field) and small enough to validate and match directly.

:meth:`ScheduleExpression.next_after` walks the calendar field by field (year, month, day, hour,
minute), skipping whole months and days that cannot match, so a schedule that never fires again
answers ``None`` after at most 230 years x 12 months of cheap checks.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["InvalidScheduleExpression", "ScheduleExpression"]

_MESSAGE: Final = "Parameter ScheduleExpression is not valid."
_MAX_LENGTH: Final = 256
_RATE_RE: Final = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")
_CRON_RE: Final = re.compile(r"cron\((.*)\)", re.DOTALL)
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
_DAYS: Final = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}
_FIRST_YEAR: Final = 1970
_LAST_YEAR: Final = 2199


class InvalidScheduleExpression(ValueError):
    """A schedule EventBridge refuses (``ValidationException`` on PutRule)."""

    code = "ValidationException"

    def __init__(self) -> None:
        super().__init__(_MESSAGE)


# -- cron fields -----------------------------------------------------------------------------------
class _Field:
    """Bounds, accepted names and special characters of one cron field (AWS's table)."""

    __slots__ = ("high", "low", "names", "steps")

    def __init__(self, low: int, high: int, names: dict[str, int], steps: bool) -> None:
        self.low, self.high, self.names, self.steps = low, high, names, steps

    def value(self, token: str) -> int:
        if token.isascii() and token.isdigit():
            number = int(token)
        elif token.upper() in self.names:
            number = self.names[token.upper()]
        else:
            raise InvalidScheduleExpression()
        if not self.low <= number <= self.high:
            raise InvalidScheduleExpression()
        return number

    def parse(self, text: str) -> frozenset[int]:
        """``*``, ``a``, ``a-b``, ``*/s``, ``a/s``, ``a-b/s``, joined by commas."""
        values: set[int] = set()
        for item in text.split(","):
            base, slash, step_text = item.partition("/")
            if slash:
                if not self.steps or not (step_text.isascii() and step_text.isdigit()):
                    raise InvalidScheduleExpression()
                step = int(step_text)
                if not 1 <= step <= self.high:
                    raise InvalidScheduleExpression()
            else:
                step = 1
            if base == "*":
                start, end = self.low, self.high
            elif "-" in base:
                first, _, last = base.partition("-")
                start, end = self.value(first), self.value(last)
                if start > end:
                    raise InvalidScheduleExpression()
            else:
                start = self.value(base)
                end = self.high if slash else start
            values.update(range(start, end + 1, step))
        return frozenset(values)


_MINUTES: Final = _Field(0, 59, {}, True)
_HOURS: Final = _Field(0, 23, {}, True)
_DAY_OF_MONTH: Final = _Field(1, 31, {}, True)
_MONTH: Final = _Field(1, 12, _MONTHS, True)
_DAY_OF_WEEK: Final = _Field(1, 7, _DAYS, False)
_YEAR: Final = _Field(_FIRST_YEAR, _LAST_YEAR, {}, True)

_NEAREST_WEEKDAY_RE: Final = re.compile(r"([0-9]{1,2})W")
_LAST_WEEKDAY_RE: Final = re.compile(r"([1-7]|[A-Za-z]{3})L")
_NTH_WEEKDAY_RE: Final = re.compile(r"([1-7]|[A-Za-z]{3})#([1-5])")


def _aws_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday ... 7 = Saturday, as AWS numbers days of the week."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


class _DayRule:
    """Which days of a given month fire: the day-of-month or the day-of-week rule."""

    __slots__ = ("kind", "value", "values")

    def __init__(self, kind: str, values: frozenset[int] = frozenset(), value: int = 0) -> None:
        self.kind, self.values, self.value = kind, values, value

    @classmethod
    def day_of_month(cls, text: str) -> _DayRule:
        if text == "L":
            return cls("last")
        if text == "LW":
            return cls("last-weekday")
        match = _NEAREST_WEEKDAY_RE.fullmatch(text)
        if match:
            return cls("nearest-weekday", value=_DAY_OF_MONTH.value(match.group(1)))
        return cls("days", _DAY_OF_MONTH.parse(text))

    @classmethod
    def day_of_week(cls, text: str) -> _DayRule:
        if text == "L":
            # Quartz: a bare L in day-of-week is its last day, Saturday.
            return cls("weekdays", frozenset({7}))
        match = _LAST_WEEKDAY_RE.fullmatch(text)
        if match:
            return cls("last-of-weekday", value=_DAY_OF_WEEK.value(match.group(1)))
        match = _NTH_WEEKDAY_RE.fullmatch(text)
        if match:
            weekday = _DAY_OF_WEEK.value(match.group(1))
            return cls("nth-weekday", frozenset({int(match.group(2))}), weekday)
        return cls("weekdays", _DAY_OF_WEEK.parse(text))

    def days(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        kind = self.kind
        if kind == "days":
            return sorted(day for day in self.values if day <= length)
        if kind == "last":
            return [length]
        if kind == "last-weekday":
            return [_nearest_weekday(year, month, length, length)]
        if kind == "nearest-weekday":
            if self.value > length:
                return []
            return [_nearest_weekday(year, month, self.value, length)]
        if kind == "weekdays":
            return [d for d in range(1, length + 1) if _aws_weekday(year, month, d) in self.values]
        matching = [d for d in range(1, length + 1) if _aws_weekday(year, month, d) == self.value]
        if kind == "last-of-weekday":
            return matching[-1:]
        nth = next(iter(self.values))  # nth-weekday: a fifth Friday exists only in some months
        return [matching[nth - 1]] if nth <= len(matching) else []


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """Quartz's ``W``: the weekday nearest ``day`` without leaving the month."""
    weekday = _aws_weekday(year, month, day)
    if weekday == 7:  # Saturday: Friday before, unless that is last month
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: Monday after, unless that is next month
        return day + 1 if day < length else day - 2
    return day


class _Cron:
    __slots__ = ("day_rule", "hours", "minutes", "months", "years")

    def __init__(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 6:
            raise InvalidScheduleExpression()
        minutes, hours, day_of_month, month, day_of_week, year = fields
        if (day_of_month == "?") == (day_of_week == "?"):
            raise InvalidScheduleExpression()  # exactly one of the day fields must be "?"
        if "?" in minutes + hours + month + year:
            raise InvalidScheduleExpression()
        self.minutes = sorted(_MINUTES.parse(minutes))
        self.hours = sorted(_HOURS.parse(hours))
        self.months = sorted(_MONTH.parse(month))
        self.years = sorted(_YEAR.parse(year))
        if day_of_month == "?":
            self.day_rule = _DayRule.day_of_week(day_of_week)
        else:
            self.day_rule = _DayRule.day_of_month(day_of_month)

    def next_at_or_after(self, start: datetime) -> datetime | None:
        """The first firing minute at or after ``start`` (a whole UTC minute)."""
        for year in _from(self.years, start.year):
            same_year = year == start.year
            for month in _from(self.months, start.month if same_year else 1):
                same_month = same_year and month == start.month
                for day in self.day_rule.days(year, month):
                    if same_month and day < start.day:
                        continue
                    same_day = same_month and day == start.day
                    for hour in _from(self.hours, start.hour if same_day else 0):
                        same_hour = same_day and hour == start.hour
                        for minute in _from(self.minutes, start.minute if same_hour else 0):
                            return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)
        return None


def _from(values: list[int], low: int) -> Iterable[int]:
    return (value for value in values if value >= low)


# -- public API ------------------------------------------------------------------------------------
class ScheduleExpression:
    """A validated ``rate(...)`` or ``cron(...)`` expression.

    A rate schedule fires every period counted from its anchor (the time the rule was created):
    at ``anchor + k * period`` for k = 1, 2, ...; without an anchor, :meth:`next_after` counts
    from the time it is given. A cron schedule fires at whole UTC minutes.
    """

    __slots__ = ("_anchor", "_cron", "_rate", "_text")

    def __init__(
        self, text: str, rate: float | None, cron: _Cron | None, anchor: datetime | None
    ) -> None:
        self._text, self._rate, self._cron, self._anchor = text, rate, cron, anchor

    @classmethod
    def parse(cls, text: str, anchor: datetime | None = None) -> ScheduleExpression:
        """Validate ``text``; raise :class:`InvalidScheduleExpression` as EventBridge does."""
        if anchor is not None:
            anchor = _utc(anchor, "anchor")
        if not isinstance(text, str) or len(text) > _MAX_LENGTH:
            raise InvalidScheduleExpression()
        match = _RATE_RE.fullmatch(text)
        if match:
            value, unit = int(match.group(1)), match.group(2)
            # AWS: singular unit for exactly 1, plural for anything else.
            if value < 1 or (value == 1) != (not unit.endswith("s")):
                raise InvalidScheduleExpression()
            return cls(text, float(value * _UNIT_SECONDS[unit.rstrip("s")]), None, anchor)
        match = _CRON_RE.fullmatch(text)
        if match:
            return cls(text, None, _Cron(match.group(1)), anchor)
        raise InvalidScheduleExpression()

    @property
    def text(self) -> str:
        return self._text

    @property
    def rate_seconds(self) -> float | None:
        """The period of a rate schedule in seconds; ``None`` for cron."""
        return self._rate

    @property
    def anchor(self) -> datetime | None:
        return self._anchor

    def with_anchor(self, anchor: datetime) -> ScheduleExpression:
        """The same schedule counted from ``anchor`` (when its rule was created)."""
        return ScheduleExpression(self._text, self._rate, self._cron, _utc(anchor, "anchor"))

    def next_after(self, t: datetime) -> datetime | None:
        """The first firing strictly after ``t`` (timezone-aware, answered in UTC), or ``None``
        when the schedule never fires again (a cron whose years are all past)."""
        t = _utc(t, "t")
        if self._rate is not None:
            period = timedelta(seconds=self._rate)
            anchor = self._anchor if self._anchor is not None else t
            if t < anchor + period:
                return anchor + period
            return anchor + period * ((t - anchor) // period + 1)
        assert self._cron is not None
        start = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if start.year > _LAST_YEAR:
            return None
        return self._cron.next_at_or_after(start)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ScheduleExpression)
            and other._text == self._text
            and other._anchor == self._anchor
        )

    def __hash__(self) -> int:
        return hash((self._text, self._anchor))

    def __repr__(self) -> str:
        if self._anchor is None:
            return f"ScheduleExpression({self._text!r})"
        return f"ScheduleExpression({self._text!r}, anchor={self._anchor.isoformat()})"


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(timezone.utc)
