"""The event source mapping operations of the Lambda REST API.

Registered in ``_lambda``'s route table on import (``_lambda`` imports this module last). The
handlers turn JSON members into the snake_case arguments of
:class:`~kernel_runtime.sources._mappings.EventSourceMappings`, which the runtime attaches to
the service as ``service.event_source_mappings``.
"""

from __future__ import annotations

from typing import Any

from ._errors import ApiError
from ._lambda import LambdaRestApi, _Request, _required, _route, _validation

__all__: list[str] = []

#: JSON member -> keyword argument, shared by Create and Update.
_COMMON = {
    "Enabled": "enabled",
    "BatchSize": "batch_size",
    "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
    "FilterCriteria": "filter_criteria",
    "FunctionResponseTypes": "function_response_types",
    "ScalingConfig": "scaling_config",
    "ParallelizationFactor": "parallelization_factor",
    "MaximumRetryAttempts": "maximum_retry_attempts",
    "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
    "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
    "TumblingWindowInSeconds": "tumbling_window_in_seconds",
    "DestinationConfig": "destination_config",
    "MetricsConfig": "metrics_config",
}
_CREATE_ONLY = {
    "StartingPosition": "starting_position",
    "StartingPositionTimestamp": "starting_position_timestamp",
}


def _mappings(api: LambdaRestApi) -> Any:
    mappings = getattr(api.service, "event_source_mappings", None)
    if mappings is None:
        raise ApiError(
            "ServiceException", 500, "Event source mappings are not enabled in this runtime."
        )
    return mappings


def _arguments(body: dict[str, Any], members: dict[str, str]) -> dict[str, Any]:
    return {arg: body[member] for member, arg in members.items() if body.get(member) is not None}


def _uuid(req: _Request) -> str:
    """The UUID path member: exactly 36 characters (the model's bounds)."""
    value = req.params[0]
    if len(value) != 36:
        bound = "greater than or equal to" if len(value) < 36 else "less than or equal to"
        raise _validation(value, "uUID", f"Member must have length {bound} 36")
    return value


@_route("POST", "event-source-mappings", "CreateEventSourceMapping", 202)
def create_event_source_mapping(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    body = req.json()
    return _mappings(api).create_event_source_mapping(
        _required(body, "FunctionName", "functionName"),
        body.get("EventSourceArn"),
        **_arguments(body, {**_COMMON, **_CREATE_ONLY}),
    )


@_route("GET", "event-source-mappings", "ListEventSourceMappings")
def list_event_source_mappings(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    return _mappings(api).list_event_source_mappings(
        event_source_arn=req.query("EventSourceArn"),
        function_name=req.query("FunctionName"),
        marker=req.query("Marker"),
        max_items=req.query_int("MaxItems", "maxItems"),
    )


@_route("GET", "event-source-mappings/*", "GetEventSourceMapping")
def get_event_source_mapping(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    return _mappings(api).get_event_source_mapping(_uuid(req))


@_route("PUT", "event-source-mappings/*", "UpdateEventSourceMapping", 202)
def update_event_source_mapping(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    body = req.json()
    members = {**_COMMON, "FunctionName": "function_name"}
    return _mappings(api).update_event_source_mapping(_uuid(req), **_arguments(body, members))


@_route("DELETE", "event-source-mappings/*", "DeleteEventSourceMapping", 202)
def delete_event_source_mapping(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    return _mappings(api).delete_event_source_mapping(_uuid(req))
