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


def test_pin_platform_keeps_the_process_on_one_core_and_environments_off_it(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
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
