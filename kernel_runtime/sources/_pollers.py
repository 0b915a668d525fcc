"""The pollers behind event source mappings: daemon threads that read SQS, Kinesis and
DynamoDB Streams with boto3 and invoke the function synchronously, with AWS's batching,
filtering, retry and partial-batch rules.

* :class:`SqsPoller`: one receiver per queue (moto's receive is not atomic, so several
  receivers would deliver duplicates) feeding up to N concurrent invokes; N starts at 5 and
  grows while the queue has a backlog, capped by ``ScalingConfig.MaximumConcurrency``.
  Success deletes the batch; an error leaves it to reappear after the visibility timeout, and
  the queue's own RedrivePolicy moves it to a dead-letter queue.
* :class:`StreamPoller`: one worker per shard (``ParallelizationFactor`` is accepted but each
  shard is processed by one worker), records in order; a failing batch blocks its shard until
  it succeeds, is bisected down to the poison record, runs out of retries or of age, and what
  is given up on goes to ``DestinationConfig.OnFailure``.

Stopping is prompt: every wait is on the poller's Event; a long poll in flight returns within
its WaitTimeSeconds and whatever it brought back is released (visibility 0).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import LambdaError, TooManyRequestsException
from ._events import InvalidEventError, dynamodb_record, kinesis_record, sqs_record

if TYPE_CHECKING:
    from ._mappings import EventSourceMappings, MappingConfig, _Mapping

__all__ = ["SqsPoller", "StreamPoller", "failed_item_identifiers", "poller_for"]

log = logging.getLogger(__name__)

#: Synchronous invoke payload limit (6 MB); SQS batches are cut below it.
_PAYLOAD_LIMIT = 6 * 1024 * 1024
_RECORD_OVERHEAD = 1024  # receipt handle, attributes and JSON punctuation per SQS record
_MAX_BACKOFF_S = 1.0
_SHARD_REFRESH_S = 10.0
_SCALE_STEP_S = 0.2  # AWS adds at most 300 concurrent batches a minute
_BUSY_POLL_S = 0.2


def _iso(epoch: float) -> str:
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
class _Outcome:
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


class _Poller:
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

    def run(self) -> None:
        raise NotImplementedError

    # -- invoking ------------------------------------------------------------------------------
    def _invoke(self, records: list[dict[str, Any]], keep_trying: Callable[[], bool]) -> _Outcome:
        """Invoke synchronously with ``{"Records": records}``; throttles are retried with
        backoff while ``keep_trying()`` (and the poller runs)."""
        cfg = self.config
        backoff = self.host.retry_backoff_s
        while True:
            try:
                result = self.host.service.invoke(cfg.function_arn, {"Records": records})
            except TooManyRequestsException:
                self.counters.add(throttles=1)
                if self.stopped:
                    return _Outcome("stopped")
                if not keep_trying():
                    return _Outcome("throttled", 429)
                self._stop.wait(backoff)
                backoff = min(_MAX_BACKOFF_S, backoff * 2)
                continue
            except LambdaError as exc:
                self.counters.add(errors=1)
                self.mapping.last_processing_result = f"PROBLEM: {exc.message}"
                return _Outcome("error", exc.status, function_error=exc.code)
            break
        self.counters.add(invocations=1, invoked_records=len(records))
        kind = "function_error" if result.function_error else "ok"
        if result.function_error:
            self.counters.add(errors=1)
            self.mapping.last_processing_result = "PROBLEM: Function call failed"
        else:
            self.mapping.last_processing_result = "OK"
        return _Outcome(
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


class SqsPoller(_Poller):
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
            for message in got:
                size += len(message.get("Body", "").encode()) + _RECORD_OVERHEAD
                if size > _PAYLOAD_LIMIT and messages:
                    self._release(sqs, cfg, got[got.index(message) :])
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
            keep = [r for r in records if cfg.filter_criteria.matches(r, "aws:sqs")]
            dropped = [r for r in records if r not in keep]
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


# -- streams --------------------------------------------------------------------------------------
def _stream_name(arn: str) -> str:
    """The stream name of a Kinesis ARN. Calls go by name: moto's iterators made from a
    StreamARN lose the stream (GetRecords answers "Stream None ... not found")."""
    return arn.split(":", 5)[5].split("/", 1)[1]


class _Kinesis:
    """Kinesis Data Streams: API calls and Lambda's record shape."""

    client_name = "kinesis"
    event_source = "aws:kinesis"
    batch_info = "KinesisBatchInfo"
    max_limit = 10_000

    def shards(self, client: Any, arn: str) -> list[str]:
        out: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": _stream_name(arn)}
        while True:
            answer = client.list_shards(**kwargs)
            out += [s["ShardId"] for s in answer.get("Shards", [])]
            token = answer.get("NextToken")
            if not token:
                return out
            kwargs = {"NextToken": token}

    def iterator(self, client: Any, arn: str, shard: str, kind: str, **extra: Any) -> str:
        kwargs: dict[str, Any] = {
            "StreamName": _stream_name(arn),
            "ShardId": shard,
            "ShardIteratorType": kind,
        }
        if "sequence" in extra:
            kwargs["StartingSequenceNumber"] = extra["sequence"]
        if "timestamp" in extra:
            kwargs["Timestamp"] = extra["timestamp"]
        return str(client.get_shard_iterator(**kwargs)["ShardIterator"])

    def sequence(self, raw: dict[str, Any]) -> str:
        return str(raw["SequenceNumber"])

    def size(self, raw: dict[str, Any]) -> int:
        """Bytes in the event: data in base64 and the record's other fields."""
        return len(raw.get("Data", b"")) * 4 // 3 + _RECORD_OVERHEAD

    def arrival(self, raw: dict[str, Any]) -> float:
        return _epoch(raw.get("ApproximateArrivalTimestamp"))

    def record(self, raw: dict[str, Any], shard: str, cfg: MappingConfig, role: str) -> dict:
        return kinesis_record(
            data=raw.get("Data", b""),
            partition_key=raw.get("PartitionKey", ""),
            sequence_number=self.sequence(raw),
            arrival_time=_datetime(self.arrival(raw)),
            shard_id=shard,
            stream_arn=cfg.event_source_arn,
            invoke_identity_arn=role or None,
            region=cfg.region,
        )


class _DynamoDB:
    """DynamoDB Streams: API calls and Lambda's record shape."""

    client_name = "dynamodbstreams"
    event_source = "aws:dynamodb"
    batch_info = "DDBStreamBatchInfo"
    max_limit = 1_000

    def shards(self, client: Any, arn: str) -> list[str]:
        out: list[str] = []
        kwargs: dict[str, Any] = {"StreamArn": arn}
        while True:
            answer = client.describe_stream(**kwargs)["StreamDescription"]
            out += [s["ShardId"] for s in answer.get("Shards", [])]
            last = answer.get("LastEvaluatedShardId")
            if not last:
                return out
            kwargs = {"StreamArn": arn, "ExclusiveStartShardId": last}

    def iterator(self, client: Any, arn: str, shard: str, kind: str, **extra: Any) -> str:
        kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind}
        if "sequence" in extra:
            kwargs["SequenceNumber"] = extra["sequence"]
        return str(client.get_shard_iterator(**kwargs)["ShardIterator"])

    def sequence(self, raw: dict[str, Any]) -> str:
        return str(raw["dynamodb"]["SequenceNumber"])

    def size(self, raw: dict[str, Any]) -> int:
        """Bytes in the event: the item images (typed JSON is larger) and the fields."""
        return 2 * int(raw.get("dynamodb", {}).get("SizeBytes", 0)) + _RECORD_OVERHEAD

    def arrival(self, raw: dict[str, Any]) -> float:
        return _epoch(raw.get("dynamodb", {}).get("ApproximateCreationDateTime"))

    def record(self, raw: dict[str, Any], shard: str, cfg: MappingConfig, role: str) -> dict:
        change = dict(raw.get("dynamodb", {}))
        try:
            return dynamodb_record(
                event_name=raw.get("eventName", ""),
                keys=change.get("Keys"),
                new_image=change.get("NewImage"),
                old_image=change.get("OldImage"),
                typed=True,
                stream_view_type=change.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
                stream_arn=cfg.event_source_arn,
                event_id=raw.get("eventID") or None,
                sequence_number=self.sequence(raw),
                size_bytes=change.get("SizeBytes"),
                approximate_creation_time=_datetime(self.arrival(raw)),
                user_identity=raw.get("userIdentity"),
                region=raw.get("awsRegion", cfg.region),
            )
        except InvalidEventError:  # a record the builder finds odd is passed on as it came
            pass
        if "ApproximateCreationDateTime" in change:
            change["ApproximateCreationDateTime"] = float(int(self.arrival(raw)))
        out: dict[str, Any] = {
            "eventID": raw.get("eventID", ""),
            "eventName": raw.get("eventName", ""),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": raw.get("awsRegion", cfg.region),
            "dynamodb": change,
            "eventSourceARN": cfg.event_source_arn,
        }
        if raw.get("userIdentity"):
            out["userIdentity"] = raw["userIdentity"]
        return out


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _epoch(value: Any) -> float:
    if value is None:
        return time.time()
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)


_Pair = tuple[dict[str, Any], dict[str, Any]]  # (raw API record, Lambda event record)


class StreamPoller(_Poller):
    """A supervisor that finds shards, and one worker thread per shard."""

    def __init__(
        self, mapping: _Mapping, host: EventSourceMappings, source: _Kinesis | _DynamoDB
    ) -> None:
        super().__init__(mapping, host)
        self.source = source
        self.poll_interval_s = (
            host.kinesis_poll_interval_s
            if isinstance(source, _Kinesis)
            else host.dynamodb_poll_interval_s
        )

    def run(self) -> None:
        known: set[str] = set()
        first = True
        while not self.stopped:
            cfg = self.config
            try:
                shards = self.source.shards(
                    self.host.client(self.source.client_name, cfg.region), cfg.event_source_arn
                )
            except Exception as exc:
                log.warning("listing the shards of %s failed: %s", cfg.event_source_arn, exc)
                self._stop.wait(1.0)
                continue
            for shard in shards:
                if shard not in known:
                    known.add(shard)
                    self._spawn(self._shard, shard, shard, first)
            first = False
            self._stop.wait(_SHARD_REFRESH_S)

    def _iterator(self, client: Any, cfg: MappingConfig, shard: str, initial: bool) -> str:
        """From the shard's checkpoint; else StartingPosition (shards found later: from the
        start, as they only hold records written after the mapping began)."""
        checkpoint = self.mapping.checkpoints.get(shard)
        arn = cfg.event_source_arn
        if checkpoint is not None:
            return self.source.iterator(
                client, arn, shard, "AFTER_SEQUENCE_NUMBER", sequence=checkpoint
            )
        position = cfg.starting_position if initial else "TRIM_HORIZON"
        if position == "AT_TIMESTAMP":
            return self.source.iterator(
                client, arn, shard, position, timestamp=cfg.starting_position_timestamp
            )
        return self.source.iterator(client, arn, shard, position or "LATEST")

    def _shard(self, shard: str, initial: bool) -> None:
        """Read one shard in order: GetRecords, batch (size, window), process, checkpoint."""
        iterator: str | None = None
        closed = False
        buffer: list[dict[str, Any]] = []
        since: float | None = None
        while not self.stopped:
            cfg = self.config
            client = self.host.client(self.source.client_name, cfg.region)
            got: list[dict[str, Any]] = []
            try:
                if iterator is None and not closed:
                    iterator = self._iterator(client, cfg, shard, initial)
                if iterator is not None and len(buffer) < cfg.batch_size:
                    limit = min(self.source.max_limit, cfg.batch_size - len(buffer))
                    answer = client.get_records(ShardIterator=iterator, Limit=limit)
                    got = answer.get("Records") or []
                    iterator = answer.get("NextShardIterator")
                    closed = iterator is None
            except Exception as exc:
                if not self.stopped:
                    log.warning("GetRecords on %s %s: %s", cfg.event_source_arn, shard, exc)
                    iterator = None
                    self._stop.wait(1.0)
                continue
            if got:
                buffer += got
                since = since if since is not None else time.monotonic()
            window = cfg.maximum_batching_window_in_seconds / self.host.speed
            waited = time.monotonic() - since if since is not None else 0.0
            if buffer and (
                len(buffer) >= cfg.batch_size or window <= 0 or waited >= window or closed
            ):
                count = self._fits(buffer[: cfg.batch_size])
                batch, buffer = buffer[:count], buffer[count:]
                try:
                    if not self._process(shard, cfg, batch):
                        return  # stopped mid-batch: the checkpoint stays before it
                except Exception:  # keep the shard alive; the batch is read again
                    log.exception("processing a batch of %s %s failed", cfg.uuid, shard)
                    buffer = batch + buffer
                    self._stop.wait(1.0)
                    continue
                self.mapping.checkpoints[shard] = self.source.sequence(batch[-1])
                since = time.monotonic() if buffer else None
                continue
            if closed and not buffer:
                return
            pause = self.poll_interval_s
            if buffer and window > 0:
                pause = min(pause, max(0.0, window - waited))
            self._stop.wait(pause)

    def _fits(self, records: list[dict[str, Any]]) -> int:
        """How many of ``records`` fit in one 6 MB invoke payload (at least one)."""
        total = 0
        for count, raw in enumerate(records):
            total += self.source.size(raw)
            if total > _PAYLOAD_LIMIT and count:
                return count
        return len(records)

    def _process(self, shard: str, cfg: MappingConfig, batch: list[dict[str, Any]]) -> bool:
        """Filter, then invoke until the batch succeeds or is given up on; False if stopped."""
        role = self._role(cfg)
        pairs: list[_Pair] = [(raw, self.source.record(raw, shard, cfg, role)) for raw in batch]
        self.counters.add(polled=len(pairs), batches=1)
        age_ms = max(0.0, (time.time() - self.source.arrival(batch[-1])) * 1000.0)
        self.counters.set(iterator_age_ms=age_ms)
        self.host.metric("IteratorAge", cfg.function_name, age_ms)
        if cfg.filter_criteria is not None:
            keep = [p for p in pairs if cfg.filter_criteria.matches(p[1], self.source.event_source)]
            self.counters.add(filtered_out=len(pairs) - len(keep))
            pairs = keep
        if not pairs:
            return True
        return self._retry(shard, pairs)

    def _retry(self, shard: str, pairs: list[_Pair]) -> bool:
        """AWS's stream error handling: retry the failing part (halves with bisect, from the
        lowest reported sequence number with a partial response) until it succeeds, runs
        out of MaximumRetryAttempts or MaximumRecordAgeInSeconds."""
        stack: list[tuple[list[_Pair], int]] = [(pairs, 0)]
        while stack:
            if self.stopped:
                return False
            cfg = self.config
            part, failures = stack.pop()
            last: _Outcome | None = None
            if self._expired(cfg, part):
                self._discard(shard, cfg, part, "RecordAgeExceeded", failures, last)
                continue
            outcome = self._invoke(
                [p[1] for p in part], lambda c=cfg, p=part: not self._expired(c, p)
            )
            if outcome.kind == "stopped":
                return False
            if outcome.kind == "throttled":
                self._discard(shard, cfg, part, "RecordAgeExceeded", failures, outcome)
                continue
            remaining: list[_Pair] | None = None
            if outcome.kind == "ok":
                if not cfg.report_batch_item_failures:
                    continue
                sequences = [self.source.sequence(raw) for raw, _ in part]
                items = failed_item_identifiers(outcome.payload, sequences)
                if items == []:
                    continue
                if items is not None:
                    lowest = min(int(i) for i in items)
                    start = next(i for i, s in enumerate(sequences) if int(s) == lowest)
                    remaining = part[start:]
                    self.mapping.last_processing_result = "PROBLEM: Function call failed"
            failures += 1
            failing = remaining if remaining is not None else part
            retries = cfg.maximum_retry_attempts
            if retries != -1 and failures > retries:
                self._discard(shard, cfg, failing, "RetryAttemptsExhausted", failures, outcome)
                continue
            self._pause(failures)
            if remaining is None and cfg.bisect_batch_on_function_error and len(part) > 1:
                middle = len(part) // 2
                stack.append((part[middle:], failures))
                stack.append((part[:middle], failures))
            else:
                stack.append((failing, failures))
        return True

    def _expired(self, cfg: MappingConfig, part: list[_Pair]) -> bool:
        limit = cfg.maximum_record_age_in_seconds
        if limit == -1:
            return False
        age = (time.time() - self.source.arrival(part[0][0])) * self.host.speed
        return age > limit

    def _discard(
        self,
        shard: str,
        cfg: MappingConfig,
        part: list[_Pair],
        condition: str,
        invoke_count: int,
        outcome: _Outcome | None,
    ) -> None:
        """Give up on ``part``: count it and send an invocation record to OnFailure."""
        self.counters.add(discarded=len(part))
        if not cfg.on_failure:
            log.warning(
                "%s: %d records of %s discarded (%s)",
                cfg.uuid,
                len(part),
                shard,
                condition,
            )
            return
        first, last = part[0][0], part[-1][0]
        record = {
            "requestContext": {
                "requestId": (outcome.request_id if outcome else "") or str(uuid.uuid4()),
                "functionArn": cfg.function_arn,
                "condition": condition,
                "approximateInvokeCount": invoke_count,
            },
            "responseContext": outcome.response_context() if outcome else {},
            "version": "1.0",
            "timestamp": _iso(time.time()),
            self.source.batch_info: {
                "shardId": shard,
                "startSequenceNumber": self.source.sequence(first),
                "endSequenceNumber": self.source.sequence(last),
                "approximateArrivalOfFirstRecord": _iso(self.source.arrival(first)),
                "approximateArrivalOfLastRecord": _iso(self.source.arrival(last)),
                "batchSize": len(part),
                "streamArn": cfg.event_source_arn,
            },
        }
        try:
            self.host.deliver(cfg.on_failure, json.dumps(record).encode())
        except Exception as exc:
            self.counters.add(destination_failures=1)
            log.warning("OnFailure delivery to %s failed: %s", cfg.on_failure, exc)
        else:
            self.counters.add(sent_to_destination=1)

    def _role(self, cfg: MappingConfig) -> str:
        """``invokeIdentityArn``: the function's execution role."""
        try:
            config = self.host.service.registry.get_function_configuration(cfg.function_name)
        except LambdaError:
            return ""
        return str(config.get("Role", ""))


def poller_for(mapping: _Mapping, host: EventSourceMappings) -> _Poller:
    """The poller for a mapping's kind of source."""
    source = mapping.config.source
    if source == "sqs":
        return SqsPoller(mapping, host)
    return StreamPoller(mapping, host, _Kinesis() if source == "kinesis" else _DynamoDB())
