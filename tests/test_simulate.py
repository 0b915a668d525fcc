"""The simulator: small scenarios whose answers are known."""

from __future__ import annotations

import math

import pytest

from kernel_runtime.service._policy import Limits
from kernel_runtime.simulate import (
    SimulationResult,
    Traffic,
    burst,
    constant,
    empirical,
    from_list,
    ramp,
    simulate,
)

LONG = 1000.0  # a duration longer than any test run: environments never come back
SMALL = Limits(account_concurrency=20, unreserved_minimum=0)


def run(traffic: Traffic, **kw) -> SimulationResult:
    kw.setdefault("duration_s", 2.0)
    kw.setdefault("cold_start_s", 0.5)
    kw.setdefault("warm_duration_s", LONG)
    kw.setdefault("arrivals", "even")
    return simulate(traffic, **kw)


def test_traffic_patterns() -> None:
    assert constant(5).rps(123, 1000) == 5
    assert ramp(0, 100).rps(50, 100) == 50
    assert ramp(0, 100, over_s=10).rps(50, 100) == 100
    b = burst(1, 99, at_s=10, for_s=5)
    assert [b.rps(t, 100) for t in (9.9, 10, 14.9, 15)] == [1, 99, 99, 1]
    f = from_list([3, 7])
    assert [f.rps(t, 100) for t in (0.5, 1.5, 2.5)] == [3, 7, 0]
    assert (constant(1) + constant(2)).rps(0, 1) == 3


def test_burst_above_the_account_limit() -> None:
    r = run(from_list([50]), limits=SMALL)
    assert r.totals["requests"] == 50
    assert r.totals["cold_starts"] == 20
    assert r.totals["throttles"] == 30
    assert r.totals["throttles_unreserved"] == 30
    assert r.totals["max_environments"] == 20
    assert r.totals["max_concurrency"] == 20
    assert r.throttles == [30, 0] and r.environments == [20, 20]


def test_reserved_concurrency_caps() -> None:
    r = run(from_list([50]), reserved=20)
    assert (r.totals["cold_starts"], r.totals["throttles_reserved"]) == (20, 30)
    r = run(from_list([50]), reserved=0)
    assert (r.totals["invocations"], r.totals["throttles_reserved"]) == (0, 50)


def test_reserved_validation_uses_the_aws_message() -> None:
    with pytest.raises(ValueError, match=r"below its minimum value of \[100\]"):
        run(constant(1), reserved=901)


def test_provisioned_absorbs_first_n_without_cold_starts() -> None:
    r = run(from_list([10]), provisioned=10)
    assert r.totals["provisioned"] == 10
    assert r.totals["cold_starts"] == 0 and r.totals["spillover"] == 0
    assert r.totals["max_environments"] == 10
    r = run(from_list([15]), provisioned=10)
    assert (r.totals["provisioned"], r.totals["spillover"], r.totals["cold_starts"]) == (10, 5, 5)
    assert r.totals["max_environments"] == 15


def test_provisioned_counts_against_reserved() -> None:
    r = run(from_list([30]), provisioned=10, reserved=20)
    assert (r.totals["provisioned"], r.totals["cold_starts"]) == (10, 10)
    assert r.totals["throttles_reserved"] == 10


def test_scaling_rate_limits_new_environments_per_10_s() -> None:
    lim = Limits(account_concurrency=1_000_000)
    r = run(constant(5_000), duration_s=30, limits=lim)
    # A full bucket of 1,000 at once, then 100 per second (1,000 per 10 s).
    assert r.environments[0] == pytest.approx(1000 + 100, abs=2)  # refilled during the 1st s
    assert r.environments[10] == pytest.approx(2100, abs=1)
    assert r.environments[29] == pytest.approx(3_999, abs=2)
    assert r.totals["throttles_scaling"] == r.totals["throttles"] > 0


def test_custom_scaling_rate() -> None:
    lim = Limits(account_concurrency=10_000, unreserved_minimum=0, scale_rate=10)
    r = run(constant(100), duration_s=20, limits=lim)
    assert r.totals["cold_starts"] == pytest.approx(10 + 20, abs=1)


def test_warm_reuse_and_littles_law() -> None:
    lim = Limits(account_concurrency=10_000)
    r = run(constant(1000), duration_s=20, warm_duration_s=0.2, cold_start_s=0.3, limits=lim)
    assert r.concurrency[-1] == 200  # rps × duration
    assert r.totals["throttles"] == 0
    assert r.totals["cold_starts"] < 600  # the first half second, then reuse
    assert r.invocations[-1] == 1000
    assert r.cold_starts[-1] == 0


def test_latency_includes_init_for_cold_starts() -> None:
    r = run(from_list([1]), warm_duration_s=0.1, cold_start_s=0.4, duration_s=1)
    assert r.p50_ms == [pytest.approx(500.0)]
    r = run(constant(10), warm_duration_s=0.1, cold_start_s=0.4, duration_s=10)
    assert r.p50_ms[-1] == pytest.approx(100.0)
    assert r.p99_ms[0] == pytest.approx(500.0)  # the first second has the cold starts
    assert r.totals["p50_ms"] == pytest.approx(100.0)


def test_empty_buckets_have_nan_latency() -> None:
    r = run(from_list([0, 1]), warm_duration_s=0.1)
    assert math.isnan(r.p50_ms[0]) and not math.isnan(r.p50_ms[1])


def test_idle_environments_are_reaped() -> None:
    r = run(
        from_list([100] * 5),
        duration_s=80,
        warm_duration_s=0.5,
        cold_start_s=0.1,
        idle_timeout_s=60,
        provisioned=3,
    )
    peak = r.totals["max_environments"]
    assert peak > 3
    assert r.environments[-1] == 3  # provisioned ones stay
    assert r.totals["environments_reaped"] == peak - 3


def test_sampled_durations() -> None:
    measured = [0.05, 0.1, 0.2]
    r = simulate(
        constant(200),
        duration_s=30,
        cold_start_s=empirical([0.3, 0.5]),
        warm_duration_s=empirical(measured),
        seed=1,
    )
    assert r.totals["p50_ms"] in (50.0, 100.0, 200.0)
    assert r.totals["p99_ms"] <= 700.0
    assert 20 < r.concurrency[-1] < 60  # about 200 × 0.117 s
    with pytest.raises(ValueError):
        empirical([])


def test_poisson_arrivals_are_reproducible_and_average_the_rate() -> None:
    kw = dict(duration_s=60, cold_start_s=0.1, warm_duration_s=0.05)
    a = simulate(constant(300), seed=3, **kw)
    b = simulate(constant(300), seed=3, **kw)
    c = simulate(constant(300), seed=4, **kw)
    assert a.columns() == b.columns()
    assert a.invocations != c.invocations
    assert a.totals["requests"] == pytest.approx(300 * 60, rel=0.03)
    assert len(set(a.invocations)) > 1  # Poisson counts scatter


def test_columns_and_partial_last_bucket() -> None:
    r = run(constant(10), duration_s=2.5, warm_duration_s=0.1)
    cols = r.columns()
    assert set(cols) >= {"t", "invocations", "concurrency", "environments", "p50_ms", "p99_ms"}
    assert cols["t"] == [0.0, 1.0, 2.0]
    assert all(len(v) == 3 for v in cols.values())
    assert sum(r.invocations) == r.totals["invocations"] == 25
    assert "invocations" in repr(r)


def test_argument_validation() -> None:
    with pytest.raises(ValueError):
        run(constant(1), bucket_s=0.015)
    with pytest.raises(ValueError):
        run(constant(1), arrivals="bursty")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run(constant(1), duration_s=0)


def test_handles_aws_scale_quickly() -> None:
    lim = Limits(account_concurrency=200_000)
    r = simulate(
        constant(20_000), duration_s=120, cold_start_s=1.0, warm_duration_s=LONG, limits=lim
    )
    assert r.totals["max_concurrency"] == pytest.approx(1000 + 100 * 120, abs=2)
