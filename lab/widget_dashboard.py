"""Dashboard: one tabbed view of a function: invoke, configure, load, logs, and the live plots
(cold vs warm, concurrency, lifecycle), all on the same runtime."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w

from ._forms import View
from .widget_event_builder import EventBuilder
from .widget_function_panel import FunctionPanel
from .widget_load_generator import LoadGenerator
from .widget_log_tail import LogTail

__all__ = ["Dashboard"]


def default_plots(runtime: Any, function_name: str) -> dict[str, Any]:
    """The function's live plots, by tab title (imported here: Bokeh loads only when a
    dashboard is built)."""
    from .plot_cold_warm import ColdWarmPlot
    from .plot_concurrency import ConcurrencyPlot
    from .plot_lifecycle import LifecyclePlot

    plots: dict[str, Any] = {}
    try:
        plots["Cold vs warm"] = ColdWarmPlot(runtime, function_name)
        plots["Concurrency"] = ConcurrencyPlot(runtime, function_name)
        plots["Lifecycle"] = LifecyclePlot(runtime, function_name)
    except BaseException:
        for plot in plots.values():
            plot.close()
        raise
    return plots


class Dashboard(View):
    """Every widget of ``function_name`` in one ``ipywidgets.Tab``.

    ``plots``: tab title -> plot (anything with ``.widget``, ``start()``, ``close()``); by
    default the function's ColdWarmPlot, ConcurrencyPlot and LifecyclePlot. With ``live`` the
    plots refresh on their own until :meth:`close`. ``.event_builder``, ``.function_panel``,
    ``.load_generator`` and ``.log_tail`` are the parts.
    """

    def __init__(
        self,
        runtime: Any = None,
        function_name: str = "",
        *,
        plots: Mapping[str, Any] | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        if runtime is None:
            from . import _session

            runtime = _session.runtime()
        self.runtime = runtime
        self.function_name = runtime.function(function_name).name  # ResourceNotFound if absent
        self.parts: dict[str, View] = {}
        self.plots: dict[str, Any] = {}
        try:
            self.event_builder = self._part("Invoke", EventBuilder(runtime, function_name))
            self.function_panel = self._part("Configuration", FunctionPanel(runtime, function_name))
            self.load_generator = self._part("Load", LoadGenerator(runtime, function_name))
            self.log_tail = self._part("Logs", LogTail(runtime, function_name))
            self.plots = dict(default_plots(runtime, function_name) if plots is None else plots)
            children = [part.widget for part in self.parts.values()]
            children += [plot.widget for plot in self.plots.values()]
            titles = [*self.parts, *self.plots]
            self.widget = w.Tab(children=children, titles=titles)
            if live:
                for plot in self.plots.values():
                    plot.start()
        except BaseException:
            self._close_parts()
            raise

    def _part(self, title: str, view: Any) -> Any:
        self.parts[title] = view
        return view

    @property
    def titles(self) -> tuple[str, ...]:
        return tuple(self.widget.titles)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self.plots:  # a BokehModel shown before BokehJS is on the page does not render
            from . import _session

            _session.load_bokehjs()
        return super()._repr_mimebundle_(**kwargs)

    def _close_parts(self) -> None:
        for plot in self.plots.values():
            plot.close()
        for part in self.parts.values():
            part.close()

    def close(self) -> None:
        """Stop every part's threads, followers and refreshers, then close the tabs."""
        if self._closed:
            return
        self._close_parts()
        self._closed = True
        if getattr(self, "widget", None) is not None:
            self.widget.close()

    def _text(self) -> str:
        return f"<Dashboard {self.function_name}: {', '.join([*self.parts, *self.plots])}>"
