"""lambda-lab's Jupyter layer: the IPython extension, magics, widgets, Bokeh plots and
exercise checks.

Thin by design: every decision lives in :mod:`kernel_runtime`, which this package imports
and which never imports this package, ipywidgets or bokeh.

``%load_ext lab`` starts the kernel's runtime (:func:`runtime`) and adds the magics
(``%%lambda``, ``%lambda_invoke``, ``%lambda_logs``, ``%lambda_list``) and the rich displays
of functions, invocations and the runtime; ``%unload_ext lab`` removes them and stops every
process the runtime started. Widgets and plots are imported on first use (PEP 562), so
loading the extension does not import ipywidgets or bokeh.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from ._session import close, load_bokehjs, runtime
    from .plot_cold_warm import ColdWarmPlot
    from .plot_concurrency import ConcurrencyPlot
    from .plot_lifecycle import LifecyclePlot
    from .plot_trace import TraceWaterfall
    from .plot_tuning import MemoryTuning
    from .widget_dashboard import Dashboard
    from .widget_event_builder import EventBuilder
    from .widget_function_panel import FunctionPanel
    from .widget_load_generator import LoadGenerator
    from .widget_log_tail import LogTail

_EXPORTS = {
    "ColdWarmPlot": ".plot_cold_warm",
    "ConcurrencyPlot": ".plot_concurrency",
    "Dashboard": ".widget_dashboard",
    "EventBuilder": ".widget_event_builder",
    "FunctionPanel": ".widget_function_panel",
    "LifecyclePlot": ".plot_lifecycle",
    "LoadGenerator": ".widget_load_generator",
    "LogTail": ".widget_log_tail",
    "MemoryTuning": ".plot_tuning",
    "TraceWaterfall": ".plot_trace",
    "close": "._session",
    "load_bokehjs": "._session",
    "runtime": "._session",
}

__all__ = [
    "ColdWarmPlot",
    "ConcurrencyPlot",
    "Dashboard",
    "EventBuilder",
    "FunctionPanel",
    "LifecyclePlot",
    "LoadGenerator",
    "LogTail",
    "MemoryTuning",
    "TraceWaterfall",
    "close",
    "load_bokehjs",
    "load_ipython_extension",
    "runtime",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext lab``: start the kernel's runtime, add the magics and displays.

    Idempotent: a second call (or ``%reload_ext lab``) never starts a second runtime.
    """
    from . import _display, _magics, _session

    _session.runtime()
    _display.register(ip)
    _magics.register(ip)


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext lab``: remove the magics and displays, close the runtime (every
    environment, the zygote, the endpoint and the embedded AWS services stop).

    ``%reload_ext lab`` unloads then loads again; there the runtime is kept, with its
    functions and warm environments, so a reload neither starts a second runtime nor throws
    the user's work away.
    """
    from . import _display, _magics, _session

    _magics.unregister(ip)
    _display.unregister(ip)
    if not _reloading():
        _session.close()


def _reloading() -> bool:
    """Whether IPython's ``reload_extension`` is the caller: it has no flag for it, so look."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "reload_extension" and frame.f_globals.get("__name__") == (
            "IPython.core.extensions"
        ):
            return True
        frame = frame.f_back
    return False
