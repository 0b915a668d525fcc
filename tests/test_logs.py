"""Log events, levels, Embedded Metric Format and filter patterns (kernel_runtime.observe._logs).

Invocations are built with the ``Invocation`` NamedTuple in the exact log format the sandbox
writes (``_platform.py``, ``_worker.py``), plus one real invocation from a runtime. Filter
pattern cases follow CloudWatch Logs' "Filter pattern syntax"; EMF cases its specification and
what aws-lambda-powertools' ``Metrics`` prints.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kernel_runtime.invocation import Invocation
from kernel_runtime.observe._logs import (
    FilterPattern,
    InvalidFilterPattern,
    LogEvent,
    MetricPoint,
    emf_metrics,
    event_level,
    log_events,
    log_group_name,
)

RID = "52a9437d-7526-4b28-998f-d0185b278ea9"
STARTED = 1_764_272_348.5286  # epoch s
FINISHED = STARTED + 0.0413
STARTED_MS = round(STARTED * 1000)
FINISHED_MS = round(FINISHED * 1000)


def invocation(raw_log: str, *, init_ms: float | None = None, **fields: Any) -> Invocation:
    values: dict[str, Any] = {
        "request_id": RID,
        "function_name": "orders",
        "function_version": "$LATEST",
        "environment_id": "env-1",
        "log_stream_name": "2025/11/27/[$LATEST]3893a6b87fac4485b47bb75b671a283c",
        "payload": b"{}",
        "function_error": None,
        "error_type": None,
        "status": "success",
        "cold_start": init_ms is not None,
        "initialization_type": "on-demand",
        "init_duration_ms": init_ms,
        "duration_ms": 41.3,
        "billed_duration_ms": 42,
        "memory_size_mb": 128,
        "max_memory_used_mb": 40,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "trace_id": "Root=1-6928a9dc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
        "raw_log": raw_log,
    }
    values.update(fields)
    return Invocation(**values)


# A failed cold invocation in Text format, as the sandbox writes it: the traceback is one
# record with \r between its lines; the logging record carries its own time.
TEXT_LOG = (
    "INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:aws:lambda:us-east-1"
    "::runtime:lambda-lab-python:3.11.v1\n"
    "loading config\n"
    f"START RequestId: {RID} Version: $LATEST\n"
    "processing order 17\n"
    f"[WARNING]\t2025-11-27T19:39:08.540Z\t{RID}\tstock low\n"
    "still going\n"
    "[ERROR] ValueError: boom\rTraceback (most recent call last):\r"
    '\u00a0\u00a0File "/var/task/app.py", line 11, in handler\r'
    '\u00a0\u00a0\u00a0\u00a0raise ValueError("boom")\n'
    f"END RequestId: {RID}\n"
    f"REPORT RequestId: {RID}\tDuration: 41.30 ms\tBilled Duration: 57 ms\tMemory Size: 128 MB"
    "\tMax Memory Used: 40 MB\tInit Duration: 15.45 ms\tStatus: error\tError Type: ValueError\t\n"
)

JSON_LOG = (
    '{"time": "2025-11-27T19:39:08.528Z", "type": "platform.start", "record": '
    f'{{"requestId": "{RID}", "version": "$LATEST"}}}}\n'
    "plain print\n"
    '{"timestamp": "2025-11-27T19:39:08.531Z", "level": "DEBUG", "message": "detail", '
    f'"logger": "root", "requestId": "{RID}"}}\n'
    '{"timestamp": "2025-11-27T19:39:08.560Z", "level": "WARNING", "message": "slow", '
    f'"logger": "root", "requestId": "{RID}"}}\n'
    '{"timestamp": "2025-11-27T19:39:08.565Z", "level": "ERROR", "message": "boom", "logger": '
    f'"root", "requestId": "{RID}", "errorType": "ValueError", "stackTrace": ["  File x\\n"]}}\n'
    '{"time": "2025-11-27T19:39:08.569Z", "type": "platform.runtimeDone", "record": '
    f'{{"requestId": "{RID}", "status": "error"}}}}\n'
    '{"time": "2025-11-27T19:39:08.569Z", "type": "platform.report", "record": {"requestId": '
    f'"{RID}", "metrics": {{"durationMs": 41.3, "billedDurationMs": 42, "memorySizeMB": 128, '
    '"maxMemoryUsedMB": 40}, "status": "error"}}\n'
)


def test_log_group_name() -> None:
    assert log_group_name("orders") == "/aws/lambda/orders"


def test_text_log_one_event_per_record_traceback_kept_whole() -> None:
    events = log_events(invocation(TEXT_LOG, init_ms=15.45))
    assert all(isinstance(e, LogEvent) for e in events)
    messages = [e.message for e in events]
    assert len(messages) == 9
    assert messages[2] == f"START RequestId: {RID} Version: $LATEST\n"
    traceback = messages[6]
    assert traceback.startswith("[ERROR] ValueError: boom\nTraceback (most recent call last):\n")
    assert traceback.endswith('raise ValueError("boom")\n')
    assert "\r" not in "".join(messages)
    assert all(m.endswith("\n") for m in messages)  # Lambda's events keep their newline


def test_text_log_timestamps_anchor_on_the_invocation_and_increase() -> None:
    events = log_events(invocation(TEXT_LOG, init_ms=15.45))
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    assert times[0] == STARTED_MS - 15  # INIT_START: the start of init
    assert times[2] == STARTED_MS  # START
    assert times[-2] == times[-1] == FINISHED_MS  # END, REPORT
    assert STARTED_MS - 15 <= times[1] <= STARTED_MS  # init output between INIT_START and START
    # the logging record keeps its own time; unstamped lines spread around it
    warning_ms = 1_764_272_348_540
    assert times[4] == warning_ms
    assert STARTED_MS <= times[3] <= warning_ms <= times[5] <= times[6] <= FINISHED_MS
    assert times[5] < times[6] < FINISHED_MS  # spread, not all piled on one instant


def test_own_stamps_outside_the_invocation_are_clamped() -> None:
    late = f"[INFO]\t2031-01-01T00:00:00.000Z\t{RID}\tfrom the future\n"
    raw = f"START RequestId: {RID} Version: $LATEST\n{late}END RequestId: {RID}\n"
    events = log_events(invocation(raw))
    assert [e.timestamp for e in events] == [STARTED_MS, FINISHED_MS, FINISHED_MS]


def test_json_log_records_and_levels() -> None:
    events = log_events(invocation(JSON_LOG))
    assert len(events) == 7
    assert events[0].timestamp == STARTED_MS and events[-1].timestamp == FINISHED_MS
    # JSON records are the document alone; a print line keeps its newline
    assert json.loads(events[3].message)["message"] == "slow"
    assert not events[3].message.endswith("\n")
    assert events[1].message == "plain print\n"
    assert [event_level(e.message) for e in events] == [
        "INFO",
        "INFO",
        "DEBUG",
        "WARN",
        "ERROR",
        "ERROR",  # runtimeDone with status error
        "ERROR",  # the failed REPORT
    ]
    warn = log_events(invocation(JSON_LOG), min_level="WARN")
    assert [json.loads(e.message).get("message") for e in warn[:2]] == ["slow", "boom"]
    assert len(warn) == 4
    assert len(log_events(invocation(JSON_LOG), min_level="trace")) == 7
    assert [e.message for e in log_events(invocation(JSON_LOG), min_level="FATAL")] == []


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ('{"level": "warn", "message": "x"}', "WARN"),
        ('{"level": "CRITICAL", "message": "x"}', "FATAL"),
        ('{"level": "LOUD", "message": "x"}', "INFO"),  # invalid level: INFO, as Lambda does
        ('{"message": "no level"}', "INFO"),
        ("[1, 2]", "INFO"),
        ("{not json", "INFO"),
        (f"[ERROR]\t2025-11-27T19:39:08.540Z\t{RID}\tfailed\n", "ERROR"),
        (f"[DEBUG]\t2025-11-27T19:39:08.540Z\t{RID}\tx\n", "DEBUG"),
        ("just a print\n", "INFO"),
        (f"REPORT RequestId: {RID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t\n", "INFO"),
        (f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\tStatus: timeout\t\n", "ERROR"),
        ("INIT_REPORT Init Duration: 3.00 ms\tPhase: init\tStatus: error\n", "ERROR"),
        (f"2025-11-27T19:39:08.540Z {RID} Task timed out after 3.00 seconds\n", "ERROR"),
        ('{"time": "t", "type": "platform.start", "record": {"requestId": "r"}}', "INFO"),
        ('{"time": "t", "type": "platform.initReport", "record": {"phase": "init"}}', "ERROR"),
    ],
)
def test_event_level(message: str, level: str) -> None:
    assert event_level(message) == level


def test_min_level_is_validated() -> None:
    with pytest.raises(ValueError, match="Invalid log level 'LOUD'"):
        log_events(invocation(TEXT_LOG), min_level="LOUD")


def test_printed_json_keeps_its_newline() -> None:
    emf_line = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "n": 1})
    raw = f"START RequestId: {RID} Version: $LATEST\n{emf_line}\n" + JSON_LOG.split("\n")[3]
    messages = [e.message for e in log_events(invocation(raw + "\n"))]
    assert messages[1] == emf_line + "\n"  # printed: a stdout line
    assert messages[2].startswith('{"timestamp"') and messages[2].endswith("}")  # the runtime's


def test_empty_and_unterminated_logs() -> None:
    assert log_events(invocation("")) == []
    events = log_events(invocation(f"START RequestId: {RID} Version: $LATEST\npartial"))
    assert [e.message for e in events] == [f"START RequestId: {RID} Version: $LATEST\n", "partial"]
    # a print of "\r" inside a line is one event too, its break shown as CloudWatch shows it
    events = log_events(invocation("a\rb\n"))
    assert events == [LogEvent(events[0].timestamp, "a\nb\n")]
    assert STARTED_MS <= events[0].timestamp <= FINISHED_MS


def test_real_invocation_log(tmp_path: Any) -> None:
    from kernel_runtime import LambdaRuntime

    source = (
        "import logging\n"
        "print('cold init')\n"
        "def handler(event, context):\n"
        "    print('handling', event['n'])\n"
        "    logging.getLogger().error('about to fail')\n"
        "    raise KeyError('missing')\n"
    )
    with LambdaRuntime(endpoint=False, home=tmp_path / "home") as runtime:
        function = runtime.create_function("fails", "app.handler", {"app.py": source})
        inv = function.invoke({"n": 7})
    events = log_events(inv)
    messages = [e.message for e in events]
    assert messages[0].startswith("INIT_START Runtime Version: ")
    assert messages[1] == "cold init\n"
    assert messages[2] == f"START RequestId: {inv.request_id} Version: $LATEST\n"
    assert messages[3] == "handling 7\n"
    assert messages[4].startswith("[ERROR]\t") and messages[4].endswith("\tabout to fail\n")
    traceback = messages[5]
    assert traceback.startswith("[ERROR] KeyError: 'missing'\nTraceback (most recent call last):\n")
    assert "raise KeyError('missing')" in traceback
    assert messages[6] == f"END RequestId: {inv.request_id}\n"
    assert messages[7].startswith(f"REPORT RequestId: {inv.request_id}\tDuration: ")
    assert len(messages) == 8
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    assert times[2] == round(inv.started_at * 1000)
    assert times[-1] == round(inv.finished_at * 1000)
    assert times[0] == times[2] - round(inv.init_duration_ms or 0)
    # the two error records; a function error's REPORT has no Status (on AWS neither)
    assert [event_level(m) for m in messages].count("ERROR") == 2


# -- Embedded Metric Format -------------------------------------------------------------------
def powertools_document() -> str:
    metrics_module = pytest.importorskip("aws_lambda_powertools.metrics")
    metrics = metrics_module.Metrics(namespace="Shop", service="orders")
    metrics.add_dimension(name="env", value="dev")
    metrics.add_metric(name="Orders", unit=metrics_module.MetricUnit.Count, value=1)
    metrics.add_metric(name="Orders", unit=metrics_module.MetricUnit.Count, value=2)
    metrics.add_metric(
        name="Latency",
        unit=metrics_module.MetricUnit.Milliseconds,
        value=12.5,
        resolution=metrics_module.MetricResolution.High,
    )
    metrics.add_metadata(key="orderId", value="o-17")
    document = metrics.serialize_metric_set()
    metrics.clear_metrics()
    return json.dumps(document)


def test_emf_from_powertools() -> None:
    text = powertools_document()
    stamp = json.loads(text)["_aws"]["Timestamp"] / 1000
    points = emf_metrics(text)
    dims = {"env": "dev", "service": "orders"}
    assert points == [
        MetricPoint("Shop", "Orders", dims, stamp, 1.0, "Count", 60),
        MetricPoint("Shop", "Orders", dims, stamp, 2.0, "Count", 60),
        MetricPoint("Shop", "Latency", dims, stamp, 12.5, "Milliseconds", 1),
    ]


def emf(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1_764_272_348_528,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"], ["service", "region"]],
                    "Metrics": [{"Name": "Sold", "Unit": "Count"}, {"Name": "Size"}],
                }
            ],
        },
        "service": "orders",
        "region": "eu-west-1",
        "Sold": 3,
        "Size": [10, 20.5],
    }
    doc.update(overrides)
    return doc


def test_emf_dimension_sets_arrays_and_defaults() -> None:
    points = emf_metrics(json.dumps(emf()))
    assert [(p.name, p.dimensions, p.value, p.unit) for p in points] == [
        ("Sold", {"service": "orders"}, 3.0, "Count"),
        ("Sold", {"service": "orders", "region": "eu-west-1"}, 3.0, "Count"),
        ("Size", {"service": "orders"}, 10.0, "None"),  # no Unit: None
        ("Size", {"service": "orders"}, 20.5, "None"),
        ("Size", {"service": "orders", "region": "eu-west-1"}, 10.0, "None"),
        ("Size", {"service": "orders", "region": "eu-west-1"}, 20.5, "None"),
    ]
    assert {p.timestamp for p in points} == {1_764_272_348.528}
    assert {p.storage_resolution for p in points} == {60}


def test_emf_metric_without_a_value_is_skipped_alone() -> None:
    doc = emf(Sold="three")
    del doc["Size"]
    assert emf_metrics(json.dumps(doc)) == []
    doc = emf()
    del doc["Sold"]
    assert {p.name for p in emf_metrics(json.dumps(doc))} == {"Size"}


def _with_directive(**changes: Any) -> str:
    doc = emf()
    doc["_aws"]["CloudWatchMetrics"][0].update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "message",
    [
        "not json at all",
        '{"no": "_aws key"}',
        json.dumps({"_aws": "x", "Sold": 1}),
        json.dumps(emf(_aws={"CloudWatchMetrics": []})),  # no Timestamp
        json.dumps(emf(_aws={"Timestamp": "now", "CloudWatchMetrics": []})),
        _with_directive(Namespace=""),
        _with_directive(Metrics=[{"Name": "Sold", "Unit": "Parsecs"}]),
        _with_directive(Metrics=[{"Name": "Sold", "StorageResolution": 30}]),
        _with_directive(Metrics=[{"Unit": "Count"}]),
        _with_directive(Dimensions=[["missing"]]),
        _with_directive(Dimensions="service"),
        json.dumps(emf(service=7)),  # a dimension value must be a string
        json.dumps([emf()]),
    ],
)
def test_invalid_emf_documents_yield_nothing(message: str) -> None:
    assert emf_metrics(message) == []


# -- filter patterns --------------------------------------------------------------------------
ERROR_LINE = "[ERROR 400] BAD REQUEST order=17\n"
JSON_EVENT = json.dumps(
    {
        "level": "ERROR",
        "latency": 250,
        "user": {"id": 1, "name": "Ana Lima", "admin": True},
        "tags": ["a", "b"],
        "note": None,
        "eventType": "UpdateTrail",
    }
)
APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 503 1534\n'


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", ERROR_LINE, True),
        ('""', "anything\n", True),
        ("ERROR", ERROR_LINE, True),
        ("error", ERROR_LINE, False),  # case-sensitive
        ("ERROR BAD", ERROR_LINE, True),
        ("ERROR GOOD", ERROR_LINE, False),
        ('"BAD REQUEST"', ERROR_LINE, True),
        ('"REQUEST BAD"', ERROR_LINE, False),
        ("?WARN ?ERROR", ERROR_LINE, True),
        ("?WARN ?INFO", ERROR_LINE, False),
        ("ERROR -BAD", ERROR_LINE, False),
        ("ERROR -GOOD", ERROR_LINE, True),
        ('-"BAD REQUEST"', ERROR_LINE, False),
        ("order=17", ERROR_LINE, True),
        ("%ERROR [0-9]+%", ERROR_LINE, True),
        ("%^BAD%", ERROR_LINE, False),
        ('{ $.level = "ERROR" }', JSON_EVENT, True),
        ('{ $.level = "INFO" }', JSON_EVENT, False),
        ("{ $.level = ERR* }", JSON_EVENT, True),
        ('{ $.level != "INFO" }', JSON_EVENT, True),
        ("{ $.latency > 100 }", JSON_EVENT, True),
        ("{ $.latency >= 250 }", JSON_EVENT, True),
        ("{ $.latency < 250 }", JSON_EVENT, False),
        ("{ $.latency = 250 }", JSON_EVENT, True),
        ("{ $.user.id = 1 }", JSON_EVENT, True),
        ('{ $.user.name = "Ana*" }', JSON_EVENT, True),
        ('{ $.tags[1] = "b" }', JSON_EVENT, True),
        ('{ $.tags[5] = "b" }', JSON_EVENT, False),
        ("{ $.user.admin IS TRUE }", JSON_EVENT, True),
        ("{ $.user.admin IS FALSE }", JSON_EVENT, False),
        ("{ $.note IS NULL }", JSON_EVENT, True),
        ("{ $.absent NOT EXISTS }", JSON_EVENT, True),
        ("{ $.level NOT EXISTS }", JSON_EVENT, False),
        ('{ $.absent != "x" }', JSON_EVENT, False),  # a missing field matches nothing
        ('{ $.level = "ERROR" && $.latency > 1000 }', JSON_EVENT, False),
        ('{ $.level = "ERROR" || $.latency > 1000 }', JSON_EVENT, True),
        ('{ ($.level = "INFO" || $.latency > 100) && $.user.id = 1 }', JSON_EVENT, True),
        ('{ ($.level = "INFO" || $.latency > 300) && $.user.id = 1 }', JSON_EVENT, False),
        ("{ $.eventType = %Update% }", JSON_EVENT, True),
        ('{ $.level = "ERROR" }', ERROR_LINE, False),  # not JSON: JSON patterns match nothing
        ("[ip, user, username, timestamp, request, status, bytes]", APACHE, True),
        ("[ip, user, username, timestamp, request, status]", APACHE, False),  # field count
        ("[ip, ..., status=5*, bytes]", APACHE, True),
        ("[ip, ..., status=4*, bytes]", APACHE, False),
        ("[ip, ..., status=4* || status=5*, bytes]", APACHE, True),
        ("[..., status>=500, bytes<2000]", APACHE, True),
        ("[..., status>=500, bytes>2000]", APACHE, False),
        ('[ip, user, username, timestamp, request="GET *gif*", ...]', APACHE, True),
        ('[ip=127.0.0.1, user!="-", ...]', APACHE, False),
        ("[ip=%^127%, ...]", APACHE, True),
    ],
)
def test_filter_pattern(pattern: str, message: str, expected: bool) -> None:
    assert FilterPattern.parse(pattern).matches(message) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        '"unterminated',
        "{ $.level = ",
        '{ $.level = "ERROR" ',
        '{ level = "ERROR" }',
        '{ $.level ~ "ERROR" }',
        '{ $.latency > "high" }',
        "{ ($.a = 1 }",
        "{ $.a = 1 } trailing",
        "[ip, user",
        "[ip, , user]",
        "[ip, status >]",
        "%(group)%",
        "%[unclosed%",
    ],
)
def test_invalid_filter_patterns(pattern: str) -> None:
    with pytest.raises(InvalidFilterPattern) as caught:
        FilterPattern.parse(pattern)
    assert str(caught.value) == "Invalid filter pattern"
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "InvalidParameterException"
