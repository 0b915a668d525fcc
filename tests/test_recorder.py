"""The runtime records what happened into its store: invocations (sync, async, event source
mappings), throttles, lifecycle, metrics and X-Ray segments, and the store outlives the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel_runtime import LambdaRuntime, TooManyRequestsException
from kernel_runtime.observe import Store, trace_tree

from ._functions import eventually

pytestmark = pytest.mark.timeout(120)

HELLO = "print('init')\ndef handler(event, context):\n    print('hello', event)\n    return 1\n"
SLEEPY = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 1\n"
TRACED = """
from aws_xray_sdk.core import xray_recorder

def handler(event, context):
    with xray_recorder.in_subsegment("work") as sub:
        sub.put_annotation("order", 7)
    return 1
"""


def test_invocations_lifecycle_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with LambdaRuntime(store=path) as lab:
        lab.create_function("hello", "app.handler", HELLO)
        sync = lab.invoke("hello", {"n": 1})
        lab.invoke("hello", {"n": 2}, invocation_type="Event")
        eventually(lambda: len(lab.store.invocations(function="hello")) == 2)
        rows = lab.store.invocations(function="hello")
        assert [bool(r["cold_start"]) for r in rows] == [True, False]
        assert rows[0]["request_id"] == sync.request_id
        assert rows[0]["function_arn"].endswith(":function:hello")
        env_id = rows[0]["environment_id"]
        states = [e["state"] for e in lab.store.lifecycle(environment_id=env_id)]
        assert states[:3] == ["INITIALIZING", "READY", "BUSY"]
        messages = [e["message"] for e in lab.store.log_events("/aws/lambda/hello")]
        assert any(m.startswith("hello {'n': 1}") for m in messages)
        assert any(m.startswith("REPORT RequestId: " + sync.request_id) for m in messages)
    # the runtime is gone (its environments shut down); the store file stays
    reopened = Store(path)
    try:
        assert len(reopened.invocations(function="hello")) == 2
        states = [e["state"] for e in reopened.lifecycle(environment_id=env_id)]
        assert states[-1] == "DEAD"
    finally:
        reopened.close()


def test_throttles_are_recorded(tmp_path: Path) -> None:
    with LambdaRuntime(store=tmp_path / "s.sqlite3") as lab:
        fn = lab.create_function("sleepy", "app.handler", SLEEPY)
        fn.set_reserved_concurrency(1)
        import threading

        first = threading.Thread(target=lab.invoke, args=("sleepy", {}))
        first.start()
        eventually(lambda: any(e.state == "BUSY" for e in fn.environments()))
        with pytest.raises(TooManyRequestsException):
            lab.invoke("sleepy", {})
        first.join()
        (throttle,) = lab.store.throttles(function="sleepy")
        assert throttle["reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_store_false_records_nothing(tmp_path: Path) -> None:
    with LambdaRuntime(store=False, endpoint=False) as lab:
        assert lab.store is None and lab.xray is None
        lab.create_function("hello", "app.handler", HELLO)
        assert lab.invoke("hello", {}).status_code == 200


def test_active_tracing_joins_platform_and_handler_segments(tmp_path: Path) -> None:
    from kernel_runtime.observe import SamplingRule

    with LambdaRuntime(store=tmp_path / "s.sqlite3", endpoint=False) as lab:
        lab.sandbox.sampling_rule = SamplingRule(0, 1.0)  # sample every request
        lab.create_function(
            "traced",
            "app.handler",
            TRACED,
            tracing_config={"Mode": "Active"},
            memory_size=1769,
        )
        inv = lab.invoke("traced", {}).invocation
        assert inv is not None
        root = inv.trace_id.split(";")[0].removeprefix("Root=")
        assert "XRAY TraceId: " + root in inv.log

        def tree() -> dict | None:
            docs = lab.store.segments(root)
            names = {d.get("name") for d in docs}
            return trace_tree(docs) if "work" in json.dumps(docs) and len(names) >= 2 else None

        found = eventually(tree)
        origins = [node.get("origin") for node in found["roots"]]
        assert "AWS::Lambda" in origins

        def path_to(node: dict, name: str) -> list[dict] | None:
            if node.get("name") == name:
                return [node]
            for child in node.get("children", []):
                below = path_to(child, name)
                if below:
                    return [node, *below]
            return None

        (path,) = [p for r in found["roots"] if (p := path_to(r, "work"))]
        # AWS::Lambda -> AWS::Lambda::Function -> Invocation -> the handler's subsegment
        assert [n.get("origin") or n["name"] for n in path] == [
            "AWS::Lambda",
            "AWS::Lambda::Function",
            "Invocation",
            "work",
        ]
        assert path[-1]["annotations"] == {"order": 7}


CALLER = """
import boto3


lam = boto3.client("lambda")

def handler(event, context):
    lam.invoke(FunctionName="callee", Payload=b"{}")
    lam.invoke(FunctionName="callee", Payload=b"{}", InvocationType="Event")
    return 1
"""


def test_a_trace_spans_a_chain_of_functions(tmp_path: Path) -> None:
    """A function invoking another (sync, and async through the queue) continues its trace:
    botocore sends the caller's _X_AMZN_TRACE_ID as X-Amzn-Trace-Id."""
    from kernel_runtime.observe import SamplingRule

    with LambdaRuntime(store=tmp_path / "s.sqlite3") as lab:
        lab.sandbox.sampling_rule = SamplingRule(0, 1.0)
        active = {"tracing_config": {"Mode": "Active"}, "memory_size": 1769}
        lab.create_function("caller", "app.handler", CALLER, timeout=30, **active)
        lab.create_function("callee", "app.handler", HELLO, **active)
        outer = lab.invoke("caller", {}).invocation
        assert outer is not None and outer.function_error is None, outer.log
        root = outer.trace_id.split(";")[0]
        calls = eventually(
            lambda: (rows := lab.store.invocations(function="callee")) and len(rows) == 2 and rows
        )
        assert [r["trace_id"].split(";")[0] for r in calls] == [root, root]
        # each callee's Parent is a segment of the caller's trace, not the caller's own id
        assert all(r["trace_id"] != outer.trace_id for r in calls)
