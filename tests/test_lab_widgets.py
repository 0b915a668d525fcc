"""The lab's widgets in plain pytest (ipywidgets' DummyComm, no kernel): set values, click
buttons, assert what the widgets show and what they did to the runtime."""

from __future__ import annotations

import html
import json
import time
from datetime import datetime
from pathlib import Path

import ipywidgets as w
import pytest

from kernel_runtime import LambdaRuntime, ResourceNotFoundException
from kernel_runtime.sources import EVENT_SOURCES, build_event
from lab._forms import html_pre, parse_environment
from lab.widget_dashboard import Dashboard
from lab.widget_event_builder import EventBuilder
from lab.widget_function_panel import FunctionPanel
from lab.widget_load_generator import LoadGenerator
from lab.widget_log_tail import LogTail

from ._functions import eventually

pytestmark = pytest.mark.timeout(60)

ECHO = "def handler(event, context):\n    print('got', event)\n    return {'echo': event}\n"
ENV = """import os
def handler(event, context):
    return {"color": os.environ.get("COLOR"), "memory": context.memory_limit_in_mb}
"""
LOGGER = """def handler(event, context):
    print("INFO all good")
    print("ERROR something broke", event.get("n"))
    return 1
"""
NOW = datetime(2024, 5, 6, 7, 8, 9)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("widgets") / "s.sqlite3"
    with LambdaRuntime(endpoint=False, store=path) as rt:
        rt.create_function("echo", "app.handler", ECHO)
        rt.create_function("logger", "app.handler", LOGGER)
        yield rt


def _html_outputs(out: w.Output) -> str:
    return "".join(
        o["data"]["text/html"] for o in out.outputs if o["output_type"] == "display_data"
    )


def _stdout(out: w.Output) -> str:
    return "".join(o["text"] for o in out.outputs if o["output_type"] == "stream")


# -- EventBuilder -------------------------------------------------------------------------------


@pytest.mark.parametrize("source_id", list(EVENT_SOURCES))
def test_every_source_has_a_form_whose_preview_is_the_built_event(
    runtime: LambdaRuntime, source_id: str
) -> None:
    builder = EventBuilder(runtime, "echo", source=source_id, seed=7, now=NOW)
    try:
        source = EVENT_SOURCES[source_id]
        assert list(builder.controls) == [f.name for f in source.fields]
        for f in source.fields:
            control = builder.controls[f.name]
            expected = (
                w.Dropdown
                if f.choices
                else {
                    "int": w.IntText,
                    "bool": w.Checkbox,
                    "json": w.Textarea,
                    "text": w.Textarea,
                }.get(f.kind, w.Text)
            )
            assert isinstance(control, expected), f.name
        event = build_event(source_id, seed=7, now=NOW)
        assert builder.event == event
        assert builder.preview.value == html_pre(event)
        assert builder.error.value == ""
    finally:
        builder.close()


def test_edited_fields_and_a_source_switch_rebuild_the_preview(runtime: LambdaRuntime) -> None:
    builder = EventBuilder(runtime, "echo", seed=3, now=NOW)
    try:
        builder.source.value = "s3-put"
        builder.set_values(key="photos/<cat>.jpg", size=2048, event_name="ObjectCreated:Copy")
        expected = build_event(
            "s3-put", key="photos/<cat>.jpg", size=2048, event_name="ObjectCreated:Copy",
            seed=3, now=NOW,
        )  # fmt: skip
        assert builder.event == expected
        assert builder.preview.value == html_pre(expected)
        assert "photos/%3Ccat%3E.jpg" in builder.preview.value  # S3 sends keys URL-encoded
        builder.source.value = "sqs"
        builder.set_values(messages='["a", "b"]')
        assert builder.event == build_event("sqs", messages=["a", "b"], seed=3, now=NOW)
        assert len(builder.event["Records"]) == 2
        builder.source.value = "custom"
        builder.set_values(payload='{"x": "<b>hi</b>"}')
        assert "&lt;b&gt;hi&lt;/b&gt;" in builder.preview.value  # escaped, not markup
        assert "<b>" not in builder.preview.value
    finally:
        builder.close()


def test_bad_json_is_shown_in_the_widget_and_nothing_is_invoked(runtime: LambdaRuntime) -> None:
    builder = EventBuilder(runtime, "echo")
    try:
        builder.set_values(payload='{"a": ')
        assert builder.event is None and builder.preview.value == ""
        text = html.unescape(builder.error.value)
        assert "Invalid JSON in field 'payload'" in text and "line 1, column 7" in text
        assert builder.controls["payload"].layout.border  # the field is outlined
        assert builder.invoke_now() is None
        assert builder.last is None and "fix the event first" in builder.status.value
        builder.set_values(payload='{"a": 1}')
        assert builder.error.value == "" and builder.event == {"a": 1}
        assert not builder.controls["payload"].layout.border
    finally:
        builder.close()


def test_invoke_shows_the_result_and_the_log(runtime: LambdaRuntime) -> None:
    runtime.create_function("echo2", "app.handler", ECHO)
    builder = EventBuilder(runtime, "echo2")
    try:
        builder.set_values(payload='{"n": 1}')
        result = builder.invoke_now()
        assert result is not None and result.status_code == 200
        assert builder.last is not None and builder.last.cold_start
        assert builder.last.result == {"echo": {"n": 1}}
        shown = html.unescape(_html_outputs(builder.output))
        assert "cold start" in shown and '"echo"' in shown and "Init Duration" in shown
        assert "got {'n': 1}" in _stdout(builder.output)
        assert "REPORT RequestId: " + builder.last.request_id in _stdout(builder.output)
        # the button: on a daemon thread, disabled while running, the outputs replaced
        builder.set_values(payload='{"n": 2}')
        builder.invoke_button.click()
        builder.wait()
        assert not builder.invoke_button.disabled and not builder.invoke_async_button.disabled
        assert builder.last.result == {"echo": {"n": 2}} and not builder.last.cold_start
        assert "got {'n': 1}" not in _stdout(builder.output)
        assert builder.status.value.startswith("200") and "warm" in builder.status.value
    finally:
        builder.close()


def test_invoke_async_answers_202(runtime: LambdaRuntime) -> None:
    builder = EventBuilder(runtime, "echo")
    try:
        builder.invoke_async_button.click()
        builder.wait()
        assert builder.last_result is not None and builder.last_result.status_code == 202
        assert builder.last_result.request_id in _html_outputs(builder.output)
        assert "Accepted" in builder.status.value
    finally:
        builder.close()


def test_aws_errors_are_shown_never_raised(runtime: LambdaRuntime) -> None:
    runtime.create_function("blocked", "app.handler", ECHO)
    runtime.function("blocked").set_reserved_concurrency(0)
    builder = EventBuilder(runtime, "blocked")
    try:
        assert builder.invoke_now() is None
        assert "TooManyRequestsException: Rate Exceeded." in builder.status.value
        assert "TooManyRequestsException" in _html_outputs(builder.output)
        builder.function.value = "echo"
        builder.qualifier.value = "nope"
        assert builder.invoke_now() is None
        assert "ResourceNotFoundException" in builder.status.value
    finally:
        builder.close()
    with pytest.raises(ResourceNotFoundException):
        EventBuilder(runtime, "no-such-function")


# -- FunctionPanel -------------------------------------------------------------------------------


def test_panel_applies_memory_and_environment(runtime: LambdaRuntime) -> None:
    fn = runtime.create_function("configured", "app.handler", ENV)
    assert fn.invoke().cold_start and not fn.invoke().cold_start
    panel = FunctionPanel(runtime, "configured")
    try:
        assert panel.memory.value == 128 and panel.timeout.value == 3
        assert not panel.memory.continuous_update
        assert (panel.memory.min, panel.memory.max) == (128, 10240)
        assert panel.environment.value == "" and panel.reserved.value == ""
        panel.memory.value = 256
        panel.environment.value = "COLOR=blue\n# a comment\n"
        panel.apply_button.click()
        panel.wait()
        assert not panel.apply_button.disabled
        result = panel.last
        assert result is not None and result.calls == ("UpdateFunctionConfiguration",)
        assert len(result.replaced_environments) == 1
        assert fn.configuration["MemorySize"] == 256
        assert fn.configuration["Environment"] == {"Variables": {"COLOR": "blue"}}
        status = html.unescape(panel.status.value)
        assert "MemorySize 128 → 256" in status and "the next invoke is a cold start" in status
        assert '"MemorySize": 256' in html.unescape(panel.configuration.value)
        after = fn.invoke()
        assert after.cold_start and after.result == {"color": "blue", "memory": "256"}
        # nothing changed: no call, no new environment
        again = panel.apply_now()
        assert again is not None and again.calls == ()
        assert not fn.invoke().cold_start
    finally:
        panel.close()


def test_panel_shows_aws_errors_with_their_code(runtime: LambdaRuntime) -> None:
    fn = runtime.create_function("strict", "app.handler", ENV)
    panel = FunctionPanel(runtime, "strict", alias="live")
    try:
        panel.environment.value = "AWS_REGION=eu-west-1"
        assert panel.apply_now() is None
        assert "InvalidParameterValueException: Lambda was unable to configure" in html.unescape(
            panel.status.value
        )
        assert "Environment" not in fn.configuration
        panel.environment.value = "not a pair"
        assert panel.apply_now() is None
        assert "line 1" in html.unescape(panel.status.value)
        panel.environment.value = ""
        panel.reserved.value = "many"
        assert panel.apply_now() is None
        assert "at 'reservedConcurrentExecutions'" in html.unescape(panel.status.value)
        panel.reserved.value = "3"
        panel.provisioned.value = "1"  # the alias does not exist yet
        assert panel.apply_now() is None
        assert "ResourceNotFoundException" in panel.status.value
        # PutFunctionConcurrency went through before the refused call, as on AWS
        assert runtime.service.get_function_concurrency("strict") == {
            "ReservedConcurrentExecutions": 3
        }
        fn.alias("live", fn.publish())
        result = panel.apply_now()
        assert result is not None and result.calls == ("PutProvisionedConcurrencyConfig",)
        config = runtime.service.get_provisioned_concurrency_config("strict", "live")
        assert config["RequestedProvisionedConcurrentExecutions"] == 1
        panel.reserved.value = ""
        panel.provisioned.value = ""
        result = panel.apply_now()
        assert result is not None
        assert result.calls == ("DeleteFunctionConcurrency", "DeleteProvisionedConcurrencyConfig")
        assert runtime.service.get_function_concurrency("strict") == {}
    finally:
        panel.close()


def test_environment_text_parses_key_value_lines() -> None:
    assert parse_environment("A=1\n\n# skip\nB = two words \nC=") == {
        "A": "1",
        "B": "two words",
        "C": "",
    }


# -- LoadGenerator -------------------------------------------------------------------------------


def test_load_generator_runs_to_100_percent(runtime: LambdaRuntime) -> None:
    gen = LoadGenerator(runtime, "echo", progress_interval=0.05)
    try:
        gen.rps.value = 40
        gen.duration.value = 0.5
        gen.concurrency.value = 2
        assert gen.ramp_to.disabled
        gen.start_button.click()
        assert gen.start_button.disabled and not gen.stop_button.disabled
        gen.wait()
        assert gen.progress.value == 100 and gen.progress.description == "100 %"
        assert gen.summary is not None and gen.summary.finished
        assert gen.summary.invocations + gen.summary.skipped == 20
        assert "Invocations" in gen.summary_view.value and "done" in gen.summary_view.value
        assert not gen.start_button.disabled and gen.stop_button.disabled
        assert gen.status.value == "done"
        # a ramp in async mode
        gen.pattern.value = "ramp"
        assert not gen.ramp_to.disabled
        gen.rps.value, gen.ramp_to.value, gen.duration.value = 0, 40, 0.5
        gen.invocation_type.value = "Event"
        future = gen.start()
        assert future is not None
        summary = future.result(10)
        assert summary is not None and set(summary.status_codes) == {202}
        assert summary.invocations + summary.skipped == 10
    finally:
        gen.close()


def test_load_generator_stops_and_shows_bad_input(runtime: LambdaRuntime) -> None:
    gen = LoadGenerator(runtime, "echo", rps=20, duration_s=30, concurrency=2)
    try:
        gen.event.value = "{nope"
        assert gen.start() is None
        assert "InvalidRequestContentException" in gen.status.value
        gen.event.value = '{"n": 1}'
        future = gen.start()
        assert future is not None and gen.start() is None  # one run at a time
        time.sleep(0.3)
        gen.stop_button.click()
        summary = future.result(5)
        assert summary is not None and summary.stopped and summary.sent < 20
        assert gen.status.value == "stopped" and gen.progress.value < 100
    finally:
        gen.close()


# -- LogTail ---------------------------------------------------------------------------------------


def test_log_tail_follows_new_lines_and_filters(runtime: LambdaRuntime) -> None:
    tail = LogTail(runtime, "logger", history=False, interval=0.05)
    try:
        assert tail.following
        runtime.function("logger").invoke({"n": 1})
        eventually(lambda: "ERROR something broke 1" in _stdout(tail.output))
        assert "INFO all good" in _stdout(tail.output)
        assert "REPORT RequestId" in eventually(
            lambda: "REPORT" in _stdout(tail.output) and _stdout(tail.output)
        )
        # a filter restarts the follower over the whole group: only matching lines
        tail.filter.value = "ERROR"
        eventually(lambda: "ERROR something broke 1" in _stdout(tail.output))
        runtime.function("logger").invoke({"n": 2})
        eventually(lambda: "ERROR something broke 2" in _stdout(tail.output))
        shown = _stdout(tail.output)
        assert "INFO" not in shown and "REPORT" not in shown
        assert all("ERROR" in line for line in tail.lines)
        tail.filter.value = "{ $.level = "  # CloudWatch refuses it
        assert "InvalidParameterException" in tail.status.value and not tail.following
    finally:
        tail.close()
    assert not tail.following


def test_log_tail_keeps_the_last_lines_only(runtime: LambdaRuntime) -> None:
    fn = runtime.function("logger")
    for n in range(6):
        fn.invoke({"n": n})
    runtime.store.flush()
    tail = LogTail(runtime, "logger", pattern="ERROR", max_lines=3, interval=0.05)
    try:
        eventually(lambda: "ERROR something broke 5" in _stdout(tail.output))
        lines = _stdout(tail.output).splitlines()
        assert len(lines) == 3 and list(tail.lines) == [line + "\n" for line in lines]
        assert lines[-1].endswith("ERROR something broke 5")
    finally:
        tail.close()


# -- Dashboard and display ---------------------------------------------------------------------


def test_dashboard_takes_its_plots(runtime: LambdaRuntime) -> None:
    class Plot:
        def __init__(self) -> None:
            self.widget = w.HTML("plot")
            self.started = self.closed = False

        def start(self) -> None:
            self.started = True

        def close(self) -> None:
            self.closed = True

    plot = Plot()
    with Dashboard(runtime, "echo", plots={"Mine": plot}, live=False) as board:
        assert board.titles == ("Invoke", "Configuration", "Load", "Logs", "Mine")
        assert board.widget.children[-1] is plot.widget and not plot.started
    assert plot.closed and not board.log_tail.following


def test_dashboard_builds_its_tabs_and_closes_cleanly(runtime: LambdaRuntime) -> None:
    board = Dashboard(runtime, "echo")
    try:
        assert board.titles == (
            "Invoke", "Configuration", "Load", "Logs", "Cold vs warm", "Concurrency", "Lifecycle",
        )  # fmt: skip
        assert len(board.widget.children) == 7
        assert all(plot.refresher.running for plot in board.plots.values())
        assert board.log_tail.following
        board.event_builder.set_values(payload='{"from": "dashboard"}')
        assert board.event_builder.invoke_now() is not None
        bundle = board._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert bundle["text/plain"].startswith("<Dashboard echo: Invoke, Configuration")
    finally:
        board.close()
    assert not board.log_tail.following
    assert not any(plot.refresher.running for plot in board.plots.values())
    board.close()  # idempotent


def test_every_widget_has_a_text_fallback(runtime: LambdaRuntime) -> None:
    views = [
        EventBuilder(runtime, "echo"),
        FunctionPanel(runtime, "echo"),
        LoadGenerator(runtime, "echo"),
        LogTail(runtime, "echo", history=False),
    ]
    try:
        for view in views:
            bundle = view._repr_mimebundle_()
            assert bundle["text/plain"].startswith(f"<{type(view).__name__} ")
            model = bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
            assert model == view.widget.model_id
            json.dumps(bundle)
    finally:
        for view in views:
            view.close()
