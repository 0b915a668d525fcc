"""API Gateway front doors: a real HTTP request in, a Lambda event out, the function's answer
mapped back to HTTP, as API Gateway's Lambda proxy integrations do.

``RestApi`` is an API Gateway REST API (payload format 1.0, served under ``/<stage>/``);
``HttpApi`` an HTTP API (payload format 2.0 by default, 1.0 on request, stage ``$default`` at
the root). Each serves its own port on 127.0.0.1 and invokes synchronously through
:meth:`LambdaService.invoke <kernel_runtime.service._service.LambdaService.invoke>`, so a
request through a front door is an ordinary invocation: cold starts, throttles, logs.

AWS's behaviour followed here (sources: the API Gateway developer guide pages
"set-up-lambda-proxy-integrations", "http-api-develop-integrations-lambda",
"http-api-develop-routes" and "http-api-troubleshooting-lambda"; the Lambda guide page
"services-apigateway-errors"):

- Routes: ``"GET /items/{id}"``, ``"ANY /files/{proxy+}"`` and, for HTTP APIs, ``"$default"``.
  The most specific path wins (a literal segment beats a ``{param}``, which beats a greedy
  ``{proxy+}``, read left to right), then a method beats ``ANY``. A REST API picks the
  resource first: if that resource has neither the method nor ``ANY`` the answer is 403
  ``Missing Authentication Token``, as for no resource at all. An HTTP API falls back to
  ``$default``, else 404 ``Not Found``.
- Errors: REST APIs answer 502 ``{"message": "Internal server error"}`` for a function error
  or a malformed proxy response, and 500 with the same body when Lambda rejects the invoke
  (a throttle included: API Gateway never forwards Lambda's 429). HTTP APIs answer 500
  ``{"message":"Internal Server Error"}`` for all three.
- Request bodies go to the function as text when their content type is textual (``text/*``,
  JSON, XML, form data, JavaScript) and valid UTF-8, else base64 with ``isBase64Encoded``.
  (A REST API on AWS needs ``binaryMediaTypes`` for that; here it behaves as if every
  non-text type were listed.)
- A REST API rejects a proxy response with keys other than the five it defines; an HTTP API
  ignores unknown keys. In payload 2.0 any valid JSON without ``statusCode`` is the body of a
  200 ``application/json`` answer, exactly as the function returned it (a returned string
  arrives JSON-quoted, as the Lambda guide's function URL example shows).

Locally the client speaks plain HTTP to 127.0.0.1, so ``X-Forwarded-Proto``/``-Port`` say
``http`` and the port actually used; ``domainName`` has AWS's shape
(``<api-id>.execute-api.<region>.amazonaws.com``) and the ``Host`` header is the real one.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from functools import cached_property
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

from .._ids import request_id
from ..errors import LambdaError, RequestTooLargeException
from ._server import EdgeServer, _KeepAliveHandler

__all__ = [
    "FrontDoor",
    "HttpApi",
    "HttpRequest",
    "ProxyResponseError",
    "Response",
    "RestApi",
    "random_id",
    "v1_response",
    "v2_event",
    "v2_response",
]

log = logging.getLogger(__name__)

Response = tuple[int, list[tuple[str, str]], bytes]

#: Lambda's synchronous request limit applies to the event, base64 and all.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
#: API Gateway's own payload limit (10 MB); larger requests never reach Lambda.
REQUEST_LIMIT = 10 * 1024 * 1024
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

_RAW_HEADERS = "lambda_lab.raw_headers"
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_TEXT_SUBTYPES = ("json", "xml", "javascript", "ecmascript", "x-www-form-urlencoded")
_FORWARDED = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")
#: Response headers a function cannot set: the server frames the response itself.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
#: REST APIs keep these from the integration under x-amzn-Remapped-<name>.
_REMAPPED = frozenset({"authorization", "connection", "content-length", "date", "server"})
_V1_RESPONSE_KEYS = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)
_STAGE_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_PARAM_RE = re.compile(r"^\{(?P<name>[A-Za-z0-9._-]+)(?P<greedy>\+?)\}$")
_ROUTE_KEY_RE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>/\S*)$")


# -- small helpers ---------------------------------------------------------------------------
def random_id(length: int) -> str:
    """Lower-case alphanumerics, as API Gateway ids (10) and function URL ids (32) are."""
    data = os.urandom(length)
    return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in data)


def _clf_time(epoch: float) -> str:
    """``27/Nov/2026:19:48:18 +0000``, whatever the locale."""
    t = time.gmtime(epoch)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _http_request_id() -> str:
    """HTTP API request ids (and REST APIs' extended request ids) look like
    ``JKJaXmPLvHcESHA=``: 11 random bytes in base64."""
    return base64.b64encode(os.urandom(11)).decode()


def _trace_root(epoch: float) -> str:
    return f"Root=1-{int(epoch):08x}-{os.urandom(12).hex()}"


def _is_text(content_type: str | None) -> bool:
    """Whether API Gateway hands a body of this type to the function as text."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    if main == "text":
        return True
    return main == "application" and any(sub == s or sub.endswith("+" + s) for s in _TEXT_SUBTYPES)


def _json_body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _message(status: int, message: str, error_type: str | None = None) -> Response:
    """A gateway-generated error: ``{"message": ...}`` (and x-amzn-ErrorType on REST)."""
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return status, headers, _json_body({"message": message})


# -- requests --------------------------------------------------------------------------------
class _RequestTooLarge(Exception):
    pass


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the client sent it: raw path and query, headers in order with
    their names as spelled, and the whole body."""

    method: str
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    protocol: str
    scheme: str
    port: int
    epoch: float

    def header(self, name: str) -> str | None:
        """The first value of a header (names are case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def segments(self) -> list[str]:
        """The path's segments, percent-decoded one by one (an encoded ``/`` stays inside its
        segment); a trailing slash is ignored, the root has none."""
        path = self.raw_path.strip("/")
        if not path:
            return []
        return [unquote(s) for s in path.split("/")]

    @property
    def epoch_ms(self) -> int:
        return int(self.epoch * 1000)

    def forwarded_headers(self) -> list[tuple[str, str]]:
        """The request's headers plus the ones API Gateway and Lambda add: the caller's
        address appended to X-Forwarded-For, the port and protocol it used, a trace id."""
        out = [(k, v) for k, v in self.headers if k.lower() not in _FORWARDED]
        if self.header("x-amzn-trace-id") is None:
            out.append(("X-Amzn-Trace-Id", _trace_root(self.epoch)))
        before = self.header("x-forwarded-for")
        out.append(("X-Forwarded-For", f"{before}, {self.source_ip}" if before else self.source_ip))
        out.append(("X-Forwarded-Port", str(self.port)))
        out.append(("X-Forwarded-Proto", self.scheme))
        return out

    def event_body(self) -> tuple[str | None, bool]:
        """``(body, isBase64Encoded)``: text for textual UTF-8 bodies, else base64."""
        if not self.body:
            return None, False
        if _is_text(self.header("content-type")):
            try:
                return self.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(self.body).decode("ascii"), True


def _read_request(environ: dict[str, Any], port: int) -> HttpRequest:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    target, _, query = raw.partition("?")
    if "://" in target:  # an absolute-form request line
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    headers = environ.get(_RAW_HEADERS)
    if headers is None:  # served by another WSGI server: rebuild what we can
        headers = [
            (key[5:].replace("_", "-").title(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers.append((key.replace("_", "-").title(), environ[key]))
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH")
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            length = 0
        if length > REQUEST_LIMIT:
            raise _RequestTooLarge
        body = stream.read(length) if length > 0 else b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read(REQUEST_LIMIT + 1)
        if len(body) > REQUEST_LIMIT:
            raise _RequestTooLarge
    else:
        body = b""
    return HttpRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        raw_path=target or "/",
        raw_query=query,
        headers=tuple(headers),
        body=bytes(body),
        source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        scheme=environ.get("wsgi.url_scheme", "http"),
        port=port,
        epoch=time.time(),
    )


# -- the server ------------------------------------------------------------------------------
class _FrontDoorHandler(_KeepAliveHandler):
    """The edge's keep-alive handler, also keeping the headers as sent (names, order and
    duplicates), which WSGI's environ folds away and the events need."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[_RAW_HEADERS] = [(k, v.replace("\r\n", "")) for k, v in self.headers.items()]
        return environ


class _FrontDoorServer(EdgeServer):
    """An :class:`EdgeServer` whose handler keeps the raw headers."""

    handler_class = _FrontDoorHandler
    poll_interval = 0.05
    thread_name = "lambda-lab-front-door"


class FrontDoor:
    """One HTTP server whose requests become synchronous invocations.

    Subclasses implement :meth:`handle`; this class reads the request, frames the response
    and owns the server (``start``, ``close``, context manager).
    """

    def __init__(self, service: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        self._server = _FrontDoorServer(self, host=host, port=port)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return self._server.url

    def start(self) -> Any:
        """Bind and serve from a daemon thread; returns ``self``."""
        self._server.start()
        return self

    def close(self) -> None:
        """Stop serving and close open connections."""
        self._server.stop()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- WSGI -----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            request = _read_request(environ, self.port)
        except _RequestTooLarge:
            status, headers, body = self.too_large()
        else:
            try:
                status, headers, body = self.handle(request)
            except Exception:
                log.exception(
                    "%s: %s %s failed", type(self).__name__, request.method, request.raw_path
                )
                status, headers, body = self.integration_failure()
        headers = [*headers, ("Date", formatdate(usegmt=True))]
        headers.append(("Content-Length", str(len(body))))
        start_response(_STATUS_LINES.get(status) or f"{status} Status", headers)
        return [body]

    def handle(self, request: HttpRequest) -> Response:
        raise NotImplementedError

    def too_large(self) -> Response:
        return _message(413, "Request Entity Too Large")

    def integration_failure(self) -> Response:
        """What the client sees when Lambda rejects the invoke."""
        return _message(500, "Internal Server Error")

    # -- invoking -------------------------------------------------------------------------------
    def invoke(self, function: str, event: Mapping[str, Any], qualifier: str | None = None) -> Any:
        """Synchronous Invoke of ``function`` with ``event``; raises LambdaError subclasses."""
        payload = _json_body(event)
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            raise RequestTooLargeException(
                f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the "
                "InvokeFunction operation"
            )
        return self.service.invoke(function, payload, qualifier=qualifier)


# -- routes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Route:
    key: str  # "GET /items/{id}" or "$default"
    method: str  # a method or ANY
    path: str
    segments: tuple[str, ...]
    function: str

    @cached_property
    def rank(self) -> tuple[int, ...]:
        """Lower is more specific: per segment 0 literal, 1 parameter, 2 greedy (worked out
        once, not for every request)."""
        out = []
        for segment in self.segments:
            match = _PARAM_RE.match(segment)
            out.append(0 if match is None else 2 if match["greedy"] else 1)
        return tuple(out)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Path parameters if the route's path matches ``segments`` (decoded), else None."""
        params: dict[str, str] = {}
        for i, template in enumerate(self.segments):
            match = _PARAM_RE.match(template)
            if match is not None and match["greedy"]:
                rest = segments[i:]
                if not rest:
                    return None
                params[match["name"]] = "/".join(rest)
                return params
            if i >= len(segments):
                return None
            if match is None:
                if template != segments[i]:
                    return None
            elif not segments[i]:
                return None
            else:
                params[match["name"]] = segments[i]
        return params if len(segments) == len(self.segments) else None


def _parse_routes(routes: Mapping[str, str], *, allow_default: bool) -> tuple[_Route, ...]:
    """Route keys as API Gateway writes them; a bad one is a ValueError naming it."""
    if not isinstance(routes, Mapping) or not routes:
        raise ValueError("routes must be a non-empty mapping of route key to function name")
    out = []
    for key, function in routes.items():
        if not isinstance(function, str) or not function:
            raise ValueError(f"Route {key!r}: the target must be a function name or ARN")
        if key == "$default":
            if not allow_default:
                raise ValueError("REST APIs have no $default route: use 'ANY /{proxy+}'")
            out.append(_Route(key, "ANY", "", (), function))
            continue
        match = _ROUTE_KEY_RE.match(key) if isinstance(key, str) else None
        if match is None:
            raise ValueError(
                f"Invalid route key {key!r}: expected '<METHOD> /<path>' or '$default'"
            )
        method, path = match["method"], match["path"]
        if method not in METHODS and method != "ANY":
            raise ValueError(f"Invalid route key {key!r}: unknown method {method}")
        segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
        for i, segment in enumerate(segments):
            param = _PARAM_RE.match(segment)
            if not segment or (("{" in segment or "}" in segment) and param is None):
                raise ValueError(f"Invalid route key {key!r}: bad path segment {segment!r}")
            if param is not None and param["greedy"] and i != len(segments) - 1:
                raise ValueError(
                    f"Invalid route key {key!r}: a greedy path variable must be the last segment"
                )
        normal = f"{method} /{'/'.join(segments)}"
        if any(r.key == normal for r in out):
            raise ValueError(f"Duplicate route key {key!r}")
        out.append(_Route(normal, method, "/" + "/".join(segments), segments, function))
    return tuple(out)


def _best(candidates: list[tuple[_Route, dict[str, str]]], method: str) -> Any:
    return min(candidates, key=lambda c: (c[0].rank, c[0].method != method))


# -- events ----------------------------------------------------------------------------------
def _v1_headers(
    pairs: list[tuple[str, str]], *, lower: bool
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for key, value in pairs:
        name = key.lower() if lower else names.setdefault(key.lower(), key)
        single[name] = value
        multi.setdefault(name, []).append(value)
    return (single or None), (multi or None)


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    return parse_qsl(raw_query, keep_blank_values=True)


def _identity(request: HttpRequest) -> dict[str, Any]:
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": request.source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": request.header("user-agent"),
        "user": None,
    }


def _v1_event(
    request: HttpRequest,
    *,
    resource: str,
    path: str,
    full_path: str,
    path_params: dict[str, str],
    stage: str,
    stage_variables: Mapping[str, str] | None,
    context: dict[str, Any],
    lower: bool,
) -> dict[str, Any]:
    """Payload format 1.0 (REST APIs, and HTTP APIs asked for it)."""
    headers, multi_headers = _v1_headers(request.forwarded_headers(), lower=lower)
    query = _query_pairs(request.raw_query)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        single_query[key] = value
        multi_query.setdefault(key, []).append(value)
    body, encoded = request.event_body()
    request_context = {
        **context,
        "resourcePath": resource,
        "httpMethod": request.method,
        "requestTime": _clf_time(request.epoch),
        "path": full_path,
        "protocol": request.protocol,
        "stage": stage,
        "requestTimeEpoch": request.epoch_ms,
        "identity": _identity(request),
    }
    return {
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": encoded,
    }


def v2_event(
    request: HttpRequest,
    *,
    route_key: str,
    stage: str,
    path_params: Mapping[str, str] | None,
    stage_variables: Mapping[str, str] | None,
    api_id: str,
    account_id: str,
    domain_name: str,
    request_id_: str,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Payload format 2.0 (HTTP APIs and function URLs): header names lower-case with
    duplicates comma-joined, cookies apart, empty members left out as AWS leaves them."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in request.forwarded_headers():
        name = key.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for key, value in _query_pairs(request.raw_query):
        query[key] = f"{query[key]},{value}" if key in query else value
    body, encoded = request.event_body()
    http = {
        "method": request.method,
        "path": request.raw_path,
        "protocol": request.protocol,
        "sourceIp": request.source_ip,
        "userAgent": request.header("user-agent") or "",
    }
    request_context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": http,
        "requestId": request_id_,
        "routeKey": route_key,
        "stage": stage,
        "time": _clf_time(request.epoch),
        "timeEpoch": request.epoch_ms,
    }
    if authorizer is not None:
        request_context["authorizer"] = dict(authorizer)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = request_context
    if body is not None:
        event["body"] = body
    if path_params:
        event["pathParameters"] = dict(path_params)
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


# -- responses -------------------------------------------------------------------------------
class ProxyResponseError(ValueError):
    """The function's answer is not a proxy response (AWS logs "Malformed Lambda proxy
    response"); the message says what is wrong."""


def _header_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ProxyResponseError(f"header {name!r} has a value of type {type(value).__name__}")


def _proxy_response(value: object, *, strict: bool, version: str) -> Response:
    """Map a proxy response object to HTTP (payload ``version`` "1.0" or "2.0")."""
    if not isinstance(value, dict):
        raise ProxyResponseError(f"the response is a JSON {type(value).__name__}, not an object")
    if strict:
        extra = sorted(set(value) - _V1_RESPONSE_KEYS)
        if extra:
            raise ProxyResponseError(f"unexpected keys {extra}")
    status = value.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ProxyResponseError(f"statusCode {status!r} is not an HTTP status code")
    merged: dict[str, tuple[str, list[str]]] = {}
    headers = value.get("headers")
    if headers is not None:
        if not isinstance(headers, dict):
            raise ProxyResponseError("headers is not an object")
        for name, item in headers.items():
            if item is not None:
                merged[name.lower()] = (name, [_header_value(name, item)])
    multi = value.get("multiValueHeaders") if version == "1.0" else None
    if multi is not None:
        if not isinstance(multi, dict):
            raise ProxyResponseError("multiValueHeaders is not an object")
        for name, items in multi.items():
            if not isinstance(items, list):
                raise ProxyResponseError(f"multiValueHeaders[{name!r}] is not a list")
            values = [_header_value(name, item) for item in items if item is not None]
            _, single = merged.get(name.lower(), (name, []))
            # AWS: both lists are merged; a pair given in both appears once
            merged[name.lower()] = (name, [*(v for v in single if v not in values), *values])
    out: list[tuple[str, str]] = []
    for lower, (name, values) in merged.items():
        if lower in _FRAMING or lower in _REMAPPED:
            if version == "1.0" and strict and lower in _REMAPPED:
                out.extend((f"x-amzn-Remapped-{name}", v) for v in values)
            continue
        out.extend((name, v) for v in values)
    cookies = value.get("cookies") if version == "2.0" else None
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise ProxyResponseError("cookies is not a list of strings")
        out.extend(("Set-Cookie", c) for c in cookies)
    body = value.get("body")
    if body is not None and not isinstance(body, str):
        raise ProxyResponseError(f"body is a JSON {type(body).__name__}, not a string")
    encoded = value.get("isBase64Encoded", False)
    if encoded is not None and not isinstance(encoded, bool):
        raise ProxyResponseError("isBase64Encoded is not a boolean")
    data = (body or "").encode("utf-8")
    if encoded and data:
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ProxyResponseError("body is not valid base64") from None
    return status, out, data


def v1_response(payload: bytes, *, strict: bool) -> Response:
    """Payload format 1.0: the function must return a proxy response object."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError:
        raise ProxyResponseError("the response is not JSON") from None
    return _proxy_response(value, strict=strict, version="1.0")


def v2_response(payload: bytes) -> Response:
    """Payload format 2.0: an object with ``statusCode`` is a proxy response; any other JSON
    is the body of a 200 ``application/json`` answer, as the function returned it."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError:
        raise ProxyResponseError("the response is not JSON") from None
    if isinstance(value, dict) and "statusCode" in value:
        return _proxy_response(value, strict=False, version="2.0")
    return 200, [("Content-Type", "application/json")], bytes(payload)


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(k.lower() == name for k, _ in headers)


# -- the two API types -----------------------------------------------------------------------
class _GatewayApi(FrontDoor):
    """What REST and HTTP APIs share: an id, a stage, routes, an AWS-shaped domain name."""

    def __init__(
        self,
        service: Any,
        routes: Mapping[str, str],
        *,
        stage: str,
        stage_variables: Mapping[str, str] | None,
        allow_default: bool,
        host: str,
        port: int,
    ) -> None:
        if stage != "$default" and (not isinstance(stage, str) or not _STAGE_RE.match(stage)):
            raise ValueError(
                f"Invalid stage name {stage!r}: use letters, digits, hyphens and underscores"
            )
        if stage_variables is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in stage_variables.items()
        ):
            raise ValueError("stage_variables must map strings to strings")
        super().__init__(service, host=host, port=port)
        self.routes = _parse_routes(routes, allow_default=allow_default)
        self.stage = stage
        self.stage_variables = dict(stage_variables) if stage_variables else None
        self.api_id = random_id(10)
        self.domain_name = f"{self.api_id}.execute-api.{service.region}.amazonaws.com"

    @property
    def url(self) -> str:
        """The invoke URL: the root for the ``$default`` stage, else ``/<stage>``."""
        base = self.base_url
        return base if self.stage == "$default" else f"{base}/{self.stage}"

    def _staged(self, request: HttpRequest) -> list[str] | None:
        """The path's segments below the stage, or None if the path is not under it."""
        segments = request.segments
        if self.stage == "$default":
            return segments
        if not segments or segments[0] != self.stage:
            return None
        return segments[1:]

    def _v1_context(self, resource_id: str, extended_id: str, request_id: str) -> dict[str, Any]:
        """The API's part of a 1.0 event's requestContext."""
        return {
            "resourceId": resource_id,
            "extendedRequestId": extended_id,
            "accountId": self.service.account_id,
            "domainPrefix": self.api_id,
            "requestId": request_id,
            "domainName": self.domain_name,
            "apiId": self.api_id,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api_id} routes={len(self.routes)}>"


class RestApi(_GatewayApi):
    """An API Gateway REST API with Lambda proxy integrations (payload format 1.0).

    ``routes`` maps ``"<METHOD> /path"`` (``ANY`` for every method; ``{param}`` and a final
    greedy ``{proxy+}`` in paths) to a function name, ``name:alias`` or ARN. Requests are
    served under ``/<stage>/`` like AWS's invoke URL ``https://<api-id>.execute-api.<region>.
    amazonaws.com/<stage>/``; ``url`` is that base. Call ``start()`` (or use ``with``).
    """

    def __init__(
        self,
        service: Any,
        routes: Mapping[str, str],
        *,
        stage: str = "prod",
        stage_variables: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if stage == "$default":
            raise ValueError("REST API stages are named: '$default' is an HTTP API stage")
        super().__init__(
            service,
            routes,
            stage=stage,
            stage_variables=stage_variables,
            allow_default=False,
            host=host,
            port=port,
        )
        variables: dict[tuple[str, ...], str] = {}
        for route in self.routes:  # one variable child per resource, as CreateResource insists
            for i, segment in enumerate(route.segments):
                if _PARAM_RE.match(segment):
                    other = variables.setdefault(route.segments[:i], segment)
                    if other != segment:
                        raise ValueError(
                            f"A sibling ({other}) of this resource already has a variable "
                            "path part -- only one is allowed"
                        )
        self._resource_ids = {r.path: random_id(6) for r in self.routes}

    def integration_failure(self) -> Response:
        return _message(500, "Internal server error", "InternalServerErrorException")

    def too_large(self) -> Response:
        return _message(413, "Request Too Long", "RequestTooLongException")

    def _select(self, method: str, segments: list[str]) -> tuple[_Route, dict[str, str]] | None:
        """The most specific resource, then its method (or ANY) on it; no fallback."""
        matches = [(r, p) for r in self.routes if (p := r.match(segments)) is not None]
        if not matches:
            return None
        best_rank = min(r.rank for r, _ in matches)
        on_resource = [(r, p) for r, p in matches if r.rank == best_rank]
        for wanted in (method, "ANY"):
            for route, params in on_resource:
                if route.method == wanted:
                    return route, params
        return None

    def handle(self, request: HttpRequest) -> Response:
        gateway_id = request_id()
        extended_id = _http_request_id()
        own = [("x-amzn-RequestId", gateway_id), ("x-amz-apigw-id", extended_id)]
        segments = self._staged(request)
        if segments is None:
            status, headers, body = _message(403, "Forbidden", "ForbiddenException")
            return status, headers + own, body
        selected = self._select(request.method, segments)
        if selected is None:
            status, headers, body = _message(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
            return status, headers + own, body
        route, params = selected
        stage_prefix = f"/{self.stage}"
        path = request.raw_path[len(stage_prefix) :] or "/"
        event = _v1_event(
            request,
            resource=route.path,
            path=unquote(path),
            full_path=request.raw_path,
            path_params=params,
            stage=self.stage,
            stage_variables=self.stage_variables,
            context=self._v1_context(self._resource_ids[route.path], extended_id, gateway_id),
            lower=False,
        )
        status, headers, body = self._integrate(route, event)
        return status, headers + own, body

    def _integrate(self, route: _Route, event: dict[str, Any]) -> Response:
        try:
            result = self.invoke(route.function, event)
        except LambdaError as exc:
            log.warning("REST API %s: Lambda rejected the invoke: %s", self.api_id, exc.code)
            return self.integration_failure()
        if result.function_error:
            log.warning("REST API %s: Lambda function error (%s)", self.api_id, route.function)
            return _message(502, "Internal server error", "InternalServerErrorException")
        try:
            status, headers, body = v1_response(result.payload, strict=True)
        except ProxyResponseError as exc:
            log.error(
                "REST API %s: Execution failed due to configuration error: "
                "Malformed Lambda proxy response (%s)",
                self.api_id,
                exc,
            )
            return _message(502, "Internal server error", "InternalServerErrorException")
        if not _has(headers, "content-type"):
            headers.append(("Content-Type", "application/json"))
        return status, headers, body


class HttpApi(_GatewayApi):
    """An API Gateway HTTP API with Lambda proxy integrations.

    ``routes`` maps route keys (``"GET /items/{id}"``, ``"ANY /files/{proxy+}"``,
    ``"$default"``) to a function name, ``name:alias`` or ARN. ``payload_format_version``
    is ``"2.0"`` (default) or ``"1.0"``. The ``$default`` stage serves at the root; a named
    stage serves under ``/<stage>/`` and, as on AWS, ``rawPath`` then includes the stage.
    """

    def __init__(
        self,
        service: Any,
        routes: Mapping[str, str],
        *,
        payload_format_version: str = "2.0",
        stage: str = "$default",
        stage_variables: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if payload_format_version not in ("1.0", "2.0"):
            raise ValueError(
                f"Invalid payloadFormatVersion {payload_format_version!r}: use '1.0' or '2.0'"
            )
        super().__init__(
            service,
            routes,
            stage=stage,
            stage_variables=stage_variables,
            allow_default=True,
            host=host,
            port=port,
        )
        self.payload_format_version = payload_format_version

    def too_large(self) -> Response:
        return _message(413, "Request Entity Too Large")

    def _select(self, method: str, segments: list[str]) -> tuple[_Route, dict[str, str]] | None:
        matches = [
            (r, p)
            for r in self.routes
            if r.key != "$default"
            and r.method in (method, "ANY")
            and (p := r.match(segments)) is not None
        ]
        if matches:
            return _best(matches, method)
        for route in self.routes:
            if route.key == "$default":
                return route, {}
        return None

    def handle(self, request: HttpRequest) -> Response:
        rid = _http_request_id()
        own = [("apigw-requestid", rid)]
        segments = self._staged(request)
        selected = None if segments is None else self._select(request.method, segments)
        if selected is None:
            status, headers, body = _message(404, "Not Found")
            return status, headers + own, body
        route, params = selected
        if self.payload_format_version == "2.0":
            event = v2_event(
                request,
                route_key=route.key,
                stage=self.stage,
                path_params=params,
                stage_variables=self.stage_variables,
                api_id=self.api_id,
                account_id=self.service.account_id,
                domain_name=self.domain_name,
                request_id_=rid,
            )
        else:
            resource = route.path if route.key != "$default" else request.raw_path
            event = {
                "version": "1.0",
                **_v1_event(
                    request,
                    resource=resource,
                    path=unquote(request.raw_path),
                    full_path=request.raw_path,
                    path_params=params,
                    stage=self.stage,
                    stage_variables=self.stage_variables,
                    context=self._v1_context(route.key, rid, rid),
                    lower=True,
                ),
            }
        status, headers, body = self._integrate(route, event)
        return status, headers + own, body

    def _integrate(self, route: _Route, event: dict[str, Any]) -> Response:
        try:
            result = self.invoke(route.function, event)
        except LambdaError as exc:
            log.warning("HTTP API %s: Lambda rejected the invoke: %s", self.api_id, exc.code)
            return self.integration_failure()
        if result.function_error:
            log.warning("HTTP API %s: Lambda function error (%s)", self.api_id, route.function)
            return self.integration_failure()
        try:
            if self.payload_format_version == "2.0":
                status, headers, body = v2_response(result.payload)
            else:
                status, headers, body = v1_response(result.payload, strict=False)
        except ProxyResponseError as exc:
            log.error(
                "HTTP API %s: Malformed Lambda proxy response (%s): the response from the "
                "Lambda function doesn't match the format that API Gateway expects",
                self.api_id,
                exc,
            )
            return self.integration_failure()
        if not _has(headers, "content-type"):
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return status, headers, body
