"""Error responses in the Lambda REST-JSON shape, so boto3 raises ``client.exceptions.<Code>``.

botocore reads the code from the ``x-amzn-ErrorType`` header and the message from the body's
``message`` (or ``Message``: the models spell it both ways, per exception), and fills the
modelled members (``Type``, ``Reason`` ...) from the body, so the body carries all of them.
"""

from __future__ import annotations

import json

from ..errors import LambdaError, TooManyRequestsException

__all__ = ["ApiError", "error_response"]

Response = tuple[int, list[tuple[str, str]], bytes]


class ApiError(Exception):
    """An error raised by the edge itself (routing, request parsing), not by the service."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def error_response(exc: LambdaError | ApiError, request_id: str) -> Response:
    """Status, headers and JSON body for an error, as the Lambda API writes them."""
    code, status, message = exc.code, exc.status, exc.message
    body: dict[str, str] = {
        "Type": "User" if status < 500 else "Service",
        "Message": message,
        "message": message,
    }
    if isinstance(exc, TooManyRequestsException) and exc.reason:
        body["Reason"] = exc.reason
    data = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", request_id),
    ]
    return status, headers, data
