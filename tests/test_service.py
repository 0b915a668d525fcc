"""The Lambda service through the Python front object: deployment, versions and aliases,
invocation types, concurrency and asynchronous invocation with retries and dead letters."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from kernel_runtime import InvalidRequestContentException, TooManyRequestsException
from kernel_runtime.errors import ResourceNotFoundException
from kernel_runtime.runtime import LambdaRuntime
from kernel_runtime.service._async import EventInvokeConfig
from kernel_runtime.service._policy import Limits

ECHO = """
import os
def handler(event, context):
    return {"event": event, "version": context.function_version, "tag": TAG}
TAG = "v1"
"""


@pytest.fixture(scope="module")
def lab():
    runtime = LambdaRuntime(
        clock_speed=600.0, limits=Limits(account_concurrency=50, unreserved_minimum=10)
    )
    yield runtime
    runtime.close()


def test_create_invoke_update_and_versions(lab: LambdaRuntime) -> None:
    fn = lab.create_function("echo", "app.handler", ECHO, memory_size=256)
    first = fn.invoke({"n": 1})
    assert first.result == {"event": {"n": 1}, "version": "$LATEST", "tag": "v1"}
    assert first.cold_start
    assert not fn.invoke({"n": 2}).cold_start
    version = fn.publish("first")
    assert version == "1"
    fn.update_code(ECHO.replace('"v1"', '"v2"'))
    after = fn.invoke({})
    assert after.result["tag"] == "v2" and after.cold_start  # $LATEST's environments retired
    pinned = lab.invoke("echo", {}, qualifier="1")
    assert pinned.invocation.result["tag"] == "v1" and pinned.executed_version == "1"
    assert lab.invoke("echo:1", {}).invocation.result["version"] == "1"
    with pytest.raises(ResourceNotFoundException, match="Function not found"):
        lab.invoke("nope", {})


def test_invocation_types_and_log_tail(lab: LambdaRuntime) -> None:
    lab.create_function("types", "app.handler", ECHO)
    dry = lab.invoke("types", {}, invocation_type="DryRun")
    assert dry.status_code == 204 and dry.payload == b""
    tail = lab.invoke("types", {"x": 1}, log_type="Tail")
    assert tail.status_code == 200 and tail.function_error is None
    assert b"REPORT RequestId: " + tail.request_id.encode() in base64.b64decode(tail.log_result)
    assert lab.invoke("types", {}).log_result is None
    queued = lab.invoke("types", {"async": True}, invocation_type="Event")
    assert queued.status_code == 202 and queued.payload == b""
    assert lab.service.async_invoker.wait_idle(10)
    assert lab.service.async_invoker.outcome(queued.request_id).state == "succeeded"
    warm = lab.service.pools.environments("types")
    with pytest.raises(InvalidRequestContentException):
        lab.invoke("types", b"{not json")
    assert lab.service.pools.environments("types") == warm  # refused before any environment
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert lab.invoke("types", {}, client_context=context).status_code == 200


def test_weighted_alias_splits_traffic(lab: LambdaRuntime) -> None:
    fn = lab.create_function("canary", "app.handler", ECHO)
    fn.publish()
    fn.update_code(ECHO.replace('"v1"', '"v2"'))
    fn.publish()
    fn.alias("live", "1", weights={"2": 0.3})
    versions = Counter(
        lab.invoke("canary", {}, qualifier="live").executed_version for _ in range(200)
    )
    assert set(versions) == {"1", "2"}
    assert 35 <= versions["2"] <= 85, versions  # 60 expected


def test_reserved_concurrency_and_throttles(lab: LambdaRuntime) -> None:
    fn = lab.create_function(
        "limited",
        "app.handler",
        """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "ok"
""",
    )
    fn.set_reserved_concurrency(0)
    with pytest.raises(TooManyRequestsException) as info:
        fn.invoke({})
    assert info.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    fn.set_reserved_concurrency(2)
    errors: list[Exception] = []

    def call() -> None:
        try:
            fn.invoke({"sleep": 0.5})
        except TooManyRequestsException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 2
    assert lab.service.get_function_concurrency("limited") == {"ReservedConcurrentExecutions": 2}
    settings = lab.service.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 50
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] <= 48


class _Recorder:
    """A deliverer that keeps what it was given (Boto3Deliverer is tested against moto)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, dict | None, str]] = []

    def deliver(self, target_arn, body, attributes=None, *, kind):
        self.sent.append((target_arn, json.loads(body), attributes, kind))


def test_async_failures_are_retried_then_dead_lettered(lab: LambdaRuntime) -> None:
    recorder = _Recorder()
    lab.service.deliverer = recorder
    dlq = "arn:aws:sqs:us-east-1:123456789012:dlq"
    lab.create_function(
        "flaky",
        "app.handler",
        """
def handler(event, context):
    raise ValueError("always")
""",
        dead_letter_config={"TargetArn": dlq},
    )
    started = time.monotonic()
    rid = lab.invoke("flaky", {"order": 7}, invocation_type="Event").request_id
    assert lab.service.async_invoker.wait_idle(20)
    # 1 + 2 retries at +60 s and +120 s platform time: 0.3 s real at 600x
    assert time.monotonic() - started < 10
    outcome = lab.service.async_invoker.outcome(rid)
    assert outcome.state == "dead_lettered" and outcome.attempts == 3
    target, body, attributes, kind = recorder.sent[-1]
    assert (target, body, kind) == (dlq, {"order": 7}, "dlq")
    assert attributes["RequestID"]["StringValue"] == rid
    assert attributes["ErrorCode"]["DataType"] == "Number"
    assert "always" in attributes["ErrorMessage"]["StringValue"]
    on_failure = "arn:aws:sqs:us-east-1:123456789012:failures"
    lab.service.registry.put_function_event_invoke_config(
        "flaky",
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": on_failure}},
    )
    assert (
        EventInvokeConfig.from_api(
            lab.service.registry.get_function_event_invoke_config("flaky")
        ).maximum_retry_attempts
        == 0
    )
    rid = lab.invoke("flaky", {"order": 8}, invocation_type="Event").request_id
    assert lab.service.async_invoker.wait_idle(20)
    target, record, _, kind = recorder.sent[-1]
    assert target == on_failure and kind == "destination"
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"order": 8}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"


def test_async_accounting_under_load_with_crashing_handlers(lab: LambdaRuntime) -> None:
    """Every accepted event ends in exactly one terminal state, even when handlers crash."""
    recorder = _Recorder()
    lab.service.deliverer = recorder
    dlq = "arn:aws:sqs:us-east-1:123456789012:load-dlq"
    lab.create_function(
        "chaos",
        "app.handler",
        """
import os
def handler(event, context):
    if event["kind"] == "raise":
        raise RuntimeError("planned")
    if event["kind"] == "crash":
        os._exit(9)
    return "ok"
""",
        dead_letter_config={"TargetArn": dlq},
    )
    lab.service.registry.put_function_event_invoke_config("chaos", maximum_retry_attempts=1)
    kinds = ["ok", "raise", "crash"] * 40
    ids = {lab.invoke("chaos", {"kind": k}, invocation_type="Event").request_id: k for k in kinds}
    assert len(ids) == 120
    assert lab.service.async_invoker.wait_idle(60)
    states = {rid: lab.service.async_invoker.outcome(rid).state for rid in ids}
    assert Counter(states.values()) == {"succeeded": 40, "dead_lettered": 80}
    assert all((states[rid] == "succeeded") == (kind == "ok") for rid, kind in ids.items())
    dead = [a["RequestID"]["StringValue"] for t, _, a, k in recorder.sent if t == dlq]
    assert sorted(dead) == sorted(rid for rid, k in ids.items() if k != "ok")
    assert all(lab.service.async_invoker.outcome(rid).attempts == 2 for rid in dead)


def test_handlers_reach_aws_services_through_the_endpoint(lab: LambdaRuntime) -> None:
    """Plain boto3 in a handler, no endpoint or credential code: S3 and SQS via the endpoint."""
    s3 = lab.client("s3")
    s3.create_bucket(Bucket="lab-bucket")
    lab.create_function(
        "writer",
        "app.handler",
        """
import boto3, os
def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket="lab-bucket", Key=event["key"], Body=b"from a handler")
    return {"endpoint": os.environ["AWS_ENDPOINT_URL"],
            "keys": [o["Key"] for o in s3.list_objects_v2(Bucket="lab-bucket")["Contents"]]}
""",
        timeout=30,
        memory_size=512,
    )
    out = lab.invoke("writer", {"key": "hello.txt"}).invocation
    assert out.function_error is None, out.log
    assert out.result == {"endpoint": lab.endpoint_url, "keys": ["hello.txt"]}
    assert s3.get_object(Bucket="lab-bucket", Key="hello.txt")["Body"].read() == b"from a handler"
    lam = lab.client("lambda")
    assert "writer" in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


CACHED = """
import os
import helper
def handler(event, context):
    if event.get("fail"):
        helper.fail()
    return {"file": __file__, "cached": os.path.exists(__cached__),
            "helper_cached": os.path.exists(helper.__cached__),
            "code_file": handler.__code__.co_filename}
"""


def test_code_is_compiled_once_at_deployment(lab: LambdaRuntime) -> None:
    """Environments see their code read-only, so Python cannot cache what it compiles there;
    the platform writes the bytecode beside the package when it is deployed instead."""
    fn = lab.create_function(
        "cached",
        "app.handler",
        {"app.py": CACHED, "helper.py": "def fail():\n    raise ValueError('boom')\n"},
    )
    root = Path(lab.service.registry.resolve("cached").config.task_root)
    tag = sys.implementation.cache_tag
    assert sorted(p.name for p in (root / "__pycache__").iterdir()) == [
        f"app.{tag}.pyc",
        f"helper.{tag}.pyc",
    ]
    # checked against the source's hash (PEP 552 flags 0b11), not a timestamp: merged layers
    # are copies, and mtimes of a second's resolution can coincide
    header = (root / "__pycache__" / f"app.{tag}.pyc").read_bytes()[:16]
    assert int.from_bytes(header[4:8], "little") == 3
    out = fn.invoke({}).result
    task = out["file"].rsplit("/", 1)[0]  # /var/task when mounts are isolated
    assert out == {
        "file": f"{task}/app.py",
        "cached": True,
        "helper_cached": True,
        "code_file": f"{task}/app.py",  # not the directory the package was compiled in
    }
    failed = fn.invoke({"fail": True})
    assert failed.function_error == "Unhandled"
    assert f'File "{task}/helper.py", line 2, in fail' in "".join(failed.result["stackTrace"])
    # a module that does not compile is not cached, and fails in the environment as before
    broken = lab.create_function("broken", "app.handler", "def handler(e, c):\n    return (\n")
    root = Path(lab.service.registry.resolve("broken").config.task_root)
    assert not (root / "__pycache__").exists()
    assert broken.invoke({}).result["errorType"] == "Runtime.UserCodeSyntaxError"
    # nor is one that compiles with warnings: the environment's import shows them in its log
    warns = lab.create_function(
        "warns", "app.handler", "X = 1 is 1\ndef handler(e, c):\n    return X\n"
    )
    cold = warns.invoke({})
    assert cold.result == 1
    assert 'app.py:1: SyntaxWarning: "is" with a literal' in cold.raw_log
