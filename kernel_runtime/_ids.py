"""Identifiers in AWS's formats: request ids, log stream names, X-Ray trace ids."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable

__all__ = [
    "continue_trace",
    "derived_id",
    "environment_id",
    "log_stream_name",
    "new_trace_header",
    "parse_trace_header",
    "request_and_trace",
    "request_id",
]

_ROOT_RE = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID_RE = re.compile(r"[0-9a-f]{16}")


def request_id() -> str:
    """A request id as AWS issues them: a random UUID4 string (formatted by hand: uuid.UUID
    costs several microseconds on the invoke path)."""
    h = bytearray(os.urandom(16))
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def environment_id() -> str:
    """32 hex characters; also the tail of the environment's log stream name."""
    return os.urandom(16).hex()


def log_stream_name(version: str, env_id: str, now: float | None = None) -> str:
    """``YYYY/MM/DD/[<version>]<32 hex>``: one stream per execution environment."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now is None else now))
    return f"{day}/[{version}]{env_id}"


_BATCH = 64  # requests' worth of random bytes fetched at once
_local = threading.local()


def _fresh_local() -> None:
    """A forked child must not hand out the random bytes its parent already drew."""
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_fresh_local)


def _draw(n: int) -> list[tuple[str, str]]:
    """``n`` requests' ``(request id, trace header tail)`` from one ``getrandom`` call,
    formatted together (one tight loop instead of a cold one per request)."""
    raw = os.urandom(36 * n).hex()
    batch = []
    for i in range(0, 72 * n, 72):
        x = raw[i : i + 72]
        v = "89ab"[int(x[16], 16) & 3]
        batch.append(
            (
                f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{v}{x[17:20]}-{x[20:32]}",
                f"-{x[32:56]};Parent={x[56:]};Sampled=",
            )
        )
    return batch


def request_and_trace(sampled: bool = False) -> tuple[str, str]:
    """A request id and a new X-Ray trace header (the invoke path makes both for every
    request). Drawn ``_BATCH`` requests at a time, per thread: the invoke path then makes no
    ``getrandom`` call, and with it one GIL release (a handoff to another invoking thread)
    less per request. A thread's first request draws for itself alone: in a burst of
    one-shot threads, a batch each was 12 % of their CPU."""
    try:
        rid, tail = _local.batch.pop()
    except (AttributeError, IndexError) as empty:
        _local.batch = batch = _draw(1 if isinstance(empty, AttributeError) else _BATCH)
        rid, tail = batch.pop()
    return rid, f"Root=1-{int(time.time()):08x}{tail}{1 if sampled else 0}"


def new_trace_header(sampled: bool = False, now: float | None = None) -> str:
    """An X-Ray trace header ``Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=0|1``."""
    epoch = int(time.time() if now is None else now)
    rand = os.urandom(20).hex()  # one syscall: 24 hex for the root, 16 for the parent
    return f"Root=1-{epoch:08x}-{rand[:24]};Parent={rand[24:]};Sampled={1 if sampled else 0}"


def parse_trace_header(header: str) -> tuple[str | None, str | None, bool | None]:
    """Root, Parent and Sampled of an ``X-Amzn-Trace-Id`` header; ``None`` for a part that is
    missing or malformed (``Sampled=?``, a request for a decision, counts as none). Other
    keys (Self, Lineage ...) are ignored."""
    root: str | None = None
    parent: str | None = None
    sampled: bool | None = None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root":
            root = value if _ROOT_RE.fullmatch(value) else None
        elif key == "Parent":
            parent = value if _ID_RE.fullmatch(value) else None
        elif key == "Sampled":
            sampled = True if value == "1" else False if value == "0" else None
    return root, parent, sampled


def continue_trace(upstream: str, fresh: str, sample: Callable[[], bool] | None = None) -> str:
    """The header a function sees for a request that arrived with the caller's ``upstream``.

    ``fresh`` is a new header from :func:`request_and_trace`, whose Root and Parent fill what
    the caller left out. With Active tracing (``sample`` given) Parent becomes a new segment id
    (the function segment's) and ``sample()`` decides when the caller did not; PassThrough
    (``sample`` None) only propagates: the caller's Parent stays and Sampled is 0 unless the
    caller said 1. Always the fixed layout ``request_and_trace`` makes, so it can be sliced.
    """
    root, parent, sampled = parse_trace_header(upstream)
    if sampled is None:
        sampled = sample is not None and sample()
    if sample is not None or parent is None:
        parent = fresh[48:64]
    return f"Root={root or fresh[5:40]};Parent={parent};Sampled={1 if sampled else 0}"


def derived_id(seed: str, label: str) -> str:
    """A 16-hex X-Ray id derived from ``seed`` and ``label``: the platform's other segments of
    a request get stable ids from its function segment id, without storing them."""
    return hashlib.blake2b(f"{seed}/{label}".encode(), digest_size=8).hexdigest()
