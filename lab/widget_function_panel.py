"""FunctionPanel: a function's memory, timeout, /tmp, concurrency and environment variables.

"Apply" makes the calls the console makes (UpdateFunctionConfiguration, Put/Delete
FunctionConcurrency, Put/DeleteProvisionedConcurrencyConfig), only those needed, and shows
the configuration that results, including the part a learner must see: a configuration change
replaces the function's execution environments, so the next invoke is a cold start.
"""

from __future__ import annotations

import html
from concurrent.futures import Future
from typing import Any

import ipywidgets as w

from ._forms import (
    ApplyResult,
    FunctionSettings,
    View,
    apply_settings,
    describe_error,
    format_environment,
    html_pre,
    parse_environment,
    parse_optional_int,
    run_in_daemon,
)

__all__ = ["FunctionPanel"]

_ERROR_STYLE = "color:#b52a2a"
#: GetFunctionConfiguration keys the panel shows after Apply.
_SHOWN = (
    "FunctionName",
    "MemorySize",
    "Timeout",
    "EphemeralStorage",
    "Environment",
    "LastModified",
    "RevisionId",
    "LastUpdateStatus",
)


class FunctionPanel(View):
    """Edit and apply a function's settings. ``alias`` is where provisioned concurrency goes
    (provisioned concurrency needs an alias or a version, not $LATEST)."""

    def __init__(self, runtime: Any = None, function_name: str = "", *, alias: str = "") -> None:
        super().__init__()
        if runtime is None:
            from . import _session

            runtime = _session.runtime()
        self.runtime = runtime
        self.function = runtime.function(function_name)  # ResourceNotFoundException if absent
        self.last: ApplyResult | None = None
        style = {"description_width": "14em"}
        wide = w.Layout(width="95%")
        self.memory = w.IntSlider(
            min=128, max=10240, step=1, description="Memory (MB)", continuous_update=False,
            style=style, layout=wide,
        )  # fmt: skip
        self.timeout = w.IntSlider(
            min=1, max=900, step=1, description="Timeout (s)", continuous_update=False,
            style=style, layout=wide,
        )  # fmt: skip
        self.ephemeral_storage = w.IntSlider(
            min=512, max=10240, step=1, description="Ephemeral storage (MB)",
            continuous_update=False, style=style, layout=wide,
        )  # fmt: skip
        self.reserved = w.Text(
            description="Reserved concurrency", placeholder="blank: unreserved", style=style
        )
        self.alias = w.Text(
            value=alias, description="Alias", placeholder="alias or version", style=style
        )
        self.provisioned = w.Text(
            description="Provisioned concurrency", placeholder="blank: none", style=style
        )
        self.environment = w.Textarea(
            description="Environment variables",
            placeholder="KEY=value, one per line",
            rows=4,
            style=style,
            layout=wide,
        )
        self.apply_button = w.Button(description="Apply", button_style="primary", icon="check")
        self.reload_button = w.Button(description="Reload", icon="refresh")
        self.status = w.HTML()
        self.configuration = w.HTML()
        self.widget = w.VBox(
            [
                w.HTML(f"<b>{html.escape(self.function.name)}</b>"),
                self.memory,
                self.timeout,
                self.ephemeral_storage,
                self.environment,
                self.reserved,
                w.HBox([self.alias, self.provisioned]),
                w.HBox([self.apply_button, self.reload_button]),
                self.status,
                self.configuration,
            ]
        )
        self.apply_button.on_click(lambda _: self.apply())
        self.reload_button.on_click(lambda _: self.load())
        self.load()

    def load(self) -> FunctionSettings:
        """Fill the controls from the function's current settings."""
        current = FunctionSettings.of(self.function, self.alias.value.strip())
        self.memory.value = current.memory_size
        self.timeout.value = current.timeout
        self.ephemeral_storage.value = current.ephemeral_storage
        self.environment.value = format_environment(current.environment)
        self.reserved.value = "" if current.reserved_concurrency is None else str(
            current.reserved_concurrency
        )  # fmt: skip
        pc = current.provisioned_concurrency
        self.provisioned.value = "" if pc is None else str(pc)
        self._show_configuration(self.function.configuration)
        return current

    def settings(self) -> FunctionSettings:
        """The settings the controls describe; a malformed box raises
        InvalidParameterValueException with the API's wording."""
        return FunctionSettings(
            memory_size=self.memory.value,
            timeout=self.timeout.value,
            ephemeral_storage=self.ephemeral_storage.value,
            environment=parse_environment(self.environment.value),
            reserved_concurrency=parse_optional_int(
                self.reserved.value, "reservedConcurrentExecutions"
            ),
            alias=self.alias.value.strip(),
            provisioned_concurrency=parse_optional_int(
                self.provisioned.value, "provisionedConcurrentExecutions"
            ),
        )

    def apply_now(self) -> ApplyResult | None:
        """Apply on this thread; the outcome (or the AWS error, with its code) is shown and
        returned (None on error). Never raises an AWS error."""
        self.status.value = "applying…"
        try:
            result = apply_settings(self.function, self.settings())
        except Exception as exc:  # noqa: BLE001 - the widget's boundary: shown, never raised
            self.status.value = (
                f"<span style='{_ERROR_STYLE}'>{html.escape(describe_error(exc))}</span>"
            )
            self._show_configuration(self.function.configuration)
            return None
        self.last = result
        self.status.value = html.escape(result.summary())
        self._show_configuration(result.configuration)
        return result

    def apply(self) -> Future[ApplyResult | None]:
        """Apply on a daemon thread, the button disabled until it is done."""
        self.apply_button.disabled = True

        def run() -> ApplyResult | None:
            try:
                return self.apply_now()
            finally:
                self.apply_button.disabled = False

        return self._track(run_in_daemon(run, name="lambda-lab-function-panel"))

    def _show_configuration(self, configuration: dict[str, Any]) -> None:
        shown = {k: configuration[k] for k in _SHOWN if k in configuration}
        envs = self.function.environments()
        lines = ", ".join(
            f"{e.environment_id[:8]} {e.initialization_type} {e.state.name}" for e in envs
        )
        self.configuration.value = (
            f"{html_pre(shown)}<div style='color:#666'>execution environments: "
            f"{html.escape(lines) if lines else 'none'}</div>"
        )

    def _text(self) -> str:
        return (
            f"<FunctionPanel {self.function.name} memory={self.memory.value} MB "
            f"timeout={self.timeout.value} s>"
        )
