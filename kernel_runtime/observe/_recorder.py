"""The link between the Lambda service and the store: what happened, recorded off the hot path.

The environment pools call :class:`Recorder` once per invocation, throttle and new
environment; every call only appends to the store's queue (a few microseconds), and the store's
writer thread does the rest (log events, EMF metrics, SQLite). With active tracing the platform's
X-Ray segments are recorded too, and the local X-Ray daemon's segments from handler code join
them by trace id.
"""

from __future__ import annotations

from typing import Any

from ._store import Store
from ._xray import platform_segments

__all__ = ["Recorder"]


class Recorder:
    """Records invocations, throttles, lifecycle transitions and metrics of one service."""

    def __init__(self, store: Store, *, region: str, account_id: str) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id

    def invocation(self, inv: Any, config: Any, invoked_function_arn: str | None) -> None:
        """One finished invocation (sync, async attempt or event source mapping batch)."""
        self.store.record_invocation(
            inv,
            qualifier=config.version,
            function_arn=invoked_function_arn or config.function_arn,
            architecture=config.architecture,
        )
        # only sampled requests have segments (Active tracing; X-Ray's sampling rule decided)
        if config.tracing_mode == "Active" and "Sampled=1" in inv.trace_id:
            segments = platform_segments(
                inv,
                function_arn=config.function_arn,
                region=self.region,
                account_id=self.account_id,
            )
            if segments:
                self.store.record_segments(segments)

    def throttle(self, function_name: str, qualifier: Any, reason: str | None) -> None:
        self.store.record_throttle(
            function_name,
            qualifier=None if qualifier is None else str(qualifier),
            reason=reason or "ConcurrentInvocationLimitExceeded",
        )

    def environment(self, env: Any) -> None:
        """Follow a new environment's lifecycle (INITIALIZING ... DEAD)."""
        record = self.store.record_lifecycle
        env_id, name, version = env.environment_id, env.config.function_name, env.config.version

        def transition(environment: Any, state: Any, at: float) -> None:
            record(env_id, name, version, state, at)  # State is a str: stored as its text

        env.listeners.append(transition)

    def metric(self, name: str, function_name: str, value: float, unit: str = "None") -> None:
        """A metric the service computes itself (async events, IteratorAge ...)."""
        self.store.record_metric(
            "AWS/Lambda", name, value, dimensions={"FunctionName": function_name}, unit=unit
        )

    def segment(self, document: dict[str, Any]) -> None:
        """A segment or subsegment from the X-Ray daemon (handler code's SDK)."""
        self.store.record_segments((document,))
