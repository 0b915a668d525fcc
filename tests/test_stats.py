"""CloudWatch statistics over periods (kernel_runtime.observe._stats)."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from kernel_runtime.observe._stats import (
    MAX_DATAPOINTS,
    Datapoint,
    Statistic,
    StatisticsError,
    aggregate,
    parse_statistic,
)

SIMPLE = ["Sum", "Average", "Minimum", "Maximum", "SampleCount"]
T0 = 1_800_000_000  # a multiple of 60 and of 300


def test_simple_statistics_per_period_and_empty_periods_omitted() -> None:
    points = [(T0 + 5, 2.0), (T0 + 59, 4.0), (T0 + 61, 10.0), (T0 + 185, 1.0), (T0 + 186, 3.0)]
    result = aggregate(points, T0, T0 + 240, 60, SIMPLE)
    assert [dp.timestamp for dp in result] == [T0, T0 + 60, T0 + 180]  # T0+120 had no samples
    first, second, fourth = (dp.values for dp in result)
    assert first == {
        "Sum": 6.0,
        "Average": 3.0,
        "Minimum": 2.0,
        "Maximum": 4.0,
        "SampleCount": 2.0,
    }
    assert second == {
        "Sum": 10.0,
        "Average": 10.0,
        "Minimum": 10.0,
        "Maximum": 10.0,
        "SampleCount": 1.0,
    }
    assert fourth["Sum"] == 4.0 and fourth["SampleCount"] == 2.0


def test_start_inclusive_end_exclusive_and_epoch_aligned_periods() -> None:
    points = [(T0 - 1, 100.0), (T0, 1.0), (T0 + 299, 2.0), (T0 + 300, 3.0), (T0 + 600, 4.0)]
    result = aggregate(points, T0, T0 + 600, 300, ["Sum"])
    assert [(dp.timestamp, dp.values["Sum"]) for dp in result] == [(T0, 3.0), (T0 + 300, 3.0)]


def test_start_is_rounded_down_to_the_period_like_cloudwatch() -> None:
    points = [(T0 + 10, 1.0), (T0 + 50, 2.0), (T0 + 70, 4.0)]
    result = aggregate(points, T0 + 30, T0 + 120, 60, ["Sum"])
    assert [(dp.timestamp, dp.values["Sum"]) for dp in result] == [(T0, 3.0), (T0 + 60, 4.0)]


def test_order_of_the_input_does_not_matter() -> None:
    rng = random.Random(7)
    points = [(T0 + rng.uniform(0, 600), rng.uniform(0, 50)) for _ in range(2_000)]
    shuffled = points[:]
    rng.shuffle(shuffled)
    stats = [*SIMPLE, "p90", "tm80"]
    assert aggregate(shuffled, T0, T0 + 600, 60, stats) == aggregate(
        sorted(points), T0, T0 + 600, 60, stats
    )


@pytest.mark.parametrize(
    ("values", "name", "expected"),
    [
        (range(1, 101), "p99", 99.0),
        (range(1, 101), "p50", 50.0),
        (range(1, 101), "p0", 1.0),  # p0 is the Minimum
        (range(1, 101), "p100", 100.0),  # p100 is the Maximum
        (range(1, 1001), "p99.9", 999.0),  # exact rank, no float rounding up to 1000
        (range(1, 11), "p95", 10.0),  # rank ceil(9.5) = 10
        (range(1, 11), "p90", 9.0),
        ([7.0], "p1", 7.0),
        ([3.0, 1.0, 2.0], "p50", 2.0),
    ],
)
def test_percentiles_use_the_nearest_rank(values, name: str, expected: float) -> None:
    points = [(T0 + i % 60, float(v)) for i, v in enumerate(values)]
    (datapoint,) = aggregate(points, T0, T0 + 60, 60, [name])
    assert datapoint.values == {name: expected}


def test_no_percentiles_for_a_period_with_negative_values() -> None:
    points = [(T0 + 1, -1.0), (T0 + 2, 5.0), (T0 + 61, 2.0)]
    first, second = aggregate(points, T0, T0 + 120, 60, ["p50", "Sum"])
    assert first.values == {"Sum": 4.0}
    assert second.values == {"p50": 2.0, "Sum": 2.0}


def test_trimmed_mean_drops_the_highest_values() -> None:
    points = [(T0 + i, float(i + 1)) for i in range(10)]  # 1 .. 10
    (datapoint,) = aggregate(points, T0, T0 + 60, 60, ["tm90", "tm50", "tm100", "tm0", "Average"])
    assert datapoint.values["tm90"] == 5.0  # mean of 1..9
    assert datapoint.values["tm50"] == 3.0  # mean of 1..5
    assert datapoint.values["tm100"] == datapoint.values["Average"] == 5.5
    assert "tm0" not in datapoint.values  # keeps no sample: no value


@pytest.mark.parametrize(
    ("name", "kind", "percent"),
    [
        ("Sum", "simple", None),
        ("SampleCount", "simple", None),
        ("p0", "percentile", Decimal("0")),
        ("p99", "percentile", Decimal("99")),
        ("p99.9", "percentile", Decimal("99.9")),
        ("p99.99", "percentile", Decimal("99.99")),
        ("p100", "percentile", Decimal("100")),
        ("p100.0", "percentile", Decimal("100.0")),
        ("tm99", "trimmed_mean", Decimal("99")),
    ],
)
def test_parse_statistic_accepts(name: str, kind: str, percent: Decimal | None) -> None:
    parsed = parse_statistic(name)
    assert parsed == Statistic(name, kind, percent)
    assert parsed.extended is (kind != "simple")


@pytest.mark.parametrize(
    ("name", "parameter"),
    [
        ("p101", "ExtendedStatistics"),
        ("p100.1", "ExtendedStatistics"),
        ("p", "ExtendedStatistics"),
        ("p-1", "ExtendedStatistics"),
        ("p99.", "ExtendedStatistics"),
        ("p1.12345678901", "ExtendedStatistics"),  # more than 10 decimals
        ("tm", "ExtendedStatistics"),
        ("Median", "Statistics"),
        ("P99", "Statistics"),
        ("sum", "Statistics"),
    ],
)
def test_parse_statistic_refuses(name: str, parameter: str) -> None:
    with pytest.raises(StatisticsError) as caught:
        parse_statistic(name)
    assert caught.value.code == "InvalidParameterValue"
    assert str(caught.value) == f"The value {name} for parameter {parameter} is not supported."
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("period", [1, 5, 10, 20, 30, 60, 120, 300, 3600])
def test_valid_periods(period: int) -> None:
    assert aggregate([(T0, 1.0)], T0, T0 + period, period, ["Sum"])[0].values == {"Sum": 1.0}


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (0, "The parameter Period must be greater than 0."),
        (-60, "The parameter Period must be greater than 0."),
        (7, "The parameter Period must be a multiple of 60."),
        (45, "The parameter Period must be a multiple of 60."),
        (90, "The parameter Period must be a multiple of 60."),
    ],
)
def test_invalid_periods(period: int, message: str) -> None:
    with pytest.raises(StatisticsError) as caught:
        aggregate([], T0, T0 + 3600, period, ["Sum"])
    assert (caught.value.code, caught.value.message) == ("InvalidParameterValue", message)


@pytest.mark.parametrize(
    ("start", "end", "period", "statistics", "code", "message"),
    [
        (
            T0,
            T0,
            60,
            ["Sum"],
            "InvalidParameterValue",
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            T0,
            T0 + 1441 * 60,
            60,
            ["Sum"],
            "InvalidParameterCombination",
            "You have requested up to 1,441 datapoints, which exceeds the limit of 1,440. You "
            "may reduce the datapoints requested by increasing Period, or decreasing the time "
            "range.",
        ),
        (
            T0,
            T0 + 60,
            60,
            [],
            "InvalidParameterCombination",
            "Must specify either Statistics or ExtendedStatistics",
        ),
        (
            T0,
            T0 + 60,
            60,
            [*SIMPLE, "Median"],
            "InvalidParameterValue",
            "The value Median for parameter Statistics is not supported.",
        ),
        (
            T0,
            T0 + 60,
            60,
            [f"p{n}" for n in range(11)],
            "ValidationError",
            "1 validation error detected: Value '[p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10]' "
            "at 'extendedStatistics' failed to satisfy constraint: Member must have length "
            "less than or equal to 10",
        ),
    ],
)
def test_requests_cloudwatch_refuses(start, end, period, statistics, code, message) -> None:
    with pytest.raises(StatisticsError) as caught:
        aggregate([], start, end, period, statistics)
    assert (caught.value.code, str(caught.value)) == (code, message)


def test_the_datapoint_limit_counts_aligned_periods() -> None:
    assert aggregate([], T0, T0 + MAX_DATAPOINTS * 60, 60, ["Sum"]) == []
    with pytest.raises(StatisticsError, match="up to 1,441 datapoints"):
        aggregate([], T0 + 30, T0 + MAX_DATAPOINTS * 60 + 1, 60, ["Sum"])


def test_repeated_names_count_once() -> None:
    (datapoint,) = aggregate([(T0, 2.0)], T0, T0 + 60, 60, [*SIMPLE, "Sum", "p50", "p50"])
    assert set(datapoint.values) == {*SIMPLE, "p50"}


def test_datapoint_to_api_has_the_get_metric_statistics_shape() -> None:
    datapoint = Datapoint(float(T0), {"Sum": 3.0, "SampleCount": 2.0, "p99": 2.0, "tm90": 1.0})
    assert datapoint.to_api() == {
        "Timestamp": datetime.fromtimestamp(T0, tz=timezone.utc),
        "Sum": 3.0,
        "SampleCount": 2.0,
        "ExtendedStatistics": {"p99": 2.0, "tm90": 1.0},
    }
    assert "ExtendedStatistics" not in Datapoint(0.0, {"Sum": 1.0}).to_api()


def test_100k_points_over_60_periods_all_land_in_a_period() -> None:
    """Every point counted once (its time, 100 ms target, is a row of benchmarks/run.py:
    ``bench_observe.bench_statistics``; a timed test here failed on a busy CI machine)."""
    rng = random.Random(1)
    points = [(T0 + rng.uniform(0, 3600), rng.uniform(0, 1000)) for _ in range(100_000)]
    result = aggregate(points, T0, T0 + 3600, 60, [*SIMPLE, "p99"])
    assert len(result) == 60
    assert sum(dp.values["SampleCount"] for dp in result) == 100_000
    assert min(dp.values["Minimum"] for dp in result) >= 0
    assert max(dp.values["Maximum"] for dp in result) <= 1000
