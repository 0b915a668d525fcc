"""Validation of event source mapping requests: the model's constraints and AWS's per-source
rules, with AWS's messages. Pure functions (the source checks take a boto3 client)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameterValueException

if TYPE_CHECKING:
    from ._mappings import MappingConfig

__all__ = [
    "BATCH_SIZES",
    "check_batching",
    "check_ranges",
    "check_source_params",
    "check_starting_position",
    "check_visibility",
    "describe_queue",
    "epoch",
    "on_failure_destination",
    "raise_validation",
    "same_function",
    "source_of",
    "validation",
]

#: (default, maximum) batch size per source; SQS FIFO queues take at most 10.
BATCH_SIZES = {"sqs": (10, 10_000), "kinesis": (100, 10_000), "dynamodb": (100, 10_000)}
_FIFO_MAX_BATCH = 10
_STREAM_ONLY = (
    ("ParallelizationFactor", "parallelization_factor"),
    ("MaximumRetryAttempts", "maximum_retry_attempts"),
    ("MaximumRecordAgeInSeconds", "maximum_record_age_in_seconds"),
    ("BisectBatchOnFunctionError", "bisect_batch_on_function_error"),
    ("TumblingWindowInSeconds", "tumbling_window_in_seconds"),
)
_MIN_RECORD_AGE = 60


def validation(value: object, member: str, constraint: str) -> str:
    return f"Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"


def raise_validation(problems: list[str]) -> None:
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise InvalidParameterValueException(
            f"{count} validation {noun} detected: " + "; ".join(problems)
        )


def check_starting_position(
    source: str, arn: str, position: str | None, timestamp: object | None
) -> None:
    """Streams need a StartingPosition (DynamoDB: not AT_TIMESTAMP); queues take none."""
    if source != "sqs":
        if position is None:
            raise InvalidParameterValueException(
                "1 validation error detected: Value null at 'startingPosition' failed to "
                "satisfy constraint: Member must not be null."
            )
        if source == "dynamodb" and position == "AT_TIMESTAMP":
            raise InvalidParameterValueException(
                f"Unsupported starting position for arn type: {arn}"
            )
        if position == "AT_TIMESTAMP" and timestamp is None:
            raise InvalidParameterValueException(
                "StartingPositionTimestamp must be specified when StartingPosition is AT_TIMESTAMP."
            )
    elif position is not None:
        raise InvalidParameterValueException(f"Unsupported starting position for arn type: {arn}")


#: member -> (request name, minimum, maximum), as botocore's model constrains them.
_RANGES = {
    "batch_size": ("batchSize", 1, 10_000),
    "maximum_batching_window_in_seconds": ("maximumBatchingWindowInSeconds", 0, 300),
    "parallelization_factor": ("parallelizationFactor", 1, 10),
    "maximum_retry_attempts": ("maximumRetryAttempts", -1, 10_000),
    "maximum_record_age_in_seconds": ("maximumRecordAgeInSeconds", -1, 604_800),
    "tumbling_window_in_seconds": ("tumblingWindowInSeconds", 0, 900),
    "max_items": ("maxItems", 1, 10_000),  # ListEventSourceMappings
}


def check_ranges(settings: Mapping[str, Any]) -> None:
    """The model's constraints: ranges, enums, types (boto3 checks some; curl does not)."""
    problems: list[str] = []
    for key, (member, low, high) in _RANGES.items():
        value = settings.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(validation(value, member, "Member must be an integer"))
        elif value < low:
            problems.append(
                validation(value, member, f"Member must have value greater than or equal to {low}")
            )
        elif value > high:
            problems.append(
                validation(value, member, f"Member must have value less than or equal to {high}")
            )
    scaling = settings.get("scaling_config")
    if scaling is not None:
        concurrency = scaling.get("MaximumConcurrency") if isinstance(scaling, Mapping) else None
        if isinstance(concurrency, int) and not 2 <= concurrency <= 1000:
            bound = (
                "greater than or equal to 2" if concurrency < 2 else "less than or equal to 1000"
            )
            problems.append(
                validation(
                    concurrency,
                    "scalingConfig.maximumConcurrency",
                    f"Member must have value {bound}",
                )
            )
    types = settings.get("function_response_types")
    if types is not None:
        if not isinstance(types, list) or len(types) > 1:
            problems.append(
                validation(
                    types,
                    "functionResponseTypes",
                    "Member must have length less than or equal to 1",
                )
            )
        elif types and types[0] != "ReportBatchItemFailures":
            problems.append(
                validation(
                    types,
                    "functionResponseTypes",
                    "Member must satisfy constraint: "
                    "[Member must satisfy enum value set: [ReportBatchItemFailures]]",
                )
            )
    position = settings.get("starting_position")
    if position is not None and position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
        problems.append(
            validation(
                position,
                "startingPosition",
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            )
        )
    raise_validation(problems)


def check_source_params(
    source: str, settings: Mapping[str, Any], destination_config: Mapping[str, Any] | None
) -> None:
    """Parameters that only one kind of source takes."""
    if source == "sqs":
        for name, key in _STREAM_ONLY:
            if settings.get(key) is not None:
                raise InvalidParameterValueException(
                    f"Unsupported {name} parameter for given event source mapping type."
                )
        if destination_config and (destination_config.get("OnFailure") or {}).get("Destination"):
            raise InvalidParameterValueException(
                "Unsupported DestinationConfig parameter for given event source mapping type."
            )
    elif settings.get("scaling_config") is not None:
        raise InvalidParameterValueException(
            "Unsupported ScalingConfig parameter for given event source mapping type."
        )
    age = settings.get("maximum_record_age_in_seconds")
    if isinstance(age, int) and age != -1 and age < _MIN_RECORD_AGE:
        raise InvalidParameterValueException(
            f"MaximumRecordAgeInSeconds must be -1 (infinite) or at least {_MIN_RECORD_AGE} "
            f"seconds: {age}"
        )
    if destination_config and destination_config.get("OnSuccess"):
        raise InvalidParameterValueException(
            "Unsupported DestinationConfig parameter for given event source mapping type."
        )


def on_failure_destination(source: str, destination_config: Mapping[str, Any] | None) -> str | None:
    if not destination_config or source == "sqs":
        return None
    destination = (destination_config.get("OnFailure") or {}).get("Destination")
    if not destination:
        return None
    parts = str(destination).split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("sqs", "sns"):
        raise InvalidParameterValueException(
            f"The provided destination config DestinationConfig(onSuccess=null, "
            f"onFailure=OnFailure(destination={destination})) is invalid: the on-failure "
            "destination of a stream must be an SQS queue or an SNS topic."
        )
    return str(destination)


def check_batching(config: MappingConfig) -> None:
    """Batch size against the source's limits and the batching window."""
    _, maximum = BATCH_SIZES[config.source]
    size, window = config.batch_size, config.maximum_batching_window_in_seconds
    if config.source == "sqs" and config.fifo:
        if window > 0:
            raise InvalidParameterValueException("Batching window is not supported for FIFO queues")
        if size > _FIFO_MAX_BATCH:
            raise InvalidParameterValueException(
                "Maximum batch size must be between 1 and 10 inclusive"
            )
    if config.source == "sqs" and size > 10 and window == 0:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )
    if size > maximum:
        raise_validation(
            [
                validation(
                    size, "batchSize", f"Member must have value less than or equal to {maximum}"
                )
            ]
        )


def check_visibility(config: MappingConfig, function_timeout: int) -> None:
    if config.source == "sqs" and function_timeout > config.visibility_timeout:
        raise InvalidParameterValueException(
            f"Queue visibility timeout: {config.visibility_timeout} seconds is less than "
            f"Function timeout: {function_timeout} seconds"
        )


def describe_queue(sqs: Any, config: MappingConfig) -> MappingConfig:
    """GetQueueUrl + GetQueueAttributes: the URL, FIFO-ness and visibility timeout."""
    parts = config.event_source_arn.split(":")
    kwargs = {"QueueName": parts[5]}
    if parts[4]:
        kwargs["QueueOwnerAWSAccountId"] = parts[4]
    url = sqs.get_queue_url(**kwargs)["QueueUrl"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout", "FifoQueue"]
    ).get("Attributes", {})
    fifo = attrs.get("FifoQueue", "false").lower() == "true" or parts[5].endswith(".fifo")
    return replace(
        config,
        queue_url=url,
        fifo=fifo,
        visibility_timeout=int(attrs.get("VisibilityTimeout", "30")),
    )


def source_of(arn: str) -> tuple[str, str]:
    """("sqs" | "kinesis" | "dynamodb", region) of an event source ARN."""
    parts = str(arn).split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        service, region, resource = parts[2], parts[3], parts[5]
        if service == "sqs" and resource:
            return "sqs", region
        if service == "kinesis" and resource.startswith("stream/"):
            return "kinesis", region
        if service == "dynamodb" and "/stream/" in resource:
            return "dynamodb", region
    raise InvalidParameterValueException(
        "Unrecognized event source, must be kinesis, dynamodb stream or sqs."
    )


def same_function(function_arn: str, name: str) -> bool:
    """ListEventSourceMappings' FunctionName filter: a name, ARN or partial ARN; unqualified
    matches every qualifier of that function."""
    wanted = name.split(":")
    if name.startswith("arn:"):
        wanted = wanted[6:]
    elif len(wanted) >= 3 and wanted[1] == "function":
        wanted = wanted[2:]
    ours = function_arn.split(":")[6:]
    if len(wanted) == 1:
        return ours[0] == wanted[0]
    return ours == wanted


def epoch(value: Any) -> float:
    """StartingPositionTimestamp: epoch seconds (JSON) or a datetime (Python callers)."""
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        raise_validation(
            [validation(value, "startingPositionTimestamp", "Member must be a timestamp")]
        )
        raise  # unreachable: _raise_validation raised
