"""Data for the plots: store and pool rows turned into plain column dicts (no Bokeh here).

Everything in this module is pure or, for the cursors, holds only its own position: the plots
pull through a cursor on a background thread and hand the columns to Bokeh on the kernel's
loop, so this is the part worth testing without a figure.

Times: store rows carry epoch seconds; the columns add ``t``/``left``/``right`` in epoch
milliseconds, which is what a Bokeh ``datetime`` axis reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from ._load import percentile

__all__ = [
    "LIFECYCLE_STATES",
    "InvocationCursor",
    "LifecycleCursor",
    "LifecycleTracker",
    "SeriesCursor",
    "concurrency_columns",
    "concurrency_limits",
    "invocation_columns",
    "lifecycle_spans",
    "mark_best",
    "trace_id_of",
    "trace_rows",
    "tuning_result",
]

#: Lifecycle states as recorded by the store -> the span they start (DEAD ends the last one).
LIFECYCLE_STATES: dict[str, str] = {
    "INITIALIZING": "init",
    "READY": "idle",
    "BUSY": "busy",
    "FROZEN": "frozen",
    "RESET": "reset",
    "SHUTTING_DOWN": "shutdown",
}

_INVOCATION_KEYS = (
    "request_id",
    "function_name",
    "environment_id",
    "status",
    "started_at",
    "t",
    "duration_ms",
    "init_duration_ms",
    "latency_ms",
    "billed_duration_ms",
    "memory_size_mb",
    "max_memory_used_mb",
    "cold",
    "kind",
    "init_label",
)


class _InvocationStore(Protocol):
    def columns(
        self,
        function: str | None = ...,
        start: float | datetime | None = ...,
        end: float | datetime | None = ...,
        request_id: str | None = ...,
        limit: int | None = ...,
    ) -> dict[str, list[Any]]: ...


class _LifecycleStore(Protocol):
    def lifecycle(
        self,
        function: str | None = ...,
        environment_id: str | None = ...,
        start: float | datetime | None = ...,
        end: float | datetime | None = ...,
    ) -> list[dict[str, Any]]: ...


# ---------------------------------------------------------------- invocations (cold vs warm)


def _kind(cold: bool, initialization_type: str | None) -> str:
    if cold:
        return "cold"
    return "provisioned" if initialization_type == "provisioned-concurrency" else "warm"


def invocation_columns(table: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """:meth:`Store.columns` output -> the cold/warm plot's columns.

    ``latency_ms`` is what the caller waited for the function: the handler's Duration plus,
    on a cold start, the Init Duration (drawn stacked on top of it). ``init_duration_ms`` is
    0.0 when there was no init (so a segment of zero length is drawn); ``init_label`` says
    "-" there for tooltips. ``kind`` is ``cold``, ``warm`` or ``provisioned`` (a warm start
    on an environment provisioned concurrency initialised ahead of time).
    """
    n = len(table.get("request_id", ()))
    out: dict[str, list[Any]] = {key: [] for key in _INVOCATION_KEYS}
    init_types = table.get("initialization_type") or [None] * n
    for i in range(n):
        cold = bool(table["cold_start"][i])
        init = table["init_duration_ms"][i]
        init_ms = float(init) if (cold and init is not None) else 0.0
        duration = float(table["duration_ms"][i])
        started = float(table["started_at"][i])
        out["request_id"].append(table["request_id"][i])
        out["function_name"].append(table["function_name"][i])
        out["environment_id"].append(table["environment_id"][i])
        out["status"].append(table["status"][i])
        out["started_at"].append(started)
        out["t"].append(started * 1000.0)
        out["duration_ms"].append(duration)
        out["init_duration_ms"].append(init_ms)
        out["latency_ms"].append(duration + init_ms)
        out["billed_duration_ms"].append(int(table["billed_duration_ms"][i]))
        out["memory_size_mb"].append(int(table["memory_size_mb"][i]))
        out["max_memory_used_mb"].append(int(table["max_memory_used_mb"][i]))
        out["cold"].append(cold)
        out["kind"].append(_kind(cold, init_types[i]))
        out["init_label"].append(f"{init_ms:.2f} ms" if init_ms else "-")
    return out


class InvocationCursor:
    """Reads only the invocations not returned before, from a store, each poll.

    The store orders invocations by start but records each when it *ends*, so a long one can
    appear after shorter ones that started later. Each poll therefore re-reads from ``late_s``
    before the newest start seen and drops request ids it already returned: an invocation is
    missed only if it ran longer than ``late_s`` while later ones were shown. The first poll
    reads at most ``first_limit`` rows (the most recent).
    """

    def __init__(
        self,
        store: _InvocationStore,
        function: str | None = None,
        *,
        start: float | None = None,
        late_s: float = 15.0,
        first_limit: int | None = None,
    ) -> None:
        if late_s < 0:
            raise ValueError(f"late_s must be >= 0, got {late_s!r}")
        self.store = store
        self.function = function
        self.start = start
        self.late_s = late_s
        self.first_limit = first_limit
        self.newest: float | None = None
        self._seen: dict[str, float] = {}

    def poll(self) -> dict[str, list[Any]]:
        """The store's columns (``Store.columns`` shape) of the invocations not seen yet."""
        if self.newest is None:
            since, limit = self.start, self.first_limit
        else:
            since = self.newest - self.late_s
            if self.start is not None:
                since = max(since, self.start)
            limit = None
        table = self.store.columns(function=self.function, start=since, limit=limit)
        ids = table.get("request_id", [])
        if limit is not None and len(ids) >= limit:
            # the first read was cut to the most recent rows: older ones stay out later too
            oldest = min(table["started_at"])
            self.start = oldest if self.start is None else max(self.start, oldest)
        fresh = [i for i, rid in enumerate(ids) if rid not in self._seen]
        if not fresh:
            return {key: [] for key in table}
        starts = table["started_at"]
        for i in fresh:
            self._seen[ids[i]] = starts[i]
        newest = max(starts[i] for i in fresh)
        self.newest = newest if self.newest is None else max(self.newest, newest)
        horizon = self.newest - self.late_s
        if len(self._seen) > 2 * len(fresh) + 64:  # prune now and then, not every poll
            self._seen = {rid: t for rid, t in self._seen.items() if t >= horizon}
        if len(fresh) == len(ids):
            return {key: list(values) for key, values in table.items()}
        return {key: [values[i] for i in fresh] for key, values in table.items()}


# ---------------------------------------------------------------- environment lifecycle

_SPAN_KEYS = (
    "environment_id",
    "environment",
    "state",
    "start",
    "end",
    "left",
    "right",
    "duration_ms",
    "open",
)


def _empty_spans() -> dict[str, list[Any]]:
    return {key: [] for key in _SPAN_KEYS}


def _add_span(
    out: dict[str, list[Any]], env: str, state: str, start: float, end: float, is_open: bool
) -> None:
    out["environment_id"].append(env)
    out["environment"].append(env[:8])
    out["state"].append(state)
    out["start"].append(start)
    out["end"].append(end)
    out["left"].append(start * 1000.0)
    out["right"].append(end * 1000.0)
    out["duration_ms"].append(max(0.0, (end - start) * 1000.0))
    out["open"].append(is_open)


class LifecycleTracker:
    """Turns a stream of lifecycle transitions into spans, one environment at a time.

    :meth:`feed` returns the spans the new transitions *closed* (a state followed by the
    next); :meth:`open_spans` the current state of each environment not DEAD yet, ending at
    ``now``. States are named as in :data:`LIFECYCLE_STATES` (``init``, ``busy``, ``idle``,
    ``frozen``, ``reset``, ``shutdown``).
    """

    def __init__(self) -> None:
        self._current: dict[str, tuple[str, float]] = {}  # env -> (state, since)
        self._dead: set[str] = set()

    def feed(self, transitions: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
        out = _empty_spans()
        for row in transitions:
            env, state, at = str(row["environment_id"]), str(row["state"]), float(row["at"])
            if env in self._dead:
                continue
            previous = self._current.pop(env, None)
            if previous is not None:
                _add_span(out, env, previous[0], previous[1], max(at, previous[1]), False)
            if state == "DEAD":
                self._dead.add(env)
            elif state in LIFECYCLE_STATES:
                self._current[env] = (LIFECYCLE_STATES[state], at)
        return out

    def open_spans(self, now: float, alive: Iterable[str] | None = None) -> dict[str, list[Any]]:
        """The environments' current states up to ``now``; only those in ``alive`` when it is
        given (an environment of an earlier session that never recorded DEAD is not open)."""
        keep = None if alive is None else set(alive)
        out = _empty_spans()
        for env, (state, since) in self._current.items():
            if keep is None or env in keep:
                _add_span(out, env, state, since, max(now, since), True)
        return out


def lifecycle_spans(
    transitions: Iterable[Mapping[str, Any]], now: float | None = None
) -> dict[str, list[Any]]:
    """All spans of ``transitions`` (``Store.lifecycle`` rows): closed ones, and with ``now``
    the open ones too (ending at ``now``)."""
    tracker = LifecycleTracker()
    spans = tracker.feed(transitions)
    if now is not None:
        for key, values in tracker.open_spans(now).items():
            spans[key].extend(values)
    return spans


class LifecycleCursor:
    """Reads only the lifecycle transitions not returned before (re-reading ``late_s`` back
    from the newest seen, as :class:`InvocationCursor` does, de-duplicated by environment,
    state and time)."""

    def __init__(
        self,
        store: _LifecycleStore,
        function: str | None = None,
        *,
        start: float | None = None,
        late_s: float = 2.0,
    ) -> None:
        self.store = store
        self.function = function
        self.start = start
        self.late_s = late_s
        self.newest: float | None = None
        self._seen: set[tuple[str, str, float]] = set()

    def poll(self) -> list[dict[str, Any]]:
        since = self.start if self.newest is None else self.newest - self.late_s
        if self.start is not None and since is not None:
            since = max(since, self.start)
        rows = self.store.lifecycle(function=self.function, start=since)
        fresh = []
        for row in rows:
            key = (row["environment_id"], row["state"], row["at"])
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(row)
        if fresh:
            newest = max(row["at"] for row in fresh)
            self.newest = newest if self.newest is None else max(self.newest, newest)
            if len(self._seen) > 4 * len(fresh) + 256:
                horizon = self.newest - self.late_s
                self._seen = {k for k in self._seen if k[2] >= horizon}
        return fresh


# ---------------------------------------------------------------- concurrency and scaling

_SERIES_KEYS = ("t", "invocations", "cold_starts", "throttles", "concurrency", "environments")


def concurrency_columns(
    series: Mapping[str, Sequence[Any]], *, epoch: bool
) -> dict[str, list[Any]]:
    """Per-bucket series (``pools.series.columns()`` or a simulation's ``columns()``: the same
    shape) -> the plot's columns, with ``x``: epoch milliseconds for a live run (``epoch``),
    simulated seconds otherwise."""
    out: dict[str, list[Any]] = {"x": []}
    for key in _SERIES_KEYS:
        out[key] = [v if key == "t" else int(v) for v in series.get(key, ())]
    out["x"] = [float(t) * 1000.0 if epoch else float(t) for t in out["t"]]
    return out


class SeriesCursor:
    """Splits each read of a live per-second series into the last bucket shown before (still
    filling when it was read: to be patched in place) and the buckets after it (to stream)."""

    def __init__(self) -> None:
        self.last_t: float | None = None
        self._last_row: dict[str, Any] | None = None

    def poll(
        self, columns: Mapping[str, Sequence[Any]]
    ) -> tuple[dict[str, Any] | None, dict[str, list[Any]]]:
        """``(changed last row or None, new rows)`` from ``columns`` (``concurrency_columns``)."""
        ts = list(columns.get("t", ()))
        start = 0
        patch: dict[str, Any] | None = None
        if self.last_t is not None:
            while start < len(ts) and ts[start] < self.last_t:
                start += 1
            if start < len(ts) and ts[start] == self.last_t:
                row = {key: columns[key][start] for key in columns}
                if row != self._last_row:
                    patch = row
                    self._last_row = row
                start += 1
        new = {key: list(values[start:]) for key, values in columns.items()}
        if start < len(ts):
            self.last_t = ts[-1]
            self._last_row = {key: columns[key][-1] for key in columns}
        return patch, new


def concurrency_limits(
    account: int | None, reserved: int | None = None, provisioned: int | None = None
) -> dict[str, list[Any]]:
    """The reference lines to draw: account concurrency, the function's reserved and
    provisioned concurrency (those configured)."""
    out: dict[str, list[Any]] = {"y": [], "limit": [], "label": []}
    for name, value in (
        ("account concurrency", account),
        ("reserved concurrency", reserved),
        ("provisioned concurrency", provisioned),
    ):
        if value is None or (value == 0 and name != "reserved concurrency"):
            continue  # no provisioned concurrency is no line; reserved 0 is a real limit
        out["y"].append(int(value))
        out["limit"].append(name)
        out["label"].append(f"{name}: {value}")
    return out


# ---------------------------------------------------------------- memory tuning


def tuning_result(
    memory_size: int, invocations: Sequence[Mapping[str, Any]], costs: Sequence[Decimal]
) -> dict[str, Any]:
    """Statistics of one memory size from its measured invocations (REPORT fields as dicts:
    ``duration_ms``, ``billed_duration_ms``, ``cold_start``, ``status``) and their costs.

    Cold starts are left out of the duration and cost statistics, as AWS Lambda Power Tuning
    does; ``cost_usd`` is the mean cost of one warm invocation (request + duration)."""
    warm = [
        (row, cost) for row, cost in zip(invocations, costs, strict=True) if not row["cold_start"]
    ]
    durations = sorted(float(row["duration_ms"]) for row, _ in warm)
    n = len(warm)
    mean_cost = sum((cost for _, cost in warm), Decimal(0)) / n if n else None
    return {
        "memory_size": memory_size,
        "invocations": len(invocations),
        "measured": n,
        "cold_starts": len(invocations) - n,
        "errors": sum(1 for row in invocations if row.get("status") != "success"),
        "duration_ms": sum(durations) / n if n else math.nan,
        "p50_ms": percentile(durations, 50) if n else math.nan,
        "p90_ms": percentile(durations, 90) if n else math.nan,
        "min_ms": durations[0] if durations else math.nan,
        "max_ms": durations[-1] if durations else math.nan,
        "billed_duration_ms": (
            sum(float(row["billed_duration_ms"]) for row, _ in warm) / n if n else math.nan
        ),
        "cost_usd": float(mean_cost) if mean_cost is not None else math.nan,
    }


def mark_best(results: Sequence[Mapping[str, Any]]) -> tuple[int | None, int | None]:
    """``(cheapest, fastest)`` memory sizes: the lowest mean cost (ties: the faster) and the
    lowest mean duration (ties: the cheaper); None when nothing was measured."""
    measured = [r for r in results if r["measured"]]
    if not measured:
        return None, None
    cheapest = min(measured, key=lambda r: (r["cost_usd"], r["duration_ms"], r["memory_size"]))
    fastest = min(measured, key=lambda r: (r["duration_ms"], r["cost_usd"], r["memory_size"]))
    return int(cheapest["memory_size"]), int(fastest["memory_size"])


# ---------------------------------------------------------------- traces


def trace_id_of(header: str) -> str | None:
    """The ``Root`` of an ``X-Amzn-Trace-Id`` header (an invocation's ``trace_id``)."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and value:
            return value
    return None


_TRACE_KEYS = (
    "id",
    "name",
    "label",
    "depth",
    "row",
    "kind",
    "origin",
    "status",
    "left",
    "right",
    "duration_ms",
    "text",
)


def _status(node: Mapping[str, Any]) -> str:
    if node.get("in_progress") or node.get("end_time") is None:
        return "in progress"
    if node.get("fault"):
        return "fault"
    if node.get("throttle"):
        return "throttle"
    if node.get("error"):
        return "error"
    return "ok"


def trace_rows(tree: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A :func:`~kernel_runtime.observe.trace_tree` flattened depth first into one row per
    segment or subsegment: ``left``/``right`` in milliseconds from the trace's start,
    ``depth`` (0 for a root), ``label`` indented by depth, ``row`` counting from the top.
    A node still in progress ends at the trace's end."""
    out: dict[str, list[Any]] = {key: [] for key in _TRACE_KEYS}
    origin_t = float(tree.get("start_time") or 0.0)
    trace_end = float(tree.get("end_time") or origin_t)

    def visit(node: Mapping[str, Any], depth: int) -> None:
        start = float(node.get("start_time", origin_t))
        end_time = node.get("end_time")
        end = float(end_time) if isinstance(end_time, (int, float)) else max(trace_end, start)
        duration = max(0.0, (end - start) * 1000.0)
        name = str(node.get("name", "?"))
        out["id"].append(str(node.get("id", "")))
        out["name"].append(name)
        origin = str(node.get("origin", ""))
        title = f"{name} ({origin})" if origin else name
        out["label"].append("\u2003" * depth + title)
        out["depth"].append(depth)
        out["row"].append(len(out["row"]))
        out["kind"].append("subsegment" if node.get("type") == "subsegment" else "segment")
        out["origin"].append(origin)
        out["status"].append(_status(node))
        out["left"].append((start - origin_t) * 1000.0)
        out["right"].append((start - origin_t) * 1000.0 + duration)
        out["duration_ms"].append(duration)
        out["text"].append(f"{title}  {duration:.2f} ms")
        for child in node.get("children", ()):
            visit(child, depth + 1)

    for root in tree.get("roots", ()):
        visit(root, 0)
    return out
