"""CloudWatch Logs at the edge: the Lambda log groups read with boto3, answered from the store.

One runtime for the module (its own store file); functions that print, log JSON and raise.
The tie-breaking and 1 MB paging of tokens are checked on a bare store through the
interceptor, where events can be written with chosen timestamps and sizes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kernel_runtime import LambdaRuntime
from kernel_runtime.api import LogsInterceptor
from kernel_runtime.observe import Store
from kernel_runtime.runtime import Function

PRINTER = """\
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("alpha", event["n"])
    print("beta", event["n"])
    print("gamma")
    if event.get("bad"):
        print("ERROR bad input", event["n"])
    return event["n"]
"""

JSON_LOGGER = """\
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    logger.info("order placed", extra={"order": event["order"]})
    if event["order"] > 10:
        logger.error("payment failed")
    return event["order"]
"""

FAILING = """\
def handler(event, context):
    raise ValueError("card declined")
"""

STREAM_NAME = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")
PRINTER_GROUP = "/aws/lambda/logs-printer"
JSON_GROUP = "/aws/lambda/logs-json"
FAILING_GROUP = "/aws/lambda/logs-failing"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    store = tmp_path_factory.mktemp("logs-api") / "store.sqlite3"
    with LambdaRuntime(store=store) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def logs(lab: LambdaRuntime) -> Any:
    return lab.client("logs")


@pytest.fixture(scope="module")
def printer(lab: LambdaRuntime) -> dict[str, Any]:
    """Two environments (two invokes at once), then two more invokes, the last one printing
    an ERROR line."""
    function = lab.create_function("logs-printer", "app.handler", {"app.py": PRINTER})
    with ThreadPoolExecutor(2) as pool:
        first = list(pool.map(lambda n: function.invoke({"n": n, "sleep": 0.3}), (0, 1)))
    later = [function.invoke({"n": n, "bad": n == 3}) for n in (2, 3)]
    invocations = first + later
    assert all(inv.status == "success" for inv in invocations)
    lab.store.flush()
    return {"function": function, "invocations": invocations}


@pytest.fixture(scope="module")
def json_logger(lab: LambdaRuntime) -> Function:
    function = lab.create_function(
        "logs-json", "app.handler", {"app.py": JSON_LOGGER}, logging_config={"LogFormat": "JSON"}
    )
    function.invoke({"order": 7})
    function.invoke({"order": 12})
    return function


@pytest.fixture(scope="module")
def failing(lab: LambdaRuntime) -> Function:
    function = lab.create_function("logs-failing", "app.handler", {"app.py": FAILING})
    assert function.invoke({}).function_error == "Unhandled"
    return function


def stream_of(printer: dict[str, Any], index: int = -1) -> str:
    return str(printer["invocations"][index].log_stream_name)


def all_events(logs: Any, stream: str) -> list[dict[str, Any]]:
    events = logs.get_log_events(
        logGroupName=PRINTER_GROUP, logStreamName=stream, startFromHead=True
    )["events"]
    assert events
    return list(events)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


# -- DescribeLogStreams -----------------------------------------------------------------------
def test_describe_log_streams_one_per_environment(logs: Any, printer: dict[str, Any]) -> None:
    invocations = printer["invocations"]
    streams = logs.describe_log_streams(logGroupName=PRINTER_GROUP)["logStreams"]
    names = [s["logStreamName"] for s in streams]
    assert len(names) == 2
    assert set(names) == {inv.log_stream_name for inv in invocations}
    assert names == sorted(names)  # orderBy LogStreamName by default
    for stream in streams:
        name = stream["logStreamName"]
        assert STREAM_NAME.fullmatch(name)
        assert stream["arn"] == (
            f"arn:aws:logs:us-east-1:123456789012:log-group:{PRINTER_GROUP}:log-stream:{name}"
        )
        assert stream["storedBytes"] == 0
        assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]
        assert stream["lastIngestionTime"] >= stream["creationTime"]
        assert re.fullmatch(r"\d{56}", stream["uploadSequenceToken"])
    # the stream of the last invoke has the latest event
    latest = logs.describe_log_streams(
        logGroupName=PRINTER_GROUP, orderBy="LastEventTime", descending=True
    )["logStreams"]
    assert latest[0]["logStreamName"] == stream_of(printer)
    assert [s["logStreamName"] for s in latest] == [
        stream_of(printer),
        *set(names) - {stream_of(printer)},
    ]


def test_describe_log_streams_prefix_paging_and_errors(logs: Any, printer: dict[str, Any]) -> None:
    names = sorted(inv.log_stream_name for inv in printer["invocations"][:2])
    page = logs.describe_log_streams(logGroupName=PRINTER_GROUP, limit=1)
    assert [s["logStreamName"] for s in page["logStreams"]] == names[:1]
    rest = logs.describe_log_streams(
        logGroupName=PRINTER_GROUP, limit=1, nextToken=page["nextToken"]
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == names[1:]
    assert "nextToken" not in rest
    prefixed = logs.describe_log_streams(
        logGroupName=PRINTER_GROUP, logStreamNamePrefix=names[1][:-3]
    )
    assert [s["logStreamName"] for s in prefixed["logStreams"]] == names[1:]
    by_arn = logs.describe_log_streams(
        logGroupIdentifier=f"arn:aws:logs:us-east-1:123456789012:log-group:{PRINTER_GROUP}:*"
    )
    assert len(by_arn["logStreams"]) == 2
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(
            logGroupName=PRINTER_GROUP, orderBy="LastEventTime", logStreamNamePrefix="2"
        )
    assert error_of(excinfo) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(logGroupName=PRINTER_GROUP, limit=51)
    assert error_of(excinfo) == (
        "InvalidParameterException",
        "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 50",
    )


# -- GetLogEvents -----------------------------------------------------------------------------
def test_get_log_events_platform_lines_and_prints_in_order(
    logs: Any, printer: dict[str, Any]
) -> None:
    stream = stream_of(printer)  # the environment that served n=2 (or 0/1) and n=3 last
    served = [inv for inv in printer["invocations"] if inv.log_stream_name == stream]
    events = all_events(logs, stream)
    messages = [e["message"] for e in events]
    assert messages[0].startswith("INIT_START Runtime Version: ")
    expected: list[str] = []
    for inv in served:
        n = json.loads(inv.payload)
        expected += [
            f"START RequestId: {inv.request_id} Version: $LATEST\n",
            f"alpha {n}\n",
            f"beta {n}\n",
            "gamma\n",
            *([f"ERROR bad input {n}\n"] if n == 3 else []),
            f"END RequestId: {inv.request_id}\n",
        ]
        expected.append(messages[len(expected) + 1])  # the REPORT line, checked below
        assert expected[-1].startswith(f"REPORT RequestId: {inv.request_id}\tDuration: ")
    assert messages[1:] == expected
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert all(set(e) == {"timestamp", "message", "ingestionTime"} for e in events)
    # without startFromHead: the latest events, still oldest first
    tail = logs.get_log_events(logGroupName=PRINTER_GROUP, logStreamName=stream, limit=2)
    assert [e["message"] for e in tail["events"]] == messages[-2:]


def test_get_log_events_tokens_walk_both_ways(logs: Any, printer: dict[str, Any]) -> None:
    stream = stream_of(printer)
    everything = all_events(logs, stream)
    request = {"logGroupName": PRINTER_GROUP, "logStreamName": stream, "limit": 2}
    forward: list[dict[str, Any]] = []
    page = logs.get_log_events(**request, startFromHead=True)
    pages = 1
    while page["events"]:
        assert len(page["events"]) <= 2
        forward += page["events"]
        token = page["nextForwardToken"]
        assert re.fullmatch(r"f/\d{56}", token)
        page = logs.get_log_events(**request, startFromHead=True, nextToken=token)
        pages += 1
    assert page["nextForwardToken"] == token  # the end: the same token comes back
    assert forward == everything
    assert pages == -(-len(everything) // 2) + 1
    # backward from the tail, page by page
    backward: list[dict[str, Any]] = []
    page = logs.get_log_events(**request)
    while page["events"]:
        backward = page["events"] + backward
        token = page["nextBackwardToken"]
        assert re.fullmatch(r"b/\d{56}", token)
        page = logs.get_log_events(**request, nextToken=token)
    assert page["nextBackwardToken"] == token
    assert backward == everything
    # a forward token from the middle resumes right after the page it ended
    first = logs.get_log_events(**request, startFromHead=True)
    second = logs.get_log_events(**request, startFromHead=True, nextToken=first["nextForwardToken"])
    assert second["events"] == everything[2:4]
    before = logs.get_log_events(**request, nextToken=second["nextBackwardToken"])
    assert before["events"] == everything[:2]


def test_get_log_events_time_range(logs: Any, printer: dict[str, Any]) -> None:
    stream = stream_of(printer)
    everything = all_events(logs, stream)
    t = everything[len(everything) // 2]["timestamp"]
    request = {"logGroupName": PRINTER_GROUP, "logStreamName": stream, "startFromHead": True}
    at_t = logs.get_log_events(**request, startTime=t, endTime=t + 1)["events"]
    assert at_t == [e for e in everything if e["timestamp"] == t]
    assert logs.get_log_events(**request, startTime=t, endTime=t)["events"] == []  # end exclusive
    after = logs.get_log_events(**request, startTime=t + 1)["events"]
    assert after == [e for e in everything if e["timestamp"] > t]


def test_get_log_events_errors(logs: Any, printer: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=PRINTER_GROUP, logStreamName="2020/01/01/[$LATEST]00")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName="/aws/lambda/never-invoked", logStreamName="s")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    stream = stream_of(printer)
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=PRINTER_GROUP, logStreamName=stream, nextToken="x/1")
    assert error_of(excinfo) == ("InvalidParameterException", "The specified nextToken is invalid.")
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=PRINTER_GROUP, logStreamName=stream, limit=10_001)
    assert error_of(excinfo) == (
        "InvalidParameterException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    )


# -- FilterLogEvents --------------------------------------------------------------------------
def test_filter_log_events_patterns(
    logs: Any, printer: dict[str, Any], json_logger: Function, failing: Function
) -> None:
    errors = logs.filter_log_events(logGroupName=PRINTER_GROUP, filterPattern="ERROR")["events"]
    assert [e["message"] for e in errors] == ["ERROR bad input 3\n"]
    (event,) = errors
    assert set(event) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert event["logStreamName"] == stream_of(printer)

    either = logs.filter_log_events(logGroupName=PRINTER_GROUP, filterPattern="?alpha ?beta")
    messages = sorted(e["message"] for e in either["events"])
    assert messages == sorted(f"{word} {n}\n" for word in ("alpha", "beta") for n in range(4))
    stamps = [e["timestamp"] for e in either["events"]]
    assert stamps == sorted(stamps)  # both streams interleaved by time
    assert {e["logStreamName"] for e in either["events"]} == {
        inv.log_stream_name for inv in printer["invocations"]
    }

    failed = logs.filter_log_events(logGroupName=FAILING_GROUP, filterPattern="ERROR")["events"]
    assert len(failed) == 1
    assert failed[0]["message"].startswith("[ERROR] ValueError: card declined\nTraceback")

    payment = logs.filter_log_events(
        logGroupName=JSON_GROUP, filterPattern='{ $.level = "ERROR" }'
    )["events"]
    assert [json.loads(e["message"])["message"] for e in payment] == ["payment failed"]
    orders = logs.filter_log_events(logGroupName=JSON_GROUP, filterPattern="{ $.order > 10 }")
    assert [json.loads(e["message"])["order"] for e in orders["events"]] == [12]

    with pytest.raises(ClientError) as excinfo:
        logs.filter_log_events(logGroupName=JSON_GROUP, filterPattern="{ $.order > }")
    assert error_of(excinfo) == ("InvalidParameterException", "Invalid filter pattern")


def test_filter_log_events_time_range_streams_and_paging(
    logs: Any, printer: dict[str, Any]
) -> None:
    everything = logs.filter_log_events(logGroupName=PRINTER_GROUP)["events"]
    assert "nextToken" not in logs.filter_log_events(logGroupName=PRINTER_GROUP)
    assert len(everything) == sum(
        len(all_events(logs, name)) for name in {i.log_stream_name for i in printer["invocations"]}
    )
    t = everything[len(everything) // 2]["timestamp"]
    ranged = logs.filter_log_events(logGroupName=PRINTER_GROUP, startTime=t, endTime=t)["events"]
    assert ranged == [e for e in everything if e["timestamp"] == t]  # both ends inclusive
    later = logs.filter_log_events(logGroupName=PRINTER_GROUP, startTime=t + 1)["events"]
    assert later == [e for e in everything if e["timestamp"] > t]

    walked: list[dict[str, Any]] = []
    page = logs.filter_log_events(logGroupName=PRINTER_GROUP, limit=2)
    while True:
        assert len(page["events"]) <= 2
        walked += page["events"]
        if "nextToken" not in page:
            break
        page = logs.filter_log_events(
            logGroupName=PRINTER_GROUP, limit=2, nextToken=page["nextToken"]
        )
    assert walked == everything

    stream = stream_of(printer, 0)
    one = logs.filter_log_events(logGroupName=PRINTER_GROUP, logStreamNames=[stream])["events"]
    assert one == [e for e in everything if e["logStreamName"] == stream]
    prefixed = logs.filter_log_events(logGroupName=PRINTER_GROUP, logStreamNamePrefix=stream[:-1])
    assert prefixed["events"] == one
    with pytest.raises(ClientError) as excinfo:
        logs.filter_log_events(
            logGroupName=PRINTER_GROUP, logStreamNames=[stream], logStreamNamePrefix="2"
        )
    assert error_of(excinfo) == (
        "InvalidParameterException",
        "Cannot specify both logStreamNames and logStreamNamePrefix.",
    )
    with pytest.raises(ClientError) as excinfo:
        logs.filter_log_events(logGroupName=PRINTER_GROUP, logStreamNames=[stream, "nope"])
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )


# -- groups moto holds ------------------------------------------------------------------------
def test_non_lambda_group_is_still_moto(logs: Any, printer: dict[str, Any]) -> None:
    logs.create_log_group(logGroupName="/lab/orders")
    logs.create_log_stream(logGroupName="/lab/orders", logStreamName="web")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/lab/orders",
        logStreamName="web",
        logEvents=[{"timestamp": now, "message": "order 1"}, {"timestamp": now, "message": "x"}],
    )
    events = logs.get_log_events(logGroupName="/lab/orders", logStreamName="web")["events"]
    assert [e["message"] for e in events] == ["order 1", "x"]
    found = logs.filter_log_events(logGroupName="/lab/orders", filterPattern="order")["events"]
    assert [e["message"] for e in found] == ["order 1"]
    (stream,) = logs.describe_log_streams(logGroupName="/lab/orders")["logStreams"]
    assert stream["logStreamName"] == "web"

    # a /aws/lambda/ group created ahead of its function's first invoke is moto's too
    logs.create_log_group(logGroupName="/aws/lambda/not-yet-invoked")
    logs.put_retention_policy(logGroupName="/aws/lambda/not-yet-invoked", retentionInDays=7)
    assert logs.describe_log_streams(logGroupName="/aws/lambda/not-yet-invoked")["logStreams"] == []

    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    assert {"/lab/orders", "/aws/lambda/not-yet-invoked", PRINTER_GROUP} <= set(groups)
    assert groups["/aws/lambda/not-yet-invoked"]["retentionInDays"] == 7
    ours = groups[PRINTER_GROUP]
    assert ours["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{PRINTER_GROUP}:*"
    assert ours["storedBytes"] == 0 and "retentionInDays" not in ours
    streams = logs.describe_log_streams(logGroupName=PRINTER_GROUP)["logStreams"]
    assert ours["creationTime"] == min(s["creationTime"] for s in streams)

    lambda_only = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    names = [g["logGroupName"] for g in lambda_only]
    assert names == sorted(names) and "/lab/orders" not in names
    assert {"/aws/lambda/not-yet-invoked", PRINTER_GROUP} <= set(names)
    paged: list[str] = []
    page = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/", limit=1)
    while True:
        paged += [g["logGroupName"] for g in page["logGroups"]]
        if "nextToken" not in page:
            break
        page = logs.describe_log_groups(
            logGroupNamePrefix="/aws/lambda/", limit=1, nextToken=page["nextToken"]
        )
    assert paged == names
    pattern = logs.describe_log_groups(logGroupNamePattern="printer")["logGroups"]
    assert [g["logGroupName"] for g in pattern] == [PRINTER_GROUP]


# -- Function.logs and Function.tail ----------------------------------------------------------
def test_function_logs(logs: Any, printer: dict[str, Any]) -> None:
    function = printer["function"]
    api = logs.filter_log_events(logGroupName=PRINTER_GROUP, filterPattern="gamma")["events"]
    assert function.logs(pattern="gamma") == api
    assert len(api) == 4
    assert function.logs(pattern="gamma", limit=2) == api[:2]
    t = api[1]["timestamp"]
    assert function.logs(pattern="gamma", start=t) == [e for e in api if e["timestamp"] >= t]
    assert function.logs(pattern="gamma", end=t) == [e for e in api if e["timestamp"] < t]


def test_function_tail_delivers_new_events(lab: LambdaRuntime, printer: dict[str, Any]) -> None:
    function = printer["function"]
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    def callback(events: list[dict[str, Any]]) -> None:
        received.extend(events)
        if any(e["message"] == "alpha 42\n" for e in events):
            arrived.set()

    follower = function.tail(callback, pattern="?alpha ?beta")
    try:
        assert follower.running
        function.invoke({"n": 42})
        assert arrived.wait(5.0)
    finally:
        follower.stop()
    assert not follower.running
    assert [e["message"] for e in received] == ["alpha 42\n", "beta 42\n"]  # only new events


def test_function_logs_need_the_store() -> None:
    function = Function(SimpleNamespace(store=None), "f")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="store=False"):
        function.logs()
    with pytest.raises(RuntimeError, match="store=False"):
        function.tail(lambda events: None)


# -- the interceptor on a bare store ----------------------------------------------------------
SIGNED = {
    "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/logs/"
    "aws4_request, SignedHeaders=host, Signature=0"
}


def call(interceptor: LogsInterceptor, operation: str, **params: Any) -> dict[str, Any] | None:
    answer = interceptor(operation, dict(SIGNED), json.dumps(params).encode())
    if answer is None:
        return None
    status, headers, body = answer
    assert dict(headers)["Content-Type"] == "application/x-amz-json-1.1"
    document: dict[str, Any] = json.loads(body)
    document["status"] = status
    return document


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite3") as store:
        yield store


def test_tokens_walk_events_of_one_millisecond(store: Store) -> None:
    events = [(1_000, f"m{i}") for i in range(7)] + [(1_001, "late")]
    store.record_log_events("/aws/lambda/ties", "s", events)
    interceptor = LogsInterceptor(store)
    request = {"logGroupName": "/aws/lambda/ties", "logStreamName": "s", "limit": 2}
    walked: list[str] = []
    page = call(interceptor, "GetLogEvents", **request, startFromHead=True)
    while page is not None and page["events"]:
        walked += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
        page = call(interceptor, "GetLogEvents", **request, nextToken=token)
    assert walked == [m for _, m in events]
    assert page is not None and page["nextForwardToken"] == token

    backward: list[str] = []
    page = call(interceptor, "GetLogEvents", **request)
    while page is not None and page["events"]:
        backward = [e["message"] for e in page["events"]] + backward
        page = call(interceptor, "GetLogEvents", **request, nextToken=page["nextBackwardToken"])
    assert backward == walked

    filtered: list[str] = []
    page = call(interceptor, "FilterLogEvents", logGroupName="/aws/lambda/ties", limit=3)
    while page is not None:
        filtered += [e["message"] for e in page["events"]]
        if "nextToken" not in page:
            break
        page = call(
            interceptor,
            "FilterLogEvents",
            logGroupName="/aws/lambda/ties",
            limit=3,
            nextToken=page["nextToken"],
        )
    assert filtered == walked


def test_pages_hold_at_most_one_megabyte(store: Store) -> None:
    big = [(2_000 + i, f"{i}" + "x" * 300_000) for i in range(5)]
    store.record_log_events("/aws/lambda/big", "s", big)
    interceptor = LogsInterceptor(store)
    request = {"logGroupName": "/aws/lambda/big", "logStreamName": "s", "startFromHead": True}
    first = call(interceptor, "GetLogEvents", **request)
    assert first is not None
    assert [e["message"][0] for e in first["events"]] == ["0", "1", "2"]  # a 4th passes 1 MB
    second = call(interceptor, "GetLogEvents", **request, nextToken=first["nextForwardToken"])
    assert second is not None
    assert [e["message"][0] for e in second["events"]] == ["3", "4"]
    filtered = call(interceptor, "FilterLogEvents", logGroupName="/aws/lambda/big")
    assert filtered is not None and len(filtered["events"]) == 3
    rest = call(
        interceptor,
        "FilterLogEvents",
        logGroupName="/aws/lambda/big",
        nextToken=filtered["nextToken"],
    )
    assert rest is not None and [e["message"][0] for e in rest["events"]] == ["3", "4"]
    assert "nextToken" not in rest


def test_what_the_interceptor_leaves_to_moto(store: Store) -> None:
    store.record_log_events("/aws/lambda/held", "s", [(1, "m")])
    store.record_log_events("/lab/other", "s", [(1, "m")])
    interceptor = LogsInterceptor(store, region="eu-west-1", account_id="111122223333")
    assert call(interceptor, "PutLogEvents", logGroupName="/aws/lambda/held") is None
    assert call(interceptor, "GetLogEvents", logGroupName="/lab/other", logStreamName="s") is None
    assert (
        call(interceptor, "GetLogEvents", logGroupName="/aws/lambda/x", logStreamName="s") is None
    )
    assert interceptor("GetLogEvents", dict(SIGNED), b"not json") is None
    held = call(interceptor, "DescribeLogStreams", logGroupName="/aws/lambda/held")
    assert held is not None
    assert held["logStreams"][0]["arn"] == (
        "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/held:log-stream:s"
    )
    both = call(
        interceptor,
        "DescribeLogStreams",
        logGroupName="/aws/lambda/held",
        logGroupIdentifier="/aws/lambda/held",
    )
    assert both == {
        "__type": "InvalidParameterException",
        "message": "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        "status": 400,
    }
    store.close()
    assert call(interceptor, "DescribeLogStreams", logGroupName="/aws/lambda/held") is None
