"""The load generator's engine: plans and their schedules, paced open-loop traffic, throttles
against reserved concurrency, async 202s, stopping, and 5,000 invokes at full speed with the
caller's own thread still responsive."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from kernel_runtime import InvalidParameterValueException, LambdaRuntime, ResourceNotFoundException
from lab._load import LoadPlan, LoadSummary, percentile, run_load, schedule

pytestmark = pytest.mark.timeout(60)

FAST = "def handler(event, context):\n    return {'ok': True}\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return 1\n"
FAILS = "def handler(event, context):\n    raise ValueError('boom')\n"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("load") / "s.sqlite3"
    with LambdaRuntime(endpoint=False, store=path) as rt:
        rt.create_function("fast", "app.handler", FAST)
        rt.create_function("slow", "app.handler", SLOW)
        rt.create_function("fails", "app.handler", FAILS)
        yield rt


# -- plans ------------------------------------------------------------------------------------


def test_schedules_follow_the_pattern() -> None:
    constant = list(schedule(LoadPlan("constant", rps=4, duration_s=1)))
    assert constant == [0.0, 0.25, 0.5, 0.75]
    burst = list(schedule(LoadPlan("burst", rps=3, duration_s=2)))
    assert burst == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    ramp = list(schedule(LoadPlan("ramp", rps=0, ramp_to=10, duration_s=2)))
    assert len(ramp) == 10  # the average of 0 and 10 rps over 2 s
    gaps = [b - a for a, b in itertools.pairwise(ramp)]
    assert all(later < earlier for earlier, later in itertools.pairwise(gaps))
    assert 0 <= ramp[-1] < 2
    down = list(schedule(LoadPlan("ramp", rps=10, ramp_to=0, duration_s=2)))
    assert len(down) == 10 and down[1] - down[0] < down[-1] - down[-2]
    assert LoadPlan("constant", rps=100, duration_s=1, requests=7).total == 7
    assert LoadPlan("constant", rps=0, duration_s=1).total is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pattern": "spike"}, "Invalid load pattern 'spike'"),
        ({"invocation_type": "DryRun"}, "Invalid invocation type 'DryRun'"),
        ({"rps": -1}, "Invalid rps -1"),
        ({"concurrency": 0}, "Invalid concurrency 0"),
        ({"pattern": "ramp"}, "a ramp needs the final rate"),
        ({"duration_s": 0}, "Invalid duration_s 0"),
    ],
)
def test_bad_plans_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterValueException, match=message):
        LoadPlan(**kwargs)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


# -- runs -------------------------------------------------------------------------------------


def test_constant_rate_is_paced(runtime: LambdaRuntime) -> None:
    progress: list[LoadSummary] = []
    summary = run_load(
        runtime,
        "fast",
        LoadPlan("constant", rps=50, duration_s=1, concurrency=4),
        on_progress=progress.append,
        progress_interval=0.1,
    )
    assert summary.finished and not summary.stopped
    assert 45 <= summary.invocations <= 50
    assert summary.invocations + summary.skipped == 50
    assert summary.status_codes.get(200) == summary.invocations
    assert 0.9 <= summary.elapsed_s < 2.5  # paced over the second, not sent at once
    assert summary.throttles == summary.errors == 0
    assert summary.p50_ms is not None and summary.p99_ms is not None
    assert summary.p50_ms <= summary.p99_ms
    # live snapshots along the way, the final summary last
    assert len(progress) >= 5 and progress[-1] == summary
    assert [p.sent for p in progress] == sorted(p.sent for p in progress)
    assert summary.progress == 1.0


def test_burst_against_reserved_concurrency_is_throttled(runtime: LambdaRuntime) -> None:
    runtime.function("slow").set_reserved_concurrency(1)
    try:
        summary = run_load(runtime, "slow", LoadPlan("burst", rps=8, duration_s=1, concurrency=8))
    finally:
        runtime.function("slow").set_reserved_concurrency(None)
    assert summary.sent == 8
    assert summary.invocations == 1  # one environment's worth of concurrency
    assert summary.throttles == 7
    assert summary.status_codes == {200: 1, 429: 7}


def test_function_errors_and_cold_starts_are_counted(runtime: LambdaRuntime) -> None:
    summary = run_load(
        runtime, "fails", LoadPlan("constant", rps=40, duration_s=0.5, concurrency=2)
    )
    assert summary.invocations == summary.errors == 20 - summary.skipped
    assert summary.status_codes == {200: summary.invocations}  # errors are 200s, as on AWS
    assert 1 <= summary.cold_starts <= 2


def test_async_mode_gets_202s(runtime: LambdaRuntime) -> None:
    summary = run_load(
        runtime,
        "fast",
        LoadPlan("constant", rps=40, duration_s=0.5, concurrency=2, invocation_type="Event"),
    )
    assert summary.invocations == 20 - summary.skipped >= 18
    assert set(summary.status_codes) == {202}
    assert summary.cold_starts == 0  # those happen later, on the async queue


def test_open_loop_skips_what_busy_workers_cannot_start(runtime: LambdaRuntime) -> None:
    # 10 requests due at once, 2 workers, a 0.3 s handler: 8 cannot start and are not queued
    summary = run_load(runtime, "slow", LoadPlan("burst", rps=10, duration_s=1, concurrency=2))
    assert summary.sent == 2 and summary.skipped == 8
    assert summary.completed == 10 and summary.progress == 1.0


def test_stop_event_ends_a_run_early(runtime: LambdaRuntime) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.perf_counter()
    summary = run_load(
        runtime, "fast", LoadPlan("constant", rps=20, duration_s=30, concurrency=2), stop_event=stop
    )
    assert time.perf_counter() - t0 < 2
    assert summary.stopped and summary.finished
    assert summary.progress < 0.1  # 0.3 s of a 30 s plan
    assert 3 <= summary.sent <= 12


def test_unknown_function_is_refused_before_any_traffic(runtime: LambdaRuntime) -> None:
    with pytest.raises(ResourceNotFoundException):
        run_load(runtime, "nope", LoadPlan("constant", rps=1, duration_s=1))


def test_five_thousand_at_full_speed_keeps_the_caller_responsive(runtime: LambdaRuntime) -> None:
    gaps: list[float] = []
    done = threading.Event()
    result: list[LoadSummary] = []

    def generate() -> None:
        plan = LoadPlan("constant", rps=0, duration_s=60, concurrency=4, requests=5000)
        result.append(run_load(runtime, "fast", plan, on_progress=lambda s: None))
        done.set()

    threading.Thread(target=generate, daemon=True).start()
    last = time.perf_counter()
    while not done.wait(0.01):  # the "kernel": a thread that wants to run every 10 ms
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    (summary,) = result
    assert summary.invocations == 5000 and summary.skipped == 0
    assert summary.achieved_rps > 300
    assert max(gaps) < 0.5  # never starved for long (a shared machine may pause it briefly)
