"""Event source mappings (SQS, Kinesis, DynamoDB Streams) through the real Lambda API.

One runtime for the module, with a manager whose pollers run fast (1 s long polls, 50 ms
stream polls). Handlers record what they saw by sending it to a FIFO "log" queue with a bare
HTTP call (no boto3: importing it costs a 128 MB environment seconds), so the order of
invocations is exact; each test makes its own queues, streams, tables and functions.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kernel_runtime.errors import ResourceNotFoundException
from kernel_runtime.runtime import LambdaRuntime
from kernel_runtime.sources._mappings import EventSourceMappings
from kernel_runtime.sources._pollers import failed_item_identifiers

from ._functions import eventually

RECORDER = '''
import base64, http.client, json, os
from urllib.parse import urlsplit

_count = 0


def record(event, context, **extra):
    """Append what this invoke saw to the OUT FIFO queue (SQS JSON protocol, no boto3)."""
    global _count
    _count += 1
    url = urlsplit(os.environ["AWS_ENDPOINT_URL"])
    region = os.environ.get("AWS_REGION", "us-east-1")
    body = {
        "QueueUrl": os.environ["OUT"],
        "MessageBody": json.dumps({"event": event, **extra}),
        "MessageGroupId": "log",
        "MessageDeduplicationId": f"{context.aws_request_id}-{_count}",
    }
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.SendMessage",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/"
        f"{region}/sqs/aws4_request, SignedHeaders=host, Signature=0",
    }
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("POST", "/", json.dumps(body), headers)
    answer = conn.getresponse()
    answer.read()
    conn.close()
    if answer.status != 200:
        raise RuntimeError(f"recording failed: {answer.status}")
'''

ECHO = (
    RECORDER
    + """
def handler(event, context):
    record(event, context)
"""
)

FAIL = (
    RECORDER
    + """
def handler(event, context):
    record(event, context)
    raise RuntimeError("boom")
"""
)

PARTIAL_SQS = (
    RECORDER
    + """
def handler(event, context):
    record(event, context)
    failed = [
        r["messageId"]
        for r in event["Records"]
        if json.loads(r["body"]).get("fail") and r["attributes"]["ApproximateReceiveCount"] == "1"
    ]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
"""
)

POISON = (
    RECORDER
    + """
def handler(event, context):
    data = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    poisoned = any(d.get("poison") for d in data)
    record(event, context, failed=poisoned)
    if poisoned:
        raise ValueError("poison record")
"""
)

PARTIAL_STREAM = (
    RECORDER
    + """
def handler(event, context):
    record(event, context)
    failed = [
        r["kinesis"]["sequenceNumber"]
        for r in event["Records"]
        if json.loads(base64.b64decode(r["kinesis"]["data"])).get("fail")
    ]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
"""
)

WINDOWED = (
    RECORDER
    + """
def handler(event, context):
    record(event, context)
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(event["Records"])
    return {"state": state, "batchItemFailures": []}
"""
)

ACCOUNT = "123456789012"
REGION = "us-east-1"


# -- fixtures and helpers ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def metrics() -> list[tuple[str, str, float]]:
    return []


@pytest.fixture(scope="module")
def lab(metrics: list[tuple[str, str, float]]) -> Iterator[LambdaRuntime]:
    with LambdaRuntime() as runtime:
        runtime.service.event_source_mappings.close()  # replaced by one with fast polling
        runtime.service.event_source_mappings = EventSourceMappings(
            runtime.service,
            sqs_wait_time_s=1,
            kinesis_poll_interval_s=0.05,
            dynamodb_poll_interval_s=0.05,
            retry_backoff_s=0.02,
            on_metric=lambda name, fn, value: metrics.append((name, fn, value)),
        )
        yield runtime


@pytest.fixture(scope="module")
def esm(lab: LambdaRuntime) -> EventSourceMappings:
    return lab.service.event_source_mappings


@pytest.fixture(scope="module")
def lam(lab: LambdaRuntime) -> Any:
    return lab.client("lambda", config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.fixture(scope="module")
def sqs(lab: LambdaRuntime) -> Any:
    return lab.client("sqs")


@pytest.fixture(scope="module")
def kinesis(lab: LambdaRuntime) -> Any:
    return lab.client("kinesis")


@pytest.fixture(scope="module")
def ddb(lab: LambdaRuntime) -> Any:
    return lab.client("dynamodb")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    """A queue's (URL, ARN)."""
    if name.endswith(".fifo"):
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _function(lab: LambdaRuntime, sqs: Any, code: str, timeout: int = 3) -> tuple[str, str]:
    """A function that records to a fresh FIFO log queue: (name, log queue URL)."""
    name = _name("fn")
    log_url, _ = _queue(sqs, _name("log") + ".fifo")
    lab.create_function(
        name,
        "app.handler",
        code,
        timeout=timeout,
        memory_size=512,
        environment={"Variables": {"OUT": log_url}},
    )
    return name, log_url


def _wait_state(lam: Any, uuid_: str, state: str) -> dict[str, Any]:
    return eventually(
        lambda: (m := lam.get_event_source_mapping(UUID=uuid_))["State"] == state and m,
        what=f"state {state}",
    )


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in ``url`` (deleted as read), bodies parsed."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )


class _Log:
    """The invocations a function recorded, read incrementally from its log queue."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.entries: list[dict[str, Any]] = []

    def records(self) -> list[dict[str, Any]]:
        return [r for e in self.entries for r in e["event"]["Records"]]

    def until(self, condition: Callable[[_Log], bool], timeout: float = 10.0) -> _Log:
        def check() -> bool:
            self.entries += _drain(self.sqs, self.url)
            return condition(self)

        eventually(check, timeout, "the function's invocations")
        return self


def _queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _stream(kinesis: Any, shards: int = 1) -> tuple[str, str]:
    name = _name("stream")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def _put(kinesis: Any, stream: str, *items: Any) -> list[str]:
    """Put each item as a JSON record under one partition key; their sequence numbers."""
    return [
        kinesis.put_record(StreamName=stream, Data=json.dumps(d).encode(), PartitionKey="k")[
            "SequenceNumber"
        ]
        for d in items
    ]


def _on_failure_record(sqs: Any, url: str) -> dict[str, Any]:
    """The first invocation record that reached the OnFailure queue ``url``, parsed."""
    moved = eventually(
        lambda: sqs.receive_message(QueueUrl=url).get("Messages", []),
        what="the on-failure record",
    )
    return json.loads(moved[0]["Body"])


def _table(ddb: Any) -> tuple[str, str]:
    name = _name("table")
    answer = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name, answer["TableDescription"]["LatestStreamArn"]


# -- pure helpers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", []),
        (b"null", []),
        (b"{}", []),
        (b'{"batchItemFailures": null}', []),
        (b'{"batchItemFailures": []}', []),
        (b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', ["b"]),
        (b"not json", None),
        (b'"ok"', None),
        (b'{"batchItemFailures": "b"}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        (b'{"batchItemFailures": [{"itemId": "b"}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', None),
    ],
)
def test_partial_batch_response_rules(payload: bytes, expected: list[str] | None) -> None:
    assert failed_item_identifiers(payload, ["a", "b"]) == expected


# -- the API -----------------------------------------------------------------------------------
def test_create_get_list_update_delete(lab: LambdaRuntime, lam: Any, sqs: Any) -> None:
    name, _ = _function(lab, sqs, ECHO)
    _, arn = _queue(sqs, _name("api"))
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    uid = created["UUID"]
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["BatchSize"] == 10 and created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert created["EventSourceArn"] == arn
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{uid}")
    assert "StartingPosition" not in created and "LastProcessingResult" not in created

    got = _wait_state(lam, uid, "Enabled")
    assert got["UUID"] == uid
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uid]
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uid]

    updated = lam.update_event_source_mapping(
        UUID=uid,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=2,
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )
    assert updated["State"] == "Updating"
    got = _wait_state(lam, uid, "Enabled")
    assert got["BatchSize"] == 50 and got["MaximumBatchingWindowInSeconds"] == 2
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]}
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got["ScalingConfig"] == {"MaximumConcurrency": 2}
    cleared = lam.update_event_source_mapping(UUID=uid, FilterCriteria={})
    assert "FilterCriteria" not in cleared

    _wait_state(lam, uid, "Enabled")
    deleted = lam.delete_event_source_mapping(UUID=uid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"

    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=uid)
        except lam.exceptions.ResourceNotFoundException:
            return True
        return False

    eventually(gone, what="the mapping to be deleted")


def test_list_pages_with_marker(lab: LambdaRuntime, lam: Any, sqs: Any) -> None:
    name, _ = _function(lab, sqs, ECHO)
    uids = []
    for _ in range(3):
        _, arn = _queue(sqs, _name("page"))
        created = lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=arn, Enabled=False
        )
        uids.append(created["UUID"])
    assert _wait_state(lam, uids[0], "Disabled")["State"] == "Disabled"
    first = lam.list_event_source_mappings(FunctionName=name, MaxItems=2)
    assert [m["UUID"] for m in first["EventSourceMappings"]] == uids[:2]
    second = lam.list_event_source_mappings(
        FunctionName=name, MaxItems=2, Marker=first["NextMarker"]
    )
    assert [m["UUID"] for m in second["EventSourceMappings"]] == uids[2:]
    assert "NextMarker" not in second
    for uid in uids:
        lam.delete_event_source_mapping(UUID=uid)


def test_validation_errors(lab: LambdaRuntime, lam: Any, sqs: Any, kinesis: Any) -> None:
    name, _ = _function(lab, sqs, ECHO, timeout=60)
    short, _ = _function(lab, sqs, ECHO, timeout=3)
    _, arn = _queue(sqs, _name("short"), VisibilityTimeout="30")
    _, fifo_arn = _queue(sqs, _name("val") + ".fifo", VisibilityTimeout="30")
    _, stream_arn = _stream(kinesis)

    def error(**params: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as exc:
            lam.create_event_source_mapping(**params)
        return _error(exc)

    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{_name('missing')}"
    code, message = error(FunctionName=short, EventSourceArn=missing)
    assert code == "InvalidParameterValueException"
    assert message.startswith(
        "Error occurred while ReceiveMessage. SQS Error Code: "
        "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message:"
    )
    no_stream = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{_name('missing')}"
    assert error(FunctionName=short, EventSourceArn=no_stream, StartingPosition="LATEST") == (
        "InvalidParameterValueException",
        f"Stream not found: {no_stream}",
    )
    no_ddb = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/nope/stream/2024-01-01T00:00:00.000"
    assert error(FunctionName=short, EventSourceArn=no_ddb, StartingPosition="LATEST") == (
        "InvalidParameterValueException",
        f"Stream not found: {no_ddb}",
    )
    assert error(FunctionName=name, EventSourceArn=arn) == (
        "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds",
    )
    assert error(FunctionName=short, EventSourceArn=arn, BatchSize=20) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    )
    code, message = error(
        FunctionName=short, EventSourceArn=arn, BatchSize=20000, MaximumBatchingWindowInSeconds=1
    )
    assert code == "InvalidParameterValueException"
    assert message == (
        "1 validation error detected: Value '20000' at 'batchSize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000"
    )
    assert error(FunctionName=short, EventSourceArn=fifo_arn, BatchSize=11) == (
        "InvalidParameterValueException",
        "Maximum batch size must be between 1 and 10 inclusive",
    )
    assert error(FunctionName=short, EventSourceArn=fifo_arn, MaximumBatchingWindowInSeconds=5) == (
        "InvalidParameterValueException",
        "Batching window is not supported for FIFO queues",
    )
    assert error(
        FunctionName=short,
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": '{"body": "not a list"}'}]},
    ) == ("InvalidParameterValueException", "Invalid filter pattern definition.")
    assert error(FunctionName=short, EventSourceArn=stream_arn) == (
        "InvalidParameterValueException",
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
        "constraint: Member must not be null.",
    )
    assert error(
        FunctionName=short, EventSourceArn=stream_arn, StartingPosition="LATEST", BatchSize=10001
    ) == (
        "InvalidParameterValueException",
        "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000",
    )
    assert error(FunctionName=short, EventSourceArn=arn, MaximumRetryAttempts=2) == (
        "InvalidParameterValueException",
        "Unsupported MaximumRetryAttempts parameter for given event source mapping type.",
    )
    assert error(FunctionName=_name("nofn"), EventSourceArn=arn) == (
        "InvalidParameterValueException",
        "Function does not exist",
    )
    assert error(FunctionName=short, EventSourceArn=f"arn:aws:s3:::{_name('b')}") == (
        "InvalidParameterValueException",
        "Unrecognized event source, must be kinesis, dynamodb stream or sqs.",
    )

    created = lam.create_event_source_mapping(FunctionName=short, EventSourceArn=arn)
    code, message = error(FunctionName=short, EventSourceArn=arn)
    assert code == "ResourceConflictException"
    assert message == (
        f'An event source mapping with SQS arn (" {arn} ") and function (" {short} ") already '
        f"exists. Please update or delete the existing mapping with UUID {created['UUID']}"
    )
    kinesis_mapping = lam.create_event_source_mapping(
        FunctionName=short, EventSourceArn=stream_arn, StartingPosition="LATEST"
    )
    code, message = error(
        FunctionName=short, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
    )
    assert code == "ResourceConflictException"
    assert message.startswith(f'The event source arn (" {stream_arn} ") and function')

    unknown = str(uuid.uuid4())
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
            call(UUID=unknown)
        assert _error(exc)[1] == "The resource you requested does not exist."
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.update_event_source_mapping(UUID=unknown, BatchSize=5)

    _wait_state(lam, created["UUID"], "Enabled")
    with pytest.raises(ClientError) as exc:
        lam.update_event_source_mapping(UUID=created["UUID"], FunctionName=name)
    assert _error(exc) == (
        "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds",
    )
    for uid in (created["UUID"], kinesis_mapping["UUID"]):
        lam.delete_event_source_mapping(UUID=uid)


def test_stream_mapping_shape(lab: LambdaRuntime, lam: Any, sqs: Any, kinesis: Any) -> None:
    name, _ = _function(lab, sqs, ECHO)
    _, stream_arn = _stream(kinesis)
    _, dest_arn = _queue(sqs, _name("dest"))
    created = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream_arn,
        StartingPosition="LATEST",
        MaximumRetryAttempts=3,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
        Enabled=False,
    )
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "User action"
    assert created["BatchSize"] == 100 and created["StartingPosition"] == "LATEST"
    assert created["ParallelizationFactor"] == 1
    assert created["MaximumRetryAttempts"] == 3 and created["MaximumRecordAgeInSeconds"] == -1
    assert created["BisectBatchOnFunctionError"] is True
    assert created["DestinationConfig"] == {"OnFailure": {"Destination": dest_arn}}
    assert created["LastProcessingResult"] == "No records processed"
    _wait_state(lam, created["UUID"], "Disabled")
    lam.delete_event_source_mapping(UUID=created["UUID"])


# -- SQS end to end ----------------------------------------------------------------------------
def test_sqs_batches_respect_batch_size_and_window(
    lab: LambdaRuntime, lam: Any, sqs: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, ECHO)
    url, arn = _queue(sqs, _name("win"))
    for start in (0, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": json.dumps({"n": i}),
                    "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "t"}},
                }
                for i in range(start, min(start + 10, 15))
            ],
        )
    uid = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, BatchSize=20, MaximumBatchingWindowInSeconds=1
    )["UUID"]
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) >= 15)
    assert len(log.entries) == 1  # the window gathered the whole backlog into one batch
    record = log.records()[0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION and record["md5OfBody"]
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "t",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert sorted(json.loads(r["body"])["n"] for r in log.records()) == list(range(15))
    eventually(lambda: esm.stats(uid).deleted == 15, what="the batch to be deleted")

    lam.update_event_source_mapping(UUID=uid, BatchSize=3, MaximumBatchingWindowInSeconds=0)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(7)]
    )
    log.until(lambda log: len(log.records()) >= 22)
    assert all(len(e["event"]["Records"]) <= 3 for e in log.entries[1:])
    assert len(log.records()) == 22
    lam.delete_event_source_mapping(UUID=uid)


def test_sqs_whole_batch_retry_then_redrive(
    lab: LambdaRuntime, lam: Any, sqs: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, FAIL, timeout=1)
    dlq_url, dlq_arn = _queue(sqs, _name("dlq"))
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, arn = _queue(sqs, _name("retry"), VisibilityTimeout="1", RedrivePolicy=redrive)
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    uid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)["UUID"]
    log = _Log(sqs, log_url).until(lambda log: len(log.entries) >= 2)
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in log.records()]
    assert counts[:2] == ["1", "2"]  # the same message, back after its visibility timeout

    def in_dlq() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])

    moved = eventually(in_dlq, what="the message to reach the dead-letter queue")
    assert moved[0]["Body"] == "doomed"
    stats = esm.stats(uid)
    assert stats.errors >= 2 and stats.deleted == 0 and stats.invocations >= 2
    lam.delete_event_source_mapping(UUID=uid)


def test_sqs_partial_batch_response(
    lab: LambdaRuntime, lam: Any, sqs: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, PARTIAL_SQS, timeout=1)
    url, arn = _queue(sqs, _name("partial"), VisibilityTimeout="1")
    bodies = [{"n": 0}, {"n": 1, "fail": True}, {"n": 2}, {"n": 3, "fail": True}]
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies)],
    )
    uid = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, FunctionResponseTypes=["ReportBatchItemFailures"]
    )["UUID"]
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) >= 6)
    first = log.entries[0]["event"]["Records"]
    assert len(first) == 4
    retried = [json.loads(r["body"])["n"] for r in log.records()[4:]]
    assert sorted(retried) == [1, 3]  # only the reported failures came back
    eventually(lambda: esm.stats(uid).deleted == 4, what="every message to be deleted")
    assert _queue_depth(sqs, url) == 0
    lam.delete_event_source_mapping(UUID=uid)


def test_sqs_filter_deletes_messages_that_do_not_match(
    lab: LambdaRuntime, lam: Any, sqs: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, ECHO)
    url, arn = _queue(sqs, _name("filter"))
    uid = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": ["keep"]}}'}]},
    )["UUID"]
    _wait_state(lam, uid, "Enabled")
    for kind in ("keep", "drop", "keep"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": kind}))
    sqs.send_message(QueueUrl=url, MessageBody="plain text")
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) >= 2)
    eventually(lambda: esm.stats(uid).deleted == 4, what="all four messages to be deleted")
    assert {json.loads(r["body"])["kind"] for r in log.records()} == {"keep"}
    assert len(log.records()) == 2
    assert esm.stats(uid).filtered_out == 2
    assert _queue_depth(sqs, url) == 0
    lam.delete_event_source_mapping(UUID=uid)


def test_sqs_fifo_keeps_order_per_group(lab: LambdaRuntime, lam: Any, sqs: Any) -> None:
    name, log_url = _function(lab, sqs, ECHO)
    url, arn = _queue(sqs, _name("order") + ".fifo")
    for n in range(6):
        for group in ("a", "b"):
            sqs.send_message(
                QueueUrl=url, MessageBody=json.dumps({"g": group, "n": n}), MessageGroupId=group
            )
    uid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=2)[
        "UUID"
    ]
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) >= 12)
    assert all(len(e["event"]["Records"]) <= 2 for e in log.entries)
    for group in ("a", "b"):
        seen = [
            json.loads(r["body"])["n"]
            for r in log.records()
            if r["attributes"]["MessageGroupId"] == group
        ]
        assert seen == list(range(6))
    lam.delete_event_source_mapping(UUID=uid)


def test_sqs_disable_stops_polling_and_enable_resumes(
    lab: LambdaRuntime, lam: Any, sqs: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, ECHO)
    url, arn = _queue(sqs, _name("toggle"))
    uid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)["UUID"]
    _wait_state(lam, uid, "Enabled")
    assert lam.update_event_source_mapping(UUID=uid, Enabled=False)["State"] == "Disabling"
    _wait_state(lam, uid, "Disabled")
    sqs.send_message(QueueUrl=url, MessageBody="while disabled")
    polled = esm.stats(uid).polled
    time.sleep(1.2)  # longer than a long poll: a running poller would have taken it
    assert esm.stats(uid).polled == polled
    assert _queue_depth(sqs, url) == 1
    assert lam.update_event_source_mapping(UUID=uid, Enabled=True)["State"] == "Enabling"
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) == 1)
    assert log.records()[0]["body"] == "while disabled"
    lam.delete_event_source_mapping(UUID=uid)


# -- Kinesis end to end ------------------------------------------------------------------------
def test_kinesis_records_in_order_per_shard(
    lab: LambdaRuntime,
    lam: Any,
    sqs: Any,
    kinesis: Any,
    esm: EventSourceMappings,
    metrics: list[tuple[str, str, float]],
) -> None:
    name, log_url = _function(lab, sqs, ECHO)
    stream, arn = _stream(kinesis, shards=2)
    for n in range(12):
        kinesis.put_record(
            StreamName=stream, Data=json.dumps({"n": n}).encode(), PartitionKey=f"key{n % 4}"
        )
    uid = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=3
    )["UUID"]
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) >= 12)
    assert len(log.records()) == 12
    by_shard: dict[str, list[int]] = {}
    for entry in log.entries:
        shards = {r["eventID"].split(":")[0] for r in entry["event"]["Records"]}
        assert len(shards) == 1 and len(entry["event"]["Records"]) <= 3  # one shard per batch
        for r in entry["event"]["Records"]:
            by_shard.setdefault(r["eventID"].split(":")[0], []).append(
                int(r["kinesis"]["sequenceNumber"])
            )
    assert len(by_shard) == 2
    assert all(seqs == sorted(seqs) for seqs in by_shard.values())
    record = log.records()[0]
    assert record["eventSource"] == "aws:kinesis" and record["eventSourceARN"] == arn
    assert record["eventName"] == "aws:kinesis:record"
    assert record["invokeIdentityArn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/")
    assert json.loads(base64.b64decode(record["kinesis"]["data"]))["n"] in range(12)
    assert record["eventID"] == (
        f"{record['eventID'].split(':')[0]}:{record['kinesis']['sequenceNumber']}"
    )
    stats = esm.stats(uid)
    assert stats.iterator_age_ms is not None and stats.iterator_age_ms >= 0
    assert any(m[0] == "IteratorAge" and m[1] == name for m in metrics)
    assert _wait_state(lam, uid, "Enabled")["LastProcessingResult"] == "OK"
    lam.delete_event_source_mapping(UUID=uid)


def test_kinesis_bisect_isolates_poison_record_to_on_failure(
    lab: LambdaRuntime, lam: Any, sqs: Any, kinesis: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, POISON)
    stream, arn = _stream(kinesis)
    dest_url, dest_arn = _queue(sqs, _name("onfail"))
    sequences = _put(kinesis, stream, {"n": 0}, {"n": 1}, {"n": 2, "poison": True}, {"n": 3})
    uid = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )["UUID"]
    failure = _on_failure_record(sqs, dest_url)
    assert failure["version"] == "1.0" and failure["timestamp"].endswith("Z")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(f":function:{name}")
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000" and info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequences[2]
    assert info["batchSize"] == 1
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    log = _Log(sqs, log_url).until(lambda log: len(log.entries) >= 5)
    batches = [
        [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in e["event"]["Records"]]
        for e in log.entries
    ]
    assert batches == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]
    stats = esm.stats(uid)
    assert stats.discarded == 1 and stats.sent_to_destination == 1
    lam.delete_event_source_mapping(UUID=uid)


def test_kinesis_maximum_retry_attempts_then_moves_on(
    lab: LambdaRuntime, lam: Any, sqs: Any, kinesis: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, FAIL)
    stream, arn = _stream(kinesis)
    dest_url, dest_arn = _queue(sqs, _name("onfail"))
    _put(kinesis, stream, *({"n": n} for n in range(2)))
    uid = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )["UUID"]
    failure = _on_failure_record(sqs, dest_url)
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["KinesisBatchInfo"]["batchSize"] == 2
    assert esm.stats(uid).invocations == 3
    assert "PROBLEM" in lam.get_event_source_mapping(UUID=uid)["LastProcessingResult"]
    kinesis.put_record(StreamName=stream, Data=b'{"n": 2}', PartitionKey="k")
    log = _Log(sqs, log_url).until(lambda log: len(log.entries) >= 4)
    assert len(log.entries[3]["event"]["Records"]) == 1  # the shard is unblocked
    lam.delete_event_source_mapping(UUID=uid)


def test_kinesis_partial_batch_checkpoints_at_lowest(
    lab: LambdaRuntime, lam: Any, sqs: Any, kinesis: Any, esm: EventSourceMappings
) -> None:
    name, log_url = _function(lab, sqs, PARTIAL_STREAM)
    stream, arn = _stream(kinesis)
    dest_url, dest_arn = _queue(sqs, _name("onfail"))
    sequences = _put(kinesis, stream, {"n": 0}, {"n": 1}, {"n": 2, "fail": True}, {"n": 3})
    uid = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )["UUID"]
    info = _on_failure_record(sqs, dest_url)["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequences[2], sequences[3])
    log = _Log(sqs, log_url).until(lambda log: len(log.entries) >= 2)
    seen = [[r["kinesis"]["sequenceNumber"] for r in e["event"]["Records"]] for e in log.entries]
    assert seen == [sequences, sequences[2:]]
    assert esm.stats(uid).discarded == 2
    lam.delete_event_source_mapping(UUID=uid)


def test_kinesis_tumbling_window_carries_state_to_a_final_invoke(
    lab: LambdaRuntime, lam: Any, sqs: Any, kinesis: Any
) -> None:
    name, log_url = _function(lab, sqs, WINDOWED)
    stream, arn = _stream(kinesis)
    _put(kinesis, stream, *({"n": n} for n in range(3)))
    uid = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        TumblingWindowInSeconds=1,
    )["UUID"]
    assert lam.get_event_source_mapping(UUID=uid)["TumblingWindowInSeconds"] == 1

    def final_count(log: _Log) -> int:
        return sum(
            e["event"]["state"].get("count", 0)
            for e in log.entries
            if e["event"]["isFinalInvokeForWindow"]
        )

    log = _Log(sqs, log_url).until(lambda log: final_count(log) == 3)
    events = [e["event"] for e in log.entries]
    assert all(
        e["shardId"] == "shardId-000000000000" and e["eventSourceARN"] == arn for e in events
    )
    assert all(len(e["Records"]) <= 2 and not e["isWindowTerminatedEarly"] for e in events)
    for event in events:
        start, end = (
            time.mktime(time.strptime(event["window"][k], "%Y-%m-%dT%H:%M:%SZ"))
            for k in ("start", "end")
        )
        assert end - start == 1
    running: dict[str, int] = {}
    for event in events:  # each invoke gets the state the previous one of its window returned
        key = event["window"]["start"]
        assert event["state"].get("count", 0) == running.get(key, 0)
        running[key] = running.get(key, 0) + len(event["Records"])
        if event["isFinalInvokeForWindow"]:
            assert event["Records"] == []
    lam.delete_event_source_mapping(UUID=uid)


# -- DynamoDB Streams end to end ---------------------------------------------------------------
def test_dynamodb_stream_insert_modify_remove(
    lab: LambdaRuntime, lam: Any, sqs: Any, ddb: Any
) -> None:
    name, log_url = _function(lab, sqs, ECHO)
    table, stream_arn = _table(ddb)
    uid = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
    )["UUID"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    log = _Log(sqs, log_url).until(lambda log: len(log.records()) >= 3)
    records = log.records()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert insert["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert modify["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert remove["dynamodb"]["Keys"] == {"pk": {"S": "a"}} and "NewImage" not in remove["dynamodb"]
    assert all(r["eventSourceARN"] == stream_arn for r in records)
    assert insert["eventSource"] == "aws:dynamodb" and insert["eventVersion"] == "1.1"
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], (int, float))
    lam.delete_event_source_mapping(UUID=uid)


# -- the manager -------------------------------------------------------------------------------
def test_close_stops_pollers_promptly(lab: LambdaRuntime, sqs: Any) -> None:
    name, _ = _function(lab, sqs, ECHO)
    _, arn = _queue(sqs, _name("close"))
    manager = EventSourceMappings(lab.service, sqs_wait_time_s=1)
    uid = manager.create_event_source_mapping(name, arn)["UUID"]
    eventually(lambda: manager.get_event_source_mapping(uid)["State"] == "Enabled")
    prefix = f"esm-{uid[:8]}"
    assert any(t.name.startswith(prefix) for t in threading.enumerate())
    started = time.monotonic()
    manager.close()
    assert time.monotonic() - started < 2.5
    assert not any(t.name.startswith(prefix) for t in threading.enumerate())
    with pytest.raises(ResourceNotFoundException):
        manager.stats(str(uuid.uuid4()))
