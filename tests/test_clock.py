"""The platform clock: scaled real time with timers, and the manual clock for tests."""

from __future__ import annotations

import logging
import sys
import threading
import time

import pytest

from kernel_runtime.clock import ManualClock, PlatformClock


@pytest.fixture
def clock():
    c = PlatformClock(speed=1.0)
    yield c
    c.close()


def test_starts_at_real_time(clock: PlatformClock) -> None:
    assert abs(clock.now() - time.time()) < 0.05
    assert abs(clock.monotonic() - time.monotonic()) < 0.05


def test_runs_speed_times_faster() -> None:
    with PlatformClock(speed=50.0) as c:
        m0, e0, r0 = c.monotonic(), c.now(), time.monotonic()
        time.sleep(0.1)
        real = time.monotonic() - r0
        assert c.monotonic() - m0 == pytest.approx(50 * real, rel=0.1)
        assert c.now() - e0 == pytest.approx(50 * real, rel=0.1)


def test_speed_change_is_continuous(clock: PlatformClock) -> None:
    for speed in (1000.0, 0.001, 7.0, 1.0):
        before = clock.monotonic()
        clock.speed = speed
        after = clock.monotonic()
        assert 0 <= after - before < 0.05  # no jump either way
        assert clock.speed == speed
    with pytest.raises(ValueError):
        clock.speed = 0
    with pytest.raises(ValueError):
        clock.speed = -1


def test_readers_never_see_time_go_back_while_the_speed_changes(clock: PlatformClock) -> None:
    """Reads take no lock: a reader racing a speed change must still never step back."""
    stop = threading.Event()
    backwards: list[tuple[float, float]] = []

    def read() -> None:
        last = clock.monotonic()
        while not stop.is_set():
            now = clock.monotonic()
            if now < last:
                backwards.append((last, now))
            last = now

    readers = [threading.Thread(target=read) for _ in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    for r in readers:
        r.start()
    try:
        for i in range(400):
            clock.speed = 1000.0 if i % 2 else 0.001
    finally:
        stop.set()
        for r in readers:
            r.join()
        sys.setswitchinterval(interval)
    assert backwards == []


def test_call_later_fires_in_platform_time() -> None:
    with PlatformClock(speed=100.0) as c:
        fired = threading.Event()
        start = time.monotonic()
        c.call_later(10.0, fired.set)  # 10 platform s = 0.1 real s
        assert fired.wait(2.0)
        assert 0.08 <= time.monotonic() - start < 1.0


def test_timers_run_in_order_with_args(clock: PlatformClock) -> None:
    seen: list[int] = []
    done = threading.Event()
    base = clock.monotonic()
    for i in (3, 1, 2):
        clock.call_at(base + 0.01 * i, seen.append, i)
    clock.call_at(base + 0.05, done.set)
    assert done.wait(2.0)
    assert seen == [1, 2, 3]


def test_cancel(clock: PlatformClock) -> None:
    ran = threading.Event()
    done = threading.Event()
    t = clock.call_later(0.02, ran.set)
    assert t.active
    t.cancel()
    t.cancel()  # idempotent
    assert not t.active
    clock.call_later(0.05, done.set)
    assert done.wait(2.0)
    assert not ran.is_set()


def test_many_cancellations_are_compacted(clock: PlatformClock) -> None:
    timers = [clock.call_later(3600, print) for _ in range(1000)]
    for t in timers[:900]:
        t.cancel()
    assert clock.pending == 100
    assert len(clock._heap) < 1000


def test_speed_up_retimes_a_pending_timer() -> None:
    with PlatformClock(speed=1.0) as c:
        fired = threading.Event()
        c.call_later(60.0, fired.set)  # a minute at 1x...
        c.speed = 6000.0  # ...is 10 ms at 6000x
        assert fired.wait(2.0)


def test_callback_error_is_logged_and_thread_survives(
    clock: PlatformClock, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    done = threading.Event()
    with caplog.at_level(logging.ERROR, logger="kernel_runtime.clock"):
        clock.call_later(0.0, boom)
        clock.call_later(0.01, done.set)
        assert done.wait(2.0)
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_sleep_is_scaled() -> None:
    with PlatformClock(speed=20.0) as c:
        start = time.monotonic()
        c.sleep(2.0)  # 0.1 s real
        assert 0.09 <= time.monotonic() - start < 0.5


def test_close_drops_timers_and_wakes_sleepers() -> None:
    c = PlatformClock()
    ran = threading.Event()
    t = c.call_later(0.05, ran.set)
    woke = threading.Event()
    threading.Thread(target=lambda: (c.sleep(3600), woke.set()), daemon=True).start()
    time.sleep(0.02)
    c.close()
    assert woke.wait(2.0)
    assert not t.active
    time.sleep(0.1)
    assert not ran.is_set()
    with pytest.raises(RuntimeError):
        c.call_later(1, print)
    c.close()


# ---------------------------------------------------------------- ManualClock


def test_manual_clock_only_moves_on_advance() -> None:
    c = ManualClock(start=10.0, epoch=1000.0)
    assert c.monotonic() == 10.0 and c.now() == 1000.0
    time.sleep(0.01)
    assert c.monotonic() == 10.0
    c.advance(5)
    assert c.monotonic() == 15.0 and c.now() == 1005.0
    with pytest.raises(ValueError):
        c.advance(-1)


def test_manual_clock_runs_due_timers_in_order_at_their_time() -> None:
    c = ManualClock()
    seen: list[tuple[str, float]] = []
    c.call_at(3.0, lambda: seen.append(("c", c.monotonic())))
    c.call_later(1.0, lambda: seen.append(("a", c.monotonic())))
    c.call_at(1.0, lambda: seen.append(("b", c.monotonic())))  # same time: scheduling order
    late = c.call_at(10.0, lambda: seen.append(("late", c.monotonic())))
    cancelled = c.call_at(2.0, lambda: seen.append(("x", c.monotonic())))
    cancelled.cancel()
    assert c.advance(5.0) == 3
    assert seen == [("a", 1.0), ("b", 1.0), ("c", 3.0)]
    assert c.monotonic() == 5.0
    assert late.active and c.pending == 1


def test_manual_clock_runs_timers_scheduled_by_callbacks_within_the_window() -> None:
    c = ManualClock()
    seen: list[float] = []

    def tick() -> None:
        seen.append(c.monotonic())
        if len(seen) < 10:
            c.call_later(1.0, tick)

    c.call_later(1.0, tick)
    c.advance(4.5)
    assert seen == [1.0, 2.0, 3.0, 4.0]
    c.advance(100)
    assert len(seen) == 10


def test_manual_clock_logs_callback_errors(caplog: pytest.LogCaptureFixture) -> None:
    c = ManualClock()
    c.call_later(1, lambda: 1 / 0)
    after: list[int] = []
    c.call_later(2, after.append, 1)
    with caplog.at_level(logging.ERROR, logger="kernel_runtime.clock"):
        c.advance(3)
    assert after == [1]
    assert caplog.records


def test_manual_clock_sleep_waits_for_advance() -> None:
    c = ManualClock()
    woke = threading.Event()
    threading.Thread(target=lambda: (c.sleep(10), woke.set()), daemon=True).start()
    time.sleep(0.02)
    c.advance(5)
    assert not woke.wait(0.05)
    c.advance(5)
    assert woke.wait(2.0)


def test_manual_clock_speed_is_accepted_and_ignored() -> None:
    c = ManualClock()
    c.speed = 60
    assert c.speed == 60
    c.advance(1)
    assert c.monotonic() == 1.0
