"""Keeping the platform's own Python on one core, and every environment off that rule.

CPython runs one thread's Python at a time (the GIL). When two threads of the process drive
environments (two callers of ``invoke``, the endpoint's request threads), every socket call
hands the GIL over; with the threads spread over two cores each handoff crosses cores: a
futex wakeup on the other core and cold caches for the Python that follows. Keeping the whole
process on one core turns those into cheap switches on one core. Environments then run on the
other cores (as on AWS, where the service never shares a function's cores): otherwise the
kernel's wake-up heuristics keep pulling a worker onto the core of the thread that woke it.
The store's writer gets the original CPUs back.

The pinned threads are also scheduled as a batch (``SCHED_BATCH``): a thread woken by its
environment's reply then waits for the running thread to block instead of preempting it,
only to block on the GIL that thread still holds (two extra switches per request, measured;
1.2-1.4x the throughput of 2 callers on one core).
"""

from __future__ import annotations

import os
import threading

__all__ = [
    "available",
    "batched",
    "environment_cpus",
    "original_cpus",
    "pin_process",
    "unpin_process",
]

_BATCH = getattr(os, "SCHED_BATCH", None)
_OTHER = getattr(os, "SCHED_OTHER", None)

_lock = threading.Lock()
_pins = 0
_original: frozenset[int] | None = None
_pinned_cpu: int | None = None
_batched = False


def _threads() -> list[int]:
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _set_all(cpus: frozenset[int], policy: int | None = None) -> None:
    for tid in _threads():
        try:
            os.sched_setaffinity(tid, cpus)
            if policy is not None:
                os.sched_setscheduler(tid, policy, os.sched_param(0))
        except OSError:  # a thread that ended since the listing
            pass


def available() -> bool:
    """Whether this platform can pin (Linux) and has more than one CPU to spare."""
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1


def pin_process(cpu: int | None = None) -> int:
    """Put every thread of this process (and threads it starts later) on one CPU: ``cpu``, or
    the first CPU the process may use. Nested calls share the first pin. Returns the CPU."""
    global _pins, _original, _pinned_cpu, _batched
    with _lock:
        if _pins == 0:
            _original = frozenset(os.sched_getaffinity(0))
            # only a normally scheduled process becomes a batch (real-time or idle stay)
            _batched = _BATCH is not None and os.sched_getscheduler(0) == _OTHER
        assert _original is not None
        if cpu is None:
            cpu = min(_original)
        if cpu not in _original:
            raise ValueError(f"CPU {cpu} is not one this process may use ({sorted(_original)})")
        _pins += 1
        _pinned_cpu = cpu
        _set_all(frozenset((cpu,)), _BATCH if _batched else None)
        return cpu


def unpin_process() -> None:
    """Undo one :func:`pin_process`; the last one gives every thread its CPUs back."""
    global _pins, _original, _pinned_cpu, _batched
    with _lock:
        if _pins == 0:
            return
        _pins -= 1
        if _pins == 0 and _original is not None:
            _set_all(_original, _OTHER if _batched else None)
            _original = _pinned_cpu = None
            _batched = False


def original_cpus() -> list[int] | None:
    """The CPUs to give a process the platform starts while pinned (None when not pinned)."""
    with _lock:
        return sorted(_original) if _pins and _original is not None else None


def environment_cpus() -> list[int] | None:
    """The CPUs for processes that run function code while pinned: every original CPU but
    the platform's (all of them if it is the only one); None when not pinned."""
    with _lock:
        if not _pins or _original is None:
            return None
        rest = _original - {_pinned_cpu}
        return sorted(rest or _original)


def batched() -> bool:
    """Whether this process's threads run as a batch now (processes it starts inherit that;
    the zygote sets itself back)."""
    with _lock:
        return bool(_pins and _batched)
