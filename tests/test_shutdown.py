"""Shutdown, init limits and orphan prevention: nothing a handler starts outlives its sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from kernel_runtime import Sandbox, State

from ._functions import write_function
from .test_environment import BACKENDS

SPAWNS_CHILD = """
    import subprocess
    def handler(event, context):
        proc = subprocess.Popen(["sleep", "60"], start_new_session=event.get("escape", False))
        return proc.pid
    """


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: it exited between open and read
        return False
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def _wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.02)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("limits", BACKENDS)
def test_shutdown_kills_the_environment_and_its_children(tmp_path: Path, limits: str) -> None:
    cfg = write_function(tmp_path / "code", SPAWNS_CHILD)
    with Sandbox(limits=limits) as sb:
        env = sb.create_environment(cfg)
        child = env.invoke({}).result
        escapee = env.invoke({"escape": True}).result if limits == "cgroup" else None
        runtime_pid = env.pid
        assert _alive(child) and runtime_pid is not None
        env.shutdown()
        assert env.state is State.DEAD
        assert _wait_gone([p for p in (child, escapee, runtime_pid) if p]) == []
        assert not env.tmp_dir.exists()
        assert env not in sb.environments


def test_shutdown_sends_sigterm_then_sigkill_after_the_grace(tmp_path: Path) -> None:
    cfg = write_function(
        tmp_path / "code",
        """
        import signal, time
        def handler(event, context):
            if event.get("stubborn"):
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            return "armed"
        """,
    )
    with Sandbox(shutdown_grace=0.4) as sb:
        polite = sb.create_environment(cfg)
        polite.invoke({})
        started = time.monotonic()
        polite.shutdown()
        assert time.monotonic() - started < 0.35  # SIGTERM's default action ends it at once
        stubborn = sb.create_environment(cfg)
        stubborn.invoke({"stubborn": True})
        pid = stubborn.pid
        started = time.monotonic()
        stubborn.shutdown()
        assert time.monotonic() - started >= 0.4
        assert _wait_gone([pid]) == []


@pytest.mark.parametrize("limits", BACKENDS)
def test_no_orphans_when_the_supervisor_process_dies(tmp_path: Path, limits: str) -> None:
    """SIGKILL the process that owns the sandbox: the zygote, the environment and the
    handler's child (even one that called setsid) must all go."""
    code = tmp_path / "code"
    write_function(code, SPAWNS_CHILD)
    script = tmp_path / "owner.py"
    script.write_text(
        textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from kernel_runtime import FunctionConfig, Sandbox
        sb = Sandbox(limits={limits!r})
        env = sb.create_environment(FunctionConfig(function_name="o", handler="app.handler",
                                                   code={str(code)!r}))
        child = env.invoke({{"escape": True}}).result
        print(json.dumps({{"zygotes": [z.pid for z in sb.launchers], "env": env.pid,
                          "child": child, "work_dir": str(sb.work_dir)}}), flush=True)
        time.sleep(120)
        """)
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(owner.stdout.readline())
        everything = [*pids["zygotes"], pids["env"], pids["child"]]
        assert len(pids["zygotes"]) >= 1 and all(_alive(p) for p in everything)
        assert os.path.isdir(pids["work_dir"])
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert _wait_gone(everything) == [], pids
    # the sandbox's own temporary work dir goes with it: the zygote removes it last
    assert not os.path.exists(pids["work_dir"])


def test_a_supervisor_killed_with_the_zygotes_messages_unread_still_cleans_up(
    tmp_path: Path,
) -> None:
    """Killed with a zygote message unread, the supervisor's end resets the connection
    (ECONNRESET, not EOF): the zygote must take that as its death too."""
    code = tmp_path / "code"
    write_function(code, "def handler(e, c):\n    return 1\n")
    script = tmp_path / "owner.py"
    script.write_text(
        textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from kernel_runtime import FunctionConfig, Sandbox
        sb = Sandbox()
        env = sb.create_environment(FunctionConfig(function_name="o", handler="app.handler",
                                                   code={str(code)!r}))
        env.invoke({{}})
        print(json.dumps({{"zygote": sb.launchers[0].pid, "env": env.pid,
                          "work_dir": str(sb.work_dir)}}), flush=True)
        time.sleep(120)
        """)
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(owner.stdout.readline())
        owner.send_signal(signal.SIGSTOP)  # it reads nothing from now on
        os.kill(pids["env"], signal.SIGKILL)  # the zygote reports the exit: unread
        assert _wait_gone([pids["env"]]) == []
        time.sleep(0.3)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert _wait_gone([pids["zygote"]]) == []
    assert not os.path.exists(pids["work_dir"])


def test_a_killed_runtime_leaves_no_home_directory(tmp_path: Path) -> None:
    """A kernel killed with its LambdaRuntime open: the runtime's temporary home (function
    code, environments' /tmp) is removed by the zygote; a home the user chose stays."""
    script = tmp_path / "kernel.py"
    script.write_text(
        textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from kernel_runtime import LambdaRuntime
        mine = LambdaRuntime(endpoint=False, store=False)
        theirs = LambdaRuntime(endpoint=False, store=False, home={str(tmp_path / "kept")!r})
        for lab in (mine, theirs):
            lab.create_function("f", "app.handler", "def handler(e, c):\\n    return 1\\n")
            lab.invoke("f", {{}})
        print(json.dumps([str(mine.home), str(theirs.home)]), flush=True)
        time.sleep(120)
        """)
    )
    kernel = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        home, kept = json.loads(kernel.stdout.readline())
        assert os.path.isdir(home) and os.path.isdir(kept)
    finally:
        kernel.send_signal(signal.SIGKILL)
        kernel.wait()
    deadline = time.monotonic() + 10
    while os.path.exists(home) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(home)
    assert os.path.isdir(os.path.join(kept, "registry"))  # the user's directory is theirs


def test_init_over_the_limit_is_retried_inside_the_invoke(tmp_path: Path) -> None:
    cfg = write_function(
        tmp_path / "code",
        """
        import os, time
        if not os.path.exists("/tmp/slow-once"):
            open("/tmp/slow-once", "w").close()
            time.sleep(5)
        def handler(event, context):
            return "ready"
        """,
        timeout=5,
    )
    with Sandbox(init_timeout=0.5) as sb:
        env = sb.create_environment(cfg)
        assert env.state is State.RESET
        inv = env.invoke({})  # /tmp survives the reset, so the retry is fast
        assert inv.result == "ready" and inv.cold_start
        assert "INIT_REPORT Init Duration" in inv.log and "Phase: init\tStatus: timeout" in inv.log
        states = [s for _, s in env.transitions]
        assert states[:3] == ["INITIALIZING", "RESET", "INITIALIZING"]


def test_sandbox_close_leaves_no_process_or_cgroup(tmp_path: Path) -> None:
    cfg = write_function(tmp_path / "code", SPAWNS_CHILD)
    sb = Sandbox()
    envs = [sb.create_environment(cfg) for _ in range(3)]
    children = [e.invoke({}).result for e in envs]
    pids = [e.pid for e in envs] + children + [z.pid for z in sb.launchers]
    work = sb.work_dir
    groups = (
        [
            os.path.join("/sys/fs/cgroup", c, "lambda-lab", sb.backend.rt_name)
            for c in ("memory", "pids", "freezer", "cpu")
        ]
        if hasattr(sb.backend, "rt_name")
        else []
    )
    sb.close()
    assert _wait_gone(pids) == []
    assert not work.exists()
    assert [g for g in groups if os.path.exists(g)] == []


def test_a_runtime_whose_start_fails_leaves_no_home_and_no_process(tmp_path: Path) -> None:
    import glob

    import psutil

    from kernel_runtime import LambdaRuntime

    homes = set(glob.glob(os.path.join(tempfile.gettempdir(), "lambda-lab-home-*")))
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(TypeError, match="no_such_option"):
        # the store (and its writer process) starts before the sandbox refuses the option
        LambdaRuntime(store=tmp_path / "store.sqlite3", endpoint=False, no_such_option=1)
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "lambda-lab-home-*"))) == homes
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in children]
    _, alive = psutil.wait_procs(left, timeout=5)
    assert alive == []
