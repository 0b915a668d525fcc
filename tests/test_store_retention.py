"""The store's size limit (kernel_runtime.observe._retention): the oldest records go."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from kernel_runtime.invocation import Invocation
from kernel_runtime.observe import _store
from kernel_runtime.observe._retention import (
    DEFAULT_MAX_BYTES,
    ENV_MAX_MB,
    Retention,
    max_bytes_from_env,
    used_bytes,
)
from kernel_runtime.observe._store import Store
from kernel_runtime.observe._store_writer import connect

from .test_store import T0
from .test_store import inv as store_inv

STREAM = "2026/11/28/[$LATEST]{:032x}"


def inv(n: int, *, env: int = 0) -> Invocation:
    """Invocation ``n`` of test_store's kind (started at T0 + n seconds, a log of four lines),
    in environment ``env``'s stream."""
    return store_inv(n, stream=STREAM.format(env))._replace(
        environment_id=f"env-{env}", cold_start=False, init_duration_ms=None
    )


def record(store: Store, first: int, count: int, *, env: int = 0) -> None:
    """Invocations ``first`` .. ``first + count - 1``, each with its lifecycle pair."""
    for n in range(first, first + count):
        store.record_lifecycle(f"env-{env}", "orders", "$LATEST", "BUSY", T0 + n)
        store.record_invocation(inv(n, env=env))
        store.record_lifecycle(f"env-{env}", "orders", "$LATEST", "READY", T0 + n + 0.005)


def used(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return used_bytes(conn)


def settle(store: Store, limit: int, timeout: float = 20.0) -> None:
    """Pruning runs after committed batches: give it batches until the data is under
    ``limit``."""
    deadline = time.monotonic() + timeout
    while used(store.path) > limit:
        assert time.monotonic() < deadline, f"still {used(store.path)} bytes > {limit}"
        store.record_throttle("orders", at=time.time())
        store.flush()
        time.sleep(0.05)


def request_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT request_id FROM invocations ORDER BY started_at").fetchall()
    return [int(r[0].rsplit("-", 1)[1]) for r in rows]


# -- the limit, from the environment or the caller --------------------------------------------
def test_max_bytes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_MAX_MB, raising=False)
    assert max_bytes_from_env() == DEFAULT_MAX_BYTES == 1 << 30
    monkeypatch.setenv(ENV_MAX_MB, "5")
    assert max_bytes_from_env() == 5 * 1024 * 1024
    monkeypatch.setenv(ENV_MAX_MB, "0.5")
    assert max_bytes_from_env() == 512 * 1024
    for bad in ("0", "-3", "lots", "nan", "inf"):
        monkeypatch.setenv(ENV_MAX_MB, bad)
        with pytest.raises(ValueError, match=f"{ENV_MAX_MB} must be a positive number"):
            max_bytes_from_env()
        with pytest.raises(ValueError, match=ENV_MAX_MB):
            Store(tmp_path / "s.sqlite3")
    monkeypatch.setenv(ENV_MAX_MB, "7")
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.max_bytes == 7 * 1024 * 1024
    with Store(tmp_path / "s.sqlite3", max_bytes=4096 * 100) as store:
        assert store.max_bytes == 409_600  # the argument wins
    for bad_arg in (0, -1, 1.5, "1"):
        with pytest.raises(ValueError, match="max_bytes must be a positive int"):
            Store(tmp_path / "s.sqlite3", max_bytes=bad_arg)  # type: ignore[arg-type]


# -- pruning through the store ------------------------------------------------------------------
def test_the_oldest_records_of_every_kind_go_first(tmp_path: Path) -> None:
    limit = 600_000  # ~200 invocations; a batch here is 30
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=0.02, max_bytes=limit) as store:
        # an old alarm change and metric point, older than nearly everything
        store.record_alarm_state("errors", "OK", "ALARM", "Threshold Crossed", T0 - 10)
        store.record_metric("Shop", "Orders", 1.0, timestamp=T0 - 10)
        record(store, 0, 50, env=1)  # the oldest stream: its events all go
        for first in range(50, 3_050, 30):  # 50 .. 3,049
            record(store, first, 30)
            store.flush()
        store.record_alarm_state("errors", "ALARM", "OK", "Threshold not crossed", T0 + 5_000)
        store.flush()
        settle(store, limit)
        kept = request_ids(path)
        # the newest survive, as one unbroken run up to the last one recorded
        assert kept and kept[-1] == 3_049
        assert kept == list(range(kept[0], 3_050))
        assert 100 < len(kept) < 2_000
        oldest_kept = kept[0]
        # everything older than the oldest kept invocation went, of every kind
        with sqlite3.connect(path) as conn:
            q = conn.execute
            # (of the last batch reached, each table loses the same share: the cuts agree
            # to within a few invocations)
            assert q("SELECT min(at) FROM lifecycle").fetchone()[0] >= T0 + oldest_kept - 3
            first_event = q("SELECT min(timestamp) FROM log_events").fetchone()[0]
            assert first_event >= (T0 + oldest_kept - 3) * 1000
            streams = [r[0] for r in q("SELECT log_stream FROM log_streams")]
            assert streams == [STREAM.format(0)]
            assert q("SELECT count(*) FROM metric_points").fetchone()[0] == 0
            alarms = q("SELECT new_state FROM alarm_history").fetchall()
            assert alarms == [("OK",)]
        # what is kept is whole: the newest invocation's log events are all there
        rid = "00000000-0000-4000-8000-000000003049"
        events = store.log_events("/aws/lambda/orders", STREAM.format(0), request_id=rid)
        assert [e["message"].split(" ")[0] for e in events] == ["START", "order", "END", "REPORT"]
        assert used(path) <= limit
        # pruning keeps the file from growing: as much again, and it stays near its size
        size = path.stat().st_size
        for first in range(3_050, 6_050, 30):
            record(store, first, 30)
            store.flush()
        settle(store, limit)
        assert request_ids(path)[-1] == 6_049
        assert path.stat().st_size < size * 1.5


def test_under_the_limit_nothing_goes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=0.02, max_bytes=50 * 1024 * 1024) as store:
        record(store, 0, 500)
        store.flush()
        time.sleep(0.3)
        record(store, 500, 10)
        store.flush()
    assert request_ids(path) == list(range(510))


def test_the_store_prunes_when_it_writes_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Any, max_bytes: int) -> Any:
        raise OSError("no interpreter")

    monkeypatch.setattr(_store._w, "start_writer", refuse)
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=0.02, max_bytes=300_000) as store:
        for first in range(0, 2_000, 20):
            record(store, first, 20)
            store.flush()
        settle(store, 300_000)
        assert store._writer.process is None
        kept = request_ids(path)
        assert kept[-1] == 1_999 and kept == list(range(kept[0], 2_000)) and kept[0] > 0


# -- the policy on its own ----------------------------------------------------------------------
def _filled(tmp_path: Path, batches: int, per_batch: int = 100) -> sqlite3.Connection:
    """``batches`` committed batches of ``per_batch`` invocations (4 log events and 2
    lifecycle states each)."""
    path = tmp_path / "s.sqlite3"
    # the shipper ships only when flushed: one batch per flush, exactly
    with Store(path, flush_interval=3600, max_bytes=1 << 40) as store:
        for b in range(batches):
            record(store, b * per_batch, per_batch)
            store.flush()
    return connect(path)


def counts(conn: sqlite3.Connection) -> tuple[int, int, int, int]:
    q = conn.execute
    return (
        q("SELECT count(*) FROM invocations").fetchone()[0],
        q("SELECT count(*) FROM log_events").fetchone()[0],
        q("SELECT count(*) FROM lifecycle").fetchone()[0],
        q("SELECT count(*) FROM retention_marks").fetchone()[0],
    )


def test_a_step_deletes_whole_batches_oldest_first(tmp_path: Path) -> None:
    conn = _filled(tmp_path, 10)
    assert counts(conn) == (1_000, 4_000, 2_000, 10)  # a mark per batch
    retention = Retention(1, step_rows=1_000, step_s=None)
    # two batches fit under 1,000 rows of every table (800 log events); a third would not
    assert retention.step(conn) == 200 + 800 + 400
    assert counts(conn) == (800, 3_200, 1_600, 8)
    assert request_ids_of(conn)[0] == 200
    assert retention.pruning  # still over its 1 byte
    assert retention.step(conn) == 1_400
    assert counts(conn) == (600, 2_400, 1_200, 6)


def test_a_batch_larger_than_a_step_goes_in_several(tmp_path: Path) -> None:
    conn = _filled(tmp_path, 3)
    retention = Retention(1, step_rows=300, step_s=None)
    # the first batch's 400 log events: 300 now, and as large a share (3/4) of its
    # invocations and states, so that the tables stay cut at the same invocation ...
    assert retention.step(conn) == 75 + 300 + 150
    assert counts(conn) == (225, 900, 450, 3)
    assert request_ids_of(conn)[0] == 75
    # ... the rest of it next, and nothing of the second batch yet
    assert retention.step(conn) == 25 + 100 + 50
    assert counts(conn) == (200, 800, 400, 2)
    events = conn.execute("SELECT min(timestamp) FROM log_events").fetchone()[0]
    assert events == (T0 + 100) * 1000


def test_the_time_a_record_carries_does_not_make_it_old(tmp_path: Path) -> None:
    """A metric point dated two weeks back, written last, is the newest record."""
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=0.02, max_bytes=1 << 40) as store:
        for b in range(4):
            record(store, b * 100, 100)
            store.flush()
        store.record_metric("Shop", "Orders", 1.0, timestamp=T0 - 14 * 86_400)
        store.record_alarm_state("errors", "OK", "ALARM", "Threshold Crossed", T0 - 86_400)
    conn = connect(path)
    retention = Retention(1, step_rows=10_000, step_s=None)
    while retention.step(conn) and counts(conn)[0]:
        pass
    assert counts(conn)[0] == 0  # every invocation went before them
    assert conn.execute("SELECT count(*) FROM metric_points").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM alarm_history").fetchone()[0] == 1


def test_a_store_without_marks_is_pruned_by_insertion_order(tmp_path: Path) -> None:
    """Records written before the marks existed (an older lambda-lab) go first, oldest
    rows of each table first."""
    conn = _filled(tmp_path, 2)
    conn.execute("DELETE FROM retention_marks")
    retention = Retention(1, step_rows=150, step_s=None)
    # the largest table (800 log events) takes 150, the others the same share of theirs
    assert retention.step(conn) == 37 + 150 + 75
    assert counts(conn) == (163, 650, 325, 0)
    assert request_ids_of(conn)[0] == 37


def test_pruning_ends_at_the_newest_batch(tmp_path: Path) -> None:
    conn = _filled(tmp_path, 4, per_batch=10)
    retention = Retention(1, step_rows=10_000, step_s=None)
    steps = []
    while True:
        steps.append(retention.step(conn))
        if not retention.pruning:
            break
        assert len(steps) < 50, steps
    assert counts(conn) == (10, 40, 20, 1)  # the newest batch always stays
    assert conn.execute("SELECT count(*) FROM log_streams").fetchone()[0] == 1
    assert steps[0] > 0 and sum(steps) == 30 + 120 + 60
    assert retention.step(conn) == 0  # over (1 byte) but nothing left: no busy loop
    assert not retention.pruning
    # rows written before the marks existed have no such protection
    conn.execute("DELETE FROM retention_marks")
    while retention.step(conn):
        pass
    assert counts(conn) == (0, 0, 0, 0)
    assert conn.execute("SELECT count(*) FROM log_streams").fetchone()[0] == 0


def request_ids_of(conn: sqlite3.Connection) -> list[int]:
    rows = conn.execute("SELECT request_id FROM invocations ORDER BY id").fetchall()
    return [int(r[0].rsplit("-", 1)[1]) for r in rows]


def test_steps_shrink_when_they_are_slow_and_grow_back(tmp_path: Path) -> None:
    conn = _filled(tmp_path, 12)
    retention = Retention(1, step_rows=800, step_s=1e-9)  # every step is "slow"
    retention.step(conn)
    assert retention.step_rows == 400
    retention.step(conn)
    assert retention.step_rows == 200
    for _ in range(5):
        retention.step(conn)
    assert retention.step_rows == 100  # the floor
    retention._step_s = 1e9  # now every step is fast: back up to what it was given
    for _ in range(5):
        retention.step(conn)
    assert retention.step_rows == 800


def test_a_batch_larger_than_what_must_go_keeps_its_newest_rows(tmp_path: Path) -> None:
    conn = _filled(tmp_path, 1, per_batch=1_000)
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=3600, max_bytes=1 << 40) as store:
        record(store, 1_000, 10)  # the newest batch, small
    conn = connect(path)
    full = used_bytes(conn)
    retention = Retention(full // 2, step_s=None)
    while retention.step(conn):
        pass
    kept = request_ids_of(conn)
    # the big batch lost its oldest rows only, about what the limit asked (not all of them)
    assert kept[-1] == 1_009 and kept == list(range(kept[0], 1_010))
    assert 200 < len(kept) < 700, len(kept)
    assert used_bytes(conn) <= full // 2
    # its tables were cut at the same invocation, give or take a few (rounding, per step)
    first_event = conn.execute("SELECT min(timestamp) FROM log_events").fetchone()[0]
    first_state = conn.execute("SELECT min(at) FROM lifecycle").fetchone()[0]
    assert abs(first_event / 1000 - (T0 + kept[0])) <= 3
    assert abs(first_state - (T0 + kept[0])) <= 3
