"""The lab's Bokeh plots: their data (pure column extraction from the store, the pools and the
simulator), incremental live updates, the refresher's rate limit, HTML export with inline
BokehJS and the static fallbacks; memory tuning and trace waterfalls on a real runtime."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_runtime import (
    Function,
    InvalidParameterValueException,
    LambdaRuntime,
    Limits,
    ResourceNotFoundException,
)
from kernel_runtime.observe import SamplingRule
from kernel_runtime.simulate import constant, simulate
from lab import _plotting
from lab._plotdata import (
    InvocationCursor,
    LifecycleTracker,
    SeriesCursor,
    concurrency_columns,
    concurrency_limits,
    invocation_columns,
    lifecycle_spans,
    mark_best,
    trace_id_of,
    trace_rows,
    tuning_result,
)
from lab._plotting import LivePlot, Refresher, Update
from lab.plot_cold_warm import ColdWarmPlot
from lab.plot_concurrency import ConcurrencyPlot
from lab.plot_lifecycle import LifecyclePlot
from lab.plot_trace import TraceWaterfall
from lab.plot_tuning import MemoryTuning

from ._functions import eventually

pytestmark = pytest.mark.timeout(60)

NOOP = "def handler(event, context):\n    return {'ok': True}\n"
_names = itertools.count()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    """One runtime for the module (each test makes its own functions)."""
    store = tmp_path_factory.mktemp("plots") / "s.sqlite3"
    with LambdaRuntime(endpoint=False, store=store) as runtime:
        runtime.sandbox.sampling_rule = SamplingRule(0, 1.0)  # sample every Active request
        yield runtime


@pytest.fixture
def noop(lab: LambdaRuntime) -> Function:
    """A fresh no-op function invoked three times: one cold start, two warm."""
    fn = lab.create_function(f"noop-{next(_names)}", "app.handler", NOOP)
    for _ in range(3):
        fn.invoke({})
    _settle(lab)
    return fn


def _settle(lab: LambdaRuntime) -> None:
    """Wait until what was recorded is committed. A store query skips this wait when the
    store's queue is empty, even while a batch is still being written (a race in the store,
    seen with its writer process): tests that count rows right after an invoke flush first."""
    assert lab.store.flush()


def _rows(source: Any) -> int:
    return len(next(iter(source.data.values())))


# ---------------------------------------------------------------- _plotdata


def test_invocation_columns_from_the_store(lab: LambdaRuntime, noop: Function) -> None:
    table = lab.store.columns(function=noop.name)
    cols = invocation_columns(table)
    assert cols["cold"] == [True, False, False]
    assert cols["kind"] == ["cold", "warm", "warm"]
    assert cols["request_id"] == table["request_id"]
    assert cols["duration_ms"] == table["duration_ms"]
    init = table["init_duration_ms"][0]
    assert init is not None and init > 0
    assert cols["init_duration_ms"] == [init, 0.0, 0.0]
    assert cols["init_label"][0] == f"{init:.2f} ms" and cols["init_label"][1:] == ["-", "-"]
    for i in range(3):
        assert cols["latency_ms"][i] == pytest.approx(
            cols["duration_ms"][i] + cols["init_duration_ms"][i]
        )
        assert cols["t"][i] == pytest.approx(table["started_at"][i] * 1000.0)


def test_invocation_columns_kinds() -> None:
    table = {
        "request_id": ["a", "b", "c"],
        "function_name": ["f"] * 3,
        "environment_id": ["e1", "e2", "e2"],
        "status": ["success", "error", "success"],
        "started_at": [10.0, 11.0, 12.0],
        "duration_ms": [1.5, 2.0, 3.0],
        "init_duration_ms": [None, None, 99.0],  # a cold start with no init recorded
        "billed_duration_ms": [2, 2, 3],
        "memory_size_mb": [128] * 3,
        "max_memory_used_mb": [30] * 3,
        "cold_start": [True, False, False],
        "initialization_type": ["on-demand", "provisioned-concurrency", "on-demand"],
    }
    cols = invocation_columns(table)
    assert cols["kind"] == ["cold", "provisioned", "warm"]
    # init counts only on a cold start; a warm row's stray value is ignored
    assert cols["init_duration_ms"] == [0.0, 0.0, 0.0]
    assert cols["latency_ms"] == [1.5, 2.0, 3.0]
    assert invocation_columns({})["request_id"] == []


class _FakeInvocationStore:
    """``Store.columns`` over rows added by hand, in start order like the real one."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []
        self.calls: list[tuple[float | None, int | None]] = []

    def columns(
        self,
        function: str | None = None,
        start: float | None = None,
        end: float | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> dict[str, list[Any]]:
        self.calls.append((start, limit))
        rows = sorted((r for r in self.rows if start is None or r[1] >= start), key=lambda r: r[1])
        if limit is not None:
            rows = rows[-limit:]
        return {"request_id": [r[0] for r in rows], "started_at": [r[1] for r in rows]}


def test_invocation_cursor_returns_only_new_rows_and_late_ones_once() -> None:
    store = _FakeInvocationStore()
    store.rows = [(f"r{i}", 100.0 + i) for i in range(5)]
    cursor = InvocationCursor(store, "f", late_s=3.0, first_limit=3)
    assert cursor.poll()["request_id"] == ["r2", "r3", "r4"]  # the most recent first_limit
    assert store.calls[-1] == (None, 3)
    assert cursor.poll()["request_id"] == []
    # re-reads late_s before the newest start, but not before what the first read cut off
    assert store.calls[-1] == (102.0, None)
    store.rows.append(("older", 100.5))  # older than the first read's window: stays out
    assert cursor.poll()["request_id"] == []
    # a slow invocation that started before the newest shown one is recorded late
    store.rows += [("late", 102.5), ("r5", 105.0)]
    assert cursor.poll()["request_id"] == ["late", "r5"]
    assert cursor.poll()["request_id"] == []
    # later than late_s after the newest start: documented as missed
    store.rows.append(("too-late", 101.9))
    assert cursor.poll()["request_id"] == []
    with pytest.raises(ValueError, match="late_s"):
        InvocationCursor(store, late_s=-1)


def test_lifecycle_spans_from_transitions() -> None:
    rows = [
        {"environment_id": "aaaaaaaa1", "state": "INITIALIZING", "at": 1.0},
        {"environment_id": "aaaaaaaa1", "state": "READY", "at": 1.5},
        {"environment_id": "bbbbbbbb2", "state": "INITIALIZING", "at": 1.6},
        {"environment_id": "aaaaaaaa1", "state": "BUSY", "at": 2.0},
        {"environment_id": "aaaaaaaa1", "state": "RESET", "at": 2.25},
        {"environment_id": "aaaaaaaa1", "state": "SHUTTING_DOWN", "at": 3.0},
        {"environment_id": "aaaaaaaa1", "state": "DEAD", "at": 3.5},
        {"environment_id": "aaaaaaaa1", "state": "BUSY", "at": 4.0},  # after DEAD: ignored
    ]
    closed = lifecycle_spans(rows)
    assert closed["state"] == ["init", "idle", "busy", "reset", "shutdown"]
    assert closed["duration_ms"] == [500.0, 500.0, 250.0, 750.0, 500.0]
    assert closed["environment"] == ["aaaaaaaa"] * 5
    assert closed["left"][0] == 1000.0 and closed["right"][-1] == 3500.0
    assert not any(closed["open"])
    spans = lifecycle_spans(rows, now=2.0)
    assert spans["state"][-1] == "init" and spans["open"][-1] is True
    assert spans["environment_id"][-1] == "bbbbbbbb2"
    assert spans["duration_ms"][-1] == pytest.approx(400.0)

    tracker = LifecycleTracker()
    first = tracker.feed(rows[:3])
    assert first["state"] == ["init"]  # aaaa's INITIALIZING closed by READY
    assert tracker.open_spans(5.0)["state"] == ["idle", "init"]
    assert tracker.open_spans(5.0, alive={"bbbbbbbb2"})["environment_id"] == ["bbbbbbbb2"]


def test_series_cursor_patches_the_filling_bucket_and_streams_new_ones() -> None:
    def series(t: list[int], invocations: list[int]) -> dict[str, list[Any]]:
        zeros = [0] * len(t)
        return concurrency_columns(
            {
                "t": t,
                "invocations": invocations,
                "cold_starts": zeros,
                "throttles": zeros,
                "concurrency": invocations,
                "environments": invocations,
                "p50_ms": zeros,
                "p99_ms": zeros,
            },
            epoch=True,
        )

    cursor = SeriesCursor()
    patch, new = cursor.poll(series([10, 11], [3, 1]))
    assert patch is None and new["t"] == [10, 11] and new["x"] == [10_000.0, 11_000.0]
    assert "p50_ms" not in new  # only what the plot draws
    again = series([10, 11, 12], [3, 4, 2])
    patch, new = cursor.poll(again)
    assert patch is not None and patch["t"] == 11 and patch["invocations"] == 4
    assert new["t"] == [12] and new["invocations"] == [2]
    patch, new = cursor.poll(again)
    assert patch is None and new["t"] == []


def test_concurrency_limits_rows() -> None:
    assert concurrency_limits(1000, None, 0)["limit"] == ["account concurrency"]
    limits = concurrency_limits(10, 0, 2)
    assert limits["y"] == [10, 0, 2]  # reserved 0 is a real limit (the function cannot run)
    assert limits["label"][2] == "provisioned concurrency: 2"


def test_tuning_statistics_leave_out_cold_starts() -> None:
    from decimal import Decimal

    rows = [
        {"duration_ms": 500.0, "billed_duration_ms": 900, "cold_start": True, "status": "success"},
        {"duration_ms": 10.0, "billed_duration_ms": 10, "cold_start": False, "status": "success"},
        {"duration_ms": 30.0, "billed_duration_ms": 30, "cold_start": False, "status": "error"},
    ]
    result = tuning_result(256, rows, [Decimal("9"), Decimal("1"), Decimal("3")])
    assert result["measured"] == 2 and result["cold_starts"] == 1 and result["errors"] == 1
    assert result["duration_ms"] == 20.0 and result["p50_ms"] == 10.0 and result["p90_ms"] == 30.0
    assert result["cost_usd"] == 2.0
    none = tuning_result(128, rows[:1], [Decimal(1)])
    assert none["measured"] == 0 and math.isnan(none["duration_ms"])
    results = [
        {"memory_size": 128, "measured": 3, "cost_usd": 2.0, "duration_ms": 90.0},
        {"memory_size": 512, "measured": 3, "cost_usd": 2.0, "duration_ms": 20.0},
        {"memory_size": 1024, "measured": 3, "cost_usd": 3.0, "duration_ms": 10.0},
        {"memory_size": 2048, "measured": 0, "cost_usd": math.nan, "duration_ms": math.nan},
    ]
    assert mark_best(results) == (512, 1024)  # equal cost: the faster is the cheapest
    assert mark_best([]) == (None, None)


def test_trace_rows_indent_by_depth() -> None:
    tree = {
        "start_time": 100.0,
        "end_time": 100.5,
        "roots": [
            {
                "id": "s1",
                "name": "fn",
                "origin": "AWS::Lambda",
                "start_time": 100.0,
                "end_time": 100.5,
                "children": [
                    {
                        "id": "s2",
                        "name": "work",
                        "type": "subsegment",
                        "start_time": 100.1,
                        "end_time": None,
                        "in_progress": True,
                        "children": [],
                    },
                    {
                        "id": "s3",
                        "name": "boto",
                        "type": "subsegment",
                        "fault": True,
                        "start_time": 100.2,
                        "end_time": 100.3,
                        "children": [],
                    },
                ],
            }
        ],
    }
    rows = trace_rows(tree)
    assert rows["name"] == ["fn", "work", "boto"]
    assert rows["depth"] == [0, 1, 1] and rows["row"] == [0, 1, 2]
    assert rows["label"][0] == "fn (AWS::Lambda)" and rows["label"][1] == "\u2003work"
    assert rows["kind"] == ["segment", "subsegment", "subsegment"]
    assert rows["status"] == ["ok", "in progress", "fault"]
    assert rows["left"][1] == pytest.approx(100.0) and rows["right"][1] == pytest.approx(500.0)
    assert rows["duration_ms"][2] == pytest.approx(100.0)
    assert trace_id_of("Root=1-abc-def;Parent=12;Sampled=1") == "1-abc-def"
    assert trace_id_of("Parent=12") is None


# ---------------------------------------------------------------- live updates


def test_cold_warm_plot_streams_only_new_invocations(lab: LambdaRuntime, noop: Function) -> None:
    plot = ColdWarmPlot(lab, noop.name)
    try:
        assert _rows(plot.source) == 3
        assert plot.source.data["kind"] == ["cold", "warm", "warm"]
        noop.invoke({})
        noop.invoke({})
        _settle(lab)
        assert plot.update() == 2
        assert _rows(plot.source) == 5
        assert plot.update() == 0 and _rows(plot.source) == 5
        assert plot.source.data["cold"] == [True, False, False, False, False]
    finally:
        plot.close()
    small = ColdWarmPlot(lab, noop.name, rollover=4)
    assert _rows(small.source) == 4  # the most recent four
    noop.invoke({})
    _settle(lab)
    assert small.update() == 1 and _rows(small.source) == 4  # rolled over
    small.close()


def test_refresher_coalesces_bursts_to_ten_per_second() -> None:
    ticks: list[float] = []
    refresher = Refresher(lambda: ticks.append(time.monotonic()), interval=5.0, max_rate=10.0)
    refresher.start()
    try:
        began = time.monotonic()
        for _ in range(100):
            refresher.trigger()
            time.sleep(0.003)  # 100 triggers over ~0.3 s
        time.sleep(0.25)
        elapsed = time.monotonic() - began
    finally:
        refresher.stop()
    assert not refresher.running
    assert 1 <= len(ticks) <= 1 + math.ceil(elapsed * 10)
    gaps = [b - a for a, b in itertools.pairwise(refresher.tick_times)]
    assert all(g >= 0.1 - 1e-6 for g in gaps)  # never two runs within 100 ms
    assert refresher.ticks == len(ticks)
    with pytest.raises(ValueError):
        Refresher(lambda: None, max_rate=0)


def test_plot_applies_at_most_ten_updates_per_second(
    lab: LambdaRuntime, noop: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    plot = ColdWarmPlot(lab, noop.name, interval=5.0)
    applied = plot.updates_applied
    pulls = itertools.count()
    monkeypatch.setattr(plot, "_pull", lambda: Update(rows=1, after=[lambda: next(pulls)]))
    plot.start()
    try:
        began = time.monotonic()
        for _ in range(100):
            plot.refresher.trigger()
        time.sleep(0.45)
        elapsed = time.monotonic() - began
    finally:
        plot.stop()
    done = plot.updates_applied - applied
    assert 1 <= done <= 1 + math.ceil(elapsed * 10)
    assert plot.refresher.rate(window_s=1.0) <= 10
    plot.close()


def test_started_plot_follows_new_invocations(lab: LambdaRuntime, noop: Function) -> None:
    with ColdWarmPlot(lab, noop.name, interval=0.05) as plot:
        plot.start()
        noop.invoke({})
        eventually(lambda: _rows(plot.source) == 4)
        plot.stop()
        assert not plot.refresher.running
    assert plot._closed
    with pytest.raises(RuntimeError, match="closed"):
        plot.start()


def test_updates_go_through_the_running_loop(lab: LambdaRuntime, noop: Function) -> None:
    """Started where a loop runs (the kernel's main thread), the refresher's thread only
    schedules; the sources change on the loop's thread."""
    plot = ColdWarmPlot(lab, noop.name, interval=0.05)
    threads: list[str] = []
    apply = plot._apply

    def recording(update: Update) -> int:
        threads.append(threading.current_thread().name)
        return apply(update)

    plot._apply = recording  # type: ignore[method-assign]

    async def cell() -> None:
        plot.start()
        assert plot._loop is asyncio.get_running_loop()
        await asyncio.to_thread(noop.invoke, {})
        for _ in range(200):
            if _rows(plot.source) == 4:
                return
            await asyncio.sleep(0.02)

    try:
        asyncio.run(cell())
    finally:
        plot.close()
    assert _rows(plot.source) == 4
    assert threads and set(threads) == {threading.main_thread().name}


# ---------------------------------------------------------------- export and fallbacks


def _assert_inline(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "cdn.bokeh.org" not in text
    assert not re.search(r"<script[^>]*\ssrc=", text)  # BokehJS is inlined, nothing fetched
    assert "Bokeh" in text and len(text) > 100_000


def test_every_plot_saves_standalone_html_with_inline_bokehjs(
    lab: LambdaRuntime, noop: Function, tmp_path: Path
) -> None:
    result = simulate(constant(20), duration_s=2, cold_start_s=0.2, warm_duration_s=0.1)
    plots: list[LivePlot] = [
        ColdWarmPlot(lab, noop.name),
        ConcurrencyPlot(lab, noop.name),
        ConcurrencyPlot.from_simulation(result),
        LifecyclePlot(lab, noop.name),
    ]
    for i, plot in enumerate(plots):
        path = plot.save_html(tmp_path / "out" / f"plot{i}.html")
        assert path.exists()
        _assert_inline(path)
        bundle = plot._repr_mimebundle_()
        assert set(bundle) >= {"text/html", "text/plain"}
        assert "application/vnd.jupyter.widget-view+json" not in bundle  # no kernel here
        assert bundle["text/plain"].startswith(f"<{type(plot).__name__} ")
        assert "<table>" in bundle["text/html"]
        plot.close()
    text = ColdWarmPlot(lab, noop.name)._repr_mimebundle_()["text/html"]
    assert "cold starts</th><td>1</td>" in text
    assert noop.invoke({}).request_id not in text  # a summary of what was pulled, no more


def test_widget_and_bokehjs_in_a_kernel(
    lab: LambdaRuntime, noop: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bokeh.io

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(bokeh.io, "output_notebook", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setitem(sys.modules, "lab._session", None)  # no session loader: the fallback
    monkeypatch.setattr(_plotting, "_bokehjs_loaded", False)
    monkeypatch.setattr(_plotting, "in_kernel", lambda: True)
    plot = ColdWarmPlot(lab, noop.name)
    bundle = plot._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert {"text/html", "text/plain"} <= set(bundle)
    plot._repr_mimebundle_()
    from bokeh.resources import INLINE

    assert calls == [((INLINE,), {"hide_banner": True})]  # once, INLINE
    assert type(plot.widget).__name__ == "BokehModel"
    noop.invoke({})
    _settle(lab)
    assert plot.update() == 1  # streams into the document the widget shows
    plot.close()
    plot.close()  # idempotent


# ---------------------------------------------------------------- the plots


def test_concurrency_plot_from_a_simulation() -> None:
    result = simulate(
        constant(50),
        duration_s=3,
        cold_start_s=0.2,
        warm_duration_s=0.1,
        reserved=3,
        arrivals="even",
        limits=Limits(account_concurrency=20, unreserved_minimum=5),
    )
    plot = ConcurrencyPlot.from_simulation(
        result, limits=Limits(account_concurrency=20, unreserved_minimum=5), reserved=3
    )
    assert plot.source.data["concurrency"] == result.concurrency
    assert plot.source.data["throttles"] == result.throttles
    assert plot.source.data["x"] == [0.0, 1.0, 2.0]  # simulated seconds, not epoch
    assert sum(plot.source.data["throttles"]) == result.totals["throttles"] > 0
    assert plot.limits.data["limit"] == ["reserved concurrency"] and plot.limits.data["y"] == [3]
    assert plot.account_limit.data["y"] == [20]
    assert not plot.live and plot.update() == 0
    plot.start()
    assert not plot.refresher.running
    assert "throttles" in repr(plot)
    with pytest.raises(TypeError, match="simulation result"):
        ConcurrencyPlot.from_simulation({"t": []})


def test_concurrency_plot_of_the_live_service(lab: LambdaRuntime, noop: Function) -> None:
    plot = ConcurrencyPlot(lab, noop.name)
    series = lab.service.pools.series.columns()
    assert sum(plot.source.data["invocations"]) == sum(series["invocations"])
    assert plot.account_limit.data["y"] == [1000]
    assert plot.limits.data["limit"] == []
    noop.set_reserved_concurrency(7)
    noop.invoke({})
    plot.update()
    series = lab.service.pools.series.columns()
    assert sum(plot.source.data["invocations"]) == sum(series["invocations"])
    assert plot.source.data["t"] == series["t"]
    assert plot.limits.data["label"] == ["reserved concurrency: 7"]
    noop.set_reserved_concurrency(None)
    plot.update()
    assert plot.limits.data["limit"] == []
    plot.close()


def test_lifecycle_plot_spans_per_environment(lab: LambdaRuntime, noop: Function) -> None:
    plot = LifecyclePlot(lab, noop.name)
    (env,) = {e.environment_id for e in noop.environments()}
    states = [s for s in plot.spans.data["state"] if s != "frozen"]  # after a 10 ms grace
    assert states[:5] == ["init", "idle", "busy", "idle", "busy"]
    assert set(plot.spans.data["environment_id"]) == {env}
    assert plot.open.data["environment_id"] == [env]  # alive: its current state grows
    assert plot.open.data["state"][0] in ("idle", "frozen")
    assert plot.figure.y_range.factors == [env[:8]]
    before = _rows(plot.spans)
    noop.invoke({})
    _settle(lab)
    assert plot.update() >= 2 and _rows(plot.spans) >= before + 2
    noop.configure(memory_size=256)  # retires the idle environment: shut down, then DEAD
    eventually(lambda: (plot.update() or True) and "shutdown" in plot.spans.data["state"])
    assert plot.open.data["state"] == []
    assert "environments</th><td>1</td>" in plot._repr_mimebundle_()["text/html"]
    plot.close()


def test_memory_tuning_marks_the_cheapest_and_the_fastest(lab: LambdaRuntime) -> None:
    fn = lab.create_function(f"tune-{next(_names)}", "app.handler", NOOP, memory_size=256)
    tuning = MemoryTuning(lab, fn.name, memory_sizes=(512, 128), invocations=3)
    results = tuning.run()
    assert [r["memory_size"] for r in results] == [128, 512]
    assert all(r["invocations"] == 3 and r["measured"] == 3 for r in results)
    assert all(r["cost_usd"] > 0 and r["duration_ms"] > 0 for r in results)
    assert fn.configuration["MemorySize"] == 256  # restored
    cheapest = min(results, key=lambda r: (r["cost_usd"], r["duration_ms"]))
    fastest = min(results, key=lambda r: (r["duration_ms"], r["cost_usd"]))
    assert tuning.cheapest == cheapest and tuning.fastest == fastest
    assert tuning.cheapest_mark.data["memory"] == [str(cheapest["memory_size"])]
    assert tuning.cheapest_mark.data["label"] == [f"cheapest: {cheapest['memory_size']} MB"]
    assert tuning.fastest_mark.data["y"] == [fastest["duration_ms"]]
    assert tuning.source.data["memory"] == ["128", "512"]
    assert "2/2 sizes" in tuning.figure.title.text
    # the same in the background
    background = MemoryTuning(lab, fn.name, memory_sizes=(128, 256), invocations=1).start()
    assert len(background.wait(30)) == 2 and not background.running
    assert fn.configuration["MemorySize"] == 256
    assert "cheapest (MB)" in background._repr_mimebundle_()["text/html"]


def test_memory_tuning_refuses_bad_input(lab: LambdaRuntime, noop: Function) -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        MemoryTuning(lab, noop.name, memory_sizes=(64,))
    assert str(caught.value) == (
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128"
    )
    with pytest.raises(ValueError, match="invocations"):
        MemoryTuning(lab, noop.name, invocations=0)
    with pytest.raises(ValueError, match="function_name"):
        MemoryTuning(lab)
    with pytest.raises(ResourceNotFoundException):
        MemoryTuning(lab, "no-such-function")


def test_trace_waterfall_of_an_active_traced_invocation(lab: LambdaRuntime, noop: Function) -> None:
    traced = lab.create_function(
        f"traced-{next(_names)}", "app.handler", NOOP, tracing_config={"Mode": "Active"}
    )
    inv = traced.invoke({})
    _settle(lab)
    waterfall = TraceWaterfall.for_invocation(inv, lab)
    assert waterfall.trace_id == trace_id_of(inv.trace_id)
    data = waterfall.source.data
    assert data["name"][:2] == [traced.name, traced.name]
    assert data["origin"][:2] == ["AWS::Lambda", "AWS::Lambda::Function"]
    assert data["depth"][:2] == [0, 1]
    platform = {n: d for n, d in zip(data["name"], data["depth"], strict=True) if d == 2}
    assert set(platform) == {"Initialization", "Invocation", "Overhead"}  # a cold start
    assert data["left"][0] == 0.0 and all(d >= 0 for d in data["duration_ms"])
    assert waterfall.duration_ms == pytest.approx(max(data["right"]))
    assert waterfall.update() == 0  # nothing new
    path = waterfall.save_html(Path(lab.home) / "trace.html")
    _assert_inline(path)
    assert "Initialization" in waterfall._repr_mimebundle_()["text/html"]
    with pytest.raises(ValueError, match="not sampled"):
        TraceWaterfall.for_invocation(noop.invoke({}), lab)
    for bad in ("Parent=1", "1-abc"):
        with pytest.raises(ValueError, match="not an X-Ray trace id"):
            TraceWaterfall(lab, trace_id=bad)


def test_plots_default_to_the_session_runtime_and_need_a_store(
    lab: LambdaRuntime, noop: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab._session as session

    monkeypatch.setattr(session, "runtime", lambda **options: lab)
    plot = ColdWarmPlot(function_name=noop.name)
    assert plot.runtime is lab and _rows(plot.source) == 3
    plot.close()
    no_store = type("NoStore", (), {"store": None})()
    with pytest.raises(RuntimeError, match="store=False"):
        LifecyclePlot(no_store, noop.name)
