"""kernel_runtime: the local AWS Lambda service behind lambda-lab.

Plain Python, usable from pytest, scripts, the CLI and a Jupyter kernel alike. Handler code
never runs in this process: every invocation runs in an execution environment, a child
process tree with the AWS lifecycle and limits.

Names are imported lazily (PEP 562): the zygote imports ``kernel_runtime.sandbox._worker``
without pulling in the supervisor's modules, which keeps it small and its forks cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from .config import FunctionConfig
    from .errors import (
        InvalidParameterValueException,
        InvalidRequestContentException,
        LambdaError,
        RequestTooLargeException,
        ResourceConflictException,
        ResourceNotFoundException,
        SandboxUnavailable,
        ServiceException,
        TooManyRequestsException,
    )
    from .invocation import Invocation
    from .runtime import Function, LambdaRuntime
    from .sandbox import ExecutionEnvironment, Sandbox, State
    from .service._policy import Limits
    from .service._service import InvokeResult

__version__ = "0.1.0"

_EXPORTS = {
    "ExecutionEnvironment": ".sandbox",
    "Function": ".runtime",
    "FunctionConfig": ".config",
    "InvalidParameterValueException": ".errors",
    "InvalidRequestContentException": ".errors",
    "Invocation": ".invocation",
    "InvokeResult": ".service._service",
    "LambdaRuntime": ".runtime",
    "Limits": ".service._policy",
    "LambdaError": ".errors",
    "RequestTooLargeException": ".errors",
    "ResourceConflictException": ".errors",
    "ResourceNotFoundException": ".errors",
    "Sandbox": ".sandbox",
    "SandboxUnavailable": ".errors",
    "ServiceException": ".errors",
    "State": ".sandbox",
    "TooManyRequestsException": ".errors",
}

__all__ = [
    "ExecutionEnvironment",
    "Function",
    "FunctionConfig",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "Invocation",
    "InvokeResult",
    "LambdaError",
    "LambdaRuntime",
    "Limits",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "Sandbox",
    "SandboxUnavailable",
    "ServiceException",
    "State",
    "TooManyRequestsException",
    "__version__",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
