"""Metric alarm evaluation with CloudWatch's semantics: pure, state in, decision out.

Sources (read for this module):

* "Using Amazon CloudWatch alarms" / "Alarm evaluation",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
* "Configuring how CloudWatch alarms treat missing data",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
* PutMetricAlarm, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html

The rule: an alarm looks at an *evaluation range* a little longer than its EvaluationPeriods
(AWS's examples fetch 5 periods for an alarm of 3; we always fetch N + 2). If the range holds at
least N real datapoints, the N most recent are evaluated and TreatMissingData plays no part. With
fewer, the real ones are evaluated together with as few filled-in missing ones as needed to make
N: ``breaching`` fills count as breaching, ``notBreaching`` ones as not. ALARM when at least
DatapointsToAlarm (M) of the N breach, otherwise OK.

``missing`` and ``ignore`` decide from the real datapoints alone when those settle it (M of them
breach: ALARM; any of them is within the threshold: OK). Otherwise ``ignore`` keeps the current
state, and ``missing`` answers INSUFFICIENT_DATA, except when the metric has *stopped*: if the
newest real datapoint is older than the newest N periods, CloudWatch keeps re-evaluating the
last data it had (the docs' note on alarms re-evaluating after a metric stops), which with only
breaching data left is ALARM. This reproduces every row of both tables on the missing-data page
(tested in tests/test_alarms.py), including "X - - - -" -> ALARM but "- - - - X" ->
INSUFFICIENT_DATA under ``missing``.

Periods are the epoch-aligned period starts that :func:`~kernel_runtime.observe._stats.aggregate`
produces; the newest evaluated period is the last one complete at ``now``. Actions fire only on
a state change (SNS semantics), from the list of the new state, and only if ActionsEnabled.
StateReason texts follow what CloudWatch writes (e.g. "Threshold Crossed: 3 out of the last 3
datapoints [...] were greater than or equal to the threshold (1.0) (minimum 3 datapoints for OK
-> ALARM transition)."); the one for a state kept by ``ignore`` is ours, CloudWatch shows none
because nothing changes.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from ._logs import _UNITS
from ._stats import SIMPLE_STATISTICS, StatisticsError, parse_statistic

__all__ = [
    "ALARM_STATES",
    "COMPARISON_OPERATORS",
    "EVALUATION_RANGE_EXTRA",
    "TREAT_MISSING_DATA",
    "AlarmValidationError",
    "Evaluation",
    "MetricAlarm",
    "evaluate",
]

ALARM_STATES: Final = ("OK", "ALARM", "INSUFFICIENT_DATA")
#: Operator -> (test of value against threshold, the words CloudWatch's StateReason uses).
COMPARISON_OPERATORS: Final[dict[str, tuple[Callable[[float, float], bool], str]]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_ANOMALY_OPERATORS: Final = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREAT_MISSING_DATA: Final = ("breaching", "notBreaching", "ignore", "missing")
#: Periods fetched beyond EvaluationPeriods (the docs' example: 5 for an alarm of 3).
EVALUATION_RANGE_EXTRA: Final = 2
_HIGH_RESOLUTION_PERIODS: Final = (10, 20, 30)
_DAY: Final = 86_400
_WEEK: Final = 604_800
_NAMESPACE_RE: Final = re.compile(r"[^:].*", re.DOTALL)
_MAX_ACTIONS: Final = 5
_MAX_DIMENSIONS: Final = 30
#: PutMetricAlarm members we model, in the API's order.
_API_MEMBERS: Final = (
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData",
)  # fmt: skip
#: PutMetricAlarm members for alarm kinds this evaluator does not model.
_UNSUPPORTED_MEMBERS: Final = (
    "EvaluateLowSampleCountPercentile", "Metrics", "Tags", "ThresholdMetricId",
    "EvaluationWindow", "WarmUpConfiguration", "EvaluationCriteria", "EvaluationInterval",
    "ActionConfiguration",
)  # fmt: skip
_REQUIRED: Final = (
    "AlarmName", "EvaluationPeriods", "ComparisonOperator", "MetricName", "Namespace", "Period",
    "Threshold",
)  # fmt: skip
_CORAL_REQUIRED: Final = ("AlarmName", "EvaluationPeriods", "ComparisonOperator")


class AlarmValidationError(ValueError):
    """A PutMetricAlarm request CloudWatch refuses; ``code`` is CloudWatch's error code."""

    def __init__(self, message: str, code: str = "ValidationError") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _member(name: str) -> str:
    """The lower-camel member name the service's validation messages use."""
    return ("ok" + name[2:]) if name.startswith("OK") else name[0].lower() + name[1:]


def _constraint(value: object, name: str, constraint: str) -> AlarmValidationError:
    shown = "null" if value is None else f"'{value}'"
    return AlarmValidationError(
        f"1 validation error detected: Value {shown} at '{_member(name)}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _length(value: str | None, name: str, low: int, high: int) -> None:
    if value is None:
        return
    if len(value) < low:
        raise _constraint(value, name, f"Member must have length greater than or equal to {low}")
    if len(value) > high:
        raise _constraint(value, name, f"Member must have length less than or equal to {high}")


def _enum(value: str | None, name: str, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise _constraint(
            value, name, f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def _type(value: object, name: str, expected: type | tuple[type, ...]) -> None:
    """Wrong Python types are what botocore refuses before sending (ParamValidationError)."""
    wanted = expected if isinstance(expected, tuple) else (expected,)
    if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
        raise AlarmValidationError(
            f"Invalid type for parameter {name}, value: {value!r}, type: {type(value)}, "
            f"valid types: {', '.join(str(t) for t in wanted)}",
            code="ParamValidationError",
        )


def _count(value: int, name: str) -> None:
    """An int member of at least 1 (Period, EvaluationPeriods, DatapointsToAlarm)."""
    _type(value, name, int)
    if value < 1:
        raise _constraint(value, name, "Member must have value greater than or equal to 1")


@dataclass(frozen=True, kw_only=True)
class MetricAlarm:
    """An alarm on one metric with a static threshold, as PutMetricAlarm describes it.

    Fields keep the API's names. ``DatapointsToAlarm`` left unset means EvaluationPeriods
    (see :attr:`datapoints_to_alarm`); ``Dimensions`` is a tuple of (Name, Value) pairs.
    Construction validates like the service (:class:`AlarmValidationError`).
    """

    AlarmName: str
    MetricName: str
    Namespace: str
    Period: int
    EvaluationPeriods: int
    Threshold: float
    ComparisonOperator: str
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Dimensions: tuple[tuple[str, str], ...] = ()
    DatapointsToAlarm: int | None = None
    TreatMissingData: str = "missing"
    AlarmActions: tuple[str, ...] = ()
    OKActions: tuple[str, ...] = ()
    InsufficientDataActions: tuple[str, ...] = ()
    ActionsEnabled: bool = True
    AlarmDescription: str | None = None
    Unit: str | None = None

    def __post_init__(self) -> None:
        self._validate_members()
        self._validate_rules()

    @property
    def datapoints_to_alarm(self) -> int:
        """M of "M out of N": DatapointsToAlarm, or EvaluationPeriods when unset."""
        return self.EvaluationPeriods if self.DatapointsToAlarm is None else self.DatapointsToAlarm

    @property
    def statistic(self) -> str:
        """The statistic evaluated: Statistic or ExtendedStatistic, whichever is set."""
        return self.Statistic if self.Statistic is not None else str(self.ExtendedStatistic)

    def actions_for(self, state: str) -> tuple[str, ...]:
        """The action list a transition to ``state`` fires."""
        if state == "ALARM":
            return self.AlarmActions
        if state == "OK":
            return self.OKActions
        return self.InsufficientDataActions

    # -- the API shape ----------------------------------------------------------------------
    @classmethod
    def from_api(cls, request: Mapping[str, Any]) -> MetricAlarm:
        """Build from a PutMetricAlarm request dict, refusing it as CloudWatch would."""
        for key in request:
            if key in _UNSUPPORTED_MEMBERS:
                raise AlarmValidationError(
                    f"{key} is not supported here: the local evaluator models alarms on one "
                    "metric with a static threshold."
                )
            if key not in _API_MEMBERS:
                raise AlarmValidationError(
                    f'Unknown parameter in input: "{key}", must be one of: '
                    + ", ".join(_API_MEMBERS),
                    code="ParamValidationError",
                )
        for key in _REQUIRED:
            if request.get(key) is None:
                if key in _CORAL_REQUIRED:
                    raise _constraint(None, key, "Member must not be null")
                raise AlarmValidationError(f"{key} must not be null")
        values: dict[str, Any] = {k: v for k, v in request.items() if v is not None}
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            if key in values:
                _type(values[key], key, (list, tuple))
                values[key] = tuple(values[key])
        if "Dimensions" in values:
            _type(values["Dimensions"], "Dimensions", (list, tuple))
            pairs = []
            for dimension in values["Dimensions"]:
                _type(dimension, "Dimensions", dict)
                for part in ("Name", "Value"):
                    if part not in dimension:
                        raise AlarmValidationError(
                            f'Missing required parameter in Dimensions: "{part}"',
                            code="ParamValidationError",
                        )
                pairs.append((dimension["Name"], dimension["Value"]))
            values["Dimensions"] = tuple(pairs)
        return cls(**values)

    def to_api(self) -> dict[str, Any]:
        """The PutMetricAlarm request for this alarm (unset optional members omitted)."""
        shaped: dict[str, Any] = {}
        for key in _API_MEMBERS:
            value = getattr(self, key)
            if value is None:
                continue
            if key == "Dimensions":
                value = [{"Name": name, "Value": val} for name, val in value]
            elif isinstance(value, tuple):
                value = list(value)
            shaped[key] = value
        return shaped

    # -- validation ------------------------------------------------------------------------
    def _validate_members(self) -> None:
        """Per-member constraints, checked by the service framework before anything else."""
        _type(self.AlarmName, "AlarmName", str)
        _length(self.AlarmName, "AlarmName", 1, 255)
        if self.AlarmDescription is not None:
            _type(self.AlarmDescription, "AlarmDescription", str)
            _length(self.AlarmDescription, "AlarmDescription", 0, 1024)
        _type(self.ActionsEnabled, "ActionsEnabled", bool)
        for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
            actions = getattr(self, key)
            _type(actions, key, tuple)
            if len(actions) > _MAX_ACTIONS:
                raise _constraint(
                    "[" + ", ".join(actions) + "]",
                    key,
                    f"Member must have length less than or equal to {_MAX_ACTIONS}",
                )
            for action in actions:
                _type(action, key, str)
                _length(action, key, 1, 1024)
        _type(self.MetricName, "MetricName", str)
        _length(self.MetricName, "MetricName", 1, 255)
        _type(self.Namespace, "Namespace", str)
        _length(self.Namespace, "Namespace", 1, 255)
        if not _NAMESPACE_RE.fullmatch(self.Namespace):
            raise _constraint(
                self.Namespace,
                "Namespace",
                "Member must satisfy regular expression pattern: [^:].*",
            )
        if self.Statistic is not None:
            _type(self.Statistic, "Statistic", str)
        _enum(self.Statistic, "Statistic", SIMPLE_STATISTICS)
        _type(self.Dimensions, "Dimensions", tuple)
        if len(self.Dimensions) > _MAX_DIMENSIONS:
            raise _constraint(
                f"{len(self.Dimensions)} dimensions",
                "Dimensions",
                f"Member must have length less than or equal to {_MAX_DIMENSIONS}",
            )
        for name, value in self.Dimensions:
            _type(name, "Dimensions", str)
            _type(value, "Dimensions", str)
            _length(name, "Dimensions.member.Name", 1, 255)
            _length(value, "Dimensions.member.Value", 1, 1024)
        _count(self.Period, "Period")
        _enum(self.Unit, "Unit", _UNITS)
        _count(self.EvaluationPeriods, "EvaluationPeriods")
        if self.DatapointsToAlarm is not None:
            _count(self.DatapointsToAlarm, "DatapointsToAlarm")
        _type(self.Threshold, "Threshold", (int, float))
        _type(self.ComparisonOperator, "ComparisonOperator", str)
        _enum(
            self.ComparisonOperator,
            "ComparisonOperator",
            (*COMPARISON_OPERATORS, *_ANOMALY_OPERATORS),
        )
        _type(self.TreatMissingData, "TreatMissingData", str)
        _length(self.TreatMissingData, "TreatMissingData", 1, 255)

    def _validate_rules(self) -> None:
        """Rules across members, checked by CloudWatch itself."""
        if self.Statistic is not None and self.ExtendedStatistic is not None:
            raise AlarmValidationError(
                "Statistic and ExtendedStatistic are mutually exclusive; specify only one."
            )
        if self.Statistic is None and self.ExtendedStatistic is None:
            raise AlarmValidationError("Statistic or ExtendedStatistic must be specified.")
        if self.ExtendedStatistic is not None:
            unsupported = AlarmValidationError(
                f"The value {self.ExtendedStatistic} for parameter ExtendedStatistic is not "
                "supported.",
                code="InvalidParameterValue",
            )
            try:
                parsed = parse_statistic(self.ExtendedStatistic)
            except StatisticsError:
                raise unsupported from None
            if not parsed.extended:
                raise unsupported
        if self.Period not in _HIGH_RESOLUTION_PERIODS and self.Period % 60:
            raise AlarmValidationError("Period must be 10, 20, 30 or a multiple of 60")
        window = self.Period * self.EvaluationPeriods
        if self.Period < 3600 and window > _DAY:
            raise AlarmValidationError(
                "Metrics cannot be checked across more than a day (EvaluationPeriods * Period "
                f"must be <= {_DAY})"
            )
        if window > _WEEK:
            raise AlarmValidationError(
                "Metrics cannot be checked across more than a week (EvaluationPeriods * Period "
                f"must be <= {_WEEK})"
            )
        if self.DatapointsToAlarm is not None and self.DatapointsToAlarm > self.EvaluationPeriods:
            raise AlarmValidationError(
                "DatapointsToAlarm must be less than or equal to EvaluationPeriods"
            )
        if self.TreatMissingData not in TREAT_MISSING_DATA:
            raise AlarmValidationError(
                f"Option {self.TreatMissingData} is not supported. Supported options for "
                "parameter TreatMissingData are missing, ignore, breaching and notBreaching."
            )
        if self.ComparisonOperator in _ANOMALY_OPERATORS:
            raise AlarmValidationError(
                f"ComparisonOperator {self.ComparisonOperator} needs an anomaly detection band "
                "(ThresholdMetricId), which is not supported here."
            )
        if not math.isfinite(self.Threshold):
            raise _constraint(self.Threshold, "Threshold", "Member must be a finite number")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: the state decided, CloudWatch's StateReason and StateReasonData (as a
    dict; the API carries it JSON-encoded), whether the state changed and the actions to fire.
    When ``changed`` is False the alarm keeps its previous StateReason, as CloudWatch does."""

    old_state: str
    new_state: str
    reason: str
    reason_data: dict[str, Any]
    changed: bool
    actions: tuple[str, ...]


def evaluate(
    alarm: MetricAlarm,
    datapoints_by_period: Mapping[float, float | None],
    now: float | datetime,
    state: str = "INSUFFICIENT_DATA",
) -> Evaluation:
    """Evaluate ``alarm`` at ``now`` (epoch seconds or an aware datetime) from its current
    ``state`` (a new alarm starts in INSUFFICIENT_DATA).

    ``datapoints_by_period`` maps period starts (epoch seconds, multiples of the alarm's
    Period) to the statistic's value there; a period absent, ``None`` or NaN is missing.
    """
    if state not in ALARM_STATES:
        raise ValueError(f"state must be one of {', '.join(ALARM_STATES)}, not {state!r}")
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    period = alarm.Period
    for start in datapoints_by_period:
        if start % period:
            raise ValueError(f"period start {start} is not a multiple of Period ({period})")
    n, m = alarm.EvaluationPeriods, alarm.datapoints_to_alarm
    newest = math.floor(now_s / period) * period - period  # last period complete at `now`
    starts = [newest - i * period for i in range(n + EVALUATION_RANGE_EXTRA)]  # newest first
    real: list[tuple[float, float]] = []
    missing: list[float] = []
    for start in starts:
        value = datapoints_by_period.get(start)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing.append(start)
        else:
            real.append((start, float(value)))
    test, words = COMPARISON_OPERATORS[alarm.ComparisonOperator]
    threshold = float(alarm.Threshold)

    def breaches(point: tuple[float, float]) -> bool:
        return test(point[1], threshold)

    filled: list[float] = []
    fill_as = ""
    kept = False  # `ignore` keeping the current state
    if len(real) >= n:
        evaluated = real[:n]
        new_state = _decide(sum(map(breaches, evaluated)), m)
    else:
        evaluated = real
        breaching = sum(map(breaches, real))
        within = len(real) - breaching
        needed = n - len(real)
        treat = alarm.TreatMissingData
        if treat in ("breaching", "notBreaching"):
            filled = missing[:needed]  # the newest missing periods, as few as possible
            fill_as = "Breaching" if treat == "breaching" else "NonBreaching"
            new_state = _decide(breaching + (needed if treat == "breaching" else 0), m)
        elif breaching >= m:
            new_state = "ALARM"
        elif within:
            new_state = "OK"
        elif treat == "ignore":
            new_state, kept = state, True
        elif real and real[0][0] < starts[n - 1]:  # the metric stopped: last data re-evaluated
            new_state = "ALARM"
        else:
            new_state = "INSUFFICIENT_DATA"
    reason = _reason(alarm, new_state, evaluated, filled, fill_as, n, m, words, breaches, kept)
    changed = new_state != state
    return Evaluation(
        old_state=state,
        new_state=new_state,
        reason=reason,
        reason_data=_reason_data(alarm, now_s, real, evaluated, filled),
        changed=changed,
        actions=alarm.actions_for(new_state) if changed and alarm.ActionsEnabled else (),
    )


# -- StateReason and StateReasonData ---------------------------------------------------------
def _decide(breaching: int, m: int) -> str:
    return "ALARM" if breaching >= m else "OK"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _stamp(start: float) -> str:
    return datetime.fromtimestamp(start, tz=timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _listing(points: list[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"{value!r} ({_stamp(start)})" for start, value in points) + "]"


def _reason(
    alarm: MetricAlarm,
    new_state: str,
    evaluated: list[tuple[float, float]],
    filled: list[float],
    fill_as: str,
    n: int,
    m: int,
    words: str,
    breaches: Callable[[tuple[float, float]], bool],
    kept: bool,
) -> str:
    threshold = float(alarm.Threshold)
    if fill_as:
        if not evaluated:
            return (
                f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
                f"{_plural(len(filled), 'missing datapoint')} {_was(len(filled))} treated as "
                f"[{fill_as}]."
            )
        return (
            f"Threshold Crossed: {_plural(len(evaluated), 'datapoint')} {_was(len(evaluated))} "
            f"received for {_plural(n, 'period')} and "
            f"{_plural(len(filled), 'missing datapoint')} {_was(len(filled))} treated as "
            f"[{fill_as}]."
        )
    if new_state == "INSUFFICIENT_DATA" or kept:
        unknown = n - len(evaluated)
        if kept:
            return (
                f"Threshold Crossed: {_plural(unknown, 'missing datapoint')} {_was(unknown)} "
                f"ignored (TreatMissingData: ignore); the alarm stays {new_state}."
            )
        return f"Insufficient Data: {_plural(unknown, 'datapoint')} {_was(unknown)} unknown."
    if new_state == "ALARM":
        shown = [point for point in evaluated if breaches(point)]
        verb, minimum, transition = words, m, "OK -> ALARM"
    else:
        shown = [point for point in evaluated if not breaches(point)]
        verb, minimum, transition = f"not {words}", n - m + 1, "ALARM -> OK"
    if n == 1:
        return (
            f"Threshold Crossed: 1 datapoint {_listing(shown)} was {verb} the threshold "
            f"({threshold!r})."
        )
    return (
        f"Threshold Crossed: {len(shown)} out of the last {n} datapoints {_listing(shown)} "
        f"{_was(len(shown))} {verb} the threshold ({threshold!r}) "
        f"(minimum {_plural(minimum, 'datapoint')} for {transition} transition)."
    )


def _reason_data(
    alarm: MetricAlarm,
    now: float,
    real: list[tuple[float, float]],
    evaluated: list[tuple[float, float]],
    filled: list[float],
) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(now)}
    moments = [start for start, _ in evaluated] + filled
    if moments:
        data["startDate"] = _iso(min(moments))
    if alarm.Unit is not None:
        data["unit"] = alarm.Unit
    data["statistic"] = alarm.statistic
    data["period"] = alarm.Period
    data["recentDatapoints"] = [value for _, value in reversed(real)]  # oldest first
    data["threshold"] = float(alarm.Threshold)
    points = [{"timestamp": _iso(start), "value": value} for start, value in evaluated]
    points += [{"timestamp": _iso(start)} for start in filled]
    points.sort(key=lambda point: point["timestamp"], reverse=True)  # newest first
    data["evaluatedDatapoints"] = points
    return data
