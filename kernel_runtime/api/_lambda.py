"""The AWS Lambda REST API over a :class:`~kernel_runtime.service._service.LambdaService`.

Routes follow botocore's service model (``lambda/2015-03-31/service-2.json``): the same
methods, paths, query parameters, headers, JSON members and success codes, so boto3, the AWS
CLI and SAM talk to it unchanged. The dated prefix (``/2015-03-31/``, ``/2017-10-31/``,
``/2019-09-25/`` ...) is accepted whatever its date: older SDKs use other dates for the same
operation, and the rest of the path already names it.

A plain WSGI callable working on ``environ`` directly (no request objects, no framework): the
Invoke path is the hot one, and every microsecond here is added to each boto3 round trip.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

from .._ids import request_id
from ..errors import (
    InvalidParameterValueException,
    LambdaError,
    RequestTooLargeException,
)
from ..service._registry import Code
from ._errors import ApiError, Response, error_response

__all__ = ["ASYNC_PAYLOAD_LIMIT", "SYNC_PAYLOAD_LIMIT", "LambdaRestApi", "is_lambda_path"]

log = logging.getLogger(__name__)

#: Invoke request limits: 6 MB synchronous, 1 MB asynchronous (since October 2025).
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
#: CreateFunction/UpdateFunctionCode/PublishLayerVersion: a 50 MB zip, base64 in JSON.
CODE_REQUEST_LIMIT = 69905067
#: Every other operation (AWS documents no number; generous, to stop runaway bodies).
OTHER_REQUEST_LIMIT = 1024 * 1024

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Lambda's paths all start with an API date; unsigned S3 requests to a bucket named like a
#: date are the price (signed ones are routed by their credential scope).
_LAMBDA_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}(/|$)")
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
_JSON = "application/json"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def is_lambda_path(path: str) -> bool:
    """Whether an (unsigned) request's path belongs to the Lambda API."""
    return _LAMBDA_PATH.match(path) is not None


# -- requests --------------------------------------------------------------------------------
class _Request:
    """The parts of a WSGI request the operations read, parsed on demand."""

    __slots__ = ("_query", "environ", "operation", "params")

    def __init__(self, environ: dict[str, Any], params: list[str], operation: str) -> None:
        self.environ = environ
        self.params = params
        self.operation = operation
        self._query: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    def query(self, name: str) -> str | None:
        if self._query is None:
            raw = self.environ.get("QUERY_STRING", "")
            self._query = {}
            for key, value in parse_qsl(raw, keep_blank_values=True):
                self._query.setdefault(key, value)
        return self._query.get(name)

    def query_int(self, name: str, member: str) -> int | None:
        value = self.query(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise _validation(value, member, "Member must be an integer") from None

    def body(self, limit: int = OTHER_REQUEST_LIMIT) -> bytes:
        """The request body; over ``limit`` is a 413 (the server drains what is unread)."""
        environ = self.environ
        stream = environ["wsgi.input"]
        length_text = environ.get("CONTENT_LENGTH")
        if length_text:
            try:
                length = int(length_text)
            except ValueError:
                raise ApiError(
                    "InvalidRequestContentException", 400, "Invalid Content-Length"
                ) from None
            if length > limit:
                raise self._too_large(limit)
            return stream.read(length) if length > 0 else b""
        if environ.get("wsgi.input_terminated"):  # chunked: read up to the limit
            data = stream.read(limit + 1)
            if len(data) > limit:
                raise self._too_large(limit)
            return bytes(data)
        return b""

    def _too_large(self, limit: int) -> RequestTooLargeException:
        operation = "InvokeFunction" if self.operation == "Invoke" else self.operation
        return RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the {operation} operation"
        )

    def json(self, limit: int = OTHER_REQUEST_LIMIT) -> dict[str, Any]:
        data = self.body(limit)
        if not data.strip():
            return {}
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise ApiError(
                "InvalidRequestContentException",
                400,
                f"Could not parse request body into json: {exc}",
            ) from None
        if not isinstance(value, dict):
            raise ApiError(
                "InvalidRequestContentException",
                400,
                "Could not parse request body into json: expected a JSON object",
            )
        return value


def _validation(value: object, member: str, constraint: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _required(body: dict[str, Any], key: str, member: str) -> Any:
    """A member the model marks required (boto3 checks it; curl and hand-written calls may not)."""
    value = body.get(key)
    if value is None:
        raise _validation("null", member, "Member must not be null")
    return value


def _blob(value: object, member: str) -> bytes:
    """A JSON blob member: base64 text."""
    if not isinstance(value, str):
        raise _validation(value, member, "Member must be a base64-encoded blob")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            "InvalidRequestContentException",
            400,
            f"Could not parse request body into json: {member} is not valid base64",
        ) from None


def _s3_object(account_id: str, bucket: str, key: str, version: str | None) -> bytes:
    """A deployment package stored in the embedded S3 (moto), read in process."""
    try:
        from moto.s3.models import s3_backends

        obj = s3_backends[account_id]["aws"].get_object(bucket, key, version_id=version)
        if obj is None:
            raise KeyError(key)
        return bytes(obj.value)
    except Exception as exc:  # moto's MissingBucket, MissingKey ... all mean "cannot read it"
        code = type(exc).__name__
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: "
            f"Could not read s3://{bucket}/{key}"
        ) from None


def _json_response(
    status: int, value: dict[str, Any] | None, rid: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    if value is None or status == 204:
        return status, [("x-amzn-RequestId", rid)], b""
    data = json.dumps(value, separators=(",", ":")).encode()
    return (
        status,
        [("Content-Type", _JSON), ("Content-Length", str(len(data))), ("x-amzn-RequestId", rid)],
        data,
    )


# -- routes ----------------------------------------------------------------------------------
Handler = Callable[["LambdaRestApi", _Request], Any]
_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, int, Handler]] = {}


def _shape(segments: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Routes alternate literal and parameter segments: functions/{F}/aliases/{Name}."""
    return tuple(s if i % 2 == 0 else "*" for i, s in enumerate(segments))


def _route(method: str, path: str, operation: str, status: int = 200) -> Callable[[Handler], Any]:
    def register(fn: Handler) -> Handler:
        _ROUTES[(method, _shape(path.split("/")))] = (operation, status, fn)
        return fn

    return register


class LambdaRestApi:
    """WSGI app answering the Lambda API for one :class:`LambdaService`."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.registry = service.registry

    # -- WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        rid = request_id()
        try:
            status, headers, body = self._dispatch(environ, rid)
        except (LambdaError, ApiError) as exc:
            status, headers, body = error_response(exc, rid)
        except Exception as exc:  # a bug here must still answer in AWS's shape
            log.exception("Lambda API request failed: %s %s", environ.get("REQUEST_METHOD"), rid)
            status, headers, body = error_response(
                ApiError("ServiceException", 500, f"{type(exc).__name__}: {exc}"), rid
            )
        start_response(_STATUS_LINES.get(status) or f"{status} Status", headers)
        return [body]

    def _dispatch(self, environ: dict[str, Any], rid: str) -> Response:
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        path = raw.split("?", 1)[0]
        if "://" in path:  # an absolute-form request line
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        segments = path.strip("/").split("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if len(segments) < 2 or not _DATE.match(segments[0]):
            raise self._unknown(method, path)
        segments = [unquote(s) for s in segments[1:]]
        entry = _ROUTES.get((method, _shape(segments)))
        if entry is None:
            raise self._unknown(method, path)
        operation, status, handler = entry
        request = _Request(environ, segments[1::2], operation)
        result = handler(self, request)
        if isinstance(result, tuple):
            return result
        return _json_response(status, result, rid)

    @staticmethod
    def _unknown(method: str, path: str) -> ApiError:
        return ApiError("UnknownOperationException", 404, f"Unknown operation: {method} {path}")

    # -- helpers ------------------------------------------------------------------------------
    def _code(self, code: object, member: str = "code") -> Code:
        """``Code``/``Content`` of a request: ZipFile (base64) or an object in the embedded S3."""
        if not isinstance(code, dict):
            raise _validation("null" if code is None else code, member, "Member must not be null")
        if code.get("ZipFile") is not None:
            return Code.from_zip(_blob(code["ZipFile"], f"{member}.zipFile"))
        if code.get("S3Bucket") and code.get("S3Key"):
            return Code.from_zip(
                _s3_object(
                    self.service.account_id,
                    code["S3Bucket"],
                    code["S3Key"],
                    code.get("S3ObjectVersion"),
                )
            )
        if code.get("ImageUri"):
            raise InvalidParameterValueException(
                "Container images are not supported locally: use a .zip file archive."
            )
        raise InvalidParameterValueException("Please provide a source for function code.")

    # -- functions ----------------------------------------------------------------------------
    @_route("POST", "functions", "CreateFunction", 201)
    def create_function(self, req: _Request) -> dict[str, Any]:
        body = req.json(CODE_REQUEST_LIMIT)
        if body.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException(
                "Container images are not supported locally: use PackageType Zip."
            )
        name = _required(body, "FunctionName", "functionName")
        runtime = body.get("Runtime")
        handler = body.get("Handler")
        if handler is None and isinstance(runtime, str) and runtime.startswith("provided"):
            handler = "bootstrap"  # custom runtimes need no handler; the bootstrap reads it
        code = self._code(body.get("Code"))
        return self.registry.create_function(
            name,
            handler,
            code,
            role=body.get("Role"),
            runtime=runtime,
            memory_size=body.get("MemorySize", 128),
            timeout=body.get("Timeout", 3),
            ephemeral_storage=body.get("EphemeralStorage", 512),
            environment=body.get("Environment"),
            layers=body.get("Layers"),
            description=body.get("Description", ""),
            publish=bool(body.get("Publish", False)),
            logging_config=body.get("LoggingConfig"),
            architectures=body.get("Architectures"),
            tracing_config=body.get("TracingConfig"),
            dead_letter_config=body.get("DeadLetterConfig"),
            tags=body.get("Tags"),
        )

    @_route("GET", "functions", "ListFunctions")
    def list_functions(self, req: _Request) -> dict[str, Any]:
        return self.registry.list_functions(
            function_version=req.query("FunctionVersion"),
            marker=req.query("Marker"),
            max_items=req.query_int("MaxItems", "maxItems"),
        )

    @_route("GET", "functions/*", "GetFunction")
    def get_function(self, req: _Request) -> dict[str, Any]:
        return self.registry.get_function(req.params[0], req.query("Qualifier"))

    @_route("DELETE", "functions/*", "DeleteFunction", 204)
    def delete_function(self, req: _Request) -> None:
        self.registry.delete_function(req.params[0], req.query("Qualifier"))

    @_route("GET", "functions/*/configuration", "GetFunctionConfiguration")
    def get_function_configuration(self, req: _Request) -> dict[str, Any]:
        return self.registry.get_function_configuration(req.params[0], req.query("Qualifier"))

    @_route("PUT", "functions/*/configuration", "UpdateFunctionConfiguration")
    def update_function_configuration(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return self.registry.update_function_configuration(
            req.params[0],
            role=body.get("Role"),
            handler=body.get("Handler"),
            description=body.get("Description"),
            timeout=body.get("Timeout"),
            memory_size=body.get("MemorySize"),
            environment=body.get("Environment"),
            runtime=body.get("Runtime"),
            layers=body.get("Layers"),
            ephemeral_storage=body.get("EphemeralStorage"),
            logging_config=body.get("LoggingConfig"),
            tracing_config=body.get("TracingConfig"),
            dead_letter_config=body.get("DeadLetterConfig"),
            revision_id=body.get("RevisionId"),
        )

    @_route("PUT", "functions/*/code", "UpdateFunctionCode")
    def update_function_code(self, req: _Request) -> dict[str, Any]:
        body = req.json(CODE_REQUEST_LIMIT)
        code = self._code(body, "code")
        if body.get("DryRun"):
            return self.registry.get_function_configuration(req.params[0])
        return self.registry.update_function_code(
            req.params[0],
            code,
            publish=bool(body.get("Publish", False)),
            revision_id=body.get("RevisionId"),
            architectures=body.get("Architectures"),
        )

    # -- invoke -------------------------------------------------------------------------------
    @_route("POST", "functions/*/invocations", "Invoke")
    def invoke(self, req: _Request) -> Response:
        environ = req.environ
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse"
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        payload = req.body(limit)
        result = self.service.invoke(
            req.params[0],
            payload,
            qualifier=req.query("Qualifier") if environ.get("QUERY_STRING") else None,
            invocation_type=invocation_type,
            log_type=environ.get("HTTP_X_AMZ_LOG_TYPE") or "None",
            client_context=environ.get("HTTP_X_AMZ_CLIENT_CONTEXT"),
            trace_header=environ.get("HTTP_X_AMZN_TRACE_ID"),  # botocore sends _X_AMZN_TRACE_ID
        )
        headers = [
            ("Content-Type", _JSON),
            ("x-amzn-RequestId", result.request_id),
            ("X-Amz-Executed-Version", result.executed_version),
        ]
        if result.status_code != 204:
            headers.append(("Content-Length", str(len(result.payload))))
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        if result.log_result is not None:
            headers.append(("X-Amz-Log-Result", result.log_result))
        return result.status_code, headers, result.payload

    # -- versions and aliases -----------------------------------------------------------------
    @_route("POST", "functions/*/versions", "PublishVersion", 201)
    def publish_version(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return self.registry.publish_version(
            req.params[0],
            description=body.get("Description"),
            code_sha256=body.get("CodeSha256"),
            revision_id=body.get("RevisionId"),
        )

    @_route("GET", "functions/*/versions", "ListVersionsByFunction")
    def list_versions_by_function(self, req: _Request) -> dict[str, Any]:
        return self.registry.list_versions_by_function(
            req.params[0], req.query("Marker"), req.query_int("MaxItems", "maxItems")
        )

    @_route("POST", "functions/*/aliases", "CreateAlias", 201)
    def create_alias(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return self.registry.create_alias(
            req.params[0],
            _required(body, "Name", "name"),
            _required(body, "FunctionVersion", "functionVersion"),
            description=body.get("Description", ""),
            routing_config=body.get("RoutingConfig"),
        )

    @_route("GET", "functions/*/aliases", "ListAliases")
    def list_aliases(self, req: _Request) -> dict[str, Any]:
        return self.registry.list_aliases(
            req.params[0],
            function_version=req.query("FunctionVersion"),
            marker=req.query("Marker"),
            max_items=req.query_int("MaxItems", "maxItems"),
        )

    @_route("GET", "functions/*/aliases/*", "GetAlias")
    def get_alias(self, req: _Request) -> dict[str, Any]:
        return self.registry.get_alias(req.params[0], req.params[1])

    @_route("PUT", "functions/*/aliases/*", "UpdateAlias")
    def update_alias(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return self.registry.update_alias(
            req.params[0],
            req.params[1],
            function_version=body.get("FunctionVersion"),
            description=body.get("Description"),
            routing_config=body.get("RoutingConfig"),
            revision_id=body.get("RevisionId"),
        )

    @_route("DELETE", "functions/*/aliases/*", "DeleteAlias", 204)
    def delete_alias(self, req: _Request) -> None:
        self.registry.delete_alias(req.params[0], req.params[1])

    # -- concurrency --------------------------------------------------------------------------
    @_route("PUT", "functions/*/concurrency", "PutFunctionConcurrency")
    def put_function_concurrency(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        reserved = _required(body, "ReservedConcurrentExecutions", "reservedConcurrentExecutions")
        return self.service.put_function_concurrency(req.params[0], reserved)

    @_route("GET", "functions/*/concurrency", "GetFunctionConcurrency")
    def get_function_concurrency(self, req: _Request) -> dict[str, Any]:
        return self.service.get_function_concurrency(req.params[0])

    @_route("DELETE", "functions/*/concurrency", "DeleteFunctionConcurrency", 204)
    def delete_function_concurrency(self, req: _Request) -> None:
        self.service.delete_function_concurrency(req.params[0])

    @_route("PUT", "functions/*/provisioned-concurrency", "PutProvisionedConcurrencyConfig", 202)
    def put_provisioned_concurrency_config(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return self.service.put_provisioned_concurrency_config(
            req.params[0],
            self._qualifier(req),
            _required(body, "ProvisionedConcurrentExecutions", "provisionedConcurrentExecutions"),
        )

    @_route("GET", "functions/*/provisioned-concurrency", "GetProvisionedConcurrencyConfig")
    def get_provisioned_concurrency_config(self, req: _Request) -> dict[str, Any]:
        if req.query("List") == "ALL":
            return self.registry.list_provisioned_concurrency_configs(
                req.params[0], req.query("Marker"), req.query_int("MaxItems", "maxItems")
            )
        return self.service.get_provisioned_concurrency_config(req.params[0], self._qualifier(req))

    @_route(
        "DELETE", "functions/*/provisioned-concurrency", "DeleteProvisionedConcurrencyConfig", 204
    )
    def delete_provisioned_concurrency_config(self, req: _Request) -> None:
        self.service.delete_provisioned_concurrency_config(req.params[0], self._qualifier(req))

    @staticmethod
    def _qualifier(req: _Request) -> str:
        qualifier = req.query("Qualifier")
        if qualifier is None:
            raise _validation("null", "qualifier", "Member must not be null")
        return qualifier

    # -- asynchronous invocation settings -----------------------------------------------------
    def _event_invoke_args(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return {
            "maximum_retry_attempts": body.get("MaximumRetryAttempts"),
            "maximum_event_age_in_seconds": body.get("MaximumEventAgeInSeconds"),
            "destination_config": body.get("DestinationConfig"),
        }

    @_route("PUT", "functions/*/event-invoke-config", "PutFunctionEventInvokeConfig")
    def put_function_event_invoke_config(self, req: _Request) -> dict[str, Any]:
        return self.registry.put_function_event_invoke_config(
            req.params[0], req.query("Qualifier"), **self._event_invoke_args(req)
        )

    @_route("POST", "functions/*/event-invoke-config", "UpdateFunctionEventInvokeConfig")
    def update_function_event_invoke_config(self, req: _Request) -> dict[str, Any]:
        return self.registry.update_function_event_invoke_config(
            req.params[0], req.query("Qualifier"), **self._event_invoke_args(req)
        )

    @_route("GET", "functions/*/event-invoke-config", "GetFunctionEventInvokeConfig")
    def get_function_event_invoke_config(self, req: _Request) -> dict[str, Any]:
        return self.registry.get_function_event_invoke_config(req.params[0], req.query("Qualifier"))

    @_route("DELETE", "functions/*/event-invoke-config", "DeleteFunctionEventInvokeConfig", 204)
    def delete_function_event_invoke_config(self, req: _Request) -> None:
        self.registry.delete_function_event_invoke_config(req.params[0], req.query("Qualifier"))

    @_route("GET", "functions/*/event-invoke-config/*", "ListFunctionEventInvokeConfigs")
    def list_function_event_invoke_configs(self, req: _Request) -> dict[str, Any]:
        if req.params[1] != "list":
            raise self._unknown("GET", f"event-invoke-config/{req.params[1]}")
        return self.registry.list_function_event_invoke_configs(
            req.params[0], req.query("Marker"), req.query_int("MaxItems", "maxItems")
        )

    # -- layers -------------------------------------------------------------------------------
    @_route("POST", "layers/*/versions", "PublishLayerVersion", 201)
    def publish_layer_version(self, req: _Request) -> dict[str, Any]:
        body = req.json(CODE_REQUEST_LIMIT)
        return self.registry.publish_layer_version(
            req.params[0],
            self._code(body.get("Content"), "content"),
            description=body.get("Description", ""),
            compatible_runtimes=body.get("CompatibleRuntimes"),
            license_info=body.get("LicenseInfo"),
            compatible_architectures=body.get("CompatibleArchitectures"),
        )

    @_route("GET", "layers", "ListLayers")
    def list_layers(self, req: _Request) -> dict[str, Any]:
        if req.query("find") == "LayerVersion":  # GetLayerVersionByArn shares the path
            arn = req.query("Arn")
            if arn is None:
                raise _validation("null", "arn", "Member must not be null")
            return self.registry.get_layer_version_by_arn(arn)
        return self.registry.list_layers(
            compatible_runtime=req.query("CompatibleRuntime"),
            marker=req.query("Marker"),
            max_items=req.query_int("MaxItems", "maxItems"),
            compatible_architecture=req.query("CompatibleArchitecture"),
        )

    @_route("GET", "layers/*/versions", "ListLayerVersions")
    def list_layer_versions(self, req: _Request) -> dict[str, Any]:
        return self.registry.list_layer_versions(
            req.params[0],
            compatible_runtime=req.query("CompatibleRuntime"),
            marker=req.query("Marker"),
            max_items=req.query_int("MaxItems", "maxItems"),
            compatible_architecture=req.query("CompatibleArchitecture"),
        )

    @staticmethod
    def _version_number(req: _Request) -> int:
        try:
            return int(req.params[1])
        except ValueError:
            raise _validation(req.params[1], "versionNumber", "Member must be a long") from None

    @_route("GET", "layers/*/versions/*", "GetLayerVersion")
    def get_layer_version(self, req: _Request) -> dict[str, Any]:
        return self.registry.get_layer_version(req.params[0], self._version_number(req))

    @_route("DELETE", "layers/*/versions/*", "DeleteLayerVersion", 204)
    def delete_layer_version(self, req: _Request) -> None:
        self.registry.delete_layer_version(req.params[0], self._version_number(req))

    # -- account and permissions --------------------------------------------------------------
    @_route("GET", "account-settings", "GetAccountSettings")
    def get_account_settings(self, req: _Request) -> dict[str, Any]:
        return self.service.get_account_settings()

    @_route("POST", "functions/*/policy", "AddPermission", 201)
    def add_permission(self, req: _Request) -> dict[str, Any]:
        body = req.json()
        return self.registry.add_permission(
            req.params[0],
            _required(body, "StatementId", "statementId"),
            _required(body, "Action", "action"),
            _required(body, "Principal", "principal"),
            source_arn=body.get("SourceArn"),
            source_account=body.get("SourceAccount"),
            event_source_token=body.get("EventSourceToken"),
            qualifier=req.query("Qualifier"),
            revision_id=body.get("RevisionId"),
            principal_org_id=body.get("PrincipalOrgID"),
            function_url_auth_type=body.get("FunctionUrlAuthType"),
        )

    @_route("DELETE", "functions/*/policy/*", "RemovePermission", 204)
    def remove_permission(self, req: _Request) -> None:
        self.registry.remove_permission(
            req.params[0],
            req.params[1],
            qualifier=req.query("Qualifier"),
            revision_id=req.query("RevisionId"),
        )

    @_route("GET", "functions/*/policy", "GetPolicy")
    def get_policy(self, req: _Request) -> dict[str, Any]:
        return self.registry.get_policy(req.params[0], req.query("Qualifier"))


# Operations defined in their own modules register their routes on import.
from . import _lambda_mappings, _lambda_urls  # noqa: E402,F401

#: Every operation the edge serves (for docs and tests).
OPERATIONS = frozenset(op for op, _, _ in _ROUTES.values()) | {
    "GetLayerVersionByArn",
    "ListProvisionedConcurrencyConfigs",
}
