"""The front object: the whole local Lambda (sandbox, clock, service) behind one handle.

A kernel holds one :class:`LambdaRuntime`; each test makes its own. Everything a notebook, a
script or the HTTP edge does goes through the same :class:`~kernel_runtime.service._service.
LambdaService` underneath.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import _affinity
from ._autopin import AutoPin
from .aws import AwsServices
from .clock import PlatformClock
from .errors import ResourceNotFoundException
from .invocation import Invocation
from .sandbox import Sandbox
from .service._policy import Limits
from .service._service import InvokeResult, LambdaService

__all__ = ["Function", "LambdaRuntime"]


class Function:
    """A handle on one function: configure, publish, alias, invoke. Cheap to create; holds only
    the name, so it always reflects the service's current state."""

    def __init__(self, runtime: LambdaRuntime, name: str) -> None:
        self.runtime = runtime
        self.name = name

    @property
    def configuration(self) -> dict[str, Any]:
        """GetFunctionConfiguration of $LATEST (AWS's shape)."""
        return self.runtime.service.registry.get_function_configuration(self.name)

    def invoke(self, event: Any = None, *, qualifier: str | None = None) -> Invocation:
        """Synchronous invoke; raises TooManyRequestsException when throttled."""
        payload = b"" if event is None else event
        result = self.runtime.invoke(self.name, payload, qualifier=qualifier)
        assert result.invocation is not None
        return result.invocation

    def invoke_async(self, event: Any = None, *, qualifier: str | None = None) -> str:
        """InvocationType=Event: queued (202); returns the request id."""
        result = self.runtime.invoke(self.name, event, qualifier=qualifier, invocation_type="Event")
        return result.request_id

    def update_code(self, code: Any) -> dict[str, Any]:
        return self.runtime.service.registry.update_function_code(self.name, code)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """UpdateFunctionConfiguration with snake_case names (memory_size=256, timeout=10...)."""
        return self.runtime.service.registry.update_function_configuration(self.name, **changes)

    def publish(self, description: str | None = None) -> str:
        """PublishVersion; returns the version number."""
        out = self.runtime.service.registry.publish_version(self.name, description=description)
        return str(out["Version"])

    def alias(
        self, name: str, version: str, *, weights: dict[str, float] | None = None
    ) -> dict[str, Any]:
        """Create or update an alias, optionally routing ``weights`` to other versions."""
        registry = self.runtime.service.registry
        routing = {"AdditionalVersionWeights": weights} if weights else None
        try:
            registry.get_alias(self.name, name)
        except ResourceNotFoundException:
            return registry.create_alias(self.name, name, version, routing_config=routing)
        return registry.update_alias(
            self.name, name, function_version=version, routing_config=routing or {}
        )

    def set_reserved_concurrency(self, reserved: int | None) -> None:
        if reserved is None:
            self.runtime.service.delete_function_concurrency(self.name)
        else:
            self.runtime.service.put_function_concurrency(self.name, reserved)

    def set_provisioned_concurrency(self, qualifier: str, provisioned: int) -> dict[str, Any]:
        return self.runtime.service.put_provisioned_concurrency_config(
            self.name, qualifier, provisioned
        )

    def environments(self) -> list[Any]:
        return self.runtime.service.pools.environments(self.name)

    def create_url(
        self,
        auth_type: str = "NONE",
        *,
        qualifier: str | None = None,
        cors: dict[str, Any] | None = None,
    ) -> str:
        """CreateFunctionUrlConfig; returns the URL (``http://127.0.0.1:<port>/``)."""
        urls = self.runtime.function_urls
        config = urls.create_function_url_config(
            self.name, auth_type, qualifier=qualifier, cors=cors
        )
        return str(config["FunctionUrl"])

    def logs(
        self,
        *,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        pattern: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events of the function's log group with timestamps in [start, end) (epoch ms),
        matching a CloudWatch filter ``pattern``, oldest first (the first ``limit``), in
        FilterLogEvents' shape."""
        return self._store().log_events(
            self._log_group, start=start, end=end, pattern=pattern, limit=limit
        )

    def tail(
        self,
        callback: Callable[[list[dict[str, Any]]], None],
        *,
        pattern: str | None = None,
        from_start: bool = False,
    ) -> Any:
        """Live tail: ``callback`` gets each batch of new events of the function's log group
        (all of them with ``from_start``) on a background thread until the returned
        :class:`~kernel_runtime.observe.LogFollower` is ``stop()``-ped (or its ``with`` ends)."""
        return self._store().follow(
            self._log_group, callback, pattern=pattern, from_start=from_start
        )

    @property
    def _log_group(self) -> str:
        from .observe._logs import log_group_name

        return log_group_name(self.name)

    def _store(self) -> Any:
        if self.runtime.store is None:
            raise RuntimeError("this runtime was started with store=False")
        return self.runtime.store

    def delete(self) -> None:
        self.runtime.service.registry.delete_function(self.name)

    def __repr__(self) -> str:
        return f"<Function {self.name}>"


def default_store_path() -> Path:
    """``$LAMBDA_LAB_STORE``, else ``lambda-lab/store.sqlite3`` under the user's cache
    directory (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    explicit = os.environ.get("LAMBDA_LAB_STORE")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "lambda-lab" / "store.sqlite3"


class LambdaRuntime:
    """The local Lambda: start it, create functions, invoke them, close it.

    ``clock_speed`` scales platform timers (retry delays, backoff, reaping), never handler
    time. With ``endpoint`` (the default) an HTTP endpoint starts on ``host``:``port`` (0: any
    free port): the Lambda API for boto3 and the AWS CLI, every other service by the embedded
    moto; handlers get it as AWS_ENDPOINT_URL. ``aws_endpoint_url`` points functions, pollers
    and destinations at another AWS endpoint instead (a LocalStack, or real AWS). ``limits``
    holds the account's concurrency numbers (:class:`Limits`). Sandbox options
    (``launch_mode``, ``limits_backend``, ``freeze`` ...) pass through to
    :class:`~kernel_runtime.sandbox.Sandbox`.

    ``store`` is the SQLite file every invocation, log event, metric, trace and lifecycle event
    goes to (:attr:`store`): by default ``$LAMBDA_LAB_STORE`` or ``lambda-lab/store.sqlite3``
    in the user's cache directory, so it outlives the kernel; ``False`` records nothing.
    A local X-Ray daemon (``AWS_XRAY_DAEMON_ADDRESS`` in every environment) receives the
    segments handler code sends.

    ``pin_platform`` keeps this process's threads on one core (True: the first CPU it may
    use, or a CPU number), scheduled as a batch, while the runtime is open, and runs the
    environments on the other cores (the store's writer keeps them all): 1.5-2.0x the
    throughput of several threads invoking at once on 2 cores. It also confines the rest of
    this process (numpy's threads, say) and leaves a burst of cold starts one core less, so
    the default, ``"auto"``, does it only while the runtime's own Python is the bottleneck
    (several invocations in flight, over 1,000 a second, almost no cold starts; see
    :mod:`kernel_runtime._autopin`) and gives the cores back when that stops or a burst of
    cold starts begins. ``False`` never pins.
    """

    def __init__(
        self,
        *,
        home: str | Path | None = None,
        limits: Limits | None = None,
        clock_speed: float = 1.0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        limits_backend: str = "auto",
        endpoint: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        aws_endpoint_url: str | None = None,
        store: str | Path | bool | None = None,
        pin_platform: bool | int | str = "auto",
        **sandbox_options: Any,
    ) -> None:
        self._owns_home = home is None
        self._pinned = False
        self._autopin: AutoPin | None = None
        auto = isinstance(pin_platform, str)
        if auto and pin_platform != "auto":
            raise ValueError(
                f"pin_platform must be True, False, a CPU number or 'auto', not {pin_platform!r}"
            )
        if not auto and pin_platform is not False and _affinity.available():
            # before any process starts: the zygote is told which CPUs environments get
            _affinity.pin_process(None if pin_platform is True else int(pin_platform))
            self._pinned = True
        try:
            self._start(home, limits, clock_speed, region, account_id, limits_backend,
                        endpoint, host, port, aws_endpoint_url, store, sandbox_options)  # fmt: skip
        except BaseException:
            self._undo_start()
            raise
        if auto and _affinity.available():
            self._autopin = AutoPin(self.service.pools)

    def _undo_start(self) -> None:
        """A start that failed part-way leaves nothing behind: :meth:`close` once the runtime
        is whole enough for it (``_closed`` is set); before that only the home, the clock, the
        store (with its writer process) and the sandbox (with its zygote) can exist."""
        if hasattr(self, "_closed"):
            self.close()
            return
        for part in ("sandbox", "store", "clock"):
            made = getattr(self, part, None)
            if made is not None:
                made.close()
        if self._owns_home and getattr(self, "home", None) is not None:
            shutil.rmtree(self.home, ignore_errors=True)
        self._unpin()

    def _unpin(self) -> None:
        if self._pinned:
            self._pinned = False
            _affinity.unpin_process()

    def _start(
        self,
        home: str | Path | None,
        limits: Limits | None,
        clock_speed: float,
        region: str,
        account_id: str,
        limits_backend: str,
        endpoint: bool,
        host: str,
        port: int,
        aws_endpoint_url: str | None,
        store: str | Path | bool | None,
        sandbox_options: dict[str, Any],
    ) -> None:
        #: when this runtime started (epoch seconds): the store keeps earlier sessions too, so
        #: views of "this session" start here
        self.started_at = time.time()
        self.home = Path(tempfile.mkdtemp(prefix="lambda-lab-home-") if home is None else home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.clock = PlatformClock(clock_speed)
        self.store: Any = None
        self.recorder: Any = None
        self.xray: Any = None
        if store is not False:
            from .observe import Recorder, Store

            self.store = Store(default_store_path() if store in (None, True) else Path(store),
                               clock=self.clock)  # fmt: skip
            self.recorder = Recorder(self.store, region=region, account_id=account_id)
        self.sandbox = Sandbox(
            limits=limits_backend,
            work_dir=self.home / "sandbox",
            orphaned_dirs=(self.home,) if self._owns_home else (),
            **sandbox_options,
        )
        self.service = LambdaService(
            root=self.home / "registry",
            sandbox=self.sandbox,
            clock=self.clock,
            limits=limits,
            region=region,
            account_id=account_id,
            on_metric=self.recorder.metric if self.recorder is not None else None,
        )
        self._closed = False
        self.server: Any = None
        self.edge: Any = None
        self.aws: AwsServices | None = None
        self._front_doors: list[Any] = []
        self.metrics: Any = None  # the AWS/Lambda metrics, computed from the store
        self.alarm_runner: Any = None  # CloudWatch alarms evaluated on the platform clock
        if self.store is not None:
            from .observe import LambdaMetrics

            self.metrics = LambdaMetrics(self.store, self.service.pools, clock=self.clock)
        if self.recorder is not None:
            from .observe import XRayDaemon

            self.service.pools.observer = self.recorder
            self.sandbox.on_environment.append(self.recorder.environment)
            self.xray = XRayDaemon(on_segment=self.recorder.segment)
            self.sandbox.extra_environment["AWS_XRAY_DAEMON_ADDRESS"] = self.xray.address
        if endpoint:
            from .api import EdgeApp, EdgeServer

            self.edge = EdgeApp(self.service)
            if self.store is not None:  # metric reads and Lambda log groups, from the store
                from .api import CloudWatchInterceptor, LogsInterceptor

                self.edge.interceptors["monitoring"] = CloudWatchInterceptor(
                    self.metrics, region=region
                )
                self.edge.interceptors["logs"] = LogsInterceptor(
                    self.store, region=region, account_id=account_id
                )
            self.server = EdgeServer(self.edge, host=host, port=port)
            self.server.start()
            from .api import FunctionUrls

            self.service.function_urls = FunctionUrls(self.service)  # the edge answers for it
        url = aws_endpoint_url or (self.server.url if self.server is not None else None)
        if url is not None:
            self.aws = AwsServices(self.service, self.clock, url, embedded=aws_endpoint_url is None)
            from .sources._mappings import EventSourceMappings

            self.service.event_source_mappings = EventSourceMappings(
                self.service,
                on_metric=self.recorder.metric if self.recorder is not None else None,
            )
            if self.metrics is not None and self.aws.embedded:  # moto's alarms, evaluated
                self._start_alarm_runner(region, account_id)

    def _start_alarm_runner(self, region: str, account_id: str) -> None:
        """Evaluate the alarms users put into the embedded moto (which never does)."""
        from .observe import AlarmRunner

        assert self.aws is not None
        self.alarm_runner = AlarmRunner(
            self.metrics,
            self.clock,
            aws_client_factory=self.aws.client,
            invoke_function=lambda arn, event: self.service.invoke(
                arn, event, invocation_type="Event"
            ),
            region=region,
            account_id=account_id,
        ).start()
        if self.edge is not None and "monitoring" in self.edge.interceptors:
            self.edge.interceptors["monitoring"].alarms = self.alarm_runner

    @property
    def endpoint_url(self) -> str | None:
        """This runtime's edge endpoint (Lambda here, every other service by the embedded
        moto); None with ``endpoint=False``."""
        return self.server.url if self.server is not None else None

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service_name``: Lambda at this runtime's edge, every other
        service at the AWS endpoint functions use (the embedded moto, or ``aws_endpoint_url``)."""
        import boto3

        url = self.endpoint_url
        if service_name != "lambda" and self.aws is not None and not self.aws.embedded:
            url = self.aws.endpoint_url
        if url is None:
            raise RuntimeError("this runtime was started with endpoint=False")
        kwargs.setdefault("region_name", self.service.region)
        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        return boto3.client(service_name, endpoint_url=url, **kwargs)

    @property
    def function_urls(self) -> Any:
        """The function URLs (:class:`~kernel_runtime.api.FunctionUrls`), created on first use."""
        if self.service.function_urls is None:
            from .api import FunctionUrls

            self.service.function_urls = FunctionUrls(self.service)
        return self.service.function_urls

    # -- front doors ----------------------------------------------------------------------------
    def create_http_api(
        self, routes: dict[str, str], *, payload_format_version: str = "2.0", **options: Any
    ) -> Any:
        """An API Gateway HTTP API on its own 127.0.0.1 port, started: ``routes`` maps route
        keys (``"GET /items/{id}"``, ``"$default"``) to functions. Closed with the runtime."""
        from .api import HttpApi

        api = HttpApi(
            self.service, routes, payload_format_version=payload_format_version, **options
        )
        return self._open_front_door(api)

    def create_rest_api(
        self, routes: dict[str, str], *, stage: str = "prod", **options: Any
    ) -> Any:
        """An API Gateway REST API (payload 1.0, served under ``/<stage>/``), started."""
        from .api import RestApi

        return self._open_front_door(RestApi(self.service, routes, stage=stage, **options))

    def _open_front_door(self, door: Any) -> Any:
        door.start()
        self._front_doors.append(door)
        return door

    # -- functions ------------------------------------------------------------------------------
    def create_function(self, name: str, handler: str, code: Any, **config: Any) -> Function:
        """CreateFunction. ``code``: a directory (Path), zip bytes, or inline source (str, or a
        mapping of file names to source); ``config`` in snake_case (memory_size, timeout,
        environment, layers, publish ...)."""
        self.service.registry.create_function(name, handler, code, **config)
        return Function(self, name)

    def function(self, name: str) -> Function:
        self.service.registry.resolve(name)  # ResourceNotFoundException if it does not exist
        return Function(self, name)

    def invoke(
        self,
        function_name: str,
        event: Any = None,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | None = None,
        trace_header: str | None = None,
    ) -> InvokeResult:
        """The Invoke API. ``event`` as bytes is the raw JSON document; anything else is the
        event itself and is JSON-encoded."""
        payload = b"" if event is None else event  # encoded once, where it is sent
        return self.service.invoke(
            function_name,
            payload,
            qualifier=qualifier,
            invocation_type=invocation_type,
            log_type=log_type,
            client_context=client_context,
            trace_header=trace_header,
        )

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (its processes are stopped)."""
        return self._closed

    def close(self) -> None:
        """Stop everything: queued events are reported dropped, environments shut down, the
        zygote stops, files under a temporary home are removed."""
        if self._closed:
            return
        self._closed = True
        if self._autopin is not None:  # every core back before environments shut down
            self._autopin.close()
            self._autopin = None
        if self.alarm_runner is not None:
            self.alarm_runner.close()  # its actions use the endpoint and the store
        for door in self._front_doors:
            door.close()
        if self.service.event_source_mappings is not None:
            self.service.event_source_mappings.close()  # pollers stop before their endpoint
        if self.server is not None:
            self.server.stop()
        if self.aws is not None:
            self.aws.close()
        self.service.close()
        self.sandbox.close()
        if self.xray is not None:
            self.xray.close()
        if self.store is not None:
            self.store.close()
        self.clock.close()
        self._unpin()
        if self._owns_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
