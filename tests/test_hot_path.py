"""Pieces of the invoke path made cheaper: each must keep the exact behaviour it replaced."""

from __future__ import annotations

import decimal
import gc
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from kernel_runtime import LambdaRuntime
from kernel_runtime._ids import request_and_trace
from kernel_runtime.sandbox._environment import _encode_event
from kernel_runtime.sandbox._platform import PlatformLog
from kernel_runtime.sandbox._protocol import HEADER, RESULT, FrameBuffer, json_encoder, pack
from kernel_runtime.sandbox._worker import _dumps, _Encoder

from ._functions import run_concurrently

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TRACE = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")


def test_request_ids_from_prefetched_randomness_are_well_formed_and_unique_across_threads():
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [request_and_trace(i % 2 == 0) for i in range(500)]  # several refills
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    run_concurrently(threads)
    assert len(seen) == 2000
    assert all(_UUID4.fullmatch(rid) and _TRACE.fullmatch(trace) for rid, trace in seen)
    assert len({rid for rid, _ in seen}) == 2000
    assert len({trace[7:40] for _, trace in seen}) == 2000  # the roots' random parts too


def test_a_forked_child_does_not_reuse_its_parents_prefetched_ids():
    request_and_trace()  # a thread's first request draws for itself alone
    request_and_trace()  # then a batch is drawn; most of it is still unused
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, request_and_trace()[0].encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = [request_and_trace()[0] for _ in range(70)]  # more than the rest of the batch
    assert _UUID4.fullmatch(child)
    assert child not in parent


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"a": [1, 2.5, None, True, False, "é\u2028\x00"], "b": {"c": {}}},
        "text",
        17,
        1e300,
        float("nan"),
        [float("inf"), -float("inf")],
        {1: 2, None: 3, 2.5: 5},
        {True: 4, False: 0},
    ],
)
def test_event_encoding_matches_json_dumps(event):
    assert _encode_event(event) == json.dumps(event)


def test_event_encoding_errors_match_json_dumps_and_leave_it_usable():
    shared = {"k": 1}
    circular: list = []
    circular.append(circular)
    for bad in (circular, {"x": object()}, {(1, 2): 3}):
        with pytest.raises(Exception) as ours:
            _encode_event(bad)
        with pytest.raises(Exception) as theirs:
            json.dumps(bad)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
        # no id left behind from the failed call: the same object twice is not "circular"
        assert _encode_event([shared, shared]) == json.dumps([shared, shared])


def test_frame_buffer_feed_pop_takes_whole_frames_directly_and_splits_the_rest():
    frames = FrameBuffer()
    one = pack(RESULT, b"hello")
    assert frames.feed_pop(one) == (RESULT, b"hello")
    assert len(frames) == 0
    two = pack(RESULT, b"a" * 10) + pack(RESULT, b"b")
    assert frames.feed_pop(two[:3]) is None  # a header cut short
    assert frames.feed_pop(two[3:]) == (RESULT, b"a" * 10)
    assert frames.pop() == (RESULT, b"b")
    assert frames.pop() is None
    assert frames.feed_pop(pack(RESULT)[: HEADER.size]) == (RESULT, b"")


@pytest.mark.parametrize(
    ("fmt", "status", "init_ms", "error", "trace"),
    [
        ("Text", "success", None, None, None),  # the one-format case
        ("Text", "success", 12.345, None, None),
        ("Text", "error", None, "Runtime.ExitError", None),
        ("Text", "timeout", None, "Sandbox.Timedout", None),
        ("Text", "success", None, None, "Root=1-5f000000-0123456789abcdef01234567;"
         "Parent=0123456789abcdef;Sampled=1"),
        ("JSON", "success", None, None, None),
    ],
)  # fmt: skip
def test_end_report_is_end_then_report(fmt, status, init_ms, error, trace):
    log = PlatformLog(fmt, None, "us-east-1")
    args = ("r-1", 1.234567, 2, 1769, 42, init_ms)
    expected = log.end("r-1", status) + log.report(*args, status, error, trace)
    got = log.end_report("r-1", status, *args[1:], error, trace)
    if fmt == "JSON":  # timestamps differ by the microseconds between the two calls
        got, expected = (re.sub(r'"time": "[^"]+"', "", x) for x in (got, expected))
    assert got == expected


@pytest.mark.parametrize(
    "value",
    [{"ok": True}, {"é": "\u2028", "n": [1, 2.5]}, decimal.Decimal("3"), [decimal.Decimal("2.5")]],
)
def test_the_workers_response_encoding_matches_its_encoder_class(value):
    assert _dumps(value) == _Encoder(ensure_ascii=False, separators=(",", ":")).encode(value)


def test_threads_encoding_the_same_object_do_not_see_each_others_markers():
    """A default() that yields the GIL mid-document: with one shared markers dict, another
    thread encoding the same object would see it as a circular reference."""

    class Slow:
        pass

    class Encoder(json.JSONEncoder):
        def default(self, o):
            if isinstance(o, Slow):
                time.sleep(0.001)  # another thread runs, inside the same document
                return "slow"
            return super().default(o)

    encode = json_encoder(Encoder())
    shared = {"a": [Slow(), Slow()]}
    errors: list[BaseException] = []

    def run() -> None:
        for _ in range(20):
            try:
                assert encode(shared) == '{"a": ["slow", "slow"]}'
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    run_concurrently(threads)
    assert errors == []


def _voluntary_switches(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches line")


def test_the_worker_sleeps_once_per_invoke(tmp_path: Path) -> None:
    """Asleep in a unix socket's recv, the worker was also woken each time the supervisor
    read its reply (a write-space wakeup), i.e. twice per invoke when it was already back
    in recv by then; it waits in poll now. Two callers make that the usual case."""
    with LambdaRuntime(home=tmp_path, store=False, endpoint=False, freeze=False) as lab:
        lab.create_function("f", "app.handler", "def handler(e, c):\n    return 1\n")

        def call(n: int) -> None:
            for _ in range(n):
                assert lab.invoke("f", {}).payload == b"1"

        threads = [threading.Thread(target=call, args=(50,)) for _ in range(2)]
        run_concurrently(threads)
        envs = lab.service.pools.environments("f")
        before = {e.pid: _voluntary_switches(e.pid) for e in envs if e.pid}
        threads = [threading.Thread(target=call, args=(300,)) for _ in range(2)]
        run_concurrently(threads)
        done = sum(e.invocation_count for e in envs) - 100
        slept = sum(_voluntary_switches(pid) - n for pid, n in before.items())
    assert done == 600
    assert slept / done < 1.15, slept / done


def test_requests_leave_nothing_for_the_garbage_collector_to_track(tmp_path: Path) -> None:
    """A request's records (its lifecycle history, the invocation queued for the store) must
    not stay tracked by the cyclic collector: two enum pairs and a NamedTuple per request did,
    reached its oldest generation and drove full collections of the whole kernel (a 570,000-
    object kernel paused ~160 ms for one every ~50,000 requests)."""
    store = tmp_path / "s.sqlite3"
    with LambdaRuntime(home=tmp_path, endpoint=False, store=store, freeze=False) as lab:
        fn = lab.create_function("f", "app.handler", "def handler(e, c):\n    return 1\n")
        for _ in range(50):
            fn.invoke({})
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(500):
            fn.invoke({})
        gc.collect()
        grown = len(gc.get_objects()) - before
        assert grown < 50, grown  # was ~2,000: four per request
        env = lab.service.pools.environments("f")[0]
        assert [s for _, s in env.transitions][-2:] == ["BUSY", "READY"]
        assert type(env.transitions[-1][1]) is str  # the plain value, not the enum member
        assert lab.store.flush()  # what was queued as plain tuples is stored whole
        stored = lab.store.invocations("f")
        assert len(stored) == 550 and stored[-1]["function_name"] == "f"
        assert stored[-1]["request_id"] != stored[-2]["request_id"]
