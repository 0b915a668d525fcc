"""The AWS/Lambda metrics, computed from the store with AWS's semantics.

Sources: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html ;
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html

Lambda publishes its metrics to CloudWatch; here they are derived on demand from what the store
recorded, so every statistic (percentiles too) is exact and a restarted kernel still sees them:

* ``Invocations`` (1 per invocation, function errors included, throttles excluded), ``Errors``
  (1 for a function error, timeouts included, 0 otherwise), ``Throttles`` (1 per throttled
  request, and a 0 per invocation: a period with traffic and no throttle reads 0, as on AWS),
  ``Duration`` (ms, init excluded), all timestamped when the invoke started.
* ``ConcurrentExecutions`` (statistic: Maximum): for every second, the most invocations in flight
  at once, from the overlap of their [start - init, end] intervals (an environment counts while it
  initializes, as on AWS). ``UnreservedConcurrentExecutions`` is the same over the functions
  without reserved concurrency, account-wide only.
* ``ProvisionedConcurrentExecutions`` (in flight on provisioned environments),
  ``ProvisionedConcurrencyInvocations``, ``ProvisionedConcurrencySpilloverInvocations``
  (on-demand invocations of a version or alias that has provisioned concurrency configured now)
  and ``ProvisionedConcurrencyUtilization`` (executions / allocated, a fraction; needs the
  ``Resource`` dimension).
* ``AsyncEventsReceived``, ``AsyncEventAge``, ``AsyncEventsDropped``, ``DeadLetterErrors``,
  ``DestinationDeliveryFailures``, ``IteratorAge`` and any other AWS/Lambda metric the service
  records (``Recorder.metric``) are read as recorded.
* ``ColdStarts`` (1 per cold start, 0 per warm invoke) and ``InitDuration`` (ms, cold starts only)
  are **ours, not AWS's**: AWS has no such metrics (it reports Init Duration only in the REPORT
  line); they make the lab's cold starts plottable like everything else.

Dimensions are the ones Lambda uses: none (the account), ``{FunctionName}``,
``{FunctionName, Resource}`` with ``Resource`` = ``name:qualifier`` for an invoke addressed to a
version or alias, and ``{FunctionName, ExecutedVersion}`` for such invokes. As in CloudWatch a
query names one exact dimension set; any other set has no data. Other namespaces (custom metrics
from Embedded Metric Format log lines) are read from the store's metric points.

**Time.** Metric time is the platform clock's epoch time (DESIGN decision 6), so that with
``clock_speed=60`` one real second of invocations is one minute of metrics and a one-minute alarm
is evaluated every real second. The sandbox stamps invocations (and handlers stamp EMF documents)
with the wall clock; they are mapped to platform time with the clock's current speed. At speed 1
the two are the same. After a speed change, older invocations are mapped with the new speed.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from ._stats import Datapoint, aggregate
from ._store import _canonical

__all__ = ["LAMBDA_METRICS", "LAMBDA_NAMESPACE", "LambdaMetrics", "MotoMetricData"]

LAMBDA_NAMESPACE: Final = "AWS/Lambda"

#: Metrics computed from invocations and throttles, with their CloudWatch unit.
_COMPUTED_UNITS: Final[dict[str, str]] = {
    "Invocations": "Count",
    "Errors": "Count",
    "Throttles": "Count",
    "Duration": "Milliseconds",
    "ConcurrentExecutions": "Count",
    "UnreservedConcurrentExecutions": "Count",
    "ProvisionedConcurrentExecutions": "Count",
    "ProvisionedConcurrencyInvocations": "Count",
    "ProvisionedConcurrencySpilloverInvocations": "Count",
    "ProvisionedConcurrencyUtilization": "None",
    "ColdStarts": "Count",
    "InitDuration": "Milliseconds",
}
#: Metrics the service records as they happen, with their CloudWatch unit.
_RECORDED_UNITS: Final[dict[str, str]] = {
    "AsyncEventsReceived": "Count",
    "AsyncEventAge": "Milliseconds",
    "AsyncEventsDropped": "Count",
    "DeadLetterErrors": "Count",
    "DestinationDeliveryFailures": "Count",
    "IteratorAge": "Milliseconds",
}
#: Every AWS/Lambda metric name this module knows, with its unit.
LAMBDA_METRICS: Final[dict[str, str]] = {**_COMPUTED_UNITS, **_RECORDED_UNITS}

_PROVISIONED: Final = "provisioned-concurrency"
_MAX_RUN_S: Final = 1000.0  # longest invocation plus init (900 s timeout, 10 s init) and slack
_LIST_WINDOW_S: Final = 14 * 86_400  # ListMetrics shows metrics with data in the past 2 weeks
_INVOCATION_METRICS: Final = ("Invocations", "Errors", "Throttles", "Duration")
_EXECUTED_METRICS: Final = ("Invocations", "Errors", "Duration")  # a throttle executed nothing
_QUALIFIED_METRICS: Final = (*_INVOCATION_METRICS, "ConcurrentExecutions")
_PROVISIONED_METRICS: Final = (
    "ProvisionedConcurrentExecutions",
    "ProvisionedConcurrencyInvocations",
    "ProvisionedConcurrencySpilloverInvocations",
)
_CONCURRENCY: Final = frozenset(
    {
        "ConcurrentExecutions",
        "UnreservedConcurrentExecutions",
        "ProvisionedConcurrentExecutions",
        "ProvisionedConcurrencyUtilization",
    }
)

Points = list[tuple[float, float]]


class _TimeBase:
    """One snapshot of the mapping between wall-clock and metric (platform) time."""

    __slots__ = ("now_metric", "now_wall", "speed")

    def __init__(self, clock: Any) -> None:
        self.now_wall = time.time()
        self.speed = float(clock.speed) if _is_live(clock) else 1.0
        if self.speed != 1.0 or (clock is not None and not _is_live(clock)):
            self.now_metric = float(clock.now())
        else:
            self.now_metric = self.now_wall

    def to_metric(self, wall: float) -> float:
        if self.speed == 1.0:
            return wall
        return self.now_metric - (self.now_wall - wall) * self.speed

    def to_wall(self, metric: float) -> float:
        if self.speed == 1.0:
            return metric
        return self.now_wall - (self.now_metric - metric) / self.speed


def _is_live(clock: Any) -> bool:
    """A real-time clock (PlatformClock); a ManualClock's time has no relation to the wall."""
    from ..clock import PlatformClock

    return isinstance(clock, PlatformClock)


def _qualifier_of(function_arn: str | None) -> str | None:
    """The version or alias an invoke was addressed to (None: unqualified or ``$LATEST``)."""
    if not function_arn:
        return None
    parts = function_arn.split(":")
    if len(parts) < 8 or parts[7] in ("", "$LATEST"):
        return None
    return parts[7]


def _peaks(intervals: Iterable[tuple[float, float]]) -> dict[int, int]:
    """For every whole second touched, the most intervals open at one instant within it."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((max(end, start), -1))
    events.sort()  # at equal times an end (-1) sorts before a start: back-to-back is not overlap
    peaks: dict[int, int] = {}
    level = 0
    previous: float | None = None
    for t, delta in events:
        if previous is not None and level > 0:
            # seconds that begin while `level` holds, strictly between two events
            for second in range(math.floor(previous) + 1, math.ceil(t)):
                if peaks.get(second, 0) < level:
                    peaks[second] = level
        level += delta
        if level > 0:
            second = math.floor(t)
            if peaks.get(second, 0) < level:
                peaks[second] = level
        previous = t
    return peaks


class LambdaMetrics:
    """Lambda's CloudWatch metrics from a :class:`~kernel_runtime.observe.Store`.

    ``pools`` (the service's :class:`~kernel_runtime.service._pools.EnvironmentPools`) supplies
    reserved and provisioned concurrency settings; ``clock`` (the platform clock) sets metric
    time (see the module docstring). Times are epoch seconds of metric time.
    """

    def __init__(
        self,
        store: Any,
        pools: Any = None,
        *,
        clock: Any = None,
        fallback: MotoMetricData | None = None,
    ) -> None:
        self.store = store
        self.pools = pools
        self.clock = clock
        #: where points of namespaces the store has none of come from (moto's PutMetricData)
        self.fallback = fallback
        self._namespaces: set[str] = {LAMBDA_NAMESPACE}

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> float:
        """The current metric time (the platform clock's epoch seconds)."""
        return float(self.clock.now()) if self.clock is not None else time.time()

    def to_metric_time(self, wall: float) -> float:
        """A wall-clock time (as the sandbox stamps invocations) in metric time."""
        return _TimeBase(self.clock).to_metric(wall)

    # -- data points --------------------------------------------------------------------------
    def points(
        self,
        name: str,
        dimensions: Mapping[str, str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> Points:
        """Data points (time, value) of the AWS/Lambda metric ``name`` for one exact dimension
        set (None or ``{}``: account-wide) in [start, end), in time order."""
        return self.metric_points(LAMBDA_NAMESPACE, name, dimensions, start, end)

    def metric_points(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        unit: str | None = None,
    ) -> Points:
        """Data points of any metric the store can answer: AWS/Lambda (computed as above) or a
        namespace of recorded points (EMF), else the ``fallback``'s. With ``unit``, only points
        of that unit (none when the metric has another unit, as CloudWatch answers)."""
        self._settle()
        dims = dict(dimensions or {})
        lo = -math.inf if start is None else float(start)
        hi = math.inf if end is None else float(end)
        base = _TimeBase(self.clock)
        if namespace == LAMBDA_NAMESPACE:
            expected = LAMBDA_METRICS.get(name)
            if unit is not None and expected is not None and unit != expected:
                return []
            if name in _COMPUTED_UNITS:
                points = self._computed(name, dims, lo, hi, base)
            else:  # recorded by the service on the platform clock: no mapping
                points = self._recorded(namespace, name, dims, lo, hi, None, None)
        elif self.fallback is not None and not self.has_namespace(namespace):
            points = [
                (t, v)
                for t, v in (
                    (base.to_metric(wall), value)
                    for wall, value in self.fallback.points(namespace, name, dims, unit)
                )
                if lo <= t < hi
            ]
        else:  # EMF: the handler's wall-clock time
            points = self._recorded(namespace, name, dims, lo, hi, base, unit)
        points.sort(key=lambda p: p[0])
        return points

    def unit(self, namespace: str, name: str, dimensions: Mapping[str, str] | None = None) -> str:
        """The unit of a metric's data points (the latest one's; "None" when unknown)."""
        if namespace == LAMBDA_NAMESPACE and name in LAMBDA_METRICS:
            return LAMBDA_METRICS[name]
        rows = self._query(
            "SELECT unit FROM metric_points WHERE namespace = ? AND metric_name = ? AND "
            "dimensions = ? ORDER BY timestamp DESC, id DESC LIMIT 1",
            (namespace, name, _canonical(dict(dimensions or {}))),
        )
        return str(rows[0][0]) if rows else "None"

    def statistics(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None,
        start: float,
        end: float,
        period: int,
        statistics: Sequence[str],
        *,
        unit: str | None = None,
    ) -> list[Datapoint]:
        """GetMetricStatistics over the metric's points: one :class:`Datapoint` per period of
        ``[start, end)`` (start rounded down to a multiple of ``period``) that holds data.
        Raises :class:`~kernel_runtime.observe.StatisticsError` as CloudWatch would."""
        aggregate([], start, end, period, statistics)  # validate before reading anything
        first = math.floor(start / period) * period
        points = self.metric_points(namespace, name, dimensions, first, end, unit=unit)
        return aggregate(points, start, end, period, statistics)

    # -- catalogue ----------------------------------------------------------------------------
    def has_namespace(self, namespace: str) -> bool:
        """True for AWS/Lambda and for namespaces with points in the store."""
        if namespace in self._namespaces:
            return True
        found = bool(
            self._query("SELECT 1 FROM metric_points WHERE namespace = ? LIMIT 1", (namespace,))
        )
        if found:
            self._namespaces.add(namespace)
        return found

    def list_metrics(
        self,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: Sequence[Mapping[str, str | None]] = (),
        *,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        """ListMetrics: ``{"Namespace", "MetricName", "Dimensions": [{"Name", "Value"}]}`` for
        every metric with data since ``since`` (default: the past two weeks), sorted.
        ``dimensions`` filters as ListMetrics' DimensionFilters (a name, optionally a value)."""
        self._settle()
        base = _TimeBase(self.clock)
        since = base.now_metric - _LIST_WINDOW_S if since is None else since
        found: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        if namespace in (None, LAMBDA_NAMESPACE):
            found.update(self._lambda_catalogue(base, since))
        where = "WHERE timestamp >= ?"
        params: list[Any] = [min(since, base.to_wall(since))]  # EMF points are wall-clock
        if namespace is not None:
            where += " AND namespace = ?"
            params.append(namespace)
        for ns, metric, dims in self._query(
            f"SELECT DISTINCT namespace, metric_name, dimensions FROM metric_points {where}",
            params,
        ):
            found.add((ns, metric, tuple(sorted(json.loads(dims).items()))))
        out = []
        for ns, metric, dims in sorted(found):
            if metric_name is not None and metric != metric_name:
                continue
            have = dict(dims)
            if any(
                f.get("Name") not in have
                or (f.get("Value") is not None and have[str(f.get("Name"))] != f.get("Value"))
                for f in dimensions
            ):
                continue
            out.append(
                {
                    "Namespace": ns,
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                }
            )
        return out

    # -- internals ----------------------------------------------------------------------------
    def _settle(self) -> None:
        """Wait until everything recorded so far is committed. The store's own queries skip
        the wait when its queue is empty, but the writer empties the queue *before* it commits
        the batch, so a read in that window would miss the newest invocations."""
        if not self.store.closed:
            self.store.flush()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # The store has no public query for distinct names; its read path (flush first, then
        # read under its lock) is the right one to share.
        return list(self.store._rows(sql, params))

    def _recorded(
        self,
        namespace: str,
        name: str,
        dims: dict[str, str],
        lo: float,
        hi: float,
        base: _TimeBase | None,
        unit: str | None,
    ) -> Points:
        """Recorded points; ``base`` maps wall-clock (EMF) times, None keeps platform times.
        The service records AWS/Lambda points per function; the account sums them all."""
        wall_lo = lo if base is None or lo == -math.inf else base.to_wall(lo)
        wall_hi = hi if base is None or hi == math.inf else base.to_wall(hi)
        account = namespace == LAMBDA_NAMESPACE and not dims
        rows = self.store.metric_points(
            namespace, name, None if account else dims, _finite(wall_lo), _finite(wall_hi)
        )
        out: Points = []
        for row in rows:
            if account and not set(row["dimensions"]) <= {"FunctionName"}:
                continue
            if unit is not None and row["unit"] != unit:
                continue
            t = row["timestamp"] if base is None else base.to_metric(row["timestamp"])
            if lo <= t < hi:
                out.append((t, float(row["value"])))
        return out

    def _computed(
        self, name: str, dims: dict[str, str], lo: float, hi: float, base: _TimeBase
    ) -> Points:
        selector = self._selector(name, dims)
        if selector is None:
            return []
        function, keep = selector
        points = self._throttle_points(function, dims, lo, hi) if name == "Throttles" else []
        concurrency = name in _CONCURRENCY
        margin = _MAX_RUN_S if concurrency else 0.0  # still running when the range starts
        wall_lo = -math.inf if lo == -math.inf else base.to_wall(lo) - margin
        wall_hi = math.inf if hi == math.inf else base.to_wall(hi)
        cols = self.store.columns(function=function, start=_finite(wall_lo), end=_finite(wall_hi))
        rows = [row for row in zip(*(cols[column] for column in _ROW), strict=True) if keep(row)]
        if concurrency:
            return points + self._concurrency(name, dims, rows, lo, hi, base)
        value = _VALUE[name]
        for row in rows:
            t = base.to_metric(row[8])
            if not lo <= t < hi:
                continue
            if name == "ProvisionedConcurrencyInvocations" and row[5] != _PROVISIONED:
                continue
            if name == "ProvisionedConcurrencySpilloverInvocations" and not self._spillover(row):
                continue
            if name == "InitDuration" and row[7] is None:
                continue
            points.append((t, value(row)))
        return points

    def _concurrency(
        self,
        name: str,
        dims: dict[str, str],
        rows: list[tuple[Any, ...]],
        lo: float,
        hi: float,
        base: _TimeBase,
    ) -> Points:
        """One point per second: the peak of executions in flight (Maximum is the statistic)."""
        if name.startswith("Provisioned"):
            rows = [row for row in rows if row[5] == _PROVISIONED]
        if name == "UnreservedConcurrentExecutions":
            rows = [row for row in rows if self._reserved(row[0]) is None]
        divisor = 1.0
        if name == "ProvisionedConcurrencyUtilization":
            allocated = self._allocated(dims["FunctionName"], dims["Resource"])
            if not allocated:
                return []
            divisor = float(allocated)
        intervals = [(row[8] - (row[7] or 0.0) / 1000.0, row[9]) for row in rows]
        points: Points = []
        for second, peak in _peaks(intervals).items():
            t = base.to_metric(float(second))
            if lo <= t < hi:
                points.append((t, peak / divisor))
        return points

    def _selector(
        self, name: str, dims: dict[str, str]
    ) -> tuple[str | None, Callable[[tuple[Any, ...]], bool]] | None:
        """Which function's invocations a dimension set selects, and a row filter; None when
        Lambda publishes ``name`` without that dimension set."""
        keys = set(dims)
        if not keys:
            if name.startswith("ProvisionedConcurrency"):
                return None  # per function, version or alias only
            return None, _always
        if name == "UnreservedConcurrentExecutions" or "FunctionName" not in keys:
            return None
        function = dims["FunctionName"]
        if keys == {"FunctionName"}:
            if name == "ProvisionedConcurrencyUtilization":
                return None  # a fraction of one version's or alias's allocation
            return function, _always
        if keys == {"FunctionName", "Resource"}:
            resource = dims["Resource"]
            prefix, _, qualifier = resource.partition(":")
            if prefix != function or not qualifier or qualifier == "$LATEST":
                return None
            return function, lambda row: _qualifier_of(row[1]) == qualifier
        if keys == {"FunctionName", "ExecutedVersion"} and name in _EXECUTED_METRICS:
            version = dims["ExecutedVersion"]
            return function, lambda row: _qualifier_of(row[1]) is not None and row[2] == version
        return None

    def _throttle_points(
        self, function: str | None, dims: dict[str, str], lo: float, hi: float
    ) -> Points:
        """Throttles as recorded (platform time already). A throttled request has no executed
        version; ``Resource`` matches the qualifier the pools throttled."""
        if "ExecutedVersion" in dims:
            return []
        resource = dims.get("Resource")
        out: Points = []
        for row in self.store.throttles(function=function, start=_finite(lo), end=_finite(hi)):
            if resource is not None and f"{row['function_name']}:{row['qualifier']}" != resource:
                continue
            out.append((float(row["at"]), 1.0))
        return out

    def _reserved(self, function: str) -> int | None:
        if self.pools is None:
            return None
        try:
            return self.pools.reserved(function)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - a deleted function has none
            return None

    def _allocated(self, function: str, resource: str) -> int:
        """Provisioned concurrency allocated to ``function:qualifier`` now (0: none)."""
        if self.pools is None:
            return 0
        qualifier = resource.partition(":")[2]
        status = self.pools.provisioned(function, qualifier)
        if status is None:
            return 0
        return int(status.allocated or status.requested)

    def _spillover(self, row: tuple[Any, ...]) -> bool:
        """An on-demand invocation of a version or alias that has provisioned concurrency."""
        if row[5] == _PROVISIONED or self.pools is None:
            return False
        qualifier = _qualifier_of(row[1])
        return qualifier is not None and self.pools.provisioned(row[0], qualifier) is not None

    def _lambda_catalogue(
        self, base: _TimeBase, since: float
    ) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
        """(namespace, metric, dimensions) of the AWS/Lambda metrics with data since ``since``."""
        found: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        wall_since = min(since, base.to_wall(since))
        rows = self._query(
            "SELECT function_name, function_arn, function_version, "
            "max(initialization_type = ?), max(cold_start) FROM invocations "
            "WHERE started_at >= ? GROUP BY function_name, function_arn, function_version",
            (_PROVISIONED, wall_since),
        )
        account: set[str] = set()
        for function, arn, version, provisioned, cold in rows:
            names = [*_QUALIFIED_METRICS, "ColdStarts"] + (["InitDuration"] if cold else [])
            account.update(names)
            sets: list[tuple[tuple[str, str], ...]] = [(("FunctionName", function),)]
            qualifier = _qualifier_of(arn)
            if qualifier is not None:
                sets.append((("FunctionName", function), ("Resource", f"{function}:{qualifier}")))
                for metric in _EXECUTED_METRICS:
                    found.add(
                        (
                            LAMBDA_NAMESPACE,
                            metric,
                            (("ExecutedVersion", version), ("FunctionName", function)),
                        )
                    )
            for dims in sets:
                for metric in names:
                    found.add((LAMBDA_NAMESPACE, metric, tuple(sorted(dims))))
            configured = qualifier is not None and self._has_provisioned(function, qualifier)
            if provisioned or configured:
                for dims in sets:
                    for metric in _PROVISIONED_METRICS:
                        found.add((LAMBDA_NAMESPACE, metric, tuple(sorted(dims))))
                if qualifier is not None:
                    found.add(
                        (
                            LAMBDA_NAMESPACE,
                            "ProvisionedConcurrencyUtilization",
                            tuple(sorted(sets[-1])),
                        )
                    )
        for (function,) in self._query(
            "SELECT DISTINCT function_name FROM throttles WHERE at >= ?", (since,)
        ):
            found.add((LAMBDA_NAMESPACE, "Throttles", (("FunctionName", function),)))
            account.add("Throttles")
        if account:
            account.update(("UnreservedConcurrentExecutions", "ConcurrentExecutions"))
        for metric in account:
            found.add((LAMBDA_NAMESPACE, metric, ()))
        # recorded AWS/Lambda points also publish account-wide
        for (metric,) in self._query(
            "SELECT DISTINCT metric_name FROM metric_points WHERE namespace = ? AND timestamp >= ?",
            (LAMBDA_NAMESPACE, since),
        ):
            found.add((LAMBDA_NAMESPACE, metric, ()))
        return found

    def _has_provisioned(self, function: str, qualifier: str) -> bool:
        return self.pools is not None and self.pools.provisioned(function, qualifier) is not None


class MotoMetricData:
    """The raw PutMetricData points the embedded moto holds, read in-process (moto computes no
    percentiles and no metric math; with these points the lab can). Single values only: a
    ``StatisticValues`` set cannot be split back into samples and is skipped. Times are the
    wall-clock ones moto stored."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _data(self) -> list[Any]:
        models = sys.modules.get("moto.cloudwatch.models")
        if models is None:  # nobody called CloudWatch yet: nothing was put
            return []
        accounts = models.cloudwatch_backends
        if self.account_id not in accounts:  # not created yet: nothing was put
            return []
        regions = accounts[self.account_id]
        if self.region not in regions:
            return []
        return list(regions[self.region].metric_data)

    def points(
        self, namespace: str, name: str, dimensions: Mapping[str, str], unit: str | None = None
    ) -> Points:
        """(wall-clock epoch seconds, value) of one metric with exactly ``dimensions``."""
        out: Points = []
        dims = dict(dimensions)
        for datum in self._data():
            value = getattr(datum, "value", None)
            if value is None or datum.namespace != namespace or datum.name != name:
                continue
            if {d.name: d.value for d in datum.dimensions} != dims:
                continue
            if unit is not None and datum.unit != unit:
                continue
            stamp = _wall_seconds(datum.timestamp)
            if stamp is not None:
                out.append((stamp, float(value)))
        return out

    def list_metrics(
        self, metric_name: str | None = None, dimensions: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """ListMetrics' items for every metric moto holds points of."""
        seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        for datum in self._data():
            if metric_name is not None and datum.name != metric_name:
                continue
            dims = tuple(sorted((d.name, d.value) for d in datum.dimensions))
            have = dict(dims)
            if any(
                f.get("Name") not in have
                or (f.get("Value") is not None and have[f["Name"]] != f.get("Value"))
                for f in dimensions
            ):
                continue
            seen.add((datum.namespace, datum.name, dims))
        return [
            {
                "Namespace": ns,
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
            }
            for ns, metric, dims in sorted(seen)
        ]


def _wall_seconds(value: Any) -> float | None:
    """moto's datum timestamp (a datetime, naive meaning UTC, or a number) in epoch seconds."""
    from datetime import datetime, timezone

    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            try:
                return _wall_seconds(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return None
    return None


def _always(row: tuple[Any, ...]) -> bool:
    return True


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


#: The invocation columns read, in row order (the _VALUE lambdas index them).
_ROW: Final = (
    "function_name",  # 0
    "function_arn",  # 1
    "function_version",  # 2
    "function_error",  # 3
    "cold_start",  # 4
    "initialization_type",  # 5
    "duration_ms",  # 6
    "init_duration_ms",  # 7
    "started_at",  # 8
    "finished_at",  # 9
)
_VALUE: Final[dict[str, Callable[[tuple[Any, ...]], float]]] = {
    "Invocations": lambda row: 1.0,
    "Errors": lambda row: 1.0 if row[3] else 0.0,
    "Throttles": lambda row: 0.0,
    "Duration": lambda row: float(row[6]),
    "ColdStarts": lambda row: 1.0 if row[4] else 0.0,
    "InitDuration": lambda row: float(row[7]),
    "ProvisionedConcurrencyInvocations": lambda row: 1.0,
    "ProvisionedConcurrencySpilloverInvocations": lambda row: 1.0,
}
