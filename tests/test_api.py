"""The HTTP edge, driven by the real boto3 Lambda client (and the AWS CLI when installed).

One server for the module: a sandbox, a platform clock, a Lambda service, the edge app and
its keep-alive server. Every test names its own functions, so tests do not see each other's.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kernel_runtime.api import EdgeApp, EdgeServer
from kernel_runtime.api._app import signing_service
from kernel_runtime.api._lambda import OPERATIONS
from kernel_runtime.clock import PlatformClock
from kernel_runtime.sandbox import Sandbox
from kernel_runtime.service._service import LambdaService

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-lab-test"
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"

HANDLER = """\
import os

VERSION = "v1"


def handler(event, context):
    print("handling", event)
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail")
    if isinstance(event, dict) and event.get("spam"):
        print("x" * 10000)
    return {
        "version": VERSION,
        "event": event,
        "greeting": os.environ.get("GREETING"),
        "function_version": context.function_version,
        "client_context": getattr(context.client_context, "custom", None),
    }
"""


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, text in files.items():
            out.writestr(name, text)
    return buffer.getvalue()


CODE = _zip({"app.py": HANDLER})


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    sandbox = Sandbox()
    clock = PlatformClock()
    service = LambdaService(
        root=tmp_path_factory.mktemp("edge") / "registry", sandbox=sandbox, clock=clock
    )
    edge = EdgeServer(EdgeApp(service)).start()
    try:
        yield edge
    finally:
        edge.stop()
        service.close()
        clock.close()
        sandbox.close()


def _client(server: EdgeServer, service: str = "lambda", **config: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def lam(server: EdgeServer) -> Any:
    return _client(server)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create(lam: Any, name: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": CODE},
    }
    params.update(extra)
    return lam.create_function(**params)


def _payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


# -- the edge itself ---------------------------------------------------------------------------
def test_health_and_unsigned_unknown_route(server: EdgeServer) -> None:
    with urllib.request.urlopen(f"{server.url}/_lab/health", timeout=5) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == {"status": "ok"}
    request = urllib.request.Request(f"{server.url}/2015-03-31/nothing-here", method="GET")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 404
    assert exc.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    body = json.loads(exc.value.read())
    assert body["Type"] == "User" and "Unknown operation" in body["message"]


def test_malformed_json_body_is_invalid_request_content(server: EdgeServer) -> None:
    request = urllib.request.Request(
        f"{server.url}/2015-03-31/functions", data=b'{"FunctionName": ', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 400
    assert exc.value.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert json.loads(exc.value.read())["message"].startswith(
        "Could not parse request body into json:"
    )


def test_connections_are_kept_alive(server: EdgeServer) -> None:
    """Several requests, bodies included, on one connection: no ``Connection: close``."""
    conn = http.client.HTTPConnection(server.url.split("//")[1], timeout=5)
    try:
        for body in (b"", b'{"not": "read by the route"}', b"{"):
            conn.request("POST", "/2015-03-31/functions/nope/versions", body=body)
            answer = conn.getresponse()
            answer.read()
            assert answer.status in (400, 404)
            assert answer.getheader("Connection") != "close"
        conn.request("GET", "/_lab/health")
        assert conn.getresponse().read() == b'{"status": "ok"}'
    finally:
        conn.close()


def test_signing_service_reads_the_credential_scope() -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert signing_service({"HTTP_AUTHORIZATION": auth}) == "lambda"
    assert signing_service({"HTTP_AUTHORIZATION": auth.replace("/lambda/", "/s3/")}) == "s3"
    presigned = "X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=x"
    assert signing_service({"QUERY_STRING": presigned}) == "s3"
    assert signing_service({}) is None


def test_every_operation_is_routed() -> None:
    wanted = {
        "CreateFunction",
        "GetFunction",
        "GetFunctionConfiguration",
        "ListFunctions",
        "DeleteFunction",
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "Invoke",
        "PublishVersion",
        "ListVersionsByFunction",
        "CreateAlias",
        "GetAlias",
        "UpdateAlias",
        "DeleteAlias",
        "ListAliases",
        "PutFunctionConcurrency",
        "GetFunctionConcurrency",
        "DeleteFunctionConcurrency",
        "PutProvisionedConcurrencyConfig",
        "GetProvisionedConcurrencyConfig",
        "DeleteProvisionedConcurrencyConfig",
        "PutFunctionEventInvokeConfig",
        "GetFunctionEventInvokeConfig",
        "UpdateFunctionEventInvokeConfig",
        "DeleteFunctionEventInvokeConfig",
        "PublishLayerVersion",
        "ListLayers",
        "ListLayerVersions",
        "GetLayerVersion",
        "DeleteLayerVersion",
        "GetAccountSettings",
        "AddPermission",
        "RemovePermission",
        "GetPolicy",
    }
    assert wanted <= OPERATIONS


# -- functions ---------------------------------------------------------------------------------
def test_function_lifecycle(lam: Any) -> None:
    name = _name("life")
    created = _create(lam, name, Environment={"Variables": {"GREETING": "hi"}}, Tags={"k": "v"})
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert created["Version"] == "$LATEST" and created["State"] == "Active"

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert got["Tags"] == {"k": "v"}
    assert lam.get_function_configuration(FunctionName=name)["Handler"] == "app.handler"
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert name in names

    updated = lam.update_function_configuration(
        FunctionName=name, Timeout=10, Environment={"Variables": {"GREETING": "hello"}}
    )
    assert updated["Timeout"] == 10
    out = _payload(lam.invoke(FunctionName=name, Payload=b'{"n": 1}'))
    assert out["greeting"] == "hello" and out["version"] == "v1" and out["event"] == {"n": 1}

    code = lam.update_function_code(
        FunctionName=name, ZipFile=_zip({"app.py": HANDLER.replace('"v1"', '"v2"')})
    )
    assert code["CodeSha256"] != created["CodeSha256"]
    assert _payload(lam.invoke(FunctionName=name, Payload=b"{}"))["version"] == "v2"

    published = lam.publish_version(FunctionName=name, Description="first")
    assert published["Version"] == "1"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1"]
    lam.update_function_code(FunctionName=name, ZipFile=CODE)  # $LATEST moves back to v1

    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f"function:{name}:live")
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    lam.update_alias(FunctionName=name, Name="live", Description="production")
    [listed] = lam.list_aliases(FunctionName=name)["Aliases"]
    assert listed["Description"] == "production"

    via_alias = lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    assert via_alias["ExecutedVersion"] == "1"
    assert _payload(via_alias)["version"] == "v2"  # version 1 kept the code it was published with
    # a qualified ARN in the path (colons URL-encoded by botocore)
    arn_call = lam.invoke(FunctionName=f"{created['FunctionArn']}:live", Payload=b"{}")
    assert arn_call["ExecutedVersion"] == "1"
    latest = lam.invoke(FunctionName=name, Payload=b"{}")
    assert latest["ExecutedVersion"] == "$LATEST" and _payload(latest)["version"] == "v1"

    lam.delete_alias(FunctionName=name, Name="live")
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    lam.delete_function(FunctionName=name, Qualifier="1")
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)


def test_list_functions_paginates(lam: Any) -> None:
    names = {_name("page") for _ in range(3)}
    for name in names:
        _create(lam, name)
    first = lam.list_functions(MaxItems=1)
    assert len(first["Functions"]) == 1 and "NextMarker" in first
    seen = {
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        for f in page["Functions"]
    }
    assert names <= seen
    for name in names:
        lam.delete_function(FunctionName=name)


def test_create_errors(server: EdgeServer, lam: Any) -> None:
    name = _name("bad")
    unchecked = _client(server, parameter_validation=False)  # boto3 itself rejects 64 MB
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        _create(unchecked, name, MemorySize=64)
    assert "memorySize" in _error(exc)[1]
    _create(lam, name)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        _create(lam, name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=name, MemorySize=20000)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        _create(lam, _name("zip"), Code={"ZipFile": b"not a zip"})
    assert "Could not unzip" in _error(exc)[1]
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId="stale")
    lam.delete_function(FunctionName=name)


def test_code_from_the_embedded_s3(server: EdgeServer, lam: Any) -> None:
    s3 = _client(server, "s3")
    bucket = _name("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=CODE)
    name = _name("s3code")
    _create(lam, name, Code={"S3Bucket": bucket, "S3Key": "fn.zip"})
    assert _payload(lam.invoke(FunctionName=name, Payload=b"{}"))["version"] == "v1"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="missing.zip")
    lam.delete_function(FunctionName=name)


# -- invoke ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fn(lam: Any) -> Iterator[str]:
    name = _name("inv")
    _create(lam, name)
    yield name
    lam.delete_function(FunctionName=name)


def test_invoke_tail_log(lam: Any, fn: str) -> None:
    answer = lam.invoke(FunctionName=fn, Payload=b'{"spam": true}', LogType="Tail")
    assert answer["StatusCode"] == 200
    log = base64.b64decode(answer["LogResult"])
    assert len(log) <= 4096  # the last 4 KB
    text = log.decode()
    assert "REPORT RequestId: " + answer["ResponseMetadata"]["RequestId"] in text
    assert text.rstrip().splitlines()[-1].startswith("REPORT RequestId:")
    plain = lam.invoke(FunctionName=fn, Payload=b"{}")
    assert "LogResult" not in plain


def test_invoke_function_error(lam: Any, fn: str) -> None:
    answer = lam.invoke(FunctionName=fn, Payload=b'{"fail": true}')
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = _payload(answer)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail"


def test_invoke_client_context(lam: Any, fn: str) -> None:
    context = base64.b64encode(json.dumps({"custom": {"who": "me"}}).encode()).decode()
    answer = lam.invoke(FunctionName=fn, Payload=b"{}", ClientContext=context)
    assert _payload(answer)["client_context"] == {"who": "me"}


def test_invoke_event_and_dry_run(lam: Any, fn: str) -> None:
    event = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"async": 1}')
    assert event["StatusCode"] == 202
    assert event["Payload"].read() == b""
    dry = lam.invoke(FunctionName=fn, InvocationType="DryRun")
    assert dry["StatusCode"] == 204


def test_invoke_errors(lam: Any, fn: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.invoke(FunctionName=_name("missing"), Payload=b"{}")
    assert _error(exc)[1].startswith("Function not found: arn:aws:lambda:us-east-1:")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=fn, Qualifier="no-such-alias", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke(FunctionName=fn, Qualifier="bad qualifier!", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as exc:
        lam.invoke(FunctionName=fn, Payload=b"{not json")
    assert _error(exc)[1].startswith("Could not parse request body into json")
    with pytest.raises(lam.exceptions.RequestTooLargeException) as exc:
        lam.invoke(FunctionName=fn, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert "6291456" in _error(exc)[1]
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"[" + b"1," * 600_000 + b"1]")
    # the connection survived the drained 6 MB body
    assert lam.invoke(FunctionName=fn, Payload=b"{}")["StatusCode"] == 200


def test_reserved_concurrency_and_throttle(lam: Any) -> None:
    name = _name("thr")
    _create(lam, name)
    assert (
        lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    )
    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert put["ReservedConcurrentExecutions"] == 0
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
    with pytest.raises(lam.exceptions.TooManyRequestsException) as exc:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName=name)
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    lam.delete_function(FunctionName=name)


def test_provisioned_concurrency(lam: Any) -> None:
    name = _name("pc")
    _create(lam, name, Publish=True)
    put = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 1
    got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert got["Status"] in ("IN_PROGRESS", "READY")
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:1"
    ]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    lam.delete_function(FunctionName=name)


def test_event_invoke_config(lam: Any, fn: str) -> None:
    put = lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1)
    assert put["MaximumRetryAttempts"] == 1
    got = lam.get_function_event_invoke_config(FunctionName=fn)
    assert got["FunctionArn"].endswith(f"function:{fn}:$LATEST")
    updated = lam.update_function_event_invoke_config(FunctionName=fn, MaximumEventAgeInSeconds=120)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 120)
    assert (
        len(lam.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"])
        == 1
    )
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=5)
    lam.delete_function_event_invoke_config(FunctionName=fn)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=fn)


def test_layers(lam: Any) -> None:
    layer = _name("lib")
    content = _zip({"python/labhelper.py": "GREETING = 'from a layer'\n"})
    published = lam.publish_layer_version(
        LayerName=layer, Content={"ZipFile": content}, CompatibleRuntimes=[RUNTIME]
    )
    assert published["Version"] == 1
    arn = published["LayerVersionArn"]
    assert arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer}:1"
    assert layer in [entry["LayerName"] for entry in lam.list_layers()["Layers"]]
    [listed] = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert listed["LayerVersionArn"] == arn
    assert lam.get_layer_version(LayerName=layer, VersionNumber=1)["Version"] == 1
    assert lam.get_layer_version_by_arn(Arn=arn)["LayerVersionArn"] == arn

    name = _name("uses-layer")
    source = "import labhelper\n\ndef handler(event, context):\n    return labhelper.GREETING\n"
    _create(lam, name, Code={"ZipFile": _zip({"app.py": source})}, Layers=[arn])
    assert _payload(lam.invoke(FunctionName=name, Payload=b"{}")) == "from a layer"

    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version(LayerName=layer, VersionNumber=1)
    lam.delete_function(FunctionName=name)


def test_account_settings(lam: Any) -> None:
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] > 0
    assert settings["AccountUsage"]["FunctionCount"] >= 0


def test_permissions(lam: Any, fn: str) -> None:
    added = lam.add_permission(
        FunctionName=fn,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::some-bucket",
    )
    assert json.loads(added["Statement"])["Sid"] == "s3-invoke"
    policy = lam.get_policy(FunctionName=fn)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s3-invoke"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.add_permission(
            FunctionName=fn, StatementId="s3-invoke", Action="lambda:*", Principal="*"
        )
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.remove_permission(FunctionName=fn, StatementId="s3-invoke", RevisionId="stale")
    lam.remove_permission(FunctionName=fn, StatementId="s3-invoke")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=fn)


# -- other services, through the same endpoint ---------------------------------------------------
def test_s3_and_sqs_reach_moto(server: EdgeServer) -> None:
    s3 = _client(server, "s3")
    bucket = _name("edge-bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"hello", Metadata={"my_key": "v"})
    got = s3.get_object(Bucket=bucket, Key="dir/a b.txt")
    assert got["Body"].read() == b"hello"
    assert got["Metadata"] == {"my_key": "v"}
    sqs = _client(server, "sqs")
    url = sqs.create_queue(QueueName=_name("edge-queue"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="ping")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "ping"


# -- the command line ----------------------------------------------------------------------------
def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_serve_subprocess_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-m", "kernel_runtime", "serve", "--port", "0", "--home", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip() if proc.stdout else ""
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        with urllib.request.urlopen(f"{url}/_lab/health", timeout=5) as answer:
            assert json.loads(answer.read()) == {"status": "ok"}
        lam = boto3.client(
            "lambda",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        name = _name("served")
        _create(lam, name)
        assert _payload(lam.invoke(FunctionName=name, Payload=b"{}"))["version"] == "v1"
        children = _descendants(proc.pid)
        assert children  # the zygote, the environment
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        _, alive = psutil.wait_procs(children, timeout=5)
        assert alive == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _aws_cli() -> str | None:
    local = Path(sys.executable).parent / "aws"
    if local.exists():
        return str(local)
    return shutil.which("aws")


@pytest.mark.skipif(_aws_cli() is None, reason="the AWS CLI is not installed")
def test_aws_cli_list_functions(server: EdgeServer, lam: Any, fn: str) -> None:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    started = time.monotonic()
    done = subprocess.run(
        [str(_aws_cli()), "lambda", "list-functions", "--endpoint-url", server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert fn in [f["FunctionName"] for f in json.loads(done.stdout)["Functions"]]
    assert time.monotonic() - started < 30
