"""Lab benchmark (issue 6): is the kernel responsive while a load test runs with live plots?

A real ipykernel (started with jupyter_client, as JupyterLab would) loads the extension,
deploys a no-op function with ``%%lambda``, shows a live ColdWarmPlot and ConcurrencyPlot and
starts a LoadGenerator of 5,000 invocations at full speed. While it runs, the client sends a
trivial cell (``1 + 1``) every 100 ms and times each reply. Targets: every reply within
200 ms, and the plots coalesce their updates to at most 10 per second.

``python benchmarks/bench_lab.py [--invocations N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
%load_ext lab
"""
FUNCTION = """%%lambda noop --memory 1769
def handler(event, context):
    return None
"""
START = """
import time
from lab import ColdWarmPlot, ConcurrencyPlot, LoadGenerator
plots = [ColdWarmPlot(function_name="noop", start=time.time()), ConcurrencyPlot()]
for p in plots:
    p.start()
load = LoadGenerator(function_name="noop", rps=0, duration_s=600, concurrency=2)
load.requests.value = {n}
load.start()
started = time.monotonic()
"""
STATUS = """
import json
s = load.summary
print(json.dumps({{"done": not load.running, "invocations": s.invocations if s else 0,
                  "elapsed": time.monotonic() - started,
                  "updates": [p.updates_applied for p in plots]}}))
"""


def _run(client: Any, code: str, timeout: float = 120.0) -> tuple[float, str]:
    """Execute ``code``; (seconds until the reply, stdout)."""
    t0 = time.perf_counter()
    msg_id = client.execute(code, store_history=False)
    out: list[str] = []
    reply_at = None
    idle = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (idle and reply_at is not None):
        try:
            msg = client.get_iopub_msg(timeout=0.01)
            if msg["parent_header"].get("msg_id") == msg_id:
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    raise RuntimeError("\n".join(content["traceback"]))
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
        except queue.Empty:
            pass
        if reply_at is None:
            try:
                reply = client.get_shell_msg(timeout=0.001)
                if reply["parent_header"].get("msg_id") == msg_id:
                    reply_at = time.perf_counter()
            except queue.Empty:
                pass
    if reply_at is None:
        raise TimeoutError(f"no reply within {timeout} s to {code[:40]!r}")
    return reply_at - t0, "".join(out)


def bench_lab(invocations: int = 5000) -> dict[str, Any]:
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        env.setdefault("LAMBDA_LAB_STORE", str(Path(tmp) / "store.sqlite3"))
        km, client = start_new_kernel(kernel_name="python3", env=env, cwd=tmp)
        try:
            for code in (SETUP, FUNCTION, START.format(n=invocations)):
                _run(client, code)
            latencies: list[float] = []
            status: dict[str, Any] = {}
            t0 = time.monotonic()
            while time.monotonic() - t0 < 600:
                latency, _ = _run(client, "1 + 1", timeout=30)
                latencies.append(latency)
                _, text = _run(client, STATUS.format(), timeout=30)
                status = json.loads(text.strip().splitlines()[-1])
                if status["done"]:
                    break
                time.sleep(0.1)
            _run(client, "for p in plots:\n    p.close()\nload.close()")
        finally:
            client.stop_channels()
            km.shutdown_kernel(now=False)
    latencies.sort()
    elapsed = max(status.get("elapsed", 0.0), 1e-9)
    rates = [u / elapsed for u in status.get("updates", [])]
    return {
        "invocations": status.get("invocations", 0),
        "elapsed_s": elapsed,
        "cell_replies": len(latencies),
        "cell_p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "cell_max_ms": latencies[-1] * 1000 if latencies else None,
        "plot_updates_per_s_max": max(rates) if rates else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = bench_lab(args.invocations)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            shown = f"{value:,.1f}" if isinstance(value, float) else value
            print(f"{key:>24}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
