"""The HTTP edge: the AWS Lambda REST API and every other AWS service (moto) on one port.

``EdgeApp`` is the WSGI app (Lambda for requests signed for ``lambda``, moto for the rest);
``EdgeServer`` serves it with keep-alive HTTP/1.1. Imported lazily (PEP 562), like the other
packages: werkzeug and moto load only when an endpoint is wanted.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from ._app import EdgeApp
    from ._server import EdgeServer

_EXPORTS = {
    "EdgeApp": "._app",
    "EdgeServer": "._server",
}

__all__ = ["EdgeApp", "EdgeServer"]


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kernel_runtime.api' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {n for n in globals() if n.startswith("_")})
