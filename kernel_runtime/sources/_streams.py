"""Stream pollers (Kinesis and DynamoDB Streams): one worker per shard, records in order.

A failing batch blocks its shard until it succeeds, is bisected down to the poison record,
runs out of MaximumRetryAttempts or of MaximumRecordAgeInSeconds; what is given up on goes to
``DestinationConfig.OnFailure`` as an invocation record. ``ParallelizationFactor`` is accepted
but each shard is read by one worker. With ``TumblingWindowInSeconds`` the records of each
window (by arrival time) are invoked with the window's ``state``, and a final invoke closes it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import LambdaError
from ._events import InvalidEventError, dynamodb_record, kinesis_record
from ._pollers import (
    PAYLOAD_LIMIT,
    RECORD_OVERHEAD,
    Outcome,
    Poller,
    failed_item_identifiers,
    iso_ms,
)

if TYPE_CHECKING:
    from ._mappings import EventSourceMappings, MappingConfig, _Mapping

__all__ = ["StreamPoller"]

log = logging.getLogger(__name__)

_SHARD_REFRESH_S = 10.0
_STATE_LIMIT = 1024 * 1024  # a window's state above 1 MB ends the window early


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
        return len(raw.get("Data", b"")) * 4 // 3 + RECORD_OVERHEAD

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
        return 2 * int(raw.get("dynamodb", {}).get("SizeBytes", 0)) + RECORD_OVERHEAD

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


@dataclass
class _Window:
    """An open tumbling window of one shard and the state the function returned last."""

    start: float
    end: float
    state: Any = field(default_factory=dict)

    def fields(self, shard: str, arn: str, *, final: bool, early: bool) -> dict[str, Any]:
        """What a windowed invoke adds to ``Records``."""
        return {
            "window": {"start": _iso_s(self.start), "end": _iso_s(self.end)},
            "state": self.state,
            "shardId": shard,
            "eventSourceARN": arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }

    def take_state(self, payload: bytes) -> bool:
        """Keep the answer's ``state``; False (a failed invoke) if it has none."""
        try:
            answer = json.loads(payload) if payload.strip() else None
        except ValueError:
            return False
        if not isinstance(answer, dict) or "state" not in answer:
            return False
        self.state = answer["state"] if answer["state"] is not None else {}
        return True


def _iso_s(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


_Pair = tuple[dict[str, Any], dict[str, Any]]  # (raw API record, Lambda event record)


class StreamPoller(Poller):
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
        """Read one shard in order: GetRecords, batch (size, batching window, tumbling
        window), process, checkpoint; close tumbling windows as their end passes."""
        iterator: str | None = None
        closed = False
        buffer: list[dict[str, Any]] = []
        since: float | None = None
        window: _Window | None = None
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
            tumbling = cfg.tumbling_window_in_seconds
            if window is not None and (
                not tumbling
                or (buffer and self._window_start(buffer[0], tumbling) != window.start)
                or (not buffer and (closed or time.time() >= window.end))
            ):
                if not self._close_window(shard, cfg, window, early=False):
                    return
                window = None
                continue
            batching = cfg.maximum_batching_window_in_seconds / self.host.speed
            waited = time.monotonic() - since if since is not None else 0.0
            if buffer and (
                len(buffer) >= cfg.batch_size or batching <= 0 or waited >= batching or closed
            ):
                count = self._fits(buffer[: cfg.batch_size])
                if tumbling:
                    start = self._window_start(buffer[0], tumbling)
                    count = next(
                        (
                            i
                            for i in range(count)
                            if self._window_start(buffer[i], tumbling) != start
                        ),
                        count,
                    )
                    window = window or _Window(start, start + tumbling)
                batch, buffer = buffer[:count], buffer[count:]
                try:
                    if not self._process(shard, cfg, batch, window):
                        return  # stopped mid-batch: the checkpoint stays before it
                except Exception:  # keep the shard alive; the batch is read again
                    log.exception("processing a batch of %s %s failed", cfg.uuid, shard)
                    buffer = batch + buffer
                    self._stop.wait(1.0)
                    continue
                self.mapping.checkpoints[shard] = self.source.sequence(batch[-1])
                since = time.monotonic() if buffer else None
                if window is not None and len(json.dumps(window.state)) > _STATE_LIMIT:
                    if not self._close_window(shard, cfg, window, early=True):
                        return
                    window.state = {}  # the same window goes on with a fresh state
                continue
            if closed and not buffer:
                return
            pause = self.poll_interval_s
            if buffer and batching > 0:
                pause = min(pause, max(0.0, batching - waited))
            if window is not None:
                pause = min(pause, max(0.0, window.end - time.time()))
            self._stop.wait(pause)

    def _window_start(self, raw: dict[str, Any], tumbling: int) -> float:
        """Tumbling windows are aligned on multiples of their length, by arrival time."""
        arrival = self.source.arrival(raw)
        return arrival - arrival % tumbling

    def _close_window(
        self, shard: str, cfg: MappingConfig, window: _Window, *, early: bool
    ) -> bool:
        """The final invoke of a window (no records, its state): retried until it succeeds,
        as Lambda holds the shard until then. False if stopped."""
        failures = 0
        while not self.stopped:
            extra = window.fields(shard, cfg.event_source_arn, final=True, early=early)
            outcome = self._invoke([], lambda: True, extra)
            if outcome.kind == "ok":
                return True
            if outcome.kind == "stopped":
                return False
            failures += 1
            self._pause(failures)
        return False

    def _fits(self, records: list[dict[str, Any]]) -> int:
        """How many of ``records`` fit in one 6 MB invoke payload (at least one)."""
        total = 0
        for count, raw in enumerate(records):
            total += self.source.size(raw)
            if total > PAYLOAD_LIMIT and count:
                return count
        return len(records)

    def _process(
        self,
        shard: str,
        cfg: MappingConfig,
        batch: list[dict[str, Any]],
        window: _Window | None = None,
    ) -> bool:
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
        return self._retry(shard, pairs, window)

    def _retry(self, shard: str, pairs: list[_Pair], window: _Window | None) -> bool:
        """AWS's stream error handling: retry the failing part (halves with bisect, from the
        lowest reported sequence number with a partial response) until it succeeds, runs
        out of MaximumRetryAttempts or MaximumRecordAgeInSeconds. In a tumbling window each
        successful invoke's ``state`` is handed to the next; an answer without one fails."""
        stack: list[tuple[list[_Pair], int]] = [(pairs, 0)]
        while stack:
            if self.stopped:
                return False
            cfg = self.config
            part, failures = stack.pop()
            if self._expired(cfg, part):
                self._discard(shard, cfg, part, "RecordAgeExceeded", failures, None)
                continue
            extra = None
            if window is not None:
                extra = window.fields(shard, cfg.event_source_arn, final=False, early=False)
            outcome = self._invoke(
                [p[1] for p in part], lambda c=cfg, p=part: not self._expired(c, p), extra
            )
            if outcome.kind == "stopped":
                return False
            if outcome.kind == "throttled":
                self._discard(shard, cfg, part, "RecordAgeExceeded", failures, outcome)
                continue
            remaining: list[_Pair] | None = None
            if outcome.kind == "ok" and (window is None or window.take_state(outcome.payload)):
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
        outcome: Outcome | None,
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
            "timestamp": iso_ms(time.time()),
            self.source.batch_info: {
                "shardId": shard,
                "startSequenceNumber": self.source.sequence(first),
                "endSequenceNumber": self.source.sequence(last),
                "approximateArrivalOfFirstRecord": iso_ms(self.source.arrival(first)),
                "approximateArrivalOfLastRecord": iso_ms(self.source.arrival(last)),
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


def stream_poller(mapping: _Mapping, host: EventSourceMappings) -> StreamPoller:
    """The poller of a Kinesis or DynamoDB Streams mapping."""
    source = _Kinesis() if mapping.config.source == "kinesis" else _DynamoDB()
    return StreamPoller(mapping, host, source)
