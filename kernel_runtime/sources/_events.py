"""Event builders: the exact JSON that each AWS event source hands to a Lambda function.

A handler written against these events must run unchanged on AWS, so every shape follows the
sample events of the AWS documentation (reference/lambda-facts.md §10): the same keys, nulls
where AWS sends null, absent keys where AWS leaves them out, and values in each service's own
formats (``09/Apr/2015:12:34:56 +0000`` for API Gateway, epoch milliseconds as strings for SQS,
epoch seconds as a float for Kinesis, ISO 8601 with milliseconds for S3 and SNS ...). Ids,
ARNs, hashes and sizes are consistent with each other and with ``region`` and ``account_id``.

Two levels:

* record builders (:func:`s3_record`, :func:`sqs_record`, :func:`sns_record`,
  :func:`kinesis_record`, :func:`dynamodb_record`) take *every* field as an optional keyword, so
  the push sources and pollers can build records from real service data;
* event builders (:func:`s3_event`, :func:`sqs_event`, :func:`api_gateway_rest_event` ...)
  take what a learner cares about and fill in the rest.

Every builder is deterministic given ``now=`` (a datetime; naive means UTC) and ``seed=`` (an
int, a str or a :class:`random.Random` shared between calls); otherwise it uses the current
time and fresh random ids. :data:`EVENT_SOURCES` describes each source's learner-facing fields
for forms; :func:`build_event` builds one by id.
"""

from __future__ import annotations

import base64
import copy
import functools
import gzip
import hashlib
import json
import math
import random
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import parse_qsl, quote_plus, urlencode

from .._ids import log_stream_name
from ..errors import InvalidParameterValueException

__all__ = [
    "EVENT_SOURCES",
    "EventField",
    "EventSource",
    "InvalidEventError",
    "alb_event",
    "api_gateway_http_event",
    "api_gateway_rest_event",
    "build_event",
    "cloudwatch_logs_event",
    "custom_event",
    "dynamodb_event",
    "dynamodb_record",
    "encode_s3_key",
    "eventbridge_event",
    "from_dynamodb_json",
    "function_url_event",
    "kinesis_event",
    "kinesis_record",
    "s3_event",
    "s3_record",
    "scheduled_event",
    "sns_event",
    "sns_record",
    "sqs_event",
    "sqs_record",
    "to_dynamodb_json",
]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"

Seed = int | str | random.Random | None
Headers = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]] | None
Query = str | Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]] | None


class InvalidEventError(InvalidParameterValueException, ValueError):
    """A builder was given something no AWS service would send. It is a ``ValueError`` for
    plain Python callers and an ``InvalidParameterValueException`` (400) for the edge."""


# ---------------------------------------------------------------- ids, clocks, formats

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _rng(seed: Seed) -> random.Random:
    """One generator per build: a caller's ``Random`` is shared so several builds stay
    distinct yet reproducible; ``None`` seeds from the OS (fresh ids every call)."""
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def _epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _iso_ms(t: datetime) -> str:
    """``2019-09-03T19:37:27.192Z``: S3, SNS."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _iso_s(t: datetime) -> str:
    """``2015-10-08T16:53:06Z``: EventBridge."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clf(t: datetime) -> str:
    """``09/Apr/2015:12:34:56 +0000``: API Gateway. Months by hand: ``%b`` follows the locale."""
    return f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t.strftime('%H:%M:%S')} +0000"


def _uuid(rng: random.Random) -> str:
    x = f"{rng.getrandbits(128):032x}"
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{'89ab'[int(x[16], 16) & 3]}{x[17:20]}-{x[20:]}"


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64_random(rng: random.Random, nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


def _trace_root(rng: random.Random, t: datetime) -> str:
    """The ``X-Amzn-Trace-Id`` a load balancer or API Gateway adds: ``Root=1-<epoch>-<24 hex>``."""
    return f"Root=1-{int(t.timestamp()):08x}-{_hex(rng, 24)}"


def _short_request_id(rng: random.Random) -> str:
    """HTTP API request ids and REST ``extendedRequestId``: 11 bytes base64, e.g.
    ``JKJaXmPLvHcESHA=``."""
    return _b64_random(rng, 11).replace("+", "A").replace("/", "B")


def _iam_user_id(rng: random.Random) -> str:
    """An IAM user's unique id (``AIDA`` + 17), as SQS SenderId and S3 principalId show it."""
    return "AIDA" + _chars(rng, _UPPER_ALNUM, 17)


def _json_text(value: Any, what: str) -> str:
    """Message bodies and payloads: a str is kept; anything else is sent as its JSON text."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(f"{what} is not JSON-serialisable: {exc}") from None


def _to_bytes(value: bytes | bytearray | str | Any, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return _json_text(value, what).encode()


# ---------------------------------------------------------------- HTTP front doors


def _method(method: str) -> str:
    m = method.upper()
    if m not in _HTTP_METHODS:
        raise InvalidEventError(
            f"Invalid HTTP method {method!r}: must be one of {', '.join(_HTTP_METHODS)}"
        )
    return m


def _path(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidEventError(f"Invalid path {path!r}: a request path starts with '/'")
    return path


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """Headers (or query parameters) as (name, value) pairs in order; a list value stands
    for a repeated name."""
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, (list, tuple)):
            pairs.extend((str(name), str(v)) for v in value)
        else:
            pairs.append((str(name), str(value)))
    return pairs


def _merge_headers(
    defaults: Sequence[tuple[str, str]], given: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The caller's headers replace the defaults of the same name (names are case-blind)."""
    mine = {n.lower() for n, _ in given}
    return [p for p in defaults if p[0].lower() not in mine] + list(given)


def _query_pairs(query: Query) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """(decoded pairs, pairs as sent on the wire, raw query string). A str is taken as sent
    by the client (``a=1&a=2&q=hello%20world``); a mapping as values a client would encode
    (``quote_plus``, as ``requests`` and ``urlencode`` do)."""
    if not query:
        return [], [], ""
    if isinstance(query, str):
        raw = query.removeprefix("?")
        wire = [(k, v) for k, _, v in (part.partition("=") for part in raw.split("&") if part)]
        return parse_qsl(raw, keep_blank_values=True), wire, raw
    decoded = _header_pairs(query)  # the same flattening: a list value is a repeated key
    wire = [(quote_plus(k), quote_plus(v)) for k, v in decoded]
    return decoded, wire, urlencode(decoded)


def _last_value(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Single-value maps of REST APIs and ALB: the last of repeated values wins."""
    return dict(pairs)


def _multi_value(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def _comma_joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """HTTP API (payload 2.0): repeated headers and query parameters are joined with commas."""
    return {k: ",".join(vs) for k, vs in _multi_value(pairs).items()}


def _http_body(body: Any) -> tuple[str | None, bool, str | None]:
    """(body as sent, isBase64Encoded, implied content type). bytes are binary and travel
    base64-encoded; a dict or list is sent as JSON; "" and None mean no body."""
    if body is None or body == "" or body == b"":
        return None, False, None
    if isinstance(body, (bytes, bytearray)):
        return base64.b64encode(body).decode(), True, "application/octet-stream"
    if isinstance(body, str):
        return body, False, None
    return _json_text(body, "body"), False, "application/json"


def _body_length(body: str | None, is_b64: bool) -> int:
    if body is None:
        return 0
    return len(base64.b64decode(body)) if is_b64 else len(body.encode())


def _match_template(template: str, path: str) -> dict[str, str] | None:
    """Path parameters of ``path`` under a resource/route template (``/items/{id}``,
    ``/files/{proxy+}``); ``None`` when it does not match."""
    t_parts, p_parts = template.strip("/").split("/"), path.strip("/").split("/")
    params: dict[str, str] = {}
    for i, t in enumerate(t_parts):
        if t.startswith("{") and t.endswith("+}"):
            rest = "/".join(p_parts[i:])
            if not rest:
                return None
            params[t[1:-2]] = rest
            return params
        if i >= len(p_parts):
            return None
        if t.startswith("{") and t.endswith("}"):
            if not p_parts[i]:
                return None
            params[t[1:-1]] = p_parts[i]
        elif t != p_parts[i]:
            return None
    return params if len(p_parts) == len(t_parts) else None


def _path_parameters(
    template: str | None, path: str, given: Mapping[str, str] | None
) -> dict[str, str] | None:
    if given is not None:
        return dict(given) or None
    if template is None:
        return None
    params = _match_template(template, path)
    if params is None:
        raise InvalidEventError(f"Path {path!r} does not match the resource template {template!r}")
    return params or None


def api_gateway_rest_event(
    *,
    method: str = "GET",
    path: str = "/",
    resource: str | None = None,
    headers: Headers = None,
    query: Query = None,
    path_parameters: Mapping[str, str] | None = None,
    body: Any = None,
    stage: str = "prod",
    stage_variables: Mapping[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) lambda-lab",
    api_id: str | None = None,
    request_id: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (payload format 1.0).

    ``resource`` is the template (``/items/{id}``; default: ``path`` itself) and
    ``pathParameters`` come from matching it against ``path``. Single-value maps keep the
    last of repeated values; ``multiValue*`` keep all; query maps are ``null`` when empty.
    """
    rng, t = _rng(seed), _utc(now)
    method, path = _method(method), _path(path)
    api_id = api_id or _chars(rng, _LOWER_ALNUM, 10)
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    text, is_b64, content_type = _http_body(body)
    defaults = [
        ("Accept", "*/*"),
        ("Host", domain),
        ("User-Agent", user_agent),
        ("X-Amzn-Trace-Id", _trace_root(rng, t)),
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    if content_type:
        defaults.append(("Content-Type", content_type))
    header_pairs = _merge_headers(defaults, _header_pairs(headers))
    decoded, _, _ = _query_pairs(query)
    resource = resource or path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": _last_value(header_pairs),
        "multiValueHeaders": _multi_value(header_pairs),
        "queryStringParameters": _last_value(decoded) or None,
        "multiValueQueryStringParameters": _multi_value(decoded) or None,
        "pathParameters": _path_parameters(resource, path, path_parameters),
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "resourceId": _chars(rng, _LOWER_ALNUM, 6),
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": _short_request_id(rng),
            "requestTime": _clf(t),
            "path": f"/{stage}{path}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": api_id,
            "requestTimeEpoch": _epoch_ms(t),
            "requestId": request_id or _uuid(rng),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": domain,
            "apiId": api_id,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def _http_v2_event(
    *,
    rng: random.Random,
    t: datetime,
    method: str,
    path: str,
    route_key: str,
    path_parameters: dict[str, str] | None,
    headers: Headers,
    query: Query,
    cookies: Sequence[str] | None,
    body: Any,
    stage: str,
    source_ip: str,
    user_agent: str,
    domain: str,
    domain_prefix: str,
    api_id: str,
    account_id: str,
    request_id: str,
    extra_headers: Sequence[tuple[str, str]] = (),
    authorizer: dict[str, Any] | None = None,
    with_null_keys: bool = False,
) -> dict[str, Any]:
    """Payload format 2.0, shared by HTTP APIs and Function URLs: lower-case headers with
    repeats comma-joined, cookies taken out of the Cookie header, keys left out when empty."""
    text, is_b64, content_type = _http_body(body)
    defaults = [
        ("accept", "*/*"),
        ("host", domain),
        ("user-agent", user_agent),
        *extra_headers,
        ("x-amzn-trace-id", _trace_root(rng, t)),
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ]
    if text is not None:
        defaults.append(("content-length", str(_body_length(text, is_b64))))
    if content_type:
        defaults.append(("content-type", content_type))
    pairs = [(n.lower(), v) for n, v in _merge_headers(defaults, _header_pairs(headers))]
    all_cookies = list(cookies or ())
    for name, value in pairs:
        if name == "cookie":
            all_cookies.extend(c.strip() for c in value.split(";") if c.strip())
    pairs = [p for p in pairs if p[0] != "cookie"]
    decoded, _, raw_query = _query_pairs(query)
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if all_cookies:
        event["cookies"] = all_cookies
    event["headers"] = _comma_joined(pairs)
    if decoded:
        event["queryStringParameters"] = _comma_joined(decoded)
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain_prefix,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": user_agent,
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": _clf(t),
        "timeEpoch": _epoch_ms(t),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    if text is not None:
        event["body"] = text
    if path_parameters:
        event["pathParameters"] = path_parameters
    elif with_null_keys:
        event["pathParameters"] = None
    event["isBase64Encoded"] = is_b64
    if with_null_keys:
        event["stageVariables"] = None
    return event


def api_gateway_http_event(
    *,
    method: str = "GET",
    path: str = "/",
    route: str | None = None,
    headers: Headers = None,
    query: Query = None,
    cookies: Sequence[str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    body: Any = None,
    stage: str = "$default",
    stage_variables: Mapping[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) lambda-lab",
    api_id: str | None = None,
    request_id: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload format 2.0).

    ``route`` is the route's path template (``/items/{id}``, routeKey ``GET /items/{id}``);
    without it the ``$default`` route is used and there are no path parameters.
    """
    rng, t = _rng(seed), _utc(now)
    method, path = _method(method), _path(path)
    if route is None:
        route_key = "$default"
        params = dict(path_parameters) if path_parameters else None
    else:
        # "GET /items/{id}" or "ANY /items/{id}" as written; a bare template takes the method
        route_key = route if " " in route else f"{method} {route}"
        params = _path_parameters(route_key.split(" ", 1)[1], path, path_parameters)
    api_id = api_id or _chars(rng, _LOWER_ALNUM, 10)
    generated_id = _short_request_id(rng)
    event = _http_v2_event(
        rng=rng,
        t=t,
        method=method,
        path=path,
        route_key=route_key,
        path_parameters=params,
        headers=headers,
        query=query,
        cookies=cookies,
        body=body,
        stage=stage,
        source_ip=source_ip,
        user_agent=user_agent,
        domain=f"{api_id}.execute-api.{region}.amazonaws.com",
        domain_prefix=api_id,
        api_id=api_id,
        account_id=account_id,
        request_id=request_id or generated_id,
    )
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def function_url_event(
    *,
    method: str = "GET",
    path: str = "/",
    headers: Headers = None,
    query: Query = None,
    cookies: Sequence[str] | None = None,
    body: Any = None,
    auth_type: Literal["NONE", "AWS_IAM"] = "NONE",
    url_id: str | None = None,
    source_ip: str = "203.0.113.10",
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) lambda-lab",
    request_id: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """A Lambda Function URL event: payload 2.0 with routeKey and stage ``$default``, the
    URL id as apiId and domain prefix. With ``AuthType`` ``NONE`` the caller is
    ``anonymous``; with ``AWS_IAM`` the signing identity appears under ``authorizer.iam``."""
    if auth_type not in ("NONE", "AWS_IAM"):
        raise InvalidEventError(
            f"Invalid AuthType {auth_type!r}: Function URLs support NONE and AWS_IAM"
        )
    rng, t = _rng(seed), _utc(now)
    method, path = _method(method), _path(path)
    url_id = url_id or _chars(rng, _LOWER_ALNUM, 32)
    authorizer = None
    if auth_type == "AWS_IAM":
        user_id = "AIDA" + _chars(rng, _UPPER_ALNUM, 17)
        authorizer = {
            "iam": {
                "accessKey": "AKIA" + _chars(rng, _UPPER_ALNUM, 16),
                "accountId": account_id,
                "callerId": user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{account_id}:user/learner",
                "userId": user_id,
            }
        }
    return _http_v2_event(
        rng=rng,
        t=t,
        method=method,
        path=path,
        route_key="$default",
        path_parameters=None,
        headers=headers,
        query=query,
        cookies=cookies,
        body=body,
        stage="$default",
        source_ip=source_ip,
        user_agent=user_agent,
        domain=f"{url_id}.lambda-url.{region}.on.aws",
        domain_prefix=url_id,
        api_id=url_id,
        account_id=account_id if auth_type == "AWS_IAM" else "anonymous",
        request_id=request_id or _uuid(rng),
        extra_headers=[
            ("x-amzn-tls-cipher-suite", "TLS_AES_128_GCM_SHA256"),
            ("x-amzn-tls-version", "TLSv1.3"),
        ],
        authorizer=authorizer,
        with_null_keys=True,
    )


def alb_event(
    *,
    method: str = "GET",
    path: str = "/",
    headers: Headers = None,
    query: Query = None,
    body: Any = None,
    multi_value_headers: bool = False,
    target_group_name: str = "lambda-lab-tg",
    target_group_arn: str | None = None,
    load_balancer_name: str = "lambda-lab-alb",
    source_ip: str = "203.0.113.10",
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) lambda-lab",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An Application Load Balancer event. Header names are lower-case; query parameters are
    passed *as sent* (ALB does not URL-decode them); ``body`` is ``""`` when there is none.
    With ``multi_value_headers`` (the target group attribute) the event carries
    ``multiValueHeaders``/``multiValueQueryStringParameters`` instead of the single-value
    maps, which otherwise keep the last of repeated values."""
    rng, t = _rng(seed), _utc(now)
    method, path = _method(method), _path(path)
    if target_group_arn is None:
        target_group_arn = (
            f"arn:aws:elasticloadbalancing:{region}:{account_id}:targetgroup/"
            f"{target_group_name}/{_hex(rng, 16)}"
        )
    text, is_b64, content_type = _http_body(body)
    defaults = [
        ("accept", "*/*"),
        ("host", f"{load_balancer_name}-{rng.randrange(10**9, 10**10)}.{region}.elb.amazonaws.com"),
        ("user-agent", user_agent),
        ("x-amzn-trace-id", _trace_root(rng, t)),
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", "80"),
        ("x-forwarded-proto", "http"),
    ]
    if text is not None:
        defaults.append(("content-length", str(_body_length(text, is_b64))))
    if content_type:
        defaults.append(("content-type", content_type))
    pairs = [(n.lower(), v) for n, v in _merge_headers(defaults, _header_pairs(headers))]
    _, wire, _ = _query_pairs(query)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": method,
        "path": path,
    }
    if multi_value_headers:
        event["multiValueQueryStringParameters"] = _multi_value(wire)
        event["multiValueHeaders"] = _multi_value(pairs)
    else:
        event["queryStringParameters"] = _last_value(wire)
        event["headers"] = _last_value(pairs)
    event["body"] = text if text is not None else ""
    event["isBase64Encoded"] = is_b64
    return event


# ---------------------------------------------------------------- S3

S3_EVENT_NAMES = (
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
)
_MULTIPART_PART_SIZE = 8 * 1024 * 1024  # the AWS CLI's and boto3's default part size


def encode_s3_key(key: str) -> str:
    """An object key as S3 writes it into event notifications: form encoding (space → ``+``,
    ``+`` → ``%2B``, non-ASCII as UTF-8 percent escapes). Our choice: ``/`` stays as is,
    as in the keys S3 delivers (the doc sample's ``test%2Fkey`` is a key with an encoded
    slash in it). Handlers decode with ``urllib.parse.unquote_plus``."""
    return quote_plus(key, safe="/")


def _s3_etag(content: bytes, multipart: bool) -> str:
    """A simple upload's ETag is the MD5 of the object; a multipart upload's is the MD5 of
    the parts' binary MD5s, then ``-<number of parts>``."""
    if not multipart:
        return hashlib.md5(content).hexdigest()
    parts = [
        content[i : i + _MULTIPART_PART_SIZE] for i in range(0, len(content), _MULTIPART_PART_SIZE)
    ]
    parts = parts or [b""]
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f"{digest}-{len(parts)}"


def s3_record(
    *,
    event_name: str = "ObjectCreated:Put",
    bucket: str = "example-bucket",
    key: str = "uploads/example.txt",
    size: int | None = None,
    content: bytes | None = None,
    etag: str | None = None,
    version_id: str | None = None,
    sequencer: str | None = None,
    event_time: datetime | None = None,
    principal_id: str | None = None,
    owner_id: str | None = None,
    source_ip: str = "203.0.113.10",
    request_id: str | None = None,
    host_id: str | None = None,
    configuration_id: str = "lambda-lab-notification",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """One S3 event notification record. ``key`` is the object key as stored (it is
    URL-encoded here, see :func:`encode_s3_key`). For ObjectCreated events ``size`` and
    ``eTag`` come from ``content`` when given; removals carry neither, and a delete marker
    always has a version id."""
    if event_name not in S3_EVENT_NAMES:
        raise InvalidEventError(
            f"Invalid S3 event name {event_name!r}: must be one of {', '.join(S3_EVENT_NAMES)}"
        )
    rng, t = _rng(seed), _utc(now)
    event_time = _utc(event_time) if event_time is not None else t
    obj: dict[str, Any] = {"key": encode_s3_key(key)}
    if event_name.startswith("ObjectCreated:"):
        if content is not None:
            size = len(content) if size is None else size
            etag = etag or _s3_etag(content, event_name.endswith("CompleteMultipartUpload"))
        size = 1024 if size is None else size
        if size < 0:
            raise InvalidEventError(f"Invalid object size {size}: must be 0 or more")
        if etag is None:
            etag = hashlib.md5(b"").hexdigest() if size == 0 else _hex(rng, 32)
            if event_name.endswith("CompleteMultipartUpload"):
                etag += f"-{max(1, math.ceil(size / _MULTIPART_PART_SIZE))}"
        obj["size"] = size
        obj["eTag"] = etag
    if event_name.endswith("DeleteMarkerCreated") and version_id is None:
        version_id = _chars(rng, _LOWER_ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ._", 32)
    if version_id is not None:
        obj["versionId"] = version_id
    # Sequencers grow with time for one key: nanoseconds, 18 upper-case hex digits.
    obj["sequencer"] = (
        sequencer or f"{int(event_time.timestamp() * 1e9) + rng.randrange(1 << 16):018X}"
    )
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _iso_ms(event_time),
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id or f"AWS:{_iam_user_id(rng)}"},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": request_id or _chars(rng, "0123456789ABCDEF", 16),
            "x-amz-id-2": host_id or _b64_random(rng, 57),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": owner_id or _chars(rng, _UPPER_ALNUM, 14)},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def s3_event(
    *,
    event_name: str = "ObjectCreated:Put",
    bucket: str = "example-bucket",
    key: str | Sequence[str] = "uploads/example.txt",
    size: int | None = None,
    content: bytes | None = None,
    version_id: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An S3 notification event. S3 itself sends one record per event; a list of keys gives
    one record each (a convenience for tests of batch-style handlers)."""
    rng = _rng(seed)
    keys = [key] if isinstance(key, str) else list(key)
    owner = _chars(rng, _UPPER_ALNUM, 14)
    principal = f"AWS:{_iam_user_id(rng)}"
    return {
        "Records": [
            s3_record(
                event_name=event_name,
                bucket=bucket,
                key=k,
                size=size,
                content=content,
                version_id=version_id,
                principal_id=principal,
                owner_id=owner,
                region=region,
                account_id=account_id,
                now=now,
                seed=rng,
            )
            for k in keys
        ]
    }


# ---------------------------------------------------------------- SQS


def _sqs_message_attributes(attributes: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Message attributes in the Lambda event's shape. Accepts plain values (str → String,
    numbers → Number, bytes → Binary), the SQS API's ``{"DataType", "StringValue" |
    "BinaryValue"}`` (what boto3 returns) or the event's own ``{"dataType", ...}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (attributes or {}).items():
        entry: dict[str, Any] = {}
        if isinstance(value, Mapping) and "dataType" in value:
            entry = dict(value)
        elif isinstance(value, Mapping) and "DataType" in value:
            data_type = str(value["DataType"])
            if "BinaryValue" in value:
                raw = value["BinaryValue"]
                if isinstance(raw, (bytes, bytearray)):
                    raw = base64.b64encode(raw).decode()
                entry = {"binaryValue": raw}
            else:
                entry = {"stringValue": str(value.get("StringValue", ""))}
            entry["dataType"] = data_type
        elif isinstance(value, str):
            entry = {"stringValue": value, "dataType": "String"}
        elif isinstance(value, (bytes, bytearray)):
            entry = {"binaryValue": base64.b64encode(value).decode(), "dataType": "Binary"}
        elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            entry = {"stringValue": str(value), "dataType": "Number"}
        else:
            raise InvalidEventError(
                f"Message attribute {name!r}: unsupported value of type {type(value).__name__} "
                "(use str, a number, bytes or {'DataType': ..., 'StringValue': ...})"
            )
        entry.setdefault("stringListValues", [])
        entry.setdefault("binaryListValues", [])
        out[str(name)] = {
            k: entry[k]
            for k in ("stringValue", "binaryValue", "stringListValues", "binaryListValues")
            if k in entry
        } | {"dataType": entry["dataType"]}
    return out


def _md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's documented digest: for each attribute by name, length-prefixed name, type and
    value, with a transport byte (1 string/number, 2 binary) before the value."""
    md5 = hashlib.md5()

    def field(data: bytes) -> None:
        md5.update(struct.pack(">I", len(data)))
        md5.update(data)

    for name in sorted(attributes):
        attr = attributes[name]
        field(name.encode())
        field(str(attr["dataType"]).encode())
        if attr.get("binaryValue") is not None:
            md5.update(b"\x02")
            field(base64.b64decode(attr["binaryValue"]))
        else:
            md5.update(b"\x01")
            field(str(attr.get("stringValue", "")).encode())
    return md5.hexdigest()


def sqs_record(
    *,
    body: Any = "Hello from SQS!",
    message_id: str | None = None,
    receipt_handle: str | None = None,
    attributes: Mapping[str, str] | None = None,
    message_attributes: Mapping[str, Any] | None = None,
    md5_of_body: str | None = None,
    md5_of_message_attributes: str | None = None,
    queue_name: str = "my-queue",
    queue_arn: str | None = None,
    message_group_id: str | None = None,
    message_deduplication_id: str | None = None,
    sequence_number: str | None = None,
    sender_id: str | None = None,
    sent_time: datetime | None = None,
    receive_count: int = 1,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """One SQS message as Lambda delivers it. A queue whose name (or ARN) ends in ``.fifo`` is
    FIFO: its records also carry SequenceNumber, MessageGroupId and MessageDeduplicationId
    (content-based by default: the SHA-256 of the body). ``attributes`` from ReceiveMessage
    override the generated ones."""
    rng, t = _rng(seed), _utc(now)
    text = _json_text(body, "SQS message body")
    queue_arn = queue_arn or f"arn:aws:sqs:{region}:{account_id}:{queue_name}"
    sent = _utc(sent_time) if sent_time is not None else t
    sent_ms = _epoch_ms(sent)
    attrs: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": str(sent_ms),
        "SenderId": sender_id or _iam_user_id(rng),
        "ApproximateFirstReceiveTimestamp": str(sent_ms + rng.randrange(1, 50)),
    }
    if queue_arn.endswith(".fifo"):
        attrs["SequenceNumber"] = sequence_number or str(
            18_000_000_000_000_000_000 + rng.getrandbits(59)
        )
        attrs["MessageGroupId"] = message_group_id or "default"
        attrs["MessageDeduplicationId"] = (
            message_deduplication_id or hashlib.sha256(text.encode()).hexdigest()
        )
    attrs.update(attributes or {})
    msg_attrs = _sqs_message_attributes(message_attributes)
    record: dict[str, Any] = {
        "messageId": message_id or _uuid(rng),
        "receiptHandle": receipt_handle or "AQEB" + _b64_random(rng, 150),
        "body": text,
        "attributes": attrs,
        "messageAttributes": msg_attrs,
        "md5OfBody": md5_of_body or hashlib.md5(text.encode()).hexdigest(),
    }
    if msg_attrs:
        record["md5OfMessageAttributes"] = md5_of_message_attributes or (
            _md5_of_message_attributes(msg_attrs)
        )
    record |= {"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region}
    return record


def sqs_event(
    *,
    messages: Sequence[Any] = ("Hello from SQS!",),
    queue_name: str = "my-queue",
    message_attributes: Mapping[str, Any] | None = None,
    message_group_id: str = "default",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An SQS batch: one record per message body (non-str bodies are sent as JSON). Name the
    queue ``*.fifo`` for a FIFO queue; its sequence numbers grow through the batch."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        messages = [messages]
    if not messages:
        raise InvalidEventError("An SQS event has at least one message")
    rng, t = _rng(seed), _utc(now)
    sender = _iam_user_id(rng)
    first_seq = 18_000_000_000_000_000_000 + rng.getrandbits(59)
    return {
        "Records": [
            sqs_record(
                body=m,
                queue_name=queue_name,
                message_attributes=message_attributes,
                message_group_id=message_group_id,
                sequence_number=str(first_seq + i * 65536),
                sender_id=sender,
                sent_time=t - timedelta(milliseconds=len(messages) - 1 - i),
                region=region,
                account_id=account_id,
                now=t,
                seed=rng,
            )
            for i, m in enumerate(messages)
        ]
    }


# ---------------------------------------------------------------- SNS


def _sns_message_attributes(attributes: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """``{"Type", "Value"}`` as SNS delivers them; Binary values base64, String.Array as JSON."""
    out: dict[str, dict[str, str]] = {}
    for name, value in (attributes or {}).items():
        if isinstance(value, Mapping) and "Type" in value:
            out[name] = {"Type": str(value["Type"]), "Value": str(value["Value"])}
        elif isinstance(value, Mapping) and "DataType" in value:
            raw = value.get("BinaryValue", value.get("StringValue", ""))
            if isinstance(raw, (bytes, bytearray)):
                raw = base64.b64encode(raw).decode()
            out[name] = {"Type": str(value["DataType"]), "Value": str(raw)}
        elif isinstance(value, str):
            out[name] = {"Type": "String", "Value": value}
        elif isinstance(value, (bytes, bytearray)):
            out[name] = {"Type": "Binary", "Value": base64.b64encode(value).decode()}
        elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            out[name] = {"Type": "Number", "Value": str(value)}
        elif isinstance(value, (list, tuple)):
            out[name] = {"Type": "String.Array", "Value": _json_text(list(value), name)}
        else:
            raise InvalidEventError(
                f"Message attribute {name!r}: unsupported value of type {type(value).__name__}"
            )
    return out


def sns_record(
    *,
    message: Any = "Hello from SNS!",
    subject: str | None = None,
    topic_name: str = "my-topic",
    topic_arn: str | None = None,
    message_id: str | None = None,
    message_attributes: Mapping[str, Any] | None = None,
    timestamp: datetime | None = None,
    subscription_arn: str | None = None,
    signature: str | None = None,
    signing_cert_url: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """One SNS notification as delivered to a Lambda subscription."""
    rng, t = _rng(seed), _utc(now)
    topic_arn = topic_arn or f"arn:aws:sns:{region}:{account_id}:{topic_name}"
    subscription_arn = subscription_arn or f"{topic_arn}:{_uuid(rng)}"
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id or _uuid(rng),
            "TopicArn": topic_arn,
            "Subject": subject or None,
            "Message": _json_text(message, "SNS message"),
            "Timestamp": _iso_ms(_utc(timestamp) if timestamp is not None else t),
            "SignatureVersion": "1",
            "Signature": signature or _b64_random(rng, 256),
            "SigningCertUrl": signing_cert_url
            or f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{_hex(rng, 32)}.pem",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/"
            f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
            "MessageAttributes": _sns_message_attributes(message_attributes),
        },
    }


def sns_event(
    *,
    message: Any = "Hello from SNS!",
    subject: str | None = None,
    topic_name: str = "my-topic",
    message_attributes: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An SNS event: SNS invokes once per message, so there is exactly one record."""
    return {
        "Records": [
            sns_record(
                message=message,
                subject=subject,
                topic_name=topic_name,
                message_attributes=message_attributes,
                region=region,
                account_id=account_id,
                now=now,
                seed=seed,
            )
        ]
    }


# ---------------------------------------------------------------- DynamoDB


def to_dynamodb_json(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB AttributeValue (``"x"`` → ``{"S": "x"}``, ``1`` →
    ``{"N": "1"}``, bytes → ``{"B": "<base64>"}`` ...). An item is ``to_dynamodb_json(item)["M"]``.
    Sets become SS/NS/BS (sorted, so output is stable) and may not be empty, as in DynamoDB."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise InvalidEventError(f"DynamoDB map keys are strings, not {type(k).__name__}")
        return {"M": {k: to_dynamodb_json(v) for k, v in value.items()}}
    if isinstance(value, (set, frozenset)):
        if not value:
            raise InvalidEventError("DynamoDB sets may not be empty")
        if all(isinstance(v, str) for v in value):
            return {"SS": sorted(value)}
        if all(isinstance(v, (bytes, bytearray)) for v in value):
            return {"BS": [base64.b64encode(v).decode() for v in sorted(value)]}
        if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in value):
            return {"NS": [_number(v) for v in sorted(value, key=Decimal)]}
        raise InvalidEventError("A DynamoDB set holds only strings, only numbers or only bytes")
    if isinstance(value, (list, tuple)):
        return {"L": [to_dynamodb_json(v) for v in value]}
    raise InvalidEventError(f"No DynamoDB type for a value of type {type(value).__name__}")


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventError("DynamoDB numbers are finite: Infinity and NaN not supported")
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidEventError("DynamoDB numbers are finite: Infinity and NaN not supported")
    return str(value)


def from_dynamodb_json(value: Mapping[str, Any]) -> Any:
    """The Python value of a DynamoDB AttributeValue: integers as ``int``, other numbers as
    ``Decimal`` (exact, like boto3), B/BS as ``bytes``, SS/NS/BS as sets."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise InvalidEventError(f"Not a DynamoDB AttributeValue: {value!r}")
    ((tag, v),) = value.items()
    if tag == "NULL":
        return None
    if tag in ("S", "BOOL"):
        return v
    if tag == "N":
        return _parse_number(v)
    if tag == "B":
        return base64.b64decode(v)
    if tag == "SS":
        return set(v)
    if tag == "NS":
        return {_parse_number(n) for n in v}
    if tag == "BS":
        return {base64.b64decode(b) for b in v}
    if tag == "L":
        return [from_dynamodb_json(x) for x in v]
    if tag == "M":
        return {k: from_dynamodb_json(x) for k, x in v.items()}
    raise InvalidEventError(f"Unknown DynamoDB type {tag!r}")


def _parse_number(text: str) -> int | Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidEventError(f"Not a DynamoDB number: {text!r}") from None
    return int(text) if text.lstrip("-").isdigit() else number


def _attribute_size(av: Mapping[str, Any]) -> int:
    """DynamoDB's item size rules: strings and binaries by length, numbers one byte per two
    significant digits plus one, BOOL/NULL one byte, lists and maps 3 bytes plus 1 per
    element. (They reproduce the SizeBytes of the AWS sample events: 26, 59, 38.)"""
    ((tag, v),) = av.items()
    if tag == "S":
        return len(v.encode())
    if tag == "N":
        digits = v.lstrip("-").split("e")[0].split("E")[0].replace(".", "").strip("0")
        return (len(digits) + 1) // 2 + 1
    if tag == "B":
        return len(base64.b64decode(v))
    if tag in ("BOOL", "NULL"):
        return 1
    if tag in ("SS", "NS", "BS"):
        return sum(_attribute_size({tag[0]: x}) for x in v)
    if tag == "L":
        return 3 + sum(1 + _attribute_size(x) for x in v)
    return 3 + sum(1 + _item_size({k: x}) for k, x in v.items())


def _item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + _attribute_size(av) for name, av in item.items())


DYNAMODB_EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


def _typed_item(item: Mapping[str, Any] | None, typed: bool) -> dict[str, Any] | None:
    if item is None:
        return None
    if typed:
        return dict(item)
    if not isinstance(item, Mapping):
        raise InvalidEventError(f"A DynamoDB item is a mapping, not {type(item).__name__}")
    return to_dynamodb_json(item)["M"]


def _stream_arn(region: str, account_id: str, table_name: str, t: datetime) -> str:
    """The label is the stream's creation time; we say midnight UTC of the day of ``t``, so
    events built the same day share one stream ARN, as changes to one table do."""
    label = f"{t:%Y-%m-%d}T00:00:00.000"
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{table_name}/stream/{label}"


def dynamodb_record(
    *,
    event_name: str = "INSERT",
    keys: Mapping[str, Any] | None = None,
    new_image: Mapping[str, Any] | None = None,
    old_image: Mapping[str, Any] | None = None,
    typed: bool = False,
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    table_name: str = "my-table",
    stream_arn: str | None = None,
    event_id: str | None = None,
    sequence_number: str | None = None,
    size_bytes: int | None = None,
    approximate_creation_time: datetime | None = None,
    user_identity: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """One DynamoDB Streams record. Items are plain Python values, or DynamoDB JSON with
    ``typed=True`` (as the Streams API returns them). ``keys`` default to the first attribute
    of the image. The images present follow ``stream_view_type``: INSERT has no OldImage,
    REMOVE no NewImage, KEYS_ONLY neither. A TTL deletion passes ``user_identity={"type":
    "Service", "principalId": "dynamodb.amazonaws.com"}``."""
    if event_name not in DYNAMODB_EVENT_NAMES:
        raise InvalidEventError(
            f"Invalid DynamoDB event name {event_name!r}: must be INSERT, MODIFY or REMOVE"
        )
    if stream_view_type not in STREAM_VIEW_TYPES:
        raise InvalidEventError(
            f"Invalid StreamViewType {stream_view_type!r}: must be one of "
            f"{', '.join(STREAM_VIEW_TYPES)}"
        )
    rng, t = _rng(seed), _utc(now)
    new = _typed_item(new_image, typed) if event_name != "REMOVE" else None
    old = _typed_item(old_image, typed) if event_name != "INSERT" else None
    wants_new = stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "REMOVE"
    wants_old = stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "INSERT"
    if wants_new and new is None:
        raise InvalidEventError(
            f"{event_name} with StreamViewType {stream_view_type} needs new_image"
        )
    if wants_old and old is None:
        raise InvalidEventError(
            f"{event_name} with StreamViewType {stream_view_type} needs old_image"
        )
    typed_keys = _typed_item(keys, typed)
    if typed_keys is None:
        source = new or old
        if not source:
            raise InvalidEventError(
                "A DynamoDB stream record needs keys (or an image to take them from)"
            )
        first = next(iter(source))
        typed_keys = {first: source[first]}
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": float(
            int((_utc(approximate_creation_time) if approximate_creation_time else t).timestamp())
        ),
        "Keys": typed_keys,
    }
    if wants_new:
        change["NewImage"] = new
    if wants_old:
        change["OldImage"] = old
    change["SequenceNumber"] = sequence_number or str(4 * 10**20 + rng.getrandbits(64))
    change["SizeBytes"] = (
        size_bytes
        if size_bytes is not None
        else sum(
            _item_size(x) for x in (typed_keys, change.get("NewImage"), change.get("OldImage")) if x
        )
    )
    change["StreamViewType"] = stream_view_type
    if stream_arn is None:
        stream_arn = _stream_arn(region, account_id, table_name, t)
    record: dict[str, Any] = {
        "eventID": event_id or _hex(rng, 32),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }
    if user_identity is not None:
        record["userIdentity"] = dict(user_identity)
    return record


def dynamodb_event(
    *,
    event_name: str = "INSERT",
    keys: Mapping[str, Any] | None = None,
    new_image: Mapping[str, Any] | None = None,
    old_image: Mapping[str, Any] | None = None,
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    table_name: str = "my-table",
    records: Sequence[Mapping[str, Any]] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """A DynamoDB Streams batch. One change from ``event_name``/``keys``/images, or several
    from ``records`` (each a dict of :func:`dynamodb_record` keywords); sequence numbers grow
    through the batch and all records share the table's stream ARN."""
    rng, t = _rng(seed), _utc(now)
    stream_arn = _stream_arn(region, account_id, table_name, t)
    changes = (
        list(records)
        if records is not None
        else [
            {"event_name": event_name, "keys": keys, "new_image": new_image, "old_image": old_image}
        ]
    )
    if not changes:
        raise InvalidEventError("A DynamoDB Streams event has at least one record")
    first_seq = 4 * 10**20 + rng.getrandbits(60)
    out = []
    for i, change in enumerate(changes):
        fields: dict[str, Any] = {
            "stream_view_type": stream_view_type,
            "stream_arn": stream_arn,
            "sequence_number": str(first_seq + i * 100),
        } | dict(change)
        out.append(dynamodb_record(**fields, region=region, account_id=account_id, now=t, seed=rng))
    return {"Records": out}


# ---------------------------------------------------------------- Kinesis

_KINESIS_SEQ_BASE = 49_590_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000


def kinesis_record(
    *,
    data: Any = b"Hello, this is a test.",
    partition_key: str = "1",
    sequence_number: str | None = None,
    arrival_time: datetime | None = None,
    shard_id: str = "shardId-000000000000",
    stream_name: str = "my-stream",
    stream_arn: str | None = None,
    invoke_identity_arn: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """One Kinesis record: ``data`` base64-encoded (str as UTF-8, other values as JSON),
    a 56-digit sequence number, arrival time in epoch seconds with milliseconds."""
    rng, t = _rng(seed), _utc(now)
    raw = _to_bytes(data, "Kinesis data")
    seq = sequence_number or str(_KINESIS_SEQ_BASE + rng.getrandbits(150))
    arrival = _utc(arrival_time) if arrival_time is not None else t
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": seq,
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": round(arrival.timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": invoke_identity_arn or f"arn:aws:iam::{account_id}:role/lambda-role",
        "awsRegion": region,
        "eventSourceARN": stream_arn
        or f"arn:aws:kinesis:{region}:{account_id}:stream/{stream_name}",
    }


def kinesis_event(
    *,
    records: Sequence[Any] = (b"Hello, this is a test.",),
    partition_key: str = "1",
    stream_name: str = "my-stream",
    shard_id: str = "shardId-000000000000",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """A Kinesis batch from one shard: one record per data item, sequence numbers growing
    and arrival times a millisecond apart, the last at ``now``."""
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        records = [records]
    if not records:
        raise InvalidEventError("A Kinesis event has at least one record")
    rng, t = _rng(seed), _utc(now)
    first_seq = _KINESIS_SEQ_BASE + rng.getrandbits(150)
    n = len(records)
    return {
        "Records": [
            kinesis_record(
                data=d,
                partition_key=partition_key,
                sequence_number=str(first_seq + i * (1 << 64)),
                arrival_time=t - timedelta(milliseconds=n - 1 - i),
                shard_id=shard_id,
                stream_name=stream_name,
                region=region,
                account_id=account_id,
                now=t,
                seed=rng,
            )
            for i, d in enumerate(records)
        ]
    }


# ---------------------------------------------------------------- EventBridge


def eventbridge_event(
    *,
    detail: Mapping[str, Any] | None = None,
    detail_type: str = "Custom Event",
    source: str = "com.example.app",
    resources: Sequence[str] = (),
    event_id: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """An EventBridge event as a rule's target receives it (a PutEvents entry: ``detail``
    must be a JSON object)."""
    detail = {} if detail is None else detail
    if not isinstance(detail, Mapping):
        raise InvalidEventError("Detail is malformed: an EventBridge detail is a JSON object")
    rng, t = _rng(seed), _utc(now)
    return {
        "version": "0",
        "id": event_id or _uuid(rng),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": _iso_s(t),
        "region": region,
        "resources": list(resources),
        "detail": json.loads(_json_text(dict(detail), "detail")),
    }


def scheduled_event(
    *,
    rule_name: str = "my-schedule",
    event_id: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """The event an EventBridge schedule rule (``rate(...)``/``cron(...)``) sends."""
    return eventbridge_event(
        detail={},
        detail_type="Scheduled Event",
        source="aws.events",
        resources=[f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"],
        event_id=event_id,
        region=region,
        account_id=account_id,
        now=now,
        seed=seed,
    )


# ---------------------------------------------------------------- CloudWatch Logs


def cloudwatch_logs_event(
    *,
    messages: Sequence[str | Mapping[str, Any]] = ("[INFO] hello from lambda-lab",),
    log_group: str = "/aws/lambda/my-function",
    log_stream: str | None = None,
    subscription_filters: Sequence[str] = ("my-subscription-filter",),
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: datetime | None = None,
    seed: Seed = None,
) -> dict[str, Any]:
    """A CloudWatch Logs subscription event: ``{"awslogs": {"data": base64(gzip(json))}}``
    holding a DATA_MESSAGE. Each message is a str or ``{"message", "timestamp" (ms),
    "id"}``; ids are 56 digits, growing."""
    del region  # a DATA_MESSAGE names no region; accepted so every builder takes the same keywords
    if isinstance(messages, str) or not isinstance(messages, Sequence):
        messages = [messages]
    rng, t = _rng(seed), _utc(now)
    stream = log_stream or log_stream_name("$LATEST", _hex(rng, 32), t.timestamp())
    now_ms, n = _epoch_ms(t), len(messages)
    next_id = 10**55 * 3 + rng.getrandbits(170)
    log_events = []
    for i, m in enumerate(messages):
        entry = dict(m) if isinstance(m, Mapping) else {"message": str(m)}
        log_events.append(
            {
                "id": str(entry.get("id") or next_id + i * (1 << 100)),
                "timestamp": int(entry.get("timestamp") or now_ms - (n - 1 - i)),
                "message": str(entry["message"]),
            }
        )
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id,
        "logGroup": log_group,
        "logStream": stream,
        "subscriptionFilters": list(subscription_filters),
        "logEvents": log_events,
    }
    packed = gzip.compress(json.dumps(payload).encode(), mtime=int(t.timestamp()))
    return {"awslogs": {"data": base64.b64encode(packed).decode()}}


# ---------------------------------------------------------------- custom


def custom_event(payload: Any = None) -> Any:
    """Any JSON value, passed through as the Invoke API would send it (a fresh copy, as
    the handler would decode it). What is not JSON (sets, objects, bytes, NaN) is refused,
    as Lambda refuses a body it cannot parse."""
    if payload is None:
        return {}
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(f"Could not parse request body into json: {exc}") from None
    return json.loads(text)


# ---------------------------------------------------------------- registry

FieldKind = Literal["str", "int", "json", "text", "bool"]
_COMMON = frozenset({"region", "account_id", "now", "seed"})


@dataclass(frozen=True)
class EventField:
    """One learner-facing input of an event source: a form control is drawn from ``kind``
    (``str`` one line, ``text`` several, ``int``, ``bool``, ``json`` any JSON value) and
    ``choices`` (a drop-down when not empty)."""

    name: str
    default: Any
    kind: FieldKind
    choices: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class EventSource:
    """An event source a learner can pick: ``builder(**fields)`` returns its event."""

    id: str
    title: str
    builder: Callable[..., Any]
    fields: tuple[EventField, ...]

    def defaults(self) -> dict[str, Any]:
        """Fresh copies of the field defaults (JSON defaults are mutable)."""
        return {f.name: copy.deepcopy(f.default) for f in self.fields}

    def build(self, **fields: Any) -> Any:
        """The event with ``fields`` over the defaults; ``region``, ``account_id``, ``now``
        and ``seed`` are accepted too."""
        names = {f.name for f in self.fields}
        unknown = sorted(set(fields) - names - _COMMON)
        if unknown:
            raise InvalidEventError(
                f"Unknown field(s) for event source {self.id!r}: {', '.join(unknown)}; "
                f"fields are {', '.join(sorted(names | _COMMON))}"
            )
        for f in self.fields:
            if f.choices and f.name in fields and fields[f.name] not in f.choices:
                raise InvalidEventError(
                    f"Invalid {f.name} {fields[f.name]!r} for event source {self.id!r}: "
                    f"must be one of {', '.join(f.choices)}"
                )
        return self.builder(**(self.defaults() | fields))


def _custom_source(*, payload: Any, **_common: Any) -> Any:
    return custom_event(payload)


_HTTP_METHOD_FIELD = EventField("method", "GET", "str", _HTTP_METHODS, "HTTP method")
_QUERY_FIELD = EventField("query", "", "str", (), "query string as sent, e.g. a=1&a=2")
_HEADERS_FIELD = EventField("headers", {}, "json", (), "extra request headers")
_BODY_FIELD = EventField("body", "", "text", (), "request body (empty: none)")
_VIEW_FIELD = EventField(
    "stream_view_type", "NEW_AND_OLD_IMAGES", "str", STREAM_VIEW_TYPES, "the stream's view type"
)
_ITEM = {"id": "101", "message": "New item!"}
_CHANGED = {"id": "101", "message": "This item has changed"}


def _source(id: str, title: str, builder: Callable[..., Any], *fields: EventField) -> EventSource:
    return EventSource(id, title, builder, tuple(fields))


EVENT_SOURCES: dict[str, EventSource] = {
    s.id: s
    for s in (
        _source(
            "apigateway-rest",
            "API Gateway REST API (proxy, payload 1.0)",
            api_gateway_rest_event,
            _HTTP_METHOD_FIELD,
            EventField("resource", "/items/{id}", "str", (), "resource template"),
            EventField("path", "/items/42", "str", (), "request path"),
            _QUERY_FIELD,
            _HEADERS_FIELD,
            _BODY_FIELD,
            EventField("stage", "prod", "str", (), "stage name"),
        ),
        _source(
            "apigateway-http",
            "API Gateway HTTP API (payload 2.0)",
            api_gateway_http_event,
            _HTTP_METHOD_FIELD,
            EventField("route", "/items/{id}", "str", (), "route path template"),
            EventField("path", "/items/42", "str", (), "request path"),
            _QUERY_FIELD,
            _HEADERS_FIELD,
            EventField("cookies", [], "json", (), 'cookies, e.g. ["theme=dark"]'),
            _BODY_FIELD,
        ),
        _source(
            "function-url",
            "Lambda Function URL",
            function_url_event,
            _HTTP_METHOD_FIELD,
            EventField("path", "/", "str", (), "request path"),
            _QUERY_FIELD,
            _HEADERS_FIELD,
            EventField("cookies", [], "json", (), 'cookies, e.g. ["theme=dark"]'),
            _BODY_FIELD,
            EventField("auth_type", "NONE", "str", ("NONE", "AWS_IAM"), "the URL's AuthType"),
        ),
        _source(
            "alb",
            "Application Load Balancer",
            alb_event,
            _HTTP_METHOD_FIELD,
            EventField("path", "/lambda", "str", (), "request path"),
            _QUERY_FIELD,
            _HEADERS_FIELD,
            _BODY_FIELD,
            EventField("multi_value_headers", False, "bool", (), "target group multi-value mode"),
        ),
        _source(
            "s3-put",
            "S3 object created",
            s3_event,
            EventField("event_name", "ObjectCreated:Put", "str", S3_EVENT_NAMES[:4], "event type"),
            EventField("bucket", "example-bucket", "str", (), "bucket name"),
            EventField("key", "uploads/my photo.jpg", "str", (), "object key"),
            EventField("size", 1024, "int", (), "object size in bytes"),
        ),
        _source(
            "s3-delete",
            "S3 object removed",
            s3_event,
            EventField(
                "event_name", "ObjectRemoved:Delete", "str", S3_EVENT_NAMES[4:], "event type"
            ),
            EventField("bucket", "example-bucket", "str", (), "bucket name"),
            EventField("key", "uploads/my photo.jpg", "str", (), "object key"),
        ),
        _source(
            "sqs",
            "SQS (standard queue)",
            sqs_event,
            EventField(
                "messages", ["Hello from SQS!"], "json", (), "message bodies, one record each"
            ),
            EventField("queue_name", "my-queue", "str", (), "queue name"),
            EventField("message_attributes", {}, "json", (), "message attributes"),
        ),
        _source(
            "sqs-fifo",
            "SQS (FIFO queue)",
            sqs_event,
            EventField(
                "messages", ["Hello from SQS!"], "json", (), "message bodies, one record each"
            ),
            EventField("queue_name", "my-queue.fifo", "str", (), "queue name (ends in .fifo)"),
            EventField("message_group_id", "group-1", "str", (), "message group"),
            EventField("message_attributes", {}, "json", (), "message attributes"),
        ),
        _source(
            "sns",
            "SNS notification",
            sns_event,
            EventField("message", "Hello from SNS!", "text", (), "message"),
            EventField("subject", "", "str", (), "subject (empty: none)"),
            EventField("topic_name", "my-topic", "str", (), "topic name"),
            EventField("message_attributes", {}, "json", (), "message attributes"),
        ),
        _source(
            "dynamodb-insert",
            "DynamoDB Streams: INSERT",
            functools.partial(dynamodb_event, event_name="INSERT"),
            EventField("table_name", "my-table", "str", (), "table name"),
            EventField("new_image", _ITEM, "json", (), "the new item"),
            EventField("keys", None, "json", (), "key attributes (null: the item's first)"),
            _VIEW_FIELD,
        ),
        _source(
            "dynamodb-modify",
            "DynamoDB Streams: MODIFY",
            functools.partial(dynamodb_event, event_name="MODIFY"),
            EventField("table_name", "my-table", "str", (), "table name"),
            EventField("old_image", _ITEM, "json", (), "the item before"),
            EventField("new_image", _CHANGED, "json", (), "the item after"),
            EventField("keys", None, "json", (), "key attributes (null: the item's first)"),
            _VIEW_FIELD,
        ),
        _source(
            "dynamodb-remove",
            "DynamoDB Streams: REMOVE",
            functools.partial(dynamodb_event, event_name="REMOVE"),
            EventField("table_name", "my-table", "str", (), "table name"),
            EventField("old_image", _CHANGED, "json", (), "the removed item"),
            EventField("keys", None, "json", (), "key attributes (null: the item's first)"),
            _VIEW_FIELD,
        ),
        _source(
            "kinesis",
            "Kinesis Data Streams",
            kinesis_event,
            EventField("records", ["Hello, this is a test."], "json", (), "record data, one each"),
            EventField("partition_key", "1", "str", (), "partition key"),
            EventField("stream_name", "my-stream", "str", (), "stream name"),
        ),
        _source(
            "eventbridge",
            "EventBridge custom event",
            eventbridge_event,
            EventField("source", "com.example.orders", "str", (), "event source"),
            EventField("detail_type", "OrderPlaced", "str", (), "detail-type"),
            EventField("detail", {"orderId": "1234", "amount": 42}, "json", (), "detail object"),
        ),
        _source(
            "schedule",
            "EventBridge schedule (Scheduled Event)",
            scheduled_event,
            EventField("rule_name", "my-schedule", "str", (), "rule name"),
        ),
        _source(
            "cloudwatch-logs",
            "CloudWatch Logs subscription",
            cloudwatch_logs_event,
            EventField("log_group", "/aws/lambda/my-function", "str", (), "log group"),
            EventField("messages", ["[INFO] hello from lambda-lab"], "json", (), "log messages"),
        ),
        _source(
            "custom",
            "Custom JSON event",
            _custom_source,
            EventField(
                "payload",
                {"key1": "value1", "key2": "value2", "key3": "value3"},
                "json",
                (),
                "any JSON value",
            ),
        ),
    )
}


def build_event(source_id: str, /, **fields: Any) -> Any:
    """The event of source ``source_id`` (a key of :data:`EVENT_SOURCES`) with ``fields`` over
    its defaults, e.g. ``build_event("s3-put", key="photos/cat.jpg", seed=1)``."""
    try:
        source = EVENT_SOURCES[source_id]
    except KeyError:
        raise InvalidEventError(
            f"Unknown event source {source_id!r}: must be one of {', '.join(EVENT_SOURCES)}"
        ) from None
    return source.build(**fields)
