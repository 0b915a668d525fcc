"""API Gateway front doors (REST and HTTP APIs) and function URLs, over real HTTP.

One LambdaRuntime for the module, with a FunctionUrls manager attached. Requests go through
``http.client`` (so duplicate headers and raw paths reach the server as written); the
function URL configuration API is driven by boto3.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from kernel_runtime.api import FunctionUrls, HttpApi, RestApi
from kernel_runtime.runtime import LambdaRuntime

ACCOUNT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
CLF_TIME = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")

ECHO = """\
import json


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(event),
    }
"""

#: Returns whatever JSON document the request's body holds: the test picks the response.
RESPOND = """\
import json


def handler(event, context):
    return json.loads(event["body"])
"""

MIRROR = """\
def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": headers.get("content-type", "text/plain")},
        "body": event.get("body") or "",
        "isBase64Encoded": event["isBase64Encoded"],
    }
"""

FAILS = 'def handler(event, context):\n    raise ValueError("boom")\n'


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab() -> Iterator[LambdaRuntime]:
    with LambdaRuntime() as runtime:
        if runtime.service.function_urls is None:  # the runtime may attach its own
            runtime.service.function_urls = FunctionUrls(runtime.service)
        runtime.create_function("echo", "app.handler", ECHO)
        runtime.create_function("respond", "app.handler", RESPOND)
        runtime.create_function("mirror", "app.handler", MIRROR)
        runtime.create_function("fails", "app.handler", FAILS)
        runtime.create_function("blocked", "app.handler", ECHO).set_reserved_concurrency(0)
        yield runtime


@pytest.fixture(scope="module")
def lam(lab: LambdaRuntime) -> Any:
    return lab.client("lambda")


@pytest.fixture(scope="module")
def rest(lab: LambdaRuntime) -> Iterator[RestApi]:
    routes = {
        "GET /items/{id}": "echo",
        "ANY /{proxy+}": "echo",
        "POST /respond": "respond",
        "POST /mirror": "mirror",
        "GET /fails": "fails",
        "GET /blocked": "blocked",
    }
    with RestApi(lab.service, routes, stage_variables={"env": "test"}) as api:
        yield api


@pytest.fixture(scope="module")
def httpapi(lab: LambdaRuntime) -> Iterator[HttpApi]:
    routes = {
        "GET /items/special": "echo",
        "GET /items/{id}": "echo",
        "ANY /items/{id}": "echo",
        "GET /items/{proxy+}": "echo",
        "ANY /{proxy+}": "echo",
        "$default": "echo",
        "POST /respond": "respond",
        "POST /mirror": "mirror",
        "GET /fails": "fails",
        "GET /blocked": "blocked",
    }
    with HttpApi(lab.service, routes) as api:
        yield api


def call(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request, written exactly as given (duplicate headers, raw path)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def respond(url: str, response: Any) -> tuple[int, http.client.HTTPMessage, bytes]:
    """POST a response document for the ``respond`` function to return."""
    body = json.dumps(response).encode()
    return call("POST", url, body=body, headers=[("Content-Type", "application/json")])


def event_of(url: str, method: str = "GET", **kwargs: Any) -> dict[str, Any]:
    status, _, data = call(method, url, **kwargs)
    assert status == 200, data
    return json.loads(data)


# -- routing -----------------------------------------------------------------------------------
def test_http_api_routes_most_specific_first(httpapi: HttpApi) -> None:
    cases = [
        ("GET", "/items/special", "GET /items/special", None),
        ("GET", "/items/7", "GET /items/{id}", {"id": "7"}),
        ("POST", "/items/7", "ANY /items/{id}", {"id": "7"}),
        ("GET", "/items/a/b", "GET /items/{proxy+}", {"proxy": "a/b"}),
        ("DELETE", "/x/y", "ANY /{proxy+}", {"proxy": "x/y"}),
        ("GET", "/", "$default", None),
    ]
    for method, path, route_key, params in cases:
        event = event_of(httpapi.url + path, method)
        assert event["routeKey"] == route_key, path
        assert event["requestContext"]["routeKey"] == route_key
        assert event.get("pathParameters") == params, path


def test_http_api_without_default_route_is_404(lab: LambdaRuntime) -> None:
    with HttpApi(lab.service, {"GET /only": "echo"}) as api:
        status, headers, body = call("GET", api.url + "/other")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})
        assert headers["apigw-requestid"]
        assert call("POST", api.url + "/only")[0] == 404  # the method is part of the route


def test_rest_api_resources_stage_and_missing_token(rest: RestApi) -> None:
    assert rest.url.endswith("/prod")
    event = event_of(rest.url + "/items/a%20b")
    assert (event["resource"], event["pathParameters"]) == ("/items/{id}", {"id": "a b"})
    event = event_of(rest.url + "/other/x")
    assert (event["resource"], event["pathParameters"]) == ("/{proxy+}", {"proxy": "other/x"})
    # the most specific resource is picked first; it has no POST, so no fallback to /{proxy+}
    status, headers, body = call("POST", rest.url + "/items/1", body=b"")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    # no resource at the root; another stage is not deployed
    assert call("GET", rest.url)[0] == 403
    status, _, body = call("GET", rest.base_url + "/beta/items/1")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_route_keys_are_checked(lab: LambdaRuntime) -> None:
    bad: list[tuple[type, dict[str, str]]] = [
        (RestApi, {"$default": "echo"}),
        (RestApi, {"GET /items/{id}": "echo", "PUT /items/{key}": "echo"}),
        (HttpApi, {"FETCH /x": "echo"}),
        (HttpApi, {"GET x": "echo"}),
        (HttpApi, {"GET /{proxy+}/tail": "echo"}),
        (HttpApi, {"GET /a{b": "echo"}),
        (HttpApi, {}),
    ]
    for cls, routes in bad:
        with pytest.raises(ValueError):
            cls(lab.service, routes)
    with pytest.raises(ValueError, match="payloadFormatVersion"):
        HttpApi(lab.service, {"$default": "echo"}, payload_format_version="3.0")


# -- events ------------------------------------------------------------------------------------
def test_rest_event_fields(rest: RestApi) -> None:
    before = int(time.time() * 1000)
    status, headers, data = call(
        "GET",
        rest.url + "/items/42?x=1&x=2&empty=",
        headers=[
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("User-Agent", "gateway-test/1.0"),
            ("X-Forwarded-For", "10.0.0.1"),
        ],
    )
    assert status == 200
    event = json.loads(data)
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/items/42"
    assert event["headers"]["X-Multi"] == "b"  # the last value
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["headers"]["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    assert event["headers"]["X-Forwarded-Port"] == str(rest.port)
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["queryStringParameters"] == {"x": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "empty": [""]}
    assert event["stageVariables"] == {"env": "test"}
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    ctx = event["requestContext"]
    assert ctx["requestId"] == headers["x-amzn-RequestId"]
    assert ctx["extendedRequestId"] == headers["x-amz-apigw-id"]
    assert CLF_TIME.match(ctx["requestTime"])
    assert before <= ctx["requestTimeEpoch"] <= int(time.time() * 1000)
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "gateway-test/1.0"
    assert (ctx["accountId"], ctx["apiId"], ctx["stage"]) == (ACCOUNT, rest.api_id, "prod")
    assert ctx["domainName"] == f"{rest.api_id}.execute-api.us-east-1.amazonaws.com"
    assert (ctx["path"], ctx["resourcePath"]) == ("/prod/items/42", "/items/{id}")
    assert ctx["protocol"] == "HTTP/1.1"
    # nothing in the query or path: null, as AWS sends it
    event = event_of(rest.url + "/other")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_http_v2_event_fields(httpapi: HttpApi) -> None:
    status, headers, data = call(
        "POST",
        httpapi.url + "/items/9?x=1&x=2&y=z%20w",
        body=b'{"k": "v"}',
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Cookie", "c1=1; c2=2"),
            ("User-Agent", "gateway-test/2.0"),
        ],
    )
    assert status == 200
    event = json.loads(data)
    assert (event["version"], event["routeKey"]) == ("2.0", "ANY /items/{id}")
    assert (event["rawPath"], event["rawQueryString"]) == ("/items/9", "x=1&x=2&y=z%20w")
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "a,b"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "z w"}
    assert event["pathParameters"] == {"id": "9"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": "v"}', False)
    assert "stageVariables" not in event
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/items/9",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "gateway-test/2.0",
    }
    assert ctx["requestId"] == headers["apigw-requestid"]
    assert (ctx["stage"], ctx["apiId"], ctx["domainPrefix"]) == (
        "$default",
        httpapi.api_id,
        httpapi.api_id,
    )
    assert CLF_TIME.match(ctx["time"]) and isinstance(ctx["timeEpoch"], int)
    # a request without body, query or cookies leaves those members out
    event = event_of(httpapi.url + "/items/9")
    assert not {"body", "cookies", "queryStringParameters"} & set(event)


def test_http_api_payload_1_0_and_named_stage(lab: LambdaRuntime) -> None:
    routes = {"GET /items/{id}": "echo"}
    with HttpApi(lab.service, routes, payload_format_version="1.0", stage="dev") as api:
        event = event_of(api.url + "/items/3?q=1", headers=[("X-Case", "Kept")])
        assert event["version"] == "1.0"
        assert (event["resource"], event["path"]) == ("/items/{id}", "/dev/items/3")
        assert event["headers"]["x-case"] == "Kept"  # HTTP APIs lower-case header names
        assert event["multiValueQueryStringParameters"] == {"q": ["1"]}
        assert event["requestContext"]["resourceId"] == "GET /items/{id}"
        assert call("GET", api.base_url + "/items/3")[0] == 404  # outside the stage


def test_binary_and_text_bodies_round_trip(rest: RestApi, httpapi: HttpApi) -> None:
    blob = bytes(range(256)) * 4
    for url in (rest.url + "/mirror", httpapi.url + "/mirror"):
        status, headers, data = call(
            "POST", url, body=blob, headers=[("Content-Type", "application/octet-stream")]
        )
        assert (status, data) == (200, blob)
        assert headers["Content-Type"] == "application/octet-stream"
        text = "héllo".encode()
        status, _, data = call("POST", url, body=text, headers=[("Content-Type", "text/plain")])
        assert (status, data) == (200, text)
    event = event_of(
        httpapi.url + "/items/1",
        "PUT",
        body=b"\x00\xff",
        headers=[("Content-Type", "image/png")],
    )
    assert (event["body"], event["isBase64Encoded"]) == (
        base64.b64encode(b"\x00\xff").decode(),
        True,
    )


# -- responses ---------------------------------------------------------------------------------
def test_rest_response_merges_headers_and_multi_value_headers(rest: RestApi) -> None:
    status, headers, body = respond(
        rest.url + "/respond",
        {
            "statusCode": 201,
            "headers": {"X-One": "1", "Set-Cookie": "h=1", "Content-Length": "999"},
            "multiValueHeaders": {"Set-Cookie": ["m=1", "m=2"], "X-Many": ["a", "b"]},
            "body": "created",
            "isBase64Encoded": False,
        },
    )
    assert (status, body) == (201, b"created")
    assert headers["X-One"] == "1"
    assert headers.get_all("Set-Cookie") == ["h=1", "m=1", "m=2"]
    assert headers.get_all("X-Many") == ["a", "b"]
    assert headers["Content-Type"] == "application/json"  # REST's default
    assert headers["Content-Length"] == "7"
    assert headers["x-amzn-Remapped-Content-Length"] == "999"


def test_http_v2_response_cookies_and_shortcut(httpapi: HttpApi) -> None:
    status, headers, body = respond(
        httpapi.url + "/respond",
        {
            "statusCode": 202,
            "headers": {"x-a": "1"},
            "cookies": ["c1=1; Path=/", "c2=2"],
            "body": base64.b64encode(b"\x01\x02").decode(),
            "isBase64Encoded": True,
            "unknown": "ignored by HTTP APIs",
        },
    )
    assert (status, body) == (202, b"\x01\x02")
    assert headers.get_all("Set-Cookie") == ["c1=1; Path=/", "c2=2"]
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    # valid JSON without statusCode: a 200 application/json answer, the value as returned
    for value in ({"message": "hi"}, [1, 2], "hello", 7):
        status, headers, body = respond(httpapi.url + "/respond", value)
        assert (status, json.loads(body)) == (200, value)
        assert headers["Content-Type"] == "application/json"
    assert respond(httpapi.url + "/respond", "hello")[2] == b'"hello"'


def test_malformed_responses_and_function_errors(
    rest: RestApi, httpapi: HttpApi, caplog: pytest.LogCaptureFixture
) -> None:
    internal = {"message": "Internal server error"}
    malformed = [
        {"body": "no status"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": "200", "body": "a string status"},
        {"statusCode": 200, "body": "x", "extra": True},  # REST allows only its five keys
        ["not", "an", "object"],
    ]
    with caplog.at_level(logging.ERROR, logger="kernel_runtime.api._gateway"):
        for response in malformed:
            status, headers, body = respond(rest.url + "/respond", response)
            assert (status, json.loads(body)) == (502, internal), response
            assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert "Malformed Lambda proxy response" in caplog.text
    status, _, body = call("GET", rest.url + "/fails")
    assert (status, json.loads(body)) == (502, internal)
    # HTTP APIs answer 500 for all of these
    http_internal = (500, {"message": "Internal Server Error"})
    status, _, body = respond(httpapi.url + "/respond", {"statusCode": "abc"})
    assert (status, json.loads(body)) == http_internal
    status, _, body = call("GET", httpapi.url + "/fails")
    assert (status, json.loads(body)) == http_internal


def test_throttled_invoke_is_an_internal_error(rest: RestApi, httpapi: HttpApi) -> None:
    status, _, body = call("GET", rest.url + "/blocked")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})
    status, _, body = call("GET", httpapi.url + "/blocked")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


# -- function URLs: the configuration API --------------------------------------------------------
def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_function_url_lifecycle(lab: LambdaRuntime, lam: Any) -> None:
    lab.create_function("url-life", "app.handler", ECHO)
    created = lam.create_function_url_config(FunctionName="url-life", AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", created["FunctionUrl"])
    assert created["FunctionArn"] == f"{ARN}:url-life"
    assert (created["AuthType"], created["InvokeMode"]) == ("NONE", "BUFFERED")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created["CreationTime"])
    assert "LastModifiedTime" not in created and "Cors" not in created
    assert event_of(created["FunctionUrl"] + "x")["rawPath"] == "/x"

    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName="url-life", AuthType="NONE")
    assert _code(exc) == "ResourceConflictException"
    assert "FunctionUrlConfig exists for this Lambda function" in str(exc.value)

    got = lam.get_function_url_config(FunctionName="url-life")
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["LastModifiedTime"] >= got["CreationTime"]

    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 60}
    updated = lam.update_function_url_config(
        FunctionName="url-life", AuthType="AWS_IAM", Cors=cors, InvokeMode="RESPONSE_STREAM"
    )
    assert (updated["AuthType"], updated["Cors"], updated["InvokeMode"]) == (
        "AWS_IAM",
        cors,
        "RESPONSE_STREAM",
    )
    assert updated["LastModifiedTime"] > got["LastModifiedTime"]
    assert call("GET", created["FunctionUrl"])[0] == 403  # the new AuthType applies at once

    listed = lam.list_function_url_configs(FunctionName="url-life")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]

    deleted = lam.delete_function_url_config(FunctionName="url-life")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName="url-life")
    assert _code(exc) == "ResourceNotFoundException"
    with pytest.raises(OSError):
        call("GET", created["FunctionUrl"])
    assert lam.list_function_url_configs(FunctionName="url-life")["FunctionUrlConfigs"] == []


def test_function_url_errors(lab: LambdaRuntime, lam: Any) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"FunctionName": "no-such-fn", "AuthType": "NONE"}, "ResourceNotFoundException", ""),
        ({"FunctionName": "echo", "AuthType": "OPEN"}, "InvalidParameterValueException", "enum"),
        (
            {"FunctionName": "echo", "AuthType": "NONE", "Qualifier": "1"},
            "InvalidParameterValueException",
            "qualifier",
        ),
        (
            {"FunctionName": "echo", "AuthType": "NONE", "Qualifier": "nope"},
            "ResourceNotFoundException",
            "",
        ),
        (
            {"FunctionName": "echo", "AuthType": "NONE", "InvokeMode": "STREAM"},
            "InvalidParameterValueException",
            "invokeMode",
        ),
        (
            {"FunctionName": "echo", "AuthType": "NONE", "Cors": {"MaxAge": 90000}},
            "InvalidParameterValueException",
            "cors.maxAge",
        ),
        (
            {"FunctionName": "echo", "AuthType": "NONE", "Cors": {"AllowMethods": ["OPTIONAL"]}},
            "InvalidParameterValueException",
            "cors.allowMethods",
        ),
    ]
    for kwargs, code, text in cases:
        with pytest.raises(ClientError) as exc:
            lam.create_function_url_config(**kwargs)
        assert _code(exc) == code, kwargs
        assert text in str(exc.value), kwargs
    for call_ in (lam.get_function_url_config, lam.delete_function_url_config):
        with pytest.raises(ClientError) as exc:
            call_(FunctionName="respond")  # a function without a URL
        assert _code(exc) == "ResourceNotFoundException"
        assert "The resource you requested does not exist." in str(exc.value)
    with pytest.raises(ClientError) as exc:
        lam.list_function_url_configs(FunctionName="echo", MaxItems=51)
    assert _code(exc) == "InvalidParameterValueException"
    # without a manager on the service, the operations know no URL
    urls, lab.service.function_urls = lab.service.function_urls, None
    try:
        with pytest.raises(ClientError) as exc:
            lam.get_function_url_config(FunctionName="respond")
        assert _code(exc) == "ResourceNotFoundException"
    finally:
        lab.service.function_urls = urls


def test_alias_urls_and_deletes_follow_the_registry(lab: LambdaRuntime, lam: Any) -> None:
    fn = lab.create_function("url-alias", "app.handler", ECHO)
    fn.alias("live", fn.publish())
    plain = lam.create_function_url_config(FunctionName="url-alias", AuthType="NONE")
    live = lam.create_function_url_config(
        FunctionName="url-alias", Qualifier="live", AuthType="NONE"
    )
    assert live["FunctionArn"] == f"{ARN}:url-alias:live"
    assert live["FunctionUrl"] != plain["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName="url-alias", MaxItems=1)
    assert [c["FunctionArn"] for c in listed["FunctionUrlConfigs"]] == [f"{ARN}:url-alias"]
    rest = lam.list_function_url_configs(FunctionName="url-alias", Marker=listed["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionUrlConfigs"]] == [live["FunctionArn"]]
    assert event_of(live["FunctionUrl"])["requestContext"]["routeKey"] == "$default"

    lam.delete_alias(FunctionName="url-alias", Name="live")
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName="url-alias", Qualifier="live")
    assert _code(exc) == "ResourceNotFoundException"
    with pytest.raises(OSError):
        call("GET", live["FunctionUrl"])

    lam.delete_function(FunctionName="url-alias")
    with pytest.raises(OSError):
        call("GET", plain["FunctionUrl"])
    fn = lab.create_function("url-alias", "app.handler", ECHO)  # the name is free again
    assert lam.list_function_url_configs(FunctionName="url-alias")["FunctionUrlConfigs"] == []


# -- function URLs: serving --------------------------------------------------------------------
@pytest.fixture(scope="module")
def echo_url(lam: Any) -> str:
    cors = {
        "AllowOrigins": ["https://app.example.com"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["X-Custom"],
        "ExposeHeaders": ["X-Result"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    out = lam.create_function_url_config(FunctionName="echo", AuthType="NONE", Cors=cors)
    return str(out["FunctionUrl"])


def test_function_url_event(echo_url: str) -> None:
    status, headers, data = call("GET", echo_url + "a/b%20c?x=1&x=2")
    assert status == 200
    event = json.loads(data)
    assert (event["routeKey"], event["rawPath"]) == ("$default", "/a/b%20c")
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert "pathParameters" not in event and "stageVariables" not in event
    ctx = event["requestContext"]
    assert re.fullmatch(r"[a-z0-9]{32}", ctx["apiId"])
    assert ctx["domainName"] == f"{ctx['apiId']}.lambda-url.us-east-1.on.aws"
    assert (ctx["domainPrefix"], ctx["stage"]) == (ctx["apiId"], "$default")
    assert "authorizer" not in ctx
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-amzn-RequestId"])


def test_function_url_cors(echo_url: str) -> None:
    origin = ("Origin", "https://app.example.com")
    status, headers, body = call(
        "OPTIONS",
        echo_url + "anything",
        headers=[
            origin,
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-custom"),
        ],
    )
    assert (status, body) == (200, b"")  # answered by Lambda, not by the function
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert headers["Access-Control-Allow-Headers"] == "x-custom"
    assert headers["Access-Control-Max-Age"] == "300"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    # an origin or a method not allowed: no CORS headers, which a browser reads as a refusal
    for hdrs in (
        [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")],
        [origin, ("Access-Control-Request-Method", "DELETE")],
    ):
        status, headers, _ = call("OPTIONS", echo_url, headers=hdrs)
        assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = call("GET", echo_url, headers=[origin])
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Expose-Headers"] == "X-Result"
    # an OPTIONS that is not a preflight reaches the function
    assert event_of(echo_url, "OPTIONS")["requestContext"]["http"]["method"] == "OPTIONS"


def test_function_url_errors_and_iam(lab: LambdaRuntime, lam: Any) -> None:
    lab.create_function("url-iam", "app.handler", ECHO)
    urls = {}
    for name, auth in (("fails", "NONE"), ("blocked", "NONE"), ("url-iam", "AWS_IAM")):
        urls[name] = lam.create_function_url_config(FunctionName=name, AuthType=auth)
    status, _, body = call("GET", urls["fails"]["FunctionUrl"])
    assert (status, body) == (502, b"Internal Server Error")
    status, headers, body = call("GET", urls["blocked"]["FunctionUrl"])
    assert status == 429 and headers["x-amzn-ErrorType"] == "TooManyRequestsException"

    iam_url = urls["url-iam"]["FunctionUrl"]
    status, _, body = call("GET", iam_url)
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
    status, _, _ = call("GET", iam_url, headers=[("Authorization", "Bearer token")])
    assert status == 403
    request = AWSRequest(method="POST", url=iam_url, data=b"signed", headers={})
    SigV4Auth(Credentials("AKIDLAB", "secret"), "lambda", "us-east-1").add_auth(request)
    signed = [*request.headers.items(), ("Content-Type", "text/plain")]
    event = event_of(iam_url, "POST", body=b"signed", headers=signed)
    assert event["body"] == "signed"
    iam = event["requestContext"]["authorizer"]["iam"]
    assert (iam["accessKey"], iam["accountId"]) == ("AKIDLAB", ACCOUNT)
    wrong = AWSRequest(method="GET", url=iam_url, headers={})
    SigV4Auth(Credentials("AKIDLAB", "secret"), "s3", "us-east-1").add_auth(wrong)
    assert call("GET", iam_url, headers=list(wrong.headers.items()))[0] == 403
