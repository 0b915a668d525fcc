"""``pin_platform``: the runtime's process on one core, environments on the others."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and at least two CPUs",
)

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, threading
    sys.path.insert(0, sys.argv[1])
    from kernel_runtime import LambdaRuntime

    def cpus(pid=0):
        return sorted(os.sched_getaffinity(pid))

    def policy(pid=0):
        return {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch", os.SCHED_IDLE: "idle"}.get(
            os.sched_getscheduler(pid), "?")

    out = {"before": cpus()}
    try:
        LambdaRuntime(pin_platform=10_000, store=sys.argv[2] + "/bad.sqlite3")
    except ValueError as exc:
        out["bad_cpu"] = str(exc)
    out["after_bad"] = cpus()
    with LambdaRuntime(pin_platform=True, store=sys.argv[2] + "/store.sqlite3") as lab:
        lab.create_function("f", "app.handler", "def handler(e, c):\\n    return 1\\n")
        assert lab.invoke("f", {}).payload == b"1"
        env = lab.service.pools.environments("f")[0]
        seen = {}
        t = threading.Thread(target=lambda: seen.update(thread=cpus(), policy=policy()))
        t.start(); t.join()
        out.update(
            main=cpus(),
            later_thread=seen["thread"],
            environment=cpus(env.pid),
            zygote=cpus(lab.sandbox.launchers[0].proc.pid),
            writer=cpus(lab.store._writer.process.pid),
            policies=[policy(), seen["policy"], policy(env.pid),
                      policy(lab.sandbox.launchers[0].proc.pid),
                      policy(lab.store._writer.process.pid)],
        )
    tasks = [int(t) for t in os.listdir("/proc/self/task")]
    out["after"] = sorted({tuple(cpus(t)) for t in tasks})
    out["after_policies"] = sorted({policy(t) for t in tasks})
    print(json.dumps(out))
    """
)


def _run(script: str, tmp_path: Path) -> dict:
    """Run ``script`` in a process of its own (pinning changes the whole process): its JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pin_platform_keeps_the_process_on_one_core_and_environments_off_it(
    tmp_path: Path,
) -> None:
    out = _run(SCRIPT, tmp_path)
    every = out["before"]
    platform = every[0]
    assert "CPU 10000 is not one this process may use" in out["bad_cpu"]
    assert out["after_bad"] == every  # a refused pin changes nothing
    assert out["main"] == [platform]
    assert out["later_thread"] == [platform]  # threads started later inherit the pin
    assert out["environment"] == [c for c in every if c != platform]
    assert out["zygote"] == out["environment"]
    assert out["writer"] == every
    assert out["after"] == [every]  # close() gave every thread its CPUs back
    # the platform's threads run as a batch while pinned; what runs functions does not (the
    # writer keeps the idle policy it gives itself)
    assert out["policies"] == ["batch", "batch", "other", "other", "idle"]
    assert out["after_policies"] == ["other"]


def test_serve_pin_platform_pins_the_service_process(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernel_runtime", "serve", "--port", "0", "--pin-platform",
         "--home", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip() if proc.stdout else ""
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        assert sorted(os.sched_getaffinity(proc.pid)) == [min(os.sched_getaffinity(0))]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- pin_platform="auto" (the default) ----------------------------------------------------------


def test_the_decision_pins_after_busy_windows_and_unpins_after_quiet_ones() -> None:
    from kernel_runtime._autopin import PinDecision, PinRule

    rule = PinRule(window_s=0.2, min_rate=1000, min_concurrency=2, max_cold_starts=2,
                   pin_after=2, unpin_after=3)  # fmt: skip
    d = PinDecision(rule)
    busy = (300, 0, 2, 0.2)  # 1,500/s, two in flight, no cold start
    assert d.observe(*busy) is None
    assert d.observe(*busy) is True and d.pinned
    assert d.observe(*busy) is None  # stays
    # quiet windows: unpinned after three in a row; a busy one in between starts over
    assert d.observe(10, 0, 2, 0.2) is None
    assert d.observe(*busy) is None
    assert d.observe(10, 0, 2, 0.2) is None
    assert d.observe(10, 0, 2, 0.2) is None
    assert d.observe(10, 0, 2, 0.2) is False and not d.pinned
    # one caller (nobody waits for the GIL), too few invocations, or cold starts: never pins
    for window in [(300, 0, 1, 0.2)] * 5 + [(150, 0, 4, 0.2)] * 5 + [(300, 3, 8, 0.2)] * 5:
        assert d.observe(*window) is None
    # the rate is per second of the window actually measured (an idle thread looks every 1 s)
    assert d.observe(300, 0, 2, 1.0) is None and d.observe(300, 0, 2, 1.0) is None
    # a burst of cold starts unpins at once, whatever the rate
    d.observe(*busy)
    assert d.observe(*busy) is True
    assert d.observe(5000, 3, 40, 0.2) is False and not d.pinned


AUTO_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    from kernel_runtime import LambdaRuntime

    def cpus(pid=0):
        return sorted(os.sched_getaffinity(pid))

    def until(check, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check():
                return True
            time.sleep(0.02)
        return False

    out = {"before": cpus()}
    try:
        LambdaRuntime(pin_platform="sometimes", store=False, endpoint=False)
    except ValueError as exc:
        out["bad"] = str(exc)
    with LambdaRuntime(pin_platform=False, store=False, endpoint=False) as lab:
        out["off"] = lab._autopin is None
    with LambdaRuntime(store=False, endpoint=False) as lab:
        auto = lab._autopin
        lab.create_function("f", "app.handler", "def handler(e, c):\\n    return 1\\n")
        lab.create_function("slow", "app.handler",
                            "import time\\ndef handler(e, c):\\n    time.sleep(0.3)\\n")
        running = {"n": 0}
        stop = threading.Event()

        def caller():
            while not stop.is_set():
                lab.invoke("f", {})
                running["n"] += 1

        # one caller: nobody waits for the GIL, nothing to gain
        one = threading.Thread(target=caller)
        one.start()
        time.sleep(1.5)
        stop.set(); one.join()
        out["one_caller_pins"] = auto.pins
        out["one_caller_rate"] = running["n"] / 1.5
        # two callers: pinned within a second or so
        stop.clear()
        callers = [threading.Thread(target=caller) for _ in range(2)]
        for t in callers:
            t.start()
        out["pinned"] = until(lambda: auto.pinned, 10)
        time.sleep(0.3)  # a look after the pin moves environments started since
        envs = lab.service.pools.environments("f")
        out["pinned_main"] = cpus()
        out["pinned_envs"] = sorted({tuple(cpus(e.pid)) for e in envs})
        # a burst of cold starts while pinned: every core back at once, its inits not moved
        t0 = time.monotonic()
        burst = [threading.Thread(target=lab.invoke, args=("slow", {})) for _ in range(8)]
        for t in burst:
            t.start()
        out["unpinned_by_burst"] = until(
            lambda: any(not p and t > t0 for t, p in auto.history), 3)
        for t in burst:
            t.join()
        slow = lab.service.pools.environments("slow")
        out["burst_envs"] = sorted({tuple(cpus(e.pid)) for e in slow if not auto.pinned})
        # the load goes on: pinned again; then it stops: every core back
        out["pinned_again"] = until(lambda: auto.pinned, 10)
        stop.set()
        for t in callers:
            t.join()
        out["unpinned"] = until(lambda: not auto.pinned, 5)
        out["after_main"] = cpus()
        out["after_envs"] = sorted({tuple(cpus(e.pid)) for e in envs})
        out["pins"] = auto.pins
    tasks = [int(t) for t in os.listdir("/proc/self/task")]
    out["closed"] = sorted({tuple(cpus(t)) for t in tasks})
    print(json.dumps(out))
    """
)


def test_auto_pins_while_several_threads_invoke_and_gives_the_cores_back(tmp_path: Path) -> None:
    out = _run(AUTO_SCRIPT, tmp_path)
    every = out["before"]
    platform, others = every[0], [c for c in every if c != every[0]]
    assert "pin_platform must be True, False, a CPU number or 'auto'" in out["bad"]
    assert out["off"] is True
    assert out["one_caller_pins"] == 0, out["one_caller_rate"]
    assert out["pinned"] is True
    assert out["pinned_main"] == [platform]
    assert out["pinned_envs"] == [others]
    assert out["unpinned_by_burst"] is True
    if out["burst_envs"]:
        assert out["burst_envs"] == [every]
    assert out["pinned_again"] is True and out["pins"] >= 2
    assert out["unpinned"] is True
    assert out["after_main"] == every
    assert out["after_envs"] == [every]
    assert out["closed"] == [every]


def test_serve_takes_auto_by_default_and_on_or_off(capsys: pytest.CaptureFixture[str]) -> None:
    from kernel_runtime.cli import _parser

    parse = _parser().parse_args
    assert parse(["serve"]).pin_platform == "auto"
    assert parse(["serve", "--pin-platform"]).pin_platform == "on"
    assert parse(["serve", "--pin-platform", "off"]).pin_platform == "off"
    with pytest.raises(SystemExit):
        parse(["serve", "--pin-platform", "sometimes"])
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err
