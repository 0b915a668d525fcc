"""LoadGenerator: constant, ramp or burst traffic against a function, with a progress bar and
a live summary (invocations, cold starts, throttles, errors, p50/p99).

The engine is :func:`lab._load.run_load`, on a daemon thread; the widget only turns its
snapshots (at most five a second) into trait updates, so thousands of invokes leave the
kernel responsive.
"""

from __future__ import annotations

import html
import json
import threading
from concurrent.futures import Future
from typing import Any

import ipywidgets as w

from kernel_runtime import InvalidRequestContentException

from ._forms import View, describe_error, run_in_daemon
from ._load import PATTERNS, LoadPlan, LoadSummary, run_load

__all__ = ["LoadGenerator"]

_ERROR_STYLE = "color:#b52a2a"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def summary_html(summary: LoadSummary) -> str:
    """The live summary as a one-row table."""
    failures = ", ".join(f"{code} {n}" for code, n in sorted(summary.failures.items()))
    cells = [
        ("Invocations", f"{summary.invocations:,}"),
        ("Cold starts", f"{summary.cold_starts:,}"),
        ("Throttles (429)", f"{summary.throttles:,}"),
        ("Errors", f"{summary.errors:,}"),
        ("Skipped", f"{summary.skipped:,}"),
        ("p50", _ms(summary.p50_ms)),
        ("p99", _ms(summary.p99_ms)),
        ("Rate", f"{summary.achieved_rps:,.1f}/s"),
        ("Elapsed", f"{summary.elapsed_s:.1f} s"),
    ]
    if failures:
        cells.append(("Other errors", failures))
    head = "".join(f"<th style='padding:0 .6em'>{html.escape(k)}</th>" for k, _ in cells)
    row = "".join(f"<td style='padding:0 .6em'>{html.escape(v)}</td>" for _, v in cells)
    state = "stopped" if summary.stopped else "done" if summary.finished else "running"
    codes = ", ".join(f"{code}: {n:,}" for code, n in sorted(summary.status_codes.items()))
    return (
        f"<table><tr>{head}</tr><tr>{row}</tr></table>"
        f"<div style='color:#666'>{state} · status codes {html.escape(codes or '–')}</div>"
    )


class LoadGenerator(View):
    """Send traffic to a function; ``start()``/``stop()`` (or the buttons). ``.summary`` is
    the latest :class:`~lab._load.LoadSummary`; ``.pending`` holds the running run's future."""

    def __init__(
        self,
        runtime: Any = None,
        function_name: str = "",
        *,
        pattern: str = "constant",
        rps: float = 10.0,
        duration_s: float = 10.0,
        concurrency: int = 10,
        invocation_type: str = "RequestResponse",
        progress_interval: float = 0.2,
    ) -> None:
        super().__init__()
        if runtime is None:
            from . import _session

            runtime = _session.runtime()
        self.runtime = runtime
        self.function = runtime.function(function_name)  # ResourceNotFoundException if absent
        self.progress_interval = progress_interval
        self.summary: LoadSummary | None = None
        self._stop = threading.Event()
        style = {"description_width": "9em"}
        self.pattern = w.ToggleButtons(options=list(PATTERNS), value=pattern, description="Pattern")
        self.rps = w.BoundedFloatText(
            value=rps, min=0, max=100_000, description="Rate (rps)", style=style,
            tooltip="requests per second; 0 = as fast as possible",
        )  # fmt: skip
        self.ramp_to = w.BoundedFloatText(
            value=rps * 2, min=0, max=100_000, description="Ramp to (rps)", style=style
        )
        self.duration = w.BoundedFloatText(
            value=duration_s, min=0.1, max=3600, description="Duration (s)", style=style
        )
        self.concurrency = w.BoundedIntText(
            value=concurrency, min=1, max=1000, description="Concurrency", style=style,
            tooltip="client workers: requests due while all are busy are skipped",
        )  # fmt: skip
        self.requests = w.BoundedIntText(
            value=0, min=0, max=10_000_000, description="Max requests", style=style,
            tooltip="0: no limit",
        )  # fmt: skip
        self.invocation_type = w.Dropdown(
            options=[("sync (RequestResponse)", "RequestResponse"), ("async (Event)", "Event")],
            value=invocation_type,
            description="Invocation",
            style=style,
        )
        self.event = w.Textarea(value="{}", description="Event", rows=2, style=style)
        self.start_button = w.Button(description="Start", button_style="success", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop")
        self.stop_button.disabled = True
        self.progress = w.IntProgress(value=0, min=0, max=100, description="0 %")
        self.summary_view = w.HTML()
        self.status = w.HTML()
        self.widget = w.VBox(
            [
                w.HTML(f"<b>Load on {html.escape(self.function.name)}</b>"),
                self.pattern,
                w.HBox([self.rps, self.ramp_to, self.duration]),
                w.HBox([self.concurrency, self.requests, self.invocation_type]),
                self.event,
                w.HBox([self.start_button, self.stop_button, self.progress]),
                self.status,
                self.summary_view,
            ]
        )
        self.pattern.observe(self._on_pattern, names="value")
        self._on_pattern()
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())

    def _on_pattern(self, change: Any = None) -> None:
        self.ramp_to.disabled = self.pattern.value != "ramp"

    @property
    def running(self) -> bool:
        return any(not f.done() for f in self.pending)

    def plan(self) -> LoadPlan:
        """The plan the controls describe (InvalidParameterValueException when inconsistent)."""
        try:
            event = json.loads(self.event.value) if self.event.value.strip() else None
        except json.JSONDecodeError as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})"
            ) from None
        return LoadPlan(
            pattern=self.pattern.value,
            rps=float(self.rps.value),
            duration_s=float(self.duration.value),
            concurrency=int(self.concurrency.value),
            invocation_type=self.invocation_type.value,
            ramp_to=float(self.ramp_to.value) if self.pattern.value == "ramp" else None,
            requests=int(self.requests.value) or None,
            event=event,
        )

    def start(self) -> Future[LoadSummary | None] | None:
        """Start a run on a daemon thread (None when one is running or the plan is invalid:
        the reason is shown)."""
        if self.running:
            return None
        try:
            plan = self.plan()
        except Exception as exc:  # noqa: BLE001 - the widget's boundary: shown, never raised
            self.status.value = (
                f"<span style='{_ERROR_STYLE}'>{html.escape(describe_error(exc))}</span>"
            )
            return None
        self._stop = threading.Event()
        self.start_button.disabled = True
        self.stop_button.disabled = False
        self._set_progress(0.0)
        self.status.value = "running…"
        stop = self._stop

        def run() -> LoadSummary | None:
            try:
                summary = run_load(
                    self.runtime,
                    self.function.name,
                    plan,
                    on_progress=self._on_progress,
                    stop_event=stop,
                    progress_interval=self.progress_interval,
                )
            except Exception as exc:  # noqa: BLE001 - shown in the widget, never raised
                self.status.value = (
                    f"<span style='{_ERROR_STYLE}'>{html.escape(describe_error(exc))}</span>"
                )
                return None
            finally:
                self.start_button.disabled = False
                self.stop_button.disabled = True
            self.status.value = "stopped" if summary.stopped else "done"
            return summary

        return self._track(run_in_daemon(run, name="lambda-lab-load"))

    def stop(self) -> None:
        """Stop the run: no new requests; the ones in flight finish."""
        self._stop.set()

    def _on_progress(self, summary: LoadSummary) -> None:
        self.summary = summary
        self._set_progress(summary.progress)
        self.summary_view.value = summary_html(summary)

    def _set_progress(self, fraction: float) -> None:
        percent = round(fraction * 100)
        self.progress.value = percent
        self.progress.description = f"{percent} %"

    def close(self) -> None:
        self.stop()
        for future in list(self.pending):
            future.exception(30)
        super().close()

    def _text(self) -> str:
        state = "running" if self.running else "idle"
        last = ""
        if self.summary is not None:
            s = self.summary
            last = (
                f", last: {s.invocations} invocations, {s.cold_starts} cold starts, "
                f"{s.throttles} throttles, {s.errors} errors"
            )
        return f"<LoadGenerator {self.function.name} {state}{last}>"
