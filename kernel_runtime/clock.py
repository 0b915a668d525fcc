"""The platform clock: one time source for every platform timer (DESIGN decision 6).

Retry delays, backoff, event age, idle reaping, batching windows, schedules and alarm periods
all read this clock, so raising its ``speed`` (say 60x) lets a notebook show a two-minute retry
in two seconds. Handler execution time is *never* scaled: a handler's timeout and Duration are
measured in real time by the sandbox; this clock only paces what the platform itself waits for.

Two implementations share one interface (:class:`Clock`):

* :class:`PlatformClock` runs in real time times ``speed``. One daemon thread keeps a heap of
  timers and runs their callbacks. **Callbacks run on that thread and must be short** (hand
  real work to another thread or queue): a slow callback delays every later timer. An exception
  in a callback is logged on ``kernel_runtime.clock`` and the thread carries on.
* :class:`ManualClock` only moves when a test calls :meth:`ManualClock.advance`, which runs the
  due timers synchronously, in time order, on the caller's thread: deterministic tests.

Times: ``monotonic()`` is platform seconds for deadlines; ``now()`` is platform epoch seconds for
timestamps (event time, ``AsyncEventAge``). Both advance together at ``speed``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "ManualClock", "PlatformClock", "Timer"]

_log = logging.getLogger("kernel_runtime.clock")

# Below this many entries a heap is not worth compacting after cancellations.
_COMPACT_MIN = 64


class Timer:
    """A scheduled callback; :meth:`cancel` it if it is no longer wanted.

    Cancelling is O(1): the entry stays in the heap and is skipped when it comes due (the heap is
    compacted when cancelled entries outnumber live ones, so idle-reaping timers that are
    re-armed on every invoke do not pile up).
    """

    __slots__ = ("_clock", "_done", "args", "fn", "when")

    def __init__(
        self, clock: _TimerHeap, when: float, fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        self._clock: _TimerHeap | None = clock
        self._done = False
        self.when = when
        """Platform monotonic time at which the callback runs."""
        self.fn = fn
        self.args = args

    @property
    def active(self) -> bool:
        """True until the timer has fired or been cancelled."""
        return not self._done

    def cancel(self) -> None:
        """Stop the callback from running; harmless if it already ran or was cancelled."""
        clock = self._clock
        if clock is None:
            self._done = True
        else:
            clock._cancel(self)

    def __repr__(self) -> str:
        state = "active" if not self._done else "done"
        return f"<Timer at {self.when:.3f} {getattr(self.fn, '__name__', self.fn)!r} {state}>"


class Clock(Protocol):
    """What platform code needs from a clock; both implementations provide it."""

    speed: float

    def now(self) -> float: ...
    def monotonic(self) -> float: ...
    def call_at(self, platform_monotonic: float, fn: Callable[..., Any], *args: Any) -> Timer: ...
    def call_later(self, platform_delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer: ...
    def sleep(self, platform_s: float) -> None: ...
    def close(self) -> None: ...


class _TimerHeap:
    """Heap bookkeeping shared by both clocks; callers hold ``self._lock``."""

    def _drop_timers(self) -> None:
        """Mark every pending timer done (it never runs) and empty the heap; under the lock."""
        for _, _, timer in self._heap:
            timer._done = True
            timer._clock = None
        self._heap.clear()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._n_cancelled = 0
        self._closed = False

    def _push(self, when: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> Timer:
        if self._closed:
            raise RuntimeError("clock is closed")
        timer = Timer(self, float(when), fn, args)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def _cancel(self, timer: Timer) -> None:
        # Under the lock, so once cancel() returns the callback cannot start any more.
        with self._lock:
            if timer._done:
                return
            timer._done = True
            timer._clock = None
            self._n_cancelled += 1
            heap = self._heap
            if len(heap) >= _COMPACT_MIN and self._n_cancelled * 2 > len(heap):
                heap[:] = [entry for entry in heap if not entry[2]._done]
                heapq.heapify(heap)
                self._n_cancelled = 0

    def _pop_due(self, now: float) -> Timer | None:
        """Remove and return the earliest live timer due at ``now``, skipping cancelled ones."""
        heap = self._heap
        while heap:
            when, _, timer = heap[0]
            if timer._done:
                heapq.heappop(heap)
                self._n_cancelled = max(0, self._n_cancelled - 1)
                continue
            if when > now:
                return None
            heapq.heappop(heap)
            timer._done = True
            timer._clock = None
            return timer
        return None

    def _next_when(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2]._done:
            heapq.heappop(heap)
            self._n_cancelled = max(0, self._n_cancelled - 1)
        return heap[0][0] if heap else None

    @property
    def pending(self) -> int:
        """Number of timers that have neither fired nor been cancelled."""
        with self._lock:
            return sum(1 for entry in self._heap if not entry[2]._done)

    @staticmethod
    def _run(timer: Timer) -> None:
        try:
            timer.fn(*timer.args)
        except Exception:
            _log.exception("platform timer callback %r failed", timer.fn)


def _check_speed(speed: float) -> float:
    speed = float(speed)
    if not speed > 0 or speed == float("inf"):
        raise ValueError(f"clock speed must be a positive finite number, got {speed!r}")
    return speed


class PlatformClock(_TimerHeap):
    """Real time multiplied by ``speed``; platform timers run on one daemon thread.

    Platform monotonic time starts equal to ``time.monotonic()`` and platform epoch time starts
    equal to ``time.time()``; from then on both advance ``speed`` platform seconds per real
    second. Changing ``speed`` re-anchors the clock at the current instant, so platform time never
    jumps, and pending timers and sleeps are re-timed to the new pace.
    """

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__()
        self._speed = _check_speed(speed)
        self._real0 = time.monotonic()
        self._plat0 = self._real0
        self._epoch_offset = time.time() - self._real0  # platform epoch = monotonic + offset
        self._wake = threading.Condition(self._lock)  # timer thread: heap changed or speed
        self._sleepers = threading.Condition(self._lock)  # sleep(): speed changed or closed
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- time
    def _mono_locked(self) -> float:
        return self._plat0 + (time.monotonic() - self._real0) * self._speed

    def monotonic(self) -> float:
        """Platform monotonic seconds (for deadlines and durations of platform waits)."""
        with self._lock:
            return self._mono_locked()

    def now(self) -> float:
        """Platform epoch seconds (for timestamps such as an async event's age)."""
        with self._lock:
            return self._mono_locked() + self._epoch_offset

    @property
    def speed(self) -> float:
        """Platform seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = _check_speed(value)
        with self._lock:
            real = time.monotonic()
            self._plat0 = self._plat0 + (real - self._real0) * self._speed
            self._real0 = real
            self._speed = value
            self._wake.notify()
            self._sleepers.notify_all()

    # ---------------------------------------------------------------- timers
    def call_at(self, platform_monotonic: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` on the clock thread once ``monotonic()`` reaches the given time."""
        with self._lock:
            timer = self._push(platform_monotonic, fn, args)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="kernel_runtime-clock", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is timer:
                self._wake.notify()  # new earliest deadline: re-time the wait
            return timer

    def call_later(self, platform_delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` after ``platform_delay_s`` platform seconds."""
        with self._lock:
            when = self._mono_locked() + platform_delay_s
        return self.call_at(when, fn, *args)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._closed:
                        return
                    now = self._mono_locked()
                    timer = self._pop_due(now)
                    if timer is not None:
                        break
                    when = self._next_when()
                    if when is None:
                        self._wake.wait()
                    else:
                        self._wake.wait((when - now) / self._speed)
            self._run(timer)
            del timer

    def sleep(self, platform_s: float) -> None:
        """Block for ``platform_s`` platform seconds (``platform_s / speed`` real seconds).

        A speed change during the sleep re-times the rest of it; :meth:`close` ends it early.
        """
        with self._lock:
            deadline = self._mono_locked() + platform_s
            while not self._closed:
                remaining = deadline - self._mono_locked()
                if remaining <= 0:
                    return
                self._sleepers.wait(remaining / self._speed)

    def close(self) -> None:
        """Stop the clock thread and drop pending timers (they never run). Idempotent."""
        with self._lock:
            self._drop_timers()
            self._closed = True
            self._wake.notify_all()
            self._sleepers.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def __enter__(self) -> PlatformClock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PlatformClock speed={self._speed:g} pending={self.pending}>"


class ManualClock(_TimerHeap):
    """A clock that stands still until :meth:`advance` moves it: for deterministic tests.

    ``monotonic()`` starts at ``start`` (default 0.0) and ``now()`` at ``epoch`` (a fixed instant,
    so records made under test are reproducible). ``speed`` is accepted and stored but has no
    effect: only ``advance`` moves time. ``sleep`` blocks the calling thread until another thread
    advances the clock past its deadline, as platform threads would in real time; a test that
    sleeps on its own thread should call ``advance`` instead.
    """

    def __init__(self, start: float = 0.0, *, epoch: float = 1_700_000_000.0, speed: float = 1.0):
        super().__init__()
        self._mono = float(start)
        self._epoch_offset = float(epoch) - self._mono
        self._speed = _check_speed(speed)
        self._moved = threading.Condition(self._lock)
        self._advancing = False

    def monotonic(self) -> float:
        """Platform monotonic seconds; changes only through :meth:`advance`."""
        return self._mono

    def now(self) -> float:
        """Platform epoch seconds; moves with :meth:`monotonic`."""
        return self._mono + self._epoch_offset

    @property
    def speed(self) -> float:
        """Stored for interface parity with :class:`PlatformClock`; has no effect."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._speed = _check_speed(value)

    def call_at(self, platform_monotonic: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` during the :meth:`advance` that reaches the given time."""
        with self._lock:
            return self._push(platform_monotonic, fn, args)

    def call_later(self, platform_delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` during the :meth:`advance` that moves ``platform_delay_s`` on."""
        with self._lock:
            return self._push(self._mono + platform_delay_s, fn, args)

    def advance(self, seconds: float) -> int:
        """Move time forward, running due timers in (time, scheduling) order; returns how many ran.

        Each callback sees ``monotonic()`` equal to its own due time, and timers that callbacks
        schedule inside the window run in the same call. Callback errors are logged, as on the
        live clock.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            if self._advancing:
                raise RuntimeError("advance() called from a timer callback")
            self._advancing = True
            target = self._mono + seconds
        ran = 0
        try:
            while True:
                with self._lock:
                    timer = self._pop_due(target)
                    if timer is None:
                        self._mono = target
                        self._moved.notify_all()
                        return ran
                    self._mono = max(self._mono, timer.when)
                    self._moved.notify_all()
                self._run(timer)
                ran += 1
        finally:
            with self._lock:
                self._advancing = False

    def sleep(self, platform_s: float) -> None:
        """Block until another thread advances the clock by ``platform_s`` (or closes it)."""
        with self._lock:
            deadline = self._mono + platform_s
            while self._mono < deadline and not self._closed:
                self._moved.wait()

    def close(self) -> None:
        """Drop pending timers and release sleepers. Idempotent."""
        with self._lock:
            self._drop_timers()
            self._closed = True
            self._moved.notify_all()

    def __enter__(self) -> ManualClock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ManualClock t={self._mono:g} pending={self.pending}>"
