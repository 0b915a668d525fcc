"""Execution environments: one OS process tree per environment, with the AWS lifecycle.

Imported lazily (PEP 562), so the zygote's ``import kernel_runtime.sandbox._worker`` stays small.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from ._environment import ExecutionEnvironment, State
    from ._limits import LimitsBackend, LimitSpec, LimitsUnavailable, detect_limits_backend
    from ._sandbox import Sandbox

_EXPORTS = {
    "ExecutionEnvironment": "._environment",
    "LimitSpec": "._limits",
    "LimitsBackend": "._limits",
    "LimitsUnavailable": "._limits",
    "Sandbox": "._sandbox",
    "State": "._environment",
    "detect_limits_backend": "._limits",
}

__all__ = [
    "ExecutionEnvironment",
    "LimitSpec",
    "LimitsBackend",
    "LimitsUnavailable",
    "Sandbox",
    "State",
    "detect_limits_backend",
]


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kernel_runtime.sandbox' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {n for n in globals() if n.startswith("_")})
