"""Asynchronous invocation: retries on the platform clock, event age, destinations, DLQ, accounting.

Timing tests use the platform's ManualClock: time moves only when the test advances it to the next
pending retry, so "attempts at 0, 60 and 180 s" is checked exactly and without waiting. One test
runs the same retries on the live PlatformClock at 2000x.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import uuid
from collections import Counter
from typing import Any

import pytest

from kernel_runtime.clock import ManualClock, PlatformClock
from kernel_runtime.errors import InvalidParameterValueException, RequestTooLargeException
from kernel_runtime.service._async import (
    ASYNC_PAYLOAD_LIMIT,
    AsyncEvent,
    AsyncInvoker,
    AttemptResult,
    EventInvokeConfig,
)
from kernel_runtime.service._destinations import Boto3Deliverer, parse_destination_arn

ACCOUNT = "123456789012"
REGION = "us-east-1"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders"
ON_FAILURE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:on-failure"
ON_SUCCESS = f"arn:aws:sqs:{REGION}:{ACCOUNT}:on-success"
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
EPOCH = 1_700_000_000.0  # 2023-11-14T22:13:20Z


# ---------------------------------------------------------------------------- fakes


class RecordingDeliverer:
    """Keeps every message; fails for targets listed in ``failing`` (or at random)."""

    def __init__(self, failing: tuple[str, ...] = (), fail_rate: float = 0.0) -> None:
        self.sent: list[tuple[str, bytes, dict | None, str]] = []
        self.failing = failing
        self.fail_rate = fail_rate
        self._lock = threading.Lock()
        self._rng = random.Random(7)

    def deliver(self, target_arn: str, body: bytes, attributes: dict | None, *, kind: str) -> None:
        with self._lock:
            if target_arn in self.failing or self._rng.random() < self.fail_rate:
                raise ConnectionError(f"cannot reach {target_arn}")
            self.sent.append((target_arn, body, attributes, kind))

    def records(self, target: str) -> list[dict]:
        return [json.loads(b) for t, b, _, _ in self.sent if t == target]


class Harness:
    """An AsyncInvoker wired to a manual clock, a recording deliverer, metric and log sinks."""

    def __init__(self, run: Any, *, clock: Any = None, deliverer: Any = None, workers: int = 2):
        self.clock = clock or ManualClock(epoch=EPOCH)
        self.deliverer = deliverer or RecordingDeliverer()
        self.metrics: list[tuple[str, str, float]] = []
        self.logs: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.inv = AsyncInvoker(
            self.clock,
            run,
            self.deliverer,
            workers=workers,
            on_metric=self._metric,
            on_log=lambda fn, line: self.logs.append((fn, line)),
        )

    def _metric(self, name: str, fn: str, value: float) -> None:
        with self._lock:
            self.metrics.append((name, fn, value))

    def metric(self, name: str) -> list[float]:
        with self._lock:
            return [v for n, _, v in self.metrics if n == name]

    def submit(self, payload: bytes = b'{"order": 42}', **config: Any) -> str:
        dlq = config.pop("dead_letter_arn", None)
        return self.inv.submit(
            "orders",
            "$LATEST",
            payload,
            function_arn=FN_ARN,
            config=EventInvokeConfig(**config),
            dead_letter_arn=dlq,
        )

    def drain(self, max_steps: int = 100_000) -> None:
        """Run until nothing is pending: settle, then jump to the next retry, repeat."""
        for _ in range(max_steps):
            assert self.inv.wait_idle(30, scheduled=False)
            due = self.inv.next_due()
            if due is None:
                assert self.inv.wait_idle(30)
                return
            self.clock.advance(max(0.0, due - self.clock.monotonic()))
        raise AssertionError("did not drain")

    def close(self) -> None:
        self.inv.close()


def fixed(outcome: str, status: int = 200, payload: bytes = b"", function_error: str | None = None):
    return AttemptResult(outcome, status, payload, function_error, "$LATEST")  # type: ignore[arg-type]


UNHANDLED = fixed(
    "function_error",
    200,
    b'{"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}',
    "Unhandled",
)
THROTTLED = fixed("throttle", 429, b'{"message": "Rate Exceeded."}')


class Script:
    """A run() that returns the scripted results in order (the last one repeats) and records
    the platform time of each attempt."""

    def __init__(self, clock: Any, *results: AttemptResult) -> None:
        self.clock = clock
        self.results = list(results)
        self.times: list[float] = []
        self.attempts: list[int] = []

    def __call__(self, event: AsyncEvent) -> AttemptResult:
        self.times.append(self.clock.monotonic())
        self.attempts.append(event.attempt)
        n = len(self.times) - 1
        return self.results[min(n, len(self.results) - 1)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(epoch=EPOCH)


def harness_for(clock: Any, *results: AttemptResult, **kw: Any) -> tuple[Harness, Script]:
    script = Script(clock, *results)
    return Harness(script, clock=clock, **kw), script


# ---------------------------------------------------------------------------- configuration


def test_event_invoke_config_defaults_and_ranges() -> None:
    cfg = EventInvokeConfig()
    assert (cfg.maximum_retry_attempts, cfg.maximum_event_age_s) == (2, 21600)
    with pytest.raises(InvalidParameterValueException) as exc:
        EventInvokeConfig(maximum_retry_attempts=3)
    assert exc.value.message == (
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
        "constraint: Member must have value less than or equal to 2"
    )
    with pytest.raises(InvalidParameterValueException, match="greater than or equal to 60"):
        EventInvokeConfig(maximum_event_age_s=59)
    with pytest.raises(InvalidParameterValueException, match="less than or equal to 21600"):
        EventInvokeConfig(maximum_event_age_s=21601)
    with pytest.raises(InvalidParameterValueException, match="integer"):
        EventInvokeConfig(maximum_retry_attempts=True)
    with pytest.raises(InvalidParameterValueException, match="on-failure"):
        EventInvokeConfig(on_success="arn:aws:s3:::bucket")
    with pytest.raises(InvalidParameterValueException, match="FIFO"):
        EventInvokeConfig(on_failure=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo")
    with pytest.raises(InvalidParameterValueException, match="invalid"):
        EventInvokeConfig(on_failure="not-an-arn")
    EventInvokeConfig(maximum_retry_attempts=0, maximum_event_age_s=60, on_failure=ON_FAILURE)


def test_event_invoke_config_api_round_trip() -> None:
    body = {
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": ON_FAILURE}, "OnSuccess": {}},
    }
    cfg = EventInvokeConfig.from_api(body)
    assert cfg == EventInvokeConfig(1, 3600, None, ON_FAILURE)
    assert EventInvokeConfig.from_api(cfg.to_api()) == cfg


def test_parse_destination_arn() -> None:
    dest = parse_destination_arn(DLQ)
    assert (dest.service, dest.region, dest.account, dest.resource) == (
        "sqs",
        REGION,
        ACCOUNT,
        "dlq",
    )
    with pytest.raises(ValueError):
        parse_destination_arn("arn:aws:sqs")


# ---------------------------------------------------------------------------- submit


def test_submit_returns_at_once_and_enforces_1_mb(clock: ManualClock) -> None:
    gate = threading.Event()

    def run(event: AsyncEvent) -> AttemptResult:
        gate.wait(10)
        return fixed("success", 200, b"null")

    h = Harness(run, clock=clock)
    try:
        rid = h.submit(b'"' + b"x" * (ASYNC_PAYLOAD_LIMIT - 2) + b'"')  # exactly 1 MB: accepted
        assert len(rid) == 36 and h.inv.outcome(rid) is None  # returned before the run finished
        with pytest.raises(RequestTooLargeException) as exc:
            h.submit(b"x" * (ASYNC_PAYLOAD_LIMIT + 1))
        assert exc.value.message == (
            "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"
        )
        assert exc.value.status == 413
        gate.set()
        h.drain()
        assert h.inv.stats()["received"] == 1  # the rejected one was never accepted
        assert h.inv.outcome(rid).state == "succeeded"
        with pytest.raises(ValueError, match="already in use"):
            h.inv.submit(
                "orders",
                "$LATEST",
                b"{}",
                function_arn=FN_ARN,
                config=EventInvokeConfig(),
                dead_letter_arn=None,
                request_id=rid,
            )
    finally:
        gate.set()
        h.close()


# ---------------------------------------------------------------------------- retries


def test_function_error_retries_at_0_60_180_then_on_failure_record(clock: ManualClock) -> None:
    h, script = harness_for(clock, UNHANDLED)
    try:
        rid = h.submit(on_failure=ON_FAILURE)
        assert h.inv.wait_idle(10, scheduled=False)
        assert script.times == [0.0]
        assert h.inv.next_due() == 60.0
        clock.advance(59.5)  # not yet
        assert h.inv.wait_idle(10, scheduled=False)
        assert script.times == [0.0]
        h.drain()
        assert script.times == [0.0, 60.0, 180.0]
        assert script.attempts == [1, 2, 3]

        records = h.deliverer.records(ON_FAILURE)
        assert records == [
            {
                "version": "1.0",
                "timestamp": "2023-11-14T22:16:20.000Z",  # EPOCH + 180 s
                "requestContext": {
                    "requestId": rid,
                    "functionArn": f"{FN_ARN}:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3,
                },
                "requestPayload": {"order": 42},
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": {
                    "errorMessage": "boom",
                    "errorType": "ValueError",
                    "stackTrace": [],
                },
            }
        ]
        assert list(json.loads(h.deliverer.sent[0][1])) == [
            "version",
            "timestamp",
            "requestContext",
            "requestPayload",
            "responseContext",
            "responsePayload",
        ]
        assert h.deliverer.sent[0][2:] == (None, "destination")
        out = h.inv.outcome(rid)
        assert (out.state, out.reason, out.condition, out.attempts) == (
            "delivered_on_failure",
            None,
            "RetriesExhausted",
            3,
        )
        assert h.metric("AsyncEventsReceived") == [1.0]
        assert h.metric("AsyncEventAge") == [0.0, 60_000.0, 180_000.0]
        assert h.metric("AsyncEventsDropped") == [1.0]  # AWS counts it though it was retained
        assert h.logs == []
    finally:
        h.close()


def test_retries_on_the_live_platform_clock_sped_up() -> None:
    """The same 0/60/180 s schedule on the real clock at 1000x: about 0.2 s of wall time."""
    with PlatformClock(speed=1000) as live:
        h, script = harness_for(live, UNHANDLED)
        try:
            start = live.monotonic()
            rid = h.submit(on_failure=ON_FAILURE)
            assert h.inv.wait_idle(30)
            times = [t - start for t in script.times]
            assert len(times) == 3
            for got, want in zip(times, (0.0, 60.0, 180.0), strict=True):
                assert want <= got < want + 50  # platform seconds: 50 s = 50 ms of wall time
            assert h.inv.outcome(rid).state == "delivered_on_failure"
        finally:
            h.close()


def test_maximum_retry_attempts_zero_and_one(clock: ManualClock) -> None:
    h, script = harness_for(clock, UNHANDLED)
    try:
        rid0 = h.submit(maximum_retry_attempts=0, on_failure=ON_FAILURE)
        h.drain()
        assert script.times == [0.0]
        rec = h.deliverer.records(ON_FAILURE)[0]["requestContext"]
        assert (rec["requestId"], rec["approximateInvokeCount"]) == (rid0, 1)

        script.times.clear()
        h.submit(maximum_retry_attempts=1, on_failure=ON_FAILURE)
        h.drain()
        assert script.times == [0.0, 60.0]  # relative to the clock, which stood at 0
    finally:
        h.close()


def test_dead_letter_queue_message_and_attributes(clock: ManualClock) -> None:
    long_message = "é" * 1500  # 3,000 UTF-8 bytes: cut to 1 KB on a character boundary
    error = json.dumps({"errorMessage": long_message, "errorType": "E"}).encode()
    h, _ = harness_for(clock, fixed("function_error", 200, error, "Unhandled"))
    try:
        payload = b'{"order": 7, "note": "original bytes"}'
        rid = h.submit(payload, dead_letter_arn=DLQ)
        h.drain()
        [(target, body, attrs, kind)] = h.deliverer.sent
        assert (target, body, kind) == (DLQ, payload, "dlq")
        assert attrs["RequestID"] == {"DataType": "String", "StringValue": rid}
        assert attrs["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
        assert attrs["ErrorMessage"]["DataType"] == "String"
        assert attrs["ErrorMessage"]["StringValue"] == "é" * 512
        assert h.inv.outcome(rid).state == "dead_lettered"
    finally:
        h.close()


def test_on_failure_destination_wins_over_dlq(clock: ManualClock) -> None:
    h, _ = harness_for(clock, UNHANDLED)
    try:
        rid = h.submit(maximum_retry_attempts=0, on_failure=ON_FAILURE, dead_letter_arn=DLQ)
        h.drain()
        assert [t for t, *_ in h.deliverer.sent] == [ON_FAILURE]
        assert h.inv.outcome(rid).state == "delivered_on_failure"
    finally:
        h.close()


def test_throttle_backoff_until_event_age_exceeded(clock: ManualClock) -> None:
    h, script = harness_for(clock, THROTTLED)
    try:
        rid = h.submit(maximum_event_age_s=60, on_failure=ON_FAILURE)
        h.drain()
        # 1 s, doubling; the next wait (32 s, to t=63) passes the 60 s age: expires at 60.
        assert script.times == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
        [record] = h.deliverer.records(ON_FAILURE)
        assert record["timestamp"] == "2023-11-14T22:14:20.000Z"  # EPOCH + 60 s
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 6
        assert record["responseContext"] == {"statusCode": 429, "executedVersion": "$LATEST"}
        assert record["responsePayload"] == {"message": "Rate Exceeded."}
        out = h.inv.outcome(rid)
        assert (out.state, out.condition) == ("delivered_on_failure", "EventAgeExceeded")
    finally:
        h.close()


def test_backoff_caps_at_five_minutes_and_does_not_use_up_retries(clock: ManualClock) -> None:
    results = [THROTTLED] * 11 + [fixed("error", 502, b"{}")] + [fixed("success", 200, b'"ok"')]
    h, script = harness_for(clock, *results)
    try:
        rid = h.submit(maximum_retry_attempts=0, on_success=ON_SUCCESS)
        h.drain()
        gaps = [b - a for a, b in itertools.pairwise(script.times)]
        assert gaps == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
        assert h.inv.outcome(rid).state == "succeeded"
        record = h.deliverer.records(ON_SUCCESS)[0]
        assert record["requestContext"]["approximateInvokeCount"] == 13
    finally:
        h.close()


def test_function_error_retry_expires_with_event_age(clock: ManualClock) -> None:
    h, script = harness_for(clock, UNHANDLED)
    try:
        rid = h.submit(maximum_event_age_s=100, dead_letter_arn=DLQ)
        h.drain()
        assert script.times == [0.0, 60.0]  # the third attempt (t=180) is past the age
        out = h.inv.outcome(rid)
        assert (out.state, out.condition, out.attempts) == ("dead_lettered", "EventAgeExceeded", 2)
        assert out.finished_at == EPOCH + 100
    finally:
        h.close()


def test_run_raising_is_a_platform_error_retried_with_backoff(clock: ManualClock) -> None:
    calls: list[float] = []

    def run(event: AsyncEvent) -> AttemptResult:
        calls.append(clock.monotonic())
        if len(calls) < 3:
            raise RuntimeError("environment vanished")
        return fixed("success", 200, b"{}")

    h = Harness(run, clock=clock)
    try:
        rid = h.submit()
        h.drain()
        assert calls == [0.0, 1.0, 3.0]
        assert h.inv.outcome(rid).state == "succeeded"
    finally:
        h.close()


def test_not_retryable_throttle_fails_at_once(clock: ManualClock) -> None:
    zero = AttemptResult("throttle", 429, b"{}", None, "$LATEST", retryable=False)
    h, script = harness_for(clock, zero)
    try:
        rid = h.submit(dead_letter_arn=DLQ)
        h.drain()
        assert script.times == [0.0]
        assert h.deliverer.sent[0][2]["ErrorCode"]["StringValue"] == "429"
        assert h.inv.outcome(rid).state == "dead_lettered"
    finally:
        h.close()


# ---------------------------------------------------------------------------- success, drops


def test_success_destination_record(clock: ManualClock) -> None:
    h, _ = harness_for(clock, fixed("success", 200, b'{"status": "shipped"}'))
    try:
        rid = h.submit(on_success=ON_SUCCESS, on_failure=ON_FAILURE)
        h.drain()
        assert h.deliverer.records(ON_SUCCESS) == [
            {
                "version": "1.0",
                "timestamp": "2023-11-14T22:13:20.000Z",
                "requestContext": {
                    "requestId": rid,
                    "functionArn": f"{FN_ARN}:$LATEST",
                    "condition": "Success",
                    "approximateInvokeCount": 1,
                },
                "requestPayload": {"order": 42},
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
                "responsePayload": {"status": "shipped"},
            }
        ]
        assert h.deliverer.records(ON_FAILURE) == []
        assert h.inv.outcome(rid).state == "succeeded"
        assert h.metric("AsyncEventsDropped") == []
    finally:
        h.close()


def test_non_json_payloads_appear_as_strings(clock: ManualClock) -> None:
    h, _ = harness_for(clock, fixed("success", 200, b"plain text"))
    try:
        h.submit(b"not json", on_success=ON_SUCCESS)
        h.drain()
        record = h.deliverer.records(ON_SUCCESS)[0]
        assert (record["requestPayload"], record["responsePayload"]) == ("not json", "plain text")
    finally:
        h.close()


def test_nowhere_to_go_is_dropped_with_metric_and_log(clock: ManualClock) -> None:
    h, _ = harness_for(clock, UNHANDLED)
    try:
        rid = h.submit(maximum_retry_attempts=0)
        h.drain()
        out = h.inv.outcome(rid)
        assert (out.state, out.reason) == ("dropped", "RetriesExhausted")
        assert h.metric("AsyncEventsDropped") == [1.0]
        assert len(h.logs) == 1 and rid in h.logs[0][1] and "RetriesExhausted" in h.logs[0][1]
        assert h.inv.stats()["dropped_reasons"] == {"RetriesExhausted": 1}
    finally:
        h.close()


def test_delivery_failures_are_counted_and_dropped(clock: ManualClock) -> None:
    bad_dest = f"arn:aws:sns:{REGION}:{ACCOUNT}:gone"
    deliverer = RecordingDeliverer(failing=(bad_dest, DLQ))
    h = Harness(Script(clock, UNHANDLED), clock=clock, deliverer=deliverer)
    try:
        a = h.submit(maximum_retry_attempts=0, on_failure=bad_dest)
        b = h.submit(maximum_retry_attempts=0, dead_letter_arn=DLQ)
        h.drain()
        assert h.inv.outcome(a)[:2] == ("dropped", "DestinationDeliveryFailed")
        assert h.inv.outcome(b)[:2] == ("dropped", "DeadLetterDeliveryFailed")
        assert h.metric("DestinationDeliveryFailures") == [1.0]
        assert h.metric("DeadLetterErrors") == [1.0]
        text = "\n".join(line for _, line in h.logs)
        assert a in text and b in text and "ConnectionError" in text
    finally:
        h.close()

    # on-success delivery failure: the function ran, the record is lost, and that is reported
    h = Harness(
        Script(clock, fixed("success", 200, b"{}")),
        clock=clock,
        deliverer=RecordingDeliverer(failing=(ON_SUCCESS,)),
    )
    try:
        rid = h.submit(on_success=ON_SUCCESS)
        h.drain()
        out = h.inv.outcome(rid)
        assert (out.state, out.reason, out.condition) == (
            "dropped",
            "DestinationDeliveryFailed",
            "Success",
        )
        assert h.metric("DestinationDeliveryFailures") == [1.0]
        assert h.metric("AsyncEventsDropped") == []  # it was executed successfully
    finally:
        h.close()


def test_close_drops_queued_and_scheduled_events_as_shutdown(clock: ManualClock) -> None:
    started, release = threading.Event(), threading.Event()

    def run(event: AsyncEvent) -> AttemptResult:
        if event.payload == b'"block"':
            started.set()
            release.wait(10)
            return fixed("success", 200, b"{}")
        return UNHANDLED

    h = Harness(run, clock=clock, workers=1)
    failing = h.submit(b'"fail"')
    assert h.inv.wait_idle(10, scheduled=False)
    assert h.inv.stats()["scheduled"] == 1
    running = h.submit(b'"block"')
    assert started.wait(10)
    queued = [h.submit(b'"later"') for _ in range(2)]
    closer = threading.Thread(target=h.inv.close)
    closer.start()
    for rid in [failing, *queued]:
        for _ in range(1000):
            if h.inv.outcome(rid) is not None:
                break
            threading.Event().wait(0.01)
    release.set()
    closer.join(10)
    outcomes = h.inv.outcomes()
    assert outcomes[running].state == "succeeded"
    for rid in [failing, *queued]:
        assert outcomes[rid][:3] == ("dropped", "Shutdown", None)
    stats = h.inv.stats()
    assert stats["received"] == 4 and stats["pending"] == 0
    assert h.metric("AsyncEventsDropped") == [1.0, 1.0, 1.0]
    with pytest.raises(Exception, match="closed"):
        h.submit()


# ---------------------------------------------------------------------------- accounting


def test_accounting_under_load(clock: ManualClock) -> None:
    """1,000 events, random outcomes per attempt (including run() itself raising), random
    configurations and flaky delivery: every event ends in exactly one terminal state."""

    def run(event: AsyncEvent) -> AttemptResult:
        rng = random.Random(f"{event.request_id}:{event.attempt}")
        roll = rng.random()
        if roll < 0.35:
            return fixed("success", 200, b'{"ok": true}')
        if roll < 0.60:
            return UNHANDLED
        if roll < 0.75:
            return THROTTLED
        if roll < 0.85:
            return fixed("error", 500, b'{"message": "ServiceException"}')
        raise RuntimeError("crash inside run")

    deliverer = RecordingDeliverer(fail_rate=0.1)
    h = Harness(run, clock=clock, deliverer=deliverer, workers=8)
    rng = random.Random(1)
    submitted: list[str] = []
    try:
        for i in range(1000):
            cfg: dict[str, Any] = {
                "maximum_retry_attempts": rng.randint(0, 2),
                "maximum_event_age_s": rng.choice((60, 300, 3600, 21600)),
            }
            if rng.random() < 0.4:
                cfg["on_failure"] = ON_FAILURE
            if rng.random() < 0.4:
                cfg["dead_letter_arn"] = DLQ
            if rng.random() < 0.5:
                cfg["on_success"] = ON_SUCCESS
            submitted.append(h.submit(json.dumps({"i": i}).encode(), **cfg))
            if i % 100 == 0:
                clock.advance(0.5)  # arrivals spread over time, retries interleave
        h.drain()

        outcomes = h.inv.outcomes()
        assert sorted(outcomes) == sorted(submitted)
        assert len(set(submitted)) == 1000
        stats = h.inv.stats()
        terminal = ("succeeded", "delivered_on_failure", "dead_lettered", "dropped")
        assert sum(stats[s] for s in terminal) == stats["received"] == 1000
        assert stats["pending"] == stats["queued"] == stats["scheduled"] == stats["in_flight"] == 0
        assert Counter(o.state for o in outcomes.values()) == {
            s: stats[s] for s in terminal if stats[s]
        }
        assert sum(stats["dropped_reasons"].values()) == stats["dropped"]
        assert all(stats[s] > 0 for s in terminal)

        # every delivery matches one terminal state, and no request was delivered twice
        delivered: Counter[str] = Counter()
        expected = {
            ON_SUCCESS: "succeeded",
            ON_FAILURE: "delivered_on_failure",
            DLQ: "dead_lettered",
        }
        for target, body, attrs, kind in deliverer.sent:
            rid = attrs["RequestID"]["StringValue"] if kind == "dlq" else None
            rid = rid or json.loads(body)["requestContext"]["requestId"]
            delivered[rid] += 1
            state = outcomes[rid].state
            assert state == expected[target]
        assert max(delivered.values()) == 1
        assert h.metric("AsyncEventsReceived") == [1.0] * 1000
        failed = sum(1 for o in outcomes.values() if o.condition != "Success")
        assert len(h.metric("AsyncEventsDropped")) == failed
        assert len(h.logs) == stats["dropped"] + stats["delivery_failures"]
    finally:
        h.close()


# ---------------------------------------------------------------------------- boto3 / moto


def test_lambda_destination_goes_through_the_callable() -> None:
    calls: list[tuple[str, bytes]] = []
    deliverer = Boto3Deliverer(
        "http://127.0.0.1:9", invoke_lambda=lambda arn, body: calls.append((arn, body))
    )
    target = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:audit"
    deliverer.deliver(target, b'{"version": "1.0"}', None, kind="destination")
    assert calls == [(target, b'{"version": "1.0"}')]
    with pytest.raises(Exception, match="SQS or SNS"):
        deliverer.deliver(target, b"{}", None, kind="dlq")


@pytest.fixture(scope="module")
def moto_endpoint():
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def aws(moto_endpoint: str):
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return {
        name: session.client(name, endpoint_url=moto_endpoint) for name in ("sqs", "sns", "events")
    }


def _queue(aws: dict, name: str) -> tuple[str, str]:
    """A fresh queue (moto's state is process-global: never reuse another test's queue)."""
    url = aws["sqs"].create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _receive(aws: dict, url: str) -> list[dict]:
    answer = aws["sqs"].receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2, MessageAttributeNames=["All"]
    )
    return answer.get("Messages", [])


def test_boto3_deliverer_dlq_and_on_failure_to_sqs(moto_endpoint: str, aws: dict) -> None:
    dlq_url, dlq_arn = _queue(aws, "it-dlq")
    dest_url, dest_arn = _queue(aws, "it-on-failure")
    clock = ManualClock(epoch=EPOCH)
    deliverer = Boto3Deliverer(moto_endpoint, REGION, {"aws_access_key_id": "testing"})
    h = Harness(Script(clock, UNHANDLED), clock=clock, deliverer=deliverer)
    try:
        to_dlq = h.submit(b'{"to": "dlq"}', maximum_retry_attempts=0, dead_letter_arn=dlq_arn)
        to_dest = h.submit(b'{"to": "dest"}', maximum_retry_attempts=1, on_failure=dest_arn)
        h.drain()
    finally:
        h.close()
    assert h.inv.outcome(to_dlq).state == "dead_lettered"
    assert h.inv.outcome(to_dest).state == "delivered_on_failure"

    [msg] = _receive(aws, dlq_url)
    assert msg["Body"] == '{"to": "dlq"}'
    assert msg["MessageAttributes"] == {
        "RequestID": {"StringValue": to_dlq, "DataType": "String"},
        "ErrorCode": {"StringValue": "200", "DataType": "Number"},
        "ErrorMessage": {"StringValue": "boom", "DataType": "String"},
    }
    [msg] = _receive(aws, dest_url)
    record = json.loads(msg["Body"])
    assert record["requestContext"] == {
        "requestId": to_dest,
        "functionArn": f"{FN_ARN}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 2,
    }
    assert record["requestPayload"] == {"to": "dest"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert "MessageAttributes" not in msg
    # the client for sqs was created once and reused
    assert list(deliverer._clients) == [("sqs", REGION)]


def test_boto3_deliverer_sns_to_sqs(moto_endpoint: str, aws: dict) -> None:
    url, queue_arn = _queue(aws, "it-sns-sub")
    topic_arn = aws["sns"].create_topic(Name=f"it-dlq-{uuid.uuid4().hex[:8]}")["TopicArn"]
    aws["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    deliverer = Boto3Deliverer(moto_endpoint, REGION)
    attrs = {
        "RequestID": {"DataType": "String", "StringValue": "r-1"},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
    }
    deliverer.deliver(topic_arn, b'{"original": true}', attrs, kind="dlq")
    [msg] = _receive(aws, url)
    envelope = json.loads(msg["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Message"] == '{"original": true}'
    assert envelope["MessageAttributes"] == {
        "RequestID": {"Type": "String", "Value": "r-1"},
        "ErrorCode": {"Type": "Number", "Value": "200"},
    }


def test_boto3_deliverer_eventbridge(moto_endpoint: str, aws: dict) -> None:
    url, queue_arn = _queue(aws, "it-events")
    bus = f"it-bus-{uuid.uuid4().hex[:8]}"
    bus_arn = aws["events"].create_event_bus(Name=bus)["EventBusArn"]
    aws["events"].put_rule(
        Name="lambda-results", EventBusName=bus, EventPattern='{"source": ["lambda"]}'
    )
    aws["events"].put_targets(
        Rule="lambda-results", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    deliverer = Boto3Deliverer(moto_endpoint, REGION)
    record = {
        "version": "1.0",
        "requestContext": {"requestId": "r-2", "functionArn": f"{FN_ARN}:$LATEST"},
    }
    record["requestContext"]["condition"] = "Success"
    deliverer.deliver(bus_arn, json.dumps(record).encode(), None, kind="destination")
    record["requestContext"]["condition"] = "RetriesExhausted"
    deliverer.deliver(bus_arn, json.dumps(record).encode(), None, kind="destination")
    events = [json.loads(m["Body"]) for m in _receive(aws, url)]
    if len(events) < 2:
        events += [json.loads(m["Body"]) for m in _receive(aws, url)]
    assert sorted(e["detail-type"] for e in events) == [
        "Lambda Function Invocation Result - Failure",
        "Lambda Function Invocation Result - Success",
    ]
    assert {e["source"] for e in events} == {"lambda"}
    assert all(e["resources"] == [f"{FN_ARN}:$LATEST"] for e in events)
    assert all(e["detail"]["requestContext"]["requestId"] == "r-2" for e in events)
