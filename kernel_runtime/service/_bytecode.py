"""Bytecode for a deployment package, compiled once when it is deployed.

An environment sees its code read-only (``/var/task`` and ``/opt``, as on AWS), so Python can
never cache what it compiles there: without this, every cold start compiled the handler and
whatever the package bundles again (a small handler: ~0.3 ms of each cold start's CPU; one
importing a vendored ``requests``: ~120 ms of its Init Duration).

A small package compiles here, in a few milliseconds. A large one compiles in a child
interpreter (this file run as a script with ``-I -S``: the standard library only), because a
big module's compile holds the GIL for tens of milliseconds, which the kernel's other threads
(the lab's plots, the endpoint, invocations in flight) should not wait for; the child costs
~50 ms to start, which a small package should not pay.
"""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
import time
import warnings

__all__ = ["IN_PROCESS_BYTES", "PRECOMPILE_BUDGET_S", "precompile"]

#: How long a deployment may spend compiling (a 250 MB package of sources must not hold
#: CreateFunction for minutes); what is left compiles at import, as before.
PRECOMPILE_BUDGET_S = 5.0
#: Packages with at most this much Python source compile in this process.
IN_PROCESS_BYTES = 256 * 1024


def precompile(
    root: str | os.PathLike[str],
    budget_s: float = PRECOMPILE_BUDGET_S,
    in_process_bytes: int = IN_PROCESS_BYTES,
) -> int:
    """Compile the package unpacked at ``root``, beside its files; returns how many modules
    got bytecode (0 if the child interpreter could not run: the package works without)."""
    sources = _sources(os.fspath(root))
    if sum(size for _, size in sources) <= in_process_bytes:
        return _compile(sources, budget_s)
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", __file__, os.fspath(root), repr(budget_s)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=budget_s + 30,
            check=False,
        )
        return int(done.stdout or 0) if done.returncode == 0 else 0
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


def _sources(root: str) -> list[tuple[str, int]]:
    """The package's modules with their sizes, top-level ones first."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                try:
                    found.append((path, os.stat(path).st_size))
                except OSError:
                    continue
    return found


def _compile(sources: list[tuple[str, int]], budget_s: float) -> int:
    """Compile in order for at most ``budget_s``. A module that does not compile, or compiles
    with warnings, gets no bytecode: the environment's import raises its SyntaxError or shows
    the warnings in the function's log, as on AWS. The bytecode is checked against a hash of
    the source, not its mtime: layers are merged by copying, and a later layer's module that
    does not compile must not pass for an earlier one's of the same size and second."""
    deadline = time.monotonic() + budget_s
    compiled = 0
    for path, _size in sources:
        if time.monotonic() > deadline:
            break
        try:
            # swaps the warning filters of the process for one compile: a warning another
            # thread raises in that window is recorded here (and its module left uncompiled)
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always")
                cached = py_compile.compile(
                    path,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
                )
            if warned:
                os.unlink(cached)
                continue
        except (py_compile.PyCompileError, OSError):
            continue
        compiled += 1
    return compiled


if __name__ == "__main__":
    print(_compile(_sources(sys.argv[1]), float(sys.argv[2])))
