"""The alarm runner (kernel_runtime.observe._alarm_runner): moto's alarms evaluated on the
platform clock, state changes recorded and shown by DescribeAlarms/DescribeAlarmHistory, SNS and
Lambda actions fired."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from moto.cloudwatch.models import CloudWatchBackend

from kernel_runtime import LambdaRuntime
from kernel_runtime.clock import ManualClock
from kernel_runtime.observe import AlarmRunner, LambdaMetrics, Store

from ._functions import eventually

pytestmark = pytest.mark.timeout(120)

REGION, ACCOUNT = "us-east-1", "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:pager"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:responder"
T = 1_800_000_000.0  # a minute boundary


class FakeSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **request: Any) -> dict[str, str]:
        self.published.append(request)
        return {"MessageId": "1"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.sqlite3", flush_interval=0.05)
    yield s
    s.close()


@pytest.fixture
def setup(store: Store) -> Iterator[tuple[AlarmRunner, CloudWatchBackend, FakeSns, list[Any]]]:
    clock = ManualClock(epoch=T)
    backend = CloudWatchBackend(REGION, ACCOUNT)
    sns = FakeSns()
    invoked: list[tuple[str, dict[str, Any]]] = []
    runner = AlarmRunner(
        LambdaMetrics(store, clock=clock),
        clock,
        aws_client_factory=lambda service: sns,
        invoke_function=lambda arn, payload: invoked.append((arn, json.loads(payload))),
        backend=backend,
    )
    yield runner, backend, sns, invoked
    runner.close()
    clock.close()


def put_depth_alarm(backend: CloudWatchBackend, threshold: float = 5.0, **extra: Any) -> None:
    backend.put_metric_alarm(
        name="depth",
        namespace="Lab",
        metric_name="Depth",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=2,
        datapoints_to_alarm=2,
        period=60,
        threshold=threshold,
        statistic="Maximum",
        description="queue too deep",
        dimensions=[{"Name": "Queue", "Value": "jobs"}],
        alarm_actions=[TOPIC, FUNCTION],
        **extra,
    )


def test_alarm_lifecycle_with_actions(setup: Any, store: Store) -> None:
    runner, backend, sns, invoked = setup
    put_depth_alarm(backend)
    runner.sync()  # what DescribeAlarms does first
    alarm = backend.alarms["depth"]
    assert (alarm.state_value, alarm.state_reason) == (
        "INSUFFICIENT_DATA",
        "Unchecked: Initial alarm creation",
    )  # moto itself says OK
    assert runner.run_once(T + 30) == []  # evaluated on the minute: not due yet
    assert runner.run_once(T + 60) == []  # no data, TreatMissingData missing: no change
    assert alarm.state_value == "INSUFFICIENT_DATA"

    for start, value in ((T, 9.0), (T + 60, 7.0)):
        store.record_metric("Lab", "Depth", value, dimensions={"Queue": "jobs"},
                            timestamp=start + 5)  # fmt: skip
    (change,) = runner.run_once(T + 121)
    assert (change.old_state, change.new_state) == ("INSUFFICIENT_DATA", "ALARM")
    assert alarm.state_value == "ALARM"
    assert alarm.state_reason.startswith("Threshold Crossed: 2 out of the last 2 datapoints")
    reason_data = json.loads(alarm.state_reason_data)
    assert reason_data["evaluatedDatapoints"] == [
        {"timestamp": "2027-01-15T08:01:00.000+0000", "value": 7.0},
        {"timestamp": "2027-01-15T08:00:00.000+0000", "value": 9.0},
    ]
    updated = alarm.state_updated_timestamp.replace(tzinfo=timezone.utc)  # moto's naive UTC
    assert updated.timestamp() == T + 121  # platform time

    (published,) = sns.published
    assert published["TopicArn"] == TOPIC
    assert published["Subject"] == 'ALARM: "depth" in US East (N. Virginia)'
    message = json.loads(published["Message"])
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["AlarmDescription"] == "queue too deep"
    assert message["Region"] == "US East (N. Virginia)"
    assert message["StateChangeTime"] == "2027-01-15T08:02:01.000+0000"
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["Trigger"]["Dimensions"] == [{"value": "jobs", "name": "Queue"}]
    ((arn, event),) = invoked
    assert arn == FUNCTION
    assert event["source"] == "aws.cloudwatch"
    assert event["alarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:depth"
    assert event["alarmData"]["state"]["value"] == "ALARM"
    assert json.loads(event["alarmData"]["state"]["reasonData"]) == reason_data
    assert event["alarmData"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    metric = event["alarmData"]["configuration"]["metrics"][0]["metricStat"]
    assert metric["metric"] == {
        "namespace": "Lab",
        "name": "Depth",
        "dimensions": {"Queue": "jobs"},
    }
    assert metric["stat"] == "Maximum"

    # PutMetricAlarm again keeps the state (moto would reset it), then the next evaluation
    # decides with the new threshold: OK, which has no actions
    put_depth_alarm(backend, threshold=100.0)
    assert runner.run_once(T + 122) == []
    assert backend.alarms["depth"].state_value == "ALARM"
    (change,) = runner.run_once(T + 180)
    assert (change.old_state, change.new_state) == ("ALARM", "OK")
    assert len(sns.published) == 1 and len(invoked) == 1

    # SetAlarmState (moto changes the state and does nothing else): recorded, actions fired
    backend.set_alarm_state("depth", "testing the pager", "{}", "ALARM")
    (change,) = runner.run_once(T + 181)
    assert (change.old_state, change.new_state, change.reason) == (
        "OK",
        "ALARM",
        "testing the pager",
    )
    assert len(sns.published) == 2 and len(invoked) == 2

    history = [
        (json.loads(h["HistoryData"])["oldState"]["stateValue"],
         json.loads(h["HistoryData"])["newState"]["stateValue"])
        for h in store.alarm_history("depth")
    ]  # fmt: skip
    assert history == [("OK", "ALARM"), ("ALARM", "OK"), ("INSUFFICIENT_DATA", "ALARM")]
    backend.delete_alarms(["depth"])
    assert runner.run_once(T + 300) == []


def test_alarms_it_cannot_evaluate_are_left_alone(setup: Any) -> None:
    runner, backend, sns, invoked = setup
    put_depth_alarm(backend, threshold_metric_id="band")  # an anomaly detection alarm
    assert runner.run_once(T + 60) == []
    assert backend.alarms["depth"].state_value == "INSUFFICIENT_DATA"
    assert runner.run_once(T + 600) == []
    assert not sns.published and not invoked


def test_actions_disabled_and_missing_data_breaching(setup: Any) -> None:
    runner, backend, sns, invoked = setup
    put_depth_alarm(backend, treat_missing_data="breaching", actions_enabled=False)
    assert runner.run_once(T) == []  # put now: evaluated from the next minute on
    (change,) = runner.run_once(T + 60)
    assert change.new_state == "ALARM"  # two missing periods treated as breaching
    assert change.actions == ()
    assert not sns.published and not invoked


def test_the_thread_evaluates_on_clock_timers_and_closes_promptly(store: Store) -> None:
    clock = ManualClock(epoch=T + 1)
    backend = CloudWatchBackend(REGION, ACCOUNT)
    put_depth_alarm(backend, treat_missing_data="notBreaching")
    runner = AlarmRunner(
        LambdaMetrics(store, clock=clock),
        clock,
        aws_client_factory=lambda service: FakeSns(),
        invoke_function=lambda arn, payload: None,
        backend=backend,
    ).start()
    try:
        eventually(lambda: backend.alarms["depth"].state_value == "INSUFFICIENT_DATA")
        eventually(lambda: clock.pending == 1)  # the timer of the first evaluation
        clock.advance(60)  # the timer wakes the thread: the minute is over
        eventually(lambda: backend.alarms["depth"].state_value == "OK")
        store.record_metric("Lab", "Depth", 9.0, dimensions={"Queue": "jobs"}, timestamp=T + 5)
        store.record_metric("Lab", "Depth", 9.0, dimensions={"Queue": "jobs"}, timestamp=T + 65)
        eventually(lambda: clock.pending == 1)
        clock.advance(120)
        eventually(lambda: backend.alarms["depth"].state_value == "ALARM")
    finally:
        started = time.monotonic()
        runner.close()
        assert time.monotonic() - started < 1.0
        assert not runner.running
        clock.close()


# -- end to end: boto3, clock speed 60 -------------------------------------------------------------
BAD = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('boom')\n"
SINK = "import json\ndef handler(event, context):\n    print('ALARM-EVENT', json.dumps(event))\n"


def test_errors_alarm_end_to_end(tmp_path: Path) -> None:
    """A one-minute alarm at clock speed 60: evaluated every real second."""
    with LambdaRuntime(store=tmp_path / "s.sqlite3", clock_speed=60) as lab:
        lab.create_function("worker", "app.handler", BAD)
        sink = lab.create_function("responder", "app.handler", SINK)
        sns, sqs, cw = lab.client("sns"), lab.client("sqs"), lab.client("cloudwatch")
        topic = sns.create_topic(Name="pager")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        cw.put_metric_alarm(
            AlarmName="worker-errors", Namespace="AWS/Lambda", MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": "worker"}], Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
            AlarmActions=[topic, sink.configuration["FunctionArn"]], OKActions=[topic],
        )  # fmt: skip

        def state() -> dict[str, Any]:
            (alarm,) = cw.describe_alarms(AlarmNames=["worker-errors"])["MetricAlarms"]
            return alarm

        # INSUFFICIENT_DATA as on AWS (moto says OK) until the next minute: no data is OK
        assert state()["StateValue"] in ("INSUFFICIENT_DATA", "OK")
        eventually(lambda: state()["StateValue"] == "OK")
        lab.invoke("worker", {"fail": False})
        lab.invoke("worker", {"fail": True})
        eventually(lambda: state()["StateValue"] == "ALARM")
        alarm = state()
        assert re.fullmatch(
            r"Threshold Crossed: 1 datapoint \[1\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:00\)\] was "
            r"greater than or equal to the threshold \(1\.0\)\.",
            alarm["StateReason"],
        )
        assert json.loads(alarm["StateReasonData"])["recentDatapoints"][-1] == 1.0
        eventually(lambda: state()["StateValue"] == "OK", timeout=15)  # the errors stopped

        history = cw.describe_alarm_history(AlarmName="worker-errors")["AlarmHistoryItems"]
        assert [h["HistorySummary"] for h in history] == [
            "Alarm updated from ALARM to OK",
            "Alarm updated from OK to ALARM",
            "Alarm updated from INSUFFICIENT_DATA to OK",
        ]
        oldest_first = cw.describe_alarm_history(
            AlarmName="worker-errors", ScanBy="TimestampAscending", MaxRecords=1
        )
        assert oldest_first["AlarmHistoryItems"][0]["HistorySummary"].endswith("to OK")
        assert "NextToken" in oldest_first

        messages: list[dict[str, Any]] = []

        def notified() -> bool:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            messages.extend(json.loads(json.loads(m["Body"])["Message"]) for m in got.get(
                "Messages", []))  # fmt: skip
            return len(messages) >= 3

        eventually(notified)
        assert [(m["OldStateValue"], m["NewStateValue"]) for m in messages] == [
            ("INSUFFICIENT_DATA", "OK"),
            ("OK", "ALARM"),
            ("ALARM", "OK"),
        ]
        assert messages[1]["Trigger"]["Dimensions"] == [{"value": "worker", "name": "FunctionName"}]

        def action_event() -> dict[str, Any] | None:
            for event in lab.store.log_events("/aws/lambda/responder"):
                if event["message"].startswith("ALARM-EVENT "):
                    return json.loads(event["message"].split(" ", 1)[1])  # type: ignore[no-any-return]
            return None

        eventually(lambda: action_event() is not None)
        event = action_event()
        assert event is not None
        assert event["source"] == "aws.cloudwatch"
        assert event["alarmData"]["alarmName"] == "worker-errors"
        assert event["alarmData"]["state"]["value"] == "ALARM"
        assert event["alarmData"]["previousState"]["value"] == "OK"
