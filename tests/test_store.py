"""The SQLite store and its batching writer (kernel_runtime.observe._store)."""

from __future__ import annotations

import gc
import json
import logging
import operator
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import psutil
import pytest

from kernel_runtime.clock import ManualClock
from kernel_runtime.invocation import Invocation
from kernel_runtime.observe import _store, _store_writer
from kernel_runtime.observe._logs import LogEvent
from kernel_runtime.observe._store import Store, StoreError

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_764_270_000.0  # epoch s
EMF = json.dumps(
    {
        "_aws": {
            "Timestamp": 1_764_270_000_500,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "Orders", "Unit": "Count"}],
                }
            ],
        },
        "service": "orders",
        "Orders": [1, 2],
    }
)


def inv(
    n: int,
    *,
    function: str = "orders",
    at: float | None = None,
    status: str = "success",
    raw_log: str | None = None,
    stream: str = "2025/11/27/[$LATEST]3893a6b87fac4485b47bb75b671a283c",
) -> Invocation:
    rid = f"00000000-0000-4000-8000-{n:012d}"
    started = T0 + n if at is None else at
    if raw_log is None:
        raw_log = (
            f"START RequestId: {rid} Version: $LATEST\n"
            f"order {n}\n"
            f"END RequestId: {rid}\n"
            f"REPORT RequestId: {rid}\tDuration: 5.00 ms\tBilled Duration: 5 ms\t\n"
        )
    return Invocation(
        request_id=rid,
        function_name=function,
        function_version="$LATEST",
        environment_id="env-1",
        log_stream_name=stream,
        payload=b'{"n": %d}' % n,
        function_error="Unhandled" if status != "success" else None,
        error_type="ValueError" if status == "error" else None,
        status=status,
        cold_start=n == 0,
        initialization_type="on-demand",
        init_duration_ms=120.5 if n == 0 else None,
        duration_ms=5.0,
        billed_duration_ms=5,
        memory_size_mb=128,
        max_memory_used_mb=40,
        started_at=started,
        finished_at=started + 0.005,
        trace_id="Root=1-6928a9dc-0123456789abcdef01234567",
        raw_log=raw_log,
    )


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "home" / "store.sqlite3", flush_interval=0.05)
    yield s
    s.close()


def raw_count(path: Path, table: str) -> int:
    """Rows as another reader of the file sees them (no flush through the store)."""
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def shipping(store: Store) -> psutil.Process:
    """The store's writer process, once it takes the batches (until then the store writes
    them itself)."""
    assert store._writer.ready.wait(20), "the writer process did not start"
    assert store._writer.process is not None
    return psutil.Process(store._writer.process.pid)


def ended(process: psutil.Process, timeout: float = 10.0) -> bool:
    """The process is gone (or a zombie nobody reaps yet: it runs no more code)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


# -- invocations ------------------------------------------------------------------------------
def test_invocation_round_trip(store: Store) -> None:
    record = inv(0, status="error")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:live"
    store.record_invocation(record, qualifier="live", function_arn=arn, architecture="arm64")
    (row,) = store.invocations()
    expected = record._asdict()
    del expected["raw_log"]
    assert {k: row[k] for k in expected} == expected
    assert row["cold_start"] is True
    assert (row["qualifier"], row["function_arn"], row["architecture"]) == ("live", arn, "arm64")
    assert set(row) == set(expected) | {"qualifier", "function_arn", "architecture"}


def test_invocation_filters_and_columns(store: Store) -> None:
    for n in range(30):
        store.record_invocation(inv(n, function="orders" if n % 3 else "billing"))
    assert len(store.invocations()) == 30
    billing = store.invocations("billing")
    assert [r["request_id"][-2:] for r in billing] == [f"{n:02d}" for n in range(0, 30, 3)]
    window = store.invocations("orders", start=T0 + 10, end=T0 + 20)
    assert [r["started_at"] - T0 for r in window] == [10, 11, 13, 14, 16, 17, 19]
    last = store.invocations("orders", limit=3)  # the most recent, oldest first
    assert [r["started_at"] - T0 for r in last] == [26, 28, 29]
    one = store.invocations(request_id=inv(7).request_id)
    assert [r["payload"] for r in one] == [b'{"n": 7}']
    columns = store.columns("billing", end=T0 + 9)
    assert columns["started_at"] == [T0, T0 + 3, T0 + 6]
    assert columns["cold_start"] == [True, False, False]
    assert "payload" not in columns and "raw_log" not in columns
    assert store.columns("nobody")["duration_ms"] == []


def test_window_query_uses_the_function_time_index(tmp_path: Path) -> None:
    path = tmp_path / "big.sqlite3"
    with Store(path) as store:
        for n in range(20_000):  # 10 functions over ~5.5 hours, no log lines: fast to write
            store.record_invocation(inv(n, function=f"f{n % 10}", at=T0 + n, raw_log=""))
        assert store.flush(30)
        started = time.perf_counter()
        rows = store.invocations("f3", start=T0 + 3600, end=T0 + 7200)
        elapsed = time.perf_counter() - started
        assert len(rows) == 360
        assert elapsed < 0.1
        with sqlite3.connect(path) as conn:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM invocations WHERE function_name = ? "
                "AND started_at >= ? AND started_at < ? ORDER BY started_at",
                ("f3", T0, T0 + 1),
            ).fetchall()
        assert "invocations_function_time" in str(plan)


# -- logs -------------------------------------------------------------------------------------
def test_invocation_log_events(store: Store) -> None:
    traceback = "[ERROR] ValueError: boom\rTraceback (most recent call last):\r  File x\n"
    rid = inv(1).request_id
    raw = f"START RequestId: {rid} Version: $LATEST\nhello\n{traceback}END RequestId: {rid}\n"
    store.record_invocation(inv(1, raw_log=raw, status="error"))
    store.record_invocation(inv(2, stream="2025/11/27/[$LATEST]other"))
    events = store.log_events("/aws/lambda/orders")
    assert [e["message"] for e in events[:4]] == [
        f"START RequestId: {rid} Version: $LATEST\n",
        "hello\n",
        "[ERROR] ValueError: boom\nTraceback (most recent call last):\n  File x\n",
        f"END RequestId: {rid}\n",
    ]
    assert len(events) == 8
    assert set(events[0]) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert events[0]["timestamp"] == round((T0 + 1) * 1000)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len({e["eventId"] for e in events}) == 8
    other = store.log_events("/aws/lambda/orders", stream="2025/11/27/[$LATEST]other")
    assert [e["message"] for e in other][1] == "order 2\n"
    assert len(store.log_events("/aws/lambda/orders", request_id=rid)) == 4
    assert store.log_events("/aws/lambda/nobody") == []


def test_log_event_queries(store: Store) -> None:
    for n in range(10):
        store.record_invocation(inv(n))
    group = "/aws/lambda/orders"
    assert len(store.log_events(group)) == 40
    # time range in epoch ms, [start, end)
    ranged = store.log_events(group, start=round((T0 + 2) * 1000), end=round((T0 + 4) * 1000))
    assert {e["message"] for e in ranged if e["message"].startswith("order")} == {
        "order 2\n",
        "order 3\n",
    }
    assert len(ranged) == 8
    assert [e["message"] for e in store.log_events(group, pattern="order", limit=2)] == [
        "order 0\n",
        "order 1\n",
    ]
    tail = store.log_events(group, pattern="order", limit=2, start_from_head=False)
    assert [e["message"] for e in tail] == ["order 8\n", "order 9\n"]
    newest = store.log_events(group, limit=1, start_from_head=False)
    assert (
        newest[0]["message"].startswith("REPORT RequestId: ")
        and inv(9).request_id in newest[0]["message"]
    )
    assert [e["message"] for e in store.log_events(group, pattern="?REPORT ?START -order")][:2] == [
        f"START RequestId: {inv(0).request_id} Version: $LATEST\n",
        f"REPORT RequestId: {inv(0).request_id}\tDuration: 5.00 ms\tBilled Duration: 5 ms\t\n",
    ]
    since = store.tail(group, round((T0 + 9) * 1000))
    assert [e["message"] for e in since][1] == "order 9\n" and len(since) == 4


def test_json_level_filter(store: Store) -> None:
    records = [
        {"timestamp": "2025-11-27T19:00:01.001Z", "level": lvl, "message": lvl.lower()}
        for lvl in ("DEBUG", "INFO", "WARN", "ERROR")
    ]
    raw = "".join(json.dumps(r) + "\n" for r in records) + "print line\n"
    store.record_invocation(inv(1, raw_log=raw))
    warn = store.log_events("/aws/lambda/orders", min_level="WARN")
    assert [json.loads(e["message"])["message"] for e in warn] == ["warn", "error"]
    assert len(store.log_events("/aws/lambda/orders", min_level="DEBUG")) == 5
    with pytest.raises(ValueError, match="Invalid log level"):
        store.log_events("/aws/lambda/orders", min_level="LOUDEST")


def test_log_streams_and_groups(tmp_path: Path) -> None:
    clock = ManualClock(epoch=T0 + 100)
    with Store(tmp_path / "s.sqlite3", flush_interval=0.05, clock=clock) as store:
        store.record_invocation(inv(1, stream="b-stream"))
        store.record_invocation(inv(5, stream="a-stream"))
        store.record_invocation(inv(3, stream="b-stream"))
        store.flush()
        clock.advance(10)
        store.record_log_events("/custom/group", "s1", [LogEvent(1000, "x"), (2000, "y")])
        streams = store.log_streams("/aws/lambda/orders")
        assert [s["logStreamName"] for s in streams] == ["a-stream", "b-stream"]
        b = streams[1]
        assert b == {
            "logStreamName": "b-stream",
            "creationTime": round((T0 + 100) * 1000),
            "firstEventTimestamp": round((T0 + 1) * 1000),
            "lastEventTimestamp": round((T0 + 3.005) * 1000),
            "lastIngestionTime": round((T0 + 100) * 1000),
            "storedBytes": 0,
        }
        newest = store.log_streams("/aws/lambda/orders", order_by="LastEventTime", descending=True)
        assert [s["logStreamName"] for s in newest] == ["a-stream", "b-stream"]
        custom = store.log_events("/custom/group")
        assert [(e["timestamp"], e["message"], e["ingestionTime"]) for e in custom] == [
            (1000, "x", round((T0 + 110) * 1000)),
            (2000, "y", round((T0 + 110) * 1000)),
        ]
        assert [g["logGroupName"] for g in store.log_groups()] == [
            "/aws/lambda/orders",
            "/custom/group",
        ]
        with pytest.raises(ValueError, match="orderBy"):
            store.log_streams("/aws/lambda/orders", order_by="Size")


def test_follow_delivers_new_events(store: Store) -> None:
    store.record_invocation(inv(0))
    store.flush()
    batches: list[list[dict[str, Any]]] = []
    got = threading.Event()

    def callback(events: list[dict[str, Any]]) -> None:
        batches.append(events)
        got.set()

    with store.follow("/aws/lambda/orders", callback, interval=0.02, pattern="order") as tail:
        store.record_invocation(inv(1))
        store.record_invocation(inv(2, function="billing"))
        assert got.wait(5)
        time.sleep(0.1)
        assert tail.running
    assert not tail.running
    assert [e["message"] for batch in batches for e in batch] == ["order 1\n"]
    everything: list[dict[str, Any]] = []
    follower = store.follow("/aws/lambda/orders", everything.extend, from_start=True)
    assert follower.poll() == 8
    follower.stop()
    assert len(everything) == 8


# -- metrics, lifecycle, throttles, traces, alarms ----------------------------------------------
def test_emf_metrics_from_invocation_logs(store: Store) -> None:
    rid = inv(1).request_id
    raw = f"START RequestId: {rid} Version: $LATEST\n{EMF}\nEND RequestId: {rid}\n"
    store.record_invocation(inv(1, raw_log=raw))
    store.record_metric("Shop", "Orders", 5, dimensions={"service": "web"}, unit="Count")
    store.record_metric("Shop", "Orders", 7, timestamp=T0 + 9)
    points = store.metric_points("Shop", "Orders", {"service": "orders"})
    assert [(p["timestamp"], p["value"], p["unit"]) for p in points] == [
        (T0 + 0.5, 1.0, "Count"),
        (T0 + 0.5, 2.0, "Count"),
    ]
    assert points[0]["dimensions"] == {"service": "orders"}
    assert [p["value"] for p in store.metric_points("Shop", "Orders", {})] == [7.0]
    assert len(store.metric_points("Shop", "Orders")) == 4
    # by time: 7 at T0 + 9, then 5 stamped now (no timestamp: the store's clock)
    assert [p["value"] for p in store.metric_points("Shop", "Orders", start=T0 + 1)] == [7.0, 5.0]
    # the EMF line itself stays a log event, as in CloudWatch
    assert any('"_aws"' in e["message"] for e in store.log_events("/aws/lambda/orders"))


def test_lifecycle_throttles_segments_alarms(tmp_path: Path) -> None:
    clock = ManualClock(epoch=T0)
    with Store(tmp_path / "s.sqlite3", flush_interval=0.05, clock=clock) as store:
        state = _StrEnum("READY")
        store.record_lifecycle("env-1", "orders", "$LATEST", "INITIALIZING", T0)
        store.record_lifecycle("env-1", "orders", "$LATEST", state, T0 + 0.2)
        store.record_lifecycle("env-2", "billing", "3", "BUSY")
        store.record_throttle("orders", qualifier="live")
        store.record_throttle(
            "orders", reason="ReservedFunctionConcurrentInvocationLimitExceeded", at=T0 + 5
        )
        trace = "1-6928a9dc-0123456789abcdef01234567"
        segments = [
            {"trace_id": trace, "id": "b" * 16, "parent_id": "a" * 16, "name": "orders",
             "start_time": T0 + 0.1, "end_time": T0 + 0.2, "origin": "AWS::Lambda::Function"},
            {"trace_id": trace, "id": "a" * 16, "name": "orders", "start_time": T0,
             "end_time": T0 + 0.3, "origin": "AWS::Lambda"},
            {"trace_id": trace, "name": "no id"},  # skipped: not a segment document
        ]  # fmt: skip
        store.record_segments(segments)
        store.record_alarm_state("errors", "INSUFFICIENT_DATA", "OK", "initial data", T0)
        store.record_alarm_state("errors", "OK", "ALARM", "Threshold Crossed", T0 + 60)
        lifecycle = store.lifecycle("orders")
        assert [(e["state"], e["at"]) for e in lifecycle] == [
            ("INITIALIZING", T0),
            ("READY", T0 + 0.2),
        ]
        assert store.lifecycle(environment_id="env-2")[0]["function_version"] == "3"
        assert store.lifecycle(start=T0 + 0.1, end=T0 + 1) == [lifecycle[1]]
        throttles = store.throttles("orders")
        assert throttles[0] == {
            "function_name": "orders",
            "qualifier": "live",
            "reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            "at": T0,  # the clock's now
        }
        assert len(store.throttles(start=T0 + 1)) == 1
        assert [s["origin"] for s in store.segments(trace)] == [
            "AWS::Lambda",
            "AWS::Lambda::Function",
        ]
        assert store.segments("1-00000000-000000000000000000000000") == []
        history = store.alarm_history("errors")
        assert [h["HistorySummary"] for h in history] == [
            "Alarm updated from OK to ALARM",
            "Alarm updated from INSUFFICIENT_DATA to OK",
        ]
        assert history[0]["HistoryItemType"] == "StateUpdate"
        assert history[0]["Timestamp"] == T0 + 60
        data = json.loads(history[0]["HistoryData"])
        assert data["newState"] == {"stateValue": "ALARM", "stateReason": "Threshold Crossed"}
        assert store.alarm_history("other") == []


def test_lifecycle_listener_queues_plain_text_that_marshals(tmp_path: Path) -> None:
    """The listener environments call twice per invocation queues the state's plain value, so
    a batch of them takes the marshal path (not the pickle fallback) to the writer."""
    with Store(tmp_path / "s.sqlite3", flush_interval=60) as store:
        listener = store.lifecycle_listener("env-1", "orders", "$LATEST")
        listener(object(), _StrEnum("BUSY"), T0)
        listener(object(), "READY", T0 + 0.001)
        queued = list(store._queue)
        assert [item[4] for item in queued] == ["BUSY", "READY"]
        assert all(type(item[4]) is str for item in queued)
        flags, _payload = _store_writer.encode(0, queued)
        assert flags & _store_writer.MARSHAL
        assert [e["state"] for e in store.lifecycle(environment_id="env-1")] == ["BUSY", "READY"]


def test_platform_segments_of_sampled_traced_invocations(store: Store) -> None:
    """With ``traced`` the writer builds the service's segments, for sampled requests only."""
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders"
    traced = (arn, "us-east-1", "123456789012")
    sampled = inv(1)._replace(
        trace_id="Root=1-6928a9dc-0123456789abcdef01234567;Parent=1111111111111111;Sampled=1"
    )
    unsampled = inv(2)._replace(
        trace_id="Root=1-6928a9dd-0123456789abcdef01234567;Parent=2222222222222222;Sampled=0"
    )
    store.record_invocation(sampled, function_arn=arn, traced=traced)
    store.record_invocation(unsampled, function_arn=arn, traced=traced)
    store.record_invocation(inv(3), function_arn=arn)  # not traced
    assert len(store.invocations(function="orders")) == 3
    documents = store.segments("1-6928a9dc-0123456789abcdef01234567")
    assert [d["origin"] for d in documents] == ["AWS::Lambda", "AWS::Lambda::Function"]
    service, function = documents
    assert function["id"] == "1" * 16  # the header's Parent: the function segment
    assert function["parent_id"] == service["id"]
    assert function["aws"]["function_arn"] == arn
    assert store.segments("1-6928a9dd-0123456789abcdef01234567") == []


class _StrEnum(str):
    """Stands for the sandbox's ``State`` (a str enum): stored as its ``value``."""

    @property
    def value(self) -> str:
        return str.__str__(self)


# -- the writer -------------------------------------------------------------------------------
def test_records_wait_in_memory_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=60) as store:
        for n in range(50):
            store.record_invocation(inv(n))
        assert raw_count(path, "invocations") == 0  # nothing written on the caller's thread
        assert store.flush()
        assert raw_count(path, "invocations") == 50
        assert raw_count(path, "log_events") == 200


def test_a_long_queue_wakes_the_writer_early(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=60) as store:
        for n in range(_store._HOLD_MAX + 10):
            store.record_throttle("orders", at=T0 + n)
        deadline = time.monotonic() + 10
        while raw_count(path, "throttles") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert raw_count(path, "throttles") > 0


def test_a_sustained_overload_waits_for_the_writer_instead_of_queueing_without_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Callers faster than the writer for long enough wait at the high-water mark until the
    queue has drained to the low one: memory stays bounded and nothing is dropped."""
    monkeypatch.setattr(_store, "_QUEUE_HIGH", 2_000)
    monkeypatch.setattr(_store, "_QUEUE_LOW", 1_000)
    path = tmp_path / "s.sqlite3"
    peak = 0
    with Store(path, flush_interval=60) as store:
        for n in range(10_000):
            store.record_invocation(inv(n))
            if n % 3 == 0:
                store.record_throttle("orders", at=T0 + n)
            peak = max(peak, len(store._queue))
        assert store.backlog_waits > 0
        assert peak <= 2_002  # the mark, plus the record that found the queue at it
        assert store.flush(60)
        assert raw_count(path, "invocations") == 10_000
        assert raw_count(path, "throttles") == 3_334


def test_records_wait_while_traffic_lasts_and_ship_when_it_pauses(tmp_path: Path) -> None:
    """Under steady traffic the shipper holds records (up to _HOLD_S), so the invoke path is
    not disturbed by writing; a pause ships them; a flush never waits for the pause."""
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=0.05) as store:
        end = time.monotonic() + 0.6
        n = 0
        while time.monotonic() < end:
            store.record_throttle("orders", at=T0 + n)
            n += 1
            time.sleep(0.005)
        assert raw_count(path, "throttles") == 0  # held while they kept coming
        deadline = time.monotonic() + 5
        while raw_count(path, "throttles") < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert raw_count(path, "throttles") == n  # the pause shipped them
        store.record_throttle("orders", at=T0 - 1)
        assert store.flush() and raw_count(path, "throttles") == n + 1


def test_a_bad_record_costs_only_itself(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.record_invocation(inv(1))
    store.record_invocation(object())  # not an Invocation
    store.record_invocation(inv(2))
    assert [r["started_at"] - T0 for r in store.invocations()] == [1, 2]
    assert "could not read" in caplog.text


def test_queries_see_what_was_recorded_before_them(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3", flush_interval=60) as store:
        store.record_invocation(inv(1))
        assert len(store.invocations()) == 1


def test_enqueue_is_cheap(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3", flush_interval=60) as store:
        record = inv(1)
        n = 2000
        rounds = []
        for _ in range(5):  # the best round: one pause of a noisy VM is not the enqueue's cost
            started = time.perf_counter()
            for _ in range(n):
                store.record_invocation(record)
            rounds.append((time.perf_counter() - started) / n)
        per_record = min(rounds)
        assert per_record < 20e-6  # a deque append; about 0.3 µs on a quiet machine


# -- durability and sharing -------------------------------------------------------------------
def test_reopen_after_close(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "store.sqlite3"
    store = Store(path)
    store.record_invocation(inv(1))
    store.record_alarm_state("a", "OK", "ALARM", "r", T0)
    store.close()
    store.close()  # idempotent
    assert store.closed
    store.record_invocation(inv(2))  # dropped, not raised
    with pytest.raises(StoreError, match="closed"):
        store.invocations()
    assert store.flush() is True
    with Store(path) as again:
        assert [r["request_id"] for r in again.invocations()] == [inv(1).request_id]
        assert len(again.log_events("/aws/lambda/orders")) == 4
        assert len(again.alarm_history()) == 1
        again.record_invocation(inv(3))
        assert len(again.invocations()) == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unclosed_store_is_collected_and_flushed(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path, flush_interval=60)
    writer = store._writer.thread
    store.record_invocation(inv(1))
    ref = weakref.ref(store)
    del store
    gc.collect()
    assert ref() is None
    writer.join(5)
    assert not writer.is_alive()
    assert raw_count(path, "invocations") == 1


def test_exit_without_close_commits(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    script = f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import inv
        from kernel_runtime.observe._store import Store
        store = Store({str(path)!r}, flush_interval=60)
        for n in range(25):
            store.record_invocation(inv(n))
        # no close(): the interpreter's exit commits the queue
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=60)
    assert raw_count(path, "invocations") == 25


def test_two_stores_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=0.01) as a, Store(path, flush_interval=0.01) as b:
        assert shipping(a).pid != shipping(b).pid  # two writer processes, one file

        def write(store: Store, function: str) -> None:
            for n in range(300):
                store.record_invocation(inv(n, function=function))
                if n % 50 == 0:
                    time.sleep(0.005)

        threads = [threading.Thread(target=write, args=(s, f)) for s, f in ((a, "x"), (b, "y"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert a.flush(30) and b.flush(30)
        assert len(a.invocations("y")) == len(b.invocations("x")) == 300
        assert len(b.log_events("/aws/lambda/x")) == 1200


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    script = """
        import sys, time
        sys.path.insert(0, {root!r})
        sys.path.insert(0, {tests!r})
        from test_store import inv
        from kernel_runtime.observe._store import Store
        store = Store({path!r}, flush_interval=0.005)
        assert store._writer.ready.wait(20)  # batches go to this store's writer process
        for n in range(1500):
            store.record_invocation(inv(n, function={function!r}))
            if n % 100 == 0:
                time.sleep(0.002)  # many small transactions, interleaved with the other
        store.close()
    """
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(script).format(
                    root=str(ROOT), tests=str(Path(__file__).parent), path=str(path), function=f
                ),
            ]
        )
        for f in ("p1", "p2")
    ]
    for p in procs:
        assert p.wait(60) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = dict(
            conn.execute("SELECT function_name, count(*) FROM invocations GROUP BY 1").fetchall()
        )
        logs = conn.execute("SELECT count(*) FROM log_events").fetchone()[0]
    assert counts == {"p1": 1500, "p2": 1500}
    assert logs == 4 * 3000


# -- the writer process -----------------------------------------------------------------------
def test_batches_are_written_by_the_writer_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path, flush_interval=60)
    writer = shipping(store)
    assert writer.ppid() == os.getpid()
    assert "kernel_runtime.observe._store_writer" in " ".join(writer.cmdline())
    here: list[Any] = []  # batches written in this process
    monkeypatch.setattr(_store._w, "write_batch", lambda *args, **kwargs: here.append(args))
    for n in range(50):
        store.record_invocation(inv(n))
    assert raw_count(path, "invocations") == 0
    assert store.flush()  # returns once the writer acknowledged the batch
    assert raw_count(path, "invocations") == 50
    assert raw_count(path, "log_events") == 200
    assert here == []
    store.close()
    assert store._writer.process.returncode == 0  # said BYE, exited and was reaped
    assert not writer.is_running()


def test_close_while_the_writer_process_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_store_writer, "_BOOT", "import time; time.sleep(60)")  # never ready
    path = tmp_path / "s.sqlite3"
    store = Store(path, flush_interval=60)
    deadline = time.monotonic() + 10
    while store._writer.process is None and time.monotonic() < deadline:
        time.sleep(0.001)
    process = store._writer.process
    assert process is not None
    store.record_invocation(inv(1))
    assert store.flush()  # written here: no one waits for the process
    assert raw_count(path, "invocations") == 1
    started = time.monotonic()
    store.close()  # the process was sent nothing: stopped, not waited for
    assert time.monotonic() - started < 2
    assert process.returncode == -signal.SIGTERM


def test_a_dead_writer_process_costs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kernel_runtime.observe")
    with Store(tmp_path / "s.sqlite3", flush_interval=60) as store:
        writer = shipping(store)
        store.record_invocation(inv(1))
        assert store.flush()
        writer.suspend()
        store.record_invocation(inv(2))
        assert store.flush(0.3) is False  # shipped, not acknowledged
        writer.kill()
        assert store.flush(10)  # the unacknowledged batch is written here
        store.record_invocation(inv(3))  # and everything after it
        assert [r["started_at"] - T0 for r in store.invocations()] == [1, 2, 3]
        assert len(store.log_events("/aws/lambda/orders")) == 12
        store.record_invocation(inv(4))
        assert len(store.invocations()) == 4
    warnings = [r.getMessage() for r in caplog.records if "writer process" in r.getMessage()]
    assert warnings == [
        "the store's writer process was stopped by signal 9; the store writes in this "
        "process instead"
    ]


def test_a_writer_process_that_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(path: Any, max_bytes: int) -> Any:
        raise OSError("no interpreter")

    monkeypatch.setattr(_store._w, "start_writer", refuse)
    with Store(tmp_path / "s.sqlite3", flush_interval=0.02) as store:
        store.record_invocation(inv(1))
        assert len(store.invocations()) == 1
        assert store._writer.process is None
    assert "could not start (no interpreter)" in caplog.text


def test_a_writer_process_that_dies_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_store_writer, "_BOOT", "import sys; sys.exit(3)")
    with Store(tmp_path / "s.sqlite3", flush_interval=0.02) as store:
        deadline = time.monotonic() + 20
        while "exited with status 3" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
        store.record_invocation(inv(1))
        assert len(store.invocations()) == 1
    assert caplog.text.count("writes in this process instead") == 1


class _Unloadable:
    """Pickles, but loading it fails (as a class only the kernel can import would)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return operator.truediv, (1, 0)

    def __str__(self) -> str:
        return "unloadable"


def test_records_the_writer_process_cannot_take(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trace = "1-6928a9dc-0123456789abcdef01234567"
    document = {"trace_id": trace, "name": "orders", "start_time": T0}
    with Store(tmp_path / "s.sqlite3", flush_interval=60) as store:
        shipping(store)
        # cannot be pickled: this batch is written here
        store.record_segments([{**document, "id": "a" * 16, "lock": threading.Lock()}])
        store.record_invocation(inv(1))
        assert store.flush()
        # pickled, but the writer cannot load it: it says so, and the batch is written here
        store.record_segments([{**document, "id": "b" * 16, "odd": _Unloadable()}])
        store.record_invocation(inv(2))
        assert store.flush()
        store.record_invocation(inv(3))  # the writer process still takes the next batch
        assert len(store.invocations()) == 3
        first, second = store.segments(trace)
        assert "_thread.lock" in first["lock"]
        assert second["odd"] == "unloadable"
        assert store._writer.process.poll() is None
    assert "cannot send 2 records to its writer process (TypeError" in caplog.text
    assert "could not load a batch (ZeroDivisionError" in caplog.text


def test_a_batch_in_chunks_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_store, "_CHUNK", 4)  # 21 records: 6 frames
    trace = "1-6928a9dc-0123456789abcdef01234567"
    document = {"trace_id": trace, "id": "c" * 16, "name": "orders", "start_time": T0}
    path = tmp_path / "s.sqlite3"
    with Store(path, flush_interval=60) as store:
        shipping(store)
        for bad in ({"lock": threading.Lock()}, {"odd": _Unloadable()}):
            before = raw_count(path, "invocations")
            for n in range(10):
                store.record_invocation(inv(before + n))
            store.record_segments([{**document, **bad}])
            for n in range(10, 20):
                store.record_invocation(inv(before + n))
            assert store.flush()
            # one chunk could not be sent (written here) or the writer refused one (the whole
            # batch written here): either way each record once
            assert raw_count(path, "invocations") == before + 20
        assert len(store.segments(trace)) == 2
        assert raw_count(path, "log_events") == 160
    assert "cannot send 4 records" in caplog.text and "could not load a batch" in caplog.text


def test_str_enums_reach_the_writer_process_as_text(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3", flush_interval=60) as store:
        shipping(store)
        store.record_lifecycle("env-1", "orders", "$LATEST", _StrEnum("READY"), T0)
        store.record_alarm_state("a", _StrEnum("OK"), _StrEnum("ALARM"), "r", T0)
        assert store.flush()
        assert [e["state"] for e in store.lifecycle()] == ["READY"]
        assert store.alarm_history()[0]["HistorySummary"] == "Alarm updated from OK to ALARM"
        assert store._writer._redo == [] and store._writer.process.poll() is None


def test_the_writer_process_dies_with_its_owner(tmp_path: Path) -> None:
    script = f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from kernel_runtime.observe._store import Store
        store = Store({str(tmp_path / "s.sqlite3")!r}, flush_interval=60)
        assert store._writer.ready.wait(20)
        # a forked copy keeps the writer's peer socket open: no EOF will end the writer
        copy = os.fork()
        if copy == 0:
            time.sleep(60)
            os._exit(0)
        print(store._writer.process.pid, copy, flush=True)
        time.sleep(60)
    """
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        writer_pid, copy_pid = map(int, owner.stdout.readline().split())  # type: ignore[union-attr]
        writer, copy = psutil.Process(writer_pid), psutil.Process(copy_pid)
        assert writer.is_running()
        owner.kill()
        owner.wait(10)
        assert ended(writer)  # PR_SET_PDEATHSIG: the owner's shipper thread is gone
    finally:
        owner.kill()
        owner.wait(10)
        for pid in (locals().get("copy_pid"), locals().get("writer_pid")):
            if pid:
                try:
                    psutil.Process(pid).kill()
                except psutil.NoSuchProcess:
                    pass


# -- schema versions --------------------------------------------------------------------------
def test_migration_from_an_older_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path) as store:
        store.record_invocation(inv(1))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(_store._MIGRATIONS)
    # a later lambda-lab adds a column and a table: the old file is brought forward on open
    newer = (
        *_store._MIGRATIONS,
        (
            "ALTER TABLE invocations ADD COLUMN tenant_id TEXT DEFAULT 'none'",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",
        ),
    )
    monkeypatch.setattr(_store, "_MIGRATIONS", newer)
    with Store(path) as store:
        assert [r["request_id"] for r in store.invocations()] == [inv(1).request_id]
        store.record_invocation(inv(2))
        store.flush()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(newer)
        assert conn.execute("SELECT tenant_id FROM invocations").fetchall() == [("none",)] * 2
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0


def test_a_fresh_file_gets_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert _store._migrate(conn, _store._MIGRATIONS) == 0
    assert _store._migrate(conn, _store._MIGRATIONS) == len(_store._MIGRATIONS)  # no-op
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables >= {
        "invocations",
        "lifecycle",
        "log_events",
        "log_streams",
        "metric_points",
        "throttles",
        "trace_segments",
        "alarm_history",
    }


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        Store(path)


def test_flush_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        Store(tmp_path / "s.sqlite3", flush_interval=0)


# -- a real invocation ------------------------------------------------------------------------
def test_real_invocation_end_to_end(tmp_path: Path) -> None:
    from kernel_runtime import LambdaRuntime

    source = (
        "import json\n"
        "def handler(event, context):\n"
        "    print('charging', event['amount'])\n"
        f"    print({EMF!r})\n"
        "    raise RuntimeError('card declined')\n"
    )
    with LambdaRuntime(endpoint=False, home=tmp_path / "home") as runtime:
        function = runtime.create_function("pay", "app.handler", {"app.py": source})
        record = function.invoke({"amount": 3})
        arn = function.configuration["FunctionArn"]
    with Store(tmp_path / "home" / "store.sqlite3") as store:
        store.record_invocation(record, qualifier="$LATEST", function_arn=arn)
        (row,) = store.invocations("pay")
        assert row["status"] == "error" and row["error_type"] == "RuntimeError"
        assert row["function_arn"] == arn and row["cold_start"] is True
        events = store.log_events("/aws/lambda/pay", stream=record.log_stream_name)
        messages = [e["message"] for e in events]
        assert "charging 3\n" in messages
        (failure,) = [m for m in messages if m.startswith("[ERROR] RuntimeError")]
        assert "\nTraceback (most recent call last):\n" in failure
        assert [e["message"] for e in store.log_events("/aws/lambda/pay", pattern='"card"')] == [
            failure
        ]
        assert [p["value"] for p in store.metric_points("Shop", "Orders")] == [1.0, 2.0]
        (stream,) = store.log_streams("/aws/lambda/pay")
        assert stream["logStreamName"] == record.log_stream_name
