"""Concurrency and scaling: concurrent executions, environments alive and throttles per
second, against the limits that cause throttling (account, reserved, provisioned).

The live service and the simulator produce the same per-bucket columns
(``runtime.service.pools.series.columns()`` and ``SimulationResult.columns()``), so one plot
shows both: a run on the laptop, and the same policy at AWS scale.
"""

from __future__ import annotations

from typing import Any

from ._plotdata import SeriesCursor, concurrency_columns, concurrency_limits
from ._plotting import LivePlot, Update, column_source, runtime_or_default

__all__ = ["ConcurrencyPlot"]

LIMIT_COLOURS = {
    "account concurrency": "#7f7f7f",
    "reserved concurrency": "#9467bd",
    "provisioned concurrency": "#17becf",
}


class ConcurrencyPlot(LivePlot):
    """Per-second concurrency, environments and throttles of the runtime's account, with
    reference lines for the account's concurrency limit and, given ``function_name``, that
    function's reserved and provisioned concurrency (as configured now).

    :meth:`from_simulation` shows a :func:`kernel_runtime.simulate.simulate` result instead.
    """

    def __init__(
        self,
        runtime: Any = None,
        function_name: str | None = None,
        *,
        height: int = 320,
        rollover: int | None = 3600,
        interval: float = 0.5,
        max_rate: float = 10.0,
    ) -> None:
        super().__init__(rollover=rollover, interval=interval, max_rate=max_rate)
        self.runtime = runtime_or_default(runtime)
        self.function_name = function_name
        self.title = "Concurrency and scaling" + (f" ({function_name})" if function_name else "")
        self._cursor = SeriesCursor()
        self._shown_limits: dict[str, list[Any]] | None = None
        self._build(epoch=True, height=height, bucket_s=1.0)
        self.update()

    @classmethod
    def from_simulation(
        cls,
        result: Any,
        *,
        limits: Any = None,
        reserved: int | None = None,
        provisioned: int = 0,
        title: str | None = None,
        height: int = 320,
    ) -> ConcurrencyPlot:
        """A static plot of a ``SimulationResult``; pass the ``limits``, ``reserved`` and
        ``provisioned`` the simulation ran with to draw them (AWS's default limits if not)."""
        from kernel_runtime import Limits

        for name in ("t", "concurrency", "environments", "throttles"):
            if not hasattr(result, name):
                raise TypeError(f"not a simulation result (no {name!r}): {type(result).__name__}")
        plot = cls.__new__(cls)
        LivePlot.__init__(plot, rollover=None)
        plot.runtime = None
        plot.function_name = None
        plot.title = title or f"Simulated concurrency and scaling ({len(result.t)} buckets)"
        plot._cursor = SeriesCursor()
        plot._shown_limits = None
        plot._build(epoch=False, height=height, bucket_s=float(result.bucket_s))
        account = (limits or Limits()).account_concurrency
        with plot._doc_lock:
            plot._apply(
                Update(
                    replace=[
                        (plot.source, concurrency_columns(result.columns(), epoch=False)),
                        *plot._limit_sources(concurrency_limits(account, reserved, provisioned)),
                    ],
                    rows=len(result.t),
                )
            )
        return plot

    @property
    def live(self) -> bool:
        return self.runtime is not None

    def _build(self, *, epoch: bool, height: int, bucket_s: float) -> None:
        from bokeh.models import HoverTool
        from bokeh.plotting import figure
        from bokeh.transform import factor_cmap

        self.source = column_source(concurrency_columns({}, epoch=epoch))
        self.limits = column_source(concurrency_limits(None))  # reserved, provisioned
        self.account_limit = column_source(concurrency_limits(None))
        p = figure(
            title=self.title,
            x_axis_type="datetime" if epoch else "linear",
            height=height,
            sizing_mode="stretch_width",
            x_axis_label="time" if epoch else "simulated time (s)",
            y_axis_label="count",
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        width = (1000.0 if epoch else 1.0) * bucket_s * 0.8
        bars = p.vbar(
            x="x",
            top="throttles",
            width=width,
            source=self.source,
            fill_color="#d62728",
            line_color=None,
            alpha=0.5,
            legend_label="throttles",
        )
        envs = p.step(
            x="x",
            y="environments",
            source=self.source,
            mode="after",
            line_color="#2ca02c",
            line_width=2,
            legend_label="environments",
        )
        conc = p.step(
            x="x",
            y="concurrency",
            source=self.source,
            mode="after",
            line_color="#1f77b4",
            line_width=2,
            legend_label="concurrent executions",
        )
        colours = factor_cmap("limit", list(LIMIT_COLOURS.values()), list(LIMIT_COLOURS))
        p.hspan(
            y="y",
            source=self.account_limit,
            line_dash="dotted",
            line_width=2,
            line_color=LIMIT_COLOURS["account concurrency"],
            legend_label="account concurrency",
        )
        function_limits = p.hspan(
            y="y",
            source=self.limits,
            line_dash="dashed",
            line_width=2,
            line_color=colours,
            legend_field="limit",
        )
        # The account's 1,000 would flatten a lab's handful of executions: its line shows
        # once the data come near it, the function's own limits always do.
        p.y_range.renderers = [bars, envs, conc, function_limits]
        p.add_tools(
            HoverTool(
                renderers=[conc, envs],
                mode="vline",
                tooltips=[
                    ("t", "@x{%T}" if epoch else "@x{0.0} s"),
                    ("invocations", "@invocations"),
                    ("concurrent executions", "@concurrency"),
                    ("environments", "@environments"),
                    ("cold starts", "@cold_starts"),
                    ("throttles", "@throttles"),
                ],
                formatters={"@x": "datetime"} if epoch else {},
            )
        )
        p.legend.location = "top_left"
        p.legend.click_policy = "hide"
        self._figure = p

    def _limit_sources(
        self, limits: dict[str, list[Any]]
    ) -> list[tuple[Any, dict[str, list[Any]]]]:
        """``limits`` split between the account's line and the function's lines."""
        account = [i for i, name in enumerate(limits["limit"]) if name == "account concurrency"]
        other = [i for i in range(len(limits["limit"])) if i not in account]
        return [
            (self.account_limit, {k: [v[i] for i in account] for k, v in limits.items()}),
            (self.limits, {k: [v[i] for i in other] for k, v in limits.items()}),
        ]

    def _current_limits(self) -> dict[str, list[Any]]:
        from kernel_runtime import ResourceNotFoundException

        pools = self.runtime.service.pools
        reserved = provisioned = None
        if self.function_name is not None:
            reserved = pools.reserved(self.function_name)
            try:
                configs = self.runtime.service.registry.list_provisioned_concurrency_configs(
                    self.function_name
                )["ProvisionedConcurrencyConfigs"]
            except ResourceNotFoundException:
                configs = []
            provisioned = sum(c["RequestedProvisionedConcurrentExecutions"] for c in configs)
        return concurrency_limits(pools.limits.account_concurrency, reserved, provisioned)

    def _pull(self) -> Update | None:
        if self.runtime is None:
            return None
        series = self.runtime.service.pools.series.columns()
        patch, new = self._cursor.poll(concurrency_columns(series, epoch=True))
        update = Update(rows=len(new["t"]))
        if patch is not None:
            update.patch_last.append((self.source, patch))
        if new["t"]:
            update.streams.append((self.source, new))
        limits = self._current_limits()
        if limits != self._shown_limits:
            update.replace += self._limit_sources(limits)
            self._shown_limits = limits
        return update or None

    def _summary(self) -> tuple[list[tuple[str, Any]], list[str], list[list[Any]]]:
        data = self.source.data
        facts: list[tuple[str, Any]] = [
            ("buckets", len(data["t"])),
            ("invocations", sum(data["invocations"])),
            ("cold starts", sum(data["cold_starts"])),
            ("throttles", sum(data["throttles"])),
            ("max concurrency", max(data["concurrency"], default=0)),
            ("max environments", max(data["environments"], default=0)),
        ]
        for source in (self.account_limit, self.limits):
            facts += list(zip(source.data["limit"], source.data["y"], strict=True))
        keys = ("t", "invocations", "concurrency", "environments", "cold_starts", "throttles")
        n = len(data["t"])
        rows = [[data[k][i] for k in keys] for i in range(max(0, n - 10), n)]
        headers = ["t", "invocations", "concurrency", "environments", "cold starts", "throttles"]
        return facts, headers, rows
