"""AWS/Lambda metrics computed from the store (kernel_runtime.observe._metrics) and the CloudWatch
reads the edge answers with them (kernel_runtime.api._cloudwatch): GetMetricStatistics,
GetMetricData (percentiles, metric math), ListMetrics, through boto3."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kernel_runtime import LambdaRuntime, TooManyRequestsException
from kernel_runtime.clock import PlatformClock
from kernel_runtime.invocation import Invocation
from kernel_runtime.observe import LambdaMetrics, Store

pytestmark = pytest.mark.timeout(120)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
T0 = 1_800_000_000.0  # a period start for every period used below (multiple of 3600)


def inv(
    n: int,
    *,
    function: str = "orders",
    at: float,
    duration: float = 5.0,
    error: bool = False,
    cold: bool = False,
    version: str = "$LATEST",
    init_type: str = "on-demand",
) -> Invocation:
    rid = f"00000000-0000-4000-8000-{n:012d}"
    return Invocation(
        request_id=rid,
        function_name=function,
        function_version=version,
        environment_id=f"env-{n}",
        log_stream_name="2025/11/27/[$LATEST]3893a6b87fac4485b47bb75b671a283c",
        payload=b"1",
        function_error="Unhandled" if error else None,
        error_type="ValueError" if error else None,
        status="error" if error else "success",
        cold_start=cold,
        initialization_type=init_type,
        init_duration_ms=200.0 if cold else None,
        duration_ms=duration,
        billed_duration_ms=math.ceil(duration),
        memory_size_mb=128,
        max_memory_used_mb=40,
        started_at=at,
        finished_at=at + duration / 1000,
        trace_id="Root=1-6928a9dc-0123456789abcdef01234567",
        raw_log="",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.sqlite3", flush_interval=0.05)
    yield s
    s.close()


def values(points: list[tuple[float, float]]) -> list[float]:
    return [v for _, v in points]


# -- semantics, from a bare store ---------------------------------------------------------------
def test_invocation_metrics_follow_aws_semantics(store: Store) -> None:
    record = store.record_invocation
    record(inv(0, at=T0 + 1, cold=True, duration=10.0), function_arn=ARN + "orders")
    record(inv(1, at=T0 + 2, error=True, duration=30.0), function_arn=ARN + "orders")
    record(inv(2, at=T0 + 3, duration=20.0, version="3"), function_arn=ARN + "orders:live")
    record(inv(3, function="other", at=T0 + 4), function_arn=ARN + "other")
    store.record_throttle("orders", qualifier="$LATEST", at=T0 + 5)
    metrics = LambdaMetrics(store)
    orders = {"FunctionName": "orders"}

    assert values(metrics.points("Invocations", orders)) == [1.0, 1.0, 1.0]  # throttle excluded
    assert values(metrics.points("Errors", orders)) == [0.0, 1.0, 0.0]
    # a throttle counts 1, an invocation 0: a period of traffic without throttles reads 0
    assert values(metrics.points("Throttles", orders)) == [0.0, 0.0, 0.0, 1.0]
    assert values(metrics.points("Duration", orders)) == [10.0, 30.0, 20.0]
    assert values(metrics.points("ColdStarts", orders)) == [1.0, 0.0, 0.0]  # ours, not AWS's
    assert values(metrics.points("InitDuration", orders)) == [200.0]
    assert len(metrics.points("Invocations")) == 4  # the account: every function
    assert sum(values(metrics.points("Throttles"))) == 1.0
    # Resource (the alias or version addressed) and ExecutedVersion (what ran)
    live = {"FunctionName": "orders", "Resource": "orders:live"}
    assert values(metrics.points("Duration", live)) == [20.0]
    assert values(metrics.points("Invocations", {**orders, "ExecutedVersion": "3"})) == [1.0]
    # a dimension set Lambda does not publish has no data, as in CloudWatch
    assert metrics.points("Invocations", {"Function": "orders"}) == []
    assert metrics.points("UnreservedConcurrentExecutions", orders) == []
    # time range: [start, end)
    assert values(metrics.points("Duration", orders, T0 + 2, T0 + 3)) == [30.0]


def test_statistics_use_periods_and_percentiles(store: Store) -> None:
    for n in range(100):
        store.record_invocation(inv(n, at=T0 + n, duration=float(n + 1)))
    metrics = LambdaMetrics(store)
    (point,) = metrics.statistics(
        "AWS/Lambda",
        "Duration",
        {"FunctionName": "orders"},
        T0,
        T0 + 3600,
        3600,
        ["Average", "SampleCount", "p50", "p99"],
    )
    assert point.values == {"Average": 50.5, "SampleCount": 100.0, "p50": 50.0, "p99": 99.0}
    two = metrics.statistics("AWS/Lambda", "Invocations", None, T0, T0 + 120, 60, ["Sum"])
    assert [(p.timestamp, p.values["Sum"]) for p in two] == [(T0, 60.0), (T0 + 60, 40.0)]
    # a unit the metric does not have: no datapoints (CloudWatch's answer)
    assert metrics.statistics("AWS/Lambda", "Duration", None, T0, T0 + 60, 60, ["Sum"],
                              unit="Count") == []  # fmt: skip


def test_concurrency_counts_overlapping_executions_per_second(store: Store) -> None:
    # three executions overlap in second T0 (two from an init + invoke), one runs alone later
    store.record_invocation(inv(0, at=T0 + 0.1, duration=500.0))
    store.record_invocation(inv(1, at=T0 + 0.4, duration=300.0, cold=True))  # init from T0+0.2
    store.record_invocation(inv(2, at=T0 + 0.45, duration=10.0))
    store.record_invocation(inv(3, at=T0 + 3.5, duration=10.0))
    store.record_invocation(inv(4, function="capped", at=T0 + 0.4, duration=100.0))
    pools = SimpleNamespace(
        reserved=lambda fn: 5 if fn == "capped" else None, provisioned=lambda fn, q: None
    )
    metrics = LambdaMetrics(store, pools)
    orders = dict(metrics.points("ConcurrentExecutions", {"FunctionName": "orders"}))
    assert orders == {T0: 3.0, T0 + 3: 1.0}
    account = dict(metrics.points("ConcurrentExecutions"))
    assert account[T0] == 4.0
    # reserved functions are not in the unreserved pool
    assert dict(metrics.points("UnreservedConcurrentExecutions"))[T0] == 3.0


def test_provisioned_concurrency_metrics(store: Store) -> None:
    live = ARN + "orders:live"
    pc = "provisioned-concurrency"
    store.record_invocation(inv(0, at=T0 + 0.1, duration=800.0, init_type=pc), function_arn=live)
    store.record_invocation(inv(1, at=T0 + 0.2, duration=100.0, init_type=pc), function_arn=live)
    store.record_invocation(inv(2, at=T0 + 0.3, duration=100.0), function_arn=live)  # spillover
    store.record_invocation(inv(3, at=T0 + 0.4, duration=100.0), function_arn=ARN + "orders")
    status = SimpleNamespace(allocated=4, requested=4)
    pools = SimpleNamespace(
        reserved=lambda fn: None,
        provisioned=lambda fn, q: status if (fn, q) == ("orders", "live") else None,
    )
    metrics = LambdaMetrics(store, pools)
    resource = {"FunctionName": "orders", "Resource": "orders:live"}
    assert len(metrics.points("ProvisionedConcurrencyInvocations", resource)) == 2
    assert len(metrics.points("ProvisionedConcurrencySpilloverInvocations", resource)) == 1
    assert dict(metrics.points("ProvisionedConcurrentExecutions", resource)) == {T0: 2.0}
    assert dict(metrics.points("ProvisionedConcurrencyUtilization", resource)) == {T0: 0.5}
    # $LATEST has no provisioned concurrency: its on-demand invoke is no spillover
    orders = {"FunctionName": "orders"}
    assert len(metrics.points("ProvisionedConcurrencySpilloverInvocations", orders)) == 1


def test_metric_time_is_platform_time(store: Store) -> None:
    """At clock speed 60 one real second of invocations is one minute of metrics."""
    clock = PlatformClock(60)
    try:
        wall, platform = time.time(), clock.now()  # the same instant on both clocks
        store.record_invocation(inv(0, at=wall - 2.0))  # two real seconds ago
        store.record_invocation(inv(1, at=wall - 1.0))
        time.sleep(0.1)  # six platform seconds: the mapping does not drift with time
        metrics = LambdaMetrics(store, clock=clock)
        (first, second) = [t for t, _ in metrics.points("Invocations")]
        assert first == pytest.approx(platform - 120.0, abs=0.5)  # two platform minutes ago
        assert second - first == pytest.approx(60.0, abs=0.01)
        ((later, _),) = metrics.points("Invocations", start=platform - 90.0)
        assert later == pytest.approx(second, abs=0.5)
    finally:
        clock.close()


def test_recorded_and_emf_points(store: Store) -> None:
    store.record_metric("AWS/Lambda", "AsyncEventsReceived", 1, dimensions={"FunctionName": "a"},
                        timestamp=T0 + 1)  # fmt: skip
    store.record_metric("AWS/Lambda", "AsyncEventsReceived", 1, dimensions={"FunctionName": "b"},
                        timestamp=T0 + 2)  # fmt: skip
    store.record_metric("Shop", "Orders", 3, dimensions={"Service": "cart"}, unit="Count",
                        timestamp=T0 + 3)  # fmt: skip
    metrics = LambdaMetrics(store)
    assert len(metrics.points("AsyncEventsReceived", {"FunctionName": "a"})) == 1
    assert len(metrics.points("AsyncEventsReceived")) == 2  # account-wide
    shop = metrics.metric_points("Shop", "Orders", {"Service": "cart"})
    assert shop == [(T0 + 3, 3.0)]
    assert metrics.metric_points("Shop", "Orders", {"Service": "cart"}, unit="Seconds") == []
    assert metrics.unit("Shop", "Orders", {"Service": "cart"}) == "Count"
    assert metrics.has_namespace("Shop") and not metrics.has_namespace("Nope")
    listed = metrics.list_metrics("Shop", since=0)
    assert listed == [
        {
            "Namespace": "Shop",
            "MetricName": "Orders",
            "Dimensions": [{"Name": "Service", "Value": "cart"}],
        }
    ]


# -- through boto3, against a live runtime -----------------------------------------------------
OK = "def handler(event, context):\n    return 1\n"
BAD = "def handler(event, context):\n    raise ValueError('boom')\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.4)\n    return 1\n"
EMF = """
import json, time

def handler(event, context):
    print(json.dumps({
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": "Shop", "Dimensions": [["Service"]],
            "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
        "Service": "cart", "Orders": event["n"]}))
    return 1
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    with LambdaRuntime(store=tmp_path_factory.mktemp("metrics") / "s.sqlite3") as runtime:
        runtime.create_function("ok", "app.handler", OK)
        runtime.create_function("bad", "app.handler", BAD)
        runtime.create_function("emf", "app.handler", EMF)
        slow = runtime.create_function("slow", "app.handler", SLOW)
        for _ in range(4):
            runtime.invoke("ok", {})
        for _ in range(2):
            runtime.invoke("bad", {})
        runtime.invoke("emf", {"n": 5})
        runtime.invoke("emf", {"n": 7})
        ok = runtime.function("ok")
        ok.alias("live", ok.publish())
        runtime.invoke("ok", {}, qualifier="live")
        # two overlapping executions of `slow`, then a throttle once it is capped at 1
        barrier = threading.Barrier(2)

        def run() -> None:
            barrier.wait()
            runtime.invoke("slow", {})

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        slow.set_reserved_concurrency(1)
        busy = threading.Thread(target=runtime.invoke, args=("slow", {}))
        busy.start()
        deadline = time.monotonic() + 10
        while not any(e.state == "BUSY" for e in slow.environments()):
            assert time.monotonic() < deadline, "slow never became busy"
            time.sleep(0.01)
        with pytest.raises(TooManyRequestsException):
            runtime.invoke("slow", {})
        busy.join()
        yield runtime


@pytest.fixture(scope="module")
def cw(lab: LambdaRuntime) -> Any:
    from botocore.config import Config

    return lab.client("cloudwatch", config=Config(retries={"max_attempts": 1}))


def window() -> dict[str, datetime]:
    now = datetime.now(timezone.utc)
    return {"StartTime": now - timedelta(hours=1), "EndTime": now + timedelta(minutes=10)}


def total(cw: Any, metric: str, function: str | None = None, **extra: Any) -> float:
    dims = [{"Name": "FunctionName", "Value": function}] if function else []
    out = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, Period=60,
        Statistics=["Sum"], **window(), **extra,
    )  # fmt: skip
    return sum(p["Sum"] for p in out["Datapoints"])


def test_sums_match_what_was_invoked(cw: Any) -> None:
    assert total(cw, "Invocations", "ok") == 5  # 4 unqualified + 1 through the alias
    assert total(cw, "Errors", "ok") == 0
    assert total(cw, "Invocations", "bad") == 2
    assert total(cw, "Errors", "bad") == 2
    assert total(cw, "Invocations", "slow") == 3  # the throttled request is not an invocation
    assert total(cw, "Throttles", "slow") == 1
    assert total(cw, "Invocations") == 5 + 2 + 2 + 3  # the account
    assert total(cw, "Errors") == 2
    live = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Period=60, Statistics=["Sum"],
        Dimensions=[{"Name": "FunctionName", "Value": "ok"},
                    {"Name": "Resource", "Value": "ok:live"}], **window(),
    )  # fmt: skip
    assert [p["Sum"] for p in live["Datapoints"]] == [1.0]
    assert live["Datapoints"][0]["Unit"] == "Count"


def test_duration_percentiles(lab: LambdaRuntime, cw: Any) -> None:
    out = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Period=3600,
        Dimensions=[{"Name": "FunctionName", "Value": "ok"}],
        ExtendedStatistics=["p50", "p99"], Statistics=["Maximum"], **window(),
    )  # fmt: skip
    by_hour: dict[float, list[float]] = {}
    for row in lab.store.invocations(function="ok"):
        by_hour.setdefault(math.floor(row["started_at"] / 3600) * 3600, []).append(
            row["duration_ms"]
        )
    assert len(out["Datapoints"]) == len(by_hour)
    for point in out["Datapoints"]:
        durations = sorted(by_hour[point["Timestamp"].timestamp()])
        n = len(durations)
        assert point["ExtendedStatistics"]["p50"] == durations[math.ceil(0.5 * n) - 1]
        assert point["ExtendedStatistics"]["p99"] == durations[math.ceil(0.99 * n) - 1]
        assert point["Maximum"] == durations[-1]
        assert point["Unit"] == "Milliseconds"


def test_concurrent_executions_maximum(cw: Any) -> None:
    out = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="ConcurrentExecutions", Period=3600,
        Dimensions=[{"Name": "FunctionName", "Value": "slow"}], Statistics=["Maximum"],
        **window(),
    )  # fmt: skip
    assert max(p["Maximum"] for p in out["Datapoints"]) == 2.0


def test_get_metric_data_percentile_and_expressions(lab: LambdaRuntime, cw: Any) -> None:
    def stat(query_id: str, metric: str, statistic: str, **extra: Any) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric},
                "Period": 86400,
                "Stat": statistic,
            },
            **extra,
        }

    now = time.time()
    day = math.floor(now / 86400) * 86400
    start = datetime.fromtimestamp(day if now - day > 600 else day - 86400, timezone.utc)
    end = datetime.fromtimestamp(day + 86400, timezone.utc)
    out = cw.get_metric_data(
        MetricDataQueries=[
            stat("inv", "Invocations", "Sum", ReturnData=False),
            stat("err", "Errors", "Sum", ReturnData=False),
            {"Id": "rate", "Expression": "100 * err / inv", "Label": "Error rate (%)"},
            stat("p90", "Duration", "p90"),
            {"Id": "both", "Expression": "SUM(METRICS('er')) + SUM([inv])"},
            {"Id": "nan", "Expression": "err / (inv - inv)"},
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"rate", "p90", "both", "nan"}  # ReturnData false: not returned
    assert results["rate"]["Label"] == "Error rate (%)"
    assert sum(results["rate"]["Values"]) == pytest.approx(100 * 2 / 12)
    durations = sorted(r["duration_ms"] for r in lab.store.invocations())
    assert results["p90"]["Values"] == [durations[math.ceil(0.9 * len(durations)) - 1]]
    assert results["p90"]["Label"] == "Duration"
    assert results["both"]["Values"] == [2.0 + 12.0]
    assert results["nan"]["Values"] == []  # division by zero: dropped, and said so
    assert results["nan"]["Messages"][0]["Code"] == "ArithmeticError"
    assert all(r["StatusCode"] == "Complete" for r in out["MetricDataResults"])


def test_get_metric_data_refuses_what_it_cannot_do(cw: Any) -> None:
    def error(queries: list[dict[str, Any]]) -> dict[str, str]:
        with pytest.raises(ClientError) as info:
            cw.get_metric_data(MetricDataQueries=queries, **window())
        return info.value.response["Error"]

    metric = {"Namespace": "AWS/Lambda", "MetricName": "Errors"}
    m1 = {"Id": "m1", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}
    rate = error([m1, {"Id": "e1", "Expression": "RATE(m1)"}])
    assert rate["Code"] == "ValidationError" and "RATE" in rate["Message"]
    unknown = error([m1, {"Id": "e1", "Expression": "m1 + m7"}])
    assert unknown["Code"] == "ValidationError" and "m7" in unknown["Message"]
    bad_stat = error([{"Id": "m1", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "p1x"}}])
    assert bad_stat["Code"] == "InvalidParameterValue"
    assert bad_stat["Message"] == (
        "The value p1x for parameter MetricDataQueries.member.1.MetricStat.Stat is not supported."
    )
    bad_id = error([{**m1, "Id": "M1"}])
    assert bad_id["Code"] == "ValidationError"


def test_get_metric_data_pages_with_max_datapoints(cw: Any) -> None:
    def query(query_id: str, metric: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric},
                "Period": 86400,
                "Stat": "SampleCount",
            },
        }

    day = math.floor(time.time() / 86400) * 86400
    request = {
        "MetricDataQueries": [query("d", "Duration"), query("i", "Invocations")],
        "StartTime": datetime.fromtimestamp(day - 86400, timezone.utc),
        "EndTime": datetime.fromtimestamp(day + 86400, timezone.utc),
    }
    whole = {r["Id"]: r["Values"] for r in cw.get_metric_data(**request)["MetricDataResults"]}
    assert sum(whole["d"]) == sum(whole["i"]) == 12.0
    assert len(whole["d"]) == len(whole["i"]) == 1  # unless the test ran across midnight UTC
    first = cw.get_metric_data(**request, MaxDatapoints=1)
    d, i = first["MetricDataResults"]
    assert (d["Values"], d["StatusCode"]) == (whole["d"], "Complete")
    assert (i["Values"], i["StatusCode"]) == ([], "PartialData")
    second = cw.get_metric_data(**request, MaxDatapoints=1, NextToken=first["NextToken"])
    d, i = second["MetricDataResults"]
    assert (d["Values"], i["Values"]) == ([], whole["i"])
    assert "NextToken" not in second
    with pytest.raises(ClientError) as info:
        cw.get_metric_data(**request, NextToken="garbage")
    assert info.value.response["Error"]["Code"] == "InvalidNextToken"


def test_emf_custom_metric_readable(cw: Any) -> None:
    out = cw.get_metric_statistics(
        Namespace="Shop", MetricName="Orders", Dimensions=[{"Name": "Service", "Value": "cart"}],
        Period=60, Statistics=["Sum", "SampleCount"], **window(),
    )  # fmt: skip
    assert sum(p["Sum"] for p in out["Datapoints"]) == 12.0
    assert sum(p["SampleCount"] for p in out["Datapoints"]) == 2.0
    assert {p["Unit"] for p in out["Datapoints"]} == {"Count"}
    listed = cw.list_metrics(Namespace="Shop")["Metrics"]
    assert listed == [
        {"Namespace": "Shop", "MetricName": "Orders",
         "Dimensions": [{"Name": "Service", "Value": "cart"}]}
    ]  # fmt: skip


def test_list_metrics_shows_lambda_and_moto_metrics(cw: Any) -> None:
    cw.put_metric_data(Namespace="Lab/Custom", MetricData=[{"MetricName": "Depth", "Value": 1.0}])
    lambda_metrics = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations")["Metrics"]
    dims = [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in lambda_metrics]
    assert {} in dims  # the account
    assert {"FunctionName": "ok"} in dims
    assert {"FunctionName": "ok", "Resource": "ok:live"} in dims
    assert {"FunctionName": "ok", "ExecutedVersion": "1"} in dims
    everything = cw.list_metrics()["Metrics"]
    namespaces = {m["Namespace"] for m in everything}
    assert {"AWS/Lambda", "Shop", "Lab/Custom"} <= namespaces
    filtered = cw.list_metrics(
        Namespace="AWS/Lambda", Dimensions=[{"Name": "Resource"}], MetricName="Errors"
    )["Metrics"]
    assert [m["Dimensions"] for m in filtered] == [
        [{"Name": "FunctionName", "Value": "ok"}, {"Name": "Resource", "Value": "ok:live"}]
    ]


def test_moto_metrics_get_percentiles_too(cw: Any) -> None:
    """Simple statistics of PutMetricData metrics are moto's; percentiles, which moto lacks,
    are computed from moto's raw points."""
    cw.put_metric_data(
        Namespace="Lab/Latency",
        MetricData=[{"MetricName": "Wait", "Values": [float(v) for v in range(1, 11)]}],
    )
    simple = cw.get_metric_statistics(
        Namespace="Lab/Latency", MetricName="Wait", Period=3600, Statistics=["Sum"], **window()
    )
    assert sum(p["Sum"] for p in simple["Datapoints"]) == 55.0
    extended = cw.get_metric_statistics(
        Namespace="Lab/Latency", MetricName="Wait", Period=60, ExtendedStatistics=["p90"],
        **window(),
    )  # fmt: skip
    assert [p["ExtendedStatistics"]["p90"] for p in extended["Datapoints"]] == [9.0]


def test_get_metric_statistics_errors_as_cloudwatch(cw: Any) -> None:
    def error(**request: Any) -> dict[str, str]:
        base: dict[str, Any] = {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Period": 60}
        with pytest.raises(ClientError) as info:
            cw.get_metric_statistics(**{**base, **window(), **request})
        found = info.value.response["Error"]
        assert found["Type"] == "Sender"  # the query-compatible error header, as AWS sends
        return {"Code": found["Code"], "Message": found["Message"]}

    assert error() == {
        "Code": "InvalidParameterCombination",
        "Message": "Must specify either Statistics or ExtendedStatistics",
    }
    assert error(Period=61, Statistics=["Sum"]) == {
        "Code": "InvalidParameterValue",
        "Message": "The parameter Period must be a multiple of 60.",
    }
    assert error(ExtendedStatistics=["Sum"]) == {
        "Code": "InvalidParameterValue",
        "Message": "The value Sum for parameter ExtendedStatistics is not supported.",
    }
    now = datetime.now(timezone.utc)
    assert error(StartTime=now, EndTime=now - timedelta(minutes=5), Statistics=["Sum"]) == {
        "Code": "InvalidParameterValue",
        "Message": "The parameter StartTime must be less than the parameter EndTime.",
    }


def test_interceptor_leaves_to_moto_what_is_moto_s(store: Store) -> None:
    from kernel_runtime.api import CloudWatchInterceptor

    calls: list[str] = []
    runner = SimpleNamespace(sync=lambda: calls.append("sync"), poke=lambda: calls.append("poke"))
    interceptor = CloudWatchInterceptor(LambdaMetrics(store), region="us-east-1", alarms=runner)

    def environ(region: str) -> dict[str, Any]:
        scope = f"AKID/20261127/{region}/monitoring/aws4_request"
        return {
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host",
        }

    body = (
        b'{"Namespace": "AWS/Lambda", "MetricName": "Errors", "Period": 60, '
        b'"StartTime": 1800000000, "EndTime": 1800003600, "Statistics": ["Sum"]}'
    )
    answered = interceptor("GetMetricStatistics", environ("us-east-1"), body)
    assert answered is not None and answered[0] == 200
    assert interceptor("GetMetricStatistics", environ("eu-west-1"), body) is None  # not ours
    custom = body.replace(b"AWS/Lambda", b"Lab/Custom")
    assert interceptor("GetMetricStatistics", environ("us-east-1"), custom) is None  # moto's
    assert interceptor("PutMetricData", environ("us-east-1"), b"{}") is None
    query = {**environ("us-east-1"), "CONTENT_TYPE": "application/x-www-form-urlencoded"}
    assert interceptor("GetMetricStatistics", query, body) is None  # the query protocol
    assert interceptor("DescribeAlarms", environ("us-east-1"), b"{}") is None
    assert interceptor("PutMetricAlarm", environ("us-east-1"), b"{}") is None
    assert calls == ["sync", "poke"]  # moto answers; the runner is told first
