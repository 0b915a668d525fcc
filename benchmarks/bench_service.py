"""Service benchmark (issue 3): the Lambda service above the execution environments.

* sync no-op throughput through the Python API (``LambdaRuntime.invoke``), 2 caller threads
  (target >= 10,000 invocations/s);
* single-caller warm invoke through the service (resolve, admit, invoke, release), p50/p99;
* a burst from 0 to N concurrent environments (a handler that sleeps 2 s, account limit raised):
  wall time until every invoke has returned (target <= 5 s for N = 1,000), errors (target 0),
  and the total USS of all N environments afterwards (target <= 3 GiB).

``python benchmarks/bench_service.py [--quick] [--json]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kernel_runtime.runtime import LambdaRuntime  # noqa: E402
from kernel_runtime.service._policy import Limits  # noqa: E402

NOOP = "def handler(event, context):\n    return {'ok': True}\n"
SLEEP2 = "import time\ndef handler(event, context):\n    time.sleep(2)\n    return 1\n"


@contextlib.contextmanager
def scratch_store() -> Iterator[Path]:
    """Runtimes started meanwhile record into a store of their own, removed afterwards (its
    path is ``$LAMBDA_LAB_STORE`` until then): a few minutes of benchmarks would otherwise
    leave a million invocations in the user's store."""
    previous = os.environ.get("LAMBDA_LAB_STORE")
    with tempfile.TemporaryDirectory(prefix="lambda-lab-bench-") as tmp:
        os.environ["LAMBDA_LAB_STORE"] = str(Path(tmp) / "store.sqlite3")
        try:
            yield Path(tmp)
        finally:
            if previous is None:
                os.environ.pop("LAMBDA_LAB_STORE", None)
            else:
                os.environ["LAMBDA_LAB_STORE"] = previous


def _uss(pid: int) -> int:
    """Bytes private to the process (0 if it is gone)."""
    import psutil

    try:
        return psutil.Process(pid).memory_full_info().uss
    except psutil.NoSuchProcess:
        return 0


def steal_seconds() -> float:
    """CPU time the hypervisor gave to others so far (``steal`` in /proc/stat), all CPUs; 0
    where it is not reported. A VM's figures are only comparable when this barely moved."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def bench_throughput(
    seconds: float = 3.0,
    callers: int = 2,
    memory_size: int = 1769,
    pin_platform: bool | str = "auto",
) -> dict:
    """Invocations per second with ``callers`` threads on their own warm environments
    (``pin_platform``: the runtime's process on one core, environments on the others: True
    throughout, "auto" (the default) once it sees the load, False never)."""
    with LambdaRuntime(pin_platform=pin_platform) as lab:
        lab.create_function("noop", "app.handler", NOOP, memory_size=memory_size)
        for _ in range(200):
            lab.invoke("noop", {})
        counts = [0] * callers
        stop = time.monotonic() + seconds

        def work(i: int) -> None:
            n = 0
            while time.monotonic() < stop:
                lab.invoke("noop", {})
                n += 1
            counts[i] = n

        threads = [threading.Thread(target=work, args=(i,)) for i in range(callers)]
        stolen = steal_seconds()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stolen = steal_seconds() - stolen
        pinned = lab._autopin.pins if lab._autopin is not None else None
        samples = []
        for _ in range(2000):
            t0 = time.perf_counter_ns()
            lab.invoke("noop", {})
            samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return {
        "throughput_per_s": round(sum(counts) / seconds),
        "single_p50_us": samples[len(samples) // 2] / 1000,
        "single_p99_us": samples[int(len(samples) * 0.99)] / 1000,
        "memory_size_mb": memory_size,
        "pin_platform": pin_platform,
        "auto_pins": pinned,
        "steal_s": round(stolen, 2),
    }


def bench_burst(n: int = 1000) -> dict:
    """0 -> n concurrent environments at once; wall time, errors, total USS."""
    with LambdaRuntime(limits=Limits(account_concurrency=max(1000, 2 * n))) as lab:
        lab.create_function("sleepy", "app.handler", SLEEP2)
        errors: list[str] = []
        gate = threading.Barrier(n + 1)

        def one() -> None:
            gate.wait()
            try:
                lab.invoke("sleepy", {})
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        gate.wait()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        envs = lab.service.pools.environments("sleepy")
        uss = sum(_uss(e.pid) for e in envs if e.pid)
    return {
        "n": n,
        "wall_s": round(wall, 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "environments": len(envs),
        "total_uss_gib": round(uss / 2**30, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (CI smoke)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with scratch_store():
        result = {
            "throughput": bench_throughput(1.0 if args.quick else 3.0),
            "burst": bench_burst(50 if args.quick else 1000),
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    tp, b = result["throughput"], result["burst"]
    print(
        f"sync no-op through LambdaRuntime.invoke, 2 callers, {tp['memory_size_mb']} MB: "
        f"{tp['throughput_per_s']:,} inv/s (target >= 10,000)"
    )
    print(
        f"warm invoke through the service, 1 caller: p50 {tp['single_p50_us']:.0f} us, "
        f"p99 {tp['single_p99_us']:.0f} us"
    )
    print(
        f"burst 0 -> {b['n']} concurrent (2 s handler): {b['wall_s']} s wall (target <= 5 s), "
        f"{b['errors']} errors, {b['environments']} environments, total USS "
        f"{b['total_uss_gib']} GiB (target <= 3 GiB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
