"""Environment lifecycle: one row per execution environment, its time spent in init, busy,
idle, frozen, reset and shutdown, from the transitions the store records.

This is where the model becomes visible: one Init per environment, invokes one at a time,
freezing between them, idle environments reaped, a crashed one reset and re-initialised.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from ._plotdata import LifecycleCursor, LifecycleTracker, lifecycle_spans
from ._plotting import LivePlot, Update, column_source, runtime_or_default, store_of

__all__ = ["LifecyclePlot"]

STATE_COLOURS = {
    "init": "#ff7f0e",
    "busy": "#1f77b4",
    "idle": "#2ca02c",
    "frozen": "#9edae5",
    "reset": "#d62728",
    "shutdown": "#7f7f7f",
}

_ROW_PX = 24


class LifecyclePlot(LivePlot):
    """Spans of each environment's states for ``function_name`` (all functions with None),
    as horizontal bars on a time axis. The current state of a live environment grows until
    it changes. ``start`` (epoch seconds or datetime) leaves out older transitions."""

    def __init__(
        self,
        runtime: Any = None,
        function_name: str | None = None,
        *,
        start: float | datetime | None = None,
        rollover: int | None = 10_000,
        interval: float = 0.5,
        max_rate: float = 10.0,
    ) -> None:
        super().__init__(rollover=rollover, interval=interval, max_rate=max_rate)
        self.runtime = runtime_or_default(runtime)
        self.function_name = function_name
        self.title = f"Environment lifecycle: {function_name or 'all functions'}"
        self._cursor = LifecycleCursor(
            store_of(self.runtime),
            function_name,
            start=start.timestamp() if isinstance(start, datetime) else start,
        )
        self._tracker = LifecycleTracker()
        self._had_open = False
        self.spans = column_source(lifecycle_spans([]))  # closed spans, streamed
        self.open = column_source(lifecycle_spans([]))  # current states, replaced
        self._build()
        self.update()

    def _build(self) -> None:
        from bokeh.models import CDSView, FactorRange, GroupFilter, HoverTool, Legend, LegendItem
        from bokeh.plotting import figure

        p = figure(
            title=self.title,
            x_axis_type="datetime",
            y_range=FactorRange(factors=[]),
            height=200,
            sizing_mode="stretch_width",
            x_axis_label="time",
            y_axis_label="environment",
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
        )
        # one renderer per state and source, so that the legend has an item per state (its
        # swatch appears once the state occurs) and a click hides that state
        items = []
        bars = []
        for state, colour in STATE_COLOURS.items():
            renderers = [
                p.hbar(
                    y="environment",
                    left="left",
                    right="right",
                    height=0.7,
                    source=source,
                    view=CDSView(filter=GroupFilter(column_name="state", group=state)),
                    fill_color=colour,
                    fill_alpha=alpha,
                    line_color=None,
                )
                for source, alpha in ((self.spans, 0.9), (self.open, 0.6))
            ]
            bars += renderers
            items.append(LegendItem(label=state, renderers=renderers))
        p.add_layout(Legend(items=items, orientation="horizontal", click_policy="hide"), "above")
        p.add_tools(
            HoverTool(
                renderers=bars,
                tooltips=[
                    ("environment", "@environment_id"),
                    ("state", "@state"),
                    ("from", "@left{%T.%3N}"),
                    ("for", "@duration_ms{0.00} ms"),
                ],
                formatters={"@left": "datetime"},
            )
        )
        self._figure = p

    def _pull(self) -> Update | None:
        transitions = self._cursor.poll()
        closed = self._tracker.feed(transitions)
        alive = {env.environment_id for env in self.runtime.sandbox.environments}
        current = self._tracker.open_spans(time.time(), alive)
        update = Update(rows=len(closed["state"]))
        if closed["state"]:
            update.streams.append((self.spans, closed))
        if current["state"] or self._had_open:
            update.replace.append((self.open, current))
            self._had_open = bool(current["state"])
        if transitions:
            update.after.append(self._fit_rows)
        return update or None

    def _fit_rows(self) -> None:
        """One row per environment still shown, the first seen at the top."""
        labels = list(
            dict.fromkeys([*self.spans.data["environment"], *self.open.data["environment"]])
        )
        p = self._figure
        p.y_range.factors = labels[::-1]
        p.height = max(200, min(800, 90 + _ROW_PX * len(labels)))

    def _summary(self) -> tuple[list[tuple[str, Any]], list[str], list[list[Any]]]:
        per_env: dict[str, dict[str, float]] = {}
        last: dict[str, str] = {}
        for source in (self.spans, self.open):
            data = source.data
            for env, state, ms in zip(
                data["environment"], data["state"], data["duration_ms"], strict=True
            ):
                totals = per_env.setdefault(env, {})
                totals[state] = totals.get(state, 0.0) + ms
                last[env] = state
        facts: list[tuple[str, Any]] = [
            ("environments", len(per_env)),
            ("alive", len(self.open.data["state"])),
        ]
        for state in STATE_COLOURS:
            total = sum(t.get(state, 0.0) for t in per_env.values())
            if total:
                facts.append((f"{state} (ms)", total))
        headers = ["environment", *(f"{s} (ms)" for s in STATE_COLOURS), "state"]
        rows = [
            [env, *(per_env[env].get(s, 0.0) for s in STATE_COLOURS), last[env]]
            for env in list(per_env)[-10:]
        ]
        return facts, headers, rows
