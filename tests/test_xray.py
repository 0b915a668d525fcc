"""Active tracing: trace headers, sampling, REPORT's XRAY line, the X-Ray daemon, the segments
the Lambda service records and trace trees.

The environment tests run real processes; a handler uses the real aws-xray-sdk, which detects
Lambda (LAMBDA_TASK_ROOT), builds a facade segment from ``_X_AMZN_TRACE_ID`` and streams its
subsegments over UDP to our daemon.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_runtime import (
    FunctionConfig,
    InvalidParameterValueException,
    LambdaRuntime,
    Sandbox,
)
from kernel_runtime._ids import continue_trace, parse_trace_header, request_and_trace
from kernel_runtime.invocation import Invocation
from kernel_runtime.observe._xray import (
    SamplingRule,
    XRayDaemon,
    platform_segments,
    trace_tree,
)

from ._functions import write_function

HEADER_RE = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])")
XRAY_RE = re.compile(
    r"\t\rXRAY TraceId: (1-[0-9a-f]{8}-[0-9a-f]{24})\tSegmentId: ([0-9a-f]{16})"
    r"\tSampled: (true|false)\t\n$"
)
CALLER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
ALL = SamplingRule(0, 1.0)
NONE = SamplingRule(0, 0.0)

TRACE_ECHO = """
import os
def handler(event, context):
    return os.environ["_X_AMZN_TRACE_ID"]
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(limits="rlimit")
    yield sb
    sb.close()


@pytest.fixture
def fn(tmp_path: Path):
    def make(source: str = TRACE_ECHO, **config: Any) -> FunctionConfig:
        root = tmp_path / f"code{len(list(tmp_path.iterdir()))}"
        return write_function(root, source, name="traced", **config)

    return make


def _invoke(sandbox: Sandbox, config: FunctionConfig, rule: SamplingRule, **kw: Any) -> Any:
    sandbox.sampling_rule = rule  # type: ignore[attr-defined]  (read when an environment starts)
    env = sandbox.create_environment(config)
    try:
        return env.invoke({}, **kw)
    finally:
        env.shutdown()


def _report(inv: Invocation) -> str:
    return next(line for line in inv.raw_log.split("\n") if line.startswith("REPORT")) + "\n"


# -- trace headers ------------------------------------------------------------------------------
def test_a_new_header_has_aws_layout_and_the_sampling_decision() -> None:
    _, sampled = request_and_trace(True)
    _, unsampled = request_and_trace()
    a, b = HEADER_RE.fullmatch(sampled), HEADER_RE.fullmatch(unsampled)
    assert a and b and a[3] == "1" and b[3] == "0"
    assert abs(int(a[1][2:10], 16) - time.time()) < 5  # the root starts with the epoch
    assert a[1] != b[1] and a[2] != b[2]


def test_parse_trace_header_takes_the_three_parts_and_ignores_the_rest() -> None:
    assert parse_trace_header(CALLER) == (
        "1-5759e988-bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        True,
    )
    assert parse_trace_header(
        "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-"
        "bd862e3fe1be46a994272793; Sampled=?;Lineage=a:1"
    ) == (
        "1-5759e988-bd862e3fe1be46a994272793",
        None,
        None,
    )
    assert parse_trace_header("Root=nonsense;Parent=xyz;Sampled=0") == (None, None, False)


def test_passthrough_only_propagates_the_callers_header() -> None:
    _, fresh = request_and_trace()
    assert continue_trace(CALLER, fresh) == CALLER  # Root, Parent and Sampled=1 kept
    root_only = continue_trace("Root=1-5759e988-bd862e3fe1be46a994272793", fresh)
    m = HEADER_RE.fullmatch(root_only)
    assert m and m[1] == "1-5759e988-bd862e3fe1be46a994272793"
    assert m[2] == fresh[48:64] and m[3] == "0"  # no decision of our own


def test_active_keeps_the_callers_root_and_decision_with_a_parent_of_its_own() -> None:
    calls: list[int] = []

    def sample() -> bool:
        calls.append(1)
        return True

    _, fresh = request_and_trace()
    m = HEADER_RE.fullmatch(continue_trace(CALLER, fresh, sample))
    assert m and m[1] == "1-5759e988-bd862e3fe1be46a994272793"
    assert m[2] == fresh[48:64] != "53995c3f42cd8ad8" and m[3] == "1"
    unsampled = CALLER.replace("Sampled=1", "Sampled=0")
    assert continue_trace(unsampled, fresh, sample).endswith("Sampled=0")
    assert calls == []  # the caller decided both times
    undecided = continue_trace("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?", fresh, sample)
    assert undecided.endswith("Sampled=1") and calls == [1]
    m = HEADER_RE.fullmatch(continue_trace("Root=bogus", fresh, lambda: False))
    assert m and m[1] == fresh[5:40] and m[3] == "0"  # an unusable root is replaced


# -- sampling -----------------------------------------------------------------------------------
def test_default_rule_is_one_request_a_second_then_five_percent_per_function() -> None:
    now = [100.2]
    draws = iter([0.01, 0.5, 0.049, 0.05, 0.9])
    rule = SamplingRule(clock=lambda: now[0], random=lambda: next(draws))
    assert (rule.reservoir_size, rule.fixed_rate) == (1, 0.05)
    assert rule.sample("a")  # the reservoir's request for this second
    assert rule.sample("b")  # another function has its own reservoir
    assert rule.sample("a")  # 0.01 < 5 %
    assert not rule.sample("a")  # 0.5
    assert rule.sample("a")  # 0.049
    now[0] = 100.9
    assert not rule.sample("a")  # 0.05: same second, reservoir spent
    now[0] = 101.0
    assert rule.sample("a")  # a new second refills the reservoir (no draw)
    assert not rule.sample("a")  # 0.9


def test_concurrent_callers_share_one_reservoir_exactly() -> None:
    """Many threads sampling in the same second take exactly ``reservoir_size`` requests
    from the reservoir (the lock-free path is only taken once it is spent)."""
    rule = SamplingRule(reservoir_size=5, fixed_rate=0.0, clock=lambda: 42.5)
    taken: list[bool] = []
    gate = threading.Barrier(8)

    def caller() -> None:
        gate.wait()
        mine = [rule.sample("f") for _ in range(2000)]
        taken.extend(mine)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 16_000 and sum(taken) == 5


def test_sampling_rule_extremes_and_bad_values() -> None:
    assert all(ALL.sample("f") for _ in range(50))
    assert not any(NONE.sample("f") for _ in range(50))
    with pytest.raises(ValueError, match="fixed_rate"):
        SamplingRule(1, 1.5)
    with pytest.raises(ValueError, match="reservoir_size"):
        SamplingRule(-1)


def test_tracing_mode_is_validated_like_aws(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException) as err:
        FunctionConfig(function_name="f", handler="app.handler", code=tmp_path, tracing_mode="On")
    assert str(err.value).endswith(
        "Value 'On' at 'tracingConfig.mode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Active, PassThrough]"
    )
    config = FunctionConfig(function_name="f", handler="app.handler", code=tmp_path)
    assert config.tracing_mode == "PassThrough"


# -- REPORT and the handler's header ------------------------------------------------------------
def test_active_sampled_request_reports_its_trace_and_the_handler_sees_the_same_ids(
    sandbox: Sandbox, fn
) -> None:
    inv = _invoke(sandbox, fn(tracing_mode="Active"), ALL)
    seen = HEADER_RE.fullmatch(inv.result)
    assert seen and seen[3] == "1" and inv.trace_id == inv.result
    report = _report(inv)
    xray = XRAY_RE.search(report)
    assert xray, report
    assert (xray[1], xray[2], xray[3]) == (seen[1], seen[2], "true")
    assert report.startswith(f"REPORT RequestId: {inv.request_id}\tDuration: ")
    assert "\tInit Duration: " in report.split("\r")[0]  # cold start, before the XRAY part
    assert "XRAY TraceId" in inv.log.splitlines()[-1]  # its own line when read


def test_active_unsampled_request_says_so_in_report(sandbox: Sandbox, fn) -> None:
    inv = _invoke(sandbox, fn(tracing_mode="Active"), NONE)
    assert inv.result.endswith("Sampled=0")
    xray = XRAY_RE.search(_report(inv))
    assert xray and xray[3] == "false"


def test_active_honours_the_callers_decision_and_root(sandbox: Sandbox, fn) -> None:
    inv = _invoke(
        sandbox,
        fn(tracing_mode="Active"),
        ALL,
        trace_header=CALLER.replace("Sampled=1", "Sampled=0"),
    )
    seen = HEADER_RE.fullmatch(inv.result)
    assert seen and seen[1] == "1-5759e988-bd862e3fe1be46a994272793"
    assert seen[2] != "53995c3f42cd8ad8" and seen[3] == "0"
    xray = XRAY_RE.search(_report(inv))
    assert xray and xray[2] == seen[2] and xray[3] == "false"


def test_passthrough_has_no_xray_line_even_when_the_caller_sampled(sandbox: Sandbox, fn) -> None:
    config = fn()
    inv = _invoke(sandbox, config, ALL, trace_header=CALLER)
    assert inv.result == CALLER
    assert "XRAY" not in inv.raw_log and _report(inv).endswith("ms\t\n")
    plain = _invoke(sandbox, config, ALL)
    assert HEADER_RE.fullmatch(plain.result)[3] == "0"  # type: ignore[index]
    assert "XRAY" not in plain.raw_log


def test_json_report_carries_the_tracing_context(sandbox: Sandbox, fn) -> None:
    inv = _invoke(sandbox, fn(tracing_mode="Active", log_format="JSON"), ALL)
    records = [json.loads(line) for line in inv.raw_log.splitlines() if line.startswith("{")]
    report = next(r for r in records if r["type"] == "platform.report")
    tracing = report["record"]["tracing"]
    assert tracing["type"] == "X-Amzn-Trace-Id" and tracing["value"] == inv.result
    _, function = platform_segments(inv, region="us-east-1", account_id="123456789012")
    invocation = next(s for s in function["subsegments"] if s["name"] == "Invocation")
    assert tracing["spanId"] == invocation["id"]  # the span is the Invocation subsegment


def test_the_function_api_sets_the_mode_the_environments_use(tmp_path: Path) -> None:
    with LambdaRuntime(endpoint=False, home=tmp_path / "home", limits_backend="rlimit") as rt:
        rt.sandbox.sampling_rule = ALL  # type: ignore[attr-defined]
        fn = rt.create_function(
            "traced", "app.handler", {"app.py": TRACE_ECHO}, tracing_config={"Mode": "Active"}
        )
        assert fn.configuration["TracingConfig"] == {"Mode": "Active"}
        assert XRAY_RE.search(_report(fn.invoke({})))
        fn.configure(tracing_config={"Mode": "PassThrough"})
        assert "XRAY" not in fn.invoke({}).raw_log


# -- the daemon ---------------------------------------------------------------------------------
def _wait_for(items: list[Any], count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(items) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def _send(address: str, data: bytes) -> None:
    host, port = address.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, (host, int(port)))


GOOD = {
    "name": "svc",
    "id": "70de5b6f19ff9a0a",
    "trace_id": "1-581cf771-a006649127e371903a2de979",
    "start_time": 1478293361.271,
    "end_time": 1478293361.449,
}


def test_daemon_hands_on_documents_and_ignores_garbage(caplog: pytest.LogCaptureFixture) -> None:
    got: list[dict[str, Any]] = []
    caplog.set_level(logging.DEBUG, logger="kernel_runtime.observe._xray")
    with XRayDaemon(on_segment=got.append) as daemon:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", daemon.address) and daemon.port > 0
        header = b'{"format": "json", "version": 1}\n'
        for garbage in (
            b"no header line at all",
            b'{"format": "xml", "version": 1}\n' + json.dumps(GOOD).encode(),
            header + b"{not json",
            header + b"\xff\xfe",
            header + json.dumps({**GOOD, "id": "short"}).encode(),
            header + json.dumps({k: v for k, v in GOOD.items() if k != "end_time"}).encode(),
            header + json.dumps({**GOOD, "type": "subsegment"}).encode(),  # no parent_id
        ):
            _send(daemon.address, garbage)
        in_progress = {k: v for k, v in GOOD.items() if k != "end_time"} | {"in_progress": True}
        _send(daemon.address, b'{"format":"json","version":1}\n' + json.dumps(in_progress).encode())
        _send(daemon.address, header + json.dumps(GOOD).encode())
        _wait_for(got, 2)
        assert got == [in_progress, GOOD]
        assert (daemon.received, daemon.rejected) == (2, 7)
    assert "ignored a datagram" in caplog.text and "id is not 16 hex digits" in caplog.text


def test_daemon_survives_a_failing_consumer_and_closes_promptly() -> None:
    got: list[dict[str, Any]] = []

    def consumer(doc: dict[str, Any]) -> None:
        got.append(doc)
        if len(got) == 1:
            raise RuntimeError("consumer bug")

    daemon = XRayDaemon(on_segment=consumer)
    line = b'{"format":"json","version":1}\n' + json.dumps(GOOD).encode()
    _send(daemon.address, line)
    _send(daemon.address, line)
    _wait_for(got, 2)
    assert len(got) == 2
    t0 = time.perf_counter()
    daemon.close()
    daemon.close()
    assert time.perf_counter() - t0 < 1.0 and not daemon._thread.is_alive()


def test_daemon_without_a_consumer_keeps_documents() -> None:
    with XRayDaemon() as daemon:
        _send(daemon.address, b'{"format":"json","version":1}\n' + json.dumps(GOOD).encode())
        _wait_for(daemon.documents, 1)  # type: ignore[arg-type]
        assert list(daemon.documents) == [GOOD]


SDK_HANDLER = """
from aws_xray_sdk.core import xray_recorder

def handler(event, context):
    outer = xray_recorder.begin_subsegment("outer")
    xray_recorder.begin_subsegment("inner")
    xray_recorder.end_subsegment()
    xray_recorder.end_subsegment()
    return {"outer": outer.id}
"""


def test_a_handlers_sdk_segments_reach_the_daemon_and_hang_under_the_function(
    sandbox: Sandbox, fn
) -> None:
    got: list[dict[str, Any]] = []
    with XRayDaemon(on_segment=got.append) as daemon:
        config = fn(
            SDK_HANDLER,
            tracing_mode="Active",
            environment={"AWS_XRAY_DAEMON_ADDRESS": daemon.address},
        )
        inv = _invoke(sandbox, config, ALL)
        assert inv.function_error is None, inv.result
        _wait_for(got, 2)
    root, parent, _ = parse_trace_header(inv.trace_id)
    inner, outer = got  # each closed subsegment streams on its own, innermost first
    assert (inner["name"], outer["name"]) == ("inner", "outer")
    assert inner["type"] == outer["type"] == "subsegment"
    assert inner["trace_id"] == outer["trace_id"] == root
    assert outer["parent_id"] == parent and inner["parent_id"] == outer["id"]
    assert outer["id"] == inv.result["outer"]

    documents = platform_segments(
        inv, function_arn=config.function_arn, region="us-east-1", account_id="123456789012"
    )
    service, function = documents
    assert function["id"] == parent and function["parent_id"] == service["id"]
    tree = trace_tree([*got, *documents])
    assert tree["trace_id"] == root and [r["id"] for r in tree["roots"]] == [service["id"]]
    (fn_node,) = tree["roots"][0]["children"]
    assert fn_node["origin"] == "AWS::Lambda::Function"
    names = [c["name"] for c in fn_node["children"]]
    assert names == ["Initialization", "Invocation", "Overhead"]
    invocation = fn_node["children"][1]
    assert [c["name"] for c in invocation["children"]] == ["outer"]
    assert [c["name"] for c in invocation["children"][0]["children"]] == ["inner"]
    assert invocation["start_time"] <= outer["start_time"] <= outer["end_time"]
    assert outer["end_time"] <= invocation["end_time"] + 0.001


# -- the platform's segments --------------------------------------------------------------------
def _record(**changes: Any) -> Invocation:
    fields: dict[str, Any] = {
        "request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678",
        "function_name": "orders",
        "function_version": "$LATEST",
        "environment_id": "e" * 32,
        "log_stream_name": "2024/01/01/[$LATEST]" + "e" * 32,
        "payload": b'{"ok":true}',
        "function_error": None,
        "error_type": None,
        "status": "success",
        "cold_start": False,
        "initialization_type": "on-demand",
        "init_duration_ms": None,
        "duration_ms": 20.0,
        "billed_duration_ms": 20,
        "memory_size_mb": 128,
        "max_memory_used_mb": 40,
        "started_at": 1700000000.5,
        "finished_at": 1700000000.525,
        "trace_id": "Root=1-65536b80-0123456789abcdef01234567;Parent=1111222233334444;Sampled=1",
        "raw_log": "",
    }
    fields.update(changes)
    return Invocation(**fields)


def _segments(inv: Invocation, **kw: Any) -> list[dict[str, Any]]:
    return platform_segments(inv, region="eu-west-1", account_id="210987654321", **kw)


def test_warm_invocation_segments() -> None:
    service, function = _segments(_record())
    arn = "arn:aws:lambda:eu-west-1:210987654321:function:orders"
    assert service["origin"] == "AWS::Lambda" and function["origin"] == "AWS::Lambda::Function"
    assert service["name"] == function["name"] == "orders"
    assert service["trace_id"] == function["trace_id"] == "1-65536b80-0123456789abcdef01234567"
    assert service["http"] == {"response": {"status": 200}}
    assert service["aws"] == {"request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678"}
    assert service["resource_arn"] == arn and "parent_id" not in service
    assert function["id"] == "1111222233334444" and function["parent_id"] == service["id"]
    assert function["aws"] == {
        "account_id": "210987654321",
        "function_arn": arn,
        "resource_names": ["orders"],
    }
    invocation, overhead = function["subsegments"]
    assert (invocation["name"], overhead["name"]) == ("Invocation", "Overhead")
    assert function["start_time"] == invocation["start_time"] == 1700000000.5
    assert invocation["end_time"] == pytest.approx(1700000000.52)
    assert overhead["start_time"] == invocation["end_time"]
    assert overhead["end_time"] == function["end_time"] == service["end_time"] == 1700000000.525
    ids = [service["id"], function["id"], invocation["id"], overhead["id"]]
    assert len(set(ids)) == 4 and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert not any(k in function for k in ("fault", "error", "cause"))
    assert _segments(_record()) == [service, function]  # stable ids


def test_cold_invocation_puts_initialization_first() -> None:
    _, function = _segments(_record(cold_start=True, init_duration_ms=250.0))
    init, invocation, _ = function["subsegments"]
    assert init["name"] == "Initialization"
    assert init["start_time"] == function["start_time"] == pytest.approx(1700000000.25)
    assert init["end_time"] == invocation["start_time"] == 1700000000.5


def test_function_error_is_a_fault_with_its_cause() -> None:
    inv = _record(
        payload=b'{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}',
        function_error="Unhandled",
        error_type="ValueError",
        status="error",
    )
    service, function = _segments(inv)
    invocation = function["subsegments"][0]
    assert function["fault"] is True and invocation["fault"] is True
    (exc,) = function["cause"]["exceptions"]
    assert (exc["type"], exc["message"]) == ("ValueError", "boom")
    assert service["http"]["response"]["status"] == 200 and "fault" not in service
    timeout = _record(
        payload=b'{"errorMessage":"Task timed out after 3.00 seconds",'
        b'"errorType":"Sandbox.Timedout"}',
        function_error="Unhandled",
        error_type="Sandbox.Timedout",
        status="timeout",
    )
    assert _segments(timeout)[1]["cause"]["exceptions"][0]["type"] == "Sandbox.Timedout"


def test_unsampled_published_and_called_invocations() -> None:
    unsampled = _record(trace_id=_record().trace_id.replace("Sampled=1", "Sampled=0"))
    assert _segments(unsampled) == []
    assert _segments(unsampled, sampled=True)  # the caller's word wins over the header
    service, _ = _segments(_record(function_version="3"), parent_id="53995c3f42cd8ad8")
    assert service["resource_arn"].endswith(":function:orders:3")
    assert service["parent_id"] == "53995c3f42cd8ad8"


# -- trace trees --------------------------------------------------------------------------------
def test_a_trace_across_two_functions_joins_by_trace_id() -> None:
    caller = _record(
        cold_start=True, init_duration_ms=100.0, finished_at=1700000000.6, duration_ms=90.0
    )
    root, caller_segment, _ = parse_trace_header(caller.trace_id)
    invoke_call = {  # what the SDK in the caller's handler streams for lambda.invoke
        "id": "5555666677778888",
        "name": "Lambda",
        "namespace": "aws",
        "type": "subsegment",
        "trace_id": root,
        "parent_id": caller_segment,
        "start_time": 1700000000.51,
        "end_time": 1700000000.58,
    }
    _, fresh = request_and_trace()
    callee_header = continue_trace(
        f"Root={root};Parent={invoke_call['id']};Sampled=1", fresh, lambda: False
    )
    callee = _record(
        function_name="payments",
        request_id="0b5ba8c3-3b9a-4c66-8f5e-000000000001",
        trace_id=callee_header,
        started_at=1700000000.52,
        finished_at=1700000000.57,
        duration_ms=40.0,
    )
    in_flight = dict(invoke_call, in_progress=True)
    del in_flight["end_time"]
    documents = [
        *_segments(callee, parent_id=invoke_call["id"]),
        invoke_call,
        in_flight,  # arrives late: the completed document is kept
        *_segments(caller),
        {**invoke_call, "trace_id": "1-65536b80-ffffffffffffffffffffffff", "id": "9" * 16},
    ]
    tree = trace_tree(documents, trace_id=root)
    assert tree["start_time"] == pytest.approx(1700000000.4)
    assert tree["end_time"] == 1700000000.6
    (caller_service,) = tree["roots"]
    (caller_fn,) = caller_service["children"]
    invocation = next(c for c in caller_fn["children"] if c["name"] == "Invocation")
    (call,) = invocation["children"]
    assert call["id"] == "5555666677778888" and "in_progress" not in call
    (callee_service,) = call["children"]
    assert callee_service["origin"] == "AWS::Lambda" and callee_service["name"] == "payments"
    (callee_fn,) = callee_service["children"]
    assert [c["name"] for c in callee_fn["children"]] == ["Invocation", "Overhead"]
    with pytest.raises(ValueError, match="several traces"):
        trace_tree(documents)
