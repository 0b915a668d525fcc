"""Observability: the store (SQLite), logs, metrics, traces (X-Ray), alarms and cost.

Private modules, one concern each: ``_store`` (the SQLite store and its batching writer),
``_logs`` (log events from an invocation's log, Embedded Metric Format), ``_stats``
(statistics over periods), ``_alarms`` (metric alarm evaluation), ``_cost`` (AWS list prices),
``_xray`` (the X-Ray daemon, the segments Lambda records, trace trees), ``_recorder`` (the
service's link to the store), ``_retention`` (the store's size limit: the oldest records go).
Nothing here is on the invoke path except an append to the writer's queue and X-Ray's sampling
decision. Names are imported lazily (PEP 562).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AWS_LIST_PRICES": "._cost",
    "AlarmRunner": "._alarm_runner",
    "AlarmStateChange": "._alarm_runner",
    "AlarmValidationError": "._alarms",
    "Cost": "._cost",
    "CostBreakdown": "._cost",
    "Datapoint": "._stats",
    "Evaluation": "._alarms",
    "FilterPattern": "._logs",
    "InvalidFilterPattern": "._logs",
    "LOG_LEVELS": "._logs",
    "LambdaMetrics": "._metrics",
    "LogEvent": "._logs",
    "LogFollower": "._store",
    "MetricAlarm": "._alarms",
    "MetricPoint": "._logs",
    "MotoMetricData": "._metrics",
    "PriceList": "._cost",
    "PricingError": "._cost",
    "CostReport": "._billing",
    "cost_report": "._billing",
    "invocation_costs": "._billing",
    "Recorder": "._recorder",
    "ProvisionedConcurrencyUsage": "._cost",
    "SamplingRule": "._xray",
    "Statistic": "._stats",
    "StatisticsError": "._stats",
    "Store": "._store",
    "StoreError": "._store",
    "Usage": "._cost",
    "XRayDaemon": "._xray",
    "aggregate": "._stats",
    "emf_metrics": "._logs",
    "evaluate": "._alarms",
    "event_level": "._logs",
    "invocation_cost": "._cost",
    "log_events": "._logs",
    "log_group_name": "._logs",
    "monthly_cost": "._cost",
    "parse_statistic": "._stats",
    "platform_segments": "._xray",
    "trace_tree": "._xray",
}

__all__: list[str] = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
