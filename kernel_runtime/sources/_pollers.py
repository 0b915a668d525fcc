"""Pollers behind event source mappings: daemon threads that read a source with boto3 and
invoke the function synchronously. This module holds what every poller shares (threads,
prompt stop, invoking with throttle retries, partial batch responses) and the SQS poller;
``_streams`` holds the Kinesis and DynamoDB Streams one.

:class:`SqsPoller` runs one receiver per queue (moto's receive is not atomic, so several
receivers would deliver duplicates) feeding up to N concurrent invokes; N starts at 5 and
grows while the queue has a backlog, capped by ``ScalingConfig.MaximumConcurrency``. Success
deletes the batch; an error leaves it to reappear after the visibility timeout, and the
queue's own RedrivePolicy moves it to a dead-letter queue. Messages that match no filter are
deleted without an invoke.

Stopping is prompt: every wait is on the poller's Event; a long poll in flight returns within
its WaitTimeSeconds and whatever it brought back is released (visibility 0).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import LambdaError, TooManyRequestsException
from ._events import sqs_record

if TYPE_CHECKING:
    from ._mappings import EventSourceMappings, MappingConfig, _Mapping

__all__ = [
    "PAYLOAD_LIMIT",
    "RECORD_OVERHEAD",
    "Outcome",
    "Poller",
    "SqsPoller",
    "failed_item_identifiers",
    "iso_ms",
]

log = logging.getLogger(__name__)

#: Synchronous invoke payload limit (6 MB); SQS batches are cut below it.
PAYLOAD_LIMIT = 6 * 1024 * 1024
RECORD_OVERHEAD = 1024  # receipt handle, attributes and JSON punctuation per SQS record
_MAX_BACKOFF_S = 1.0
_SCALE_STEP_S = 0.2  # AWS adds at most 300 concurrent batches a minute
_BUSY_POLL_S = 0.2


def iso_ms(epoch: float) -> str:
    """ISO 8601 with milliseconds, as Lambda writes times in invocation records."""
    millis = round(epoch * 1000)
    seconds, millis = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def failed_item_identifiers(payload: bytes, known: Sequence[str]) -> list[str] | None:
    """The ``itemIdentifier`` values of a partial batch response; None = the whole batch failed.

    Success: an empty body, ``null``, no or a null/empty ``batchItemFailures``. Whole failure:
    invalid JSON, a response that is not an object, a ``batchItemFailures`` that is not a
    list, an item without a non-empty string ``itemIdentifier``, or an identifier that is not
    in the batch (AWS's rules for SQS, Kinesis and DynamoDB Streams alike).
    """
    text = payload.strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if value is None:
        return []
    if not isinstance(value, dict):
        return None
    items = value.get("batchItemFailures")
    if items is None:
        return []
    if not isinstance(items, list):
        return None
    wanted = set(known)
    out: list[str] = []
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident or ident not in wanted:
            return None
        out.append(ident)
    return out


@dataclass(frozen=True)
class Outcome:
    """One invoke of a batch: ``kind`` is ok | function_error | error | throttled | stopped."""

    kind: str
    status_code: int = 0
    payload: bytes = b""
    function_error: str | None = None
    executed_version: str = ""
    request_id: str = ""

    def response_context(self) -> dict[str, Any]:
        if not self.status_code:
            return {}
        out: dict[str, Any] = {
            "statusCode": self.status_code,
            "executedVersion": self.executed_version,
        }
        if self.function_error:
            out["functionError"] = self.function_error
        return out


class Poller(ABC):
    """Threads of one mapping; :meth:`stop` signals them, :meth:`join` waits for them."""

    def __init__(self, mapping: _Mapping, host: EventSourceMappings) -> None:
        self.mapping = mapping
        self.host = host
        self.counters = mapping.counters
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()

    @property
    def config(self) -> MappingConfig:
        return self.mapping.config

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._spawn(self._main, "main")

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait for every thread at most ``timeout`` seconds; True if all ended."""
        deadline = time.monotonic() + timeout
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _spawn(self, target: Callable[..., None], role: str, *args: Any) -> None:
        name = f"esm-{self.config.uuid[:8]}-{role}"
        thread = threading.Thread(target=self._guard, args=(target, *args), name=name, daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    @staticmethod
    def _guard(target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except Exception:  # a poller bug must be seen, not kill the kernel
            log.exception("event source mapping poller failed")

    def _main(self) -> None:
        self.host.transition(self.mapping, "Enabled", only_from=("Creating", "Enabling"))
        self.run()

    @abstractmethod
    def run(self) -> None:
        """The poller's main loop, on its own thread, until :meth:`stop`."""

    # -- invoking ------------------------------------------------------------------------------
    def _invoke(
        self,
        records: list[dict[str, Any]],
        keep_trying: Callable[[], bool],
        extra: dict[str, Any] | None = None,
    ) -> Outcome:
        """Invoke synchronously with ``{"Records": records, **extra}``; throttles are retried
        with backoff while ``keep_trying()`` (and the poller runs)."""
        cfg = self.config
        backoff = self.host.retry_backoff_s
        event = {"Records": records, **(extra or {})}
        while True:
            try:
                result = self.host.service.invoke(cfg.function_arn, event)
            except TooManyRequestsException:
                self.counters.add(throttles=1)
                if self.stopped:
                    return Outcome("stopped")
                if not keep_trying():
                    return Outcome("throttled", 429)
                self._stop.wait(backoff)
                backoff = min(_MAX_BACKOFF_S, backoff * 2)
                continue
            except LambdaError as exc:
                self.counters.add(errors=1)
                self.mapping.last_processing_result = f"PROBLEM: {exc.message}"
                return Outcome("error", exc.status, function_error=exc.code)
            break
        self.counters.add(invocations=1, invoked_records=len(records))
        kind = "function_error" if result.function_error else "ok"
        if result.function_error:
            self.counters.add(errors=1)
            self.mapping.last_processing_result = "PROBLEM: Function call failed"
        else:
            self.mapping.last_processing_result = "OK"
        return Outcome(
            kind,
            result.status_code,
            result.payload,
            result.function_error,
            result.executed_version,
            result.request_id,
        )

    def _pause(self, failures: int) -> None:
        base = self.host.retry_backoff_s
        self._stop.wait(min(_MAX_BACKOFF_S, base * 2 ** max(0, failures - 1)))


# -- SQS ------------------------------------------------------------------------------------------
def sqs_event_record(message: dict[str, Any], cfg: MappingConfig) -> dict[str, Any]:
    """One ``Records[]`` entry of Lambda's SQS event from a ReceiveMessage message."""
    return sqs_record(
        body=message.get("Body", ""),
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        attributes=message.get("Attributes") or {},
        message_attributes=message.get("MessageAttributes") or None,
        md5_of_body=message.get("MD5OfBody"),
        md5_of_message_attributes=message.get("MD5OfMessageAttributes"),
        queue_arn=cfg.event_source_arn,
        region=cfg.region,
    )


class SqsPoller(Poller):
    """One receiver thread per queue; each batch is invoked on its own thread."""

    def __init__(self, mapping: _Mapping, host: EventSourceMappings) -> None:
        super().__init__(mapping, host)
        self._cond = threading.Condition()
        self._inflight = 0
        self._floor = max(1, min(host.sqs_initial_concurrency, self._cap()))
        self._concurrency = self._floor
        self._last_growth = 0.0
        self.counters.set(concurrency=self._concurrency)

    def _cap(self) -> int:
        return self.config.maximum_concurrency or 1000

    def run(self) -> None:
        while not self.stopped:
            cfg = self.config
            with self._cond:
                while not self.stopped and self._inflight >= min(self._concurrency, self._cap()):
                    self._cond.wait(0.5)
            if self.stopped:
                break
            sqs = self.host.client("sqs", cfg.region)
            try:
                messages = self._gather(sqs, cfg)
            except Exception as exc:  # botocore errors, the endpoint going away ...
                if not self.stopped:
                    log.warning("SQS poller for %s: %s", cfg.event_source_arn, exc)
                    self._stop.wait(1.0)
                continue
            if self.stopped:
                self._release(sqs, cfg, messages)
                break
            if not messages:
                self._scale(backlog=False)
                with self._cond:  # a finished batch can free messages (FIFO groups)
                    if self._inflight and not self.stopped:
                        self._cond.wait(_BUSY_POLL_S)
                continue
            cfg = self.config  # an update during the long poll applies to what it brought
            for start in range(0, len(messages), cfg.batch_size):
                with self._cond:
                    self._inflight += 1
                batch = messages[start : start + cfg.batch_size]
                self._spawn(self._process, "batch", sqs, cfg, batch)
            self._scale(backlog=len(messages) >= min(cfg.batch_size, 10))

    def _wait_time(self, sqs: Any) -> int:
        """Long poll length: at most 20 s and below the client's read timeout."""
        read_timeout = getattr(getattr(sqs, "meta", None), "config", None)
        limit = getattr(read_timeout, "read_timeout", 60) or 60
        return int(max(0, min(20, self.host.sqs_wait_time_s, limit - 2)))

    def _gather(self, sqs: Any, cfg: MappingConfig) -> list[dict[str, Any]]:
        """Up to BatchSize messages: one receive without a batching window; with one, keep
        receiving until the batch is full, the window (from the first message) closes or
        the payload would pass 6 MB."""
        window = cfg.maximum_batching_window_in_seconds / self.host.speed
        messages: list[dict[str, Any]] = []
        size = 0
        deadline: float | None = None
        while len(messages) < cfg.batch_size and not self.stopped:
            if deadline is None:
                # moto wakes long polls on sends only, not on deletes or expiring visibility:
                # while batches are in flight, poll short and wait for one to finish instead
                wait = 0 if self._inflight else self._wait_time(sqs)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(int(remaining), self._wait_time(sqs))
            answer = sqs.receive_message(
                QueueUrl=cfg.queue_url,
                MaxNumberOfMessages=min(10, cfg.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = answer.get("Messages") or []
            for index, message in enumerate(got):
                size += len(message.get("Body", "").encode()) + RECORD_OVERHEAD
                if size > PAYLOAD_LIMIT and messages:
                    self._release(sqs, cfg, got[index:])
                    return messages
                messages.append(message)
            if window <= 0 or (not messages and deadline is None):
                break
            if deadline is None:
                deadline = time.monotonic() + window
            if not got and wait == 0:
                self._stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages

    def _scale(self, *, backlog: bool) -> None:
        """Grow by one concurrent batch while the queue has a backlog and every slot is busy;
        shrink back towards the starting concurrency when a poll comes back empty."""
        with self._cond:
            cap = self._cap()
            now = time.monotonic()
            if backlog:
                busy = self._inflight >= self._concurrency
                if busy and self._concurrency < cap and now - self._last_growth >= _SCALE_STEP_S:
                    self._concurrency += 1
                    self._last_growth = now
            elif self._concurrency > self._floor:
                self._concurrency -= 1
            self._concurrency = min(self._concurrency, cap)
            self.counters.set(concurrency=self._concurrency)

    def _process(self, sqs: Any, cfg: MappingConfig, messages: list[dict[str, Any]]) -> None:
        try:
            self._handle(sqs, cfg, messages)
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify()

    def _handle(self, sqs: Any, cfg: MappingConfig, messages: list[dict[str, Any]]) -> None:
        records = [sqs_event_record(m, cfg) for m in messages]
        self.counters.add(polled=len(records), batches=1)
        keep = records
        if cfg.filter_criteria is not None:
            keep, dropped = [], []
            for record in records:
                matched = cfg.filter_criteria.matches(record, "aws:sqs")
                (keep if matched else dropped).append(record)
            if dropped:  # AWS deletes messages that match no filter, without invoking
                self.counters.add(filtered_out=len(dropped))
                self._delete(sqs, cfg, dropped)
        if not keep:
            return
        give_up = time.monotonic() + cfg.visibility_timeout
        outcome = self._invoke(keep, lambda: time.monotonic() < give_up)
        if outcome.kind != "ok":
            self._scale(backlog=False)  # Lambda backs off a mapping whose function fails
            return  # the whole batch reappears after the visibility timeout
        failed: set[str] = set()
        if cfg.report_batch_item_failures:
            items = failed_item_identifiers(outcome.payload, [r["messageId"] for r in keep])
            if items is None:
                self.counters.add(errors=1)
                return
            failed = set(items)
            if cfg.fifo and failed:
                failed = _hold_fifo_groups(keep, failed)
        self._delete(sqs, cfg, [r for r in keep if r["messageId"] not in failed])

    def _delete(self, sqs: Any, cfg: MappingConfig, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            entries = [
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
            ]
            try:
                answer = sqs.delete_message_batch(QueueUrl=cfg.queue_url, Entries=entries)
            except Exception as exc:
                log.warning("DeleteMessageBatch on %s failed: %s", cfg.event_source_arn, exc)
                continue
            self.counters.add(deleted=len(answer.get("Successful") or []))
            for failure in answer.get("Failed") or []:
                log.warning("could not delete a message from %s: %s", cfg.queue_url, failure)

    def _release(self, sqs: Any, cfg: MappingConfig, messages: list[dict[str, Any]]) -> None:
        """Make received-but-unprocessed messages visible again at once."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ]
            try:
                sqs.change_message_visibility_batch(QueueUrl=cfg.queue_url, Entries=entries)
            except Exception as exc:  # they come back after the visibility timeout anyway
                log.debug("releasing messages of %s failed: %s", cfg.queue_url, exc)


def _hold_fifo_groups(records: list[dict[str, Any]], failed: set[str]) -> set[str]:
    """FIFO order: after a failed message, every later message of its group stays too."""
    held = set(failed)
    blocked: set[str] = set()
    for record in records:
        group = record.get("attributes", {}).get("MessageGroupId", "")
        if group in blocked:
            held.add(record["messageId"])
        elif record["messageId"] in failed:
            blocked.add(group)
    return held
