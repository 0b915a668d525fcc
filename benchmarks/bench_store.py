"""Store benchmark: what the observe store costs the invoke path, and what it can hold.

* enqueue: µs per ``record_invocation`` call, with the writer idle (the bare deque append)
  and while the writer is busy writing an earlier batch (GIL contention included);
* insert rate: invocations per second the writer turns into rows and commits, each with a
  four-line log (START, one print, END, REPORT), and again with an EMF line as well;
* query: one function, one hour, over 100,000 stored invocations (target < 100 ms), and a
  log-event page and a filter-pattern scan over the same store.

``python benchmarks/bench_store.py [--n 100000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kernel_runtime.invocation import Invocation  # noqa: E402
from kernel_runtime.observe._store import Store  # noqa: E402

QUERY_TARGET_MS = 100.0
FUNCTIONS = 10
T0 = 1_764_270_000.0
EMF = json.dumps(
    {
        "_aws": {
            "Timestamp": 1_764_270_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "Orders", "Unit": "Count"}],
                }
            ],
        },
        "service": "orders",
        "Orders": 1,
    }
)


def invocations(n: int, *, span_s: float, emf: bool = False) -> list[Invocation]:
    """``n`` invocations of ``FUNCTIONS`` functions spread evenly over ``span_s`` seconds."""
    out = []
    step = span_s / n
    for i in range(n):
        rid = f"00000000-0000-4000-8000-{i:012d}"
        extra = EMF + "\n" if emf else ""
        raw = (
            f"START RequestId: {rid} Version: $LATEST\nprocessing {i}\n{extra}"
            f"END RequestId: {rid}\n"
            f"REPORT RequestId: {rid}\tDuration: 5.00 ms\tBilled Duration: 5 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 40 MB\t\n"
        )
        started = T0 + i * step
        out.append(
            Invocation(
                request_id=rid,
                function_name=f"fn{i % FUNCTIONS}",
                function_version="$LATEST",
                environment_id=f"env-{i % 40}",
                log_stream_name=f"2025/11/27/[$LATEST]{i % 40:032x}",
                payload=b'{"ok": true}',
                function_error=None,
                error_type=None,
                status="success",
                cold_start=False,
                initialization_type="on-demand",
                init_duration_ms=None,
                duration_ms=5.0,
                billed_duration_ms=5,
                memory_size_mb=128,
                max_memory_used_mb=40,
                started_at=started,
                finished_at=started + 0.005,
                trace_id="Root=1-6928a9dc-0123456789abcdef01234567",
                raw_log=raw,
            )
        )
    return out


def enqueue_us(store: Store, records: list[Invocation]) -> float:
    started = time.perf_counter()
    record = store.record_invocation
    for inv in records:
        record(inv)
    return (time.perf_counter() - started) / len(records) * 1e6


def run(n: int) -> dict[str, Any]:
    results: dict[str, Any] = {"n": n}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        # 1. enqueue cost, writer idle: a long flush interval keeps the writer asleep, and
        # batches stay below the queue length that wakes it early
        sample = invocations(4000, span_s=3600)
        with Store(Path(tmp) / "enqueue.sqlite3", flush_interval=3600) as store:
            idle = []
            for _ in range(5):
                idle.append(enqueue_us(store, sample))
                store.flush(120)
            results["enqueue_idle_us"] = min(idle)

        # 2. insert rate (and enqueue while the writer works on the previous batch)
        records = invocations(n, span_s=24 * 3600)
        path = Path(tmp) / "store.sqlite3"
        with Store(path) as store:
            started = time.perf_counter()
            busy = []
            for k in range(0, n, 5000):
                busy.append(enqueue_us(store, records[k : k + 5000]))
            assert store.flush(600), "the writer did not catch up"
            elapsed = time.perf_counter() - started
            results["enqueue_busy_us"] = statistics.median(busy)
            results["insert_per_s"] = n / elapsed

            # 3. queries over n stored invocations (one function, one hour)
            timings = []
            for hour in range(1, 11):
                start = T0 + hour * 3600
                t = time.perf_counter()
                rows = store.invocations("fn3", start=start, end=start + 3600)
                timings.append((time.perf_counter() - t) * 1000)
            results["query_rows"] = len(rows)
            results["query_ms_median"] = statistics.median(timings)
            results["query_ms_max"] = max(timings)
            t = time.perf_counter()
            cols = store.columns("fn3", start=T0 + 3600, end=T0 + 7200)
            results["columns_ms"] = (time.perf_counter() - t) * 1000
            assert len(cols["duration_ms"]) == len(rows)
            t = time.perf_counter()
            page = store.log_events("/aws/lambda/fn3", start=int((T0 + 3600) * 1000), limit=100)
            results["log_page_ms"] = (time.perf_counter() - t) * 1000
            assert len(page) == 100
            # the first fn3 invocation of the hour: its print line is the one match
            first = math.ceil(3600 / (24 * 3600 / n))
            first += (3 - first) % FUNCTIONS
            t = time.perf_counter()
            hits = store.log_events(
                "/aws/lambda/fn3",
                start=int((T0 + 3600) * 1000),
                end=int((T0 + 7200) * 1000),
                pattern=f'"processing {first}"',
            )
            results["log_filter_hour_ms"] = (time.perf_counter() - t) * 1000
            assert [e["message"] for e in hits] == [f"processing {first}\n"]
        results["file_mb"] = os.path.getsize(path) / 1e6

        # 4. insert rate with one EMF document per invocation
        emf_n = min(n, 20_000)
        emf_records = invocations(emf_n, span_s=3600, emf=True)
        with Store(Path(tmp) / "emf.sqlite3") as store:
            started = time.perf_counter()
            for inv in emf_records:
                store.record_invocation(inv)
            assert store.flush(600)
            results["insert_emf_per_s"] = emf_n / (time.perf_counter() - started)
            assert len(store.metric_points("Shop", "Orders")) == emf_n
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="invocations to store")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    r = run(args.n)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    verdict = "PASS" if r["query_ms_max"] < QUERY_TARGET_MS else "MISS"
    print(f"store benchmark, {r['n']:,} invocations of {FUNCTIONS} functions over 24 h")
    print(f"  enqueue, writer idle           {r['enqueue_idle_us']:8.2f} µs / record")
    print(f"  enqueue, writer busy           {r['enqueue_busy_us']:8.2f} µs / record")
    print(f"  insert (4 log lines each)      {r['insert_per_s']:8,.0f} invocations / s")
    print(f"  insert (+1 EMF line each)      {r['insert_emf_per_s']:8,.0f} invocations / s")
    print(
        f"  1 function, 1 hour ({r['query_rows']} rows)   median {r['query_ms_median']:.1f} ms, "
        f"max {r['query_ms_max']:.1f} ms (target < {QUERY_TARGET_MS:.0f} ms) {verdict}"
    )
    print(f"  columns(), same window         {r['columns_ms']:8.1f} ms")
    print(f"  log events, 100-event page     {r['log_page_ms']:8.1f} ms")
    print(f"  log events, 1 h filter pattern {r['log_filter_hour_ms']:8.1f} ms")
    print(f"  file size                      {r['file_mb']:8.1f} MB")


if __name__ == "__main__":
    main()
