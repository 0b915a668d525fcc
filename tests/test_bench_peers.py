"""awslambdaric hosted by benchmarks/_runtime_api.py: round trip, errors, cleanup."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("awslambdaric")

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
)
from _runtime_api import RuntimeAPIServer  # noqa: E402

HANDLER = """
def echo(event, context):
    return {"marker": "peer-bench", "event": event,
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis()}

def boom(event, context):
    raise ValueError("bad input: %s" % event.get("n"))
"""


def _spawn(server, tmp_path, handler):
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=server.address)
    for k in ("AWS_EXECUTION_ENV", "AWS_LAMBDA_MAX_CONCURRENCY", "_LAMBDA_TELEMETRY_LOG_FD"):
        env.pop(k, None)
    return subprocess.Popen(
        [sys.executable, "-m", "awslambdaric", handler],
        cwd=str(tmp_path),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


@pytest.fixture
def handler_dir(tmp_path):
    (tmp_path / "peer_test_handler.py").write_text(HANDLER)
    return tmp_path


def test_round_trip_and_error(handler_dir):
    server = RuntimeAPIServer()
    procs = []
    try:
        procs.append(_spawn(server, handler_dir, "peer_test_handler.echo"))
        server.wait_ready(8)
        for i in (1, 2):
            status, body = server.invoke(
                json.dumps({"n": i}).encode(), timeout=3, request_id=f"req-{i}"
            )
            assert status == "ok"
            out = json.loads(body)
            assert out["marker"] == "peer-bench"
            assert out["event"] == {"n": i}
            assert out["request_id"] == f"req-{i}"
            assert 0 < out["remaining_ms"] <= 3000
        end = time.monotonic() + 2
        while server.next_count < 3 and time.monotonic() < end:
            time.sleep(0.005)
        assert server.next_count == 3  # polls /next again after the second answer
    finally:
        for p in procs:
            _kill(p)
        server.close()

    server = RuntimeAPIServer()
    try:
        procs.append(_spawn(server, handler_dir, "peer_test_handler.boom"))
        server.wait_ready(8)
        status, body = server.invoke(b'{"n": 7}', timeout=3)
        assert status == "error"
        err = json.loads(body)
        assert err["errorType"] == "ValueError"
        assert "bad input: 7" in err["errorMessage"]
        assert server.last_error_type == "ValueError"
        # the environment survives a handler exception
        status, body = server.invoke(b'{"n": 8}', timeout=3)
        assert status == "error" and "bad input: 8" in json.loads(body)["errorMessage"]
    finally:
        for p in procs:
            _kill(p)
        server.close()


def test_init_error_is_reported(handler_dir):
    server = RuntimeAPIServer()
    proc = _spawn(server, handler_dir, "peer_test_handler.missing")
    try:
        with pytest.raises(Exception) as info:
            server.wait_ready(8)
        assert type(info.value).__name__ == "RuntimeInitError"
        assert info.value.error_type == "Runtime.HandlerNotFound"
        assert proc.wait(5) == 1
    finally:
        _kill(proc)
        server.close()


def _load_peers():
    import importlib.util

    path = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "peers.py"
    )
    spec = importlib.util.spec_from_file_location("_bench_peers_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_close_ends_runtime(handler_dir):
    """close() drops the runtime's connection; awslambdaric then exits by itself."""
    server = RuntimeAPIServer()
    proc = _spawn(server, handler_dir, "peer_test_handler.echo")
    try:
        server.wait_ready(8)
        t0 = time.monotonic()
        server.close()
        assert time.monotonic() - t0 < 3
        assert proc.wait(5) != 0
        with pytest.raises(ConnectionError):
            server.invoke(b"{}", timeout=1)
    finally:
        _kill(proc)
        server.close()


def _descendants(pid):
    try:
        import psutil
    except ImportError:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
        ).stdout
        return [int(x) for x in out.split()]
    return [
        p.pid
        for p in psutil.Process(pid).children(recursive=True)
        if p.status() != psutil.STATUS_ZOMBIE
    ]


def test_close_and_bench_leave_no_children():
    import threading

    before = set(_descendants(os.getpid()))
    threads_before = {t.ident for t in threading.enumerate()}
    peers = _load_peers()
    rows = peers.bench_awslambdaric_cold(1)
    assert rows["n"] == 1 and rows["first_next_p50_ms"] > 0
    warm = peers.bench_awslambdaric_warm(20, warmup=2)
    assert warm["n"] == 20 and warm["uss_mib"] > 0
    time.sleep(0.05)
    assert set(_descendants(os.getpid())) - before == set()
    # close() joined every server thread
    leftover = [
        t
        for t in threading.enumerate()
        if t.ident not in threads_before and t.name.startswith("runtime-api")
    ]
    assert leftover == []
