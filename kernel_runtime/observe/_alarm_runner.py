"""The alarm runner: CloudWatch metric alarms evaluated on the platform clock, with actions.

Sources: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html ;
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions.html (Lambda
alarm actions and their event) ;
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html

moto stores the alarms users put (``put_metric_alarm``) but never evaluates them, and its
``set_alarm_state`` fires no action (reference/moto.md section 5). The runner reads the alarms
in-process from moto's CloudWatch backend of the runtime's account and region and, like
CloudWatch:

* starts a new alarm in ``INSUFFICIENT_DATA`` ("Unchecked: Initial alarm creation"; moto says
  ``OK``), and keeps the state of an alarm that PutMetricAlarm updates;
* evaluates every alarm at each boundary of ``period_s`` platform seconds, the first time at the
  first boundary after it was put (alarms with a shorter Period, the high-resolution ones, at
  each Period boundary), with :func:`~kernel_runtime.observe.evaluate` over
  :meth:`~kernel_runtime.observe.LambdaMetrics.statistics` of its metric, so that with
  ``clock_speed=60`` a one-minute alarm is evaluated every real second;
* on a state change records it in the store (DescribeAlarmHistory reads it), sets StateValue,
  StateReason, StateReasonData and StateUpdatedTimestamp in moto (DescribeAlarms shows them),
  and fires the actions of the new state when ActionsEnabled: SNS topics get the notification
  JSON CloudWatch publishes, Lambda functions are invoked asynchronously with the alarm-action
  event; other action kinds (EC2, Auto Scaling, Systems Manager) are logged and skipped;
* treats a state set with SetAlarmState as a change too: recorded, actions fired (as on AWS,
  where SetAlarmState exists to test actions), until the next evaluation decides again.

Alarms on metric math (``Metrics``), composite alarms and anomaly-detection alarms are not
evaluated (they keep the state moto gives them). Metrics of namespaces the store has no points
of are read from moto's raw PutMetricData points, so alarms on custom metrics work too.
Evaluation and actions run on the runner's daemon thread (woken by platform clock timers), never
on the clock's own thread.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from ._alarms import ALARM_STATES, EVALUATION_RANGE_EXTRA, AlarmValidationError, MetricAlarm
from ._alarms import evaluate as evaluate_alarm
from ._metrics import MotoMetricData
from ._stats import StatisticsError

__all__ = ["AlarmRunner", "AlarmStateChange"]

_log = logging.getLogger("kernel_runtime.observe.alarms")

_INITIAL_REASON: Final = "Unchecked: Initial alarm creation"
_POLL_S: Final = 1.0  # real seconds between looks for new alarms when nothing is due sooner
_RECHECK_S: Final = 1.0  # after an alarm write, look again this long (real seconds) ...
_RECHECK_POLL_S: Final = 0.05  # ... this often
_SUBJECT_MAX: Final = 100  # SNS Subject limit
_STATISTIC_WORDS: Final = {
    "SampleCount": "SAMPLE_COUNT",
    "Average": "AVERAGE",
    "Sum": "SUM",
    "Minimum": "MINIMUM",
    "Maximum": "MAXIMUM",
}


def _iso(epoch: float) -> str:
    """CloudWatch's notification time format: ``2023-08-04T12:36:15.490+0000``."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _utc_naive(epoch: float) -> datetime:
    """moto keeps naive UTC datetimes."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).replace(tzinfo=None)


def _epoch_of(value: Any) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) else time.time()


_REGION_NAMES: dict[str, str] = {}


def _region_name(region: str) -> str:
    """The long name CloudWatch notifications use ("US East (N. Virginia)")."""
    if not _REGION_NAMES:
        import botocore.session

        data = botocore.session.get_session().get_data("endpoints")
        for partition in data.get("partitions", []):
            for code, info in partition.get("regions", {}).items():
                _REGION_NAMES[code] = str(info.get("description", code))
    return _REGION_NAMES.get(region, region)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _request_of(alarm: Any) -> dict[str, Any]:
    """A moto alarm as the PutMetricAlarm request that made it (for MetricAlarm.from_api)."""
    if alarm.metric_data_queries:
        raise AlarmValidationError("Metrics is not supported here")
    if alarm.threshold_metric_id:
        raise AlarmValidationError("ThresholdMetricId is not supported here")
    datapoints = alarm.datapoints_to_alarm
    request: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "ActionsEnabled": _truthy(alarm.actions_enabled),
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        "Period": None if alarm.period is None else int(alarm.period),
        "Unit": alarm.unit,
        "EvaluationPeriods": None
        if alarm.evaluation_periods is None
        else int(alarm.evaluation_periods),
        "DatapointsToAlarm": None if datapoints is None else int(datapoints),
        "Threshold": None if alarm.threshold is None else float(alarm.threshold),
        "ComparisonOperator": alarm.comparison_operator,
        "TreatMissingData": alarm.treat_missing_data,
    }
    return request


@dataclass(frozen=True)
class AlarmStateChange:
    """One state change of an alarm, with what its actions say (times in metric time)."""

    alarm: MetricAlarm
    alarm_arn: str
    configuration_updated: float
    old_state: str
    old_reason: str
    old_reason_data: str | None
    old_timestamp: float
    new_state: str
    reason: str
    reason_data: str
    at: float
    actions: tuple[str, ...]


@dataclass
class _Tracked:
    """An alarm the runner follows: moto's object and the state it last saw or set."""

    alarm: Any
    state: tuple[str, str]  # (StateValue, StateReason)
    due: float  # metric time of the next evaluation
    invalid: str | None = None


def _notification(change: AlarmStateChange, *, account_id: str, region: str) -> dict[str, Any]:
    """The JSON CloudWatch publishes to an SNS topic on a state change."""
    alarm = change.alarm
    trigger: dict[str, Any] = {
        "MetricName": alarm.MetricName,
        "Namespace": alarm.Namespace,
    }
    if alarm.Statistic is not None:
        trigger["StatisticType"] = "Statistic"
        trigger["Statistic"] = _STATISTIC_WORDS.get(alarm.Statistic, alarm.Statistic.upper())
    else:
        trigger["StatisticType"] = "ExtendedStatistic"
        trigger["ExtendedStatistic"] = alarm.ExtendedStatistic
    trigger.update(
        {
            "Unit": alarm.Unit,
            "Dimensions": [{"value": value, "name": name} for name, value in alarm.Dimensions],
            "Period": alarm.Period,
            "EvaluationPeriods": alarm.EvaluationPeriods,
        }
    )
    if alarm.DatapointsToAlarm is not None:
        trigger["DatapointsToAlarm"] = alarm.DatapointsToAlarm
    trigger.update(
        {
            "ComparisonOperator": alarm.ComparisonOperator,
            "Threshold": float(alarm.Threshold),
            "TreatMissingData": alarm.TreatMissingData,
            "EvaluateLowSampleCountPercentile": "",
        }
    )
    return {
        "AlarmName": alarm.AlarmName,
        "AlarmDescription": alarm.AlarmDescription,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _iso(change.configuration_updated),
        "NewStateValue": change.new_state,
        "NewStateReason": change.reason,
        "StateChangeTime": _iso(change.at),
        "Region": _region_name(region),
        "AlarmArn": change.alarm_arn,
        "OldStateValue": change.old_state,
        "OKActions": list(alarm.OKActions),
        "AlarmActions": list(alarm.AlarmActions),
        "InsufficientDataActions": list(alarm.InsufficientDataActions),
        "Trigger": trigger,
    }


def _lambda_event(change: AlarmStateChange, *, account_id: str, region: str) -> dict[str, Any]:
    """The event CloudWatch invokes a Lambda alarm action with (asynchronously)."""
    alarm = change.alarm
    previous: dict[str, Any] = {"value": change.old_state, "reason": change.old_reason}
    if change.old_reason_data and change.old_reason_data != "{}":
        previous["reasonData"] = change.old_reason_data
    previous["timestamp"] = _iso(change.old_timestamp)
    metric_stat: dict[str, Any] = {
        "metric": {
            "namespace": alarm.Namespace,
            "name": alarm.MetricName,
            "dimensions": dict(alarm.Dimensions),
        },
        "period": alarm.Period,
        "stat": alarm.statistic,
    }
    if alarm.Unit is not None:
        metric_stat["unit"] = alarm.Unit
    configuration: dict[str, Any] = {}
    if alarm.AlarmDescription is not None:
        configuration["description"] = alarm.AlarmDescription
    configuration["metrics"] = [
        {"id": str(uuid.uuid4()), "metricStat": metric_stat, "returnData": True}
    ]
    return {
        "source": "aws.cloudwatch",
        "alarmArn": change.alarm_arn,
        "accountId": account_id,
        "time": _iso(change.at),
        "region": region,
        "alarmData": {
            "alarmName": alarm.AlarmName,
            "state": {
                "value": change.new_state,
                "reason": change.reason,
                "reasonData": change.reason_data,
                "timestamp": _iso(change.at),
            },
            "previousState": previous,
            "configuration": configuration,
        },
    }


class AlarmRunner:
    """Evaluates the metric alarms held by the embedded moto; :meth:`start`, :meth:`close`.

    ``metrics`` is the runtime's :class:`~kernel_runtime.observe.LambdaMetrics` (its store
    records the history), ``clock`` the platform clock. ``aws_client_factory(service)`` gives a
    boto3 client at the AWS endpoint (SNS actions); ``invoke_function(function_arn, payload)``
    invokes a function asynchronously (Lambda actions). ``period_s`` is how often, in platform
    seconds, an alarm is evaluated (CloudWatch: every minute). ``backend`` replaces moto's
    CloudWatch backend (anything with an ``alarms`` dict of moto ``Alarm`` objects).
    """

    def __init__(
        self,
        metrics: Any,
        clock: Any,
        *,
        aws_client_factory: Callable[[str], Any],
        invoke_function: Callable[[str, bytes], Any],
        period_s: int = 60,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        backend: Any = None,
    ) -> None:
        if period_s < 1:
            raise ValueError(f"period_s must be at least 1, got {period_s!r}")
        self.metrics = metrics
        self.clock = clock
        self.period_s = int(period_s)
        self.region = region
        self.account_id = account_id
        self._client_factory = aws_client_factory
        self._invoke = invoke_function
        self._backend = backend
        if getattr(metrics, "fallback", None) is None:
            metrics.fallback = MotoMetricData(account_id, region)
        self._lock = threading.RLock()
        self._known: dict[str, _Tracked] = {}
        self._pending: list[AlarmStateChange] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._timer: Any = None
        self._recheck_until = 0.0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> AlarmRunner:
        """Start the daemon thread (idempotent)."""
        if self._thread is None and not self._stopping.is_set():
            self._thread = threading.Thread(
                target=self._loop, name="lambda-lab-alarms", daemon=True
            )
            self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop evaluating: the thread ends after what it is doing now. Idempotent."""
        self._stopping.set()
        self._wake.set()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> AlarmRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the edge tells the runner ----------------------------------------------------------
    def poke(self) -> None:
        """An alarm was written (put, set, deleted, actions enabled or disabled): look again
        promptly, once moto has applied it."""
        self._recheck_until = time.monotonic() + _RECHECK_S
        self._wake.set()

    def sync(self) -> None:
        """Adopt alarms not seen yet (INSUFFICIENT_DATA), carry states over updates, notice
        SetAlarmState and deletions. Cheap; the edge calls it before moto describes alarms."""
        if self._stopping.is_set():
            return
        with self._lock:
            noticed = self._sync(self.metrics.now())
        if noticed:
            self._wake.set()  # the runner thread evaluates new alarms and fires actions

    # -- evaluation ------------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> list[AlarmStateChange]:
        """Sync, evaluate every alarm due at ``now`` (metric time; default the clock's), fire
        the actions of the changes; returns the changes. The thread calls this; tests may."""
        with self._lock:
            now = self.metrics.now() if now is None else now
            self._sync(now)
            for name, tracked in list(self._known.items()):
                if tracked.due <= now:
                    self._evaluate(name, tracked, now)
            changes, self._pending = self._pending, []
        for change in changes:
            self._fire(change)
        return changes

    def _alarms(self) -> dict[str, Any]:
        backend = self._backend
        if backend is None:
            models = sys.modules.get("moto.cloudwatch.models")
            if models is None:  # nobody called CloudWatch yet: no alarm (and no import cost)
                return {}
            accounts = models.cloudwatch_backends
            if self.account_id not in accounts:
                return {}
            regions = accounts[self.account_id]
            if self.region not in regions:
                return {}
            backend = regions[self.region]
        return dict(backend.alarms)

    def _sync(self, now: float) -> bool:
        """Under the lock: follow moto's alarms; True if something needs the thread."""
        noticed = False
        alarms = self._alarms()
        for name, alarm in alarms.items():
            if getattr(alarm, "rule", None) is not None:
                continue  # composite alarm: not evaluated here
            tracked = self._known.get(name)
            if tracked is None:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = _INITIAL_REASON
                alarm.state_updated_timestamp = _utc_naive(now)
                alarm.configuration_updated_timestamp = _utc_naive(now)  # platform time
                initial = ("INSUFFICIENT_DATA", _INITIAL_REASON)
                self._known[name] = _Tracked(alarm, initial, self._next_due(alarm, now))
                noticed = True
            elif tracked.alarm is not alarm:  # PutMetricAlarm again: the state stays
                old = tracked.alarm
                alarm.state_value = old.state_value
                alarm.state_reason = old.state_reason
                alarm.state_reason_data = old.state_reason_data
                alarm.state_updated_timestamp = old.state_updated_timestamp
                alarm.configuration_updated_timestamp = _utc_naive(now)
                tracked.alarm = alarm
                tracked.invalid = None
                tracked.due = self._next_due(alarm, now)
                noticed = True
            elif (alarm.state_value, alarm.state_reason) != tracked.state:
                noticed |= self._set_by_user(name, tracked, now)
        for name in [n for n in self._known if n not in alarms]:
            del self._known[name]
        return noticed

    def _next_due(self, alarm: Any, now: float) -> float:
        """The next evaluation: the next boundary of ``period_s`` (of the alarm's Period when
        shorter: high-resolution alarms), as CloudWatch evaluates on the minute."""
        try:
            period = int(alarm.period)
        except (TypeError, ValueError):
            period = self.period_s
        tick = max(1, min(period, self.period_s))
        return float((math.floor(now / tick) + 1) * tick)

    def _set_by_user(self, name: str, tracked: _Tracked, now: float) -> bool:
        """SetAlarmState changed the state in moto: record it and queue its actions."""
        alarm = tracked.alarm
        old_state, old_reason = tracked.state
        tracked.state = (alarm.state_value, alarm.state_reason)
        if alarm.state_value == old_state:
            return False  # the same state with another reason: not a transition
        alarm.state_updated_timestamp = _utc_naive(now)
        self.metrics.store.record_alarm_state(
            name, old_state, alarm.state_value, alarm.state_reason, now
        )
        try:
            parsed = MetricAlarm.from_api(_request_of(alarm))
        except AlarmValidationError:
            return False
        previous = alarm.history[-1] if alarm.history else None
        actions = parsed.actions_for(alarm.state_value) if parsed.ActionsEnabled else ()
        self._pending.append(
            AlarmStateChange(
                alarm=parsed,
                alarm_arn=alarm.alarm_arn,
                configuration_updated=_epoch_of(alarm.configuration_updated_timestamp),
                old_state=old_state,
                old_reason=old_reason,
                old_reason_data=previous[2] if previous else None,
                old_timestamp=_epoch_of(previous[4]) if previous else now,
                new_state=alarm.state_value,
                reason=str(alarm.state_reason),
                reason_data=str(alarm.state_reason_data or "{}"),
                at=now,
                actions=actions,
            )
        )
        return bool(actions)

    def _evaluate(self, name: str, tracked: _Tracked, now: float) -> None:
        moto_alarm = tracked.alarm
        try:
            alarm = MetricAlarm.from_api(_request_of(moto_alarm))
        except AlarmValidationError as exc:
            if tracked.invalid != exc.message:
                _log.info("alarm %s is not evaluated: %s", name, exc.message)
            tracked.invalid = exc.message
            tracked.due = math.inf  # until it is put again
            return
        tracked.due = self._next_due(moto_alarm, now)
        period = alarm.Period
        newest = math.floor(now / period) * period - period
        first = newest - (alarm.EvaluationPeriods + EVALUATION_RANGE_EXTRA - 1) * period
        statistic = alarm.statistic
        try:
            datapoints = self.metrics.statistics(
                alarm.Namespace,
                alarm.MetricName,
                dict(alarm.Dimensions),
                first,
                newest + period,
                period,
                [statistic],
                unit=alarm.Unit,
            )
        except StatisticsError as exc:
            _log.warning("alarm %s: its metric cannot be read: %s", name, exc.message)
            return
        values = {point.timestamp: point.values.get(statistic) for point in datapoints}
        state = str(moto_alarm.state_value)
        if state not in ALARM_STATES:
            state = "INSUFFICIENT_DATA"
        result = evaluate_alarm(alarm, values, now, state)
        if not result.changed:
            return
        old_reason = str(moto_alarm.state_reason)
        old_reason_data = moto_alarm.state_reason_data
        old_timestamp = _epoch_of(moto_alarm.state_updated_timestamp)
        reason_data = json.dumps(result.reason_data, separators=(",", ":"))
        moto_alarm.update_state(result.reason, reason_data, result.new_state)
        moto_alarm.state_updated_timestamp = _utc_naive(now)
        tracked.state = (result.new_state, result.reason)
        self.metrics.store.record_alarm_state(
            name, result.old_state, result.new_state, result.reason, now
        )
        self._pending.append(
            AlarmStateChange(
                alarm=alarm,
                alarm_arn=moto_alarm.alarm_arn,
                configuration_updated=_epoch_of(moto_alarm.configuration_updated_timestamp),
                old_state=result.old_state,
                old_reason=old_reason,
                old_reason_data=old_reason_data,
                old_timestamp=old_timestamp,
                new_state=result.new_state,
                reason=result.reason,
                reason_data=reason_data,
                at=now,
                actions=result.actions,
            )
        )

    # -- actions -----------------------------------------------------------------------------------
    def _fire(self, change: AlarmStateChange) -> None:
        for arn in change.actions:
            service = arn.split(":")[2] if arn.count(":") >= 5 else ""
            try:
                if service == "sns":
                    self._publish(arn, change)
                elif service == "lambda":
                    event = _lambda_event(change, account_id=self.account_id, region=self.region)
                    self._invoke(arn, json.dumps(event).encode())
                else:
                    _log.info(
                        "alarm %s: action %s is not supported here (SNS and Lambda are)",
                        change.alarm.AlarmName,
                        arn,
                    )
            except Exception:  # noqa: BLE001 - one failed action must not stop the others
                _log.warning(
                    "alarm %s: action %s failed", change.alarm.AlarmName, arn, exc_info=True
                )

    def _publish(self, topic_arn: str, change: AlarmStateChange) -> None:
        message = _notification(change, account_id=self.account_id, region=self.region)
        subject = f'{change.new_state}: "{change.alarm.AlarmName}" in {_region_name(self.region)}'
        client = self._client_factory("sns")
        client.publish(
            TopicArn=topic_arn, Subject=subject[:_SUBJECT_MAX], Message=json.dumps(message)
        )

    # -- the thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the runner must outlive one bad evaluation
                _log.exception("alarm evaluation failed")
            if self._stopping.is_set():
                return
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        """Real seconds until the next look; a platform clock timer wakes the thread when the
        next evaluation is due (so speed changes re-time it)."""
        if time.monotonic() < self._recheck_until:
            return _RECHECK_POLL_S
        with self._lock:
            due = min((t.due for t in self._known.values()), default=math.inf)
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if math.isfinite(due):
            delay = max(0.0, due - self.metrics.now())
            try:
                self._timer = self.clock.call_later(delay, self._wake.set)
            except RuntimeError:  # the clock closed under us
                return 0.0
        return _POLL_S
