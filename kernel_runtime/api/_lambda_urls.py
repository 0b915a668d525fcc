"""Lambda function URLs: the configuration API and one HTTP endpoint per URL.

``FunctionUrls`` keeps the configurations (one per function, or per alias) and serves each URL
on its own port of 127.0.0.1, so ``rawPath`` is exactly the path the client asked for:
``FunctionUrl`` is ``http://127.0.0.1:<port>/``. AWS's is
``https://<url-id>.lambda-url.<region>.on.aws/``; the 32-character url-id made here appears
where AWS puts it in the event (``requestContext.apiId``, ``domainName``, ``domainPrefix``).

Requests map to payload format 2.0 events and responses back as an HTTP API does (the Lambda
guide's "urls-invocation" page). What differs from API Gateway, as on AWS:

- a function error or a malformed response is a 502 whose body is ``Internal Server Error``;
  an invoke Lambda refuses (a throttle, an oversized event) answers with Lambda's own status
  and ``{"Message": ...}`` (the local choice: AWS does not document this body);
- ``AuthType`` ``AWS_IAM`` requires a SigV4-shaped ``Authorization`` header (or a presigned
  query) scoped to ``lambda``, else 403 ``{"Message":"Forbidden"}``. Signatures are not
  verified: the caller is taken to be the account itself (``requestContext.authorizer.iam``);
- with ``Cors`` configured, Lambda answers CORS preflights itself (the function is not
  invoked) and sets the CORS headers of every response to an allowed origin, overriding the
  function's;
- ``InvokeMode`` ``RESPONSE_STREAM`` is accepted and stored, but served buffered.

The Lambda API operations (CreateFunctionUrlConfig, Get-, Update-, Delete-,
ListFunctionUrlConfigs) are registered on the edge's route table when this module is imported.
Deleting a function, or the alias a URL belongs to, deletes the URL (a registry listener).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from .._ids import request_id
from ..errors import (
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from ..service._registry import _ALIAS_RE, _check_int, _constraint, _page
from ._gateway import (
    FrontDoor,
    HttpRequest,
    ProxyResponseError,
    Response,
    random_id,
    v2_event,
    v2_response,
)
from ._lambda import LambdaRestApi, _Request, _route

__all__ = ["AUTH_TYPES", "INVOKE_MODES", "FunctionUrls"]

log = logging.getLogger(__name__)

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
#: The pattern AWS names when it refuses a function URL's qualifier.
_QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_SIGV4_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]+)/\d{8}/[a-z0-9-]+/(?P<service>[a-z0-9-]+)"
    r"/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$"
)
_NOT_FOUND = "The resource you requested does not exist."
#: CORS headers Lambda owns when a URL has a Cors configuration.
_CORS_HEADERS = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-max-age",
        "access-control-allow-credentials",
    }
)


def _url_time() -> str:
    """Function URL timestamps: ISO 8601 with microseconds, ``2021-12-06T20:01:34.134409Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- validation ------------------------------------------------------------------------------
def _check_enum(value: object, member: str, allowed: tuple[str, ...]) -> str:
    if value is None:
        raise _constraint("null", member, "Member must not be null")
    if value not in allowed:
        raise _constraint(
            value, member, f"Member must satisfy enum value set: [{', '.join(sorted(allowed))}]"
        )
    return str(value)


def _check_strings(
    value: object, member: str, *, max_items: int, max_length: int, min_length: int = 0
) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _constraint(value, member, "Member must be a list of strings")
    if len(value) > max_items:
        raise _constraint(
            value, member, f"Member must have length less than or equal to {max_items}"
        )
    for item in value:
        if not min_length <= len(item) <= max_length:
            raise _constraint(
                value,
                member,
                "Member must satisfy constraint: [Member must have length less than or equal "
                f"to {max_length}, Member must have length greater than or equal to "
                f"{min_length}]",
            )
    return list(value)


def _check_cors(cors: object) -> dict[str, Any] | None:
    """The ``Cors`` structure, as the model constrains it (lists copied, unknown keys dropped)."""
    if cors is None:
        return None
    if not isinstance(cors, dict):
        raise _constraint(cors, "cors", "Member must be a structure")
    out: dict[str, Any] = {}
    if cors.get("AllowCredentials") is not None:
        if not isinstance(cors["AllowCredentials"], bool):
            raise _constraint(
                cors["AllowCredentials"], "cors.allowCredentials", "Member must be a boolean"
            )
        out["AllowCredentials"] = cors["AllowCredentials"]
    for key, member, max_items, max_length, min_length in (
        ("AllowHeaders", "cors.allowHeaders", 100, 1024, 0),
        ("AllowMethods", "cors.allowMethods", 6, 6, 0),
        ("AllowOrigins", "cors.allowOrigins", 100, 253, 1),
        ("ExposeHeaders", "cors.exposeHeaders", 100, 1024, 0),
    ):
        if cors.get(key) is not None:
            out[key] = _check_strings(
                cors[key],
                member,
                max_items=max_items,
                max_length=max_length,
                min_length=min_length,
            )
    if cors.get("MaxAge") is not None:
        out["MaxAge"] = _check_int(cors["MaxAge"], "cors.maxAge", 0, 86400)
    return out


def _origin_allowed(cors: Mapping[str, Any], origin: str) -> bool:
    return any(
        allowed == "*" or fnmatch.fnmatchcase(origin.lower(), allowed.lower())
        for allowed in cors.get("AllowOrigins", [])
    )


def _allow_origin(cors: Mapping[str, Any], origin: str) -> str:
    if "*" in cors.get("AllowOrigins", []) and not cors.get("AllowCredentials"):
        return "*"
    return origin


# -- one URL ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _UrlConfig:
    function_name: str
    qualifier: str | None
    function_arn: str
    url: str
    url_id: str
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str
    created: str
    modified: str

    def shape(self, *, modified: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FunctionUrl": self.url,
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
        }
        if self.cors is not None:
            out["Cors"] = json.loads(json.dumps(self.cors))
        out["CreationTime"] = self.created
        if modified:
            out["LastModifiedTime"] = self.modified
        out["InvokeMode"] = self.invoke_mode
        return out


class _UrlEndpoint(FrontDoor):
    """The HTTP endpoint of one function URL; reads its configuration on every request, so
    an UpdateFunctionUrlConfig applies at once."""

    def __init__(self, service: Any, config: _UrlConfig, *, host: str) -> None:
        super().__init__(service, host=host, port=0)
        self.config = config

    def integration_failure(self) -> Response:
        return 502, [("Content-Type", "application/json")], b"Internal Server Error"

    def too_large(self) -> Response:
        return _lambda_error(413, "RequestTooLargeException", "Request Entity Too Large")

    def _identity(self, request: HttpRequest) -> dict[str, Any] | None:
        """The IAM caller of a SigV4-shaped request (signature not checked), or None."""
        key = None
        auth = request.header("authorization")
        if auth:
            match = _SIGV4_RE.match(auth.strip())
            if match and match["service"] == "lambda":
                key = match["key"]
        elif "X-Amz-Signature=" in request.raw_query:
            query = parse_qs(request.raw_query)
            scope = (query.get("X-Amz-Credential") or [""])[0].split("/")
            if (
                query.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]
                and len(scope) == 5
                and scope[3] == "lambda"
            ):
                key = scope[0]
        if not key:
            return None
        account = self.service.account_id
        return {
            "iam": {
                "accessKey": key,
                "accountId": account,
                "callerId": account,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{account}:root",
                "userId": account,
            }
        }

    def handle(self, request: HttpRequest) -> Response:
        config = self.config
        cors = config.cors
        origin = request.header("origin")
        if (
            cors is not None
            and request.method == "OPTIONS"
            and origin
            and request.header("access-control-request-method")
        ):
            return self._preflight(cors, origin, request)
        authorizer = None
        if config.auth_type == "AWS_IAM":
            authorizer = self._identity(request)
            if authorizer is None:
                return _lambda_error(403, "AccessDeniedException", "Forbidden")
        event = v2_event(
            request,
            route_key="$default",
            stage="$default",
            path_params=None,
            stage_variables=None,
            api_id=config.url_id,
            account_id=self.service.account_id,
            domain_name=f"{config.url_id}.lambda-url.{self.service.region}.on.aws",
            request_id_=request_id(),
            authorizer=authorizer,
        )
        try:
            result = self.invoke(config.function_name, event, config.qualifier)
        except LambdaError as exc:
            return _lambda_error(exc.status, exc.code, exc.message)
        own = [("x-amzn-RequestId", result.request_id)]
        if result.function_error:
            status, headers, body = self.integration_failure()
            return status, headers + own, body
        try:
            status, headers, body = v2_response(result.payload)
        except ProxyResponseError as exc:
            log.error("function URL %s: malformed response (%s)", config.url, exc)
            status, headers, body = self.integration_failure()
            return status, headers + own, body
        if cors is not None and origin and _origin_allowed(cors, origin):
            headers = [(k, v) for k, v in headers if k.lower() not in _CORS_HEADERS]
            headers.append(("Access-Control-Allow-Origin", _allow_origin(cors, origin)))
            if cors.get("ExposeHeaders"):
                headers.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
            if cors.get("AllowCredentials"):
                headers.append(("Access-Control-Allow-Credentials", "true"))
            headers.append(("Vary", "Origin"))
        return status, headers + own, body

    @staticmethod
    def _preflight(cors: Mapping[str, Any], origin: str, request: HttpRequest) -> Response:
        """Lambda's own answer to a preflight: 200, CORS headers only if the origin and
        method are allowed (a browser reads their absence as a refusal)."""
        headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id())]
        method = (request.header("access-control-request-method") or "").upper()
        methods = [m.upper() for m in cors.get("AllowMethods", [])]
        if _origin_allowed(cors, origin) and ("*" in methods or method in methods):
            headers.append(("Access-Control-Allow-Origin", _allow_origin(cors, origin)))
            headers.append(("Access-Control-Allow-Methods", ",".join(methods)))
            if cors.get("AllowHeaders"):
                headers.append(
                    ("Access-Control-Allow-Headers", ",".join(cors["AllowHeaders"]).lower())
                )
            if cors.get("AllowCredentials"):
                headers.append(("Access-Control-Allow-Credentials", "true"))
            if cors.get("MaxAge") is not None:
                headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
            headers.append(("Vary", "Origin"))
        return 200, headers, b""


def _lambda_error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"Message": message}).encode()
    return (
        status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)],
        body,
    )


# -- the manager -----------------------------------------------------------------------------
class FunctionUrls:
    """Every function URL of one :class:`LambdaService`: configurations and endpoints.

    Methods are named after the Lambda API operations and return their response shapes;
    ``close()`` stops every endpoint. Attach it as ``service.function_urls`` for the edge to
    answer the function URL operations.
    """

    def __init__(self, service: Any, *, host: str = "127.0.0.1") -> None:
        self.service = service
        self.host = host
        self._lock = threading.Lock()
        self._endpoints: dict[tuple[str, str | None], _UrlEndpoint] = {}
        self._closed = False
        self._unsubscribe = service.registry.on_change(self._on_registry_change)

    # -- targets --------------------------------------------------------------------------------
    def _target(self, function_name: str, qualifier: str | None) -> tuple[str, str | None]:
        """(function name, alias or None); versions are refused as AWS refuses them."""
        if qualifier is not None and (
            not isinstance(qualifier, str) or not _ALIAS_RE.match(qualifier)
        ):
            raise _constraint(
                qualifier,
                "qualifier",
                f"Member must satisfy regular expression pattern: {_QUALIFIER_PATTERN}",
            )
        target = self.service.registry.resolve(function_name, qualifier)
        if target.alias is None and target.version != "$LATEST":
            raise _constraint(
                target.version,
                "qualifier",
                f"Member must satisfy regular expression pattern: {_QUALIFIER_PATTERN}",
            )
        return target.function_name, target.alias

    def _endpoint(self, key: tuple[str, str | None]) -> _UrlEndpoint:
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            raise ResourceNotFoundException(_NOT_FOUND)
        return endpoint

    # -- the API --------------------------------------------------------------------------------
    def create_function_url_config(
        self,
        function_name: str,
        auth_type: str,
        *,
        qualifier: str | None = None,
        cors: Mapping[str, Any] | None = None,
        invoke_mode: str | None = None,
    ) -> dict[str, Any]:
        """CreateFunctionUrlConfig: a new URL, served from now on."""
        auth = _check_enum(auth_type, "authType", AUTH_TYPES)
        mode = (
            "BUFFERED"
            if invoke_mode is None
            else _check_enum(invoke_mode, "invokeMode", INVOKE_MODES)
        )
        checked_cors = _check_cors(cors)
        name, alias = self._target(function_name, qualifier)
        arn = self.service.registry.function_arn(name, alias)
        with self._lock:
            if self._closed:
                raise ResourceConflictException("The function URL service is closed.")
            if (name, alias) in self._endpoints:
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            now = _url_time()
            url_id = random_id(32)
            placeholder = _UrlConfig(
                name, alias, arn, "", url_id, auth, checked_cors, mode, now, now
            )
            endpoint = _UrlEndpoint(self.service, placeholder, host=self.host).start()
            config = replace(placeholder, url=f"{endpoint.base_url}/")
            endpoint.config = config
            self._endpoints[(name, alias)] = endpoint
        return config.shape(modified=False)

    def get_function_url_config(
        self, function_name: str, qualifier: str | None = None
    ) -> dict[str, Any]:
        """GetFunctionUrlConfig."""
        key = self._target(function_name, qualifier)
        with self._lock:
            return self._endpoint(key).config.shape()

    def update_function_url_config(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        auth_type: str | None = None,
        cors: Mapping[str, Any] | None = None,
        invoke_mode: str | None = None,
    ) -> dict[str, Any]:
        """UpdateFunctionUrlConfig: members given replace the stored ones (Cors as a whole)."""
        changes: dict[str, Any] = {}
        if auth_type is not None:
            changes["auth_type"] = _check_enum(auth_type, "authType", AUTH_TYPES)
        if invoke_mode is not None:
            changes["invoke_mode"] = _check_enum(invoke_mode, "invokeMode", INVOKE_MODES)
        if cors is not None:
            changes["cors"] = _check_cors(cors)
        key = self._target(function_name, qualifier)
        with self._lock:
            endpoint = self._endpoint(key)
            endpoint.config = replace(endpoint.config, modified=_url_time(), **changes)
            return endpoint.config.shape()

    def delete_function_url_config(self, function_name: str, qualifier: str | None = None) -> None:
        """DeleteFunctionUrlConfig: the URL stops answering."""
        key = self._target(function_name, qualifier)
        with self._lock:
            endpoint = self._endpoint(key)
            del self._endpoints[key]
        endpoint.close()

    def list_function_url_configs(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> dict[str, Any]:
        """ListFunctionUrlConfigs: the function's URLs (unqualified first, then by alias)."""
        name = self.service.registry.resolve(function_name).function_name
        with self._lock:
            items = sorted(
                ((alias or "",), endpoint.config.shape())
                for (fn, alias), endpoint in self._endpoints.items()
                if fn == name
            )
        page, following = _page(items, marker, max_items, limit=50)
        out: dict[str, Any] = {"FunctionUrlConfigs": page}
        if following:
            out["NextMarker"] = following
        return out

    # -- lifecycle ------------------------------------------------------------------------------
    def _on_registry_change(self, event: str, function_name: str, qualifier: str | None) -> None:
        """A deleted function takes its URLs with it; a deleted alias, its URL."""
        if event == "DeleteFunction" and qualifier is None:
            with self._lock:
                keys = [k for k in self._endpoints if k[0] == function_name]
                gone = [self._endpoints.pop(k) for k in keys]
        elif event == "DeleteAlias":
            with self._lock:
                endpoint = self._endpoints.pop((function_name, qualifier), None)
                gone = [] if endpoint is None else [endpoint]
        else:
            return
        for endpoint in gone:
            endpoint.close()

    def close(self) -> None:
        """Stop every endpoint; the configurations are forgotten."""
        self._unsubscribe()
        with self._lock:
            self._closed = True
            gone = list(self._endpoints.values())
            self._endpoints.clear()
        for endpoint in gone:
            endpoint.close()

    def __repr__(self) -> str:
        return f"<FunctionUrls {len(self._endpoints)} url(s)>"


# -- the Lambda API operations ---------------------------------------------------------------
def _manager(api: LambdaRestApi, req: _Request) -> FunctionUrls:
    """The service's FunctionUrls; without one every URL is unknown."""
    urls = api.service.function_urls
    if urls is None:
        api.registry.resolve(req.params[0])  # an unknown function is reported as such
        raise ResourceNotFoundException(_NOT_FOUND)
    return urls


@_route("POST", "functions/*/url", "CreateFunctionUrlConfig", 201)
def create_function_url_config(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    body = req.json()
    return _manager(api, req).create_function_url_config(
        req.params[0],
        body.get("AuthType"),
        qualifier=req.query("Qualifier"),
        cors=body.get("Cors"),
        invoke_mode=body.get("InvokeMode"),
    )


@_route("GET", "functions/*/url", "GetFunctionUrlConfig")
def get_function_url_config(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    return _manager(api, req).get_function_url_config(req.params[0], req.query("Qualifier"))


@_route("PUT", "functions/*/url", "UpdateFunctionUrlConfig")
def update_function_url_config(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    body = req.json()
    return _manager(api, req).update_function_url_config(
        req.params[0],
        qualifier=req.query("Qualifier"),
        auth_type=body.get("AuthType"),
        cors=body.get("Cors"),
        invoke_mode=body.get("InvokeMode"),
    )


@_route("DELETE", "functions/*/url", "DeleteFunctionUrlConfig", 204)
def delete_function_url_config(api: LambdaRestApi, req: _Request) -> None:
    _manager(api, req).delete_function_url_config(req.params[0], req.query("Qualifier"))


@_route("GET", "functions/*/urls", "ListFunctionUrlConfigs")
def list_function_url_configs(api: LambdaRestApi, req: _Request) -> dict[str, Any]:
    return _manager(api, req).list_function_url_configs(
        req.params[0], req.query("Marker"), req.query_int("MaxItems", "maxItems")
    )
