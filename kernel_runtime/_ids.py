"""Identifiers in AWS's formats: request ids, log stream names, X-Ray trace ids."""

from __future__ import annotations

import os
import time

__all__ = [
    "environment_id",
    "log_stream_name",
    "new_trace_header",
    "request_and_trace",
    "request_id",
]


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


def request_and_trace(sampled: bool = False) -> tuple[str, str]:
    """A request id and a new X-Ray trace header from one ``urandom`` call (the invoke path
    makes both for every request)."""
    x = os.urandom(36).hex()
    v = "89ab"[int(x[16], 16) & 3]
    rid = f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{v}{x[17:20]}-{x[20:32]}"
    root = f"1-{int(time.time()):08x}-{x[32:56]}"
    return rid, f"Root={root};Parent={x[56:]};Sampled={1 if sampled else 0}"


def new_trace_header(sampled: bool = False, now: float | None = None) -> str:
    """An X-Ray trace header ``Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=0|1``."""
    epoch = int(time.time() if now is None else now)
    rand = os.urandom(20).hex()  # one syscall: 24 hex for the root, 16 for the parent
    return f"Root=1-{epoch:08x}-{rand[:24]};Parent={rand[24:]};Sampled={1 if sampled else 0}"
