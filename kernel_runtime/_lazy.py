"""Lazy package namespaces (PEP 562), so importing one module of a package loads only it.

The zygote imports ``kernel_runtime.sandbox._worker`` and must not pull in the supervisor's
modules (a bigger zygote forks slower and costs more per environment); the edge loads werkzeug
and moto only when an endpoint is wanted.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps each public name to
    the relative module that defines it; a name is imported on first use, then cached."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace["__all__"]) | {n for n in namespace if n.startswith("_")})

    return __getattr__, __dir__
