"""Helpers shared by the tests: write a handler module to disk as a function; wait for a
condition that other threads or processes make true; run threads all at once."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernel_runtime import FunctionConfig


def write_function(
    root: Path,
    source: str,
    *,
    name: str = "fn",
    handler: str = "app.handler",
    filename: str = "app.py",
    **config: Any,
) -> FunctionConfig:
    """A task root holding ``filename`` with ``source``, and its configuration."""
    root.mkdir(parents=True, exist_ok=True)
    (root / filename).write_text(textwrap.dedent(source))
    return FunctionConfig(function_name=name, handler=handler, code=root, **config)


def eventually(
    probe: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "condition",
    interval: float = 0.02,
) -> Any:
    """Call ``probe`` until it returns something truthy, and return that; fail the test with
    ``what`` when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout} s)")
        time.sleep(interval)


def run_concurrently(threads: list[threading.Thread]) -> None:
    """Start every thread, then wait for them all."""
    for t in threads:
        t.start()
    for t in threads:
        t.join()
