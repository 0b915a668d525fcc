"""Many cold starts at once: what keeps a burst from costing more than its environments."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kernel_runtime import Sandbox
from kernel_runtime.sandbox import _launcher, _protocol, _zygote

from ._functions import run_concurrently, write_function


@pytest.fixture(params=[0], ids=["unparked"])
def launcher(request):
    launcher = _launcher.Launcher(
        limits="rlimit", runtime_id=os.urandom(4).hex(), pool_size=request.param
    )
    yield launcher
    launcher.close()


def test_spawn_requests_go_to_the_zygote_one_sender_at_a_time(launcher, monkeypatch) -> None:
    """Writers blocked on a full unix datagram socket are all woken whenever the reader takes
    one message; concurrent spawns must wait for their turn in user space instead."""
    inside = peak = 0
    count = threading.Lock()
    sent: list[str] = []

    def slow_send_fds(sock: socket.socket, buffers: list[bytes], fds: list[int]) -> int:
        nonlocal inside, peak
        with count:
            inside += 1
            peak = max(peak, inside)
        time.sleep(0.005)  # a full socket: the sender is stuck in sendmsg for a while
        with count:
            inside -= 1
            sent.append(json.loads(buffers[0])["env"])
        return len(buffers[0])

    monkeypatch.setattr(_launcher.socket, "send_fds", slow_send_fds)
    r, w = os.pipe()
    try:
        threads = [
            threading.Thread(target=launcher.spawn, args=(f"env-{i}", {"mode": "zygote"}, r, w))
            for i in range(8)
        ]
        run_concurrently(threads)
    finally:
        os.close(r)
        os.close(w)
    assert sorted(sent) == sorted(f"env-{i}" for i in range(8))
    assert peak == 1


RANDOM = """
    import random
    AT_INIT = random.random()
    def handler(event, context):
        return [AT_INIT, random.random()]
    """

THREADS = """
    import threading
    def handler(event, context):
        seen = []
        threads = [threading.Thread(target=seen.append, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [sorted(seen), threading.current_thread() is threading.main_thread(),
                threading.active_count()]
    """


@pytest.mark.parametrize("preload", [(), ("json",)], ids=["bare-fork", "os-fork"])
def test_every_environment_draws_its_own_random_numbers(tmp_path: Path, preload) -> None:
    """The zygote has ``random`` imported; a child it forks without the at-fork hooks must
    still reseed, or every environment would replay the same sequence."""
    cfg = write_function(tmp_path / "code", RANDOM)
    with Sandbox(limits="rlimit", preload=preload) as sb:
        assert sb.launcher.bare_fork is (not preload)  # preloads may bring hooks of their own
        draws = [sb.create_environment(cfg).invoke({}).result for _ in range(3)]
    numbers = [x for pair in draws for x in pair]
    assert len(set(numbers)) == len(numbers), draws


def test_threads_work_in_an_environment_forked_without_at_fork_hooks(tmp_path: Path) -> None:
    cfg = write_function(tmp_path / "code", THREADS)
    with Sandbox(limits="rlimit") as sb:
        assert sb.launcher.bare_fork
        env = sb.create_environment(cfg)
        assert env.invoke({}).result == [[0, 1, 2, 3], True, 1]
        assert env.invoke({}).result == [[0, 1, 2, 3], True, 1]


FDS = """
    import os, stat
    def handler(event, context):
        fds = {}
        for name in os.listdir("/proc/self/fd"):
            try:
                mode = os.fstat(int(name)).st_mode
            except OSError:
                continue  # the directory listdir had open
            fds[int(name)] = "socket" if stat.S_ISSOCK(mode) else "other"
        return fds
    """


def test_environments_started_in_a_burst_hold_only_their_own_fds(tmp_path: Path) -> None:
    """The zygote forks a burst's children back to back while it holds every request's fds
    (each environment's socket and log pipe) and every child's socket pair: each child must
    close all of them, or a handler would hold other environments' channels open."""
    cfg = write_function(tmp_path / "code", FDS, memory_size=1769)
    with Sandbox() as sb:
        results: list[dict[str, str]] = []

        def cold_start() -> None:
            results.append(sb.create_environment(cfg).invoke({}).result)

        threads = [threading.Thread(target=cold_start) for _ in range(40)]
        run_concurrently(threads)
    assert len(results) == 40
    # stdio, the worker's socket, the CLOEXEC backup of the log pipe: nothing else
    assert all(
        r == {"0": "other", "1": "other", "2": "other", "3": "socket", "100": "other"}
        for r in results
    ), results


WHO = """
    import os
    def handler(event, context):
        return [os.environ["AWS_LAMBDA_FUNCTION_NAME"], os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]]
    """


def test_each_environment_of_a_burst_runs_its_own_request(tmp_path: Path) -> None:
    """A burst's children are forked with the requests already in the zygote's hands, each
    given the one it will serve: two functions' cold starts interleaved must each run their
    own function, in their own environment."""
    configs = [
        write_function(tmp_path / name, WHO, name=name, memory_size=1769) for name in ("a", "b")
    ]
    with Sandbox() as sb:
        seen: list[tuple[str, str, list[str]]] = []

        def cold_start(cfg) -> None:
            env = sb.create_environment(cfg)
            seen.append((cfg.function_name, env.environment_id, env.invoke({}).result))

        threads = [threading.Thread(target=cold_start, args=(configs[i % 2],)) for i in range(40)]
        run_concurrently(threads)
    assert len(seen) == 40
    for name, env_id, (reported_name, stream) in seen:
        assert reported_name == name and stream.endswith(env_id), (name, env_id, stream)


def test_the_zygote_reads_a_request_with_its_fds_and_never_blocks_when_told_not_to() -> None:
    """``socket.recv_fds`` of Python 3.11 drops its ``flags``: the zygote's batch would block
    on an empty socket instead of ending."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        with pytest.raises(BlockingIOError):
            _zygote._recv_request(theirs, socket.MSG_DONTWAIT)
        socket.send_fds(ours, [b'{"op": "spawn"}'], [r, w])
        data, fds = _zygote._recv_request(theirs, socket.MSG_DONTWAIT)
        assert data == b'{"op": "spawn"}' and len(fds) == 2
        os.write(fds[1], b"x")  # the received write end is the pipe's
        assert os.read(r, 1) == b"x"
        for fd in fds:
            os.close(fd)
    finally:
        os.close(r)
        os.close(w)
        ours.close()
        theirs.close()


POOLS = """
    import concurrent.futures, logging, multiprocessing, subprocess

    def square(x):
        return x * x

    def handler(event, context):
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            threads = sorted(ex.map(square, range(5)))
        with multiprocessing.get_context("fork").Pool(2) as pool:
            processes = pool.map(square, range(5))
        echoed = subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout
        logging.getLogger().warning("logged")
        return [threads, processes, echoed]
    """


def test_pools_and_subprocesses_work_in_an_environment_forked_without_at_fork_hooks(
    tmp_path: Path,
) -> None:
    """Thread pools, a forking multiprocessing pool (os.fork again, inside the environment),
    subprocess and logging: what the skipped at-fork hooks would have repaired, exercised."""
    cfg = write_function(tmp_path / "code", POOLS, memory_size=1769, timeout=30)
    with Sandbox(limits="rlimit") as sb:
        assert sb.launcher.bare_fork
        env = sb.create_environment(cfg)
        for _ in range(2):
            inv = env.invoke({})
            assert inv.result == [[0, 1, 4, 9, 16], [0, 1, 4, 9, 16], "hi\n"]
            assert "logged" in inv.log


def _spec(code: Path) -> dict:
    return {
        "handler": "app.handler",
        "task_root": str(code),
        "opt_dir": None,
        "tmp_dir": str(code),
        "env": {},
        "path_prefix": [str(code)],
        "log_format": "Text",
        "log_level": None,
    }


@pytest.mark.parametrize("launcher", [0, 8], ids=["forked-per-request", "parked"], indirect=True)
def test_a_request_the_zygote_cannot_limit_fails_alone(launcher, tmp_path: Path) -> None:
    """Requests taken together are forked together, or handed to parked children: one whose
    limits the zygote refuses must fail with the reason, and every other one still get its
    own environment, which reports READY over its own socket."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    good = {"memory_bytes": 256 << 20, "cpu_share": 1.0}
    time.sleep(0.3)  # the "parked" launcher parks its children while idle
    channels, handles = [], []
    for i in range(6):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        r, w = os.pipe()
        limits = {"memory_bytes": 0, "cpu_share": 1.0} if i == 3 else good
        msg = {"spec": _spec(code), "limits": limits, "mode": "zygote", "isolate": False}
        handles.append(launcher.spawn(f"env-{i}", msg, theirs.fileno(), w))
        theirs.close()
        os.close(w)
        channels.append((ours, r))
    try:
        for handle in handles:
            assert handle.spawned.wait(10)
        assert "memory_bytes must be > 0" in (handles[3].spawn_error or "")
        for i, (handle, (ours, _r)) in enumerate(zip(handles, channels, strict=True)):
            if i == 3:
                assert handle.pid is None
                continue
            assert handle.spawn_error is None and handle.pid
            ours.settimeout(10)
            frames, frame = _protocol.FrameBuffer(), None
            while frame is None:
                frame = frames.feed_pop(ours.recv(1 << 16))
            assert frame[0] == _protocol.READY
            assert json.loads(frame[1])["pid"] == handle.pid
    finally:
        for ours, r in channels:
            ours.close()
            os.close(r)


def test_the_zygote_adds_site_packages_without_running_pth_imports(tmp_path: Path) -> None:
    """The zygote starts without ``site`` (its .pth files would import what no environment
    needs); it adds the directories and the paths .pth files list itself, and only those."""
    site_dir = tmp_path / "site-packages"
    extra = tmp_path / "extra"
    site_dir.mkdir()
    extra.mkdir()
    marker = tmp_path / "ran"
    (site_dir / "a.pth").write_text(f"# a comment\n{extra}\n\nmissing-dir\n")
    (site_dir / "b.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from kernel_runtime.sandbox import _zygote;"
        f" _zygote.add_site([{str(site_dir)!r}]); print(repr(sys.path)); print(exit.name)"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, _launcher._PKG_PARENT],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    path = ast.literal_eval(out[0])
    assert path[-2:] == [str(site_dir), str(extra)]
    assert not marker.exists()
    assert out[1] == "exit"  # site's builtins, which handlers may call


SITE = """
    import sys
    import boto3

    def handler(event, context):
        exit_name = exit.name
        return [boto3.__name__, exit_name, "pathlib" in sys.modules]
    """


def test_handlers_import_site_packages_and_call_site_builtins(tmp_path: Path) -> None:
    cfg = write_function(tmp_path / "code", SITE)
    with Sandbox() as sb:
        assert sb.create_environment(cfg).invoke({}).result[:2] == ["boto3", "exit"]


def test_the_zygote_rehearses_invokes_without_changing_anything(monkeypatch) -> None:
    """``rehearse()`` runs in the zygote before it forks: it must really serve invokes (so
    the caches children share get filled) and leave no fd, variable or request id behind."""
    from kernel_runtime.sandbox import _worker

    seen: list[tuple[dict, str]] = []

    def handler(event, context):
        seen.append((event, context.function_name))
        return {"ok": True}

    monkeypatch.setattr(_worker, "_rehearsal_handler", handler)
    fds = sorted(os.listdir("/proc/self/fd"))
    environ = dict(os.environ)
    _worker.rehearse(rounds=3)
    assert [event for event, _ in seen] == [{"key": [1, 2.5, "x", None, True]}] * 3
    assert sorted(os.listdir("/proc/self/fd")) == fds
    assert dict(os.environ) == environ
    assert _worker._current_request_id == ""
