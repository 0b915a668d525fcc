"""Observability benchmark (issue 5): what the store and tracing add to a warm invoke.

Two runtimes side by side in one process, one with the store and Active tracing (X-Ray's default
sampling rule: the first request each second and 5 % of the rest record segments), one with
``store=False``; the same no-op
function at 1,769 MB in each, invoked back to back in alternating rounds so both see the same
machine (the order flips every round). Target: the observability path adds <= 20 us p50,
read as the median over rounds of each round's p50 difference (the pooled difference is
reported too).

``python benchmarks/bench_observe.py [--rounds N] [--per-round N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kernel_runtime import LambdaRuntime  # noqa: E402

NOOP = "def handler(event, context):\n    return {'ok': True}\n"


def _p(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000.0


def bench_overhead(rounds: int = 10, per_round: int = 500) -> dict[str, Any]:
    """Warm invoke latency (us) with the store and tracing on vs off, interleaved.

    The order flips every round (on-off, off-on, ...), so a drift of the machine's speed
    within a run weighs on both sides alike. ``added_p50_us`` is the pooled p50 difference;
    ``added_p50_paired_us`` the median over rounds of each round's own p50 difference, which
    a change of machine state mid-run (these VMs switch between a fast and a slow mode)
    cannot skew, since both sides of a round share it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        on = LambdaRuntime(endpoint=False, store=Path(tmp) / "store.sqlite3")
        off = LambdaRuntime(endpoint=False, store=False)
        try:
            on.create_function(
                "noop", "app.handler", NOOP, memory_size=1769, tracing_config={"Mode": "Active"}
            )
            off.create_function("noop", "app.handler", NOOP, memory_size=1769)
            samples: dict[str, list[int]] = {"on": [], "off": []}
            paired: list[float] = []
            for lab in (on, off):
                for _ in range(200):
                    lab.invoke("noop", b"{}")
            for r in range(rounds):
                order = (("on", on), ("off", off)) if r % 2 == 0 else (("off", off), ("on", on))
                this_round: dict[str, list[int]] = {}
                for name, lab in order:
                    out = this_round[name] = []
                    for _ in range(per_round):
                        t0 = time.perf_counter_ns()
                        lab.invoke("noop", b"{}")
                        out.append(time.perf_counter_ns() - t0)
                    samples[name] += out
                paired.append(_p(this_round["on"], 0.5) - _p(this_round["off"], 0.5))
            on.store.flush(timeout=60)
            recorded = len(on.store.invocations(function="noop"))
        finally:
            on.close()
            off.close()
    p50_on, p50_off = _p(samples["on"], 0.5), _p(samples["off"], 0.5)
    return {
        "n": rounds * per_round,
        "p50_on_us": p50_on,
        "p50_off_us": p50_off,
        "p99_on_us": _p(samples["on"], 0.99),
        "p99_off_us": _p(samples["off"], 0.99),
        "added_p50_us": p50_on - p50_off,
        "added_p50_paired_us": statistics.median(paired),
        "recorded": recorded,
    }


def bench_statistics(points: int = 100_000, repeats: int = 5) -> dict[str, Any]:
    """CloudWatch statistics (Sum, Average, Minimum, Maximum, SampleCount, p99) over 60
    one-minute periods of ``points`` random data points: what one GetMetricStatistics over an
    hour of a busy function costs. Target: < 100 ms (median of ``repeats``)."""
    import random

    from kernel_runtime.observe._stats import aggregate

    rng = random.Random(1)
    t0 = 1_800_000_000
    data = [(t0 + rng.uniform(0, 3600), rng.uniform(0, 1000)) for _ in range(points)]
    stats = ["Sum", "Average", "Minimum", "Maximum", "SampleCount", "p99"]
    took = []
    for _ in range(repeats):
        began = time.perf_counter()
        aggregate(data, t0, t0 + 3600, 60, stats)
        took.append((time.perf_counter() - began) * 1000)
    return {"points": points, "median_ms": statistics.median(took), "min_ms": min(took)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = bench_overhead(args.rounds, args.per_round)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>14}: {value:,.1f}" if isinstance(value, float) else f"{key:>14}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
