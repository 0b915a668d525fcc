"""Live environment pools: reuse, cold starts, throttles, reservations, provisioned concurrency
and reaping, with real environments and the pure policy deciding."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from kernel_runtime import Sandbox, TooManyRequestsException
from kernel_runtime.invocation import Invocation
from kernel_runtime.service._policy import Limits
from kernel_runtime.service._pools import EnvironmentPools, _Series

from ._functions import write_function

SLEEPY = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    sb = Sandbox()
    yield sb
    sb.close()


def _burst(pools: EnvironmentPools, config, n: int, sleep: float) -> tuple[list, list]:
    """n concurrent invokes; returns (invocations, throttle exceptions)."""
    results: list[Invocation] = []
    throttles: list[TooManyRequestsException] = []
    lock = threading.Lock()
    gate = threading.Barrier(n)

    def one() -> None:
        gate.wait()
        try:
            inv = pools.invoke(config, {"sleep": sleep})
            with lock:
                results.append(inv)
        except TooManyRequestsException as exc:
            with lock:
                throttles.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, throttles


def test_burst_creates_up_to_the_limit_and_throttles_the_rest(sandbox, tmp_path: Path) -> None:
    cfg = write_function(tmp_path / "a", SLEEPY, name="burst")
    pools = EnvironmentPools(sandbox, limits=Limits(account_concurrency=4, unreserved_minimum=0))
    try:
        ok, throttled = _burst(pools, cfg, 7, sleep=0.5)
        assert len(ok) == 4 and len(throttled) == 3
        assert {e.reason for e in throttled} == {"ConcurrentInvocationLimitExceeded"}
        assert all(str(e) == "Rate Exceeded." for e in throttled)
        assert len({inv.environment_id for inv in ok}) == 4 and all(i.cold_start for i in ok)
        again = pools.invoke(cfg, {})
        assert not again.cold_start and again.environment_id in {i.environment_id for i in ok}
        stats = pools.stats("burst")
        assert (stats.invocations, stats.cold_starts, stats.throttles) == (5, 4, 3)
        series = pools.series.columns()
        assert sum(series["throttles"]) == 3 and sum(series["cold_starts"]) == 4
        assert max(series["concurrency"]) >= 4
    finally:
        pools.close()


def test_reserved_concurrency_caps_one_function_and_protects_another(sandbox, tmp_path) -> None:
    a = write_function(tmp_path / "a", SLEEPY, name="capped")
    b = write_function(tmp_path / "b", SLEEPY, name="protected")
    pools = EnvironmentPools(sandbox, limits=Limits(account_concurrency=6, unreserved_minimum=1))
    try:
        pools.put_reserved("protected", 3)
        pools.put_reserved("capped", 2)
        ok, throttled = _burst(pools, a, 4, sleep=0.4)
        assert len(ok) == 2
        assert {e.reason for e in throttled} == {
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        }
        ok_b, throttled_b = _burst(pools, b, 3, sleep=0.1)
        assert len(ok_b) == 3 and not throttled_b
        pools.put_reserved("capped", 0)
        with pytest.raises(TooManyRequestsException):
            pools.invoke(a, {})
        with pytest.raises(Exception, match="UnreservedConcurrentExecution below its minimum"):
            pools.put_reserved("capped", 5)
    finally:
        pools.close()


def test_provisioned_concurrency_serves_without_cold_starts_then_spills_over(
    sandbox, tmp_path
) -> None:
    cfg = write_function(tmp_path / "a", SLEEPY, name="pc").with_changes(version="1")
    pools = EnvironmentPools(sandbox, limits=Limits(account_concurrency=10, unreserved_minimum=0))
    try:
        status = pools.put_provisioned(cfg, "1", 2)
        deadline = time.monotonic() + 10
        while status.status != "READY" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status.status == "READY" and status.allocated == 2
        served, _ = _burst(pools, cfg, 2, sleep=0.3)
        assert not any(i.cold_start for i in served)
        assert {i.result["init"] for i in served} == {"provisioned-concurrency"}
        assert {i.initialization_type for i in served} == {"provisioned-concurrency"}
        spilled, _ = _burst(pools, cfg, 4, sleep=0.3)
        kinds = sorted(i.initialization_type for i in spilled)
        assert kinds == [
            "on-demand",
            "on-demand",
            "provisioned-concurrency",
            "provisioned-concurrency",
        ]
        stats = pools.stats("pc")
        assert stats.provisioned_invocations == 4 and stats.spillover_invocations == 2
        pools.delete_provisioned("pc", "1")
        assert all(e.initialization_type == "on-demand" for e in pools.environments("pc"))
    finally:
        pools.close()


def test_idle_environments_are_reaped_and_changed_code_retires_them(sandbox, tmp_path) -> None:
    clock = [0.0]
    cfg = write_function(tmp_path / "a", SLEEPY, name="reaped")
    pools = EnvironmentPools(sandbox, limits=Limits(idle_timeout_s=60), now=lambda: clock[0])
    try:
        first = pools.invoke(cfg, {})
        clock[0] = 30
        assert pools.reap() == 0 and not pools.invoke(cfg, {}).cold_start
        clock[0] = 100
        assert pools.reap() == 1 and pools.environments("reaped") == []
        assert pools.invoke(cfg, {}).cold_start
        pools.retire("reaped")
        assert pools.environments("reaped") == []
        assert pools.invoke(cfg, {}).environment_id != first.environment_id
    finally:
        pools.close()


def test_a_crashed_environment_is_reinitialised_in_place(sandbox, tmp_path) -> None:
    cfg = write_function(
        tmp_path / "a",
        """
        import os
        def handler(event, context):
            if event.get("crash"):
                os._exit(1)
            return "fine"
        """,
        name="crashy",
    )
    pools = EnvironmentPools(sandbox)
    try:
        bad = pools.invoke(cfg, {"crash": True})
        assert bad.error_type == "Runtime.ExitError"
        good = pools.invoke(cfg, {})
        assert good.result == "fine" and good.cold_start
        assert good.environment_id == bad.environment_id
        assert pools.concurrency("crashy") == 0
    finally:
        pools.close()


def test_a_refused_request_leaves_its_environment_warm(sandbox, tmp_path) -> None:
    from kernel_runtime import InvalidRequestContentException

    cfg = write_function(tmp_path / "a", SLEEPY, name="refused")
    pools = EnvironmentPools(sandbox)
    try:
        first = pools.invoke(cfg, {})
        with pytest.raises(InvalidRequestContentException):
            pools.invoke(cfg, b"{not json")
        again = pools.invoke(cfg, {})
        assert not again.cold_start and again.environment_id == first.environment_id
        assert pools.concurrency("refused") == 0
    finally:
        pools.close()


def test_the_live_series_keeps_a_summary_per_second_not_every_latency() -> None:
    """An hour of every latency was ~1 GB at 10,000 requests/s: a second's latencies are
    reduced to its p50 and p99 once the next second starts, with the same columns."""
    series = _Series()
    tracemalloc.start()
    try:
        for second in range(30):
            for i in range(10_000):
                series.invocation(1000 + second + i / 10_000, i == 0, float(i % 100), 3, 2)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 2 * 2**20, kept  # all of them: ~9.5 MB
    series.throttle(1030.5, 4, 2)
    cols = series.columns()
    assert cols["t"] == list(range(1000, 1031))
    assert cols["invocations"] == [10_000] * 30 + [0]
    assert cols["cold_starts"] == [1] * 30 + [0] and cols["throttles"] == [0] * 30 + [1]
    assert cols["p50_ms"] == [50.0] * 30 + [0.0] and cols["p99_ms"] == [99.0] * 30 + [0.0]
    assert cols["concurrency"] == [3] * 30 + [4] and cols["environments"] == [2] * 31
