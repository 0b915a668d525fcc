"""Errors raised by kernel_runtime, named after the AWS error codes they mirror.

Callers catch the AWS name they already know from boto3 (``InvalidParameterValueException``,
``ResourceNotFoundException`` ...). Function errors are *not* exceptions: a handler that raises
produces an :class:`~kernel_runtime.Invocation` whose ``function_error`` is set, exactly as the
Invoke API answers 200 with ``X-Amz-Function-Error``.

The tree::

    LambdaError
    ├── InvalidParameterValueException      (400) bad configuration or argument
    ├── InvalidRequestContentException      (400) the payload is not JSON
    ├── RequestTooLargeException            (413) payload above the invoke limit
    ├── ResourceNotFoundException           (404)
    │   └── ProvisionedConcurrencyConfigNotFoundException
    ├── ResourceConflictException           (409) e.g. invoking a shut-down environment
    ├── PreconditionFailedException         (412) a stale RevisionId
    ├── TooManyRequestsException            (429) throttled
    └── ServiceException                    (500) the platform itself failed
        └── SandboxUnavailable              the zygote or the limits backend is gone
"""

from __future__ import annotations

__all__ = [
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "LambdaError",
    "PreconditionFailedException",
    "ProvisionedConcurrencyConfigNotFoundException",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "SandboxUnavailable",
    "ServiceException",
    "TooManyRequestsException",
]


class LambdaError(Exception):
    """Base class: carries the AWS error code and HTTP status the edge will answer with."""

    code: str = "ServiceException"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The JSON error body AWS returns (``Type``/``message`` as boto3 parses them)."""
        return {"Type": "User" if self.status < 500 else "Service", "message": self.message}


class InvalidParameterValueException(LambdaError):
    code = "InvalidParameterValueException"
    status = 400


class InvalidRequestContentException(LambdaError):
    code = "InvalidRequestContentException"
    status = 400


class RequestTooLargeException(LambdaError):
    code = "RequestTooLargeException"
    status = 413


class ResourceNotFoundException(LambdaError):
    code = "ResourceNotFoundException"
    status = 404


class ProvisionedConcurrencyConfigNotFoundException(ResourceNotFoundException):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


class PreconditionFailedException(LambdaError):
    code = "PreconditionFailedException"
    status = 412


class ResourceConflictException(LambdaError):
    code = "ResourceConflictException"
    status = 409


class TooManyRequestsException(LambdaError):
    code = "TooManyRequestsException"
    status = 429

    def __init__(self, message: str = "Rate Exceeded.", reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class ServiceException(LambdaError):
    code = "ServiceException"
    status = 500


class SandboxUnavailable(ServiceException):
    """The launcher (zygote) died or could not start; the runtime must be recreated."""
