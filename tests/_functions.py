"""Helpers shared by the sandbox tests: write a handler module to disk as a function."""

from __future__ import annotations

import textwrap
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
