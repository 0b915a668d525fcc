"""The kernel's one :class:`~kernel_runtime.LambdaRuntime`, and BokehJS loaded once.

A kernel holds a single runtime so that every magic, widget and plot sees the same functions,
environments and store. It is created on first use (``%load_ext lab`` does that), closed by
:func:`close` (the extension's unload calls it) and, failing that, at interpreter exit, so the
environments, the zygote, the edge endpoint and the embedded AWS services never outlive the
kernel. The runtime's own threads are daemon threads: the kernel's event loop is never blocked.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from kernel_runtime import LambdaRuntime

from ._plotting import in_kernel

__all__ = ["close", "load_bokehjs", "runtime"]

_lock = threading.Lock()
_runtime: LambdaRuntime | None = None
_options: dict[str, Any] = {}
_atexit_registered = False
_bokehjs_loaded = False


def runtime(**options: Any) -> LambdaRuntime:
    """The kernel's runtime, started with ``options`` (LambdaRuntime's keywords) on first use.

    Later calls return the same runtime; calling with options that differ from the running
    runtime's raises :class:`ValueError` rather than silently ignoring them (``close()`` first
    to start over with new options). The store is at its default path (``$LAMBDA_LAB_STORE``
    or the user's cache), so what was recorded survives a kernel restart.
    """
    global _runtime, _options, _atexit_registered
    with _lock:
        if _runtime is not None and not _runtime.closed:  # one closed behind our back is replaced
            if options and options != _options:
                raise ValueError(
                    "the kernel's runtime is already running with options "
                    f"{_options or '{}'}; call lab._session.close() before starting it with "
                    f"{options}"
                )
            return _runtime
        created = LambdaRuntime(**options)
        _runtime, _options = created, dict(options)
        if not _atexit_registered:
            # registered after kernel_runtime's own hook, so it runs first (LIFO): the whole
            # runtime (store, endpoint, pollers) closes in order, not just the sandbox
            atexit.register(_close_at_exit)
            _atexit_registered = True
        return created


def close() -> None:
    """Close the kernel's runtime (every environment, the zygote, the endpoint); idempotent.

    The next :func:`runtime` call starts a new one.
    """
    global _runtime
    with _lock:
        rt, _runtime = _runtime, None
    if rt is not None:
        rt.close()


def _close_at_exit() -> None:
    try:
        close()
    except Exception:  # noqa: BLE001 - at exit there is nobody left to tell
        pass


def load_bokehjs() -> bool:
    """Put BokehJS on the page, INLINE (nothing from a CDN), once per kernel.

    Plots and widgets call this before showing a ``jupyter_bokeh.BokehModel``, which fails to
    render without BokehJS. Outside a kernel (pytest, a terminal IPython) it does nothing.
    Returns whether BokehJS is (now) loaded.
    """
    global _bokehjs_loaded
    if not in_kernel():
        return False
    with _lock:
        if not _bokehjs_loaded:
            from bokeh.io import output_notebook
            from bokeh.resources import INLINE

            output_notebook(INLINE, hide_banner=True)
            _bokehjs_loaded = True
    return True
