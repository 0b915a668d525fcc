"""EventBuilder: pick an event source, fill in its fields, see the exact JSON, invoke.

The form is drawn from :data:`kernel_runtime.sources.EVENT_SOURCES`; the event is built by
the same builders a script would call, so the preview is what the function receives. Invokes
run on a daemon thread (the kernel's event loop is never blocked) and every error, a bad JSON
field or a 429 alike, is shown in the widget instead of being raised into the kernel.
"""

from __future__ import annotations

import html
import threading
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import ipywidgets as w

from kernel_runtime import Invocation, InvokeResult
from kernel_runtime.sources import EVENT_SOURCES, EventField

from ._forms import (
    View,
    build_form_event,
    describe_error,
    field_initial,
    html_pre,
    parse_field,
    run_in_daemon,
    source_options,
)

__all__ = ["EventBuilder"]

_ERROR_STYLE = "color:#b52a2a"
_INVALID_BORDER = "1px solid #b52a2a"


def _control(event_field: EventField) -> w.ValueWidget:
    """One form control per field kind (a drop-down when the field has choices)."""
    value = field_initial(event_field)
    common: dict[str, Any] = {
        "description": event_field.name,
        "tooltip": event_field.description,
        "style": {"description_width": "10em"},
        "layout": w.Layout(width="95%"),
    }
    if event_field.choices:
        return w.Dropdown(options=list(event_field.choices), value=value, **common)
    if event_field.kind == "int":
        return w.IntText(value=value, **common)
    if event_field.kind == "bool":
        return w.Checkbox(value=value, indent=False, **common)
    if event_field.kind in ("json", "text"):
        rows = max(2, min(10, str(value).count("\n") + 1))
        return w.Textarea(value=value, rows=rows, **common)
    return w.Text(value=value, **common)


def _result_html(result: InvokeResult) -> str:
    """The Invoke API's answer: status, REPORT fields, response (or error object)."""
    inv = result.invocation
    if inv is None:  # Event: 202, nothing to show but the request id
        return (
            f"<b>{result.status_code} Accepted</b> · RequestId {html.escape(result.request_id)}"
            " · queued (InvocationType=Event); the attempt runs on the async queue, its "
            "output goes to the function's log group"
        )
    kind = "cold start" if inv.cold_start else "warm"
    parts = [
        f"<b>{result.status_code}</b>",
        kind,
        f"Duration {inv.duration_ms:.2f} ms",
        f"Billed Duration {inv.billed_duration_ms} ms",
        f"Memory Size {inv.memory_size_mb} MB",
        f"Max Memory Used {inv.max_memory_used_mb} MB",
    ]
    if inv.init_duration_ms is not None:
        parts.append(f"Init Duration {inv.init_duration_ms:.2f} ms")
    head = " · ".join(parts)
    label = "Response"
    if inv.function_error:
        label = (
            f"<span style='{_ERROR_STYLE}'>Function error ({html.escape(inv.function_error)}"
            f"{': ' + html.escape(inv.error_type) if inv.error_type else ''})</span>"
        )
    try:
        body = html_pre(inv.result)
    except ValueError:  # a handler may return bytes that are not JSON
        body = html_pre(inv.payload.decode("utf-8", "replace"))
    return (
        f"<div>{head}</div><div style='color:#666'>RequestId {html.escape(inv.request_id)}"
        f" · environment {html.escape(inv.environment_id[:8])}</div>"
        f"<div><b>{label}</b></div>{body}"
    )


class EventBuilder(View):
    """Build an event from a source's fields and invoke a function with it.

    ``runtime``: a :class:`~kernel_runtime.LambdaRuntime` (default: the kernel's).
    ``seed``/``now`` make the built events reproducible (ids, timestamps). After an invoke,
    ``.last`` is its :class:`~kernel_runtime.Invocation` (sync) and ``.last_result`` the
    Invoke API's answer (sync or async).
    """

    def __init__(
        self,
        runtime: Any = None,
        function_name: str | None = None,
        *,
        source: str = "custom",
        qualifier: str | None = None,
        seed: Any = None,
        now: datetime | None = None,
    ) -> None:
        super().__init__()
        if runtime is None:
            from . import _session

            runtime = _session.runtime()
        self.runtime = runtime
        self.seed = seed
        self.now = now
        self.last: Invocation | None = None
        self.last_result: InvokeResult | None = None
        self.event: Any = None
        self.controls: dict[str, w.ValueWidget] = {}
        self._output_lock = threading.Lock()
        names = runtime.service.registry.function_names()
        if function_name is not None and function_name not in names:
            runtime.function(function_name)  # ResourceNotFoundException, AWS's message
        label = {"style": {"description_width": "10em"}}
        self.function = w.Dropdown(
            description="Function",
            options=names,
            value=function_name if function_name is not None else (names[0] if names else None),
            **label,
        )
        self.qualifier = w.Text(
            value=qualifier or "", description="Qualifier", placeholder="$LATEST", **label
        )
        self.source = w.Dropdown(
            description="Event source", options=source_options(), value=source, **label
        )
        self.fields = w.VBox()
        self.error = w.HTML()
        self.preview = w.HTML()
        self.invoke_button = w.Button(description="Invoke", button_style="primary", icon="play")
        self.invoke_async_button = w.Button(description="Invoke async", icon="paper-plane")
        self.status = w.HTML()
        self.output = w.Output(layout=w.Layout(max_height="24em", overflow="auto"))
        self.widget = w.VBox(
            [
                w.HBox([self.function, self.qualifier]),
                self.source,
                self.fields,
                self.error,
                w.Accordion(children=[self.preview], titles=("Event JSON",), selected_index=0),
                w.HBox([self.invoke_button, self.invoke_async_button, self.status]),
                self.output,
            ]
        )
        self.source.observe(self._on_source, names="value")
        self.invoke_button.on_click(lambda _: self.invoke("RequestResponse"))
        self.invoke_async_button.on_click(lambda _: self.invoke("Event"))
        self._build_fields()

    # -- the form -------------------------------------------------------------------------------
    def _on_source(self, change: dict[str, Any]) -> None:
        self._build_fields()

    def _build_fields(self) -> None:
        old = list(self.controls.values())
        src = EVENT_SOURCES[self.source.value]
        self.controls = {f.name: _control(f) for f in src.fields}
        for control in self.controls.values():
            control.observe(lambda _change: self.refresh(), names="value")
        self.fields.children = tuple(self.controls.values())
        for control in old:  # after the form stopped showing them
            control.close()
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' raw values (JSON fields as text)."""
        return {name: control.value for name, control in self.controls.items()}

    def set_values(self, **values: Any) -> None:
        """Fill controls by field name (JSON fields take text)."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise KeyError(f"no field(s) {', '.join(unknown)} in event source {self.source.value}")
        for name, value in values.items():
            self.controls[name].value = value

    def refresh(self) -> Any:
        """Rebuild the event from the form: the preview shows it, or the error says what is
        wrong (each field that does not parse is named and outlined). Returns the event or
        None."""
        src = EVENT_SOURCES[self.source.value]
        values = self.values()
        problems: list[str] = []
        for event_field in src.fields:
            control = self.controls[event_field.name]
            try:
                parse_field(event_field, values[event_field.name])
            except ValueError as exc:  # InvalidEventError, naming the field
                problems.append(describe_error(exc))
                control.layout.border = _INVALID_BORDER
            else:
                control.layout.border = None
        event = None
        if not problems:
            try:
                event = build_form_event(src, values, seed=self.seed, now=self.now)
            except ValueError as exc:  # the builder refused a value (InvalidEventError)
                problems.append(describe_error(exc))
        self.event = event
        if problems:
            self.preview.value = ""
            self.error.value = "<br>".join(
                f"<span style='{_ERROR_STYLE}'>{html.escape(p)}</span>" for p in problems
            )
            return None
        self.error.value = ""
        self.preview.value = html_pre(event)
        return event

    # -- invoking -------------------------------------------------------------------------------
    def invoke_now(self, invocation_type: str = "RequestResponse") -> InvokeResult | None:
        """Invoke with the previewed event on this thread; the result (or the error) is shown
        in the widget and returned (None on error). Never raises an AWS error."""
        event = self.event if self.event is not None else self.refresh()
        if event is None:
            self.status.value = f"<span style='{_ERROR_STYLE}'>fix the event first</span>"
            return None
        name = self.function.value
        if not name:
            self._show_error("ResourceNotFoundException: no function selected")
            return None
        self.status.value = "invoking…"
        try:
            result = self.runtime.invoke(
                name,
                event,
                qualifier=self.qualifier.value.strip() or None,
                invocation_type=invocation_type,
            )
        except Exception as exc:  # noqa: BLE001 - the widget's boundary: shown, never raised
            self._show_error(describe_error(exc))
            return None
        self.last_result = result
        if result.invocation is not None:
            self.last = result.invocation
        self._show_result(result)
        return result

    def invoke(self, invocation_type: str = "RequestResponse") -> Future[InvokeResult | None]:
        """Invoke on a daemon thread, the buttons disabled until it returns."""
        buttons = (self.invoke_button, self.invoke_async_button)
        for button in buttons:
            button.disabled = True

        def run() -> InvokeResult | None:
            try:
                return self.invoke_now(invocation_type)
            finally:
                for button in buttons:
                    button.disabled = False

        return self._track(run_in_daemon(run, name="lambda-lab-event-builder"))

    def _show_error(self, text: str) -> None:
        self.status.value = f"<span style='{_ERROR_STYLE}'>{html.escape(text)}</span>"
        with self._output_lock:
            self.output.outputs = (
                _html_output(f"<b style='{_ERROR_STYLE}'>{html.escape(text)}</b>", text),
            )

    def _show_result(self, result: InvokeResult) -> None:
        inv = result.invocation
        if inv is None:
            self.status.value = f"{result.status_code} Accepted"
        else:
            kind = "cold" if inv.cold_start else "warm"
            error = f" {inv.function_error}" if inv.function_error else ""
            self.status.value = (
                f"{result.status_code}{html.escape(error)} · {kind} · {inv.duration_ms:.1f} ms"
            )
        with self._output_lock:
            self.output.outputs = (_html_output(_result_html(result), repr(inv or result)),)
            if inv is not None and inv.log:
                self.output.append_stdout(inv.log)

    def _text(self) -> str:
        last = f", last {self.last!r}" if self.last is not None else ""
        return (
            f"<EventBuilder {self.source.value} -> {self.function.value or '(no function)'}{last}>"
        )


def _html_output(markup: str, text: str) -> dict[str, Any]:
    """A display_data output, as ``Output.append_display_data(HTML(...))`` appends it (built
    here: the formatter it uses needs an IPython shell)."""
    return {
        "output_type": "display_data",
        "data": {"text/html": markup, "text/plain": text},
        "metadata": {},
    }
