"""Lambda's internal event queue for ``InvocationType=Event``: retries, age, DLQ, destinations.

The caller gets its 202 as soon as the event is queued; worker threads run attempts; every
wait between attempts (1 and 2 min after function errors, 1 s … 5 min backoff after throttles
and 5xx) is a timer on the platform clock, so a notebook at 60x shows a two-minute retry in
two seconds and a test with a manual clock steps through it exactly.

Accounting: every accepted event ends in exactly one terminal state —

``succeeded``             the function succeeded (and the on-success record, if any, was sent)
``delivered_on_failure``  retries exhausted or event too old; the on-failure record was sent
``dead_lettered``         ... no on-failure destination; the event went to the dead-letter queue
``dropped``               with a reason: ``RetriesExhausted`` / ``EventAgeExceeded`` (nowhere
                          to send it), ``DestinationDeliveryFailed`` / ``DeadLetterDeliveryFailed``
                          (the send raised), ``Shutdown`` (still queued or waiting for a retry
                          when :meth:`AsyncInvoker.close` ran), ``InternalError`` (a bug here)

Nothing is lost silently: each drop is counted, logged and reported as ``AsyncEventsDropped``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple, Protocol

from .._ids import request_id as _new_request_id
from ..errors import InvalidParameterValueException, RequestTooLargeException, ServiceException
from ._destinations import Deliverer, parse_destination_arn

__all__ = [
    "ASYNC_PAYLOAD_LIMIT",
    "AsyncEvent",
    "AsyncInvoker",
    "AttemptResult",
    "Clock",
    "EventInvokeConfig",
    "Outcome",
    "Timer",
]

_log = logging.getLogger(__name__)

#: Async invoke payload limit: 1 MB since 24 Oct 2025 (256 KB before).
ASYNC_PAYLOAD_LIMIT = 1_048_576
#: Waits before the 2nd and 3rd attempt after a function error.
FUNCTION_ERROR_DELAYS_S = (60.0, 120.0)
#: Backoff after throttles and 5xx: 1 s, doubling, capped at 5 min.
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 300.0
#: The DLQ ``ErrorMessage`` attribute carries at most the first 1 KB of the message.
DLQ_ERROR_MESSAGE_BYTES = 1024

TERMINAL_STATES = ("succeeded", "delivered_on_failure", "dead_lettered", "dropped")
_DESTINATION_SERVICES = ("sqs", "sns", "lambda", "events", "s3")

AttemptOutcome = Literal["success", "function_error", "throttle", "error"]
Condition = Literal["Success", "RetriesExhausted", "EventAgeExceeded"]


class Timer(Protocol):
    """What the platform clock's ``call_at`` returns."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """The platform clock (kernel_runtime.clock): epoch and monotonic time, timers."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def call_at(self, when: float, fn: Callable[..., object], *args: Any) -> Timer: ...


# ---------------------------------------------------------------------------- configuration


def _range_error(value: object, member: str, constraint: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _check_int(value: object, member: str, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _range_error(value, member, "Member must be an integer")
    if value < low:
        raise _range_error(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _range_error(value, member, f"Member must have value less than or equal to {high}")


def _check_destination(arn: str | None, member: str, *, on_success: bool) -> None:
    if arn is None:
        return
    try:
        dest = parse_destination_arn(arn)
    except ValueError:
        dest = None
    if dest is None or dest.service not in _DESTINATION_SERVICES:
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is invalid. Destination must be an Amazon SQS queue, "
            "Amazon SNS topic, AWS Lambda function, Amazon EventBridge event bus or "
            "Amazon S3 bucket."
        )
    if on_success and dest.service == "s3":
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is invalid for {member}: Amazon S3 buckets are "
            "supported only as on-failure destinations."
        )
    if dest.service == "sqs" and dest.resource.endswith(".fifo"):
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is invalid: FIFO queues are not supported."
        )


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's (or version's, or alias's) asynchronous invocation configuration.

    Validated on construction with AWS's ranges and messages, so the queue never re-checks it.
    """

    maximum_retry_attempts: int = 2
    maximum_event_age_s: int = 21600
    on_success: str | None = None
    on_failure: str | None = None

    def __post_init__(self) -> None:
        _check_int(self.maximum_retry_attempts, "maximumRetryAttempts", 0, 2)
        _check_int(self.maximum_event_age_s, "maximumEventAgeInSeconds", 60, 21600)
        _check_destination(self.on_success, "onSuccess", on_success=True)
        _check_destination(self.on_failure, "onFailure", on_success=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> EventInvokeConfig:
        """From a PutFunctionEventInvokeConfig request body (absent keys take the defaults)."""
        dests = body.get("DestinationConfig") or {}
        return cls(
            maximum_retry_attempts=body.get("MaximumRetryAttempts", 2),
            maximum_event_age_s=body.get("MaximumEventAgeInSeconds", 21600),
            on_success=(dests.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(dests.get("OnFailure") or {}).get("Destination") or None,
        )

    def to_api(self) -> dict[str, Any]:
        """The API shape (``MaximumRetryAttempts``, ``DestinationConfig`` ...)."""
        return {
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": self.maximum_event_age_s,
            "DestinationConfig": {
                "OnSuccess": {"Destination": self.on_success} if self.on_success else {},
                "OnFailure": {"Destination": self.on_failure} if self.on_failure else {},
            },
        }


# ---------------------------------------------------------------------------- records


class AttemptResult(NamedTuple):
    """What one attempt to run the event produced, as the async queue needs to judge it.

    ``outcome``: ``"success"``; ``"function_error"`` (handler error, timeout, runtime exit:
    retried up to MaximumRetryAttempts); ``"throttle"`` (429) or ``"error"`` (5xx, platform
    failure): re-queued with backoff until the event is too old. ``retryable=False`` sends the
    event straight to failure handling (reserved concurrency 0 does that on AWS).
    """

    outcome: AttemptOutcome
    status_code: int
    payload: bytes
    function_error: str | None
    executed_version: str
    retryable: bool = True


class Outcome(NamedTuple):
    """The terminal state of one accepted event."""

    state: str  # one of TERMINAL_STATES
    reason: str | None  # why it was dropped; None otherwise
    condition: Condition | None  # None when dropped before any verdict (Shutdown)
    attempts: int  # approximateInvokeCount
    finished_at: float  # platform epoch seconds


class AsyncEvent:
    """One queued event. ``run`` reads it; only the queue writes it (one thread at a time)."""

    __slots__ = (
        "_backoff",
        "_function_errors",
        "attempt",
        "config",
        "dead_letter_arn",
        "enqueued_at",
        "function_arn",
        "function_name",
        "last_result",
        "payload",
        "qualifier",
        "received_at",
        "request_id",
        "trace_header",
    )

    def __init__(
        self,
        request_id: str,
        function_name: str,
        qualifier: str,
        payload: bytes,
        function_arn: str,
        config: EventInvokeConfig,
        dead_letter_arn: str | None,
        received_at: float,
        enqueued_at: float,
        trace_header: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.trace_header = trace_header  # the caller's: every attempt continues its trace
        self.function_name = function_name
        self.qualifier = qualifier
        self.payload = payload
        self.function_arn = function_arn
        self.config = config
        self.dead_letter_arn = dead_letter_arn
        self.received_at = received_at  # platform epoch s
        self.enqueued_at = enqueued_at  # platform monotonic s: event age counts from here
        self.attempt = 0  # attempts made so far; during run() the number of this attempt
        self.last_result: AttemptResult | None = None
        self._function_errors = 0
        self._backoff = 0

    def __repr__(self) -> str:
        name = f"{self.function_name}:{self.qualifier}"
        return f"AsyncEvent({self.request_id!r}, {name}, attempt={self.attempt})"


class _Scheduled:
    """A pending retry: identity marks which timer is current for the event."""

    __slots__ = ("due", "event", "timer")

    def __init__(self, event: AsyncEvent, due: float) -> None:
        self.event = event
        self.due = due
        self.timer: Timer | None = None


def _timestamp(epoch: float) -> str:
    """``2019-11-24T21:52:47.333Z``, the destination record's timestamp format."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _decode(payload: bytes) -> Any:
    """Decoded JSON, else the text (request/response payloads in a destination record)."""
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _qualified_arn(function_arn: str, qualifier: str) -> str:
    """``arn:...:function:name:qualifier`` (left alone when it already carries one)."""
    return function_arn if function_arn.count(":") >= 7 else f"{function_arn}:{qualifier}"


def _version_of(event: AsyncEvent) -> str:
    """Best guess at the executed version when run() gave none: the last one, else the qualifier."""
    if event.last_result is not None:
        return event.last_result.executed_version
    q = event.qualifier
    return q if q == "$LATEST" or q.isdigit() else "$LATEST"


def _error_message(result: AttemptResult | None, condition: Condition) -> str:
    """The DLQ ``ErrorMessage``: the function's errorMessage (or raw body), first 1 KB."""
    if result is None or not result.payload:
        text = "Event age exceeded" if condition == "EventAgeExceeded" else condition
    else:
        body = _decode(result.payload)
        if isinstance(body, dict) and "errorMessage" in body:
            text = str(body["errorMessage"])
        elif isinstance(body, dict) and "message" in body:
            text = str(body["message"])
        else:
            text = body if isinstance(body, str) else json.dumps(body)
    raw = text.encode("utf-8")[:DLQ_ERROR_MESSAGE_BYTES]
    return raw.decode("utf-8", errors="ignore")


# ---------------------------------------------------------------------------- the queue


class AsyncInvoker:
    """Lambda's asynchronous event queue: accept at once, run on workers, retry on the clock.

    ``run(event)`` performs one attempt and returns an :class:`AttemptResult`; if it raises,
    the attempt counts as an ``"error"`` (5xx) and is retried with backoff. ``deliver`` sends
    destination records and DLQ messages. ``on_metric(name, function_name, value)`` receives
    ``AsyncEventsReceived``, ``AsyncEventAge`` (ms, each attempt), ``AsyncEventsDropped``,
    ``DestinationDeliveryFailures``, ``DeadLetterErrors``; ``on_log(function_name, line)``
    receives a line for every dropped event and delivery failure.

    ``AsyncEventsDropped`` follows AWS: every event discarded without a successful execution,
    including those then sent to an on-failure destination or DLQ.
    """

    def __init__(
        self,
        clock: Clock,
        run: Callable[[AsyncEvent], AttemptResult],
        deliver: Deliverer,
        *,
        workers: int = 4,
        on_metric: Callable[[str, str, float], None] | None = None,
        on_log: Callable[[str, str], None] | None = None,
        max_outcomes: int = 100_000,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._clock = clock
        self._run = run
        self._deliverer = deliver
        self._on_metric = on_metric
        self._on_log = on_log
        self._max_outcomes = max_outcomes
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # workers wait here for events
        self._idle = threading.Condition(self._lock)  # wait_idle waits here
        self._ready: deque[AsyncEvent] = deque()
        self._scheduled: dict[str, _Scheduled] = {}
        self._in_flight = 0
        self._closed = False
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._live: set[str] = set()
        self._counts: dict[str, int] = dict.fromkeys(
            ("received", "attempts", "retries", *TERMINAL_STATES, "delivery_failures"), 0
        )
        self._dropped_reasons: dict[str, int] = {}
        self._threads = [
            threading.Thread(target=self._worker, name=f"async-invoke-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ public

    def submit(
        self,
        function_name: str,
        qualifier: str,
        payload: bytes,
        *,
        function_arn: str,
        config: EventInvokeConfig,
        dead_letter_arn: str | None,
        request_id: str | None = None,
        trace_header: str | None = None,
    ) -> str:
        """Queue one event and return its request id at once (the caller answers 202)."""
        if len(payload) > ASYNC_PAYLOAD_LIMIT:
            raise RequestTooLargeException(
                f"{len(payload)} byte payload is too large for the Event invocation type "
                f"(limit {ASYNC_PAYLOAD_LIMIT} bytes)"
            )
        rid = request_id or _new_request_id()
        event = AsyncEvent(
            rid,
            function_name,
            qualifier,
            bytes(payload),
            function_arn,
            config,
            dead_letter_arn,
            received_at=self._clock.now(),
            enqueued_at=self._clock.monotonic(),
            trace_header=trace_header,
        )
        with self._lock:
            if self._closed:
                raise ServiceException("The asynchronous invocation queue is closed.")
            if rid in self._live or rid in self._outcomes:
                raise ValueError(f"request id {rid} is already in use")
            self._live.add(rid)
            self._counts["received"] += 1
            self._ready.append(event)
            self._work.notify()
        self._metric("AsyncEventsReceived", function_name, 1.0)
        return rid

    def wait_idle(self, timeout: float | None = None, *, scheduled: bool = True) -> bool:
        """Block until nothing is queued or running (and, by default, no retry is pending).

        With a manual clock pass ``scheduled=False``: pending retries only move when the test
        advances the clock (to :meth:`next_due`).
        """
        with self._idle:
            return self._idle.wait_for(
                lambda: (
                    not self._ready
                    and not self._in_flight
                    and (not scheduled or not self._scheduled)
                ),
                timeout,
            )

    def next_due(self) -> float | None:
        """Platform monotonic time of the earliest pending retry, or None."""
        with self._lock:
            return min((s.due for s in self._scheduled.values()), default=None)

    def stats(self) -> dict[str, Any]:
        """Counters: received, attempts, retries, the four terminal states, what is pending."""
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            out["queued"] = len(self._ready)
            out["scheduled"] = len(self._scheduled)
            out["in_flight"] = self._in_flight
            out["pending"] = len(self._live)
            out["dropped_reasons"] = dict(self._dropped_reasons)
        return out

    def outcomes(self) -> dict[str, Outcome]:
        """Terminal state per request id (the most recent ``max_outcomes``)."""
        with self._lock:
            return dict(self._outcomes)

    def outcome(self, request_id: str) -> Outcome | None:
        """One request's terminal state; None while it is still pending (or unknown)."""
        with self._lock:
            return self._outcomes.get(request_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop: cancel pending retries, drop queued events (reason ``Shutdown``), join workers.

        An attempt already running finishes; if it then needs a retry it is dropped with
        ``Shutdown`` too, if it succeeded or failed for good its record is still delivered.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = [s.event for s in self._scheduled.values()]
            timers = [s.timer for s in self._scheduled.values() if s.timer is not None]
            self._scheduled.clear()
            pending.extend(self._ready)
            self._ready.clear()
            self._work.notify_all()
        for timer in timers:
            timer.cancel()
        for event in pending:
            self._finish(event, "dropped", "Shutdown", None)
        for t in self._threads:
            t.join(timeout)
        with self._lock:
            self._idle.notify_all()

    def __enter__(self) -> AsyncInvoker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ workers

    def _worker(self) -> None:
        while True:
            with self._lock:
                while not self._ready and not self._closed:
                    self._work.wait()
                if not self._ready:
                    return
                event = self._ready.popleft()
                self._in_flight += 1
            try:
                self._process(event)
            except Exception:  # a bug here must not lose the event or the worker
                _log.exception("async invoke: internal error on %s", event.request_id)
                success = event.last_result is not None and event.last_result.outcome == "success"
                self._finish(event, "dropped", "InternalError", "Success" if success else None)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def _process(self, event: AsyncEvent) -> None:
        """One attempt, then: done, retry later, or give up."""
        cfg = event.config
        now = self._clock.monotonic()
        age = now - event.enqueued_at
        if age >= cfg.maximum_event_age_s:
            self._fail(event, "EventAgeExceeded")
            return
        self._metric("AsyncEventAge", event.function_name, age * 1000.0)
        event.attempt += 1
        with self._lock:
            self._counts["attempts"] += 1
        try:
            result = self._run(event)
        except Exception as exc:  # the platform failed this attempt: a 5xx, retried
            _log.warning("async invoke: run raised for %s: %r", event.request_id, exc)
            body = {"errorMessage": str(exc) or type(exc).__name__, "errorType": "ServiceException"}
            result = AttemptResult(
                "error", 500, json.dumps(body).encode(), None, _version_of(event)
            )
        event.last_result = result
        if result.outcome == "success":
            self._succeed(event)
        elif result.outcome == "function_error":
            if not result.retryable or event._function_errors >= cfg.maximum_retry_attempts:
                self._fail(event, "RetriesExhausted")
            else:
                delay = FUNCTION_ERROR_DELAYS_S[min(event._function_errors, 1)]
                event._function_errors += 1
                self._schedule(event, self._clock.monotonic() + delay)
        else:  # "throttle", "error", or anything unexpected: backoff until too old
            if not result.retryable:
                self._fail(event, "RetriesExhausted")
            else:
                delay = min(BACKOFF_START_S * 2**event._backoff, BACKOFF_MAX_S)
                event._backoff += 1
                self._schedule(event, self._clock.monotonic() + delay)

    def _schedule(self, event: AsyncEvent, due: float) -> None:
        """Re-queue at ``due`` on the platform clock, or at the event's expiry if sooner."""
        deadline = event.enqueued_at + event.config.maximum_event_age_s
        entry = _Scheduled(event, min(due, deadline))
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                self._scheduled[event.request_id] = entry
                self._counts["retries"] += 1
        if closed:
            self._finish(event, "dropped", "Shutdown", None)
            return
        # Never call the clock with our lock held: its callbacks take our lock.
        try:
            timer = self._clock.call_at(entry.due, self._due, event.request_id, entry)
        except Exception:  # the clock is closed: the platform is shutting down
            with self._lock:
                mine = self._scheduled.get(event.request_id) is entry
                if mine:
                    del self._scheduled[event.request_id]
            if mine:
                self._finish(event, "dropped", "Shutdown", None)
            return
        with self._lock:
            if self._scheduled.get(event.request_id) is entry:
                entry.timer = timer
                return
        timer.cancel()  # already fired (harmless) or cancelled by close()

    def _due(self, request_id: str, entry: _Scheduled) -> None:
        """Clock callback (clock thread, keep short): the event is ready again."""
        with self._lock:
            if self._scheduled.get(request_id) is not entry:
                return
            del self._scheduled[request_id]
            self._ready.append(entry.event)
            self._work.notify()

    # ------------------------------------------------------------------ terminal paths

    def _succeed(self, event: AsyncEvent) -> None:
        target = event.config.on_success
        if target is None:
            self._finish(event, "succeeded", None, "Success")
            return
        record = self._record(event, "Success")
        if self._send(event, target, record, None, "destination"):
            self._finish(event, "succeeded", None, "Success")
        else:
            self._finish(event, "dropped", "DestinationDeliveryFailed", "Success")

    def _fail(self, event: AsyncEvent, condition: Condition) -> None:
        """Retries exhausted or event too old: on-failure destination, else DLQ, else drop."""
        target = event.config.on_failure
        if target is not None:
            record = self._record(event, condition)
            if self._send(event, target, record, None, "destination"):
                self._finish(event, "delivered_on_failure", None, condition)
            else:
                self._finish(event, "dropped", "DestinationDeliveryFailed", condition)
            return
        if event.dead_letter_arn is not None:
            result = event.last_result
            attributes = {
                "RequestID": {"DataType": "String", "StringValue": event.request_id},
                "ErrorCode": {
                    "DataType": "Number",
                    "StringValue": str(result.status_code if result else 0),
                },
                "ErrorMessage": {
                    "DataType": "String",
                    "StringValue": _error_message(result, condition),
                },
            }
            if self._send(event, event.dead_letter_arn, event.payload, attributes, "dlq"):
                self._finish(event, "dead_lettered", None, condition)
            else:
                self._finish(event, "dropped", "DeadLetterDeliveryFailed", condition)
            return
        self._finish(event, "dropped", condition, condition)

    def _send(
        self,
        event: AsyncEvent,
        target: str,
        body: bytes,
        attributes: dict[str, dict] | None,
        kind: Literal["destination", "dlq"],
    ) -> bool:
        try:
            self._deliverer.deliver(target, body, attributes, kind=kind)
            return True
        except Exception as exc:
            metric = "DeadLetterErrors" if kind == "dlq" else "DestinationDeliveryFailures"
            with self._lock:
                self._counts["delivery_failures"] += 1
            self._metric(metric, event.function_name, 1.0)
            what = "dead-letter queue" if kind == "dlq" else "destination"
            self._log_line(
                event.function_name,
                f"Failed to send event {event.request_id} to {what} {target}: "
                f"{type(exc).__name__}: {exc}",
            )
            return False

    def _record(self, event: AsyncEvent, condition: Condition) -> bytes:
        """The invocation record, in the shape AWS sends to destinations."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _timestamp(self._clock.now()),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": _qualified_arn(event.function_arn, event.qualifier),
                "condition": condition,
                "approximateInvokeCount": event.attempt,
            },
            "requestPayload": _decode(event.payload),
        }
        result = event.last_result
        if result is not None:
            response: dict[str, Any] = {
                "statusCode": result.status_code,
                "executedVersion": result.executed_version,
            }
            if result.function_error:
                response["functionError"] = result.function_error
            record["responseContext"] = response
            record["responsePayload"] = _decode(result.payload) if result.payload else None
        return json.dumps(record, separators=(",", ":")).encode()

    def _finish(
        self,
        event: AsyncEvent,
        state: str,
        reason: str | None,
        condition: Condition | None,
    ) -> None:
        """Record the terminal state, exactly once per request.

        ``AsyncEventsDropped`` counts, as on AWS, every event discarded without a successful
        execution, whether or not it then reached an on-failure destination or DLQ.
        """
        outcome = Outcome(state, reason, condition, event.attempt, self._clock.now())
        with self._lock:
            if event.request_id not in self._live:
                _log.error("async invoke: %s finished twice (%s)", event.request_id, state)
                return
            self._live.discard(event.request_id)
            self._counts[state] += 1
            if reason is not None:
                self._dropped_reasons[reason] = self._dropped_reasons.get(reason, 0) + 1
            self._outcomes[event.request_id] = outcome
            while len(self._outcomes) > self._max_outcomes:
                self._outcomes.popitem(last=False)
            self._idle.notify_all()
        if condition != "Success":
            self._metric("AsyncEventsDropped", event.function_name, 1.0)
        if state == "dropped":
            self._log_line(
                event.function_name,
                f"Dropped event {event.request_id}: {reason} "
                f"(condition {condition}, attempts {event.attempt})",
            )

    # ------------------------------------------------------------------ sinks

    def _metric(self, name: str, function_name: str, value: float) -> None:
        if self._on_metric is None:
            return
        try:
            self._on_metric(name, function_name, value)
        except Exception:
            _log.exception("async invoke: metric sink failed")

    def _log_line(self, function_name: str, line: str) -> None:
        if self._on_log is None:
            _log.warning("%s: %s", function_name, line)
            return
        try:
            self._on_log(function_name, line)
        except Exception:
            _log.exception("async invoke: log sink failed")
