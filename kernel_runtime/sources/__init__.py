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

_EXPORTS: dict[str, str] = {}

__all__: list[str] = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
