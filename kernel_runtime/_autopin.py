"""Pinning the platform only while its own Python is the bottleneck (``pin_platform="auto"``).

:func:`~kernel_runtime._affinity.pin_process` (the runtime's process on one core, scheduled as a
batch; environments on the other cores) gives several threads invoking at once 1.5-2.0x the
invocations per second on 2 cores, measured. Pinned for good, though, a burst of cold starts has
one core less for the new environments' inits (1,000 of them on 2 cores: 11.5 s instead of 6.7),
CPU-bound functions share what is left, and the rest of the process (numpy's threads, a
notebook's subprocesses) is confined too. So by default the runtime pins itself only while it
is what limits the invocations: several in flight, many completed a second, almost no cold
starts. A burst of cold starts, or a load that stops, gives every core back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from . import _affinity
from .sandbox import State

_log = logging.getLogger(__name__)

__all__ = ["AutoPin", "PinDecision", "PinRule"]


@dataclass(frozen=True)
class PinRule:
    """When a window of activity counts as "the platform is the bottleneck"."""

    window_s: float = 0.1
    """How often the activity is looked at."""
    min_rate: float = 1000.0
    """Invocations completed per second (warm no-op invokes run 4,000-12,000 here)."""
    min_concurrency: int = 2
    """Invocations in flight at once: with one, no other thread waits for the GIL."""
    max_cold_starts: int = 2
    """Environments started per window; more means a burst, whose inits need every core."""
    pin_after: int = 2
    """Windows in a row that qualify before pinning."""
    unpin_after: int = 10
    """Windows in a row that do not qualify before unpinning (a burst unpins at once)."""


class PinDecision:
    """Pure: each window's counts in, "pin now" (True), "unpin now" (False) or None out."""

    def __init__(self, rule: PinRule | None = None) -> None:
        self.rule = rule or PinRule()
        self.pinned = False
        self._streak = 0

    def observe(
        self, invocations: int, cold_starts: int, peak_concurrency: int, seconds: float
    ) -> bool | None:
        """One window: ``invocations`` completed and ``cold_starts`` begun in its ``seconds``,
        and the most invocations in flight at once."""
        r = self.rule
        burst = cold_starts > r.max_cold_starts
        hot = (
            not burst
            and peak_concurrency >= r.min_concurrency
            and invocations >= r.min_rate * seconds
        )
        if self.pinned:
            self._streak = 0 if hot else self._streak + 1
            if burst or self._streak >= r.unpin_after:
                self.pinned, self._streak = False, 0
                return False
            return None
        self._streak = self._streak + 1 if hot else 0
        if self._streak >= r.pin_after:
            self.pinned, self._streak = True, 0
            return True
        return None


class AutoPin:
    """A daemon thread that watches the environment pools' activity and pins the process (and
    moves the environments in use off its core) while :class:`PinDecision` says so."""

    def __init__(self, pools: Any, rule: PinRule | None = None) -> None:
        self._pools = pools
        self.decision = PinDecision(rule)
        #: how many times the process was pinned, and when it was pinned (True) or unpinned
        #: (False): ``(time.monotonic(), pinned)``, the last 100
        self.pins = 0
        self.history: deque[tuple[float, bool]] = deque(maxlen=100)
        self._moved: set[int] = set()  # environment pids given the other cores
        self._cpus: list[int] | None = None
        self._restore: list[int] | None = None
        self._pinned = False
        self._lock = threading.Lock()  # close() may unpin while a timed-out thread pins
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lambda-lab-autopin", daemon=True)
        self._thread.start()

    @property
    def pinned(self) -> bool:
        return self._pinned

    def _run(self) -> None:
        window = self.decision.rule.window_s
        invocations, cold_starts, _ = self._pools.activity()
        last = time.monotonic()
        quiet = 0
        # a second between looks once nothing has run for a second: an idle kernel wakes rarely
        while not self._stop.wait(window if quiet * window < 1.0 else 1.0):
            now = time.monotonic()
            inv, cold, peak = self._pools.activity()
            done, started = inv - invocations, cold - cold_starts
            invocations, cold_starts = inv, cold
            quiet = quiet + 1 if done == 0 and not self._pinned else 0
            verdict = self.decision.observe(done, started, peak, now - last)
            last = now
            if verdict is True:
                try:
                    self._pin()
                except (OSError, ValueError) as exc:  # the CPUs changed under us (a cpuset)
                    _log.warning("lambda-lab: cannot pin the platform, not trying again: %s", exc)
                    self.decision.pinned = False
                    break
            elif verdict is False:
                self._unpin()
            elif self._pinned:
                self._move_environments()  # ones started since
        self._unpin()

    def _pin(self) -> None:
        with self._lock:
            if self._pinned or self._stop.is_set():
                return
            _affinity.pin_process()
            self._pinned = True
            self.pins += 1
            self.history.append((time.monotonic(), True))
            self._cpus = _affinity.environment_cpus()
            self._restore = _affinity.original_cpus()
        self._move_environments()

    def _move_environments(self) -> None:
        cpus = self._cpus
        if not cpus:
            return
        for env in self._pools.environments():
            pid = env.pid
            # not while its init runs: a burst's inits need every core (the next look moves it)
            if pid and pid not in self._moved and env.state is not State.INITIALIZING:
                self._moved.add(pid)
                try:
                    os.sched_setaffinity(pid, cpus)
                except OSError:  # gone since
                    pass

    def _unpin(self) -> None:
        with self._lock:
            if not self._pinned:
                return
            self._pinned = False
            self.decision.pinned = False
            _affinity.unpin_process()
            self.history.append((time.monotonic(), False))
        # only environments still known: a pid of one that ended may belong to another process
        restore = self._restore
        if restore:
            for env in self._pools.environments():
                if env.pid in self._moved:
                    try:
                        os.sched_setaffinity(env.pid, restore)
                    except OSError:
                        pass
        self._moved.clear()

    def close(self) -> None:
        """Stop watching and give every core back."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._unpin()
