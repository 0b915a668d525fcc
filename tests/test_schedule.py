"""EventBridge schedule expressions (kernel_runtime.sources._schedule).

Expected firing times are worked out by hand from the calendar (all UTC), so a wrong field
walk, a wrong weekday numbering (1 = Sunday) or a wrong L/W/# rule shows up as a wrong date.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from kernel_runtime.sources._schedule import InvalidScheduleExpression, ScheduleExpression

UTC = timezone.utc


def _at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- validation ------------------------------------------------------------------------------------
INVALID = [
    # rate: positive integer, singular unit only for 1
    "rate(1 minutes)",
    "rate(5 minute)",
    "rate(1 hours)",
    "rate(2 day)",
    "rate(0 minutes)",
    "rate(-5 minutes)",
    "rate(1.5 hours)",
    "rate(5 seconds)",
    "rate(5 weeks)",
    "rate(5minutes)",
    "rate(5  minutes)",
    "rate( 5 minutes)",
    "rate(five minutes)",
    "rate(5 Minutes)",
    "RATE(5 minutes)",
    "rate(5 minutes",
    "rate(٥ minutes)",
    # cron: shape and the "?" rule
    "",
    "cron()",
    "cron(0 12 * * ?)",
    "cron(0 12 * * ? * *)",
    "cron(0 12 * * * *)",
    "cron(0 12 ? * ? *)",
    "cron(0 12 1 * MON *)",
    "cron(? 12 1 * ? *)",
    "cron(0 12 1 ? ? *)",
    "cron 0 12 * * ? *",
    "cron(0 12 * * ? *) ",
    "at(2024-01-01T00:00:00)",
    # ranges of each field
    "cron(60 * * * ? *)",
    "cron(-1 * * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 0 0 * ? *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 1 0 ? *)",
    "cron(0 0 1 13 ? *)",
    "cron(0 0 ? * 0 *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 1 * ? 1969)",
    "cron(0 0 1 * ? 2200)",
    # names
    "cron(0 0 1 JANUARY ? *)",
    "cron(0 0 1 FOO ? *)",
    "cron(0 0 ? * SUNDAY *)",
    "cron(0 0 1 MON ? *)",
    "cron(0 0 ? * JAN *)",
    # lists, ranges, steps
    "cron(1,,2 * * * ? *)",
    "cron(5-1 * * * ? *)",
    "cron(0 0 1 11-2 ? *)",
    "cron(0 0 ? * FRI-MON *)",
    "cron(0/0 * * * ? *)",
    "cron(0/60 * * * ? *)",
    "cron(*/x * * * ? *)",
    "cron(0 0 ? * */2 *)",
    "cron(0 0 ? * MON/2 *)",
    "cron(1-2-3 * * * ? *)",
    "cron(a * * * ? *)",
    # L, W, #
    "cron(0 0 L * ? 2024-L)",
    "cron(0 0 1,L * ? *)",
    "cron(0 0 L-2 * ? *)",
    "cron(0 0 32W * ? *)",
    "cron(0 0 0W * ? *)",
    "cron(0 0 1W,15W * ? *)",
    "cron(0 0 W * ? *)",
    "cron(0 0 ? * 8L *)",
    "cron(0 0 ? * 3#6 *)",
    "cron(0 0 ? * 3#0 *)",
    "cron(0 0 ? * 8#1 *)",
    "cron(0 0 ? * 3#2,4#1 *)",
    "cron(0 0 15W ? ? *)",
    "cron(L 0 1 * ? *)",
    "cron(0 0 1 L ? *)",
    "cron(0 0 ? * 5W *)",
    "cron(0 0 1# * ? *)",
    "cron(0 0 1 * ? " + "1970," * 50 + "1971)",  # longer than 256 characters
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_expressions(text: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as caught:
        ScheduleExpression.parse(text)
    assert str(caught.value) == "Parameter ScheduleExpression is not valid."
    assert caught.value.code == "ValidationException"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", [None, 5, b"rate(5 minutes)"])
def test_non_string_expression(text: object) -> None:
    with pytest.raises(InvalidScheduleExpression):
        ScheduleExpression.parse(text)  # type: ignore[arg-type]


VALID = [
    "rate(1 minute)",
    "rate(1 hour)",
    "rate(1 day)",
    "rate(15 minutes)",
    "rate(2 hours)",
    "rate(7 days)",
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(0/10 * ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(15 10 ? * 6L 2002-2005)",
    "cron(0 0 L * ? *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 15W * ? *)",
    "cron(0 0 ? * L *)",
    "cron(0 0 1 jan,Jul ? *)",
    "cron(0 0 ? * sun *)",
    "cron(0 0 ? * FRI#5 *)",
    "cron(0 0 ? * FRIL *)",
    "cron(0 0 1 * ? 1970,2199)",
    "cron(0 0 1 1 ? */10)",
    "cron(0  0\t1 * ? *)",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_expressions_keep_their_text(text: str) -> None:
    expression = ScheduleExpression.parse(text)
    assert expression.text == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(1 hour)", 3600.0),
        ("rate(12 hours)", 43200.0),
        ("rate(1 day)", 86400.0),
        ("rate(3 days)", 259200.0),
        ("cron(0 12 * * ? *)", None),
    ],
)
def test_rate_seconds(text: str, seconds: float | None) -> None:
    assert ScheduleExpression.parse(text).rate_seconds == seconds


# -- rate anchoring ----------------------------------------------------------------------------
def test_rate_fires_every_period_from_its_anchor() -> None:
    anchor = _at(2024, 5, 1, 12, 0, 30)
    expression = ScheduleExpression.parse("rate(5 minutes)", anchor=anchor)
    assert expression.anchor == anchor
    # Before the anchor and during the first period: the first firing, one period in.
    assert expression.next_after(_at(2024, 4, 1)) == _at(2024, 5, 1, 12, 5, 30)
    assert expression.next_after(anchor) == _at(2024, 5, 1, 12, 5, 30)
    # Exactly on a firing: strictly after it.
    assert expression.next_after(_at(2024, 5, 1, 12, 5, 30)) == _at(2024, 5, 1, 12, 10, 30)
    assert expression.next_after(_at(2024, 5, 1, 12, 7)) == _at(2024, 5, 1, 12, 10, 30)
    # Far ahead: still on the anchor's grid, not rounded to whole minutes.
    assert expression.next_after(_at(2025, 1, 1)) == _at(2025, 1, 1, 0, 0, 30)


def test_rate_walks_a_sequence() -> None:
    anchor = _at(2024, 2, 28, 23, 0)
    expression = ScheduleExpression.parse("rate(1 day)").with_anchor(anchor)
    fired = []
    t = anchor
    for _ in range(3):
        nxt = expression.next_after(t)
        assert nxt is not None
        fired.append(nxt)
        t = nxt
    assert fired == [_at(2024, 2, 29, 23), _at(2024, 3, 1, 23), _at(2024, 3, 2, 23)]


def test_rate_without_anchor_counts_from_the_time_given() -> None:
    expression = ScheduleExpression.parse("rate(2 hours)")
    assert expression.anchor is None
    assert expression.next_after(_at(2024, 1, 1, 9, 15)) == _at(2024, 1, 1, 11, 15)


def test_anchor_and_times_are_utc_aware() -> None:
    plus_two = timezone(timedelta(hours=2))
    anchor = datetime(2024, 1, 1, 14, 0, tzinfo=plus_two)  # 12:00 UTC
    expression = ScheduleExpression.parse("rate(1 hour)", anchor=anchor)
    assert expression.anchor == _at(2024, 1, 1, 12)
    assert expression.anchor is not None and expression.anchor.tzinfo == UTC
    nxt = expression.next_after(datetime(2024, 1, 1, 15, 30, tzinfo=plus_two))
    assert nxt == _at(2024, 1, 1, 14)
    assert nxt is not None and nxt.tzinfo == UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        expression.next_after(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ScheduleExpression.parse("rate(1 hour)", anchor=datetime(2024, 1, 1))


def test_equality_includes_the_anchor() -> None:
    plain = ScheduleExpression.parse("rate(5 minutes)")
    assert plain == ScheduleExpression.parse("rate(5 minutes)")
    anchored = plain.with_anchor(_at(2024, 1, 1))
    assert anchored != plain
    assert hash(anchored) == hash(plain.with_anchor(_at(2024, 1, 1)))
    assert "rate(5 minutes)" in repr(anchored) and "2024-01-01" in repr(anchored)


# -- cron ------------------------------------------------------------------------------------------
NEXT = [
    # (expression, after, expected) — calendars: 2024 is a leap year, 1 Feb 2024 is a Thursday
    ("cron(0 10 * * ? *)", _at(2024, 1, 1, 9, 59), _at(2024, 1, 1, 10)),
    ("cron(0 10 * * ? *)", _at(2024, 1, 1, 10), _at(2024, 1, 2, 10)),
    ("cron(0 10 * * ? *)", _at(2024, 1, 1, 10, 0, 1), _at(2024, 1, 2, 10)),
    ("cron(0 10 * * ? *)", _at(2024, 12, 31, 11), _at(2025, 1, 1, 10)),
    ("cron(* * * * ? *)", _at(2024, 1, 1, 0, 0, 59), _at(2024, 1, 1, 0, 1)),
    ("cron(15 12 * * ? *)", _at(2024, 3, 3, 12, 15), _at(2024, 3, 4, 12, 15)),
    ("cron(0/15 * * * ? *)", _at(2024, 1, 1, 10, 14), _at(2024, 1, 1, 10, 15)),
    ("cron(0/15 * * * ? *)", _at(2024, 1, 1, 10, 45), _at(2024, 1, 1, 11)),
    ("cron(*/20 * * * ? *)", _at(2024, 1, 1, 23, 41), _at(2024, 1, 2)),
    ("cron(5-10/2 3 * * ? *)", _at(2024, 1, 1, 3, 7), _at(2024, 1, 1, 3, 9)),
    ("cron(5-10/2 3 * * ? *)", _at(2024, 1, 1, 3, 9), _at(2024, 1, 2, 3, 5)),
    ("cron(5,55 1,13 * * ? *)", _at(2024, 1, 1, 1, 6), _at(2024, 1, 1, 1, 55)),
    ("cron(5,55 1,13 * * ? *)", _at(2024, 1, 1, 1, 55), _at(2024, 1, 1, 13, 5)),
    # day of week: 1 = SUN ... 7 = SAT; 6 Jan 2024 is a Saturday
    ("cron(0 18 ? * MON-FRI *)", _at(2024, 1, 5, 18), _at(2024, 1, 8, 18)),
    ("cron(0 18 ? * 2-6 *)", _at(2024, 1, 5, 18), _at(2024, 1, 8, 18)),
    ("cron(0 0 ? * 1 *)", _at(2024, 1, 1), _at(2024, 1, 7)),
    ("cron(0 0 ? * SUN,SAT *)", _at(2024, 1, 1), _at(2024, 1, 6)),
    ("cron(0 0 ? * L *)", _at(2024, 1, 1), _at(2024, 1, 6)),
    # day of month and month
    ("cron(0 8 1 * ? *)", _at(2024, 1, 15), _at(2024, 2, 1, 8)),
    ("cron(0 0 31 * ? *)", _at(2024, 4, 1), _at(2024, 5, 31)),
    ("cron(0 0 1 JAN,JUL ? *)", _at(2024, 1, 1), _at(2024, 7, 1)),
    ("cron(0 0 1 */4 ? *)", _at(2024, 1, 1), _at(2024, 5, 1)),
    # leap years
    ("cron(0 0 29 2 ? *)", _at(2024, 3, 1), _at(2028, 2, 29)),
    ("cron(0 0 29 2 ? *)", _at(2099, 3, 1), _at(2104, 2, 29)),  # 2100 is not a leap year
    ("cron(0 0 L 2 ? *)", _at(2023, 1, 1), _at(2023, 2, 28)),
    ("cron(0 0 L 2 ? *)", _at(2024, 1, 1), _at(2024, 2, 29)),
    # L: last day of the month
    ("cron(0 8 L * ? *)", _at(2024, 4, 15), _at(2024, 4, 30, 8)),
    ("cron(0 8 L * ? *)", _at(2024, 4, 30, 8), _at(2024, 5, 31, 8)),
    # W: nearest weekday, never leaving the month
    ("cron(0 0 15W * ? *)", _at(2024, 6, 1), _at(2024, 6, 14)),  # 15 Jun 2024 is a Saturday
    ("cron(0 0 15W * ? *)", _at(2024, 9, 1), _at(2024, 9, 16)),  # 15 Sep 2024 is a Sunday
    ("cron(0 0 15W * ? *)", _at(2024, 5, 1), _at(2024, 5, 15)),  # a Wednesday: itself
    ("cron(0 0 1W * ? *)", _at(2024, 5, 31), _at(2024, 6, 3)),  # 1 Jun is a Saturday: Monday 3rd
    ("cron(0 0 31W * ? *)", _at(2024, 3, 1), _at(2024, 3, 29)),  # 31 Mar is a Sunday: Friday 29th
    ("cron(0 0 30W * ? *)", _at(2024, 2, 1), _at(2024, 3, 29)),  # no 30 Feb; 30 Mar is a Sat
    ("cron(0 0 LW * ? *)", _at(2024, 3, 1), _at(2024, 3, 29)),
    ("cron(0 0 LW * ? *)", _at(2024, 2, 1), _at(2024, 2, 29)),  # a Thursday
    ("cron(0 0 LW * ? *)", _at(2024, 8, 1), _at(2024, 8, 30)),  # 31 Aug is a Saturday
    # nL: last given weekday of the month
    ("cron(15 10 ? * 6L *)", _at(2024, 2, 1), _at(2024, 2, 23, 10, 15)),
    ("cron(15 10 ? * FRIL *)", _at(2024, 2, 23, 10, 15), _at(2024, 3, 29, 10, 15)),
    ("cron(0 0 ? * 1L *)", _at(2024, 6, 1), _at(2024, 6, 30)),
    # n#k: k-th given weekday; a fifth one only in some months
    ("cron(0 9 ? * 2#1 *)", _at(2024, 1, 1, 9), _at(2024, 2, 5, 9)),
    ("cron(0 9 ? * MON#1 *)", _at(2024, 1, 1, 8), _at(2024, 1, 1, 9)),
    ("cron(0 0 ? * 6#5 *)", _at(2024, 2, 1), _at(2024, 3, 29)),  # Feb 2024 has four Fridays
    ("cron(0 0 ? * 5#5 *)", _at(2024, 2, 1), _at(2024, 2, 29)),  # but five Thursdays
    ("cron(0 0 ? 2 2#5 *)", _at(2024, 1, 1), _at(2044, 2, 29)),  # Monday 29 Feb: next in 2044
    # years
    ("cron(0 0 1 1 ? 2030)", _at(2024, 6, 1), _at(2030, 1, 1)),
    ("cron(0 0 1 1 ? 2020)", _at(2024, 6, 1), None),
    ("cron(0 0 1 1 ? 2030)", _at(2030, 1, 1), None),
    ("cron(15 10 ? * 6L 2002-2005)", _at(2024, 1, 1), None),
    ("cron(0 0 31 12 ? 2199)", _at(2199, 12, 31), None),
    ("cron(0 0 1 1 ? *)", _at(2199, 1, 1), None),
    ("cron(0 0 1 1 ? *)", _at(2250, 1, 1), None),
    ("cron(0 0 1 1 ? */10)", _at(2024, 1, 1), _at(2030, 1, 1)),
    # never fires: 31 February, 30 February
    ("cron(0 0 31 2 ? *)", _at(2024, 1, 1), None),
    ("cron(0 0 30 FEB ? *)", _at(2024, 1, 1), None),
]


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    NEXT,
    ids=[f"{text}@{after:%Y-%m-%dT%H:%M:%S}" for text, after, _ in NEXT],
)
def test_cron_next_after(text: str, after: datetime, expected: datetime | None) -> None:
    nxt = ScheduleExpression.parse(text).next_after(after)
    assert nxt == expected
    if nxt is not None:
        assert nxt > after
        assert nxt.tzinfo == UTC and nxt.second == 0 and nxt.microsecond == 0


def test_cron_sequence_of_last_fridays() -> None:
    expression = ScheduleExpression.parse("cron(0 12 ? * 6L *)")
    t = _at(2024, 1, 1)
    fired = []
    for _ in range(6):
        nxt = expression.next_after(t)
        assert nxt is not None
        fired.append(nxt.date().isoformat())
        t = nxt
    assert fired == [
        "2024-01-26",
        "2024-02-23",
        "2024-03-29",
        "2024-04-26",
        "2024-05-31",
        "2024-06-28",
    ]


def test_cron_ignores_the_anchor() -> None:
    anchor = _at(2024, 1, 1, 0, 7)
    expression = ScheduleExpression.parse("cron(0 * * * ? *)", anchor=anchor)
    assert expression.next_after(_at(2024, 1, 1, 0, 30)) == _at(2024, 1, 1, 1)


def test_next_after_skips_by_field_not_by_minute() -> None:
    # Each of these would need millions of minute steps to answer; field skipping is instant.
    slow = [
        "cron(0 0 31 2 ? *)",
        "cron(0 0 ? 2 2#5 *)",
        "cron(59 23 31 12 ? 2199)",
        "cron(0 0 1 1 ? 2020)",
    ]
    started = time.perf_counter()
    for text in slow:
        ScheduleExpression.parse(text).next_after(_at(1970, 1, 1))
    assert time.perf_counter() - started < 0.5
