"""kernel_runtime: the local AWS Lambda service behind lambda-lab.

Plain Python, usable from pytest, scripts, the CLI and a Jupyter kernel alike. Handler code
never runs in this process: every invocation runs in an execution environment, a child
process tree with the AWS lifecycle and limits.
"""

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
from .sandbox import ExecutionEnvironment, Sandbox, State

__version__ = "0.1.0"

__all__ = [
    "ExecutionEnvironment",
    "FunctionConfig",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "Invocation",
    "LambdaError",
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
