"""Edge benchmark: boto3 ``Invoke`` round trips of a no-op handler through the HTTP endpoint.

Rows (p50 / p99 / mean over ``--n`` warm invokes, after a warm-up):

* boto3 in another process: a script, a test runner or a handler calling the endpoint;
* boto3 in the server's process: a notebook kernel calling its own endpoint (client and
  server then share one GIL);
* the floors, to read the rows against: ``service.invoke`` called directly (no HTTP), and
  boto3 against a WSGI app that answers at once (boto3 + HTTP, no Lambda).

Target: p50 <= 3 ms for boto3 through the endpoint.

``python benchmarks/bench_edge.py [--n 500] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kernel_runtime.api import EdgeApp, EdgeServer  # noqa: E402
from kernel_runtime.clock import PlatformClock  # noqa: E402
from kernel_runtime.sandbox import Sandbox  # noqa: E402
from kernel_runtime.service._registry import Code  # noqa: E402
from kernel_runtime.service._service import LambdaService  # noqa: E402

TARGET_P50_MS = 3.0
NOOP = "def handler(event, context):\n    return None\n"

_CLIENT = """
import json, sys, time
import boto3
from botocore.config import Config
url, n, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = boto3.client(
    "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
    aws_secret_access_key="testing", config=Config(retries={"mode": "standard", "max_attempts": 1}),
)
samples = []
for i in range(warmup + n):
    start = time.perf_counter()
    client.invoke(FunctionName="noop", Payload=b"{}")["Payload"].read()
    if i >= warmup:
        samples.append(time.perf_counter() - start)
print(json.dumps(samples))
"""


def _stats(name: str, samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    ms = [s * 1000 for s in ordered]
    return {
        "case": name,
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def _time(fn: Callable[[], Any], n: int, warmup: int) -> list[float]:
    samples = []
    for i in range(warmup + n):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            samples.append(time.perf_counter() - start)
    return samples


def _boto3_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def _null_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    environ["wsgi.input"].read()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", "4"),
            ("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000"),
            ("X-Amz-Executed-Version", "$LATEST"),
        ],
    )
    return [b"null"]


def bench_edge(n: int = 500, warmup: int = 50) -> list[dict[str, Any]]:
    """Run every row; returns one dict per row."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as home:
        sandbox = Sandbox()
        clock = PlatformClock()
        service = LambdaService(root=Path(home) / "registry", sandbox=sandbox, clock=clock)
        server = EdgeServer(EdgeApp(service)).start()
        try:
            service.registry.create_function(
                "noop", "lambda_function.handler", Code.from_source(NOOP)
            )
            done = subprocess.run(
                [sys.executable, "-c", _CLIENT, server.url, str(n), str(warmup)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(_stats("boto3 Invoke, client in another process", json.loads(done.stdout)))
            client = _boto3_client(server.url)
            rows.append(
                _stats(
                    "boto3 Invoke, client in the server's process",
                    _time(
                        lambda: client.invoke(FunctionName="noop", Payload=b"{}")["Payload"].read(),
                        n,
                        warmup,
                    ),
                )
            )
            rows.append(
                _stats(
                    "floor: service.invoke, no HTTP",
                    _time(lambda: service.invoke("noop", b"{}"), n, warmup),
                )
            )
        finally:
            server.stop()
            service.close()
            clock.close()
            sandbox.close()
    with EdgeServer(_null_app) as null_server:
        client = _boto3_client(null_server.url)
        rows.append(
            _stats(
                "floor: boto3 + HTTP to an app that answers at once",
                _time(
                    lambda: client.invoke(FunctionName="noop", Payload=b"{}")["Payload"].read(),
                    n,
                    warmup,
                ),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="timed invokes per row")
    parser.add_argument("--warmup", type=int, default=50, help="untimed invokes first")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = bench_edge(args.n, args.warmup)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'case':<55} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for row in rows:
        print(
            f"{row['case']:<55} {row['n']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['mean_ms']:>8.2f}"
        )
    head = rows[0]["p50_ms"]
    verdict = "meets" if head <= TARGET_P50_MS else "misses"
    print(f"\nboto3 Invoke p50 {head:.2f} ms {verdict} the {TARGET_P50_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
