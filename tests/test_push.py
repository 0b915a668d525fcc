"""Sources that push, through the embedded moto: S3 notifications, SNS subscriptions,
EventBridge rules and schedules, CloudWatch Logs subscription filters. Every hook into moto's
internals is exercised here, so a moto upgrade that moves one fails this file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from kernel_runtime import LambdaRuntime
from kernel_runtime.sources import _push

pytestmark = pytest.mark.timeout(120)

RECORDER = """
import json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    print("event keys", sorted(event))
    sqs.send_message(
        QueueUrl=os.environ["SEEN_URL"],
        MessageBody=json.dumps({"fn": context.function_name, "event": event}),
    )
    return "ok"
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[LambdaRuntime]:
    with LambdaRuntime(clock_speed=600.0) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def seen(lab: LambdaRuntime) -> str:
    return lab.client("sqs").create_queue(QueueName="seen")["QueueUrl"]


@pytest.fixture(scope="module")
def recorders(lab: LambdaRuntime, seen: str) -> list[str]:
    names = ["rec-a", "rec-b"]
    for name in names:
        lab.create_function(
            name,
            "app.handler",
            RECORDER,
            environment={"SEEN_URL": seen},
            memory_size=1769,
            timeout=15,  # a cold start imports boto3: slow on a busy 2-core machine
        )
    return names


def _arn(lab: LambdaRuntime, name: str) -> str:
    return lab.service.registry.function_arn(name)


def _collect(
    lab: LambdaRuntime,
    queue_url: str,
    n: int,
    timeout: float = 30.0,
    where: Callable[[dict], bool] | None = None,
) -> list[dict]:
    """Wait for ``n`` recorded invocations (and then a short while for unexpected extras).

    With ``where``, only the recordings it accepts count and are returned: another test's
    late delivery (a schedule's last tick) sharing the queue is drained, not counted."""
    sqs = lab.client("sqs")
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait = 1 if len(got) < n else 0
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        messages = resp.get("Messages", [])
        for m in messages:
            body = json.loads(m["Body"])
            if where is None or where(body):
                got.append(body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= n and not messages:
            break
    return got


# -- the guard against moto upgrades ------------------------------------------------------------
def test_check_moto_names_a_missing_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    _push.check_moto()  # the pinned moto has every hooked attribute
    import moto.sns.models

    monkeypatch.delattr(moto.sns.models.Subscription, "get_post_data")
    with pytest.raises(_push.MotoHookError, match=r"sns\.models\.Subscription\.get_post_data"):
        _push.check_moto()


def test_check_moto_refuses_another_release(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "6.0.0")
    with pytest.raises(_push.MotoHookError, match=r"moto 6\.0\.0 is installed"):
        _push.check_moto()


# -- S3 -----------------------------------------------------------------------------------------
def test_s3_notification_invokes_with_filters_and_full_record(
    lab: LambdaRuntime, seen: str, recorders: list[str]
) -> None:
    s3 = lab.client("s3")
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(
        Bucket="uploads",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "images",
                    "LambdaFunctionArn": _arn(lab, "rec-a"),
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "in/"},
                                {"Name": "suffix", "Value": ".jpg"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    s3.put_object(Bucket="uploads", Key="in/my photo+1.jpg", Body=b"x" * 123)
    s3.put_object(Bucket="uploads", Key="in/notes.txt", Body=b"no")  # suffix filtered out
    s3.put_object(Bucket="uploads", Key="other/a.jpg", Body=b"no")  # prefix filtered out
    s3.delete_object(Bucket="uploads", Key="in/my photo+1.jpg")
    got = _collect(lab, seen, 2)
    assert [g["fn"] for g in got] == ["rec-a", "rec-a"]
    # async invokes may finish in either order: S3's sequencer orders events of one key
    records = {g["event"]["Records"][0]["eventName"]: g["event"]["Records"][0] for g in got}
    created, removed = records["ObjectCreated:Put"], records["ObjectRemoved:Delete"]
    obj = created["s3"]["object"]
    assert obj["key"] == "in/my+photo%2B1.jpg"
    assert unquote_plus(obj["key"]) == "in/my photo+1.jpg"
    assert obj["size"] == 123
    head = s3.head_object(Bucket="uploads", Key="other/a.jpg")
    assert len(obj["eTag"]) == 32 and head["ETag"].strip('"') != obj["eTag"]
    assert created["s3"]["configurationId"] == "images"
    assert created["s3"]["bucket"]["arn"] == "arn:aws:s3:::uploads"
    assert created["awsRegion"] == "us-east-1" and created["eventSource"] == "aws:s3"
    for field in ("userIdentity", "requestParameters", "responseElements"):
        assert created[field], field
    assert int(removed["s3"]["object"]["sequencer"], 16) > int(obj["sequencer"], 16)
    assert "size" not in removed["s3"]["object"]


def test_s3_notification_to_unknown_function_is_refused(lab: LambdaRuntime) -> None:
    s3 = lab.client("s3")
    s3.create_bucket(Bucket="strict")
    ghost = "arn:aws:lambda:us-east-1:123456789012:function:ghost"
    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(
            Bucket="strict",
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": ghost, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in str(info.value)
    config = s3.get_bucket_notification_configuration(Bucket="strict")
    assert "LambdaFunctionConfigurations" not in config


# -- SNS ----------------------------------------------------------------------------------------
def test_sns_fans_out_to_two_functions_with_real_fields(
    lab: LambdaRuntime, seen: str, recorders: list[str]
) -> None:
    sns = lab.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    subs = {
        name: sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=_arn(lab, name))[
            "SubscriptionArn"
        ]
        for name in recorders
    }
    sns.set_subscription_attributes(
        SubscriptionArn=subs["rec-b"],
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"kind": ["big"]}),
    )
    first = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "big"}},
    )
    sns.publish(
        TopicArn=topic,
        Message="small one",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "small"}},
    )
    got = _collect(lab, seen, 3)
    by_fn: dict[str, list[dict]] = {}
    for g in got:
        by_fn.setdefault(g["fn"], []).append(g["event"]["Records"][0])
    assert len(by_fn["rec-a"]) == 2 and len(by_fn["rec-b"]) == 1  # the filter policy held
    record = by_fn["rec-b"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == subs["rec-b"]
    msg = record["Sns"]
    assert msg["TopicArn"] == topic and msg["MessageId"] == first["MessageId"]
    assert (msg["Message"], msg["Subject"], msg["Type"]) == ("hello", "greeting", "Notification")
    assert msg["MessageAttributes"]["kind"] == {"Type": "String", "Value": "big"}
    assert msg["Timestamp"].startswith("20") and msg["Timestamp"].endswith("Z")


# -- EventBridge ----------------------------------------------------------------------------------
def test_eventbridge_rule_routes_matching_events(
    lab: LambdaRuntime, seen: str, recorders: list[str]
) -> None:
    events = lab.client("events")
    sqs = lab.client("sqs")
    copy_url = sqs.create_queue(QueueName="rule-copy")["QueueUrl"]
    copy_arn = sqs.get_queue_attributes(QueueUrl=copy_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="paid",
        EventPattern=json.dumps({"source": ["shop"], "detail": {"status": ["paid"]}}),
    )
    events.put_targets(
        Rule="paid",
        Targets=[
            {"Id": "whole", "Arn": _arn(lab, "rec-a")},
            {"Id": "part", "Arn": _arn(lab, "rec-b"), "InputPath": "$.detail"},
            {"Id": "queue", "Arn": copy_arn},
        ],
    )
    resp = events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"status": "paid"})},
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"status": "new"})},
        ]
    )
    assert resp["FailedEntryCount"] == 0
    got = {g["fn"]: g["event"] for g in _collect(lab, seen, 2)}
    assert set(got) == {"rec-a", "rec-b"}
    whole = got["rec-a"]
    assert whole["source"] == "shop" and whole["detail-type"] == "Order"
    assert whole["detail"] == {"status": "paid"} and whole["account"] == "123456789012"
    assert whole["time"].endswith("Z") and "T" in whole["time"]
    assert got["rec-b"] == {"status": "paid"}
    copied = sqs.receive_message(QueueUrl=copy_url, WaitTimeSeconds=2).get("Messages", [])
    assert len(copied) == 1  # the non-Lambda target still gets it through moto


def test_eventbridge_patterns_beyond_moto_and_invalid_ones(
    lab: LambdaRuntime, seen: str, recorders: list[str]
) -> None:
    events = lab.client("events")
    pattern = {"source": ["uploads"], "detail": {"key": [{"suffix": ".png"}]}}
    events.put_rule(Name="png", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="png", Targets=[{"Id": "a", "Arn": _arn(lab, "rec-a")}])
    events.put_events(
        Entries=[
            {"Source": "uploads", "DetailType": "x", "Detail": json.dumps({"key": k})}
            for k in ("a.png", "b.jpg")
        ]
    )
    (got,) = _collect(lab, seen, 1)
    assert got["event"]["detail"] == {"key": "a.png"}
    with pytest.raises(ClientError) as info:
        events.put_rule(Name="bad", EventPattern=json.dumps({"source": "not-an-array"}))
    assert info.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert "Event pattern is not valid. Reason:" in str(info.value)


def test_schedule_fires_on_the_platform_clock(
    lab: LambdaRuntime, seen: str, recorders: list[str]
) -> None:
    events = lab.client("events")
    # rate(1 minute) at clock speed 600: every 0.1 s of wall time
    rule_arn = events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule="tick", Targets=[{"Id": "t", "Arn": _arn(lab, "rec-b")}])
    got = _collect(lab, seen, 3, timeout=10)
    events.disable_rule(Name="tick")
    time.sleep(0.05)  # a firing that checked the state just before the disable completes
    fired = lab.aws.push.stats["schedule.fired"]
    assert len(got) >= 3
    event = got[0]["event"]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [rule_arn] and event["detail"] == {}
    times = [g["event"]["time"] for g in got[:3]]
    assert len(set(times)) == 3  # one per period, each stamped with its own platform minute
    time.sleep(0.5)  # five platform minutes: a disabled rule fires no more
    assert lab.aws.push.stats["schedule.fired"] == fired
    _collect(lab, seen, 0, timeout=0.5)  # deliveries already in flight may still land
    events.remove_targets(Rule="tick", Ids=["t"])
    events.delete_rule(Name="tick")


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minutes)", "rate(0 minutes)", "cron(0 12 * * * *)", "cron(61 * * * ? *)", "daily"],
)
def test_invalid_schedule_expression_is_refused(lab: LambdaRuntime, expression: str) -> None:
    with pytest.raises(ClientError) as info:
        lab.client("events").put_rule(Name="bad", ScheduleExpression=expression)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "Parameter ScheduleExpression is not valid." in str(info.value)


# -- CloudWatch Logs ------------------------------------------------------------------------------
def test_logs_subscription_filter_delivers_gzipped_batches(
    lab: LambdaRuntime, seen: str, recorders: list[str]
) -> None:
    import base64
    import gzip

    # a function of its own: its first environment serves only this delivery
    lab.create_function(
        "rec-logs",
        "app.handler",
        RECORDER,
        environment={"SEEN_URL": seen},
        memory_size=1769,
        timeout=15,
    )
    logs = lab.client("logs")
    logs.create_log_group(logGroupName="/app/orders")
    logs.create_log_stream(logGroupName="/app/orders", logStreamName="s1")
    logs.put_subscription_filter(
        logGroupName="/app/orders",
        filterName="all",
        filterPattern="",
        destinationArn=_arn(lab, "rec-logs"),
    )
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/app/orders",
        logStreamName="s1",
        logEvents=[{"timestamp": now_ms, "message": "order 1 paid"}],
    )
    # (a late tick of the schedule test may share the queue: wait for the log delivery itself)
    deliveries = _collect(lab, seen, 1, where=lambda g: "awslogs" in g["event"])
    assert len(deliveries) == 1, (
        {
            k: v
            for k, v in (lab.aws.push.stats if lab.aws and lab.aws.push else {}).items()
            if k.startswith("logs") or k.startswith("sync")
        },
        [
            json.loads(gzip.decompress(base64.b64decode(g["event"]["awslogs"]["data"])))
            for g in deliveries
        ],
        [(r["status"], r["error_type"]) for r in lab.store.invocations(function="rec-logs")],
        len(_push._SINKS),
        [(e.environment_id[:6], str(e.state)) for e in lab.function("rec-logs").environments()],
        lab.service.async_invoker.stats() if hasattr(lab.service.async_invoker, "stats") else None,
    )
    (got,) = deliveries
    data: Any = json.loads(gzip.decompress(base64.b64decode(got["event"]["awslogs"]["data"])))
    assert data["messageType"] == "DATA_MESSAGE" and data["logGroup"] == "/app/orders"
    assert data["subscriptionFilters"] == ["all"] and data["logStream"] == "s1"
    assert [e["message"] for e in data["logEvents"]] == ["order 1 paid"]


def test_logs_subscription_to_unknown_function_is_refused(lab: LambdaRuntime) -> None:
    logs = lab.client("logs")
    logs.create_log_group(logGroupName="/app/ghost")
    with pytest.raises(ClientError) as info:
        logs.put_subscription_filter(
            logGroupName="/app/ghost",
            filterName="f",
            filterPattern="",
            destinationArn="arn:aws:lambda:us-east-1:123456789012:function:ghost",
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
