"""CloudWatch statistics over periods, as GetMetricStatistics computes them.

Sources:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html ;
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html

Periods are aligned to epoch multiples of ``period`` (CloudWatch rounds StartTime down the same
way), StartTime is inclusive and EndTime exclusive, and a period without samples yields no
datapoint at all, exactly as CloudWatch returns none.

Percentiles use the **nearest-rank** rule: ``pNN`` is the smallest sample such that at least NN%
of the period's samples are less than or equal to it (rank ``ceil(NN/100 * n)``). CloudWatch
documents p95 as "95 percent of the data within the period is lower than this value" and does not
publish an interpolation; nearest rank always answers a value that was really observed (a p99
``Duration`` a learner can find in the logs), makes ``p0`` the Minimum and ``p100`` the Maximum, and
is computed exactly with decimal ranks (``p99.9`` of 1,000 samples is the 999th, not the 1,000th
through float rounding). As the API reference says, percentiles are not available for a period
holding a negative value: such a period has no ``pNN`` entry. ``tmNN`` (trimmed mean) averages the
samples whose nearest rank lies within the lowest NN%, i.e. it drops the highest (100 - NN)%.

Speed: the points are sorted once by time, then each period is a bisect slice of the sorted
values, so the cost is one sort plus C-level ``sum``/``min``/``max`` per period; percentiles sort
only their own period's slice.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final, NamedTuple

__all__ = [
    "MAX_DATAPOINTS",
    "SIMPLE_STATISTICS",
    "Datapoint",
    "Statistic",
    "StatisticsError",
    "aggregate",
    "parse_statistic",
]

#: The five statistics of GetMetricStatistics' ``Statistics`` member (its enum order).
SIMPLE_STATISTICS: Final = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
#: GetMetricStatistics answers at most this many datapoints per call.
MAX_DATAPOINTS: Final = 1440
_MAX_SIMPLE: Final = 5  # Statistics: max 5 members
_MAX_EXTENDED: Final = 10  # ExtendedStatistics: max 10 members
_HIGH_RESOLUTION_PERIODS: Final = frozenset({1, 5, 10, 20, 30})
_EXTENDED_RE: Final = re.compile(r"(p|tm)(100(?:\.0{1,10})?|[0-9]{1,2}(?:\.[0-9]{1,10})?)")
_PERCENT_100: Final = Decimal(100)


class StatisticsError(ValueError):
    """A request GetMetricStatistics refuses; ``code`` is CloudWatch's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Statistic(NamedTuple):
    """A validated statistic name: ``kind`` is ``"simple"``, ``"percentile"`` or
    ``"trimmed_mean"``; ``percent`` (exact) is set for the extended kinds."""

    name: str
    kind: str
    percent: Decimal | None = None

    @property
    def extended(self) -> bool:
        """True for names that go in ``ExtendedStatistics`` (percentiles, trimmed means)."""
        return self.kind != "simple"


class Datapoint(NamedTuple):
    """One period's statistics: ``timestamp`` is the period start in epoch seconds, ``values``
    maps each requested statistic name to its value (a percentile may be absent, see above)."""

    timestamp: float
    values: dict[str, float]

    def to_api(self) -> dict[str, Any]:
        """The GetMetricStatistics ``Datapoint`` shape (extended ones under
        ``ExtendedStatistics``), with ``Timestamp`` as an aware UTC datetime."""
        shaped: dict[str, Any] = {
            "Timestamp": datetime.fromtimestamp(self.timestamp, tz=timezone.utc)
        }
        extended = {}
        for name, value in self.values.items():
            if name in SIMPLE_STATISTICS:
                shaped[name] = value
            else:
                extended[name] = value
        if extended:
            shaped["ExtendedStatistics"] = extended
        return shaped


def parse_statistic(name: str) -> Statistic:
    """Validate one statistic name: the five simple ones, ``pNN``/``pNN.NN`` (p0 to p100) or
    ``tmNN``; anything else raises :class:`StatisticsError` naming the value."""
    if name in SIMPLE_STATISTICS:
        return Statistic(name, "simple")
    match = _EXTENDED_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        parameter = (
            "ExtendedStatistics"
            if isinstance(name, str) and name[:1] in ("p", "t")
            else "Statistics"
        )
        raise StatisticsError(
            "InvalidParameterValue", f"The value {name} for parameter {parameter} is not supported."
        )
    prefix, number = match.groups()
    kind = "percentile" if prefix == "p" else "trimmed_mean"
    return Statistic(name, kind, Decimal(number))


def aggregate(
    points: Sequence[tuple[float, float]],
    start: float,
    end: float,
    period: int,
    statistics: Sequence[str],
) -> list[Datapoint]:
    """Statistics of ``points`` ((epoch seconds, value) pairs, any order) for every period of
    ``[start, end)`` that holds at least one sample, oldest first.

    Unlike the API, simple and extended statistics may be mixed in one call (each list keeps its
    own limit: 5 and 10). Raises :class:`StatisticsError` as GetMetricStatistics would.
    """
    wanted = _validate(start, end, period, statistics)
    first = math.floor(start / period) * period
    ordered = sorted(points, key=itemgetter(0))  # stable, and linear on time-ordered input
    times = list(map(itemgetter(0), ordered))
    values = list(map(itemgetter(1), ordered))
    lo = bisect.bisect_left(times, first)
    hi = bisect.bisect_left(times, end)
    needs_sorted = any(stat.extended for stat in wanted)
    result: list[Datapoint] = []
    bucket_start = first
    while lo < hi:
        bucket_end = min(bucket_start + period, end)
        cut = bisect.bisect_left(times, bucket_end, lo, hi)
        if cut > lo:
            samples = values[lo:cut]
            result.append(Datapoint(float(bucket_start), _compute(samples, wanted, needs_sorted)))
            lo = cut
            bucket_start += period
        else:  # jump straight to the period of the next sample
            bucket_start = math.floor(times[lo] / period) * period
    return result


# -- internals -------------------------------------------------------------------------------
def _validate(start: float, end: float, period: int, statistics: Sequence[str]) -> list[Statistic]:
    if isinstance(period, bool) or not isinstance(period, int):
        raise StatisticsError(
            "InvalidParameterValue", f"The value {period} for parameter Period is not an integer."
        )
    if period < 1:
        raise StatisticsError(
            "InvalidParameterValue", "The parameter Period must be greater than 0."
        )
    if period not in _HIGH_RESOLUTION_PERIODS and period % 60:
        raise StatisticsError(
            "InvalidParameterValue", "The parameter Period must be a multiple of 60."
        )
    if not start < end:
        raise StatisticsError(
            "InvalidParameterValue",
            "The parameter StartTime must be less than the parameter EndTime.",
        )
    if not statistics:
        raise StatisticsError(
            "InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics"
        )
    wanted = [parse_statistic(name) for name in dict.fromkeys(statistics)]
    for extended, limit, member in (
        (False, _MAX_SIMPLE, "statistics"),
        (True, _MAX_EXTENDED, "extendedStatistics"),
    ):
        names = [stat.name for stat in wanted if stat.extended is extended]
        if len(names) > limit:
            raise StatisticsError(
                "ValidationError",
                f"1 validation error detected: Value '[{', '.join(names)}]' at '{member}' failed "
                f"to satisfy constraint: Member must have length less than or equal to {limit}",
            )
    requested = math.ceil((end - math.floor(start / period) * period) / period)
    if requested > MAX_DATAPOINTS:
        raise StatisticsError(
            "InvalidParameterCombination",
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range.",
        )
    return wanted


def _compute(samples: list[float], wanted: list[Statistic], needs_sorted: bool) -> dict[str, float]:
    count = len(samples)
    total = sum(samples)
    ordered = sorted(samples) if needs_sorted else samples
    out: dict[str, float] = {}
    for stat in wanted:
        kind = stat.kind
        if kind == "simple":
            name = stat.name
            if name == "Sum":
                out[name] = total
            elif name == "Average":
                out[name] = total / count
            elif name == "SampleCount":
                out[name] = float(count)
            elif name == "Minimum":
                out[name] = float(ordered[0] if needs_sorted else min(samples))
            else:
                out[name] = float(ordered[-1] if needs_sorted else max(samples))
            continue
        assert stat.percent is not None
        rank = math.ceil(stat.percent * count / _PERCENT_100)  # exact: Decimal arithmetic
        if kind == "percentile":
            if ordered[0] >= 0:  # no percentiles over negative values (API reference)
                out[stat.name] = float(ordered[max(rank, 1) - 1])
        elif rank:  # trimmed mean of the lowest `rank` samples; tm0 keeps none -> no value
            out[stat.name] = sum(ordered[:rank]) / rank
    return out
