"""Rich displays of kernel_runtime's objects: a Function, an Invocation, the runtime.

kernel_runtime must not import lab, so these are not ``_repr_html_`` methods on its classes but
formatters the extension registers with IPython for those types (and removes on unload). Each
type gets ``text/html`` (a small table with inline styles, no CSS or JavaScript files) and,
except Invocation whose ``repr`` already says what happened, ``text/plain``. Every value that
reaches the HTML is escaped: payloads, logs and environment variables are user data.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from kernel_runtime import Function, Invocation, LambdaError, LambdaRuntime

__all__ = [
    "function_html",
    "function_text",
    "invocation_html",
    "register",
    "runtime_html",
    "runtime_text",
    "unregister",
]

#: characters of a payload or log shown; the rest is counted, so one huge response or a
#: flooding handler cannot make a notebook unreadable (or unsaveable)
CLIP_CHARS = 20_000

_BOX = "font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;max-width:960px"
_TABLE = "border-collapse:collapse;margin:4px 0"
_TH = "text-align:left;padding:2px 10px 2px 0;color:#555;font-weight:600;vertical-align:top"
_TD = "text-align:left;padding:2px 10px 2px 0;vertical-align:top"
_PRE = (
    "margin:2px 0;padding:6px;background:#f6f8fa;border:1px solid #e1e4e8;border-radius:3px;"
    "max-height:320px;overflow:auto;white-space:pre-wrap;font-size:12px"
)
_MUTED = "color:#777;font-size:12px"
_COLORS = {
    "cold": "#1f6fb4",
    "warm": "#e07b00",
    "success": "#2a8a2a",
    "error": "#c62828",
    "timeout": "#7b3fa0",
    "Active": "#2a8a2a",
    "closed": "#777",
    "running": "#2a8a2a",
    "deleted": "#777",
}


class _Html(str):
    """Markup built here (already escaped), as opposed to a value still to escape."""


def _cell(value: object) -> str:
    return value if isinstance(value, _Html) else html.escape(str(value))


def _badge(text: str, color: str | None = None) -> _Html:
    color = color or _COLORS.get(text, "#555")
    return _Html(
        f'<span style="background:{color};color:#fff;border-radius:3px;padding:0 6px;'
        f'font-size:11px;font-weight:600">{html.escape(text)}</span>'
    )


def _rows(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f'<tr><th style="{_TH}">{html.escape(label)}</th><td style="{_TD}">{_cell(value)}</td></tr>'
        for label, value in rows
    )
    return f'<table style="{_TABLE}">{body}</table>'


def _grid(header: list[str], rows: list[list[object]]) -> _Html:
    head = "".join(f'<th style="{_TH}">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_TD}">{_cell(v)}</td>' for v in row) + "</tr>"
        for row in rows
    )
    return _Html(f'<table style="{_TABLE}"><tr>{head}</tr>{body}</table>')


def _pre(text: str) -> str:
    return f'<pre style="{_PRE}">{html.escape(text)}</pre>'


def _clip(text: str, *, keep_end: bool = False) -> str:
    """At most CLIP_CHARS characters, saying how many were left out (logs keep their end,
    where the error and the REPORT are)."""
    if len(text) <= CLIP_CHARS:
        return text
    hidden = len(text) - CLIP_CHARS
    if keep_end:
        return f"[{hidden:,} earlier characters not shown]\n" + text[-CLIP_CHARS:]
    return text[:CLIP_CHARS] + f"\n[{hidden:,} more characters not shown]"


def _payload_text(payload: bytes) -> str:
    """The response as a reader wants it: JSON indented, other text as is."""
    if not payload:
        return "(empty)"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(payload):,} bytes, not UTF-8)"
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    return _clip(text)


# -- Function ----------------------------------------------------------------------------------
@dataclass
class _Facts:
    """What a Function's displays show, gathered in one place from the service."""

    configuration: dict[str, Any]
    environments: list[Any]
    reserved: int | None
    in_flight: int
    provisioned: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    aliases: list[dict[str, Any]] = field(default_factory=list)


def _facts(fn: Function) -> _Facts | None:
    """None when the function no longer exists (deleted) or its runtime is closed."""
    rt = fn.runtime
    if rt.closed:
        return None
    service, registry = rt.service, rt.service.registry
    try:
        configuration = fn.configuration
        name = configuration["FunctionName"]
        reserved = service.get_function_concurrency(name).get("ReservedConcurrentExecutions")
        aliases = registry.list_aliases(name)["Aliases"]
        provisioned = []
        configs = registry.list_provisioned_concurrency_configs(name)
        for item in configs["ProvisionedConcurrencyConfigs"]:
            qualifier = item["FunctionArn"].rsplit(":", 1)[1]
            provisioned.append(
                (qualifier, service.get_provisioned_concurrency_config(name, qualifier))
            )
    except LambdaError:
        return None
    return _Facts(
        configuration=configuration,
        environments=fn.environments(),
        reserved=reserved,
        in_flight=service.pools.concurrency(name),
        provisioned=provisioned,
        aliases=aliases,
    )


def _env_line(env: Any) -> str:
    count = env.invocation_count
    plural = "" if count == 1 else "s"
    return (
        f"{env.environment_id[:8]} {env.config.version} {env.state.value} "
        f"{count} invocation{plural} ({env.initialization_type})"
    )


def _env_summary(envs: list[Any]) -> str:
    if not envs:
        return "none"
    states: dict[str, int] = {}
    for env in envs:
        states[env.state.value] = states.get(env.state.value, 0) + 1
    detail = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    return f"{len(envs)} ({detail})"


def _provisioned_line(qualifier: str, config: dict[str, Any]) -> str:
    line = (
        f"{qualifier}: {config['AllocatedProvisionedConcurrentExecutions']} of "
        f"{config['RequestedProvisionedConcurrentExecutions']} allocated, {config['Status']}"
    )
    reason = config.get("StatusReason")
    return f"{line} ({reason})" if reason else line


def _variables(configuration: dict[str, Any]) -> dict[str, str]:
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def function_html(fn: Function) -> str:
    """A Function's configuration, concurrency and environments as a small HTML table."""
    facts = _facts(fn)
    if facts is None:
        return (
            f'<div style="{_BOX}"><b>&lambda; {html.escape(fn.name)}</b> '
            f'{_badge("deleted")} <span style="{_MUTED}">no such function in this '
            "runtime</span></div>"
        )
    c = facts.configuration
    variables = _variables(c)
    env_vars = _Html("<br>".join(html.escape(f"{k}={v}") for k, v in variables.items()) or "none")
    concurrency = f"{facts.in_flight} in flight"
    if facts.reserved is not None:
        concurrency += f", reserved {facts.reserved}"
    else:
        concurrency += ", unreserved (account pool)"
    rows: list[tuple[str, object]] = [
        ("Runtime", c["Runtime"]),
        ("Handler", c["Handler"]),
        ("Memory", f"{c['MemorySize']} MB"),
        ("Timeout", f"{c['Timeout']} s"),
        ("Ephemeral storage", f"{c['EphemeralStorage']['Size']} MB"),
        ("Architecture", ", ".join(c["Architectures"])),
        ("Tracing", c["TracingConfig"]["Mode"]),
        ("State", _Html(f"{_badge(c['State'])} {html.escape(c['LastUpdateStatus'])}")),
        ("Environment variables", env_vars),
    ]
    if c.get("Layers"):
        rows.append(("Layers", _Html("<br>".join(html.escape(x["Arn"]) for x in c["Layers"]))))
    if facts.aliases:
        arrow = "\N{RIGHTWARDS ARROW}"
        aliases = ", ".join(f"{a['Name']} {arrow} {a['FunctionVersion']}" for a in facts.aliases)
        rows.append(("Aliases", aliases))
    rows.append(("Concurrency", concurrency))
    if facts.provisioned:
        lines = [_provisioned_line(q, p) for q, p in facts.provisioned]
        rows.append(("Provisioned", _Html("<br>".join(html.escape(x) for x in lines))))
    envs = facts.environments
    if envs:
        table = _grid(
            ["environment", "version", "state", "invocations", "initialization"],
            [
                [
                    _Html(f"<code>{html.escape(e.environment_id[:8])}</code>"),
                    e.config.version,
                    e.state.value,
                    e.invocation_count,
                    e.initialization_type,
                ]
                for e in envs
            ],
        )
        rows.append(("Environments", table))
    else:
        rows.append(("Environments", "none (the next invoke is a cold start)"))
    rows.append(("Last modified", c["LastModified"]))
    rows.append(("Code", f"{c['CodeSize']:,} bytes, CodeSha256 {c['CodeSha256']}"))
    return (
        f'<div style="{_BOX}"><div><b>&lambda; {html.escape(c["FunctionName"])}</b> '
        f'<span style="{_MUTED}">{html.escape(c["FunctionArn"])}</span></div>'
        f"{_rows(rows)}</div>"
    )


def function_text(fn: Function) -> str:
    """The same facts as :func:`function_html`, for terminals and static viewers."""
    facts = _facts(fn)
    if facts is None:
        return f"<Function {fn.name} (deleted)>"
    c = facts.configuration
    lines = [
        f"Function {c['FunctionName']} ({c['FunctionArn']})",
        f"  {c['Runtime']}  {c['Handler']}  {c['MemorySize']} MB  {c['Timeout']} s  "
        f"tracing {c['TracingConfig']['Mode']}  {c['State']}",
    ]
    variables = _variables(c)
    if variables:
        lines.append("  environment " + ", ".join(f"{k}={v}" for k, v in variables.items()))
    reserved = "unreserved" if facts.reserved is None else f"reserved {facts.reserved}"
    lines.append(f"  concurrency {facts.in_flight} in flight, {reserved}")
    for a in facts.aliases:
        lines.append(f"  alias {a['Name']} -> {a['FunctionVersion']}")
    for q, p in facts.provisioned:
        lines.append("  provisioned " + _provisioned_line(q, p))
    lines.append(f"  environments {_env_summary(facts.environments)}")
    lines.extend("    " + _env_line(e) for e in facts.environments)
    return "\n".join(lines)


# -- Invocation --------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} ms"


def invocation_html(inv: Invocation) -> str:
    """Response or error, the REPORT fields, a cold/warm badge and the log."""
    kind = "cold" if inv.cold_start else "warm"
    status = inv.status
    head = (
        f"<b>&lambda; {html.escape(inv.function_name)}</b>:{html.escape(inv.function_version)} "
        f"{_badge(kind)} {_badge(status)}"
    )
    if inv.error_type:
        head += f' <b style="color:{_COLORS["error"]}">{html.escape(inv.error_type)}</b>'
    head += f' <span style="{_MUTED}">RequestId {html.escape(inv.request_id)}</span>'
    label = f"Error ({inv.function_error})" if inv.function_error else "Response"
    report = [
        ("Duration", _ms(inv.duration_ms)),
        ("Billed Duration", f"{inv.billed_duration_ms} ms"),
        ("Memory Size", f"{inv.memory_size_mb} MB"),
        ("Max Memory Used", f"{inv.max_memory_used_mb} MB"),
    ]
    if inv.init_duration_ms is not None:
        report.append(("Init Duration", _ms(inv.init_duration_ms)))
    report_table = _grid([k for k, _ in report], [[v for _, v in report]])
    log = inv.log.rstrip("\n")
    dropped = f" ({inv.log_bytes_dropped:,} bytes dropped)" if inv.log_bytes_dropped else ""
    n_lines = log.count("\n") + 1 if log else 0
    return (
        f'<div style="{_BOX}"><div>{head}</div>'
        f'<div style="{_MUTED}">environment {html.escape(inv.environment_id[:8])} '
        f"({html.escape(inv.initialization_type)}), log stream "
        f"{html.escape(inv.log_stream_name)}, trace {html.escape(inv.trace_id)}</div>"
        f"<div><b>{html.escape(label)}</b></div>{_pre(_payload_text(inv.payload))}"
        f"{report_table}"
        f"<details><summary>Log ({n_lines} lines{html.escape(dropped)})</summary>"
        f"{_pre(_clip(log, keep_end=True))}</details></div>"
    )


# -- the runtime -------------------------------------------------------------------------------
def _runtime_rows(rt: LambdaRuntime) -> tuple[list[tuple[str, object]], list[Function]]:
    store = rt.store.path if rt.store is not None else "off (store=False)"
    rows: list[tuple[str, object]] = [
        ("Endpoint URL", rt.endpoint_url or "none (endpoint=False)"),
        ("Store", str(store)),
    ]
    if rt.closed:
        return rows, []
    pools = rt.service.pools
    rows.append(
        (
            "Concurrency",
            f"{pools.concurrency()} in flight of {pools.limits.account_concurrency} "
            f"(unreserved available {pools.unreserved_available()})",
        )
    )
    rows.append(("Environments", _env_summary(pools.environments())))
    rows.append(("Limits backend", rt.sandbox.backend.name))
    functions = [Function(rt, name) for name in rt.service.registry.function_names()]
    return rows, functions


def runtime_html(rt: LambdaRuntime) -> str:
    """The runtime: its functions and their environments, concurrency, endpoint and store."""
    closed = rt.closed
    rows, functions = _runtime_rows(rt)
    parts = [
        f'<div style="{_BOX}"><div><b>lambda-lab runtime</b> '
        f"{_badge('closed' if closed else 'running')}</div>{_rows(rows)}"
    ]
    table_rows: list[list[object]] = []
    for fn in functions:
        facts = _facts(fn)
        if facts is None:
            continue
        c = facts.configuration
        envs = _Html("<br>".join(html.escape(_env_line(e)) for e in facts.environments) or "none")
        provisioned = "; ".join(_provisioned_line(q, p) for q, p in facts.provisioned)
        table_rows.append(
            [
                _Html(f"<b>{html.escape(c['FunctionName'])}</b>"),
                c["Runtime"],
                f"{c['MemorySize']} MB",
                f"{c['Timeout']} s",
                "" if facts.reserved is None else facts.reserved,
                provisioned,
                facts.in_flight,
                envs,
            ]
        )
    if table_rows:
        header = ["function", "runtime", "memory", "timeout", "reserved", "provisioned",
                  "in flight", "environments"]  # fmt: skip
        parts.append(_grid(header, table_rows))
    elif not closed:
        parts.append(f'<div style="{_MUTED}">No functions yet: create one with %%lambda.</div>')
    parts.append("</div>")
    return "".join(parts)


def runtime_text(rt: LambdaRuntime) -> str:
    """The runtime for terminals and static viewers: one line per function."""
    closed = rt.closed
    rows, functions = _runtime_rows(rt)
    lines = [f"LambdaRuntime ({'closed' if closed else 'running'})"]
    lines.extend(f"  {label}: {value}" for label, value in rows)
    for fn in functions:
        facts = _facts(fn)
        if facts is None:
            continue
        c = facts.configuration
        lines.append(
            f"  {c['FunctionName']}  {c['Runtime']}  {c['MemorySize']} MB  {c['Timeout']} s  "
            f"environments {_env_summary(facts.environments)}"
        )
    return "\n".join(lines)


# -- registration ------------------------------------------------------------------------------
def _plain(render: Any) -> Any:
    """An IPython pretty-printer: the long form at top level, the repr inside containers."""

    def printer(obj: Any, p: Any, cycle: bool) -> None:
        top_level = len(getattr(p, "stack", ())) <= 1
        p.text(render(obj) if top_level and not cycle else repr(obj))

    return printer


#: per shell: (mime type, type, the formatter that was registered before ours)
_registered: dict[int, list[tuple[str, type, Any]]] = {}


def register(ip: Any) -> None:
    """Register the displays with ``ip``'s formatters (idempotent)."""
    if id(ip) in _registered:
        return
    formatters = ip.display_formatter.formatters
    saved = []
    for mime, typ, render in (
        ("text/html", Function, function_html),
        ("text/html", Invocation, invocation_html),
        ("text/html", LambdaRuntime, runtime_html),
        ("text/plain", Function, _plain(function_text)),
        ("text/plain", LambdaRuntime, _plain(runtime_text)),
    ):
        saved.append((mime, typ, formatters[mime].for_type(typ, render)))
    _registered[id(ip)] = saved


def unregister(ip: Any) -> None:
    """Remove what :func:`register` added, restoring any formatter it replaced."""
    formatters = ip.display_formatter.formatters
    for mime, typ, previous in reversed(_registered.pop(id(ip), [])):
        formatters[mime].pop(typ, None)
        if previous is not None:
            formatters[mime].for_type(typ, previous)
