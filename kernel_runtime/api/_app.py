"""The edge: one WSGI app, one port, every AWS service (decision 7).

Requests signed for ``lambda`` (the service in the SigV4 credential scope) go to our Lambda
REST API; everything else goes to moto's WSGI app, mounted in the same process. Routing by the
credential scope rather than by path is what moto itself does, and what keeps S3 buckets or
API paths that look like Lambda's from being misrouted. Unsigned requests go to Lambda only
when their path is a Lambda API path.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from ._lambda import LambdaRestApi, StartResponse, is_lambda_path

__all__ = ["EdgeApp", "credential_scope", "signing_service"]

WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: (operation from X-Amz-Target, WSGI environ, request body) -> (status, headers, body), or None
#: to let moto answer the request.
Interceptor = Callable[
    [str, dict[str, Any], bytes], "tuple[int, list[tuple[str, str]], bytes] | None"
]

HEALTH_PATH = "/_lab/health"
_HEALTH_BODY = json.dumps({"status": "ok"}).encode()
#: moto's control API is unauthenticated: through it handler code could wipe every service's
#: state or switch IAM checks off. The edge does not serve it (the runtime calls moto in-process).
_MOTO_API = "/moto-api"
_MOTO_API_BODY = json.dumps(
    {"message": "moto's control API is not served by the lambda-lab endpoint"}
).encode()


def credential_scope(auth: str | None) -> list[str] | None:
    """The parts of the credential scope (``AKID/date/region/service/aws4_request``) of a SigV4
    ``Authorization`` header's value; None without one."""
    if not auth:
        return None
    start = auth.find("Credential=")
    if start < 0:
        return None
    start += len("Credential=")
    end = auth.find(",", start)
    parts = (auth[start:] if end < 0 else auth[start:end]).strip().split("/")
    return parts if len(parts) >= 5 else None


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service of a SigV4 credential scope (``AKID/date/region/<service>/aws4_request``),
    from the Authorization header or a presigned URL's X-Amz-Credential; None if unsigned."""
    auth = environ.get("HTTP_AUTHORIZATION")
    if auth:
        parts = credential_scope(auth)
    elif "X-Amz-Credential=" in environ.get("QUERY_STRING", ""):
        from urllib.parse import parse_qs

        values = parse_qs(environ["QUERY_STRING"]).get("X-Amz-Credential")
        parts = values[0].split("/") if values else None
    else:
        return None
    return parts[-2] if parts is not None and len(parts) >= 5 else None


class EdgeApp:
    """WSGI app: the Lambda API for ``service``, moto for every other AWS service.

    ``moto_app`` replaces moto's dispatcher (tests, or a host that builds its own); by default
    it is created on the first non-Lambda request, since importing moto costs ~0.4 s that a
    Lambda-only session never needs.
    """

    def __init__(self, service: Any, *, moto_app: WSGIApp | None = None) -> None:
        self.service = service
        self.lambda_api = LambdaRestApi(service)
        self._moto_app = moto_app
        self._moto_lock = threading.Lock()
        #: JSON-protocol services (by signing name: ``logs``, ``monitoring``) some of whose
        #: operations the runtime answers itself, from its store, before moto sees them.
        self.interceptors: dict[str, Interceptor] = {}

    @property
    def moto_app(self) -> WSGIApp:
        """moto's dispatcher (created once, on first use)."""
        if self._moto_app is None:
            with self._moto_lock:
                if self._moto_app is None:
                    from moto.server import DomainDispatcherApplication, create_backend_app

                    self._moto_app = DomainDispatcherApplication(create_backend_app)
        return self._moto_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service = signing_service(environ)
        path = environ.get("PATH_INFO", "")
        if service == "lambda" or (service is None and is_lambda_path(path)):
            return self.lambda_api(environ, start_response)
        if service is None and path == HEALTH_PATH:
            return _json(start_response, "200 OK", _HEALTH_BODY)
        if path == _MOTO_API or path.startswith(_MOTO_API + "/"):
            return _json(start_response, "403 Forbidden", _MOTO_API_BODY)
        interceptor = self.interceptors.get(service) if service is not None else None
        if interceptor is not None:
            answered = self._intercept(interceptor, environ, start_response)
            if answered is not None:
                return answered
        return self.moto_app(environ, start_response)

    @staticmethod
    def _intercept(
        interceptor: Interceptor, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """Offer a JSON-protocol request to ``interceptor``; if it declines, put the body back
        for moto."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        result = interceptor(operation, environ, body)
        if result is None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return None
        status, headers, payload = result
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [payload]


def _json(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
