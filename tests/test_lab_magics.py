"""The IPython extension and its magics, driven through a real (terminal) InteractiveShell.

One runtime serves the module (the kernel's singleton); each test uses its own function names.
The tests that unload or reload the extension load it again before they end.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil
import pytest
from IPython.testing.globalipapp import get_ipython

import lab
from kernel_runtime import Function, Invocation, LambdaRuntime
from lab import _session

_names = itertools.count()

ECHO = textwrap.dedent(
    """\
    import os
    print("init ran")

    def handler(event, context):
        print("handling", event)
        return {"event": event, "greeting": os.environ.get("GREETING")}
    """
)


def _name(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@pytest.fixture(scope="module")
def ip() -> Any:
    shell = get_ipython()
    if "lab" in shell.extension_manager.loaded:  # another module's; start from scratch
        shell.run_line_magic("unload_ext", "lab")
    _session.close()  # a runtime some other test started with other options
    shell.run_line_magic("load_ext", "lab")
    yield shell
    shell.run_line_magic("unload_ext", "lab")


@pytest.fixture
def rt(ip: Any) -> LambdaRuntime:
    return _session.runtime()


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


# -- loading -----------------------------------------------------------------------------------
def test_load_starts_the_runtime_once(ip: Any, rt: LambdaRuntime) -> None:
    assert rt.endpoint_url is not None and rt.store is not None
    assert rt.store.path == Path(os.environ["LAMBDA_LAB_STORE"])
    assert rt.sandbox.describe()["zygote_pids"]
    lab.load_ipython_extension(ip)  # called again directly: nothing new starts
    assert _session.runtime() is rt
    assert ip.find_cell_magic("lambda") is not None
    for name in ("lambda_invoke", "lambda_logs", "lambda_list"):
        assert ip.find_line_magic(name) is not None


def test_runtime_with_other_options_is_refused(rt: LambdaRuntime) -> None:
    with pytest.raises(ValueError, match="already running"):
        _session.runtime(clock_speed=60.0)
    assert _session.runtime() is rt


def test_package_exports() -> None:
    assert lab.__all__ == sorted(lab.__all__)
    assert lab.runtime is _session.runtime
    assert lab.close is _session.close
    assert set(lab.__all__) <= set(dir(lab))
    with pytest.raises(AttributeError):
        lab.NoSuchThing  # noqa: B018


def test_load_bokehjs_does_nothing_outside_a_kernel() -> None:
    assert _session.load_bokehjs() is False


# -- %%lambda ----------------------------------------------------------------------------------
def test_cell_creates_the_function_with_its_settings(ip: Any, rt: LambdaRuntime) -> None:
    name = _name("create")
    fn = ip.run_cell_magic("lambda", f"{name} --memory 256 --timeout 7 --env GREETING=hi", ECHO)
    assert isinstance(fn, Function) and fn.name == name
    config = rt.function(name).configuration
    assert (config["MemorySize"], config["Timeout"], config["Handler"]) == (256, 7, "app.handler")
    assert config["Environment"] == {"Variables": {"GREETING": "hi"}}
    inv = ip.run_line_magic("lambda_invoke", f'{name} {{"who": "a b", "n": [1, 2]}}')
    assert isinstance(inv, Invocation) and inv.cold_start
    assert inv.result == {"event": {"who": "a b", "n": [1, 2]}, "greeting": "hi"}
    assert "init ran" in inv.log  # the module-level code is the init phase


def test_rerun_updates_the_code_and_only_the_settings_given(ip: Any, rt: LambdaRuntime) -> None:
    name = _name("update")
    ip.run_cell_magic("lambda", f"{name} --memory 256 --env GREETING=hi --tracing Active", ECHO)
    first = ip.run_line_magic("lambda_invoke", f"{name} 1")
    assert first.result["event"] == 1
    ip.run_cell_magic("lambda", f"{name} --timeout 9", "def handler(e, c):\n    return 'v2'\n")
    config = rt.function(name).configuration
    assert config["Timeout"] == 9
    assert config["MemorySize"] == 256  # not given: unchanged
    assert config["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert config["TracingConfig"] == {"Mode": "Active"}
    second = ip.run_line_magic("lambda_invoke", name)
    assert second.result == "v2" and second.cold_start  # new code, new environment
    ip.run_cell_magic("lambda", f"{name} --env", "def handler(e, c):\n    return 'v3'\n")
    assert "Environment" not in rt.function(name).configuration  # --env alone clears them


def test_handler_flag_names_the_module_the_cell_becomes(ip: Any, rt: LambdaRuntime) -> None:
    name = _name("handler")
    ip.run_cell_magic("lambda", f"{name} --handler main.go", "def go(e, c):\n    return 7\n")
    assert rt.function(name).configuration["Handler"] == "main.go"
    assert ip.run_line_magic("lambda_invoke", name).result == 7
    source = "def run(e, c):\n    return 8\n"
    ip.run_cell_magic("lambda", f"{name} --handler other.run", source)
    assert ip.run_line_magic("lambda_invoke", name).result == 8


def test_provisioned_publishes_a_version_behind_alias_live(ip: Any, rt: LambdaRuntime) -> None:
    name = _name("prov")
    ip.run_cell_magic("lambda", f"{name} --reserved 3 --provisioned 1", ECHO)
    service = rt.service
    assert service.get_function_concurrency(name) == {"ReservedConcurrentExecutions": 3}
    assert service.registry.get_alias(name, "live")["FunctionVersion"] == "1"
    status = lambda: service.get_provisioned_concurrency_config(name, "live")["Status"]  # noqa: E731
    _wait(lambda: status() == "READY")
    inv = ip.run_line_magic("lambda_invoke", f"{name} {{}} --qualifier live")
    assert inv.function_version == "1" and inv.initialization_type == "provisioned-concurrency"
    assert not inv.cold_start
    ip.run_cell_magic("lambda", f"{name} --provisioned 1", "def handler(e, c):\n    return 2\n")
    assert service.registry.get_alias(name, "live")["FunctionVersion"] == "2"
    ip.run_cell_magic("lambda", f"{name} --provisioned 0", "def handler(e, c):\n    return 2\n")
    configs = service.registry.list_provisioned_concurrency_configs(name)
    assert configs["ProvisionedConcurrencyConfigs"] == []


def test_help_explains_provisioned_concurrency(ip: Any, capsys: Any) -> None:
    assert ip.run_cell_magic("lambda", "--help", ECHO) is None
    out = capsys.readouterr().out
    assert "usage: %%lambda" in out and "alias 'live'" in out and "--qualifier live" in out


# -- %lambda_invoke ----------------------------------------------------------------------------
def test_invoke_event_from_a_variable_and_async(ip: Any, rt: LambdaRuntime, capsys: Any) -> None:
    name = _name("invoke")
    ip.run_cell_magic("lambda", name, ECHO)
    ip.user_ns["my_event"] = {"k": [1, "{x}"]}
    inv = ip.run_line_magic("lambda_invoke", f"{name} -e my_event")
    assert inv.result["event"] == {"k": [1, "{x}"]}
    assert ip.run_line_magic("lambda_invoke", f'{name} "queued" --async') is None
    out = capsys.readouterr().out
    assert out.startswith("202 Accepted: queued as RequestId ")
    request_id = out.split()[-1]

    def recorded() -> bool:
        rt.store.flush()
        return bool(rt.store.invocations(function=name, request_id=request_id))

    _wait(recorded)


def test_a_function_error_is_an_invocation(ip: Any, capsys: Any) -> None:
    name = _name("fails")
    ip.run_cell_magic("lambda", name, "def handler(e, c):\n    raise KeyError('nope')\n")
    inv = ip.run_line_magic("lambda_invoke", name)
    assert inv.function_error == "Unhandled" and inv.error_type == "KeyError"
    assert capsys.readouterr().err == ""


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "magic", "line", "why"),
    [
        ("cell", "lambda", "", "the following arguments are required: NAME"),
        ("cell", "lambda", "bad-flags --memory lots", "invalid int value: 'lots'"),
        ("cell", "lambda", "bad-flags --tracing On", "invalid choice: 'On'"),
        ("cell", "lambda", "bad-flags --env NOEQUALS", "expected KEY=VALUE, got 'NOEQUALS'"),
        ("cell", "lambda", "bad-flags --env 'A=unclosed", "No closing quotation"),
        ("line", "lambda_invoke", "", "the following arguments are required: NAME"),
        ("line", "lambda_invoke", "f {bad json}", "the event is not valid JSON"),
        ("line", "lambda_invoke", 'f {"a": 1}x', "extra data"),
        ("line", "lambda_invoke", "f {} -e my_event", "give one event"),
        ("line", "lambda_invoke", "f 1 2", "give one event"),
        ("line", "lambda_invoke", "f -e not_defined_anywhere", "'not_defined_anywhere' is not"),
        ("line", "lambda_invoke", "f --bogus", "unrecognized arguments: --bogus"),
        ("line", "lambda_logs", "f --tail 0", "must be at least 1"),
        ("line", "lambda_list", "extra", "unrecognized arguments: extra"),
    ],
)
def test_bad_flags_print_usage_and_raise_nothing(
    ip: Any, rt: LambdaRuntime, capsys: Any, kind: str, magic: str, line: str, why: str
) -> None:
    ip.user_ns["my_event"] = {}
    if kind == "cell":
        result = ip.run_cell_magic(magic, line, ECHO)
    else:
        result = ip.run_line_magic(magic, line)
    assert result is None
    captured = capsys.readouterr()
    usage = "%%lambda" if kind == "cell" else f"%{magic}"
    assert captured.err.startswith(f"usage: {usage}")
    assert f"{usage}: error: " in captured.err and why in captured.err
    assert "Traceback" not in captured.out + captured.err
    assert "bad-flags" not in rt.service.registry


def test_unserializable_variable_is_a_usage_error(ip: Any, capsys: Any) -> None:
    ip.user_ns["not_json"] = {1, 2}
    assert ip.run_line_magic("lambda_invoke", "f -e not_json") is None
    assert "not_json is not JSON serializable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("magic", "line", "expected"),
    [
        (
            "lambda_invoke",
            "no-such-function {}",
            "An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-function",
        ),
        (
            "lambda_logs",
            "no-such-function-ever",
            "An error occurred (ResourceNotFoundException) when calling the FilterLogEvents "
            "operation: The specified log group does not exist.",
        ),
    ],
)
def test_aws_errors_show_code_and_message(
    ip: Any, capsys: Any, magic: str, line: str, expected: str
) -> None:
    assert ip.run_line_magic(magic, line) is None
    captured = capsys.readouterr()
    assert captured.err.strip() == expected
    assert "Traceback" not in captured.out + captured.err


def test_cell_aws_errors_name_the_operation(ip: Any, rt: LambdaRuntime, capsys: Any) -> None:
    name = _name("invalid")
    assert ip.run_cell_magic("lambda", f"{name} --memory 64", ECHO) is None
    err = capsys.readouterr().err
    assert err.startswith(
        "An error occurred (InvalidParameterValueException) when calling the CreateFunction "
        "operation: 1 validation error detected: Value '64' at 'memorySize'"
    )
    assert name not in rt.service.registry
    ip.run_cell_magic("lambda", name, ECHO)
    before = rt.function(name).configuration
    assert ip.run_cell_magic("lambda", f"{name} --runtime python2.7", "x = 1\n") is None
    err = capsys.readouterr().err
    assert "(InvalidParameterValueException) when calling the UpdateFunctionConfiguration" in err
    assert rt.function(name).configuration["CodeSha256"] == before["CodeSha256"]  # untouched
    assert ip.run_line_magic("lambda_invoke", f"{name} {{}} --qualifier nope") is None
    assert "(ResourceNotFoundException) when calling the Invoke operation" in (
        capsys.readouterr().err
    )
    assert ip.run_line_magic("lambda_logs", f"{name} --filter '{{ $.a = '") is None
    assert capsys.readouterr().err.strip() == (
        "An error occurred (InvalidParameterException) when calling the FilterLogEvents "
        "operation: Invalid filter pattern"
    )


# -- %lambda_logs and %lambda_list -------------------------------------------------------------
def test_logs_print_the_latest_events(ip: Any, capsys: Any) -> None:
    name = _name("logs")
    source = "def handler(e, c):\n    print('line-a <b>')\n    print('line-b')\n"
    ip.run_cell_magic("lambda", name, source)
    ip.run_line_magic("lambda_invoke", name)
    capsys.readouterr()
    ip.run_line_magic("lambda_logs", f"{name} --tail 3")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(" line-b") and lines[-1].split(" ", 1)[1].startswith("REPORT ")
    assert lines[0][:4].isdigit() and "+00:00 " in lines[0]  # an ISO timestamp first
    ip.run_line_magic("lambda_logs", f'{name} --filter "line-a"')
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith(" line-a <b>")


def test_list_shows_the_runtime(ip: Any, rt: LambdaRuntime) -> None:
    name = _name("listed")
    ip.run_cell_magic("lambda", name, ECHO)
    ip.run_line_magic("lambda_invoke", name)
    shown = ip.run_line_magic("lambda_list", "")
    assert shown is rt
    text = ip.display_formatter.formatters["text/plain"](shown)
    assert rt.endpoint_url in text and str(rt.store.path) in text and name in text
    html = ip.display_formatter.formatters["text/html"].lookup(shown)(shown)
    env = rt.function(name).environments()[0]
    assert name in html and env.environment_id[:8] in html


# -- unload, reload, exit ----------------------------------------------------------------------
def _runtime_processes(rt: LambdaRuntime) -> list[psutil.Process]:
    pids = set(rt.sandbox.describe()["zygote_pids"])
    pids.update(env.pid for env in rt.sandbox.environments if env.pid)
    return [psutil.Process(pid) for pid in pids]


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_unload_stops_every_process_and_removes_the_magics(ip: Any) -> None:
    rt = _session.runtime()
    name = _name("unload")
    ip.run_cell_magic("lambda", name, ECHO)
    ip.run_line_magic("lambda_invoke", name)
    procs = _runtime_processes(rt)
    assert len(procs) >= 2 and not any(_gone(p) for p in procs)  # the zygote, an environment
    port = urlparse(rt.endpoint_url).port
    html = ip.display_formatter.formatters["text/html"]
    try:
        ip.run_line_magic("unload_ext", "lab")
        assert all(_gone(p) for p in procs)
        assert ip.find_cell_magic("lambda") is None and ip.find_line_magic("lambda_list") is None
        with pytest.raises(KeyError):
            html.lookup_by_type(Function)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    finally:
        ip.run_line_magic("load_ext", "lab")
    fresh = _session.runtime()
    assert fresh is not rt and name not in fresh.service.registry
    assert ip.find_cell_magic("lambda") is not None


def test_reload_keeps_the_one_runtime(ip: Any) -> None:
    rt = _session.runtime()
    name = _name("reload")
    ip.run_cell_magic("lambda", name, ECHO)
    ip.run_line_magic("reload_ext", "lab")
    assert _session.runtime() is rt and not rt._closed
    assert ip.run_line_magic("lambda_invoke", f"{name} 5").result["event"] == 5
    plain = ip.display_formatter.formatters["text/plain"]
    assert plain(Function(rt, name)).startswith(f"Function {name} ")  # formatters back once
    assert len(ip.magics_manager.registry) == len(set(map(id, ip.magics_manager.registry.values())))


def test_interpreter_exit_stops_every_process(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """\
        import lab._session as s
        rt = s.runtime(endpoint=False)
        rt.create_function("f", "app.handler", "def handler(e, c):\\n    return 1\\n")
        rt.invoke("f")
        pids = rt.sandbox.describe()["zygote_pids"] + [e.pid for e in rt.sandbox.environments]
        print(" ".join(map(str, pids)), flush=True)
        """
    )
    env = dict(os.environ, LAMBDA_LAB_STORE=str(tmp_path / "exit.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) >= 2
    _wait(lambda: not any(psutil.pid_exists(p) and not _gone(psutil.Process(p)) for p in pids))
