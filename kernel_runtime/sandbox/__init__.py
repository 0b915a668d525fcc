"""Execution environments: one OS process tree per environment, with the AWS lifecycle."""

from ._environment import ExecutionEnvironment, State
from ._limits import LimitsBackend, LimitSpec, LimitsUnavailable, detect_limits_backend
from ._sandbox import Sandbox

__all__ = [
    "ExecutionEnvironment",
    "LimitSpec",
    "LimitsBackend",
    "LimitsUnavailable",
    "Sandbox",
    "State",
    "detect_limits_backend",
]
