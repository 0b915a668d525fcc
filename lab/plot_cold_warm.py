"""Cold vs warm: the latency of each invocation over time, coloured by how it started.

A cold start's latency is its Init Duration plus its Duration; the init part is drawn as a
bar stacked on top of the handler's duration, so the cost of a cold start is visible at a
glance next to the warm invocations around it.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from ._plotdata import InvocationCursor, invocation_columns
from ._plotting import LivePlot, Update, column_source, runtime_or_default, store_of

__all__ = ["ColdWarmPlot"]

KIND_COLOURS = {"cold": "#1f77b4", "warm": "#ff7f0e", "provisioned": "#2ca02c"}
INIT_COLOUR = "#d62728"


class ColdWarmPlot(LivePlot):
    """Latency per invocation of ``function_name`` (every function's with None) over time.

    Reads the runtime's store: invocations started from ``start`` (epoch seconds or a
    datetime; everything recorded by default, at most ``rollover`` points kept). ``late_s``
    is how long after the newest shown invocation a slower one that started earlier is still
    picked up (default: the function's timeout plus Init's 10 s, at most 60 s).
    """

    def __init__(
        self,
        runtime: Any = None,
        function_name: str | None = None,
        *,
        start: float | datetime | None = None,
        late_s: float | None = None,
        y_axis_type: str = "log",
        height: int = 320,
        rollover: int | None = 10_000,
        interval: float = 0.5,
        max_rate: float = 10.0,
    ) -> None:
        super().__init__(rollover=rollover, interval=interval, max_rate=max_rate)
        self.runtime = runtime_or_default(runtime)
        self.function_name = function_name
        self.title = f"Cold vs warm: {function_name or 'all functions'}"
        if late_s is None:
            late_s = 60.0
            if function_name is not None:
                timeout = self.runtime.function(function_name).configuration.get("Timeout", 3)
                late_s = min(60.0, float(timeout) + 10.0)
        self._cursor = InvocationCursor(
            store_of(self.runtime),
            function_name,
            start=start.timestamp() if isinstance(start, datetime) else start,
            late_s=late_s,
            first_limit=rollover,
        )
        self.source = column_source(invocation_columns({}))
        self._figure = self._build(y_axis_type, height)
        self.update()

    def _build(self, y_axis_type: str, height: int) -> Any:
        from bokeh.models import HoverTool
        from bokeh.plotting import figure
        from bokeh.transform import factor_cmap

        p = figure(
            title=self.title,
            x_axis_type="datetime",
            y_axis_type=y_axis_type,
            height=height,
            sizing_mode="stretch_width",
            x_axis_label="started",
            y_axis_label="latency (ms)",
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        p.segment(
            x0="t",
            y0="duration_ms",
            x1="t",
            y1="latency_ms",
            source=self.source,
            line_color=INIT_COLOUR,
            line_width=4,
            line_alpha=0.6,
            legend_label="init duration",
        )
        points = p.scatter(
            x="t",
            y="latency_ms",
            source=self.source,
            size=7,
            color=factor_cmap("kind", list(KIND_COLOURS.values()), list(KIND_COLOURS)),
            legend_field="kind",
        )
        p.add_tools(
            HoverTool(
                renderers=[points],
                tooltips=[
                    ("request id", "@request_id"),
                    ("start", "@kind"),
                    ("duration", "@duration_ms{0.00} ms"),
                    ("init", "@init_label"),
                    ("billed", "@billed_duration_ms ms"),
                    ("memory", "@memory_size_mb MB (used @max_memory_used_mb MB)"),
                    ("status", "@status"),
                    ("environment", "@environment_id"),
                ],
            )
        )
        p.legend.location = "top_left"
        p.legend.click_policy = "hide"
        return p

    def _pull(self) -> Update | None:
        table = self._cursor.poll()
        if not table.get("request_id"):
            return None
        columns = invocation_columns(table)
        return Update(streams=[(self.source, columns)], rows=len(columns["request_id"]))

    def _summary(self) -> tuple[list[tuple[str, Any]], list[str], list[list[Any]]]:
        data = self.source.data
        cold = [d for d, c in zip(data["duration_ms"], data["cold"], strict=True) if c]
        warm = [d for d, c in zip(data["duration_ms"], data["cold"], strict=True) if not c]
        inits = [i for i, c in zip(data["init_duration_ms"], data["cold"], strict=True) if c]
        facts: list[tuple[str, Any]] = [
            ("invocations", len(data["request_id"])),
            ("cold starts", len(cold)),
            ("warm p50 duration (ms)", statistics.median(warm) if warm else float("nan")),
            ("cold p50 duration (ms)", statistics.median(cold) if cold else float("nan")),
            ("mean init duration (ms)", statistics.fmean(inits) if inits else float("nan")),
        ]
        keys = ("request_id", "kind", "duration_ms", "init_duration_ms", "status")
        n = len(data["request_id"])
        rows = [[data[k][i] for k in keys] for i in range(max(0, n - 10), n)]
        headers = ["request id", "start", "duration (ms)", "init (ms)", "status"]
        return facts, headers, rows
