"""Execution environments end to end: lifecycle, runtime behaviour, errors, logs and limits.

Every test runs against real processes. The ``sandbox`` fixture is parametrized over the
limits backends this host offers, so the cgroup path and the rlimit fallback are both covered.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import pytest

from kernel_runtime import (
    ExecutionEnvironment,
    FunctionConfig,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
    Sandbox,
    State,
)
from kernel_runtime.sandbox import LimitsUnavailable, detect_limits_backend

from ._functions import write_function

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def _cgroup_available() -> bool:
    try:
        detect_limits_backend("cgroup", runtime_id="probe").close()
        return True
    except (LimitsUnavailable, OSError):
        return False


BACKENDS = [
    pytest.param(
        "cgroup",
        marks=pytest.mark.skipif(
            not _cgroup_available(), reason="no writable cgroups on this host"
        ),
    ),
    "rlimit",
]


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    sb = Sandbox(limits=request.param)
    yield sb
    sb.close()


@pytest.fixture
def fn(tmp_path: Path):
    def make(source: str, **config) -> FunctionConfig:
        return write_function(tmp_path / f"code{len(list(tmp_path.iterdir()))}", source, **config)

    return make


def _env(sandbox: Sandbox, config: FunctionConfig) -> ExecutionEnvironment:
    return sandbox.create_environment(config)


OK = """
def handler(event, context):
    return {"echo": event}
"""


# -- lifecycle ---------------------------------------------------------------------------------
def test_lifecycle_states_are_timestamped(sandbox: Sandbox, fn) -> None:
    env = _env(sandbox, fn(OK))
    assert env.state is State.READY
    first = env.invoke({"n": 1})
    assert first.cold_start and first.init_duration_ms is not None and first.init_duration_ms > 0
    assert first.result == {"echo": {"n": 1}}
    second = env.invoke({"n": 2})
    assert not second.cold_start and second.init_duration_ms is None
    assert second.environment_id == first.environment_id
    time.sleep(sandbox.freeze_grace + 0.2)
    assert env.state is State.FROZEN
    third = env.invoke({"n": 3})
    assert third.result == {"echo": {"n": 3}} and not third.cold_start
    env.shutdown()
    assert env.state is State.DEAD
    states = [s for _, s in env.transitions]
    assert states[:4] == ["INITIALIZING", "READY", "BUSY", "READY"]
    assert "FROZEN" in states and states[-2:] == ["SHUTTING_DOWN", "DEAD"]
    times = [t for t, _ in env.transitions]
    assert times == sorted(times) and abs(times[0] - time.time()) < 60
    with pytest.raises(ResourceConflictException):
        env.invoke({})


def test_spawn_launch_mode_runs_the_same_runtime(fn) -> None:
    with Sandbox(launch_mode="spawn", limits="rlimit") as sb:
        env = sb.create_environment(fn(OK))
        inv = env.invoke({"x": 1})
        assert inv.result == {"echo": {"x": 1}} and inv.cold_start
        assert env.invoke({"x": 2}).result == {"echo": {"x": 2}}


def test_environment_variables_are_aws_ones_and_nothing_from_the_kernel(sandbox, fn, monkeypatch):
    monkeypatch.setenv("KERNEL_SECRET", "do-not-leak")
    env = _env(
        sandbox,
        fn(
            """
        import os
        def handler(event, context):
            return dict(os.environ)
        """,
            environment={"MY_VAR": "mine"},
            memory_size=256,
            name="envfn",
        ),
    )
    first = env.invoke(
        {},
        trace_header="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    ).result
    assert "KERNEL_SECRET" not in first
    assert first["MY_VAR"] == "mine"
    assert first["_HANDLER"] == "app.handler"
    assert first["AWS_LAMBDA_FUNCTION_NAME"] == "envfn"
    assert first["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert first["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert first["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/envfn"
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", first["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert first["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert first["AWS_REGION"] == "us-east-1" and first["TZ"] == ":UTC"
    assert os.path.isdir(first["LAMBDA_TASK_ROOT"])
    assert first["_X_AMZN_TRACE_ID"].startswith("Root=1-5759e988-")
    second = env.invoke({}).result
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", second["_X_AMZN_TRACE_ID"]
    )


def test_context_object_is_complete(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        import time
        def handler(event, context):
            a = context.get_remaining_time_in_millis()
            time.sleep(0.05)
            b = context.get_remaining_time_in_millis()
            cc = context.client_context
            return {"a": a, "b": b, "name": context.function_name, "ver": context.function_version,
                    "arn": context.invoked_function_arn, "mem": context.memory_limit_in_mb,
                    "rid": context.aws_request_id, "group": context.log_group_name,
                    "stream": context.log_stream_name,
                    "cid": context.identity.cognito_identity_id,
                    "pool": context.identity.cognito_identity_pool_id,
                    "app": cc.client.app_title if cc else None, "custom": cc.custom if cc else None}
        """,
            timeout=5,
            name="ctxfn",
        ),
    )
    inv = env.invoke(
        {},
        client_context={"client": {"app_title": "demo"}, "custom": {"k": "v"}},
        identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
    )
    r = inv.result
    assert 4800 < r["a"] <= 5000 and r["a"] - r["b"] >= 45
    assert r["name"] == "ctxfn" and r["ver"] == "$LATEST" and r["mem"] == "128"
    assert r["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctxfn"
    assert r["rid"] == inv.request_id and re.fullmatch(UUID, r["rid"])
    assert r["group"] == "/aws/lambda/ctxfn" and r["stream"] == inv.log_stream_name
    assert (r["cid"], r["pool"], r["app"], r["custom"]) == ("id-1", "pool-1", "demo", {"k": "v"})
    plain = env.invoke({}).result
    assert plain["cid"] is None and plain["app"] is None


def test_layers_merge_in_order_on_sys_path(sandbox, fn, tmp_path) -> None:
    for i, text in enumerate(["first", "second"]):
        pkg = tmp_path / f"layer{i}" / "python"
        pkg.mkdir(parents=True)
        (pkg / "shared.py").write_text(f"WHO = {text!r}\n")
        (pkg / f"only{i}.py").write_text(f"X = {i}\n")
    env = _env(
        sandbox,
        fn(
            """
        import shared, only0, only1
        def handler(event, context):
            return [shared.WHO, only0.X, only1.X, shared.__file__]
        """,
            layers=[tmp_path / "layer0", tmp_path / "layer1"],
        ),
    )
    who, x0, x1, path = env.invoke({}).result
    assert (who, x0, x1) == ("second", 0, 1)
    if sandbox.isolate:
        assert path == "/opt/python/shared.py"


def test_task_root_is_read_only_and_tmp_is_private(sandbox, fn) -> None:
    if not sandbox.describe()["private_tmp"]:
        pytest.skip("mount isolation needs root, and the runtime must not live under /tmp")
    source = """
        import os
        def handler(event, context):
            out = {"cwd": os.getcwd()}
            try:
                open("/var/task/new.txt", "w")
                out["write"] = "ok"
            except OSError as exc:
                out["write"] = exc.errno
            path = "/tmp/" + event["name"]
            out["seen"] = sorted(os.listdir("/tmp"))
            open(path, "w").write("x")
            return out
        """
    a = _env(sandbox, fn(source))
    b = _env(sandbox, fn(source))
    ra = a.invoke({"name": "a"}).result
    assert ra["cwd"] == "/var/task" and ra["write"] == 30  # EROFS
    assert ra["seen"] == []
    assert b.invoke({"name": "b"}).result["seen"] == []
    assert a.invoke({"name": "a2"}).result["seen"] == ["a"]
    assert not Path("/tmp/a").exists()


def test_mounts_stay_in_each_environments_own_namespace(sandbox, fn) -> None:
    """The zygote makes its mount namespace private once and every environment copies it:
    an environment's /var/task and /tmp must reach neither the host nor the zygote nor
    another environment, and must not be shared (propagating) mounts."""
    if not sandbox.describe()["private_tmp"]:
        pytest.skip("mount isolation needs root, and the runtime must not live under /tmp")

    def mounts(pid: int | str) -> dict[str, str]:
        out = {}
        for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
            fields = line.split()
            out[fields[4]] = " ".join(fields[6 : fields.index("-")])  # mount point -> tags
        return out

    a, b = _env(sandbox, fn(OK)), _env(sandbox, fn(OK))
    a.invoke({})
    b.invoke({})
    zygote = sandbox.launcher.pid
    spaces = {os.readlink(f"/proc/{pid}/ns/mnt") for pid in ("self", zygote, a.pid, b.pid)}
    assert len(spaces) == 4
    for pid in (a.pid, b.pid):
        inside = mounts(pid)
        assert "/var/task" in inside and "/tmp" in inside
        assert "shared:" not in inside["/var/task"] + inside["/tmp"]
    assert "/var/task" not in mounts("self") and "/var/task" not in mounts(zygote)


# -- handler resolution and errors --------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "def handler(e, c):\n    return 1\n",
            "nomodule.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'nomodule': No module named 'nomodule'",
        ),
        (
            "def other(e, c):\n    return 1\n",
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        (
            "def handler(e, c):\n    return 1\n",
            "apphandler",
            "Runtime.MalformedHandlerName",
            "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "def handler(e, c)\n    return 1\n",
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app': expected ':' (app.py, line 1)",
        ),
        (
            "import json\ndef handler(e, c):\n    return {1, 2}\n",
            "app.handler",
            "Runtime.MarshalError",
            "Unable to marshal response: Object of type set is not JSON serializable",
        ),
        ("raise RuntimeError('init failed')\n", "app.handler", "RuntimeError", "init failed"),
    ],
)
def test_runtime_errors_as_aws_reports_them(sandbox, fn, source, handler, error_type, message):
    env = _env(sandbox, fn(source, handler=handler))
    inv = env.invoke({})
    assert inv.function_error == "Unhandled" and inv.status == "error"
    body = inv.result
    assert body["errorType"] == error_type and body["errorMessage"] == message
    assert set(body) >= {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert f"[ERROR] {error_type}: {message}" in inv.log
    init_fault = error_type not in ("Runtime.HandlerNotFound", "Runtime.MarshalError")
    if init_fault:
        assert body["requestId"] == ""
        assert re.search(
            r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\t"
            f"Error Type: {re.escape(error_type)}",
            inv.log,
        )
        assert "Phase: invoke" in inv.log  # the suppressed init retried inside the invoke
        assert f"Status: error\tError Type: {error_type}" in inv.log.splitlines()[-1]
    else:
        assert body["requestId"] == inv.request_id
    again = env.invoke({})  # the environment still answers
    assert again.result["errorType"] == error_type


def test_unhandled_exception_shape_and_log(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn("""
        def helper():
            raise ValueError("bad input")
        def handler(event, context):
            helper()
        """),
    )
    inv = env.invoke({})
    body = inv.result
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad input"
    assert body["requestId"] == inv.request_id
    assert len(body["stackTrace"]) == 2
    assert re.match(
        r'  File ".*app\.py", line 5, in handler\n    helper\(\)\n', body["stackTrace"][0]
    )
    assert "kernel_runtime" not in json.dumps(body)
    error_line = next(line for line in inv.raw_log.split("\n") if line.startswith("[ERROR]"))
    assert error_line.startswith(
        "[ERROR] ValueError: bad input\rTraceback (most recent call last):\r"
    )
    assert "\u00a0\u00a0File" in error_line


def test_payload_limits(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        def handler(event, context):
            return "x" * event["n"]
        """,
            memory_size=512,
        ),
    )
    with pytest.raises(RequestTooLargeException):
        env.invoke(b"{" + b" " * (6 * 1024 * 1024) + b"}")
    big = env.invoke({"n": 7 * 1024 * 1024})
    assert big.result["errorType"] == "Function.ResponseSizeTooLarge"
    assert env.invoke({"n": 3}).result == "xxx"


def test_bytes_and_decimal_results(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn("""
        from decimal import Decimal
        def handler(event, context):
            if isinstance(event, dict) and event.get("raw"):
                return b"\\x00raw"
            return {"d": Decimal("1.5"), "i": Decimal("3")}
        """),
    )
    assert env.invoke({}).result == {"d": 1.5, "i": 3}
    assert env.invoke({"raw": True}).payload == b"\x00raw"
    with pytest.raises(InvalidRequestContentException, match="Could not parse request body"):
        env.invoke(b"not json")
    assert env.invoke("just a string").payload == b'{"d":1.5,"i":3}'  # str is the event itself


# -- logs ---------------------------------------------------------------------------------------
def test_text_logs_platform_lines_and_report(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn("""
        import logging, sys
        print("at init")
        logger = logging.getLogger()
        def handler(event, context):
            print("to stdout")
            print("to stderr", file=sys.stderr)
            logger.info("hidden: the root logger is at WARNING, as on AWS")
            logger.warning("multi\\nline")
            return 1
        """),
    )
    cold = env.invoke({})
    lines = cold.raw_log.split("\n")
    rid = cold.request_id
    assert lines[0].startswith("INIT_START Runtime Version: python:")
    assert lines[1] == "at init"
    assert lines[2] == f"START RequestId: {rid} Version: $LATEST"
    assert "to stdout" in lines and "to stderr" in lines
    assert "hidden" not in cold.raw_log
    warn = next(line for line in lines if line.startswith("[WARNING]"))
    assert re.fullmatch(
        rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tmulti\rline", warn
    )
    assert f"END RequestId: {rid}" in lines
    report = next(line for line in lines if line.startswith("REPORT"))
    m = re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\tInit Duration: (\d+\.\d\d) ms\t",
        report,
    )
    assert m, report
    duration, billed, used, init = float(m[1]), int(m[2]), int(m[3]), float(m[4])
    assert billed == -(-(duration + init) // 1) or billed == int(duration + init) + 1
    assert 5 <= used <= 128 and used == cold.max_memory_used_mb
    warm = env.invoke({})
    assert "Init Duration" not in warm.raw_log and "INIT_START" not in warm.raw_log
    assert "at init" not in warm.raw_log


def test_every_field_of_the_record_is_under_its_own_name(sandbox, fn) -> None:
    """The record is built positionally on the invoke path: each value must land in its field."""
    config = fn(OK, memory_size=256)
    env = _env(sandbox, config)
    before = time.time()
    cold = env.invoke({"x": 1})
    warm = env.invoke({"x": 2})
    after = time.time()
    assert cold.request_id != warm.request_id and len(warm.request_id) == 36
    assert (warm.function_name, warm.function_version) == (config.function_name, "$LATEST")
    assert (warm.environment_id, warm.log_stream_name) == (
        env.environment_id,
        env.log_stream_name,
    )
    assert json.loads(warm.payload) == {"echo": {"x": 2}}
    assert (warm.function_error, warm.error_type, warm.status) == (None, None, "success")
    assert (cold.cold_start, warm.cold_start) == (True, False)
    assert warm.initialization_type == "on-demand"
    assert cold.init_duration_ms > 0 and warm.init_duration_ms is None
    assert warm.billed_duration_ms == max(1, math.ceil(warm.duration_ms))
    assert warm.memory_size_mb == 256 and 0 < warm.max_memory_used_mb <= 256
    assert before <= cold.started_at <= cold.finished_at <= warm.started_at <= warm.finished_at
    assert warm.finished_at <= after
    assert warm.trace_id.startswith("Root=1-") and ";Sampled=" in warm.trace_id
    assert f"START RequestId: {warm.request_id}" in warm.raw_log
    assert warm.log_bytes_dropped == 0


def test_json_log_format_and_level_filtering(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        import logging
        log = logging.getLogger("app")
        def handler(event, context):
            log.debug("dropped")
            log.info("kept", extra={"order": 7})
            try:
                1 / 0
            except ZeroDivisionError:
                log.exception("failed")
            return 1
        """,
            log_format="JSON",
            application_log_level="INFO",
            system_log_level="INFO",
        ),
    )
    inv = env.invoke({})
    records = [json.loads(line) for line in inv.raw_log.splitlines() if line.startswith("{")]
    types = [r.get("type") for r in records if "type" in r]
    assert types[:2] == ["platform.initStart", "platform.start"]
    assert types[-2:] == ["platform.runtimeDone", "platform.report"]
    app = [r for r in records if "level" in r]
    assert [r["message"] for r in app] == ["kept", "failed"]
    assert (
        app[0]["logger"] == "app" and app[0]["order"] == 7 and app[0]["requestId"] == inv.request_id
    )
    assert app[1]["errorType"] == "ZeroDivisionError" and app[1]["level"] == "ERROR"
    report = records[-1]["record"]
    assert report["requestId"] == inv.request_id and report["status"] == "success"
    assert report["metrics"]["memorySizeMB"] == 128 and "initDurationMs" in report["metrics"]
    quiet = _env(
        sandbox,
        fn("def handler(e, c):\n    return 1\n", log_format="JSON", system_log_level="WARN"),
    )
    assert "platform.start" not in quiet.invoke({}).raw_log


def test_log_tail_is_last_4kb_base64(sandbox, fn) -> None:
    import base64

    env = _env(
        sandbox,
        fn("""
        def handler(event, context):
            print("y" * 10000)
            return 1
        """),
    )
    inv = env.invoke({})
    tail = base64.b64decode(inv.log_result)
    assert len(tail) == 4096 and tail.endswith(b"\t\n") and b"REPORT RequestId" in tail


# -- limits -------------------------------------------------------------------------------------
def test_timeout_kills_and_next_invoke_is_cold(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        import time
        def handler(event, context):
            if event.get("spin"):
                while True:
                    pass
            return "fine"
        """,
            timeout=1,
        ),
    )
    started = time.monotonic()
    inv = env.invoke({"spin": True})
    assert 0.95 < time.monotonic() - started < 3
    assert inv.status == "timeout" and inv.error_type == "Sandbox.Timedout"
    assert inv.result == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {inv.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert re.search(
        rf"\d{{4}}-\d\d-\d\dT[\d:.]+Z {inv.request_id} Task timed out after 1.00 seconds\n", inv.log
    )
    assert "Status: timeout" in inv.log
    assert env.state is State.RESET
    after = env.invoke({})
    assert after.result == "fine" and after.cold_start and after.init_duration_ms is not None
    assert after.environment_id == inv.environment_id


def test_memory_bomb_is_killed_as_out_of_memory(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        def handler(event, context):
            if event.get("bomb"):
                hog = []
                while True:
                    hog.append(bytearray(4 << 20))
            return "fine"
        """,
            memory_size=128,
            timeout=20,
        ),
    )
    inv = env.invoke({"bomb": True})
    assert inv.error_type == "Runtime.OutOfMemory", inv.log
    assert "Runtime exited with error: signal: killed" in inv.result["errorMessage"]
    assert inv.max_memory_used_mb == 128
    assert "Error Type: Runtime.OutOfMemory" in inv.log
    assert env.invoke({}).result == "fine"


def test_max_memory_used_is_measured(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        def handler(event, context):
            block = bytearray(event["mb"] << 20)
            return len(block)
        """,
            memory_size=512,
        ),
    )
    small = env.invoke({"mb": 1}).max_memory_used_mb
    big = env.invoke({"mb": 200}).max_memory_used_mb
    assert small < 100 and 200 <= big < 300


def test_file_descriptor_limit_is_1024(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn("""
        import os
        def handler(event, context):
            fds = []
            try:
                while True:
                    fds.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as exc:
                err = exc.errno
            for fd in fds:
                os.close(fd)
            return [len(fds), err]
        """),
    )
    opened, err = env.invoke({}).result
    assert err == 24 and 1000 < opened < 1024  # EMFILE


def test_tmp_file_size_is_bounded_by_ephemeral_storage(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        import os, tempfile
        def handler(event, context):
            path = os.path.join(tempfile.gettempdir(), "flood")
            chunk = b"\\0" * (1 << 20)
            written = 0
            try:
                with open(path, "wb") as f:
                    while True:
                        f.write(chunk)
                        f.flush()
                        written += 1
            except OSError as exc:
                return [written, exc.errno]
            finally:
                os.unlink(path)
        """,
            ephemeral_storage=512,
            memory_size=1024,
            timeout=60,
        ),
    )
    written, err = env.invoke({}).result
    assert err == 27 and written == 512  # EFBIG at exactly the configured size
    assert env.invoke({}).result == [512, 27]


def test_cpu_share_follows_memory(sandbox, fn) -> None:
    source = """
        import time
        def handler(event, context):
            start, cpu0 = time.monotonic(), time.process_time()
            while time.process_time() - cpu0 < 0.15:
                pass
            return time.monotonic() - start
        """
    slow = _env(sandbox, fn(source, memory_size=256, timeout=30)).invoke({}).result  # 0.145 vCPU
    fast = _env(sandbox, fn(source, memory_size=1769, timeout=30)).invoke({}).result  # 1 vCPU
    assert fast < 0.5 and slow / fast > 2.5, (slow, fast)


def test_fork_bomb_is_contained(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        import os, time
        def handler(event, context):
            made = 0
            stop = time.monotonic() + 1.5
            while time.monotonic() < stop and made < event["cap"]:
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                made += 1
            return made
        """,
            timeout=10,
            memory_size=1024,
        ),
    )
    cap = 2000 if sandbox.backend.enforces_pids else 150  # root ignores RLIMIT_NPROC
    made = env.invoke({"cap": cap}).result
    assert made < 1024 if sandbox.backend.enforces_pids else made == cap
    assert env.invoke({"cap": 0}).result == 0
    env.shutdown()


def test_freeze_stops_background_threads(sandbox, fn) -> None:
    source = """
        import threading, time
        count = 0
        def spin():
            global count
            while True:
                count += 1
                time.sleep(0.001)
        def handler(event, context):
            if event.get("start"):
                threading.Thread(target=spin, daemon=True).start()
            return count
        """
    env = _env(sandbox, fn(source))
    env.invoke({"start": True})
    time.sleep(0.1)
    before = env.invoke({})
    time.sleep(0.5)
    assert env.state is State.FROZEN
    after = env.invoke({})
    assert after.result - before.result < 100  # ~500 if it had kept running


# -- bad handlers leave the supervisor healthy ----------------------------------------------------
BAD_HANDLERS = {
    "exit": (
        "import os\ndef handler(e, c):\n    os._exit(3)\n",
        "Runtime.ExitError",
        "exit status 3",
    ),
    "segfault": (
        "import ctypes\ndef handler(e, c):\n    ctypes.string_at(0)\n",
        "Runtime.ExitError",
        "signal: segmentation fault",
    ),
    "close_fds": (
        "import os\ndef handler(e, c):\n    os.close(0); os.close(1); os.close(2)\n"
        "    return 'closed'\n",
        None,
        None,
    ),
    "stdout_flood": (
        "import sys\ndef handler(e, c):\n    line = 'x' * 1023 + '\\n'\n"
        "    for _ in range(50 * 1024):\n        sys.stdout.write(line)\n    return 'done'\n",
        None,
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_HANDLERS))
def test_bad_handler_then_next_invoke_works(sandbox, fn, case) -> None:
    source, error_type, fragment = BAD_HANDLERS[case]
    env = _env(
        sandbox,
        fn(
            source + "\ndef ok(e, c):\n    print('ok log')\n    return 'ok'\n",
            memory_size=1769,
            timeout=60,
        ),
    )
    inv = env.invoke({})
    if error_type:
        assert inv.error_type == error_type and fragment in inv.result["errorMessage"]
        assert f"Error Type: {error_type}" in inv.log
    else:
        assert inv.status == "success", inv.log[-500:]
    if case == "stdout_flood":
        assert inv.log_bytes_dropped + len(inv.raw_log) >= 50 * 1024 * 1024
    again = env.invoke({})
    assert again.status == inv.status
    healthy = _env(
        sandbox, fn("def ok(e, c):\n    print('ok log')\n    return 'ok'\n", handler="app.ok")
    ).invoke({})
    assert healthy.result == "ok" and "ok log\n" in healthy.log


def test_tmp_total_is_bounded_by_ephemeral_storage(sandbox, fn) -> None:
    env = _env(
        sandbox,
        fn(
            """
        import os, tempfile, time
        def handler(event, context):
            root = tempfile.gettempdir()
            chunk = b"\\1" * (16 << 20)
            written, err = 0, None
            try:
                for i in range(200):  # 3.2 GB if nothing stopped it
                    with open(os.path.join(root, f"f{i}"), "wb") as f:
                        f.write(chunk)
                        f.flush()
                        os.fsync(f.fileno())
                    written += 16
                    time.sleep(0.005)
            except OSError as exc:
                err = exc.errno
            for name in os.listdir(root):
                os.unlink(os.path.join(root, name))
            time.sleep(0.4)  # the guard sees /tmp empty again and lifts the cap
            with open(os.path.join(root, "after"), "wb") as f:
                f.write(b"ok")
            return [written, err]
        """,
            ephemeral_storage=512,
            memory_size=1024,
            timeout=60,
        ),
    )
    written, err = env.invoke({}).result
    assert err == 27 and 512 <= written <= 768, written  # EFBIG once the total passed 512 MB


def _uss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("Private_"))


def test_a_warm_environment_does_not_grow_per_request(sandbox, fn) -> None:
    """Per-request state (the trace id variable among it) must not accumulate: glibc's setenv
    would keep ~100 bytes of every value, forever."""
    env = _env(sandbox, fn(OK))
    for _ in range(300):
        env.invoke({})
    before = _uss_kib(env.pid)
    for _ in range(4000):
        env.invoke({})
    assert _uss_kib(env.pid) - before < 160, "USS grew by more than 40 bytes a request"
