"""The load generator's engine, in plain Python: constant, ramp or burst traffic against a
function, paced to a target request rate by a pool of worker threads.

Open loop, like a real client population: a request is due at its scheduled time whether or
not earlier ones have finished. When every worker is busy at that moment it cannot start and
is counted as ``skipped`` instead of being queued (queueing would turn the test into a closed
loop that silently lowers the rate). ``rps=0`` is the exception: as fast as the workers go.

The invokes go through :meth:`LambdaRuntime.invoke`, so throttles are the service's own
(``TooManyRequestsException``, 429), cold starts its own environments' and latencies what a
caller waits for.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kernel_runtime.errors import (
    InvalidParameterValueException,
    LambdaError,
    TooManyRequestsException,
)

__all__ = ["PATTERNS", "LoadPlan", "LoadSummary", "percentile", "run_load", "schedule"]

PATTERNS = ("constant", "ramp", "burst")
INVOCATION_TYPES = ("RequestResponse", "Event")
#: Full-speed runs without a request count stop after this long at most.
MAX_DURATION_S = 3600.0


@dataclass(frozen=True)
class LoadPlan:
    """What traffic to send.

    ``pattern``: ``constant`` (``rps`` evenly spaced), ``ramp`` (the rate rises or falls
    linearly from ``rps`` to ``ramp_to`` over the run), ``burst`` (each second's ``rps``
    requests all at once at the start of that second). ``rps=0`` with ``constant`` or
    ``burst``: as fast as ``concurrency`` workers can go. ``requests`` caps the number of
    requests (the run ends at whichever of it and ``duration_s`` comes first).
    ``invocation_type``: ``RequestResponse`` (sync, 200) or ``Event`` (async, 202).
    """

    pattern: str = "constant"
    rps: float = 10.0
    duration_s: float = 10.0
    concurrency: int = 10
    invocation_type: str = "RequestResponse"
    ramp_to: float | None = None
    requests: int | None = None
    event: Any = None
    qualifier: str | None = None

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise InvalidParameterValueException(
                f"Invalid load pattern {self.pattern!r}: must be one of {', '.join(PATTERNS)}"
            )
        if self.invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValueException(
                f"Invalid invocation type {self.invocation_type!r}: must be one of "
                f"{', '.join(INVOCATION_TYPES)}"
            )
        for name in ("rps", "duration_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidParameterValueException(
                    f"Invalid {name} {value!r}: must be a finite number >= 0"
                )
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise InvalidParameterValueException(
                f"Invalid concurrency {self.concurrency!r}: must be an integer >= 1"
            )
        if self.requests is not None and (not isinstance(self.requests, int) or self.requests < 1):
            raise InvalidParameterValueException(
                f"Invalid requests {self.requests!r}: must be an integer >= 1 (or None)"
            )
        if self.pattern == "ramp":
            end = self.ramp_to
            if end is None or not math.isfinite(end) or end < 0:
                raise InvalidParameterValueException(
                    f"Invalid ramp_to {end!r}: a ramp needs the final rate, a number >= 0"
                )
            if self.rps == 0 and end == 0:
                raise InvalidParameterValueException("A ramp from 0 to 0 rps sends nothing")
        if self.duration_s == 0 and not (self.full_speed and self.requests):
            raise InvalidParameterValueException(
                "Invalid duration_s 0: only a full-speed run (rps=0) with a request count "
                "may have no duration"
            )

    @property
    def full_speed(self) -> bool:
        """rps=0 on a constant or burst run: no pacing, every worker back to back."""
        return self.pattern != "ramp" and self.rps == 0

    @property
    def total(self) -> int | None:
        """How many requests the plan sends (None: a full-speed run bounded by time only)."""
        if self.full_speed:
            return self.requests
        if self.pattern == "ramp":
            assert self.ramp_to is not None
            planned = int((self.rps + self.ramp_to) / 2 * self.duration_s + 1e-9)
        else:
            planned = int(self.rps * self.duration_s + 1e-9)
        return planned if self.requests is None else min(planned, self.requests)


def schedule(plan: LoadPlan) -> Iterator[float]:
    """When each request is due, in seconds from the start (non-decreasing). Not for
    full-speed plans, which have no schedule."""
    if plan.full_speed:
        raise InvalidParameterValueException("A full-speed plan (rps=0) has no schedule")
    total = plan.total or 0
    if plan.pattern == "constant":
        for i in range(total):
            yield i / plan.rps
    elif plan.pattern == "burst":
        per_second = plan.rps
        for i in range(total):
            yield float(math.floor(i / per_second + 1e-9))
    else:  # ramp: the rate r(t) = rps + slope * t; request i is due when ∫r = i
        assert plan.ramp_to is not None
        b = plan.rps
        a = (plan.ramp_to - plan.rps) / (2 * plan.duration_s)
        for i in range(total):
            if a == 0:
                yield i / b
            else:
                yield (-b + math.sqrt(b * b + 4 * a * i)) / (2 * a)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (CloudWatch's pNN) of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class LoadSummary:
    """A run so far (or finished): counts, status codes and caller-side latency.

    ``invocations`` are accepted requests (200 or 202, function errors included, as the
    Invocations metric counts them); ``throttles`` 429s; ``errors`` function errors (200 with
    X-Amz-Function-Error, as the Errors metric); ``failures`` other refused requests by error
    code; ``skipped`` requests that were due while every worker was busy. ``cold_starts``
    and function errors of ``Event`` runs happen later, on the async queue, and are not in
    this summary (the 202s are)."""

    plan: LoadPlan
    sent: int = 0
    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0
    errors: int = 0
    skipped: int = 0
    in_flight: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    status_codes: dict[int, int] = field(default_factory=dict)
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    elapsed_s: float = 0.0
    finished: bool = False
    stopped: bool = False

    @property
    def completed(self) -> int:
        """Requests done with: answered (any way) or skipped."""
        return self.sent + self.skipped

    @property
    def progress(self) -> float:
        """0..1: requests done of the plan's total, or time elapsed of its duration (1 once
        the run has ended by itself; a stopped run stays where it stopped)."""
        if self.finished and not self.stopped:
            return 1.0
        total = self.plan.total
        if total:
            return min(1.0, self.completed / total)
        if self.plan.duration_s:
            return min(1.0, self.elapsed_s / self.plan.duration_s)
        return 0.0

    @property
    def achieved_rps(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The numbers a summary table shows."""
        return {
            "invocations": self.invocations,
            "cold_starts": self.cold_starts,
            "throttles": self.throttles,
            "errors": self.errors,
            "skipped": self.skipped,
            "failures": dict(self.failures),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "rps": round(self.achieved_rps, 1),
            "elapsed_s": round(self.elapsed_s, 2),
        }


class _Tally:
    """Counters the workers update under one lock; snapshots become LoadSummary values."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.lock = threading.Lock()
        self.sent = self.invocations = self.cold = self.throttles = self.errors = 0
        self.skipped = self.in_flight = 0
        self.failures: Counter[str] = Counter()
        self.codes: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.started = time.perf_counter()

    def snapshot(self, *, finished: bool = False, stopped: bool = False) -> LoadSummary:
        with self.lock:
            latencies = sorted(self.latencies)
            summary = LoadSummary(
                plan=self.plan,
                sent=self.sent,
                invocations=self.invocations,
                cold_starts=self.cold,
                throttles=self.throttles,
                errors=self.errors,
                skipped=self.skipped,
                in_flight=self.in_flight,
                failures=dict(self.failures),
                status_codes=dict(self.codes),
                elapsed_s=time.perf_counter() - self.started,
            )
        return replace(
            summary,
            p50_ms=percentile(latencies, 50),
            p99_ms=percentile(latencies, 99),
            max_ms=latencies[-1] if latencies else None,
            finished=finished,
            stopped=stopped,
        )


def _invoke_once(runtime: Any, function: str, plan: LoadPlan, tally: _Tally) -> None:
    t0 = time.perf_counter()
    try:
        result = runtime.invoke(
            function, plan.event, qualifier=plan.qualifier, invocation_type=plan.invocation_type
        )
    except TooManyRequestsException:
        with tally.lock:
            tally.sent += 1
            tally.throttles += 1
            tally.codes[429] += 1
        return
    except LambdaError as exc:
        with tally.lock:
            tally.sent += 1
            tally.failures[exc.code] += 1
            tally.codes[exc.status] += 1
        return
    latency_ms = (time.perf_counter() - t0) * 1000.0
    inv = result.invocation
    with tally.lock:
        tally.sent += 1
        tally.invocations += 1
        tally.codes[result.status_code] += 1
        tally.latencies.append(latency_ms)
        if result.function_error:
            tally.errors += 1
        if inv is not None and inv.cold_start:
            tally.cold += 1


class _Workers:
    """``concurrency`` daemon threads taking requests from a hand-off slot each: a request
    starts only on an idle worker (the open loop's rule), never waits in a queue."""

    def __init__(self, n: int, work: Callable[[], None]) -> None:
        self._work = work
        self._cv = threading.Condition()
        self._free = n
        self._closing = False
        self._jobs = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"lambda-lab-load-{i}", daemon=True)
            for i in range(n)
        ]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._jobs == 0 and not self._closing:
                    self._cv.wait()
                if self._jobs == 0:
                    return
                self._jobs -= 1
            try:
                self._work()
            finally:
                with self._cv:
                    self._free += 1
                    self._cv.notify_all()

    def try_start(self) -> bool:
        """Hand one request to an idle worker; False when all are busy."""
        with self._cv:
            if self._free == 0:
                return False
            self._free -= 1
            self._jobs += 1
            self._cv.notify_all()
            return True

    def start_when_free(self, stop: threading.Event, deadline: float) -> bool:
        """Wait for an idle worker (full speed); False when stopped or past the deadline."""
        with self._cv:
            while self._free == 0:
                if stop.is_set() or time.perf_counter() >= deadline:
                    return False
                self._cv.wait(0.05)
            if stop.is_set() or time.perf_counter() >= deadline:
                return False
            self._free -= 1
            self._jobs += 1
            self._cv.notify_all()
            return True

    def close(self) -> None:
        """Let the requests in flight finish, then end the threads."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        for t in self._threads:
            t.join()


def run_load(
    runtime: Any,
    function: str,
    plan: LoadPlan,
    *,
    on_progress: Callable[[LoadSummary], None] | None = None,
    stop_event: threading.Event | None = None,
    progress_interval: float = 0.2,
) -> LoadSummary:
    """Send ``plan``'s traffic to ``function`` and return the summary when it ends (or when
    ``stop_event`` is set: requests in flight still finish). ``on_progress`` gets a snapshot
    every ``progress_interval`` seconds and the final summary, on a helper thread."""
    runtime.function(function)  # ResourceNotFoundException before any traffic
    stop = stop_event or threading.Event()
    tally = _Tally(plan)

    def work() -> None:
        with tally.lock:
            tally.in_flight += 1
        try:
            _invoke_once(runtime, function, plan, tally)
        finally:
            with tally.lock:
                tally.in_flight -= 1

    done = threading.Event()
    reporter: threading.Thread | None = None
    if on_progress is not None:
        callback = on_progress

        def report() -> None:
            while not done.wait(progress_interval):
                callback(tally.snapshot())

        reporter = threading.Thread(target=report, name="lambda-lab-load-progress", daemon=True)
        reporter.start()
    workers = _Workers(plan.concurrency, work)
    try:
        start = tally.started
        if plan.full_speed:
            deadline = start + (plan.duration_s or MAX_DURATION_S)
            limit = plan.requests
            n = 0
            while (limit is None or n < limit) and workers.start_when_free(stop, deadline):
                n += 1
        else:
            for offset in schedule(plan):
                delay = start + offset - time.perf_counter()
                if delay > 0 and stop.wait(delay):
                    break
                if stop.is_set():
                    break
                if not workers.try_start():
                    with tally.lock:
                        tally.skipped += 1
    finally:
        workers.close()
        done.set()
        if reporter is not None:
            reporter.join()
    summary = tally.snapshot(finished=True, stopped=stop.is_set())
    if on_progress is not None:
        on_progress(summary)
    return summary
