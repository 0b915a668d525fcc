"""Benchmark peer tools on the same no-op handler, for side-by-side printing.

Handler under test everywhere: ``def handler(event, context): return {"ok": True}``.

Cases (all timed from this process with ``time.perf_counter_ns``):

* python-lambda-local CLI: spawn ``sys.executable -m lambda_local h.py ev.json``
  and wait for exit, per invoke.
* python-lambda-local library: ``lambda_local.main.call(func, event, Context(3))``
  per invoke, in a warm parent. The parent is a helper subprocess (same
  interpreter) so that its ``logging.basicConfig``, ``pkg_resources`` import and
  ``multiprocessing`` forks stay out of the caller's process.
* awslambdaric cold: spawn ``sys.executable -m awslambdaric h.handler`` against
  our Runtime API server (``benchmarks/_runtime_api.py``); spawn -> first
  ``GET /next`` and spawn -> first invoke answered.
* awslambdaric warm: invoke round trip through the Runtime API, plus the USS of
  the idle awslambdaric process.

Every child is started in its own session and SIGKILLed in a ``finally``.
Percentiles are nearest-rank (p99 of 20 samples is the maximum).

``python benchmarks/peers.py [--cold N] [--warm N] [--json]`` prints a table.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

try:  # works both as ``benchmarks.peers`` and as a script / sys.path entry
    from ._runtime_api import RuntimeAPIServer
except ImportError:  # pragma: no cover - depends on how we were imported
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _runtime_api import RuntimeAPIServer

__all__ = [
    "HANDLER_SOURCE",
    "bench_awslambdaric_cold",
    "bench_awslambdaric_warm",
    "bench_pll_cli",
    "bench_pll_library",
    "format_table",
    "main",
    "percentile",
    "run_peers",
    "summarize",
    "uss_mib",
]

HANDLER_SOURCE = 'def handler(event, context):\n    return {"ok": True}\n'
EVENT = {"key": "value"}
PYTHON = sys.executable  # the real interpreter (never a pyenv shim)


class PeerUnavailable(RuntimeError):
    """The peer package is not importable in this interpreter."""


# ---------------------------------------------------------------- helpers
def percentile(sorted_values, q: float):
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_values:
        return None
    k = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def summarize(samples_ns) -> dict:
    """{"p50_ms", "p99_ms", "min_ms", "max_ms", "n"} from nanosecond samples."""
    s = sorted(samples_ns)
    ms = lambda v: None if v is None else round(v / 1e6, 4)  # noqa: E731
    return {
        "p50_ms": ms(percentile(s, 50)),
        "p99_ms": ms(percentile(s, 99)),
        "min_ms": ms(s[0] if s else None),
        "max_ms": ms(s[-1] if s else None),
        "n": len(s),
    }


def uss_mib(pid: int) -> dict:
    """{"uss_mib", "rss_mib"} of a process (psutil: USS = pages private to the process)."""
    import psutil

    info = psutil.Process(pid).memory_full_info()
    return {"uss_mib": round(info.uss / 2**20, 2), "rss_mib": round(info.rss / 2**20, 2)}


def _require(module: str, hint: str):
    if importlib.util.find_spec(module) is None:
        raise PeerUnavailable(f"{module} not importable in {PYTHON} ({hint})")


def _kill(proc: subprocess.Popen | None):
    if proc is None or proc.poll() is not None:
        if proc is not None:
            proc.wait()
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # own session => own process group
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _tail(path_or_bytes, limit=600) -> str:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        try:
            with open(path_or_bytes, "rb") as f:
                data = f.read()
        except OSError:
            return ""
    text = data.decode("utf-8", "replace").strip()
    if "pkg_resources" in text:
        text += "  [hint: python-lambda-local imports pkg_resources: install setuptools<82]"
    return text[-limit:]


def _handler_dir(tmp: str) -> str:
    with open(os.path.join(tmp, "peer_noop.py"), "w") as f:
        f.write(HANDLER_SOURCE)
    with open(os.path.join(tmp, "event.json"), "w") as f:
        json.dump(EVENT, f)
    return tmp


def _child_env(**extra) -> dict:
    env = dict(os.environ)
    for k in (
        "PYTHONSAFEPATH",
        "PYTHONSTARTUP",
        "_LAMBDA_TELEMETRY_LOG_FD",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_MAX_CONCURRENCY",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_RUNTIME_API",
    ):
        env.pop(k, None)
    env.update(extra)
    return env


# ------------------------------------------------------ python-lambda-local
def bench_pll_cli(n: int = 20, timeout: float = 60.0) -> dict:
    """python-lambda-local CLI, spawn -> exit per invoke. Figures in ms."""
    _require("lambda_local", "pip install python-lambda-local")
    with tempfile.TemporaryDirectory(prefix="peer-pll-") as tmp:
        _handler_dir(tmp)
        cmd = [
            PYTHON,
            "-m",
            "lambda_local",
            os.path.join(tmp, "peer_noop.py"),
            os.path.join(tmp, "event.json"),
            "-f",
            "handler",
            "-t",
            "3",
        ]
        env = _child_env()
        # One checked run (not timed): it must exit 0 and print the result.
        proc = subprocess.Popen(
            cmd,
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        finally:
            _kill(proc)
        if proc.returncode != 0 or b"'ok': True" not in out:
            raise RuntimeError(f"lambda_local CLI failed (rc={proc.returncode}): {_tail(out)}")
        samples = []
        for _ in range(n):
            proc = None
            try:
                t0 = time.perf_counter_ns()
                proc = subprocess.Popen(
                    cmd,
                    cwd=tmp,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                rc = proc.wait(timeout)
                samples.append(time.perf_counter_ns() - t0)
            finally:
                _kill(proc)
            if rc != 0:
                raise RuntimeError(f"lambda_local CLI exited {rc}")
    return summarize(samples)


_PLL_WORKER = r"""
import json, logging, os, sys, time
n, handler_dir, warmup = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
real_stdout = sys.stdout
from lambda_local.main import call
from lambda_local.context import Context
# python-lambda-local logs START/END/REPORT/RESULT to stdout through the root
# logger on every call; keep the formatting cost, drop the output.
devnull = open(os.devnull, "w")
for h in logging.getLogger().handlers:
    if hasattr(h, "setStream"):
        h.setStream(devnull)
sys.path.insert(0, handler_dir)
import peer_noop
event = json.load(open(os.path.join(handler_dir, "event.json")))
res = call(peer_noop.handler, event, Context(3))
assert res == ({"ok": True}, None), res
for _ in range(warmup):
    call(peer_noop.handler, event, Context(3))
out = []
for _ in range(n):
    t0 = time.perf_counter_ns()
    result, err = call(peer_noop.handler, event, Context(3))
    out.append(time.perf_counter_ns() - t0)
    if err is not None:
        raise SystemExit("handler error: %r" % (result,))
real_stdout.write(json.dumps(out))
real_stdout.flush()
"""


def bench_pll_library(n: int = 500, warmup: int = 10, timeout: float = 300.0) -> dict:
    """python-lambda-local ``call()`` per invoke in a warm parent. Figures in ms."""
    _require("lambda_local", "pip install python-lambda-local")
    with tempfile.TemporaryDirectory(prefix="peer-pll-lib-") as tmp:
        _handler_dir(tmp)
        proc = subprocess.Popen(
            [PYTHON, "-c", _PLL_WORKER, str(n), tmp, str(warmup)],
            cwd=tmp,
            env=_child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            _kill(proc)
    if proc.returncode != 0:
        raise RuntimeError(
            f"lambda_local library worker failed (rc={proc.returncode}): {_tail(err)}"
        )
    return summarize(json.loads(out))


# ------------------------------------------------------------- awslambdaric
def _spawn_ric(server: RuntimeAPIServer, handler_dir: str, stderr_path: str):
    env = _child_env(
        AWS_LAMBDA_RUNTIME_API=server.address,
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        PYTHONPATH=os.pathsep.join(p for p in (handler_dir, os.environ.get("PYTHONPATH")) if p),
    )
    err = open(stderr_path, "wb")  # noqa: SIM115 - closed in the finally below
    try:
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen(
            [PYTHON, "-m", "awslambdaric", "peer_noop.handler"],
            cwd=handler_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    finally:
        err.close()
    return proc, t0


def _wait_ready(server: RuntimeAPIServer, proc: subprocess.Popen, timeout: float, stderr_path: str):
    end = time.monotonic() + timeout
    while True:
        try:
            server.wait_ready(min(0.05, max(0.0, end - time.monotonic())))
            return
        except TimeoutError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"awslambdaric exited {proc.returncode} before its "
                    f"first /next: {_tail(stderr_path)}"
                ) from None
            if time.monotonic() >= end:
                raise TimeoutError(
                    f"awslambdaric: no /next within {timeout} s: {_tail(stderr_path)}"
                ) from None


def bench_awslambdaric_cold(n: int = 20, timeout: float = 30.0) -> dict:
    """awslambdaric cold starts. Figures in ms:
    ``first_next_*`` spawn -> first GET /next, ``first_invoke_*`` spawn -> first
    invoke answered."""
    _require("awslambdaric", "pip install awslambdaric")
    first_next, first_invoke = [], []
    with tempfile.TemporaryDirectory(prefix="peer-ric-") as tmp:
        _handler_dir(tmp)
        stderr_path = os.path.join(tmp, "stderr.txt")
        for _ in range(n):
            server = RuntimeAPIServer()
            proc = None
            try:
                proc, t0 = _spawn_ric(server, tmp, stderr_path)
                _wait_ready(server, proc, timeout, stderr_path)
                status, body = server.invoke(json.dumps(EVENT).encode(), timeout)
                t2 = time.perf_counter_ns()
                if status != "ok" or json.loads(body) != {"ok": True}:
                    raise RuntimeError(f"awslambdaric answered {status}: {body[:300]!r}")
                first_next.append(server.first_next_ns - t0)
                first_invoke.append(t2 - t0)
            finally:
                _kill(proc)
                server.close()
    a, b = summarize(first_next), summarize(first_invoke)
    out = {f"first_next_{k}": v for k, v in a.items()}
    out.update({f"first_invoke_{k}": v for k, v in b.items()})
    out["n"] = len(first_next)
    return out


def bench_awslambdaric_warm(n: int = 500, warmup: int = 50, timeout: float = 30.0) -> dict:
    """awslambdaric warm invoke round trip through our Runtime API (ms), and
    the idle process's USS/RSS (MiB) after the run."""
    _require("awslambdaric", "pip install awslambdaric")
    payload = json.dumps(EVENT).encode()
    with tempfile.TemporaryDirectory(prefix="peer-ric-warm-") as tmp:
        _handler_dir(tmp)
        stderr_path = os.path.join(tmp, "stderr.txt")
        server = RuntimeAPIServer()
        proc = None
        try:
            proc, _ = _spawn_ric(server, tmp, stderr_path)
            _wait_ready(server, proc, timeout, stderr_path)
            for _ in range(warmup):
                status, body = server.invoke(payload, timeout)
                if status != "ok":
                    raise RuntimeError(f"awslambdaric answered {status}: {body[:300]!r}")
            samples = []
            invoke = server.invoke
            clock = time.perf_counter_ns
            for _ in range(n):
                t0 = clock()
                status, _body = invoke(payload, timeout)
                samples.append(clock() - t0)
                if status != "ok":
                    raise RuntimeError(f"awslambdaric answered {status}")
            time.sleep(0.05)  # let it settle back into the /next long poll
            out = summarize(samples)
            out.update(uss_mib(proc.pid))
            return out
        finally:
            _kill(proc)
            server.close()


# ------------------------------------------------------------------ driver
def _row(tool, case, figures=None, error=None, **extra):
    row = {"tool": tool, "case": case, "p50_ms": None, "p99_ms": None, "n": 0}
    if figures:
        row.update({k: figures.get(k) for k in ("p50_ms", "p99_ms", "n")})
    row.update(extra)
    if error is not None:
        row["error"] = error
    return row


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_peers(n_cold: int = 20, n_warm: int = 500) -> list[dict]:
    """Run every peer case; never raises for a missing or failing peer.

    Returns rows {"tool", "case", "p50_ms", "p99_ms", "n"} plus "uss_mib" /
    "rss_mib" where relevant and "error" when a case could not run.
    """
    rows = []
    pll = "python-lambda-local"
    try:
        rows.append(_row(pll, "CLI per invoke (spawn -> exit)", bench_pll_cli(n_cold)))
    except Exception as e:
        rows.append(_row(pll, "CLI per invoke (spawn -> exit)", error=_err(e)))
    try:
        rows.append(_row(pll, "library call() in warm parent", bench_pll_library(n_warm)))
    except Exception as e:
        rows.append(_row(pll, "library call() in warm parent", error=_err(e)))

    ric = "awslambdaric"
    try:
        c = bench_awslambdaric_cold(n_cold)
        rows.append(
            _row(
                ric,
                "cold: spawn -> first /next",
                {"p50_ms": c["first_next_p50_ms"], "p99_ms": c["first_next_p99_ms"], "n": c["n"]},
            )
        )
        rows.append(
            _row(
                ric,
                "cold: spawn -> first invoke answered",
                {
                    "p50_ms": c["first_invoke_p50_ms"],
                    "p99_ms": c["first_invoke_p99_ms"],
                    "n": c["n"],
                },
            )
        )
    except Exception as e:
        rows.append(_row(ric, "cold: spawn -> first /next", error=_err(e)))
        rows.append(_row(ric, "cold: spawn -> first invoke answered", error=_err(e)))
    try:
        w = bench_awslambdaric_warm(n_warm)
        rows.append(
            _row(
                ric,
                "warm: Runtime API round trip",
                w,
                uss_mib=w.get("uss_mib"),
                rss_mib=w.get("rss_mib"),
            )
        )
    except Exception as e:
        rows.append(_row(ric, "warm: Runtime API round trip", error=_err(e)))
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of run_peers() rows."""

    def f(v, spec):
        width = spec.split(".")[0]
        return format("-", f">{width}") if v is None else format(v, spec)

    head = f"{'tool':<20} {'case':<38} {'p50 ms':>9} {'p99 ms':>9} {'n':>5} {'USS MiB':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['tool']:<20} {r['case']:<38} {f(r.get('p50_ms'), '9.3f')} "
            f"{f(r.get('p99_ms'), '9.3f')} {r.get('n', 0):>5} "
            f"{f(r.get('uss_mib'), '8.2f')}"
        )
        if r.get("error"):
            lines.append(f"{'':<20}   error: {r['error'][:300]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cold", type=int, default=20, help="cold samples (default 20)")
    ap.add_argument("--warm", type=int, default=500, help="warm samples (default 500)")
    ap.add_argument("--json", action="store_true", help="print rows as JSON")
    args = ap.parse_args(argv)
    rows = run_peers(args.cold, args.warm)
    print(json.dumps(rows, indent=1) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
