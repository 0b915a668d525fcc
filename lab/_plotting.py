"""What every plot shares: the live refresher, the kernel-safe way of changing a Bokeh
document, HTML export with INLINE resources, and the static fallback for viewers without a
widget frontend.

Threads and the kernel's loop: a plot's refresher is a daemon thread that wakes every
``interval`` seconds (or when :meth:`Refresher.trigger`-ed), *pulls* new data (SQLite reads,
never on the kernel's loop) and hands the resulting :class:`Update` to the loop with
``loop.call_soon_threadsafe``, where it is applied to the ``ColumnDataSource``\\ s in a few
microseconds per row. While one update waits for the loop (a long cell is running), nothing
more is pulled: the next pull, after it ran, picks up everything in between. Without a running
loop (pytest, scripts) updates are applied on the refresher's thread.

Coalescing: the refresher runs at most ``max_rate`` times per second (10 by default): triggers
that arrive faster are merged into the next run. :attr:`Refresher.tick_times` keeps the last
runs' times so the rate can be measured (:meth:`Refresher.rate`).
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = [
    "LivePlot",
    "Refresher",
    "Update",
    "column_source",
    "ensure_bokehjs",
    "html_summary",
    "in_kernel",
    "kernel_loop",
    "runtime_or_default",
    "store_of",
]

_log = logging.getLogger("lab.plots")

_bokehjs_loaded = False


def in_kernel() -> bool:
    """True inside a Jupyter kernel (IPython's shell has a ``kernel``), not in a terminal
    IPython, pytest or a script."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def ensure_bokehjs() -> None:
    """Put BokehJS on the page (INLINE, never a CDN) before a ``BokehModel`` is shown: the
    session's loader when it exists, else ``output_notebook`` once, only in a kernel."""
    global _bokehjs_loaded
    try:
        from lab._session import load_bokehjs
    except ImportError:
        load_bokehjs = None
    if load_bokehjs is not None:
        load_bokehjs()
        return
    if _bokehjs_loaded or not in_kernel():
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)
    _bokehjs_loaded = True


def runtime_or_default(runtime: Any = None) -> Any:
    """``runtime``, or for a plot made without one the kernel's (``lab._session.runtime()``)."""
    if runtime is not None:
        return runtime
    try:
        from lab._session import runtime
    except ImportError as exc:
        raise RuntimeError(
            "no runtime given and lab._session.runtime() is not available: "
            "pass runtime=LambdaRuntime(...)"
        ) from exc
    return runtime()


def store_of(runtime: Any) -> Any:
    """The runtime's store; plots of recorded data need one."""
    store = getattr(runtime, "store", None)
    if store is None:
        raise RuntimeError("this runtime was started with store=False")
    return store


def column_source(data: dict[str, list[Any]]) -> Any:
    """A ``ColumnDataSource`` holding ``data`` (Bokeh imported only when a plot is made)."""
    from bokeh.models import ColumnDataSource

    return ColumnDataSource(data=data)


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in the main thread (the kernel's), captured where ``start()`` is
    called; None in scripts and tests, or when called from another thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _in_thread_of(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


# ---------------------------------------------------------------- updates and the refresher


@dataclass
class Update:
    """Changes for a plot's sources, applied together on the kernel's loop.

    ``streams`` are appended (``ColumnDataSource.stream`` with the plot's rollover);
    ``patch_last`` replaces values of each source's last row (a bucket that was still
    filling); ``replace`` sets a source's whole data; ``after`` runs last (axis factors,
    titles). ``rows`` counts the new rows, for :meth:`LivePlot.update`'s answer.
    """

    streams: list[tuple[Any, dict[str, list[Any]]]] = field(default_factory=list)
    patch_last: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    replace: list[tuple[Any, dict[str, list[Any]]]] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    rows: int = 0

    def __bool__(self) -> bool:
        return bool(self.streams or self.patch_last or self.replace or self.after)


class Refresher:
    """A daemon thread that calls ``tick`` every ``interval`` seconds and when triggered,
    never more than ``max_rate`` times per second: triggers in between are coalesced into
    one run. ``tick`` must not raise (what it raises is logged and the thread goes on)."""

    def __init__(
        self,
        tick: Callable[[], object],
        *,
        interval: float = 0.5,
        max_rate: float = 10.0,
        name: str = "lambda-lab-plot",
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        if not max_rate > 0:
            raise ValueError(f"max_rate must be > 0 per second, got {max_rate!r}")
        self._tick = tick
        self.interval = float(interval)
        self.max_rate = float(max_rate)
        self.name = name
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.tick_times: deque[float] = deque(maxlen=256)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def trigger(self) -> None:
        """Ask for a run as soon as the rate allows."""
        self._wake.set()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def rate(self, window_s: float = 1.0) -> float:
        """Runs per second over the last ``window_s`` (measured)."""
        now = time.monotonic()
        return sum(1 for t in self.tick_times if now - t <= window_s) / window_s

    def _run(self) -> None:
        gap = 1.0 / self.max_rate
        last = -math.inf
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            if self._stopping.is_set():
                return
            wait = last + gap - time.monotonic()
            if wait > 0 and self._stopping.wait(wait):
                return
            self._wake.clear()  # triggers so far are served by this run
            last = time.monotonic()
            self.ticks += 1
            self.tick_times.append(last)
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - a bad read must not end the live view
                _log.exception("%s: refresh failed", self.name)


# ---------------------------------------------------------------- static fallback


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.6g}" if abs(value) < 1e-3 and value else f"{value:,.2f}"
    return str(value)


def html_summary(
    title: str,
    facts: Sequence[tuple[str, Any]],
    headers: Sequence[str] = (),
    rows: Sequence[Sequence[Any]] = (),
) -> str:
    """A small self-contained HTML summary (what static viewers and papermill output show
    instead of the live widget): a title, a list of facts and optionally a table."""
    parts = [
        '<div class="lambda-lab-plot">',
        f"<strong>{html.escape(title)}</strong>",
        "<table><tbody>",
    ]
    parts += [
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td>{html.escape(_cell(v))}</td></tr>"
        for k, v in facts
    ]
    parts.append("</tbody></table>")
    if headers and rows:
        parts.append("<table><thead><tr>")
        parts += [f"<th>{html.escape(h)}</th>" for h in headers]
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row))
            parts.append("</tr>")
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------- the base class


class LivePlot:
    """A Bokeh layout fed from the runtime, shown as a ``jupyter_bokeh.BokehModel``.

    Subclasses build their sources and ``self._figure`` in ``__init__``, implement
    :meth:`_pull` (new data -> :class:`Update`, called off the kernel's loop) and
    :meth:`_summary` (facts and a short table for the static fallback).
    """

    title = "lambda-lab plot"

    def __init__(
        self, *, rollover: int | None = 10_000, interval: float = 0.5, max_rate: float = 10.0
    ) -> None:
        if rollover is not None and rollover < 1:
            raise ValueError(f"rollover must be >= 1 rows or None, got {rollover!r}")
        self.rollover = rollover
        self._figure: Any = None
        self._widget: Any = None
        self._pull_lock = threading.Lock()  # one pull at a time, in order
        self._doc_lock = threading.RLock()  # document changes and exports
        self._pending: Update | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.updates_applied = 0
        self.refresher = Refresher(
            self._tick,
            interval=interval,
            max_rate=max_rate,
            name=f"lambda-lab-{type(self).__name__}",
        )

    # -- what subclasses provide ----------------------------------------------------------------
    def _pull(self) -> Update | None:
        """New data since the last pull (runs on the refresher's thread)."""
        return None

    def _summary(self) -> tuple[list[tuple[str, Any]], list[str], list[list[Any]]]:
        """Facts, table headers and (a few) table rows for the static fallback."""
        return [], [], []

    @property
    def live(self) -> bool:
        """Whether there is anything to refresh from (a simulation's plot is static)."""
        return True

    # -- public surface ---------------------------------------------------------------------------
    @property
    def figure(self) -> Any:
        """The Bokeh layout."""
        return self._figure

    @property
    def widget(self) -> Any:
        """The ``jupyter_bokeh.BokehModel`` showing :attr:`figure` (created on first use)."""
        if self._widget is None:
            from jupyter_bokeh import BokehModel

            with self._doc_lock:
                self._widget = BokehModel(self._figure)
        return self._widget

    def update(self) -> int:
        """Pull new data now and apply it here (in the caller's thread); returns how many
        new rows were added."""
        with self._pull_lock:
            update = self._pull()
            with self._doc_lock:
                rows = self._flush()
                if update:
                    rows += self._apply(update)
        return rows

    def start(self) -> LivePlot:
        """Refresh live from now on (until :meth:`stop`); call it from the kernel's main
        thread so that changes go through its loop."""
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        if self.live:
            self._loop = kernel_loop()
            self.refresher.start()
        return self

    def stop(self) -> None:
        self.refresher.stop()

    def close(self) -> None:
        """Stop refreshing and close the widget. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        widget, self._widget = self._widget, None
        if widget is not None:
            widget.close()
            # jupyter_bokeh 4.1's close() is not idempotent and Widget.__del__ calls it again
            # (KeyError from the document): leave it no document to detach from the 2nd time
            widget._model = SimpleNamespace(document=None)

    def save_html(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write the plot as a standalone HTML file with BokehJS inlined (works offline; no
        CDN); returns the path."""
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        target = Path(path)
        with self._doc_lock:
            text = file_html(self._figure, resources=INLINE, title=title or self.title)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def _static_html(self) -> str:
        with self._doc_lock:
            facts, headers, rows = self._summary()
        return html_summary(self.title, facts, headers, rows)

    def _plain(self) -> str:
        with self._doc_lock:
            facts, _, _ = self._summary()
        body = ", ".join(f"{k} {_cell(v)}" for k, v in facts)
        return f"<{type(self).__name__} {self.title}: {body}>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The live widget in a kernel, with a static HTML summary and plain text for
        viewers without a widget frontend (papermill output, nbconvert, GitHub)."""
        bundle: dict[str, Any] = {}
        if in_kernel():
            ensure_bokehjs()
            bundle.update(self.widget._repr_mimebundle_())
        bundle["text/html"] = self._static_html()
        bundle["text/plain"] = self._plain()
        return bundle

    def __repr__(self) -> str:
        return self._plain()

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- machinery --------------------------------------------------------------------------------
    def _tick(self) -> bool:
        """One refresher run: pull and hand the update to the loop; False when there was
        nothing new, or the previous update is still waiting for the loop."""
        with self._doc_lock:
            waiting = self._pending is not None
        if waiting:
            if not self._loop_running():
                self._run_flush()  # the loop stopped: nobody else will apply it
            return False
        with self._pull_lock:
            update = self._pull()
            if not update:
                return False
            with self._doc_lock:
                self._pending = update
        self._publish()
        return True

    def _loop_running(self) -> bool:
        loop = self._loop
        return loop is not None and loop.is_running() and not loop.is_closed()

    def _publish(self) -> None:
        """Apply the pending update on the kernel's loop if one runs in another thread, else
        right here (no loop; or this is the loop's thread, e.g. a blocking call in a cell)."""
        loop = self._loop
        if loop is not None and self._loop_running() and not _in_thread_of(loop):
            try:
                loop.call_soon_threadsafe(self._run_flush)
                return
            except RuntimeError:  # closed in between
                pass
        self._run_flush()

    def _run_flush(self) -> None:
        with self._doc_lock:
            self._flush()

    def _flush(self) -> int:
        """Apply the pending update, if any (under the document lock)."""
        update, self._pending = self._pending, None
        return self._apply(update) if update else 0

    def _apply(self, update: Update) -> int:
        for source, values in update.patch_last:
            n = len(next(iter(source.data.values()), ()))
            if n:
                source.patch({key: [(n - 1, value)] for key, value in values.items()})
        for source, data in update.streams:
            if data and len(next(iter(data.values()))):
                source.stream(data, rollover=self.rollover)
        for source, data in update.replace:
            source.data = data
        for step in update.after:
            step()
        self.updates_applied += 1
        return update.rows
