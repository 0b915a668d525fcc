"""The service benchmark runs and reports sane figures (targets live in the benchmark)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "bench_service", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_service.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_throughput_and_burst_report_their_figures() -> None:
    tp = bench.bench_throughput(seconds=0.3)
    assert tp["throughput_per_s"] > 0 and 0 < tp["single_p50_us"] <= tp["single_p99_us"]
    pinned = bench.bench_throughput(seconds=0.3, pin_platform=True)
    assert pinned["throughput_per_s"] > 0 and pinned["pin_platform"] is True
    assert pinned["steal_s"] >= 0 and bench.steal_seconds() >= pinned["steal_s"]
    burst = bench.bench_burst(8)
    assert burst["errors"] == 0 and burst["environments"] == 8
    assert burst["wall_s"] >= 2.0  # every invoke slept 2 s, concurrently
    assert 0 < burst["total_uss_gib"] < 1
