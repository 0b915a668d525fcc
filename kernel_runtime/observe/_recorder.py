"""The link between the Lambda service and the store: what happened, recorded off the hot path.

The environment pools call :class:`Recorder` once per invocation, throttle and new
environment; every call only appends to the store's queue (a few microseconds), and the store's
writer process does the rest (log events, EMF metrics, the platform's X-Ray segments of sampled
requests with Active tracing, SQLite). The local X-Ray daemon's segments from handler code join
them by trace id.
"""

from __future__ import annotations

from typing import Any

from ._store import Store

__all__ = ["Recorder"]


class Recorder:
    """Records invocations, throttles, lifecycle transitions and metrics of one service."""

    def __init__(self, store: Store, *, region: str, account_id: str) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id

    def invocation(self, inv: Any, config: Any, invoked_function_arn: str | None) -> None:
        """One finished invocation (sync, async attempt or event source mapping batch).

        With Active tracing the writer adds the platform's segments when X-Ray's sampling rule
        chose the request (``Sampled=1`` in its header)."""
        self.store.record_invocation(
            inv,
            qualifier=config.version,
            function_arn=invoked_function_arn or config.function_arn,
            architecture=config.architecture,
            traced=(config.function_arn, self.region, self.account_id)
            if config.tracing_mode == "Active"
            else None,
        )

    def throttle(self, function_name: str, qualifier: Any, reason: str | None) -> None:
        self.store.record_throttle(
            function_name,
            qualifier=None if qualifier is None else str(qualifier),
            reason=reason or "ConcurrentInvocationLimitExceeded",
        )

    def environment(self, env: Any) -> None:
        """Follow a new environment's lifecycle (INITIALIZING ... DEAD)."""
        cfg = env.config
        env.listeners.append(
            self.store.lifecycle_listener(env.environment_id, cfg.function_name, cfg.version)
        )

    def metric(self, name: str, function_name: str, value: float, unit: str = "None") -> None:
        """A metric the service computes itself (async events, IteratorAge ...)."""
        self.store.record_metric(
            "AWS/Lambda", name, value, dimensions={"FunctionName": function_name}, unit=unit
        )

    def segment(self, document: dict[str, Any]) -> None:
        """A segment or subsegment from the X-Ray daemon (handler code's SDK)."""
        self.store.record_segments((document,))
