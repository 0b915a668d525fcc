"""Frames between the supervisor and the worker inside an execution environment.

A frame is ``!IB`` (body length, kind) then the body. Length-prefixed stream frames over a
socketpair cost one ``sendmsg`` and usually one ``recv`` per message, which keeps a warm
invoke near the IPC floor (about 40 us round trip here).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "ERROR",
    "HEADER",
    "INIT_ERROR",
    "INVOKE",
    "READY",
    "RESULT",
    "SHUTDOWN",
    "FrameBuffer",
    "json_encoder",
    "pack",
    "pack_meta",
    "send_frame",
    "unpack_meta",
]

HEADER = struct.Struct("!IB")

# supervisor -> worker
INVOKE = 1
SHUTDOWN = 2
# worker -> supervisor
READY = 10
INIT_ERROR = 11
RESULT = 12
ERROR = 13

#: Result frames carry the worker's peak RSS (bytes) before the payload.
RSS = struct.Struct("!Q")


def json_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode`` minus the C encoder object it builds on every call (most of its
    cost for a small document): built once per thread here, with the same settings (a
    thread's circular-reference markers are its own). Both sides of an invoke encode one
    document each."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:  # no C accelerator, or pretty-printing
        return encoder.encode
    local = threading.local()

    def build() -> tuple[Callable[[Any, int], Any], dict[int, Any] | None]:
        markers: dict[int, Any] | None = {} if encoder.check_circular else None
        c_encode = make(
            markers,
            encoder.default,
            json.encoder.encode_basestring_ascii
            if encoder.ensure_ascii
            else json.encoder.encode_basestring,
            None,
            encoder.key_separator,
            encoder.item_separator,
            encoder.sort_keys,
            encoder.skipkeys,
            encoder.allow_nan,
        )
        return c_encode, markers

    def encode(obj: Any) -> str:
        try:
            c_encode, markers = local.encoder
        except AttributeError:
            local.encoder = (c_encode, markers) = build()
        try:
            return "".join(c_encode(obj, 0))
        except BaseException:
            if markers:
                markers.clear()  # left holding the ids it was inside of
            raise

    return encode


def pack(kind: int, body: bytes = b"") -> bytes:
    return HEADER.pack(len(body), kind) + body


_SEP = "\x1f"


def pack_meta(
    request_id: str,
    deadline_ms: int,
    invoked_arn: str,
    trace: str,
    client_context: dict[str, Any] | None,
    identity: dict[str, Any] | None,
) -> bytes:
    """The invoke metadata as one length-prefixed, unit-separated record (no JSON on the hot
    path unless a client context or identity is present)."""
    cc = json.dumps(client_context) if client_context is not None else ""
    ci = json.dumps(identity) if identity is not None else ""
    meta = _SEP.join((request_id, str(deadline_ms), invoked_arn, trace, cc, ci)).encode()
    return len(meta).to_bytes(4, "big") + meta


def unpack_meta(body: bytes) -> tuple[list[str], bytes]:
    """``([request_id, deadline_ms, arn, trace, cc_json, ci_json], payload)``."""
    end = 4 + int.from_bytes(body[:4], "big")
    return body[4:end].decode().split(_SEP), body[end:]


def send_frame(sock: socket.socket, kind: int, *parts: bytes) -> None:
    """One ``sendmsg`` for the usual small frame; finishes with ``sendall`` if a signal (the
    CPU duty cycler's SIGSTOP, say) cut a large one short."""
    size = 0
    for part in parts:
        size += len(part)
    buffers = [HEADER.pack(size, kind), *parts]
    sent = sock.sendmsg(buffers)
    if sent < size + HEADER.size:
        sock.sendall(b"".join(buffers)[sent:])


class FrameBuffer:
    """Accumulates bytes read from a stream and splits them into complete frames."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def feed_pop(self, data: bytes) -> tuple[int, bytes] | None:
        """``feed(data)`` then ``pop()``; a read that is exactly one frame (the usual reply)
        is sliced directly, without passing through the buffer."""
        buf = self._buf
        if not buf and len(data) >= HEADER.size:
            length, kind = HEADER.unpack_from(data)
            if len(data) == HEADER.size + length:
                return kind, data[HEADER.size :]
        buf += data
        return self.pop()

    def pop(self) -> tuple[int, bytes] | None:
        """The next complete frame as ``(kind, body)``, or None if one is not complete yet."""
        buf = self._buf
        if len(buf) < HEADER.size:
            return None
        length, kind = HEADER.unpack_from(buf)
        end = HEADER.size + length
        if len(buf) < end:
            return None
        body = bytes(buf[HEADER.size : end])
        del buf[:end]
        return kind, body

    def __len__(self) -> int:
        return len(self._buf)
