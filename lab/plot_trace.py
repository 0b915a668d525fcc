"""Trace waterfall: the segments and subsegments of one X-Ray trace, as the X-Ray console
draws them: one bar per (sub)segment on a shared time axis, indented by depth.

The platform's segments (``AWS::Lambda``, ``AWS::Lambda::Function`` with Initialization,
Invocation and Overhead) are recorded when the invocation ends; what the handler's X-Ray SDK
sends arrives through the local daemon, a little later: a live waterfall redraws until both
are in.
"""

from __future__ import annotations

import re
from typing import Any

from ._plotdata import trace_id_of, trace_rows
from ._plotting import LivePlot, Update, column_source, runtime_or_default, store_of

__all__ = ["TraceWaterfall"]

STATUS_COLOURS = {
    "ok": "#1f77b4",
    "error": "#ff7f0e",
    "fault": "#d62728",
    "throttle": "#9467bd",
    "in progress": "#c7c7c7",
}

_ROW_PX = 34
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


class TraceWaterfall(LivePlot):
    """The waterfall of trace ``trace_id`` (``1-5759e988-bd862e3fe1be46a994272793``, or a
    whole ``X-Amzn-Trace-Id`` header) from the runtime's store.
    :meth:`for_invocation` finds the trace of an invocation."""

    def __init__(
        self,
        runtime: Any = None,
        function_name: str | None = None,
        *,
        trace_id: str,
        interval: float = 0.5,
        max_rate: float = 10.0,
    ) -> None:
        super().__init__(rollover=None, interval=interval, max_rate=max_rate)
        root = trace_id_of(trace_id) if "=" in trace_id else trace_id
        if not root or not _TRACE_ID.match(root):
            raise ValueError(
                f"not an X-Ray trace id (1-<8 hex digits>-<24 hex digits>): {trace_id!r}"
            )
        self.runtime = runtime_or_default(runtime)
        self.function_name = function_name
        self.trace_id = root
        self.title = f"Trace {root}"
        self._store = store_of(self.runtime)
        self._signature: tuple[Any, ...] = ()
        self.duration_ms = 0.0
        self.source = column_source(_with_indent(trace_rows({})))
        self._build()
        self.update()

    @classmethod
    def for_invocation(cls, invocation: Any, runtime: Any = None, **options: Any) -> TraceWaterfall:
        """The waterfall of an ``Invocation`` (or a store row with ``trace_id``). Only a
        sampled invocation has a trace: Active tracing and the sampling rule decide."""
        header = invocation.get("trace_id") if isinstance(invocation, dict) else invocation.trace_id
        root = trace_id_of(header or "")
        if root is None:
            raise ValueError(f"the invocation has no X-Ray trace header: {header!r}")
        if "Sampled=0" in header:
            raise ValueError(
                f"trace {root} was not sampled: enable Active tracing "
                '(tracing_config={"Mode": "Active"}) and check the sampling rule'
            )
        name = invocation.get("function_name") if isinstance(invocation, dict) else None
        name = name or getattr(invocation, "function_name", None)
        return cls(runtime, name, trace_id=root, **options)

    def _build(self) -> None:
        from bokeh.models import HoverTool, Range1d
        from bokeh.plotting import figure
        from bokeh.transform import dodge, factor_cmap

        p = figure(
            title=self.title,
            y_range=Range1d(0.5, -0.5),  # row 0 at the top
            height=140,
            sizing_mode="stretch_width",
            x_axis_label="ms from the start of the trace",
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
        )
        # each row: its name and duration on top, indented by depth from the trace's start,
        # its bar below (the X-Ray console's waterfall, in one figure)
        bars = p.hbar(
            y=dodge("row", 0.17, range=p.y_range),
            left="left",
            right="right",
            height=0.42,
            source=self.source,
            fill_color=factor_cmap("status", list(STATUS_COLOURS.values()), list(STATUS_COLOURS)),
            line_color=None,
            legend_field="status",
        )
        p.text(
            x=0.0,
            y=dodge("row", -0.08, range=p.y_range),
            text="text",
            source=self.source,
            x_offset="indent_px",
            text_font_size="9pt",
            text_baseline="bottom",
        )
        p.yaxis.visible = False
        p.ygrid.visible = False
        p.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("name", "@name"),
                    ("origin", "@origin"),
                    ("start", "@left{0.00} ms"),
                    ("duration", "@duration_ms{0.00} ms"),
                    ("status", "@status"),
                    ("id", "@id"),
                ],
            )
        )
        p.legend.location = "bottom_right"
        self._figure = p

    def _pull(self) -> Update | None:
        from kernel_runtime.observe import trace_tree

        docs = self._store.segments(self.trace_id)
        signature = tuple((d.get("id"), d.get("end_time"), d.get("in_progress")) for d in docs)
        if signature == self._signature:
            return None
        self._signature = signature
        tree = trace_tree(docs, self.trace_id)
        rows = _with_indent(trace_rows(tree))
        duration = float(tree["duration"]) * 1000.0

        def relabel() -> None:
            self.duration_ms = duration
            p = self._figure
            n = len(rows["row"])
            p.y_range.start, p.y_range.end = n - 0.5, -0.5
            p.height = max(140, min(900, 90 + _ROW_PX * n))
            p.title.text = f"{self.title}: {duration:.2f} ms, {n} (sub)segments"

        return Update(replace=[(self.source, rows)], after=[relabel], rows=len(rows["row"]))

    def _summary(self) -> tuple[list[tuple[str, Any]], list[str], list[list[Any]]]:
        data = self.source.data
        facts: list[tuple[str, Any]] = [
            ("trace id", self.trace_id),
            ("duration (ms)", self.duration_ms),
            ("(sub)segments", len(data["row"])),
        ]
        rows = [
            [label, start, ms, status]
            for label, start, ms, status in zip(
                data["label"], data["left"], data["duration_ms"], data["status"], strict=True
            )
        ][:30]
        return facts, ["name", "start (ms)", "duration (ms)", "status"], rows


def _with_indent(rows: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Add ``indent_px``: where a row's name starts, right of the trace's start."""
    rows["indent_px"] = [4 + 16 * depth for depth in rows["depth"]]
    return rows
