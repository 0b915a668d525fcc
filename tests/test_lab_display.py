"""Rich displays of Function, Invocation and the runtime: content, escaping, registration."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.formatters import DisplayFormatter

from kernel_runtime import Function, Invocation, LambdaRuntime
from lab import _display

MARKUP = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('<script>alert(\"log\")</script>')\n"
    "    return {'echo': event, 'html': '<img src=x onerror=alert(1)>'}\n"
)


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = tmp_path_factory.mktemp("display") / "a&b<c>" / "s.sqlite3"  # markup in a path
    runtime = LambdaRuntime(endpoint=False, store=store)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def markup(rt: LambdaRuntime) -> Function:
    return rt.create_function(
        "markup",
        "app.handler",
        MARKUP,
        memory_size=256,
        timeout=5,
        environment={"Variables": {"BANNER": "<b>bold</b>"}},
    )


def _shell() -> Any:
    """What the extension touches of a shell: its display formatters (a shell of its own, so
    registering here never disturbs another test's extension)."""
    return SimpleNamespace(display_formatter=DisplayFormatter())


def _no_raw_markup(html: str) -> None:
    assert "<script" not in html and "<img" not in html and "<b>bold" not in html


def test_invocation_html_escapes_payload_and_log(markup: Function) -> None:
    inv = markup.invoke({"q": "</pre><script>x</script>"})
    html = _display.invocation_html(inv)
    _no_raw_markup(html)
    assert "&lt;script&gt;alert(&quot;log&quot;)&lt;/script&gt;" in html  # the log line
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the response
    assert "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;" in html  # the event, echoed
    assert html.count("<pre") == html.count("</pre>") == 2


def test_invocation_html_has_report_fields_and_a_cold_or_warm_badge(rt: LambdaRuntime) -> None:
    fn = rt.create_function("badges", "app.handler", "def handler(e, c):\n    return 1\n")
    cold, warm = fn.invoke(), fn.invoke()
    cold_html, warm_html = _display.invocation_html(cold), _display.invocation_html(warm)
    assert ">cold</span>" in cold_html and ">warm</span>" not in cold_html
    assert ">warm</span>" in warm_html and ">cold</span>" not in warm_html
    for field in ("Duration", "Billed Duration", "Memory Size", "Max Memory Used"):
        assert f">{field}</th>" in cold_html and f">{field}</th>" in warm_html
    assert f"{cold.duration_ms:.2f} ms" in cold_html
    assert f"{cold.billed_duration_ms} ms" in cold_html
    assert ">Init Duration</th>" in cold_html and ">Init Duration</th>" not in warm_html
    assert f"{cold.init_duration_ms:.2f} ms" in cold_html
    assert cold.request_id in cold_html and ">success</span>" in cold_html


def test_invocation_html_shows_the_error_object(rt: LambdaRuntime) -> None:
    source = "def handler(e, c):\n    raise ValueError('<b>bad</b> input')\n"
    inv = rt.create_function("errs", "app.handler", source).invoke()
    html = _display.invocation_html(inv)
    assert ">error</span>" in html and "Error (Unhandled)" in html and ">ValueError</b>" in html
    assert "&quot;errorMessage&quot;: &quot;&lt;b&gt;bad&lt;/b&gt; input&quot;" in html


def test_huge_payloads_and_logs_are_clipped(rt: LambdaRuntime) -> None:
    source = "def handler(e, c):\n    print('L' * 50000)\n    return 'x' * 100000\n"
    inv = rt.create_function("huge", "app.handler", source).invoke()
    html = _display.invocation_html(inv)
    assert len(html) < 2 * _display.CLIP_CHARS + 5000
    assert "more characters not shown" in html and "earlier characters not shown" in html
    assert "REPORT RequestId" in html  # a clipped log keeps its end


def test_function_html_is_a_configuration_table(rt: LambdaRuntime, markup: Function) -> None:
    markup.invoke({})
    rt.service.put_function_concurrency("markup", 4)
    html = _display.function_html(markup)
    _no_raw_markup(html)
    cells = dict(re.findall(r">([A-Z][a-z ]+)</th><td[^>]*>(.*?)</td></tr>", html))
    assert cells["Memory"] == "256 MB" and cells["Timeout"] == "5 s"
    assert cells["Runtime"] == "python3.11" and cells["Handler"] == "app.handler"
    assert ">Active</span>" in cells["State"]
    assert cells["Environment variables"] == "BANNER=&lt;b&gt;bold&lt;/b&gt;"
    assert cells["Concurrency"] == "0 in flight, reserved 4"
    env = markup.environments()[0]
    assert f"<code>{env.environment_id[:8]}</code>" in html and "on-demand" in html


def test_function_text_is_long_at_top_level_and_short_in_containers(markup: Function) -> None:
    shell = _shell()
    plain = shell.display_formatter.formatters["text/plain"]
    _display.register(shell)
    try:
        text = plain(markup)
        assert text.splitlines()[0] == f"Function markup ({markup.configuration['FunctionArn']})"
        assert "256 MB" in text and "BANNER=<b>bold</b>" in text and "environments " in text
        assert plain([markup]) == "[<Function markup>]"
    finally:
        _display.unregister(shell)
    assert plain(markup) == "<Function markup>"


def test_a_deleted_function_says_so(rt: LambdaRuntime) -> None:
    fn = rt.create_function("gone", "app.handler", "def handler(e, c):\n    return 1\n")
    fn.delete()
    assert ">deleted</span>" in _display.function_html(fn)
    assert _display.function_text(fn) == "<Function gone (deleted)>"


def test_runtime_display_lists_functions_environments_and_store(
    rt: LambdaRuntime, markup: Function
) -> None:
    markup.invoke({})
    html = _display.runtime_html(rt)
    _no_raw_markup(html)
    assert "a&amp;b&lt;c&gt;" in html and "a&b<c>" not in html  # the store path, escaped
    assert "none (endpoint=False)" in html and ">running</span>" in html
    assert "<b>markup</b>" in html
    for env in markup.environments():
        assert env.environment_id[:8] in html
    text = _display.runtime_text(rt)
    assert str(rt.store.path) in text and "\n  markup  python3.11  256 MB  5 s" in text
    assert "in flight of 1000" in text


def test_a_closed_runtime_shows_closed(tmp_path: Path) -> None:
    runtime = LambdaRuntime(endpoint=False, store=False)
    runtime.close()
    assert ">closed</span>" in _display.runtime_html(runtime)
    assert _display.runtime_text(runtime).startswith("LambdaRuntime (closed)")


def test_register_and_unregister_restore_what_was_there(markup: Function) -> None:
    shell = _shell()
    html = shell.display_formatter.formatters["text/html"]

    def theirs(inv: Invocation) -> str:
        return "theirs"

    html.for_type(Invocation, theirs)
    try:
        _display.register(shell)
        _display.register(shell)  # idempotent
        assert html.lookup_by_type(Invocation) is _display.invocation_html
        assert html.lookup_by_type(Function) is _display.function_html
        assert html.lookup_by_type(LambdaRuntime) is _display.runtime_html
        _display.unregister(shell)
        assert html.lookup_by_type(Invocation) is theirs
        with pytest.raises(KeyError):
            html.lookup_by_type(Function)
    finally:
        html.pop(Invocation, None)
