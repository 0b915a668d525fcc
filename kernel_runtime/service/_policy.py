"""The scaling and concurrency policy: state in, decision out (DESIGN decision 5).

Pure: no threads, no I/O, no clock reads (time is always an argument), no randomness. The live
service calls it under its own lock with one request at a time; the simulator
(:mod:`kernel_runtime.simulate`) calls the batch forms with thousands of requests per step. Both
go through the same private ``_admit``, so a learner sees the same rules at 1,000 environments
on a laptop and at 100,000 in the simulator.

The AWS rules modelled (reference/lambda-facts.md section 7):

* **Concurrency** is the number of invocations in flight. An idle environment does not count; an
  environment running its init for a request does.
* **Account limit** (default 1,000). Reservations are carved out of it; what is left is the
  *unreserved pool* shared by every function without a reservation. The pool is claimed by
  in-flight on-demand invocations and by the configured provisioned concurrency of those
  functions. Over it: throttle ``ConcurrentInvocationLimitExceeded``.
* **Reserved concurrency** is both a guarantee (nobody else can use it) and a cap. Provisioned
  concurrency of the function counts inside it, idle or busy. ``0`` throttles every invoke.
  Over it: throttle ``ReservedFunctionConcurrentInvocationLimitExceeded``. AWS keeps at least
  ``unreserved_minimum`` (100) unreserved: see :func:`check_reserved`.
* **Provisioned concurrency** (PC) per version or alias (a *pool* here). Idle PC environments
  serve first, without any limit check (they are already counted); beyond them traffic spills
  over to on-demand environments within the function's remaining headroom.
* **Scaling rate**: each function may create ``scale_rate`` (1,000) new on-demand environments
  per ``scale_window_s`` (10 s): a token bucket refilled continuously, capped at one window's
  worth, full when the function is first seen. Only cold starts draw from it; reusing a warm
  environment is free. Over it: throttle ``ConcurrentInvocationLimitExceeded`` (AWS reports the
  scaling rate with the same reason code). Every throttle's message is ``"Rate Exceeded."``.
* **Reuse** before creation: an idle environment of the same pool is reused (the most recently
  used one first) before a new one is started.
* **Idle reaping**: on-demand environments idle for ``idle_timeout_s`` are shut down
  (:func:`reap`, oldest first). Provisioned environments are never reaped.

Guesses (AWS does not publish them): the idle timeout (300 s here; measurements in the wild range
from about 5 to 15 minutes), most-recently-used reuse (which is what lets a shrinking fleet be
reaped), and the wording of two validation messages marked below. Not modelled: the 10 × PC
requests-per-second limit on provisioned environments, the recycling of long-lived environments
every few hours, and PC allocation time (the service adds PC environments as they become ready).

Vocabulary: ``function`` is any hashable naming a function (its name or unqualified ARN);
``pool_key`` names the version or alias whose environments are interchangeable (the caller maps
an alias to the version it points at if it wants them shared); ``env`` is the caller's key for
one environment, handed back when it is to be reused or shut down. The batch forms pass
``env=None`` and ``count`` > 1: environments then are anonymous and only counted.

Usage, live::

    a = admit(state, limits, "fn", "1", now)
    if a.action == "throttle": raise TooManyRequestsException(a.message, a.reason)
    env = envs[a.env] if a.env is not None else start_environment(...)   # warm/PC or cold
    ...invoke...
    if release(state, "fn", "1", now, env=env.id, provisioned=a.action == "provisioned"):
        env.shutdown()                                                    # surplus PC
    for ref in reap(state, limits, now): envs.pop(ref.env).shutdown()
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "ACCOUNT_LIMIT",
    "RESERVED_LIMIT",
    "THROTTLE_MESSAGE",
    "Admission",
    "AdmissionCounts",
    "ConcurrencyState",
    "EnvironmentRef",
    "FunctionState",
    "IdleEnvironments",
    "Limits",
    "PoolState",
    "add_provisioned",
    "admit",
    "admit_many",
    "check_provisioned",
    "check_reserved",
    "environment_lost",
    "provisioned_shortfall",
    "reap",
    "release",
    "remove_function",
    "set_provisioned",
    "set_reserved",
    "unreserved_available",
]

THROTTLE_MESSAGE = "Rate Exceeded."
"""The message of every Invoke throttle (``TooManyRequestsException``)."""
RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
"""Throttle reason: the function's reserved concurrency is in use."""
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
"""Throttle reason: the unreserved pool (account limit) or the scaling rate is exhausted."""

# Throttle causes: finer than AWS's reason codes, for metrics, plots and teaching.
CAUSE_RESERVED = "reserved"
CAUSE_UNRESERVED = "unreserved"
CAUSE_SCALING = "scaling"

_RESERVED_BELOW_MINIMUM = (
    "Specified ReservedConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [{minimum}]."
)
_PROVISIONED_BELOW_MINIMUM = (
    "Specified ConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [{minimum}]."
)
# Wording guessed (not found verbatim in AWS documentation).
_PROVISIONED_ABOVE_RESERVED = (
    "Requested Provisioned Concurrency should not be greater than the "
    "reservedConcurrentExecution for function"
)
_RESERVED_BELOW_PROVISIONED = (
    "Specified ReservedConcurrentExecutions for function is less than the function's "
    "provisioned concurrency [{provisioned}]."
)
_MEMBER_AT_LEAST = (
    "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
    "Member must have value greater than or equal to {minimum}"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Account-level numbers; AWS's defaults. Raise them to model a bigger account."""

    account_concurrency: int = 1000
    """Concurrent executions per account and Region."""
    unreserved_minimum: int = 100
    """Unreserved concurrency AWS refuses to let reservations go below."""
    scale_rate: int = 1000
    """New environments per function per ``scale_window_s`` (also the bucket's size)."""
    scale_window_s: float = 10.0
    idle_timeout_s: float = 300.0
    """Idle time after which an on-demand environment is reaped (guessed: AWS does not say)."""

    def __post_init__(self) -> None:
        if self.account_concurrency < 0:
            raise ValueError("account_concurrency must be >= 0")
        if not 0 <= self.unreserved_minimum <= self.account_concurrency:
            raise ValueError("unreserved_minimum must be between 0 and account_concurrency")
        if self.scale_rate < 0:
            raise ValueError("scale_rate must be >= 0")
        if not self.scale_window_s > 0:
            raise ValueError("scale_window_s must be > 0")
        if not self.idle_timeout_s >= 0:
            raise ValueError("idle_timeout_s must be >= 0 (inf disables reaping)")

    @property
    def refill_per_s(self) -> float:
        """Scaling tokens regained per second."""
        return self.scale_rate / self.scale_window_s


class IdleEnvironments:
    """Idle environments of one kind in one pool, in the order they became idle.

    Stored as runs ``[since, count, env]``: a keyed environment is a run of one, a batch of
    anonymous ones a single run, so batch operations stay O(1) amortised. Reuse takes the newest;
    reaping removes the oldest.
    """

    __slots__ = ("_runs", "count")

    def __init__(self) -> None:
        self._runs: deque[list] = deque()
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[float, int, Hashable | None]]:
        """Snapshot of the runs ``(idle_since, count, env)``, oldest first."""
        return iter([(r[0], r[1], r[2]) for r in self._runs])

    def push(self, since: float, count: int = 1, env: Hashable | None = None) -> None:
        if env is not None and count != 1:
            raise ValueError("a keyed environment is one environment (count=1)")
        runs = self._runs
        if env is None and runs:
            last = runs[-1]
            if last[2] is None and last[0] == since:
                last[1] += count
                self.count += count
                return
        runs.append([since, count, env])
        self.count += count

    def take(self, n: int) -> Hashable | None:
        """Remove the ``n`` most recently idled; returns the key of the last one removed."""
        runs = self._runs
        self.count -= n
        env = None
        while n:
            last = runs[-1]
            if last[1] <= n:
                runs.pop()
                n -= last[1]
                env = last[2]
            else:
                last[1] -= n
                n = 0
                env = None
        return env

    def take_idle_since(self, cutoff: float) -> list[tuple[Hashable | None, int]]:
        """Remove the runs idle since ``cutoff`` or earlier; returns ``(env, count)`` pairs."""
        runs = self._runs
        out: list[tuple[Hashable | None, int]] = []
        while runs and runs[0][0] <= cutoff:
            _since, count, env = runs.popleft()
            self.count -= count
            out.append((env, count))
        return out

    def take_oldest(self, n: int) -> list[tuple[Hashable | None, int]]:
        """Remove the ``n`` longest-idle environments; returns ``(env, count)`` pairs."""
        runs = self._runs
        out: list[tuple[Hashable | None, int]] = []
        n = min(n, self.count)
        self.count -= n
        while n:
            first = runs[0]
            if first[1] <= n:
                runs.popleft()
                n -= first[1]
                out.append((first[2], first[1]))
            else:
                first[1] -= n
                out.append((None, n))
                n = 0
        return out

    def remove(self, env: Hashable) -> bool:
        """Remove one keyed environment (O(idle count): only for rare events such as a crash)."""
        for i, run in enumerate(self._runs):
            if run[2] == env:
                del self._runs[i]
                self.count -= 1
                return True
        return False


@dataclass(slots=True, eq=False)
class PoolState:
    """One version or alias: its environments by kind and state."""

    provisioned: int = 0
    """Configured provisioned concurrency."""
    provisioned_envs: int = 0
    """Provisioned environments that exist (idle + busy)."""
    busy_provisioned: int = 0
    busy_on_demand: int = 0
    idle_provisioned: IdleEnvironments = field(default_factory=IdleEnvironments)
    idle_on_demand: IdleEnvironments = field(default_factory=IdleEnvironments)

    @property
    def environments(self) -> int:
        """Every environment of the pool, idle or busy, provisioned or on-demand."""
        return self.provisioned_envs + self.busy_on_demand + self.idle_on_demand.count


@dataclass(slots=True, eq=False)
class FunctionState:
    """One function: its reservation, scaling bucket and pools."""

    reserved: int | None = None
    """Reserved concurrency, or None to share the unreserved pool."""
    provisioned: int = 0
    """Configured provisioned concurrency over all pools (counts against the limits)."""
    busy_on_demand: int = 0
    busy_provisioned: int = 0
    tokens: float | None = None
    """Scaling tokens at ``refilled_at``; None = full bucket (never drawn)."""
    refilled_at: float = 0.0
    pools: dict[Hashable, PoolState] = field(default_factory=dict)

    @property
    def concurrency(self) -> int:
        """Invocations in flight (the ``ConcurrentExecutions`` metric)."""
        return self.busy_on_demand + self.busy_provisioned


@dataclass(slots=True, eq=False)
class ConcurrencyState:
    """Everything the policy remembers; plain data, mutated by the functions of this module."""

    functions: dict[Hashable, FunctionState] = field(default_factory=dict)
    reserved_total: int = 0
    """Sum of all reservations."""
    unreserved_claimed: int = 0
    """Unreserved pool in use: on-demand in flight + configured PC of unreserved functions."""
    busy: int = 0
    """Invocations in flight in the account."""


class Admission(NamedTuple):
    """The decision for one request."""

    action: str
    """``"provisioned"``, ``"warm"`` (reuse ``env``), ``"cold"`` (start one) or ``"throttle"``."""
    env: Hashable | None = None
    """Key of the idle environment to use (provisioned or warm), None when anonymous or cold."""
    reason: str = ""
    """AWS's throttle reason code (``TooManyRequestsException.Reason``) when throttled."""
    cause: str = ""
    """Which rule throttled: ``"reserved"``, ``"unreserved"`` or ``"scaling"``."""

    @property
    def throttled(self) -> bool:
        return self.action == "throttle"

    @property
    def message(self) -> str:
        """AWS's error message when throttled."""
        return THROTTLE_MESSAGE if self.action == "throttle" else ""


class AdmissionCounts(NamedTuple):
    """The decisions for a batch of requests arriving together, as counts."""

    provisioned: int
    warm: int
    cold: int
    throttled: int
    reason: str = ""
    """Reason code shared by every throttled request of the batch."""
    cause: str = ""


class EnvironmentRef(NamedTuple):
    """Environments the caller must shut down (``count`` > 1 only for anonymous ones)."""

    function: Hashable
    pool_key: Hashable
    env: Hashable | None
    count: int = 1
    provisioned: bool = False


# ---------------------------------------------------------------- state access


def _function(state: ConcurrencyState, function: Hashable) -> FunctionState:
    f = state.functions.get(function)
    if f is None:
        f = state.functions[function] = FunctionState()
    return f


def _pool(f: FunctionState, pool_key: Hashable) -> PoolState:
    p = f.pools.get(pool_key)
    if p is None:
        p = f.pools[pool_key] = PoolState()
    return p


def unreserved_available(state: ConcurrencyState, limits: Limits) -> int:
    """Concurrency left in the unreserved pool (``UnreservedConcurrentExecutions`` headroom)."""
    return max(0, limits.account_concurrency - state.reserved_total - state.unreserved_claimed)


def _headroom(state: ConcurrencyState, limits: Limits, f: FunctionState) -> tuple[int, str]:
    """On-demand invocations the function may still start, and the rule that bounds it."""
    if f.reserved is not None:
        return f.reserved - f.provisioned - f.busy_on_demand, CAUSE_RESERVED
    free = limits.account_concurrency - state.reserved_total - state.unreserved_claimed
    return free, CAUSE_UNRESERVED


def _tokens(f: FunctionState, limits: Limits, now: float) -> float:
    """Refill the function's scaling bucket up to ``now`` and return its level."""
    cap = float(limits.scale_rate)
    if f.tokens is None:
        f.tokens = cap
        f.refilled_at = now
    elif now > f.refilled_at:
        f.tokens = min(cap, f.tokens + (now - f.refilled_at) * limits.refill_per_s)
        f.refilled_at = now
    return f.tokens


# ---------------------------------------------------------------- decisions


def _admit(
    state: ConcurrencyState,
    limits: Limits,
    function: Hashable,
    pool_key: Hashable,
    n: int,
    now: float,
) -> tuple[int, int, int, int, str, Hashable | None]:
    """The rules, for ``n`` requests in a row: (provisioned, warm, cold, throttled, cause, env)."""
    f = _function(state, function)
    p = _pool(f, pool_key)
    env = None

    # 1. Provisioned environments serve first; they are already counted against the limits.
    pc = p.idle_provisioned.count
    if pc:
        if pc > n:
            pc = n
        env = p.idle_provisioned.take(pc)
        p.busy_provisioned += pc
        f.busy_provisioned += pc
        state.busy += pc
        n -= pc
        if not n:
            return pc, 0, 0, 0, "", env

    # 2. Spillover to on-demand, within the reservation or the unreserved pool.
    headroom, cause = _headroom(state, limits, f)
    if headroom <= 0:
        return pc, 0, 0, n, cause, env
    # 3. Reuse a warm environment before starting one.
    warm = min(n, p.idle_on_demand.count, headroom)
    if warm:
        env = p.idle_on_demand.take(warm)
    cold = n - warm
    if cold:
        if cold > headroom - warm:
            cold = headroom - warm
        # 4. New environments draw on the scaling bucket.
        tokens = int(_tokens(f, limits, now))
        if cold > tokens:
            cold = tokens
            if cold < headroom - warm:
                cause = CAUSE_SCALING
        f.tokens -= cold  # type: ignore[operator]  # set by _tokens
        if cold:
            env = None
    started = warm + cold
    p.busy_on_demand += started
    f.busy_on_demand += started
    state.busy += started
    if f.reserved is None:
        state.unreserved_claimed += started
    throttled = n - started
    return pc, warm, cold, throttled, cause if throttled else "", env


def _reason(cause: str) -> str:
    return RESERVED_LIMIT if cause == CAUSE_RESERVED else ACCOUNT_LIMIT


def admit(
    state: ConcurrencyState, limits: Limits, function: Hashable, pool_key: Hashable, now: float
) -> Admission:
    """Decide one request, O(1): provisioned, warm (which ``env``), cold, or throttle (why).

    The state counts the request as in flight unless it is throttled; call :func:`release` when
    it finishes (or :func:`environment_lost` if its environment dies).
    """
    pc, warm, cold, _, cause, env = _admit(state, limits, function, pool_key, 1, now)
    if pc:
        return Admission("provisioned", env)
    if warm:
        return Admission("warm", env)
    if cold:
        return Admission("cold")
    return Admission("throttle", None, _reason(cause), cause)


def admit_many(
    state: ConcurrencyState,
    limits: Limits,
    function: Hashable,
    pool_key: Hashable,
    n: int,
    now: float,
) -> AdmissionCounts:
    """Decide ``n`` requests arriving together; same result as ``n`` calls to :func:`admit`.

    For anonymous environments (the simulator): the keys of reused environments are dropped.
    """
    if n <= 0:
        return AdmissionCounts(0, 0, 0, 0)
    pc, warm, cold, throttled, cause, _ = _admit(state, limits, function, pool_key, n, now)
    if throttled:
        return AdmissionCounts(pc, warm, cold, throttled, _reason(cause), cause)
    return AdmissionCounts(pc, warm, cold, 0)


def release(
    state: ConcurrencyState,
    function: Hashable,
    pool_key: Hashable,
    now: float,
    *,
    provisioned: bool = False,
    env: Hashable | None = None,
    count: int = 1,
) -> int:
    """Invocations finished; their environments go back to idle as of ``now``.

    Returns how many of them the caller must shut down instead: provisioned environments beyond
    the configured amount after :func:`set_provisioned` lowered it. Usually 0.
    """
    f = state.functions[function]
    p = f.pools[pool_key]
    state.busy -= count
    if provisioned:
        p.busy_provisioned -= count
        f.busy_provisioned -= count
        surplus = min(count, p.provisioned_envs - p.provisioned)
        if surplus > 0:
            p.provisioned_envs -= surplus
            count -= surplus
        else:
            surplus = 0
        if count:
            p.idle_provisioned.push(now, count, env)
        return surplus
    p.busy_on_demand -= count
    f.busy_on_demand -= count
    if f.reserved is None:
        state.unreserved_claimed -= count
    p.idle_on_demand.push(now, count, env)
    return 0


def environment_lost(
    state: ConcurrencyState,
    function: Hashable,
    pool_key: Hashable,
    *,
    provisioned: bool = False,
    busy: bool = False,
    env: Hashable | None = None,
    count: int = 1,
) -> None:
    """Environments died (crash, timeout reset, host trouble): forget them.

    ``busy`` ones end their invocation here (do not also :func:`release` them). An idle keyed
    one is found by ``env``; anonymous idle ones are taken oldest first. A lost provisioned
    environment leaves a shortfall (:func:`provisioned_shortfall`) for the caller to refill.
    """
    f = state.functions[function]
    p = f.pools[pool_key]
    if busy:
        state.busy -= count
        if provisioned:
            p.busy_provisioned -= count
            f.busy_provisioned -= count
        else:
            p.busy_on_demand -= count
            f.busy_on_demand -= count
            if f.reserved is None:
                state.unreserved_claimed -= count
    else:
        idle = p.idle_provisioned if provisioned else p.idle_on_demand
        if env is not None:
            if not idle.remove(env):
                raise KeyError(env)
        else:
            idle.take_oldest(count)
    if provisioned:
        p.provisioned_envs -= count


def reap(state: ConcurrencyState, limits: Limits, now: float) -> list[EnvironmentRef]:
    """On-demand environments idle for ``limits.idle_timeout_s`` or more, longest idle first.

    They are removed from the state; the caller shuts them down. Provisioned environments are
    never reaped. O(pools + reaped).
    """
    cutoff = now - limits.idle_timeout_s
    out: list[EnvironmentRef] = []
    for name, f in state.functions.items():
        for key, p in f.pools.items():
            idle = p.idle_on_demand
            if idle.count and idle._runs[0][0] <= cutoff:
                out.extend(EnvironmentRef(name, key, e, c) for e, c in idle.take_idle_since(cutoff))
    return out


# ---------------------------------------------------------------- configuration


def check_reserved(
    state: ConcurrencyState, limits: Limits, function: Hashable, reserved: int
) -> str | None:
    """AWS's error message if PutFunctionConcurrency(``reserved``) would be refused, else None.

    Refused: negative; raising the reservation so that less than ``unreserved_minimum`` stays
    unreserved (after the provisioned concurrency of unreserved functions); below the function's
    own provisioned concurrency (message guessed). Lowering a reservation is always allowed,
    so an over-committed account can recover.
    """
    if reserved < 0:
        return _MEMBER_AT_LEAST.format(
            value=reserved, member="reservedConcurrentExecutions", minimum=0
        )
    f = state.functions.get(function)
    current = f.reserved if f is not None and f.reserved is not None else 0
    own_pc = f.provisioned if f is not None else 0
    if reserved < own_pc:
        return _RESERVED_BELOW_PROVISIONED.format(provisioned=own_pc)
    if f is not None and f.reserved is not None and reserved <= f.reserved:
        return None
    unreserved_pc = sum(
        g.provisioned for name, g in state.functions.items() if g.reserved is None and g is not f
    )
    left = limits.account_concurrency - (state.reserved_total - current + reserved) - unreserved_pc
    if left < limits.unreserved_minimum:
        return _RESERVED_BELOW_MINIMUM.format(minimum=limits.unreserved_minimum)
    return None


def set_reserved(state: ConcurrencyState, function: Hashable, reserved: int | None) -> None:
    """Put (an int) or delete (None) the function's reserved concurrency.

    Not validated: call :func:`check_reserved` first where AWS would refuse.
    """
    f = _function(state, function)
    old = f.reserved
    if old is None:
        state.unreserved_claimed -= f.busy_on_demand + f.provisioned
    else:
        state.reserved_total -= old
    f.reserved = reserved
    if reserved is None:
        state.unreserved_claimed += f.busy_on_demand + f.provisioned
    else:
        state.reserved_total += reserved


def check_provisioned(
    state: ConcurrencyState,
    limits: Limits,
    function: Hashable,
    pool_key: Hashable,
    provisioned: int,
) -> str | None:
    """AWS's error message if PutProvisionedConcurrencyConfig would be refused, else None.

    Refused: below 1; more than the function's reservation over all its pools (message
    guessed); for an unreserved function, raising it so that less than ``unreserved_minimum``
    of the unreserved pool stays free of provisioned concurrency. ``$LATEST`` cannot have PC:
    that check belongs to the service, which knows qualifiers.
    """
    if provisioned < 1:
        return _MEMBER_AT_LEAST.format(
            value=provisioned, member="provisionedConcurrentExecutions", minimum=1
        )
    f = state.functions.get(function)
    p = f.pools.get(pool_key) if f is not None else None
    old = p.provisioned if p is not None else 0
    if provisioned <= old:
        return None
    f_pc = (f.provisioned if f is not None else 0) - old + provisioned
    if f is not None and f.reserved is not None:
        return _PROVISIONED_ABOVE_RESERVED if f_pc > f.reserved else None
    unreserved_pc = sum(g.provisioned for g in state.functions.values() if g.reserved is None)
    left = limits.account_concurrency - state.reserved_total - (unreserved_pc - old + provisioned)
    if left < limits.unreserved_minimum:
        return _PROVISIONED_BELOW_MINIMUM.format(minimum=limits.unreserved_minimum)
    return None


def set_provisioned(
    state: ConcurrencyState, function: Hashable, pool_key: Hashable, provisioned: int
) -> list[EnvironmentRef]:
    """Configure (0 = delete) a pool's provisioned concurrency; the limits count it at once.

    Returns idle provisioned environments now surplus, for the caller to shut down; busy surplus
    ones are returned by :func:`release`. Raising it leaves a :func:`provisioned_shortfall` for
    the caller to fill with :func:`add_provisioned` as environments finish their init.
    Not validated: call :func:`check_provisioned` first where AWS would refuse.
    """
    if provisioned < 0:
        raise ValueError("provisioned concurrency must be >= 0")
    f = _function(state, function)
    p = _pool(f, pool_key)
    delta = provisioned - p.provisioned
    p.provisioned = provisioned
    f.provisioned += delta
    if f.reserved is None:
        state.unreserved_claimed += delta
    surplus = min(p.provisioned_envs - provisioned, p.idle_provisioned.count)
    if surplus <= 0:
        return []
    p.provisioned_envs -= surplus
    return [
        EnvironmentRef(function, pool_key, e, c, True)
        for e, c in p.idle_provisioned.take_oldest(surplus)
    ]


def provisioned_shortfall(state: ConcurrencyState, function: Hashable, pool_key: Hashable) -> int:
    """Provisioned environments configured but not (yet) ready."""
    f = state.functions.get(function)
    p = f.pools.get(pool_key) if f is not None else None
    return 0 if p is None else max(0, p.provisioned - p.provisioned_envs)


def add_provisioned(
    state: ConcurrencyState,
    function: Hashable,
    pool_key: Hashable,
    now: float,
    *,
    env: Hashable | None = None,
    count: int = 1,
) -> None:
    """Provisioned environments finished their init and are ready to serve."""
    p = _pool(_function(state, function), pool_key)
    if p.provisioned_envs + count > p.provisioned:
        raise ValueError(
            f"{p.provisioned_envs + count} provisioned environments exceed the configured "
            f"{p.provisioned}"
        )
    p.provisioned_envs += count
    p.idle_provisioned.push(now, count, env)


def remove_function(state: ConcurrencyState, function: Hashable) -> list[EnvironmentRef]:
    """Forget a deleted function: frees its reservation and PC; returns its idle environments.

    Busy environments must have been released or lost first.
    """
    f = state.functions.get(function)
    if f is None:
        return []
    if f.concurrency:
        raise ValueError(f"function {function!r} still has {f.concurrency} invocations in flight")
    set_reserved(state, function, None)
    state.unreserved_claimed -= f.provisioned
    out: list[EnvironmentRef] = []
    for key, p in f.pools.items():
        for kind, idle in ((True, p.idle_provisioned), (False, p.idle_on_demand)):
            out.extend(
                EnvironmentRef(function, key, e, c, kind) for e, c in idle.take_oldest(idle.count)
            )
    del state.functions[function]
    return out
