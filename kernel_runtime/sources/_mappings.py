"""Event source mappings: the control plane of the sources Lambda polls (SQS, Kinesis,
DynamoDB Streams).

:class:`EventSourceMappings` answers Create/List/Get/Update/DeleteEventSourceMapping with AWS's
request and response shapes, validation (``_mapping_checks``) and error messages, and runs one
poller per enabled mapping (``_pollers`` for SQS, ``_streams`` for Kinesis and DynamoDB).
Pollers reach the sources through plain boto3 clients from ``client_factory(service_name,
region)``, so the same mapping polls the embedded moto, a LocalStack or real AWS.

A mapping's settings are an immutable :class:`MappingConfig`; an update swaps it and the poller
reads the new one before its next batch, so an update never tears a batch in half.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from ._mapping_checks import (
    BATCH_SIZES,
    check_batching,
    check_ranges,
    check_source_params,
    check_starting_position,
    check_visibility,
    describe_queue,
    epoch,
    on_failure_destination,
    same_function,
    source_of,
)
from ._patterns import FilterCriteria

__all__ = [
    "EventSourceMappings",
    "MappingConfig",
    "MappingStats",
    "ResourceInUseException",
]

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], Any]
MetricCallback = Callable[[str, str, float], None]

_IN_TRANSITION = ("Creating", "Enabling", "Disabling", "Updating", "Deleting")
_MAX_ITEMS = 100


class ResourceInUseException(LambdaError):
    """The mapping is between two states (Creating, Updating, Deleting ...): try again."""

    code = "ResourceInUseException"
    status = 400


@dataclass(frozen=True)
class MappingConfig:
    """One mapping's settings (what Create/Update set), in snake_case AWS names."""

    uuid: str
    source: str  # "sqs" | "kinesis" | "dynamodb"
    event_source_arn: str
    function_arn: str
    region: str
    batch_size: int
    maximum_batching_window_in_seconds: int = 0
    enabled: bool = True
    filter_criteria: FilterCriteria | None = None
    function_response_types: tuple[str, ...] = ()
    # SQS
    queue_url: str | None = None
    fifo: bool = False
    visibility_timeout: int = 30
    maximum_concurrency: int | None = None
    # streams
    starting_position: str | None = None
    starting_position_timestamp: float | None = None
    parallelization_factor: int = 1
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    bisect_batch_on_function_error: bool = False
    tumbling_window_in_seconds: int = 0
    on_failure: str | None = None
    metrics_config: Mapping[str, Any] | None = None

    @property
    def function_name(self) -> str:
        """The unqualified function name (metrics are reported under it)."""
        return self.function_arn.split(":")[6]

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class MappingStats:
    """What one mapping's poller did so far (a snapshot; the tests and the notebooks read it).

    ``polled``: records read from the source; ``filtered_out``: dropped by FilterCriteria
    (SQS deletes them); ``invoked_records``: records handed to the function; ``deleted``: SQS
    messages deleted after success or filtering; ``discarded``: stream records given up on;
    ``sent_to_destination``: invocation records delivered to OnFailure; ``iterator_age_ms``:
    the last batch's IteratorAge (streams)."""

    batches: int = 0
    polled: int = 0
    invoked_records: int = 0
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    filtered_out: int = 0
    deleted: int = 0
    discarded: int = 0
    sent_to_destination: int = 0
    destination_failures: int = 0
    iterator_age_ms: float | None = None
    concurrency: int = 0


class _Counters:
    """Mutable, thread-safe counters behind :class:`MappingStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {f.name: f.default for f in fields(MappingStats)}

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                self._values[name] += delta

    def set(self, **values: Any) -> None:
        with self._lock:
            self._values.update(values)

    def snapshot(self) -> MappingStats:
        with self._lock:
            return MappingStats(**self._values)


@dataclass
class _Mapping:
    """The live mapping: its current config and state, the poller running it, its counters
    and (streams) the checkpoint of every shard, kept across disable/enable."""

    config: MappingConfig
    state: str
    last_modified: float
    state_reason: str
    last_processing_result: str = "No records processed"
    poller: Any = None
    counters: _Counters = field(default_factory=_Counters)
    checkpoints: dict[str, str] = field(default_factory=dict)


class EventSourceMappings:
    """The event source mappings of one :class:`~kernel_runtime.service._service.LambdaService`.

    ``client_factory(service_name, region)`` returns boto3 clients for the sources (default:
    the service's deliverer, i.e. the AWS endpoint the functions use). Poll pacing is
    configurable so tests run fast: ``sqs_wait_time_s`` (long poll, capped below the client's
    read timeout), ``kinesis_poll_interval_s`` (AWS: ~1/s per shard),
    ``dynamodb_poll_interval_s`` (AWS: ~4/s), ``sqs_initial_concurrency`` (AWS starts with 5
    concurrent batches per queue) and ``retry_backoff_s`` (first pause between stream retries,
    doubling up to 1 s). ``on_metric(name, function_name, value)`` receives ``IteratorAge``.
    """

    def __init__(
        self,
        service: Any,
        client_factory: ClientFactory | None = None,
        *,
        sqs_wait_time_s: int = 20,
        sqs_initial_concurrency: int = 5,
        kinesis_poll_interval_s: float = 1.0,
        dynamodb_poll_interval_s: float = 0.25,
        retry_backoff_s: float = 0.1,
        on_metric: MetricCallback | None = None,
    ) -> None:
        self.service = service
        self._client_factory = client_factory
        self.sqs_wait_time_s = sqs_wait_time_s
        self.sqs_initial_concurrency = sqs_initial_concurrency
        self.kinesis_poll_interval_s = kinesis_poll_interval_s
        self.dynamodb_poll_interval_s = dynamodb_poll_interval_s
        self.retry_backoff_s = retry_backoff_s
        self.on_metric = on_metric
        self._lock = threading.RLock()
        self._mappings: dict[str, _Mapping] = {}
        self._closed = False

    # -- what pollers use --------------------------------------------------------------------
    def client(self, service_name: str, region: str) -> Any:
        """A boto3 client for a source (looked up on each call: the endpoint may change)."""
        if self._client_factory is not None:
            return self._client_factory(service_name, region)
        return self.service.deliverer._client(service_name, region)

    @property
    def speed(self) -> float:
        """The platform clock's speed: batching windows and record ages are platform time."""
        return float(getattr(self.service.clock, "speed", 1.0) or 1.0)

    def metric(self, name: str, function_name: str, value: float) -> None:
        if self.on_metric is not None:
            try:
                self.on_metric(name, function_name, value)
            except Exception:  # a broken listener must not stop a poller
                log.exception("on_metric listener failed for %s", name)

    def deliver(self, target_arn: str, body: bytes) -> None:
        """Send an invocation record to an OnFailure destination (SQS queue or SNS topic):
        through the service's deliverer, or this manager's clients when it has its own."""
        if self._client_factory is None:
            self.service.deliverer.deliver(target_arn, body, None, kind="destination")
            return
        parts = target_arn.split(":")
        if parts[2] == "sqs":
            sqs = self.client("sqs", parts[3])
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
            sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body.decode())
        else:
            self.client("sns", parts[3]).publish(TopicArn=target_arn, Message=body.decode())

    def transition(self, mapping: _Mapping, to: str, *, only_from: tuple[str, ...]) -> None:
        """Move ``mapping`` to state ``to`` if it is still in one of ``only_from``."""
        with self._lock:
            if mapping.state in only_from:
                mapping.state = to

    # -- the API -------------------------------------------------------------------------------
    def create_event_source_mapping(
        self,
        function_name: str,
        event_source_arn: str | None = None,
        *,
        enabled: bool | None = None,
        batch_size: int | None = None,
        maximum_batching_window_in_seconds: int | None = None,
        starting_position: str | None = None,
        starting_position_timestamp: float | None = None,
        filter_criteria: Mapping[str, Any] | None = None,
        function_response_types: list[str] | None = None,
        scaling_config: Mapping[str, Any] | None = None,
        parallelization_factor: int | None = None,
        maximum_retry_attempts: int | None = None,
        maximum_record_age_in_seconds: int | None = None,
        bisect_batch_on_function_error: bool | None = None,
        tumbling_window_in_seconds: int | None = None,
        destination_config: Mapping[str, Any] | None = None,
        metrics_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """CreateEventSourceMapping: validates, starts polling, answers in state Creating."""
        if not event_source_arn:
            raise InvalidParameterValueException("Unrecognized event source.")
        source, region = source_of(event_source_arn)
        settings: dict[str, Any] = {
            "enabled": enabled,
            "batch_size": batch_size,
            "maximum_batching_window_in_seconds": maximum_batching_window_in_seconds,
            "starting_position": starting_position,
            "starting_position_timestamp": starting_position_timestamp,
            "function_response_types": function_response_types,
            "scaling_config": scaling_config,
            "parallelization_factor": parallelization_factor,
            "maximum_retry_attempts": maximum_retry_attempts,
            "maximum_record_age_in_seconds": maximum_record_age_in_seconds,
            "bisect_batch_on_function_error": bisect_batch_on_function_error,
            "tumbling_window_in_seconds": tumbling_window_in_seconds,
        }
        check_ranges(settings)
        check_starting_position(
            source, event_source_arn, starting_position, starting_position_timestamp
        )
        check_source_params(source, settings, destination_config)
        on_failure = on_failure_destination(source, destination_config)
        criteria = FilterCriteria.from_api(filter_criteria, source=f"aws:{source}")
        function_arn, timeout = self._function(function_name)
        default_size, _ = BATCH_SIZES[source]
        config = MappingConfig(
            uuid=str(uuid.uuid4()),
            source=source,
            event_source_arn=event_source_arn,
            function_arn=function_arn,
            region=region,
            batch_size=default_size if batch_size is None else batch_size,
            maximum_batching_window_in_seconds=maximum_batching_window_in_seconds or 0,
            enabled=True if enabled is None else bool(enabled),
            filter_criteria=criteria,
            function_response_types=tuple(function_response_types or ()),
            maximum_concurrency=(scaling_config or {}).get("MaximumConcurrency"),
            starting_position=starting_position,
            starting_position_timestamp=(
                epoch(starting_position_timestamp)
                if starting_position_timestamp is not None
                else None
            ),
            parallelization_factor=parallelization_factor or 1,
            maximum_retry_attempts=(
                -1 if maximum_retry_attempts is None else maximum_retry_attempts
            ),
            maximum_record_age_in_seconds=(
                -1 if maximum_record_age_in_seconds is None else maximum_record_age_in_seconds
            ),
            bisect_batch_on_function_error=bool(bisect_batch_on_function_error),
            tumbling_window_in_seconds=tumbling_window_in_seconds or 0,
            on_failure=on_failure,
            metrics_config=dict(metrics_config) if metrics_config else None,
        )
        config = self._check_source(config)
        check_batching(config)
        check_visibility(config, timeout)
        with self._lock:
            if self._closed:
                raise ResourceConflictException("The event source mappings are closed.")
            self._check_duplicate(config)
            reason = "USER_INITIATED" if source == "sqs" else "User action"
            mapping = _Mapping(config, "Creating", time.time(), reason)
            self._mappings[config.uuid] = mapping
            answer = self._describe(mapping)
            if config.enabled:
                self._start(mapping)
            else:
                mapping.state = "Disabled"
        return answer

    def get_event_source_mapping(self, uuid_: str) -> dict[str, Any]:
        with self._lock:
            return self._describe(self._get(uuid_))

    def list_event_source_mappings(
        self,
        event_source_arn: str | None = None,
        function_name: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        """ListEventSourceMappings, in creation order; ``NextMarker`` is the next UUID."""
        check_ranges({"max_items": max_items})
        with self._lock:
            selected = [
                m
                for m in self._mappings.values()
                if (event_source_arn is None or m.config.event_source_arn == event_source_arn)
                and (function_name is None or same_function(m.config.function_arn, function_name))
            ]
            start = 0
            if marker:
                ids = [m.config.uuid for m in selected]
                if marker not in ids:
                    raise InvalidParameterValueException(f"Invalid marker: {marker}")
                start = ids.index(marker)
            limit = max_items or _MAX_ITEMS
            page = selected[start : start + limit]
            answer: dict[str, Any] = {"EventSourceMappings": [self._describe(m) for m in page]}
            if start + limit < len(selected):
                answer["NextMarker"] = selected[start + limit].config.uuid
            return answer

    def update_event_source_mapping(
        self,
        uuid_: str,
        *,
        function_name: str | None = None,
        enabled: bool | None = None,
        batch_size: int | None = None,
        maximum_batching_window_in_seconds: int | None = None,
        filter_criteria: Mapping[str, Any] | None = None,
        function_response_types: list[str] | None = None,
        scaling_config: Mapping[str, Any] | None = None,
        parallelization_factor: int | None = None,
        maximum_retry_attempts: int | None = None,
        maximum_record_age_in_seconds: int | None = None,
        bisect_batch_on_function_error: bool | None = None,
        tumbling_window_in_seconds: int | None = None,
        destination_config: Mapping[str, Any] | None = None,
        metrics_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """UpdateEventSourceMapping: applies to the running poller from its next batch."""
        settings: dict[str, Any] = {
            "enabled": enabled,
            "batch_size": batch_size,
            "maximum_batching_window_in_seconds": maximum_batching_window_in_seconds,
            "function_response_types": function_response_types,
            "scaling_config": scaling_config,
            "parallelization_factor": parallelization_factor,
            "maximum_retry_attempts": maximum_retry_attempts,
            "maximum_record_age_in_seconds": maximum_record_age_in_seconds,
            "bisect_batch_on_function_error": bisect_batch_on_function_error,
            "tumbling_window_in_seconds": tumbling_window_in_seconds,
        }
        check_ranges(settings)
        with self._lock:
            mapping = self._get(uuid_)
            old = mapping.config
        check_source_params(old.source, settings, destination_config)
        changes: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
        changes.pop("scaling_config", None)
        if scaling_config is not None:
            changes["maximum_concurrency"] = scaling_config.get("MaximumConcurrency")
        if function_response_types is not None:
            changes["function_response_types"] = tuple(function_response_types)
        if filter_criteria is not None:
            changes["filter_criteria"] = FilterCriteria.from_api(
                filter_criteria, source=f"aws:{old.source}"
            )
        if destination_config is not None:
            changes["on_failure"] = on_failure_destination(old.source, destination_config)
        if metrics_config is not None:
            changes["metrics_config"] = dict(metrics_config) or None
        timeout: int | None = None
        if function_name is not None:
            changes["function_arn"], timeout = self._function(function_name)
        elif old.source == "sqs" and old.queue_url is not None:
            _, timeout = self._function(old.function_arn)
        new = replace(old, **changes)
        check_batching(new)
        if timeout is not None and new.source == "sqs":
            new = self._check_source(new)
            check_visibility(new, timeout)
        with self._lock:
            mapping = self._get(uuid_)
            if mapping.state in _IN_TRANSITION:
                raise ResourceInUseException(
                    "Cannot update the event source mapping because it is in use."
                )
            mapping.config = new
            mapping.last_modified = time.time()
            if new.enabled and not old.enabled:
                mapping.state = "Enabling"
                answer = self._describe(mapping)
                self._start(mapping)
            elif old.enabled and not new.enabled:
                mapping.state = "Disabling"
                answer = self._describe(mapping)
                self._stop(mapping, then="Disabled")
            else:
                mapping.state = "Updating"
                answer = self._describe(mapping)
                mapping.state = "Enabled" if new.enabled else "Disabled"
            return answer

    def delete_event_source_mapping(self, uuid_: str) -> dict[str, Any]:
        """DeleteEventSourceMapping: stops polling; answers in state Deleting (202)."""
        with self._lock:
            mapping = self._get(uuid_)
            if mapping.state == "Deleting":
                raise ResourceInUseException(
                    "Cannot delete the event source mapping because it is in use."
                )
            mapping.state = "Deleting"
            answer = self._describe(mapping)
            self._stop(mapping, then=None)
            return answer

    def stats(self, uuid_: str) -> MappingStats:
        """Counters of one mapping's poller (ResourceNotFoundException if unknown)."""
        with self._lock:
            return self._get(uuid_).counters.snapshot()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop every poller: signal them all, then wait for them at most ``timeout_s``."""
        with self._lock:
            self._closed = True
            pollers = [m.poller for m in self._mappings.values() if m.poller is not None]
            for mapping in self._mappings.values():
                mapping.poller = None
        for poller in pollers:
            poller.stop()
        deadline = time.monotonic() + timeout_s
        for poller in pollers:
            poller.join(max(0.0, deadline - time.monotonic()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._mappings)

    # -- helpers -------------------------------------------------------------------------------
    def _get(self, uuid_: str) -> _Mapping:
        mapping = self._mappings.get(uuid_)
        if mapping is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return mapping

    def _function(self, function_name: str) -> tuple[str, int]:
        """The function's ARN (qualified if the name was) and its timeout."""
        try:
            target = self.service.registry.resolve(function_name)
        except ResourceNotFoundException:
            raise InvalidParameterValueException("Function does not exist") from None
        base = target.config.function_arn
        if target.alias is not None:
            arn = f"{base}:{target.alias}"
        elif target.version != "$LATEST" or function_name.endswith(":$LATEST"):
            arn = f"{base}:{target.version}"
        else:
            arn = base
        return arn, int(target.config.timeout)

    def _check_source(self, config: MappingConfig) -> MappingConfig:
        """The source exists; SQS: its URL, FIFO-ness and visibility timeout."""
        from botocore.exceptions import BotoCoreError, ClientError

        arn = config.event_source_arn
        try:
            if config.source == "sqs":
                return describe_queue(self.client("sqs", config.region), config)
            if config.source == "kinesis":
                self.client("kinesis", config.region).describe_stream_summary(StreamARN=arn)
            else:
                self.client("dynamodbstreams", config.region).describe_stream(StreamArn=arn)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if config.source == "sqs":
                if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
                    code = "AWS.SimpleQueueService.NonExistentQueue"
                raise InvalidParameterValueException(
                    f"Error occurred while ReceiveMessage. SQS Error Code: {code}. "
                    f"SQS Error Message: {error.get('Message', '')}"
                ) from None
            raise InvalidParameterValueException(f"Stream not found: {arn}") from None
        except BotoCoreError as exc:  # no endpoint, connection refused ...
            raise InvalidParameterValueException(
                f"Cannot reach the event source {arn}: {exc}"
            ) from None
        return config

    def _check_duplicate(self, config: MappingConfig) -> None:
        for other in self._mappings.values():
            same = other.config
            if (
                same.event_source_arn == config.event_source_arn
                and same.function_arn == config.function_arn
            ):
                name = config.function_name
                if config.source == "sqs":
                    raise ResourceConflictException(
                        f'An event source mapping with SQS arn (" {same.event_source_arn} ") '
                        f'and function (" {name} ") already exists. Please update or delete '
                        f"the existing mapping with UUID {same.uuid}"
                    )
                raise ResourceConflictException(
                    f'The event source arn (" {same.event_source_arn} ") and function '
                    f'(" {name} ") provided mapping already exists. Please update or delete '
                    f"the existing mapping with UUID {same.uuid}"
                )

    def _start(self, mapping: _Mapping) -> None:
        """Start a poller for ``mapping`` (under the lock); it moves the state to Enabled."""
        from ._pollers import SqsPoller
        from ._streams import stream_poller

        if mapping.config.source == "sqs":
            mapping.poller = SqsPoller(mapping, self)
        else:
            mapping.poller = stream_poller(mapping, self)
        mapping.poller.start()

    def _stop(self, mapping: _Mapping, *, then: str | None) -> None:
        """Signal the poller and, once it has wound down, set ``then`` (None: remove)."""
        poller, mapping.poller = mapping.poller, None
        if poller is not None:
            poller.stop()

        def finish() -> None:
            if poller is not None:
                poller.join(self.sqs_wait_time_s + 5.0)
            with self._lock:
                if then is None:
                    if self._mappings.get(mapping.config.uuid) is mapping:
                        del self._mappings[mapping.config.uuid]
                elif mapping.state == "Disabling":
                    mapping.state = then

        threading.Thread(target=finish, name="esm-stop", daemon=True).start()

    def _describe(self, mapping: _Mapping) -> dict[str, Any]:
        """The EventSourceMappingConfiguration shape, as AWS answers for this source."""
        c = mapping.config
        account = c.function_arn.split(":")[4]
        out: dict[str, Any] = {
            "UUID": c.uuid,
            "BatchSize": c.batch_size,
            "MaximumBatchingWindowInSeconds": c.maximum_batching_window_in_seconds,
            "EventSourceArn": c.event_source_arn,
            "FunctionArn": c.function_arn,
            "LastModified": round(mapping.last_modified, 3),
            "State": mapping.state,
            "StateTransitionReason": mapping.state_reason,
            "FunctionResponseTypes": list(c.function_response_types),
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{c.region}:{account}:event-source-mapping:{c.uuid}"
            ),
        }
        if c.filter_criteria is not None:
            out["FilterCriteria"] = c.filter_criteria.to_api()
        if c.metrics_config:
            out["MetricsConfig"] = dict(c.metrics_config)
        if c.source == "sqs":
            if c.maximum_concurrency is not None:
                out["ScalingConfig"] = {"MaximumConcurrency": c.maximum_concurrency}
            return out
        out.update(
            {
                "StartingPosition": c.starting_position,
                "ParallelizationFactor": c.parallelization_factor,
                "LastProcessingResult": mapping.last_processing_result,
                "DestinationConfig": {
                    "OnFailure": {"Destination": c.on_failure} if c.on_failure else {}
                },
                "MaximumRecordAgeInSeconds": c.maximum_record_age_in_seconds,
                "BisectBatchOnFunctionError": c.bisect_batch_on_function_error,
                "MaximumRetryAttempts": c.maximum_retry_attempts,
                "TumblingWindowInSeconds": c.tumbling_window_in_seconds,
            }
        )
        if c.starting_position_timestamp is not None:
            out["StartingPositionTimestamp"] = c.starting_position_timestamp
        return out
