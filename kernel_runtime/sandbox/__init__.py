"""Execution environments: one OS process tree per environment, with the AWS lifecycle.

Imported lazily (PEP 562), so the zygote's ``import kernel_runtime.sandbox._worker`` stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
