"""Form logic behind the widgets, in plain Python: event forms drawn from
:data:`kernel_runtime.sources.EVENT_SOURCES`, the function settings form, and the small view
base every widget shares.

Nothing here touches a widget's state directly, so pytest checks the decisions (what a form
field parses to, which UpdateFunctionConfiguration call a panel makes) without a browser.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from kernel_runtime.errors import InvalidParameterValueException, ResourceNotFoundException
from kernel_runtime.sources import EVENT_SOURCES, EventField, EventSource, InvalidEventError

__all__ = [
    "ApplyResult",
    "FunctionSettings",
    "View",
    "apply_settings",
    "build_form_event",
    "describe_error",
    "field_initial",
    "format_environment",
    "html_pre",
    "parse_environment",
    "parse_field",
    "parse_optional_int",
    "run_in_daemon",
    "source_options",
]

T = TypeVar("T")


# ---------------------------------------------------------------- shared helpers


def describe_error(exc: BaseException) -> str:
    """``Code: message`` as the AWS CLI prints an error (``An error occurred (Code) ...``), for
    any exception a widget catches at its boundary."""
    code = getattr(exc, "code", None) or type(exc).__name__
    message = getattr(exc, "message", None) or str(exc) or code
    return f"{code}: {message}"


def html_pre(value: Any) -> str:
    """A JSON value (or text) as an escaped ``<pre>`` block."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return f"<pre style='margin:0'>{html.escape(text)}</pre>"


def run_in_daemon(target: Callable[[], T], *, name: str) -> Future[T]:
    """Run ``target`` on a new daemon thread; its result or exception lands in the Future.

    Daemon, not a ThreadPoolExecutor: CPython joins executor threads before atexit handlers
    run, so a hung invoke would hang the kernel's shutdown."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(target())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class View:
    """What every widget shares: ``.widget`` (the ipywidgets container) shown by
    ``_repr_mimebundle_`` with a ``text/plain`` fallback, ``.pending`` futures of background
    work, and ``close()``."""

    widget: Any

    def __init__(self) -> None:
        self.pending: list[Future[Any]] = []
        self._closed = False

    def _track(self, future: Future[T]) -> Future[T]:
        self.pending = [f for f in self.pending if not f.done()] + [future]
        return future

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until the background work started so far is done (for tests and scripts)."""
        for future in list(self.pending):
            future.exception(timeout)

    def _text(self) -> str:
        return f"<{type(self).__name__}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = self._text()
        return data

    def __repr__(self) -> str:
        return self._text()

    def close(self) -> None:
        """Stop background work and close the widgets (idempotent)."""
        if self._closed:
            return
        self._closed = True
        _close_tree(self.widget)

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_tree(widget: Any) -> None:
    """Close a container and every widget under it (``Widget.close`` alone leaves children)."""
    for child in getattr(widget, "children", ()) or ():
        _close_tree(child)
    widget.close()


# ---------------------------------------------------------------- event forms


def source_options() -> list[tuple[str, str]]:
    """(title, id) pairs for a drop-down of the event sources, in their registry order."""
    return [(source.title, source.id) for source in EVENT_SOURCES.values()]


def field_initial(event_field: EventField) -> Any:
    """The control's initial value for a field: JSON fields are edited as indented text."""
    if event_field.kind == "json":
        return json.dumps(event_field.default, indent=2)
    if event_field.kind == "int":
        return int(event_field.default)
    if event_field.kind == "bool":
        return bool(event_field.default)
    return "" if event_field.default is None else str(event_field.default)


def parse_field(event_field: EventField, raw: Any) -> Any:
    """A control's value as the builder's argument; a JSON field that does not parse raises
    :class:`~kernel_runtime.sources.InvalidEventError` naming the field and the position."""
    if event_field.kind == "json":
        if not isinstance(raw, str):
            return raw
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidEventError(
                f"Invalid JSON in field {event_field.name!r}: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})"
            ) from None
    if event_field.kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            try:
                return int(str(raw).strip())
            except ValueError:
                raise InvalidEventError(
                    f"Invalid {event_field.name} {raw!r}: must be an integer"
                ) from None
        return raw
    if event_field.kind == "bool":
        return bool(raw)
    return raw


def build_form_event(
    source: EventSource | str,
    values: Mapping[str, Any],
    *,
    seed: Any = None,
    now: datetime | None = None,
) -> Any:
    """The event a form describes: its controls' ``values`` parsed field by field, then
    ``source.build`` (the same as ``build_event(source.id, **fields)``)."""
    src = EVENT_SOURCES[source] if isinstance(source, str) else source
    fields = {f.name: parse_field(f, values[f.name]) for f in src.fields if f.name in values}
    common: dict[str, Any] = {}
    if seed is not None:
        common["seed"] = seed
    if now is not None:
        common["now"] = now
    return src.build(**fields, **common)


# ---------------------------------------------------------------- function settings

_ENV_LINE = re.compile(r"^\s*([^=\s]+)\s*=(.*)$")


def parse_environment(text: str) -> dict[str, str]:
    """``KEY=value`` lines (blank lines and ``#`` comments skipped) as Environment.Variables.
    Keys are checked by the service, as UpdateFunctionConfiguration checks them; here only the
    line syntax is."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise InvalidParameterValueException(
                f"Environment variables: line {number} ({line.strip()!r}) is not KEY=value"
            )
        variables[match.group(1)] = match.group(2).strip()
    return variables


def format_environment(variables: Mapping[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in variables.items())


def parse_optional_int(raw: str, member: str) -> int | None:
    """A blank text box is None (unreserved, no provisioned concurrency); otherwise an int,
    refused with the API's validation message."""
    text = raw.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{text}' at '{member}' failed to satisfy "
            "constraint: Member must be an integer"
        ) from None


@dataclass(frozen=True)
class FunctionSettings:
    """What the function panel edits: UpdateFunctionConfiguration's settings, reserved
    concurrency (None: unreserved) and provisioned concurrency on an alias (None or 0: none)."""

    memory_size: int
    timeout: int
    ephemeral_storage: int
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    alias: str = ""
    provisioned_concurrency: int | None = None

    @classmethod
    def of(cls, function: Any, alias: str = "") -> FunctionSettings:
        """A function's current settings (GetFunctionConfiguration, GetFunctionConcurrency,
        GetProvisionedConcurrencyConfig)."""
        config = function.configuration
        service = function.runtime.service
        reserved = service.get_function_concurrency(function.name).get(
            "ReservedConcurrentExecutions"
        )
        provisioned: int | None = None
        if alias:
            try:
                pc = service.get_provisioned_concurrency_config(function.name, alias)
                provisioned = int(pc["RequestedProvisionedConcurrentExecutions"])
            except ResourceNotFoundException:
                provisioned = None
        return cls(
            memory_size=int(config["MemorySize"]),
            timeout=int(config["Timeout"]),
            ephemeral_storage=int(config.get("EphemeralStorage", {}).get("Size", 512)),
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            reserved_concurrency=reserved,
            alias=alias,
            provisioned_concurrency=provisioned,
        )


@dataclass(frozen=True)
class ApplyResult:
    """What Apply did: the API calls made, the configuration after them, and the execution
    environments the change retired (the next invokes start cold in new ones)."""

    calls: tuple[str, ...]
    changes: tuple[str, ...]
    configuration: dict[str, Any]
    replaced_environments: tuple[str, ...]

    def summary(self) -> str:
        if not self.calls:
            return "Nothing to apply: the settings match the function's configuration."
        text = "; ".join(self.changes)
        if "UpdateFunctionConfiguration" in self.calls:
            n = len(self.replaced_environments)
            text += (
                f". UpdateFunctionConfiguration replaces the function's execution environments "
                f"({n} existing one{'s' if n != 1 else ''} retired): the next invoke is a cold "
                "start with the new configuration."
            )
        return text


def apply_settings(function: Any, wanted: FunctionSettings) -> ApplyResult:
    """Make ``function`` match ``wanted`` with the calls the console would make, only those
    needed: UpdateFunctionConfiguration, Put/DeleteFunctionConcurrency,
    Put/DeleteProvisionedConcurrencyConfig. The first refused call raises its
    :class:`~kernel_runtime.errors.LambdaError`; the calls before it stay applied (as on AWS)."""
    current = FunctionSettings.of(function, wanted.alias)
    service = function.runtime.service
    calls: list[str] = []
    changes: list[str] = []
    update: dict[str, Any] = {}
    for name, label in (
        ("memory_size", "MemorySize"),
        ("timeout", "Timeout"),
        ("ephemeral_storage", "EphemeralStorage"),
    ):
        old, new = getattr(current, name), getattr(wanted, name)
        if old != new:
            update[name] = new
            changes.append(f"{label} {old} → {new}")
    if current.environment != wanted.environment:
        update["environment"] = {"Variables": dict(wanted.environment)}
        n = len(wanted.environment)
        changes.append(f"Environment ({n} variable{'s' if n != 1 else ''})")
    # UpdateFunctionConfiguration retires $LATEST's on-demand environments (idle ones now,
    # busy ones when their request ends); provisioned ones serve an alias's version and stay
    before = [
        env.environment_id
        for env in function.environments()
        if env.config.version == "$LATEST" and env.initialization_type == "on-demand"
    ]
    if update:
        function.configure(**update)
        calls.append("UpdateFunctionConfiguration")
    if current.reserved_concurrency != wanted.reserved_concurrency:
        function.set_reserved_concurrency(wanted.reserved_concurrency)
        if wanted.reserved_concurrency is None:
            calls.append("DeleteFunctionConcurrency")
            changes.append("reserved concurrency removed (unreserved)")
        else:
            calls.append("PutFunctionConcurrency")
            changes.append(f"ReservedConcurrentExecutions {wanted.reserved_concurrency}")
    wanted_pc = wanted.provisioned_concurrency or None
    if current.provisioned_concurrency != wanted_pc:
        if not wanted.alias:
            raise InvalidParameterValueException(
                "Provisioned concurrency is configured on an alias or a version: name one."
            )
        if wanted_pc is None:
            service.delete_provisioned_concurrency_config(function.name, wanted.alias)
            calls.append("DeleteProvisionedConcurrencyConfig")
            changes.append(f"provisioned concurrency on {wanted.alias} removed")
        else:
            function.set_provisioned_concurrency(wanted.alias, wanted_pc)
            calls.append("PutProvisionedConcurrencyConfig")
            changes.append(f"ProvisionedConcurrentExecutions {wanted_pc} on {wanted.alias}")
    return ApplyResult(
        calls=tuple(calls),
        changes=tuple(changes),
        configuration=function.configuration,
        replaced_environments=tuple(before) if update else (),
    )
