"""Live environment pools: the policy's decisions carried out with real environments.

The pure policy (:mod:`._policy`) decides, under one lock, whether a request reuses a provisioned
or warm environment, starts a new one, or is throttled; everything slow (starting, invoking and
shutting down environments) happens outside that lock, on the caller's thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ..config import FunctionConfig
from ..errors import InvalidParameterValueException, LambdaError, TooManyRequestsException
from ..invocation import Invocation
from ..sandbox import ExecutionEnvironment, Sandbox, State
from ..sandbox._sandbox import shutdown_all
from . import _policy as policy

__all__ = ["EnvironmentPools", "PoolStats", "ProvisionedStatus"]

_DEAD = State.DEAD  # read once: an enum member through its class costs ~0.25 us on 3.11


@dataclass
class ProvisionedStatus:
    """A provisioned concurrency configuration as GetProvisionedConcurrencyConfig reports it."""

    requested: int
    allocated: int = 0
    status: str = "IN_PROGRESS"  # IN_PROGRESS | READY | FAILED
    status_reason: str | None = None
    last_modified: float = field(default_factory=time.time)


@dataclass
class PoolStats:
    """Counters the service keeps per function (plots and metrics read them)."""

    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0
    errors: int = 0
    provisioned_invocations: int = 0
    spillover_invocations: int = 0


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    """(p50, p99) of one second's latencies, nearest rank; zeros for none."""
    if not latencies:
        return 0.0, 0.0
    ordered = sorted(latencies)
    n = len(ordered)
    return ordered[n // 2], ordered[min(n - 1, int(n * 0.99))]


class _Series:
    """Per-second time series of what the live service did, in the simulator's columns.

    A second's latencies are kept while it lasts and reduced to its p50 and p99 when the next
    one starts (a sort of at most 10,000, once a second): an hour of every latency was ~1 GB
    at 10,000 requests/s, and every ``columns()`` call sorted all of it again."""

    def __init__(self, keep_s: int = 3600) -> None:
        self._buckets: deque[list[Any]] = deque(maxlen=keep_s)

    def _bucket(self, t: float) -> list[Any]:
        second = int(t)
        buckets = self._buckets
        if not buckets or buckets[-1][0] != second:
            if buckets:  # only the last bucket is open: its list becomes (p50, p99)
                buckets[-1][6] = _percentiles(buckets[-1][6])
            # t, invocations, cold_starts, throttles, max concurrency, environments, latencies
            # (a list while the second lasts, then its (p50, p99))
            buckets.append([second, 0, 0, 0, 0, 0, []])
        return buckets[-1]

    def invocation(
        self, t: float, cold: bool, latency_ms: float, concurrency: int, envs: int
    ) -> None:
        b = self._bucket(t)
        b[1] += 1
        b[2] += cold
        b[4] = max(b[4], concurrency)
        b[5] = max(b[5], envs)
        if len(b[6]) < 10_000:
            b[6].append(latency_ms)

    def throttle(self, t: float, concurrency: int, envs: int) -> None:
        b = self._bucket(t)
        b[3] += 1
        b[4] = max(b[4], concurrency)
        b[5] = max(b[5], envs)

    def columns(self) -> dict[str, list[float]]:
        cols: dict[str, list[float]] = {
            k: []
            for k in (
                "t",
                "invocations",
                "cold_starts",
                "throttles",
                "concurrency",
                "environments",
                "p50_ms",
                "p99_ms",
            )
        }
        for t, inv, cold, thr, conc, envs, lat in list(self._buckets):
            p50, p99 = _percentiles(lat) if type(lat) is list else lat  # the open second
            cols["t"].append(t)
            cols["invocations"].append(inv)
            cols["cold_starts"].append(cold)
            cols["throttles"].append(thr)
            cols["concurrency"].append(conc)
            cols["environments"].append(envs)
            cols["p50_ms"].append(p50)
            cols["p99_ms"].append(p99)
        return cols


class EnvironmentPools:
    """Environments of every function version, admitted, reused, reaped by the policy."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        limits: policy.Limits | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sandbox = sandbox
        self.limits = limits or policy.Limits()
        self._now = now
        self._lock = threading.Lock()
        self._state = policy.ConcurrencyState()
        self._envs: dict[str, ExecutionEnvironment] = {}
        self._owner: dict[str, tuple[Hashable, Hashable, bool]] = {}  # env -> (fn, pool, pc)
        self._retired: set[str] = set()  # busy environments to shut down when they finish
        self._provisioned: dict[tuple[Hashable, Hashable], ProvisionedStatus] = {}
        self._stats: dict[Hashable, PoolStats] = {}
        self.series = _Series()
        self._peak = 0  # most invocations in flight at once since activity() last looked
        #: records what happened (kernel_runtime.observe.Recorder), off the hot path
        self.observer: Any = None

    # -- invoke ---------------------------------------------------------------------------------
    def invoke(
        self,
        config: FunctionConfig,
        payload: Any,
        *,
        pool_key: Hashable | None = None,
        **invoke_kwargs: Any,
    ) -> Invocation:
        """Run one request on an environment of ``config``'s version: provisioned first, then a
        warm one, else a new one; raises TooManyRequestsException (429) when a limit is hit."""
        function = config.function_name
        pool = config.version if pool_key is None else pool_key
        started = time.perf_counter()
        with self._lock:
            decision = policy.admit(self._state, self.limits, function, pool, self._now())
            stats = self._stats.get(function)
            if stats is None:
                stats = self._stats[function] = PoolStats()
            if decision.throttled:
                stats.throttles += 1
                self.series.throttle(time.time(), self._state.busy, len(self._envs))
                if self.observer is not None:
                    self.observer.throttle(function, pool, decision.reason)
                raise TooManyRequestsException(decision.message, reason=decision.reason)
        provisioned = decision.action == "provisioned"
        env: ExecutionEnvironment | None = None
        try:
            if decision.action == "cold":
                env = self.sandbox.create_environment(config)
                with self._lock:
                    self._envs[env.environment_id] = env
                    self._owner[env.environment_id] = (function, pool, False)
            else:
                env = self._envs[decision.env]  # type: ignore[index]
            inv = env.invoke(payload, **invoke_kwargs)
        except LambdaError as exc:
            if env is None or exc.status >= 500:
                self._lose(function, pool, provisioned, env)
                raise
            # refused before it ran (payload too large, not JSON): the environment is fine
            with self._lock:
                shut = self._return(function, pool, provisioned, env)
            if shut:
                env.shutdown()
            raise
        except BaseException:
            self._lose(function, pool, provisioned, env)
            raise
        latency = (time.perf_counter() - started) * 1000
        with self._lock:
            stats.invocations += 1
            stats.cold_starts += inv.cold_start
            stats.errors += inv.function_error is not None
            if provisioned:
                stats.provisioned_invocations += 1
            elif self._state.functions[function].provisioned:
                stats.spillover_invocations += 1
            concurrency = self._state.busy
            if concurrency > self._peak:
                self._peak = concurrency
            shut = self._return(function, pool, provisioned, env)
            self.series.invocation(
                time.time(), inv.cold_start, latency, concurrency, len(self._envs)
            )
        if shut:
            env.shutdown()
        if self.observer is not None:
            self.observer.invocation(inv, config, invoke_kwargs.get("invoked_function_arn"))
        return inv

    def _return(
        self, function: Hashable, pool: Hashable, provisioned: bool, env: ExecutionEnvironment
    ) -> bool:
        """A request ended (under the lock): the environment goes back to idle, or is
        forgotten when it is retired, dead or surplus provisioned; True = shut it down."""
        env_id = env.environment_id
        if env_id in self._retired or env.state is _DEAD:
            policy.environment_lost(self._state, function, pool, provisioned=provisioned, busy=True)
            self._forget(env_id)
            return True
        surplus = policy.release(
            self._state, function, pool, self._now(), provisioned=provisioned, env=env_id
        )
        if surplus:
            self._forget(env_id)
        return bool(surplus)

    def _detach(self, refs: list[policy.EnvironmentRef]) -> list[ExecutionEnvironment]:
        """Environments the policy gave up (under the lock): forgotten here, for the caller to
        shut down outside the lock."""
        doomed = [self._envs[r.env] for r in refs if r.env in self._envs]
        for env in doomed:
            self._forget(env.environment_id)
        return doomed

    def _lose(
        self,
        function: Hashable,
        pool: Hashable,
        provisioned: bool,
        env: ExecutionEnvironment | None,
    ) -> None:
        """The request failed in the platform: its environment is not to be trusted again."""
        with self._lock:
            policy.environment_lost(self._state, function, pool, provisioned=provisioned, busy=True)
            if env is not None:
                self._forget(env.environment_id)
        if env is not None:
            env.shutdown()

    def _forget(self, env_id: str) -> None:
        self._envs.pop(env_id, None)
        self._owner.pop(env_id, None)
        self._retired.discard(env_id)

    # -- configuration --------------------------------------------------------------------------
    def put_reserved(self, function: Hashable, reserved: int | None) -> None:
        """PutFunctionConcurrency (an int) or DeleteFunctionConcurrency (None), validated."""
        with self._lock:
            if reserved is not None:
                problem = policy.check_reserved(self._state, self.limits, function, reserved)
                if problem:
                    raise InvalidParameterValueException(problem)
            policy.set_reserved(self._state, function, reserved)

    def reserved(self, function: Hashable) -> int | None:
        with self._lock:
            f = self._state.functions.get(function)
            return None if f is None else f.reserved

    def put_provisioned(
        self, config: FunctionConfig, pool_key: Hashable, provisioned: int
    ) -> ProvisionedStatus:
        """PutProvisionedConcurrencyConfig: environments are initialised in the background with
        AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency; status IN_PROGRESS -> READY."""
        function = config.function_name
        with self._lock:
            problem = policy.check_provisioned(
                self._state, self.limits, function, pool_key, provisioned
            )
            if problem:
                raise InvalidParameterValueException(problem)
            surplus = policy.set_provisioned(self._state, function, pool_key, provisioned)
            status = ProvisionedStatus(requested=provisioned)
            self._provisioned[(function, pool_key)] = status
            doomed = self._detach(surplus)
        shutdown_all(doomed)
        threading.Thread(
            target=self._fill_provisioned,
            args=(config, pool_key, status),
            name="lambda-lab-provisioned",
            daemon=True,
        ).start()
        return status

    def _fill_provisioned(
        self, config: FunctionConfig, pool_key: Hashable, status: ProvisionedStatus
    ) -> None:
        function = config.function_name
        while True:
            with self._lock:
                if self._provisioned.get((function, pool_key)) is not status:
                    return  # reconfigured or deleted since
                missing = policy.provisioned_shortfall(self._state, function, pool_key)
                status.allocated = status.requested - missing
                if missing == 0:
                    status.status = "READY"
                    status.last_modified = time.time()
                    return
            try:
                env = self.sandbox.create_environment(
                    config, initialization_type="provisioned-concurrency"
                )
            except Exception as exc:  # noqa: BLE001 - reported through the status
                status.status, status.status_reason = "FAILED", str(exc)
                return
            if env.state is State.RESET:  # its init failed: AWS reports FAILED
                env.shutdown()
                status.status = "FAILED"
                status.status_reason = "FUNCTION_ERROR_INIT_FAILURE"
                return
            with self._lock:
                current = self._provisioned.get((function, pool_key)) is status
                if current and policy.provisioned_shortfall(self._state, function, pool_key):
                    self._envs[env.environment_id] = env
                    self._owner[env.environment_id] = (function, pool_key, True)
                    policy.add_provisioned(
                        self._state, function, pool_key, self._now(), env=env.environment_id
                    )
                    env = None  # type: ignore[assignment]
            if env is not None:
                env.shutdown()

    def provisioned(self, function: Hashable, pool_key: Hashable) -> ProvisionedStatus | None:
        with self._lock:
            return self._provisioned.get((function, pool_key))

    def delete_provisioned(self, function: Hashable, pool_key: Hashable) -> None:
        with self._lock:
            self._provisioned.pop((function, pool_key), None)
            surplus = policy.set_provisioned(self._state, function, pool_key, 0)
            doomed = self._detach(surplus)
        shutdown_all(doomed)

    # -- lifecycle --------------------------------------------------------------------------------
    def retire(self, function: Hashable, pool_key: Hashable | None = None) -> None:
        """Code or configuration changed: idle on-demand environments of the pool (all pools
        when None) go now, busy ones when their request ends. Provisioned ones stay."""
        with self._lock:
            doomed = []
            for env_id, (fn, pool, pc) in list(self._owner.items()):
                if fn != function or (pool_key is not None and pool != pool_key) or pc:
                    continue
                env = self._envs[env_id]
                p = self._state.functions[fn].pools[pool]
                if p.idle_on_demand.remove(env_id):
                    self._forget(env_id)
                    doomed.append(env)
                else:
                    self._retired.add(env_id)
        shutdown_all(doomed)

    def remove_function(self, function: Hashable) -> None:
        """The function was deleted: every idle environment goes, and its limits are freed."""
        with self._lock:
            for key in [k for k in self._provisioned if k[0] == function]:
                del self._provisioned[key]
            refs = policy.remove_function(self._state, function)
            doomed = self._detach(refs)
            self._stats.pop(function, None)
        shutdown_all(doomed)

    def reap(self) -> int:
        """Shut down on-demand environments idle past the limit; returns how many."""
        with self._lock:
            doomed = self._detach(policy.reap(self._state, self.limits, self._now()))
        shutdown_all(doomed)
        return len(doomed)

    # -- views ------------------------------------------------------------------------------------
    def stats(self, function: Hashable) -> PoolStats:
        with self._lock:
            return PoolStats(**vars(self._stats.get(function, PoolStats())))

    def concurrency(self, function: Hashable | None = None) -> int:
        """Invocations in flight (``ConcurrentExecutions``), for a function or the account."""
        with self._lock:
            if function is None:
                return self._state.busy
            f = self._state.functions.get(function)
            return 0 if f is None else f.concurrency

    def environments(self, function: Hashable | None = None) -> list[ExecutionEnvironment]:
        with self._lock:
            return [
                self._envs[e]
                for e, (fn, _, _) in self._owner.items()
                if function is None or fn == function
            ]

    def activity(self) -> tuple[int, int, int]:
        """Invocations completed and environments started so far (counted as they start, not
        when their first request ends), and the most invocations in flight at once since the
        last call (which starts a new peak)."""
        with self._lock:
            peak, self._peak = self._peak, self._state.busy
            invocations = sum(s.invocations for s in self._stats.values())
        return invocations, self.sandbox.started, peak

    def unreserved_available(self) -> int:
        with self._lock:
            return policy.unreserved_available(self._state, self.limits)

    def close(self) -> None:
        with self._lock:
            envs = list(self._envs.values())
            self._envs.clear()
            self._owner.clear()
            self._provisioned.clear()
        shutdown_all(envs)
