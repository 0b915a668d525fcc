"""The Lambda service facade: the control plane (registry) and the data plane (pools, async
queue) behind one object with the Invoke API's semantics. The HTTP edge and the Python front
object both call this; nothing here knows about HTTP."""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .._ids import request_id
from ..errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from ..invocation import Invocation
from ..sandbox import Sandbox
from . import _policy as policy
from ._async import AsyncEvent, AsyncInvoker, AttemptResult, EventInvokeConfig
from ._destinations import Boto3Deliverer, Deliverer, DeliveryError
from ._pools import EnvironmentPools
from ._registry import Registry, ResolvedTarget

__all__ = ["INVOCATION_TYPES", "InvokeResult", "LambdaService"]

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
#: What handlers get as their execution role's credentials (the embedded services accept any).
EXECUTION_ROLE = {
    "AWS_ACCESS_KEY_ID": "ASIALAMBDALABEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "lambda-lab-execution-role-secret",
    "AWS_SESSION_TOKEN": "lambda-lab-execution-role-session",
}
CLIENT_CONTEXT_LIMIT = 3583


class InvokeResult(NamedTuple):
    """What the Invoke API answers: status code, body and the X-Amz-* headers' values (a
    named tuple: immutable, and built on every invoke in a fraction of a frozen dataclass's
    time)."""

    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    payload: bytes
    function_error: str | None
    log_result: str | None  # base64 last 4 KB, LogType=Tail only
    executed_version: str
    request_id: str
    invocation: Invocation | None = None


class _NoDestinations:
    """Deliverer used when no AWS endpoint is configured: every delivery fails, loudly."""

    def deliver(self, target_arn: str, body: bytes, attributes: Any = None, *, kind: str) -> None:
        raise DeliveryError(f"no AWS endpoint is configured to deliver to {target_arn}")


class LambdaService:
    """Functions, their environments and their invocations, with AWS's rules and shapes."""

    def __init__(
        self,
        *,
        root: Path,
        sandbox: Sandbox,
        clock: Any,
        limits: policy.Limits | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        deliverer: Deliverer | None = None,
        async_workers: int = 4,
        on_metric: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.clock = clock
        self.endpoint_url: str | None = None
        self.region = region
        self.account_id = account_id
        self.registry = Registry(Path(root), region=region, account_id=account_id)
        self.pools = EnvironmentPools(sandbox, limits=limits, now=clock.monotonic)
        self.deliverer: Deliverer = deliverer or _NoDestinations()
        self.async_invoker = AsyncInvoker(
            clock, self._run_async, self, workers=async_workers, on_metric=on_metric
        )
        self._random = random.Random()
        self._reaper_stop = threading.Event()
        #: Parts above the service that the Lambda API also answers for, attached by their
        #: owner (the runtime): event source mappings and function URLs. Closed with it.
        self.event_source_mappings: Any = None
        self.function_urls: Any = None
        self.registry.on_change(self._on_registry_change)
        self._schedule_reap()

    # -- the AWS endpoint -------------------------------------------------------------------------
    def connect_endpoint(self, url: str) -> None:
        """Point functions and async destinations at the AWS endpoint ``url`` (ours, or a
        LocalStack, or real AWS): handlers get AWS_ENDPOINT_URL and their execution role's
        credentials, so plain boto3 code reaches it. Call before environments start."""
        self.endpoint_url = url
        self.pools.sandbox.extra_environment.update({"AWS_ENDPOINT_URL": url, **EXECUTION_ROLE})
        self.deliverer = Boto3Deliverer(
            url,
            self.region,
            invoke_lambda=lambda arn, body: self.invoke(arn, body, invocation_type="Event"),
        )

    # -- Invoke ---------------------------------------------------------------------------------
    def invoke(
        self,
        function_name: str,
        payload: Any = b"",
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | None = None,
        trace_header: str | None = None,
    ) -> InvokeResult:
        """The Invoke API: RequestResponse (200), Event (202) or DryRun (204).

        ``payload`` as bytes is the request body (a JSON document, checked); any other value
        is the event itself, JSON-encoded once, where it is sent. ``trace_header`` is the
        caller's ``X-Amzn-Trace-Id`` (a function calling another passes its own): the
        invocation continues that trace, so a chain of functions is one trace.
        """
        if invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[Event, RequestResponse, DryRun]"
            )
        if log_type not in ("None", "Tail"):
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [None, Tail]"
            )
        raw = isinstance(payload, (bytes, bytearray, memoryview))
        body = bytes(payload) if raw else payload
        target = self.registry.resolve(function_name, qualifier)
        if raw and invocation_type != "DryRun":
            _check_json(body)  # before admission: a bad body must not cost an environment
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", None, None, target.version, request_id())
        if invocation_type == "Event":
            return self._invoke_async(
                target, body if raw else json.dumps(body).encode(), trace_header
            )
        version, config = target.choose(self._random.random)
        inv = self.pools.invoke(
            config,
            body,
            pool_key=self._pool_key(target, version),
            client_context=_client_context(client_context),
            invoked_function_arn=target.function_arn
            if qualifier or ":" in function_name
            else config.function_arn,
            trace_header=trace_header,
            checked=raw,  # _check_json parsed the bytes above
        )
        return InvokeResult(
            200,
            inv.payload,
            inv.function_error,
            inv.log_result if log_type == "Tail" else None,
            version,
            inv.request_id,
            inv,
        )

    def _pool_key(self, target: ResolvedTarget, version: str) -> str:
        """Environments are shared per version, except an alias with provisioned concurrency,
        whose environments serve that alias only (as on AWS)."""
        if target.alias is not None and self.pools.provisioned(target.function_name, target.alias):
            return target.alias
        return version

    def _invoke_async(
        self, target: ResolvedTarget, body: bytes, trace_header: str | None = None
    ) -> InvokeResult:
        config = self._event_invoke_config(target)
        dead_letter = (
            self.registry.get_function_configuration(target.function_name, target.version)
            .get("DeadLetterConfig", {})
            .get("TargetArn")
        )
        rid = self.async_invoker.submit(
            target.function_name,
            target.qualifier,
            body,
            function_arn=target.config.function_arn,
            config=config,
            dead_letter_arn=dead_letter,
            trace_header=trace_header,
        )
        return InvokeResult(202, b"", None, None, target.version, rid)

    def _event_invoke_config(self, target: ResolvedTarget) -> EventInvokeConfig:
        for qualifier in (target.qualifier, None):
            try:
                body = self.registry.get_function_event_invoke_config(
                    target.function_name, qualifier
                )
            except ResourceNotFoundException:
                continue
            return EventInvokeConfig.from_api(body)
        return EventInvokeConfig()

    def _run_async(self, event: AsyncEvent) -> AttemptResult:
        """One attempt of a queued event (called on the async queue's workers)."""
        try:
            target = self.registry.resolve(event.function_name, event.qualifier)
        except ResourceNotFoundException:
            return AttemptResult("error", 404, b"", None, event.qualifier, retryable=False)
        version, config = target.choose(self._random.random)
        try:
            inv = self.pools.invoke(
                config,
                event.payload,
                pool_key=self._pool_key(target, version),
                invoked_function_arn=target.function_arn,
                request_id_=event.request_id,
                trace_header=event.trace_header,
            )
        except TooManyRequestsException:
            # reserved concurrency 0: straight to failure handling, no retries (as on AWS)
            blocked = self.pools.reserved(event.function_name) == 0
            return AttemptResult("throttle", 429, b"", None, version, retryable=not blocked)
        except LambdaError as exc:
            return AttemptResult("error", exc.status, b"", None, version)
        if inv.function_error:
            return AttemptResult("function_error", 200, inv.payload, inv.function_error, version)
        return AttemptResult("success", 200, inv.payload, None, version)

    def deliver(self, target_arn: str, body: bytes, attributes: Any = None, *, kind: str) -> None:
        """The async queue's deliverer: whatever ``self.deliverer`` is now (the endpoint may
        start after the service)."""
        self.deliverer.deliver(target_arn, body, attributes, kind=kind)

    # -- concurrency ------------------------------------------------------------------------------
    def put_function_concurrency(self, function_name: str, reserved: int) -> dict[str, int]:
        name = self.registry.resolve(function_name).function_name
        self.pools.put_reserved(name, reserved)
        return self.registry.put_function_concurrency(name, reserved)

    def get_function_concurrency(self, function_name: str) -> dict[str, int]:
        return self.registry.get_function_concurrency(function_name)

    def delete_function_concurrency(self, function_name: str) -> None:
        name = self.registry.resolve(function_name).function_name
        self.registry.delete_function_concurrency(name)
        self.pools.put_reserved(name, None)

    def put_provisioned_concurrency_config(
        self, function_name: str, qualifier: str, provisioned: int
    ) -> dict[str, Any]:
        target = self.registry.resolve(function_name, qualifier)
        name = target.function_name
        problem = (
            policy.check_provisioned(
                self.pools._state, self.pools.limits, name, target.qualifier, provisioned
            )
            if isinstance(provisioned, int)
            else None
        )
        if problem:
            raise InvalidParameterValueException(problem)
        out = self.registry.put_provisioned_concurrency_config(name, qualifier, provisioned)
        self.pools.put_provisioned(target.config, target.qualifier, provisioned)
        return out

    def get_provisioned_concurrency_config(
        self, function_name: str, qualifier: str
    ) -> dict[str, Any]:
        target = self.registry.resolve(function_name, qualifier)
        status = self.pools.provisioned(target.function_name, target.qualifier)
        if status is not None:
            self.registry.set_provisioned_concurrency_status(
                target.function_name,
                target.qualifier,
                status=status.status,
                allocated=status.allocated,
                available=status.allocated,
                reason=status.status_reason,
            )
        return self.registry.get_provisioned_concurrency_config(function_name, qualifier)

    def delete_provisioned_concurrency_config(self, function_name: str, qualifier: str) -> None:
        target = self.registry.resolve(function_name, qualifier)
        self.registry.delete_provisioned_concurrency_config(function_name, qualifier)
        self.pools.delete_provisioned(target.function_name, target.qualifier)

    def get_account_settings(self) -> dict[str, Any]:
        """GetAccountSettings: limits and usage, in AWS's shape."""
        names = self.registry.function_names()
        total = 0
        for name in names:
            try:
                total += int(self.registry.get_function_configuration(name)["CodeSize"])
            except LambdaError:
                continue
        return {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": self.pools.limits.account_concurrency,
                "UnreservedConcurrentExecutions": self.pools.unreserved_available(),
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(names)},
        }

    # -- housekeeping ---------------------------------------------------------------------------
    def _on_registry_change(self, event: str, function_name: str, qualifier: str | None) -> None:
        if event in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
            self.pools.retire(function_name, "$LATEST")
        elif event == "DeleteFunction":
            if qualifier in (None, "$LATEST"):
                self.pools.remove_function(function_name)
            else:
                self.pools.retire(function_name, qualifier)

    def _schedule_reap(self) -> None:
        if self._reaper_stop.is_set():
            return
        interval = max(1.0, min(60.0, self.pools.limits.idle_timeout_s / 4))
        self.clock.call_later(interval, self._reap_tick)

    def _reap_tick(self) -> None:
        # the clock's callbacks must be short: shutting environments down is not
        threading.Thread(target=self._reap_and_reschedule, daemon=True).start()

    def _reap_and_reschedule(self) -> None:
        try:
            self.pools.reap()
        finally:
            self._schedule_reap()

    def close(self) -> None:
        self._reaper_stop.set()
        for part in (self.event_source_mappings, self.function_urls):
            if part is not None:
                part.close()
        self.async_invoker.close()
        self.pools.close()


def _check_json(body: bytes) -> None:
    if not body:
        return
    try:
        json.loads(body)
    except ValueError as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None


def _client_context(value: str | None) -> dict[str, Any] | None:
    """X-Amz-Client-Context: base64 JSON, at most 3,583 bytes."""
    if value is None:
        return None
    if len(value) > CLIENT_CONTEXT_LIMIT:
        raise InvalidParameterValueException(
            "Client context must be smaller than 3583 bytes after base64 encoding"
        )
    try:
        return json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None
