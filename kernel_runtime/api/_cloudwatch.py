"""CloudWatch metric reads answered from the store, before moto sees them (edge interceptor).

Sources (under https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/):
API_GetMetricStatistics.html ; API_GetMetricData.html ; API_ListMetrics.html ;
API_DescribeAlarmHistory.html ;
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html

moto stores PutMetricData points but has no percentiles, no metric math, no AWS/Lambda metrics
and no alarm history (reference/moto.md section 5). botocore speaks CloudWatch's JSON 1.0
protocol (``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``, timestamps as epoch
seconds, errors as ``{"__type": code, "message": ...}`` plus the ``x-amzn-query-error`` header of
query-compatible services), so this interceptor answers:

* GetMetricStatistics, GetMetricData and ListMetrics for AWS/Lambda (computed by
  :class:`~kernel_runtime.observe.LambdaMetrics`) and for namespaces with points in the store
  (Embedded Metric Format). For other namespaces moto answers, except requests moto cannot
  (percentiles, metric math), which are computed from moto's raw PutMetricData points.
* DescribeAlarmHistory, from the store's record of the alarm runner's state changes.

Metric math covers arithmetic (``+ - * / ^``, parentheses, numbers) over query ids, arrays
(``[m1, m2]``, ``METRICS()``, ``METRICS('id part')``) and ``SUM AVG MIN MAX ABS FILL(x, number)``;
any other function (SEARCH, RATE, IF, ANOMALY_DETECTION_BAND, ...) and Metrics Insights
queries are refused with a ValidationError naming it. An expression whose result is an array
of time series is refused too. Alarm operations go on to moto; the alarm runner is told so that
states it owns are up to date when moto describes them.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, NoReturn

from .._ids import request_id
from ..observe._metrics import LAMBDA_NAMESPACE, _wall_seconds
from ..observe._stats import (
    MAX_DATAPOINTS,
    SIMPLE_STATISTICS,
    StatisticsError,
    aggregate,
    parse_statistic,
)
from ._app import credential_scope

__all__ = ["CloudWatchError", "CloudWatchInterceptor"]

Response = tuple[int, list[tuple[str, str]], bytes]

_CONTENT_TYPE: Final = "application/x-amz-json-1.0"
_ID_RE: Final = re.compile(r"[a-z][a-zA-Z0-9_]*")
_MAX_QUERIES: Final = 500
_DEFAULT_MAX_DATAPOINTS: Final = 100_800
_LIST_PAGE: Final = 500
_HISTORY_DAYS_S: Final = 30 * 86_400  # CloudWatch keeps alarm history for 30 days
_RECENTLY_ACTIVE_S: Final = 3 * 3600
_ARITHMETIC_MESSAGE: Final = {
    "Code": "ArithmeticError",
    "Value": "One or more data-points have been dropped due to non-numeric values "
    "(NaN, -Infinite, +Infinite)",
}
#: Operations on alarms moto answers; the runner first adopts alarms it has not seen.
_ALARM_READS: Final = frozenset({"DescribeAlarms", "DescribeAlarmsForMetric"})
_ALARM_WRITES: Final = frozenset(
    {
        "PutMetricAlarm",
        "SetAlarmState",
        "DeleteAlarms",
        "EnableAlarmActions",
        "DisableAlarmActions",
    }
)


class CloudWatchError(Exception):
    """A request CloudWatch refuses: ``code`` (its error code), HTTP 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _number(t: float) -> float | int:
    return int(t) if float(t).is_integer() else t


def _epoch(value: Any, member: str) -> float:
    """A JSON-protocol timestamp: epoch seconds (what botocore sends) or an ISO 8601 string."""
    if isinstance(value, bool) or value is None:
        raise CloudWatchError("MissingParameter", f"The parameter {member} is required.")
    if not isinstance(value, (int, float, str)):
        raise CloudWatchError(
            "InvalidParameterValue", f"The value {value} for parameter {member} is not valid."
        )
    seconds = _wall_seconds(value)
    if seconds is None:
        raise CloudWatchError(
            "InvalidParameterValue",
            f"The value {value} for parameter {member} is not a valid timestamp.",
        )
    return seconds


def _dimensions(value: Any, member: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise CloudWatchError("InvalidParameterValue", f"The parameter {member} must be a list.")
    out: dict[str, str] = {}
    for i, dimension in enumerate(value, 1):
        for part in ("Name", "Value"):
            if not isinstance(dimension, dict) or not isinstance(dimension.get(part), str):
                raise CloudWatchError(
                    "MissingParameter", f"The parameter {member}.member.{i}.{part} is required."
                )
        if dimension["Name"] in out:
            raise CloudWatchError(
                "InvalidParameterCombination",
                f"No Metric can be defined with duplicate Dimension names: {dimension['Name']}",
            )
        out[dimension["Name"]] = dimension["Value"]
    return out


def _required(request: Mapping[str, Any], member: str, prefix: str = "") -> Any:
    value = request.get(member)
    if value is None or value == "":
        raise CloudWatchError("MissingParameter", f"The parameter {prefix}{member} is required.")
    return value


def _token(state: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _untoken(token: Any, kind: type) -> Any:
    try:
        state = json.loads(base64.urlsafe_b64decode(str(token).encode()))
    except ValueError:
        state = None
    if not isinstance(state, kind):
        raise CloudWatchError("InvalidNextToken", "The service couldn't process the NextToken.")
    return state


def _rename_period(error: StatisticsError, member: str) -> CloudWatchError:
    """A GetMetricStatistics message about ``Period`` for a member of another request."""
    return CloudWatchError(error.code, error.message.replace("parameter Period", member))


def _aggregate_all(
    points: Sequence[tuple[float, float]],
    start: float,
    end: float,
    period: int,
    statistics: Sequence[str],
) -> dict[float, dict[str, float]]:
    """:func:`~kernel_runtime.observe.aggregate` without GetMetricStatistics' 1,440-datapoint
    limit (GetMetricData has none): the range is cut into chunks of 1,440 periods."""
    aggregate([], 0.0, 1.0, period, statistics)  # Period and statistics, before any division
    ordered = sorted(points)
    times = [t for t, _ in ordered]
    first = math.floor(start / period) * period
    span = MAX_DATAPOINTS * period
    out: dict[float, dict[str, float]] = {}
    chunk = first
    while chunk < end:
        stop = min(chunk + span, end)
        lo, hi = bisect.bisect_left(times, chunk), bisect.bisect_left(times, stop)
        for datapoint in aggregate(ordered[lo:hi], max(chunk, start), stop, period, statistics):
            out[datapoint.timestamp] = datapoint.values
        chunk += span
    return out


# -- metric math -------------------------------------------------------------------------------
class _Series:
    """One time series of a GetMetricData result: period start -> value."""

    __slots__ = ("period", "values")

    def __init__(self, values: dict[float, float], period: int) -> None:
        self.values = values
        self.period = period


_Value = Any  # float | _Series | list[_Series]
_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>'[^']*'|\"[^\"]*\")|(?P<op>[-+*/^(),\[\]]))"
)
_AGGREGATES: Final[dict[str, Callable[[list[float]], float]]] = {
    "SUM": math.fsum,
    "AVG": lambda values: math.fsum(values) / len(values),
    "MIN": min,
    "MAX": max,
}
_FUNCTIONS: Final = ("SUM", "AVG", "MIN", "MAX", "ABS", "FILL", "METRICS")


class _Expression:
    """A recursive-descent evaluator of CloudWatch metric math (the subset above)."""

    def __init__(
        self,
        query_id: str,
        text: str,
        resolve: Callable[[str], _Value],
        metrics: Callable[[], list[tuple[str, _Series]]],
        grid: Callable[[int], list[float]],
    ) -> None:
        self.query_id = query_id
        self.text = text
        self.resolve = resolve
        self.metrics = metrics
        self.grid = grid
        self.dropped = False
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = _TOKEN_RE.match(text, pos)
            if match is None or match.end() == pos:
                self.fail(f"Syntax error at position {pos + 1}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def fail(self, detail: str) -> NoReturn:
        raise CloudWatchError(
            "ValidationError", f"Error in expression {self.query_id}: {detail} ({self.text})"
        )

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (op is not None and token != ("op", op)):
            self.fail(f"Expected '{op}'" if op else "Unexpected end of expression")
        self.pos += 1
        return token

    def evaluate(self) -> _Value:
        if not self.tokens:
            self.fail("Empty expression")
        value = self.sum()
        rest = self.peek()
        if rest is not None:
            self.fail(f"Unexpected '{rest[1]}'")
        return value

    def sum(self) -> _Value:
        value = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            value = self.apply(op, value, self.product())
        return value

    def product(self) -> _Value:
        value = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            value = self.apply(op, value, self.unary())
        return value

    def unary(self) -> _Value:
        if self.peek() == ("op", "-"):
            self.take()
            return self.apply("*", -1.0, self.unary())
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> _Value:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            return self.apply("^", base, self.unary())
        return base

    def atom(self) -> _Value:
        kind, text = self.take()
        if kind == "number":
            return float(text)
        if kind == "string":
            self.fail(f"Unexpected string {text}")
        if (kind, text) == ("op", "("):
            value = self.sum()
            self.take(")")
            return value
        if (kind, text) == ("op", "["):
            items = self.arguments("]")
            if not all(isinstance(item, _Series) for item in items):
                self.fail("An array holds time series only")
            return items
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                return self.call(text)
            return self.resolve(text)
        self.fail(f"Unexpected '{text}'")

    def arguments(self, close: str) -> list[_Value]:
        items: list[_Value] = []
        if self.peek() == ("op", close):
            self.take()
            return items
        while True:
            token = self.peek()
            if token is not None and token[0] == "string":
                items.append(self.take()[1][1:-1])
            else:
                items.append(self.sum())
            if self.peek() == ("op", ","):
                self.take()
                continue
            self.take(close)
            return items

    def call(self, name: str) -> _Value:
        upper = name.upper()
        if upper not in _FUNCTIONS:
            self.fail(f"Unsupported function {name}: this lab's metric math has "
                      f"{', '.join(_FUNCTIONS)}")  # fmt: skip
        args = self.arguments(")")
        if upper == "METRICS":
            if len(args) > 1 or (args and not isinstance(args[0], str)):
                self.fail("METRICS takes no argument or one string")
            part = args[0] if args else ""
            return [series for query_id, series in self.metrics() if part in query_id]
        if upper in _AGGREGATES:
            if len(args) != 1 or isinstance(args[0], str):
                self.fail(f"{upper} takes one argument")
            return self.aggregate(_AGGREGATES[upper], args[0])
        if upper == "ABS":
            if len(args) != 1 or isinstance(args[0], str):
                self.fail("ABS takes one argument")
            return self.map(args[0], abs)
        # FILL
        if len(args) != 2 or isinstance(args[0], str) or not isinstance(args[1], float):
            self.fail("FILL is supported here with a number as its second argument")
        return self.fill(args[0], args[1])

    # -- values --------------------------------------------------------------------------------
    def aggregate(self, fn: Callable[[list[float]], float], value: _Value) -> _Value:
        if isinstance(value, float):
            return value
        if isinstance(value, _Series):
            return fn(list(value.values.values())) if value.values else math.nan
        if not value:
            return math.nan
        stamps = sorted({t for series in value for t in series.values})
        out = {t: fn([s.values[t] for s in value if t in s.values]) for t in stamps}
        return _Series(out, min(s.period for s in value))

    def map(self, value: _Value, fn: Callable[[float], float]) -> _Value:
        if isinstance(value, float):
            return fn(value)
        if isinstance(value, _Series):
            return _Series({t: fn(v) for t, v in value.values.items()}, value.period)
        return [self.map(series, fn) for series in value]

    def fill(self, value: _Value, filler: float) -> _Value:
        if isinstance(value, float):
            return value
        if isinstance(value, list):
            return [self.fill(series, filler) for series in value]
        return _Series(
            {t: value.values.get(t, filler) for t in self.grid(value.period)}, value.period
        )

    def apply(self, op: str, left: _Value, right: _Value) -> _Value:
        if isinstance(left, str) or isinstance(right, str):
            self.fail("Unexpected string")
        if isinstance(left, list):
            return [self.apply(op, series, right) for series in left]
        if isinstance(right, list):
            return [self.apply(op, left, series) for series in right]
        if isinstance(left, float) and isinstance(right, float):
            return self.compute(op, left, right)
        if isinstance(left, _Series) and isinstance(right, _Series):
            out = {}
            for t, v in left.values.items():
                if t in right.values:
                    out[t] = self.compute(op, v, right.values[t])
            return self.clean(_Series(out, min(left.period, right.period)))
        if isinstance(left, _Series):
            series = left
            out = {t: self.compute(op, v, right) for t, v in left.values.items()}
        else:
            series = right
            out = {t: self.compute(op, left, v) for t, v in right.values.items()}
        return self.clean(_Series(out, series.period))

    @staticmethod
    def compute(op: str, a: float, b: float) -> float:
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b if b else (math.nan if not a else math.copysign(math.inf, a))
            return float(a**b)
        except (OverflowError, ZeroDivisionError, TypeError):
            return math.nan

    def clean(self, series: _Series) -> _Series:
        """Drop non-numeric results, as CloudWatch does (with an ArithmeticError message)."""
        kept = {t: v for t, v in series.values.items() if math.isfinite(v)}
        if len(kept) != len(series.values):
            self.dropped = True
        return _Series(kept, series.period)


# -- the interceptor ---------------------------------------------------------------------------
class CloudWatchInterceptor:
    """The edge's ``monitoring`` interceptor: ``(operation, environ, body)`` -> a response, or
    None to let moto answer. ``metrics`` is the runtime's
    :class:`~kernel_runtime.observe.LambdaMetrics`; ``region`` the runtime's (AWS/Lambda
    metrics and alarm history belong to it); ``alarms`` the
    :class:`~kernel_runtime.observe.AlarmRunner`, once it runs."""

    def __init__(self, metrics: Any, *, region: str | None = None, alarms: Any = None) -> None:
        self.metrics = metrics
        self.region = region
        self.alarms = alarms
        self._handlers: dict[str, Callable[[dict[str, Any], bool], Any]] = {
            "GetMetricStatistics": self.get_metric_statistics,
            "GetMetricData": self.get_metric_data,
            "ListMetrics": self.list_metrics,
            "DescribeAlarmHistory": self.describe_alarm_history,
        }

    def __call__(self, operation: str, environ: dict[str, Any], body: bytes) -> Response | None:
        alarms = self.alarms
        if alarms is not None and operation in _ALARM_READS:
            alarms.sync()  # new alarms start INSUFFICIENT_DATA before moto describes them
            return None
        if alarms is not None and operation in _ALARM_WRITES:
            alarms.poke()  # look again as soon as moto has applied it
            return None
        handler = self._handlers.get(operation)
        if handler is None:
            return None
        content_type = str(environ.get("CONTENT_TYPE") or "")
        if not content_type.startswith("application/x-amz-json"):
            return None  # the query protocol (older SDKs): moto's
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None
        if not isinstance(request, dict):
            return None
        scope = credential_scope(environ.get("HTTP_AUTHORIZATION"))
        region = scope[-3] if scope is not None else None
        home = self.region is None or region is None or region == self.region
        try:
            result = handler(request, home)
        except CloudWatchError as exc:
            return _error(exc.code, exc.message)
        except StatisticsError as exc:
            return _error(exc.code, exc.message)
        if result is None:
            return None
        return _ok(result)

    # -- ownership -------------------------------------------------------------------------------
    def _owns(self, namespace: str, home: bool) -> bool:
        if namespace == LAMBDA_NAMESPACE:
            return home
        return home and bool(self.metrics.has_namespace(namespace))

    # -- GetMetricStatistics ---------------------------------------------------------------------
    def get_metric_statistics(self, request: dict[str, Any], home: bool) -> Any:
        namespace = str(_required(request, "Namespace"))
        name = str(_required(request, "MetricName"))
        simple = list(request.get("Statistics") or [])
        extended = list(request.get("ExtendedStatistics") or [])
        owned = self._owns(namespace, home)
        if not owned and (not extended or not self._has_fallback(home)):
            return None  # moto has the points (and no percentiles: those it cannot answer)
        if not simple and not extended:
            raise CloudWatchError(
                "InvalidParameterCombination",
                "Must specify either Statistics or ExtendedStatistics",
            )
        bad = [s for s in simple if s not in SIMPLE_STATISTICS]
        if bad:
            raise CloudWatchError(
                "ValidationError",
                f"1 validation error detected: Value '[{', '.join(map(str, simple))}]' at "
                "'statistics' failed to satisfy constraint: Member must satisfy constraint: "
                f"[Member must satisfy enum value set: [{', '.join(SIMPLE_STATISTICS)}]]",
            )
        for stat in extended:
            if not parse_statistic(str(stat)).extended:
                raise CloudWatchError(
                    "InvalidParameterValue",
                    f"The value {stat} for parameter ExtendedStatistics is not supported.",
                )
        period = _required(request, "Period")
        start = _epoch(request.get("StartTime"), "StartTime")
        end = _epoch(request.get("EndTime"), "EndTime")
        dims = _dimensions(request.get("Dimensions"), "Dimensions")
        unit = request.get("Unit")
        datapoints = self.metrics.statistics(
            namespace, name, dims, start, end, period, [*simple, *extended], unit=unit
        )
        shown_unit = unit or self.metrics.unit(namespace, name, dims)
        out = []
        for datapoint in datapoints:
            item: dict[str, Any] = {"Timestamp": _number(datapoint.timestamp)}
            ext = {}
            for stat, value in datapoint.values.items():
                if stat in SIMPLE_STATISTICS and stat in simple:
                    item[stat] = value
                elif stat in extended:
                    ext[stat] = value
            if ext:
                item["ExtendedStatistics"] = ext
            item["Unit"] = shown_unit
            out.append(item)
        return {"Label": name, "Datapoints": out}

    def _has_fallback(self, home: bool) -> bool:
        """moto's raw points can be read (for the runtime's own region only)."""
        return home and getattr(self.metrics, "fallback", None) is not None

    # -- GetMetricData ---------------------------------------------------------------------------
    def get_metric_data(self, request: dict[str, Any], home: bool) -> Any:
        queries = request.get("MetricDataQueries")
        if not isinstance(queries, list) or not queries:
            raise CloudWatchError(
                "MissingParameter", "The parameter MetricDataQueries is required."
            )
        if len(queries) > _MAX_QUERIES:
            raise CloudWatchError(
                "ValidationError",
                "1 validation error detected: Value at 'metricDataQueries' failed to satisfy "
                f"constraint: Member must have length less than or equal to {_MAX_QUERIES}",
            )
        start = _epoch(request.get("StartTime"), "StartTime")
        end = _epoch(request.get("EndTime"), "EndTime")
        if not start < end:
            raise CloudWatchError(
                "ValidationError", "The parameter EndTime must be greater than StartTime."
            )
        scan_by = request.get("ScanBy") or "TimestampDescending"
        if scan_by not in ("TimestampDescending", "TimestampAscending"):
            raise CloudWatchError(
                "ValidationError",
                f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to satisfy "
                "constraint: Member must satisfy enum value set: "
                "[TimestampDescending, TimestampAscending]",
            )
        max_points = request.get("MaxDatapoints", _DEFAULT_MAX_DATAPOINTS)
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
            raise CloudWatchError(
                "InvalidParameterValue",
                f"The value {max_points} for parameter MaxDatapoints is not valid.",
            )
        parsed = self._parse_queries(queries)
        stats = [q for q in parsed if "MetricStat" in q]
        foreign = [q for q in stats if not self._owns(q["namespace"], home)]
        simple_only = all(q["stat"].kind == "simple" for q in stats)
        if len(foreign) == len(parsed) and simple_only:
            return None  # plain MetricStat queries over moto's metrics: moto answers
        if foreign and not self._has_fallback(home):
            return None
        results = self._evaluate(parsed, start, end)
        return self._page(results, parsed, scan_by, max_points, request.get("NextToken"))

    def _parse_queries(self, queries: list[Any]) -> list[dict[str, Any]]:
        parsed: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, query in enumerate(queries, 1):
            prefix = f"MetricDataQueries.member.{i}."
            if not isinstance(query, dict):
                raise CloudWatchError("MissingParameter", f"The parameter {prefix}Id is required.")
            query_id = str(_required(query, "Id", prefix))
            if not _ID_RE.fullmatch(query_id) or len(query_id) > 255:
                raise CloudWatchError(
                    "ValidationError",
                    f"Invalid metric data query id {query_id}: an id starts with a lowercase "
                    "letter and holds only letters, numbers and underscores.",
                )
            if query_id in seen:
                raise CloudWatchError(
                    "ValidationError",
                    f"The value {query_id} for parameter {prefix}Id is not unique.",
                )
            seen.add(query_id)
            has_stat, has_expression = "MetricStat" in query, "Expression" in query
            if has_stat == has_expression:
                if has_stat:
                    raise CloudWatchError(
                        "ValidationError",
                        f"The parameters {prefix}MetricStat and {prefix}Expression are "
                        "mutually exclusive.",
                    )
                raise CloudWatchError(
                    "ValidationError", f"The parameter {prefix}MetricStat is required.\n"
                )
            item: dict[str, Any] = {
                "Id": query_id,
                "Label": query.get("Label"),
                "ReturnData": query.get("ReturnData", True) is not False,
            }
            if has_expression:
                text = str(query["Expression"])
                if text.lstrip().upper().startswith("SELECT"):
                    raise CloudWatchError(
                        "ValidationError",
                        f"Error in expression {query_id}: Metrics Insights queries (SELECT) "
                        "are not supported by this lab",
                    )
                item["Expression"] = text
            else:
                stat_member = query["MetricStat"]
                metric = _required(stat_member, "Metric", prefix + "MetricStat.")
                stat_prefix = prefix + "MetricStat."
                item["MetricStat"] = stat_member
                item["namespace"] = str(_required(metric, "Namespace", stat_prefix + "Metric."))
                item["name"] = str(_required(metric, "MetricName", stat_prefix + "Metric."))
                item["dimensions"] = _dimensions(
                    metric.get("Dimensions"), stat_prefix + "Metric.Dimensions"
                )
                period = _required(stat_member, "Period", stat_prefix)
                if isinstance(period, bool) or not isinstance(period, int):
                    raise CloudWatchError(
                        "InvalidParameterValue",
                        f"The value {period} for parameter {stat_prefix}Period is not an integer.",
                    )
                item["period"] = period
                stat_name = str(_required(stat_member, "Stat", stat_prefix))
                try:
                    item["stat"] = parse_statistic(stat_name)
                except StatisticsError:
                    raise CloudWatchError(
                        "InvalidParameterValue",
                        f"The value {stat_name} for parameter {stat_prefix}Stat is not supported.",
                    ) from None
                item["unit"] = stat_member.get("Unit")
                item["prefix"] = stat_prefix
            parsed.append(item)
        if not any(q["ReturnData"] for q in parsed):
            raise CloudWatchError(
                "ValidationError",
                "At least one of the MetricDataQueries must have ReturnData set to true.",
            )
        return parsed

    def _evaluate(
        self, parsed: list[dict[str, Any]], start: float, end: float
    ) -> dict[str, tuple[_Series, bool]]:
        """Every query's series (and whether an expression dropped non-numeric values)."""
        series: dict[str, tuple[_Series, bool]] = {}
        by_id = {q["Id"]: q for q in parsed}
        stat_ids = [q["Id"] for q in parsed if "MetricStat" in q]
        for query in parsed:
            if "MetricStat" not in query:
                continue
            period = query["period"]
            try:
                table = _aggregate_all(
                    self.metrics.metric_points(
                        query["namespace"],
                        query["name"],
                        query["dimensions"],
                        math.floor(start / period) * period if period >= 1 else start,
                        end,
                        unit=query["unit"],
                    ),
                    start,
                    end,
                    period,
                    [query["stat"].name],
                )
            except StatisticsError as exc:
                raise _rename_period(exc, f"parameter {query['prefix']}Period") from None
            values = {
                t: stats[query["stat"].name]
                for t, stats in table.items()
                if query["stat"].name in stats
            }
            series[query["Id"]] = (_Series(values, period), False)

        def grid(period: int) -> list[float]:
            first = math.floor(start / period) * period
            return [float(t) for t in range(int(first), math.ceil(end), period)]

        evaluating: list[str] = []

        def resolve(query_id: str) -> _Value:
            if query_id in series:
                return series[query_id][0]
            query = by_id.get(query_id)
            if query is None or query_id in evaluating:
                owner = evaluating[-1] if evaluating else query_id
                what = "a circular reference to" if query is not None else "an unknown id"
                raise CloudWatchError(
                    "ValidationError",
                    f"Error in expression {owner}: {what} {query_id}",
                )
            evaluating.append(query_id)
            expression = _Expression(
                query_id,
                query["Expression"],
                resolve,
                lambda: [(i, series[i][0]) for i in stat_ids],
                grid,
            )
            value = expression.evaluate()
            evaluating.pop()
            if isinstance(value, list):
                raise CloudWatchError(
                    "ValidationError",
                    f"Error in expression {query_id}: the expression returns an array of time "
                    "series; this lab returns one time series per expression (use SUM, AVG, "
                    "MIN or MAX over the array)",
                )
            if isinstance(value, float):  # a scalar: one value at every timestamp of the metrics
                stamps = sorted({t for i in stat_ids for t in series[i][0].values})
                periods = [series[i][0].period for i in stat_ids] or [60]
                value = expression.clean(_Series(dict.fromkeys(stamps, value), min(periods)))
            series[query_id] = (value, expression.dropped)
            return value

        for query in parsed:
            if "Expression" in query:
                resolve(query["Id"])
        return series

    def _page(
        self,
        results: dict[str, tuple[_Series, bool]],
        parsed: list[dict[str, Any]],
        scan_by: str,
        max_points: int,
        next_token: Any,
    ) -> dict[str, Any]:
        offsets: dict[str, int] = {}
        if next_token is not None:
            offsets = _untoken(next_token, dict)
        budget = max_points
        out = []
        more: dict[str, int] = {}
        for query in parsed:
            if not query["ReturnData"]:
                continue
            query_id = query["Id"]
            series, dropped = results[query_id]
            stamps = sorted(series.values, reverse=scan_by == "TimestampDescending")
            skip = int(offsets.get(query_id, 0))
            page = stamps[skip : skip + budget]
            budget -= len(page)
            item: dict[str, Any] = {
                "Id": query_id,
                "Label": query["Label"] if query["Label"] is not None else self._label(query),
                "Timestamps": [_number(t) for t in page],
                "Values": [series.values[t] for t in page],
                "StatusCode": "Complete",
            }
            if skip + len(page) < len(stamps):
                item["StatusCode"] = "PartialData"
                more[query_id] = skip + len(page)
            else:
                more[query_id] = len(stamps)
            if dropped:
                item["Messages"] = [dict(_ARITHMETIC_MESSAGE)]
            out.append(item)
        response: dict[str, Any] = {"MetricDataResults": out, "Messages": []}
        if any(item["StatusCode"] == "PartialData" for item in out):
            response["NextToken"] = _token(more)
        return response

    @staticmethod
    def _label(query: dict[str, Any]) -> str:
        return str(query["name"]) if "MetricStat" in query else str(query["Id"])

    # -- ListMetrics -----------------------------------------------------------------------------
    def list_metrics(self, request: dict[str, Any], home: bool) -> Any:
        namespace = request.get("Namespace")
        if namespace is not None and not self._owns(str(namespace), home):
            return None
        if namespace is None and not home:
            return None
        filters = request.get("Dimensions") or []
        if not isinstance(filters, list) or not all(
            isinstance(f, dict) and isinstance(f.get("Name"), str) for f in filters
        ):
            raise CloudWatchError(
                "MissingParameter", "The parameter Dimensions.member.1.Name is required."
            )
        since = None
        recently = request.get("RecentlyActive")
        if recently is not None:
            if recently != "PT3H":
                raise CloudWatchError(
                    "ValidationError",
                    f"1 validation error detected: Value '{recently}' at 'recentlyActive' failed "
                    "to satisfy constraint: Member must satisfy enum value set: [PT3H]",
                )
            since = self.metrics.now() - _RECENTLY_ACTIVE_S
        metrics = self.metrics.list_metrics(
            namespace, request.get("MetricName"), filters, since=since
        )
        if namespace is None:
            metrics = _merge(metrics, self._moto_list(request.get("MetricName"), filters))
        offset = 0
        if request.get("NextToken") is not None:
            offset = _untoken(request["NextToken"], int)
        page = metrics[offset : offset + _LIST_PAGE]
        response: dict[str, Any] = {"Metrics": page}
        if offset + _LIST_PAGE < len(metrics):
            response["NextToken"] = _token(offset + _LIST_PAGE)
        return response

    def _moto_list(self, name: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """moto's own metrics (PutMetricData), read in-process, for a ListMetrics without a
        namespace (which must show both)."""
        fallback = getattr(self.metrics, "fallback", None)
        if fallback is None:
            return []
        return list(fallback.list_metrics(name, filters))

    # -- DescribeAlarmHistory --------------------------------------------------------------------
    def describe_alarm_history(self, request: dict[str, Any], home: bool) -> Any:
        name = request.get("AlarmName")
        types = request.get("AlarmTypes")
        kind = request.get("HistoryItemType")
        allowed = ("ConfigurationUpdate", "StateUpdate", "Action")
        if kind is not None and kind not in allowed:
            raise CloudWatchError(
                "ValidationError",
                f"1 validation error detected: Value '{kind}' at 'historyItemType' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]",
            )
        scan_by = request.get("ScanBy") or "TimestampDescending"
        if scan_by not in ("TimestampDescending", "TimestampAscending"):
            raise CloudWatchError(
                "ValidationError",
                f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to satisfy "
                "constraint: Member must satisfy enum value set: "
                "[TimestampDescending, TimestampAscending]",
            )
        limit = request.get("MaxRecords", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise CloudWatchError(
                "ValidationError",
                f"1 validation error detected: Value '{limit}' at 'maxRecords' failed to satisfy "
                "constraint: Member must have value between 1 and 100",
            )
        start = request.get("StartDate")
        end = request.get("EndDate")
        lo = _epoch(start, "StartDate") if start is not None else -math.inf
        hi = _epoch(end, "EndDate") if end is not None else math.inf
        items: list[dict[str, Any]] = []
        wants_metric_alarms = not types or "MetricAlarm" in types
        if home and wants_metric_alarms and kind in (None, "StateUpdate"):
            self.metrics.store.flush()  # the runner's newest change may still be queued
            oldest = self.metrics.now() - _HISTORY_DAYS_S
            items = [
                item
                for item in self.metrics.store.alarm_history(name)
                if lo <= item["Timestamp"] <= hi and item["Timestamp"] >= oldest
            ]
        if scan_by == "TimestampAscending":
            items.reverse()
        offset = 0
        if request.get("NextToken") is not None:
            offset = _untoken(request["NextToken"], int)
        page = items[offset : offset + limit]
        response: dict[str, Any] = {
            "AlarmHistoryItems": [
                {**item, "Timestamp": _number(item["Timestamp"])} for item in page
            ]
        }
        if offset + limit < len(items):
            response["NextToken"] = _token(offset + limit)
        return response


def _merge(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both lists, without duplicates, sorted by namespace, name, dimensions."""

    def key(metric: dict[str, Any]) -> tuple[Any, ...]:
        dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        return metric["Namespace"], metric["MetricName"], dims

    merged = {key(m): m for m in theirs}
    merged.update({key(m): m for m in ours})
    return [merged[k] for k in sorted(merged)]


def _headers(body: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", _CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id()),
    ]


def _ok(result: Any) -> Response:
    body = json.dumps(result, separators=(",", ":")).encode()
    return 200, _headers(body), body


def _error(code: str, message: str) -> Response:
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = _headers(body)
    headers.append(("x-amzn-query-error", f"{code};Sender"))
    return 400, headers, body
