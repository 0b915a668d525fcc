"""The HTTP edge: the AWS Lambda REST API and every other AWS service (moto) on one port.

``EdgeApp`` is the WSGI app (Lambda for requests signed for ``lambda``, moto for the rest);
``EdgeServer`` serves it with keep-alive HTTP/1.1. Imported lazily (PEP 562), like the other
packages: werkzeug and moto load only when an endpoint is wanted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from ._app import EdgeApp
    from ._cloudwatch import CloudWatchInterceptor
    from ._gateway import HttpApi, RestApi
    from ._lambda_urls import FunctionUrls
    from ._logs import LogsInterceptor
    from ._server import EdgeServer

_EXPORTS = {
    "CloudWatchInterceptor": "._cloudwatch",
    "EdgeApp": "._app",
    "EdgeServer": "._server",
    "FunctionUrls": "._lambda_urls",
    "HttpApi": "._gateway",
    "LogsInterceptor": "._logs",
    "RestApi": "._gateway",
}

__all__ = [
    "CloudWatchInterceptor",
    "EdgeApp",
    "EdgeServer",
    "FunctionUrls",
    "HttpApi",
    "LogsInterceptor",
    "RestApi",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
