"""Event sources: builders for every AWS event shape, the sources that push (S3, SNS,
EventBridge rules and schedules) and the ones Lambda polls (event source mappings for SQS,
Kinesis and DynamoDB Streams).

Private modules, one concern each: ``_events`` (event builders), ``_patterns`` (event patterns
and filter criteria), ``_schedule`` (rate() and cron() expressions), ``_push`` (moto's push
paths hooked to the Lambda service), ``_mappings`` (event source mappings and their pollers).
Names are imported lazily (PEP 562).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "EVENT_SOURCES": "._events",
    "EventField": "._events",
    "EventPattern": "._patterns",
    "EventSource": "._events",
    "EventSourceMappings": "._mappings",
    "FilterCriteria": "._patterns",
    "InvalidEventError": "._events",
    "InvalidEventPattern": "._patterns",
    "InvalidScheduleExpression": "._schedule",
    "MappingStats": "._mappings",
    "ScheduleExpression": "._schedule",
    "alb_event": "._events",
    "api_gateway_http_event": "._events",
    "api_gateway_rest_event": "._events",
    "build_event": "._events",
    "cloudwatch_logs_event": "._events",
    "custom_event": "._events",
    "dynamodb_event": "._events",
    "dynamodb_record": "._events",
    "encode_s3_key": "._events",
    "eventbridge_event": "._events",
    "from_dynamodb_json": "._events",
    "function_url_event": "._events",
    "kinesis_event": "._events",
    "kinesis_record": "._events",
    "s3_event": "._events",
    "s3_record": "._events",
    "scheduled_event": "._events",
    "sns_event": "._events",
    "sns_record": "._events",
    "sqs_event": "._events",
    "sqs_record": "._events",
    "to_dynamodb_json": "._events",
}

__all__: list[str] = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
