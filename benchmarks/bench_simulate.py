"""Simulator benchmark: wall time of AWS-scale scenarios (kernel_runtime.simulate).

Cases, each one function run through the same pure policy as the live service:

* 1 hour of 10,000 rps, Poisson arrivals, 100 ms handler, 300 ms init, account limit raised to
  3,000 (the target: <= 10 s wall on a 2-core machine); again with durations sampled from
  measured figures instead of constants.
* burst to 100,000 concurrent under AWS's scaling rate: 20,000 rps of 5 s invocations; the
  function gains 1,000 environments at once, then 100 per second, so it needs ~17 min.
* burst to 100,000 concurrent with the scaling rate lifted: 100,000 requests in one second.

``python benchmarks/bench_simulate.py [--quick] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kernel_runtime.service._policy import Limits  # noqa: E402
from kernel_runtime.simulate import burst, constant, empirical, simulate  # noqa: E402

TARGET_S = 10.0


def cases(scale: float) -> list[tuple[str, float | None, dict]]:
    """(name, wall-time target or None, simulate() arguments); ``scale`` shortens the runs."""
    hour = 3600 * scale
    return [
        (
            "10,000 rps for 1 h, constant durations",
            TARGET_S * scale,
            dict(
                traffic=constant(10_000),
                duration_s=hour,
                cold_start_s=0.3,
                warm_duration_s=0.1,
                limits=Limits(account_concurrency=3000),
            ),
        ),
        (
            "10,000 rps for 1 h, sampled durations",
            None,
            dict(
                traffic=constant(10_000),
                duration_s=hour,
                cold_start_s=empirical([0.25, 0.3, 0.35, 0.6]),
                warm_duration_s=empirical([0.05, 0.08, 0.1, 0.12, 0.2, 0.45]),
                limits=Limits(account_concurrency=3000),
            ),
        ),
        (
            "to 100,000 concurrent at AWS scaling rate (20,000 rps × 5 s, 20 min)",
            None,
            dict(
                traffic=constant(20_000),
                duration_s=1200 * scale,
                cold_start_s=0.5,
                warm_duration_s=5.0,
                limits=Limits(account_concurrency=150_000),
            ),
        ),
        (
            "burst of 100,000 in 1 s, scaling rate lifted (10 s invocations, 60 s)",
            None,
            dict(
                traffic=burst(0, 100_000, at_s=1, for_s=1),
                duration_s=60,
                cold_start_s=0.5,
                warm_duration_s=10.0,
                limits=Limits(account_concurrency=150_000, scale_rate=1_000_000),
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="runs 1/20 as long")
    parser.add_argument("--json", action="store_true", help="rows as JSON")
    args = parser.parse_args(argv)
    scale = 0.05 if args.quick else 1.0
    rows = []
    for name, target, kw in cases(scale):
        start = time.perf_counter()
        r = simulate(**kw)
        wall = time.perf_counter() - start
        tot = r.totals
        rows.append(
            {
                "case": name,
                "wall_s": round(wall, 2),
                "target_s": target,
                "status": "" if target is None else ("PASS" if wall <= target else "MISS"),
                "simulated_s": kw["duration_s"],
                "requests": tot["requests"],
                "max_concurrency": tot["max_concurrency"],
                "max_environments": tot["max_environments"],
                "cold_starts": tot["cold_starts"],
                "throttles": tot["throttles"],
                "p50_ms": tot["p50_ms"],
                "p99_ms": tot["p99_ms"],
            }
        )
        print(f"  {name}: {wall:.2f} s", file=sys.stderr)
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2))
        return 0
    print(f"simulator benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    print(f"{'case':<72} {'wall s':>7} {'target':>7} {'':4} {'requests':>12} {'max conc':>9}")
    for row in rows:
        target = "" if row["target_s"] is None else f"<={row['target_s']:g}"
        print(
            f"{row['case']:<72} {row['wall_s']:>7.2f} {target:>7} {row['status']:4} "
            f"{row['requests']:>12,} {row['max_concurrency']:>9,}"
        )
        print(
            f"{'':<4}environments {row['max_environments']:,}, cold starts "
            f"{row['cold_starts']:,}, throttles {row['throttles']:,}, "
            f"p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
