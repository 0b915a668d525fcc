"""Frames between the supervisor and the worker inside an execution environment.

A frame is ``!IB`` (body length, kind) then the body. Length-prefixed stream frames over a
socketpair cost one ``sendmsg`` and usually one ``recv`` per message, which keeps a warm
invoke near the IPC floor (about 40 us round trip here).
"""

from __future__ import annotations

import socket
import struct

__all__ = [
    "ERROR",
    "HEADER",
    "INIT_ERROR",
    "INVOKE",
    "READY",
    "RESULT",
    "SHUTDOWN",
    "FrameBuffer",
    "pack",
    "send_frame",
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


def pack(kind: int, body: bytes = b"") -> bytes:
    return HEADER.pack(len(body), kind) + body


def send_frame(sock: socket.socket, kind: int, *parts: bytes) -> None:
    """One ``sendmsg`` for the usual small frame; finishes with ``sendall`` if a signal (the
    CPU duty cycler's SIGSTOP, say) cut a large one short."""
    buffers = [HEADER.pack(sum(len(p) for p in parts), kind), *parts]
    total = sum(len(b) for b in buffers)
    sent = sock.sendmsg(buffers)
    if sent < total:
        sock.sendall(b"".join(buffers)[sent:])


class FrameBuffer:
    """Accumulates bytes read from a stream and splits them into complete frames."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

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
