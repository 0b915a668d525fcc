"""A discrete-event model of Lambda scaling at AWS scale, in simulated time.

It drives the *same* policy functions as the live service (:mod:`kernel_runtime.service._policy`,
DESIGN decision 5), so what a learner sees for 1,000 environments on a laptop and what this shows
for 100,000 follow the same rules: warm reuse, provisioned concurrency first, reserved and
account limits, the scaling rate, idle reaping.

One function, one version or alias, synchronous invokes; a throttled request is dropped (no
client retry). Time advances in fixed steps of ``step_s`` (10 ms by default); every request that
arrives during a step is admitted at the start of the step, in one :func:`admit_many` call, and
the environments it occupies are released at the start of the step nearest to its end (at least
one step later). That aggregation is what makes an hour at 10,000 rps take seconds; its cost is
that a function much shorter than ``step_s`` is seen occupying a whole step, which overstates its
concurrency (by at most ``rps × step_s``): pass a smaller ``step_s`` for very short functions.
Idle reaping is checked every 1% of the idle timeout (at most every second).

Arrivals are Poisson by default (``arrivals="poisson"``: independent clients, so counts per step
scatter around ``rps × step_s``; a normal approximation above 30 per step) or evenly spaced
(``arrivals="even"``: deterministic, for exact answers). Durations are seconds, either a float
or a callable ``f(rng) -> float`` drawn per request with the simulator's :class:`random.Random`
(see :func:`empirical` for measured figures). In a busy step at most ``samples_per_step`` draws
are made and the step's requests are split evenly between them. Latency is what the caller waits:
the handler's duration, plus the init for a cold start.

Example::

    r = simulate(burst(100, 5_000, at_s=60, for_s=30), duration_s=300,
                 cold_start_s=0.4, warm_duration_s=0.2)
    r.totals["throttles"], max(r.concurrency)
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kernel_runtime.service._policy import (
    ConcurrencyState,
    Limits,
    add_provisioned,
    admit_many,
    check_provisioned,
    check_reserved,
    reap,
    release,
    set_provisioned,
    set_reserved,
)

__all__ = [
    "Duration",
    "SimulationResult",
    "Traffic",
    "burst",
    "constant",
    "empirical",
    "from_list",
    "ramp",
    "simulate",
]

Duration = float | Callable[[random.Random], float]
"""Seconds: a constant, or a callable drawing one value from the simulator's random source."""

_FUNCTION = "simulated"
_POOL = "live"
_LATENCY_UNIT = 1e-4  # latency histograms count in 0.1 ms bins


# ---------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Traffic:
    """Offered load: requests per second as a function of time (and of the run's length)."""

    rate: Callable[[float, float], float]
    """``rate(t, duration_s) -> rps`` at simulated second ``t``."""
    label: str = "traffic"

    def rps(self, t: float, duration_s: float) -> float:
        return max(0.0, self.rate(t, duration_s))

    def __add__(self, other: Traffic) -> Traffic:
        """Two sources of traffic to the same function at once."""
        a, b = self.rate, other.rate
        return Traffic(lambda t, d: a(t, d) + b(t, d), f"{self.label} + {other.label}")


def constant(rps: float) -> Traffic:
    """The same rate throughout."""
    return Traffic(lambda t, d: rps, f"constant({rps:g})")


def ramp(from_rps: float, to_rps: float, over_s: float | None = None) -> Traffic:
    """Linear from ``from_rps`` to ``to_rps`` over ``over_s`` (default: the whole run)."""

    def rate(t: float, d: float) -> float:
        span = over_s if over_s is not None else d
        x = 1.0 if span <= 0 else min(1.0, t / span)
        return from_rps + (to_rps - from_rps) * x

    return Traffic(rate, f"ramp({from_rps:g} → {to_rps:g})")


def burst(base_rps: float, burst_rps: float, at_s: float, for_s: float) -> Traffic:
    """``base_rps``, but ``burst_rps`` (the total, not extra) from ``at_s`` for ``for_s``."""
    end = at_s + for_s
    return Traffic(
        lambda t, d: burst_rps if at_s <= t < end else base_rps,
        f"burst({base_rps:g}, {burst_rps:g} at {at_s:g}s for {for_s:g}s)",
    )


def from_list(rps_per_second: Sequence[float]) -> Traffic:
    """Second ``i`` of the run has rate ``rps_per_second[i]``; 0 after the list ends."""
    values = [float(v) for v in rps_per_second]
    n = len(values)

    def rate(t: float, d: float) -> float:
        i = int(t)
        return values[i] if 0 <= i < n else 0.0

    return Traffic(rate, f"from_list({n} s)")


def empirical(samples_s: Sequence[float]) -> Callable[[random.Random], float]:
    """A duration drawn uniformly from measured figures (seconds), e.g. a function's Durations."""
    values = [float(v) for v in samples_s]
    if not values:
        raise ValueError("empirical() needs at least one sample")
    n = len(values)
    return lambda rng: values[int(rng.random() * n)]  # = rng.choice, at a third of the cost


# ---------------------------------------------------------------- result


@dataclass
class SimulationResult:
    """Per-bucket time series (plain lists, ready for a ColumnDataSource) and run totals.

    ``concurrency`` and ``environments`` are the maxima within each bucket; latency percentiles
    are over the requests that arrived in the bucket and were not throttled (NaN if none).
    """

    bucket_s: float
    t: list[float] = field(default_factory=list)
    """Start of each bucket, simulated seconds."""
    invocations: list[int] = field(default_factory=list)
    """Requests admitted (the ``Invocations`` metric: throttles excluded)."""
    provisioned: list[int] = field(default_factory=list)
    """Of those, served by provisioned concurrency."""
    cold_starts: list[int] = field(default_factory=list)
    throttles: list[int] = field(default_factory=list)
    concurrency: list[int] = field(default_factory=list)
    environments: list[int] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    """requests, invocations, provisioned, spillover, cold_starts, throttles (and by cause:
    throttles_reserved / _unreserved / _scaling), max_concurrency, max_environments,
    environments_reaped, p50_ms, p99_ms."""

    _COLUMNS = (
        "t",
        "invocations",
        "provisioned",
        "cold_starts",
        "throttles",
        "concurrency",
        "environments",
        "p50_ms",
        "p99_ms",
    )

    def columns(self) -> dict[str, list]:
        """The time series by name, e.g. for ``bokeh.models.ColumnDataSource(data=...)``."""
        return {name: getattr(self, name) for name in self._COLUMNS}

    def __repr__(self) -> str:
        tot = self.totals
        return (
            f"<SimulationResult {len(self.t)} × {self.bucket_s:g}s buckets: "
            f"{tot.get('invocations', 0):,.0f} invocations, {tot.get('cold_starts', 0):,.0f} "
            f"cold starts, {tot.get('throttles', 0):,.0f} throttles, max concurrency "
            f"{tot.get('max_concurrency', 0):,.0f}>"
        )


def _percentile(hist: dict[int, int], total: int, q: float) -> float:
    """Nearest-rank percentile of a histogram in latency bins, as milliseconds."""
    if total <= 0:
        return math.nan
    rank = max(1, math.ceil(q * total))
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen >= rank:
            return key * _LATENCY_UNIT * 1000.0
    return math.nan  # pragma: no cover (rank <= total)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam < 30:
        if lam <= 0:
            return 0
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


# ---------------------------------------------------------------- the simulator


def simulate(
    traffic: Traffic,
    *,
    duration_s: float,
    cold_start_s: Duration,
    warm_duration_s: Duration,
    limits: Limits = Limits(),  # noqa: B008  (frozen dataclass: a safe default)
    reserved: int | None = None,
    provisioned: int = 0,
    idle_timeout_s: float | None = None,
    bucket_s: float = 1.0,
    seed: int = 0,
    step_s: float = 0.01,
    arrivals: Literal["poisson", "even"] = "poisson",
    samples_per_step: int = 4,
) -> SimulationResult:
    """Run ``traffic`` against one function for ``duration_s`` simulated seconds.

    ``reserved`` and ``provisioned`` configure the function as PutFunctionConcurrency and
    PutProvisionedConcurrencyConfig would, and are refused with AWS's message (ValueError) where
    AWS would refuse them; provisioned environments are ready at t=0. ``idle_timeout_s``
    overrides ``limits.idle_timeout_s``. Deterministic for a given ``seed``.
    """
    if duration_s <= 0 or step_s <= 0 or bucket_s <= 0:
        raise ValueError("duration_s, step_s and bucket_s must be > 0")
    steps_per_bucket = round(bucket_s / step_s)
    if steps_per_bucket < 1 or abs(steps_per_bucket * step_s - bucket_s) > 1e-9 * bucket_s:
        raise ValueError("bucket_s must be a whole number of steps (step_s)")
    if arrivals not in ("poisson", "even"):
        raise ValueError("arrivals must be 'poisson' or 'even'")
    if samples_per_step < 1:
        raise ValueError("samples_per_step must be >= 1")
    if idle_timeout_s is not None:
        limits = dataclasses.replace(limits, idle_timeout_s=idle_timeout_s)

    state = ConcurrencyState()
    if reserved is not None:
        error = check_reserved(state, limits, _FUNCTION, reserved)
        if error:
            raise ValueError(error)
        set_reserved(state, _FUNCTION, reserved)
    if provisioned:
        error = check_provisioned(state, limits, _FUNCTION, _POOL, provisioned)
        if error:
            raise ValueError(error)
        set_provisioned(state, _FUNCTION, _POOL, provisioned)
        add_provisioned(state, _FUNCTION, _POOL, 0.0, count=provisioned)

    rng = random.Random(seed)
    n_steps = math.ceil(duration_s / step_s - 1e-9)
    result = SimulationResult(bucket_s=bucket_s)

    # Constant durations: precompute occupancy in steps and latency bins.
    const = not callable(warm_duration_s) and not callable(cold_start_s)
    if const:
        warm_d = float(warm_duration_s)  # type: ignore[arg-type]
        cold_d = float(cold_start_s) + warm_d  # type: ignore[arg-type]
        if warm_d < 0 or cold_d < warm_d:
            raise ValueError("durations must be >= 0")
        warm_steps = max(1, round(warm_d / step_s))
        cold_steps = max(1, round(cold_d / step_s))
        warm_bin = round(warm_d / _LATENCY_UNIT)
        cold_bin = round(cold_d / _LATENCY_UNIT)
    draw_warm: Callable[[random.Random], float] = (
        warm_duration_s if callable(warm_duration_s) else (lambda r, v=warm_duration_s: v)
    )
    draw_cold: Callable[[random.Random], float] = (
        cold_start_s if callable(cold_start_s) else (lambda r, v=cold_start_s: v)
    )

    # Releases due per step: [on-demand, provisioned].
    wheel: dict[int, list[int]] = {}
    hist: dict[int, int] = {}  # this bucket's latencies
    all_hist: Counter[int] = Counter()
    envs = provisioned  # environments alive
    b_inv = b_pc = b_cold = b_thr = b_conc = b_envs = 0
    t_requests = t_inv = t_pc = t_cold = t_reaped = 0
    t_thr = {"reserved": 0, "unreserved": 0, "scaling": 0}
    max_conc = max_envs = 0
    carry = 0.0
    poisson = arrivals == "poisson"
    rate = traffic.rate
    fn, pool = _FUNCTION, _POOL

    inv_step = 1.0 / step_s
    # Reaping is checked every 1% of the idle timeout (at most every second, at least every step).
    reap_steps = max(1, int(min(1.0, limits.idle_timeout_s / 100) / step_s))
    inv_unit = 1.0 / _LATENCY_UNIT

    def spread(k: int, count: int, cold: bool, idx: int) -> None:
        """Schedule sampled durations for ``count`` requests admitted at step ``k``."""
        m = count if count < samples_per_step else samples_per_step
        base, extra = divmod(count, m)
        for i in range(m):
            w = base + 1 if i < extra else base
            d = draw_warm(rng) + draw_cold(rng) if cold else draw_warm(rng)
            if d < 0:
                raise ValueError(f"a duration callable returned {d!r}")
            due = k + (int(d * inv_step + 0.5) or 1)
            slot = wheel.get(due)
            if slot is None:
                wheel[due] = [w, 0] if idx == 0 else [0, w]
            else:
                slot[idx] += w
            key = int(d * inv_unit + 0.5)
            hist[key] = hist.get(key, 0) + w

    for k in range(n_steps):
        now = k * step_s

        # 1. Invocations that finished by now release their environments.
        done = wheel.pop(k, None)
        if done is not None:
            if done[0]:
                release(state, fn, pool, now, count=done[0])
            if done[1]:
                release(state, fn, pool, now, provisioned=True, count=done[1])

        # 2. Environments idle too long are reaped (checked every ``reap_steps``).
        if k % reap_steps == 0:
            for ref in reap(state, limits, now):
                envs -= ref.count
                t_reaped += ref.count

        # 3. This step's arrivals.
        lam = rate(now + step_s * 0.5, duration_s) * step_s
        if poisson:
            n = _poisson(rng, lam)
        else:
            carry += lam if lam > 0 else 0.0
            n = int(carry + 1e-9)
            carry -= n
        if n:
            pc, warm, cold, throttled, _, cause = admit_many(state, limits, fn, pool, n, now)
            t_requests += n
            started = pc + warm + cold
            if started:
                if const:
                    if pc or warm:
                        slot = wheel.get(k + warm_steps)
                        if slot is None:
                            slot = wheel[k + warm_steps] = [0, 0]
                        slot[0] += warm
                        slot[1] += pc
                        hist[warm_bin] = hist.get(warm_bin, 0) + pc + warm
                    if cold:
                        slot = wheel.get(k + cold_steps)
                        if slot is None:
                            slot = wheel[k + cold_steps] = [0, 0]
                        slot[0] += cold
                        hist[cold_bin] = hist.get(cold_bin, 0) + cold
                else:
                    if warm:
                        spread(k, warm, False, 0)
                    if pc:
                        spread(k, pc, False, 1)
                    if cold:
                        spread(k, cold, True, 0)
                b_inv += started
                b_pc += pc
                if cold:
                    b_cold += cold
                    envs += cold
            if throttled:
                b_thr += throttled
                t_thr[cause] += throttled
        # Sampled after admission, when the step's concurrency peaks.
        if state.busy > b_conc:
            b_conc = state.busy
        if envs > b_envs:
            b_envs = envs

        # 4. Close the bucket.
        if (k + 1) % steps_per_bucket == 0 or k == n_steps - 1:
            result.t.append(len(result.t) * bucket_s)
            result.invocations.append(b_inv)
            result.provisioned.append(b_pc)
            result.cold_starts.append(b_cold)
            result.throttles.append(b_thr)
            result.concurrency.append(b_conc)
            result.environments.append(b_envs)
            result.p50_ms.append(_percentile(hist, b_inv, 0.50))
            result.p99_ms.append(_percentile(hist, b_inv, 0.99))
            all_hist.update(hist)
            t_inv += b_inv
            t_pc += b_pc
            t_cold += b_cold
            max_conc = max(max_conc, b_conc)
            max_envs = max(max_envs, b_envs)
            hist = {}
            b_inv = b_pc = b_cold = b_thr = b_conc = b_envs = 0

    result.totals = {
        "requests": t_requests,
        "invocations": t_inv,
        "provisioned": t_pc,
        "spillover": t_inv - t_pc if provisioned else 0,
        "cold_starts": t_cold,
        "throttles": sum(t_thr.values()),
        "throttles_reserved": t_thr["reserved"],
        "throttles_unreserved": t_thr["unreserved"],
        "throttles_scaling": t_thr["scaling"],
        "max_concurrency": max_conc,
        "max_environments": max_envs,
        "environments_reaped": t_reaped,
        "p50_ms": _percentile(all_hist, t_inv, 0.50),
        "p99_ms": _percentile(all_hist, t_inv, 0.99),
    }
    return result
