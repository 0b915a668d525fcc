"""Memory tuning in the spirit of AWS Lambda Power Tuning: run a function at several memory
sizes, measure its duration and what one invocation costs at each, and find the cheapest and
the fastest configuration.

More memory buys more CPU (1,769 MB = one vCPU), so a CPU-bound function often gets faster
*and* cheaper up to a point, then only faster; an I/O-bound one only dearer. Durations here
are measured in real environments with the memory size's CPU share, and priced at AWS's list
prices (:func:`kernel_runtime.observe.invocation_costs`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

from kernel_runtime import InvalidParameterValueException

from ._plotdata import mark_best, tuning_result
from ._plotting import LivePlot, Update, column_source, kernel_loop, runtime_or_default

__all__ = ["DEFAULT_MEMORY_SIZES", "MemoryTuning"]

#: Power Tuning's suggested power values, plus 1,769 MB (one full vCPU).
DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)

_MILLION = 1_000_000


def _check_memory_size(value: object) -> int:
    """AWS's validation of memorySize (UpdateFunctionConfiguration), before anything changes."""
    member = "memorySize"
    if not isinstance(value, int) or isinstance(value, bool):
        constraint = "Member must be an integer"
    elif value < 128:
        constraint = "Member must have value greater than or equal to 128"
    elif value > 10240:
        constraint = "Member must have value less than or equal to 10240"
    else:
        return value
    raise InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


class MemoryTuning(LivePlot):
    """Tune ``function_name``'s memory: for each of ``memory_sizes``, reconfigure the
    function, invoke it once to warm it up (the cold start, left out as Power Tuning does),
    then ``invocations`` times with ``event``; then restore the original memory size.

    :meth:`run` blocks and returns :attr:`results`; :meth:`start` runs in a background
    thread and the plot fills in as sizes complete (:meth:`wait` for the results). The plot
    shows the mean duration and the cost per invocation of each size, and marks the cheapest
    and the fastest.
    """

    def __init__(
        self,
        runtime: Any = None,
        function_name: str | None = None,
        *,
        memory_sizes: Sequence[int] = DEFAULT_MEMORY_SIZES,
        invocations: int = 10,
        event: Any = None,
        height: int = 340,
    ) -> None:
        super().__init__(rollover=None)
        if not function_name:
            raise ValueError("MemoryTuning needs the function_name of the function to tune")
        if isinstance(invocations, bool) or not isinstance(invocations, int) or invocations < 1:
            raise ValueError(f"invocations must be an int >= 1, got {invocations!r}")
        sizes = sorted({_check_memory_size(m) for m in memory_sizes})
        if not sizes:
            raise ValueError("memory_sizes must name at least one memory size")
        self.runtime = runtime_or_default(runtime)
        self.function = self.runtime.function(function_name)  # ResourceNotFoundException
        self.function_name = function_name
        self.memory_sizes: tuple[int, ...] = tuple(sizes)
        self.invocations = invocations
        self.event = event
        self.title = f"Memory tuning: {function_name}"
        self.error: BaseException | None = None
        self._results: list[dict[str, Any]] = []
        self._results_lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Lock()  # one run at a time
        self.source = column_source(self._columns([]))
        self.cheapest_mark = column_source({"memory": [], "y": [], "label": []})
        self.fastest_mark = column_source({"memory": [], "y": [], "label": []})
        self._build(height)

    # -- results ----------------------------------------------------------------------------------
    @property
    def results(self) -> list[dict[str, Any]]:
        """One dict per memory size measured so far: ``memory_size``, ``invocations``,
        ``measured`` (warm ones), ``cold_starts``, ``errors``, ``duration_ms`` (mean),
        ``p50_ms``, ``p90_ms``, ``min_ms``, ``max_ms``, ``billed_duration_ms`` (mean),
        ``cost_usd`` (mean per invocation) and ``cost_per_million_usd``."""
        with self._results_lock:
            return [dict(r) for r in self._results]

    @property
    def cheapest(self) -> dict[str, Any] | None:
        """The result with the lowest cost per invocation (ties: the faster)."""
        return self._best(0)

    @property
    def fastest(self) -> dict[str, Any] | None:
        """The result with the lowest mean duration (ties: the cheaper)."""
        return self._best(1)

    def _best(self, which: int) -> dict[str, Any] | None:
        results = self.results
        size = mark_best(results)[which]
        return next((r for r in results if r["memory_size"] == size), None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def live(self) -> bool:
        return False  # updated by the tuning itself, not by polling

    # -- running ----------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Tune now (blocking); returns :attr:`results`."""
        self._execute()
        if self.error is not None:
            raise self.error
        return self.results

    def start(self) -> MemoryTuning:
        """Tune in a background daemon thread; the plot updates as each size completes."""
        if self._closed:
            raise RuntimeError("this MemoryTuning is closed")
        if self.running:
            raise RuntimeError("this MemoryTuning is already running")
        self._loop = kernel_loop()
        self._thread = threading.Thread(
            target=self._execute, name="lambda-lab-memory-tuning", daemon=True
        )
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Wait for a :meth:`start`-ed tuning; its results (or its error, raised)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"memory tuning still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.results

    def stop(self) -> None:
        """Stop after the invocation in progress; the original memory size is restored."""
        self._cancel.set()

    def _execute(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("this MemoryTuning is already running")
        try:
            self.error = None
            self._cancel.clear()
            with self._results_lock:
                self._results = []
            config = self.function.configuration
            original = int(config["MemorySize"])
            architecture = (config.get("Architectures") or ["x86_64"])[0]
            try:
                for size in self.memory_sizes:
                    if self._cancel.is_set():
                        break
                    result = self._measure(size, architecture)
                    if result is None:
                        break
                    with self._results_lock:
                        self._results.append(result)
                    self._show()
            finally:
                self.function.configure(memory_size=original)
        except Exception as exc:  # noqa: BLE001 - kept for wait()/run() and shown on the plot
            self.error = exc
            self._show()
        finally:
            self._busy.release()

    def _measure(self, size: int, architecture: str) -> dict[str, Any] | None:
        from kernel_runtime.observe import invocation_costs

        self.function.configure(memory_size=size)
        self.function.invoke(self.event)  # warm-up: this one is the cold start
        rows: list[dict[str, Any]] = []
        for _ in range(self.invocations):
            if self._cancel.is_set():
                return None
            inv = self.function.invoke(self.event)
            rows.append(
                {
                    "duration_ms": inv.duration_ms,
                    "billed_duration_ms": inv.billed_duration_ms,
                    "memory_size_mb": inv.memory_size_mb,
                    "architecture": architecture,
                    "initialization_type": inv.initialization_type,
                    "cold_start": inv.cold_start,
                    "status": inv.status,
                }
            )
        result = tuning_result(size, rows, invocation_costs(rows))
        result["cost_per_million_usd"] = result["cost_usd"] * _MILLION
        return result

    # -- the plot ---------------------------------------------------------------------------------
    @staticmethod
    def _columns(results: list[dict[str, Any]]) -> dict[str, list[Any]]:
        return {
            "memory": [str(r["memory_size"]) for r in results],
            "memory_size": [r["memory_size"] for r in results],
            "duration_ms": [r["duration_ms"] for r in results],
            "p90_ms": [r["p90_ms"] for r in results],
            "cost": [r["cost_per_million_usd"] for r in results],
            "measured": [r["measured"] for r in results],
            "errors": [r["errors"] for r in results],
        }

    def _build(self, height: int) -> None:
        from bokeh.core.properties import field
        from bokeh.models import HoverTool, LegendItem, LinearAxis, Range1d
        from bokeh.plotting import figure

        p = figure(
            title=self.title,
            x_range=[str(m) for m in self.memory_sizes],
            height=height,
            sizing_mode="stretch_width",
            x_axis_label="memory size (MB)",
            y_axis_label="mean duration (ms)",
            tools="save,reset",
        )
        p.extra_y_ranges = {"cost": Range1d(0, 1)}
        p.add_layout(
            LinearAxis(y_range_name="cost", axis_label="cost per 1M invocations (USD)"), "right"
        )
        p.line("memory", "duration_ms", source=self.source, line_width=2, color="#1f77b4")
        duration = p.scatter(
            "memory",
            "duration_ms",
            source=self.source,
            size=9,
            color="#1f77b4",
            legend_label="duration",
        )
        p.line(
            "memory", "cost", source=self.source, y_range_name="cost", line_width=2, color="#ff7f0e"
        )
        cost = p.scatter(
            "memory",
            "cost",
            source=self.source,
            y_range_name="cost",
            size=9,
            marker="square",
            color="#ff7f0e",
            legend_label="cost",
        )
        marks = [
            p.scatter(
                "memory",
                "y",
                source=self.cheapest_mark,
                y_range_name="cost",
                marker="star",
                size=22,
                fill_color="#2ca02c",
                line_color="black",
            ),
            p.scatter(
                "memory",
                "y",
                source=self.fastest_mark,
                marker="star",
                size=22,
                fill_color="#9467bd",
                line_color="black",
            ),
        ]
        # one legend item per mark ("cheapest: 512 MB"): items of their own, so that Bokeh
        # does not merge the two field labels into one item
        p.legend[0].items += [LegendItem(label=field("label"), renderers=[r]) for r in marks]
        p.add_tools(
            HoverTool(
                renderers=[duration, cost],
                tooltips=[
                    ("memory", "@memory MB"),
                    ("mean duration", "@duration_ms{0.00} ms (p90 @p90_ms{0.00} ms)"),
                    ("cost per 1M invocations", "$@cost{0.0000}"),
                    ("measured", "@measured (errors: @errors)"),
                ],
            )
        )
        p.y_range.start = 0
        p.legend.location = "top_center"
        p.legend.orientation = "horizontal"
        self._figure = p

    def _show(self) -> None:
        """Hand the current results to the plot (on the kernel's loop when started there)."""
        results = self.results
        columns = self._columns(results)
        cheapest, fastest = mark_best(results)
        by_size = {r["memory_size"]: r for r in results}
        cheap_mark: dict[str, list[Any]] = {"memory": [], "y": [], "label": []}
        fast_mark: dict[str, list[Any]] = {"memory": [], "y": [], "label": []}
        if cheapest is not None:
            cost = by_size[cheapest]["cost_per_million_usd"]
            cheap_mark = {
                "memory": [str(cheapest)],
                "y": [cost],
                "label": [f"cheapest: {cheapest} MB"],
            }
        if fastest is not None:
            ms = by_size[fastest]["duration_ms"]
            fast_mark = {"memory": [str(fastest)], "y": [ms], "label": [f"fastest: {fastest} MB"]}
        costs = [c for c in columns["cost"] if not math.isnan(c)]
        top = max(costs, default=1.0) * 1.15 or 1.0
        error = self.error
        done = len(results)

        def relabel() -> None:
            p = self._figure
            p.extra_y_ranges["cost"].end = top
            status = f"{done}/{len(self.memory_sizes)} sizes"
            if error is not None:
                status += f", failed: {type(error).__name__}: {error}"
            p.title.text = f"{self.title} ({status})"

        update = Update(
            replace=[
                (self.source, columns),
                (self.cheapest_mark, cheap_mark),
                (self.fastest_mark, fast_mark),
            ],
            after=[relabel],
            rows=done,
        )
        with self._doc_lock:
            self._pending = update
        self._publish()

    def _summary(self) -> tuple[list[tuple[str, Any]], list[str], list[list[Any]]]:
        results = self.results
        cheapest, fastest = mark_best(results)
        state = "failed" if self.error else "running" if self.running else "done"
        facts: list[tuple[str, Any]] = [
            ("sizes measured", f"{len(results)} of {len(self.memory_sizes)} ({state})"),
            ("invocations per size", self.invocations),
            ("cheapest (MB)", cheapest if cheapest is not None else "-"),
            ("fastest (MB)", fastest if fastest is not None else "-"),
        ]
        headers = ["memory (MB)", "mean (ms)", "p90 (ms)", "cost per 1M (USD)", "measured"]
        rows = [
            [
                r["memory_size"],
                r["duration_ms"],
                r["p90_ms"],
                r["cost_per_million_usd"],
                r["measured"],
            ]
            for r in results
        ]
        return facts, headers, rows
