"""X-Ray: the sampling rule, the daemon's UDP endpoint, the segments Lambda records, trace trees.

With Active tracing the Lambda service records two segments per sampled request, both named
after the function: ``AWS::Lambda`` (the service: the Invoke request) and its child
``AWS::Lambda::Function`` (the environment: subsegments ``Initialization`` on a cold start,
``Invocation`` and ``Overhead``). The function segment's id is the ``Parent`` of the
``_X_AMZN_TRACE_ID`` the handler sees, so what the X-Ray SDK sends from inside the handler (it
builds a read-only *facade segment* from that header and streams each closed subsegment with
``parent_id`` = Parent) hangs under it. The SDK sends over UDP to ``AWS_XRAY_DAEMON_ADDRESS``:
``{"format":"json","version":1}\\n<segment or subsegment document>``; :class:`XRayDaemon` is
that endpoint. :func:`trace_tree` joins the documents of one trace id, across functions.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._ids import derived_id, parse_trace_header

if TYPE_CHECKING:
    from ..invocation import Invocation

__all__ = [
    "DEFAULT_SAMPLING_RULE",
    "SamplingRule",
    "XRayDaemon",
    "platform_segments",
    "trace_tree",
]

log = logging.getLogger(__name__)

_TRACE_ID_RE = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID_RE = re.compile(r"[0-9a-f]{16}")
_MAX_DATAGRAM = 65536
_KEPT_DOCUMENTS = 10_000
#: the platform's own subsegments of an AWS::Lambda::Function segment
_PLATFORM_SUBSEGMENTS = frozenset({"Initialization", "Invocation", "Overhead", "Restore"})


class SamplingRule:
    """X-Ray's default sampling rule: the first ``reservoir_size`` requests each second, then
    ``fixed_rate`` of the rest, counted per key (the function). ``random`` and ``clock`` can be
    injected for exact tests; ``SamplingRule(0, 1.0)`` samples every request, ``(0, 0.0)``
    none. Thread-safe; one lock round per sampled-or-not decision (well under a µs)."""

    __slots__ = ("_clock", "_lock", "_random", "_used", "fixed_rate", "reservoir_size")

    def __init__(
        self,
        reservoir_size: int = 1,
        fixed_rate: float = 0.05,
        *,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(reservoir_size, bool) or not isinstance(reservoir_size, int):
            raise TypeError(f"reservoir_size must be an int, not {type(reservoir_size).__name__}")
        if reservoir_size < 0:
            raise ValueError(f"reservoir_size must be >= 0, not {reservoir_size}")
        if not 0.0 <= fixed_rate <= 1.0:
            raise ValueError(f"fixed_rate must be between 0 and 1, not {fixed_rate}")
        self.reservoir_size = reservoir_size
        self.fixed_rate = fixed_rate
        self._random = random
        self._clock = clock
        self._lock = threading.Lock()
        self._used: dict[str, tuple[int, int]] = {}  # key -> (second, requests taken from it)

    def sample(self, key: str) -> bool:
        """Whether to trace this request of ``key``."""
        if self.reservoir_size:
            second = int(self._clock())
            used = self._used.get(key)
            # the lock only when the reservoir may have room: once this second's reservoir
            # is spent (the common case under load), a request takes no lock at all
            if used is None or used[0] != second or used[1] < self.reservoir_size:
                with self._lock:
                    used = self._used.get(key)
                    if used is None or used[0] != second:
                        self._used[key] = (second, 1)
                        return True
                    if used[1] < self.reservoir_size:
                        self._used[key] = (second, used[1] + 1)
                        return True
        return self._random() < self.fixed_rate

    def __repr__(self) -> str:
        return f"SamplingRule(reservoir_size={self.reservoir_size}, fixed_rate={self.fixed_rate})"


#: The rule environments use unless their sandbox carries a ``sampling_rule``.
DEFAULT_SAMPLING_RULE = SamplingRule()


# -- the daemon -------------------------------------------------------------------------------
def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(doc: object) -> str | None:
    """Why X-Ray would refuse ``doc`` (PutTraceSegments' required fields), or None."""
    if not isinstance(doc, dict):
        return "the document is not a JSON object"
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        return "no name"
    if not isinstance(doc.get("id"), str) or not _ID_RE.fullmatch(doc["id"]):
        return "id is not 16 hex digits"
    if not isinstance(doc.get("trace_id"), str) or not _TRACE_ID_RE.fullmatch(doc["trace_id"]):
        return "trace_id is not 1-<8 hex>-<24 hex>"
    if not _is_number(doc.get("start_time")):
        return "no start_time"
    if doc.get("in_progress") is not True and not _is_number(doc.get("end_time")):
        return "neither end_time nor in_progress"
    if doc.get("type") == "subsegment" and not isinstance(doc.get("parent_id"), str):
        return "a subsegment sent on its own needs a parent_id"
    return None


def _parse_datagram(data: bytes) -> dict[str, Any]:
    """The document in one daemon datagram: a JSON header line ``{"format": "json",
    "version": 1}``, a newline, one segment or subsegment document. Raises ValueError naming
    what is wrong."""
    head, sep, body = data.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    try:
        header = json.loads(head)
        doc = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != "json" or header.get("version") != 1:
        raise ValueError(f"unknown header {head[:80]!r}")
    problem = _problem(doc)
    if problem is not None:
        raise ValueError(problem)
    return doc


class XRayDaemon:
    """A local X-Ray daemon: a UDP listener on ``host``:``port`` (0: any free port) that hands
    each segment or subsegment document it receives to ``on_segment(doc)`` on its own thread.
    Without ``on_segment`` the last 10,000 documents are kept in ``documents``. Garbage is
    counted in ``rejected`` and logged at debug level. ``address`` is the value for
    ``AWS_XRAY_DAEMON_ADDRESS``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        on_segment: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._on_segment = on_segment
        self.documents: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=_KEPT_DOCUMENTS
        )
        self.received = 0
        self.rejected = 0
        self._closed = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:  # room for a burst of documents while the callback is busy
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            except OSError:
                pass
            self._sock.bind((host, port))
            self._sock.setblocking(False)
        except BaseException:
            self._sock.close()
            raise
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.address = f"{host}:{self.port}"
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve, name="lambda-lab-xray-daemon", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        wake = self._wake_r.fileno()
        poller.register(wake, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == wake:
                    return
            while True:
                try:
                    data = self._sock.recv(_MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    return
                self._handle(data)

    def _handle(self, data: bytes) -> None:
        try:
            doc = _parse_datagram(data)
        except ValueError as exc:
            self.rejected += 1
            log.debug("X-Ray daemon: ignored a datagram of %d bytes: %s", len(data), exc)
            return
        self.received += 1
        if self._on_segment is None:
            self.documents.append(doc)
            return
        try:
            self._on_segment(doc)
        except Exception:  # a failing consumer must not stop the daemon
            log.exception("X-Ray daemon: on_segment failed")

    def close(self) -> None:
        """Stop listening (prompt: the listener wakes up and exits)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(5.0)
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> XRayDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "listening"
        return f"<XRayDaemon {self.address} {state} received={self.received}>"


# -- the platform's segments ------------------------------------------------------------------
def _error_message(invocation: Invocation) -> str:
    try:
        body = json.loads(invocation.payload)
    except ValueError:
        return ""
    return str(body.get("errorMessage", "")) if isinstance(body, dict) else ""


def platform_segments(
    invocation: Invocation,
    *,
    function_arn: str | None = None,
    region: str,
    account_id: str,
    parent_id: str | None = None,
    sampled: bool | None = None,
) -> list[dict[str, Any]]:
    """The segment documents the Lambda service records for one invocation, as X-Ray stores
    them: ``AWS::Lambda`` then ``AWS::Lambda::Function``. Empty when not sampled.

    ``invocation.trace_id`` is the header the function saw with Active tracing: its Root is
    the trace id and its Parent the function segment's id (so the handler's own subsegments
    link to it). ``parent_id`` is the caller's Parent, if the Invoke carried a header: the
    service segment hangs under it. ``sampled`` defaults to the header's decision.
    ``function_arn`` defaults to the unqualified ARN built from ``region`` and ``account_id``.
    Other ids derive from the function segment's, so a repeated call gives the same documents.
    """
    root, segment_id, header_sampled = parse_trace_header(invocation.trace_id)
    if sampled is None:
        sampled = bool(header_sampled)
    if not sampled or root is None:
        return []
    if segment_id is None:
        segment_id = derived_id(invocation.request_id, "AWS::Lambda::Function")
    name = invocation.function_name
    arn = function_arn or f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    version = invocation.function_version
    qualified = arn.count(":") >= 7 or version == "$LATEST"
    resource_arn = arn if qualified else f"{arn}:{version}"

    start = invocation.started_at
    end = max(invocation.finished_at, start)
    handler_end = min(start + invocation.duration_ms / 1000, end)
    segment_start = start

    def sub(label: str, begin: float, finish: float) -> dict[str, Any]:
        return {
            "id": derived_id(segment_id, label),
            "name": label,
            "start_time": begin,
            "end_time": finish,
            "aws": {"function_arn": arn},
        }

    subsegments: list[dict[str, Any]] = []
    if invocation.cold_start and invocation.init_duration_ms is not None:
        segment_start = start - invocation.init_duration_ms / 1000
        subsegments.append(sub("Initialization", segment_start, start))
    handler = sub("Invocation", start, handler_end)
    subsegments += [handler, sub("Overhead", handler_end, end)]

    service: dict[str, Any] = {
        "id": derived_id(segment_id, "AWS::Lambda"),
        "name": name,
        "start_time": segment_start,
        "end_time": end,
        "trace_id": root,
        "http": {"response": {"status": 200}},  # a function error is still a 200 Invoke
        "aws": {"request_id": invocation.request_id},
        "origin": "AWS::Lambda",
        "resource_arn": resource_arn,
    }
    if parent_id:
        service["parent_id"] = parent_id
    function: dict[str, Any] = {
        "id": segment_id,
        "name": name,
        "start_time": segment_start,
        "end_time": end,
        "trace_id": root,
        "parent_id": service["id"],
        "aws": {"account_id": account_id, "function_arn": arn, "resource_names": [name]},
        "origin": "AWS::Lambda::Function",
        "subsegments": subsegments,
    }
    if invocation.function_error:
        # X-Ray shows an unhandled function error (timeouts and crashes included) as a fault
        flag = "fault" if invocation.function_error == "Unhandled" else "error"
        function[flag] = handler[flag] = True
        function["cause"] = {
            "exceptions": [
                {
                    "id": derived_id(segment_id, "cause"),
                    "message": _error_message(invocation),
                    "type": invocation.error_type or "Unknown",
                }
            ]
        }
    return [service, function]


# -- traces as trees --------------------------------------------------------------------------
def _node(doc: dict[str, Any], *, subsegment: bool) -> dict[str, Any]:
    node = {k: v for k, v in doc.items() if k != "subsegments"}
    if subsegment:
        node["type"] = "subsegment"
    node["children"] = [_node(s, subsegment=True) for s in doc.get("subsegments") or ()]
    return node


def _walk(node: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from _walk(child)


def _sort(nodes: list[dict[str, Any]]) -> None:
    nodes.sort(key=lambda n: (n.get("start_time", 0.0), n.get("end_time") or math.inf))
    for n in nodes:
        _sort(n["children"])


def trace_tree(segments: Iterable[dict[str, Any]], trace_id: str | None = None) -> dict[str, Any]:
    """Join segment and subsegment documents of one trace into a tree (for a waterfall).

    Each node is a copy of its document without ``subsegments``; ``children`` holds its
    subsegments (embedded or streamed separately) and the segments whose ``parent_id`` points
    at it (a downstream function, reached through an Invoke or an async chain that passed the
    header on), sorted by start. What the handler added under the ``AWS::Lambda::Function``
    segment goes under its ``Invocation`` subsegment, as X-Ray shows it. A repeated id keeps
    the completed document over an in-progress one. Documents of other traces are left out
    when ``trace_id`` is given; without it the documents must share one trace id.
    """
    docs: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    seen_traces: set[str] = set()
    for doc in segments:
        tid = doc.get("trace_id")
        if trace_id is not None and tid != trace_id:
            continue
        if isinstance(tid, str):
            seen_traces.add(tid)
        key = doc["id"]
        old = docs.get(key)
        if old is None:
            order.append(key)
        elif old.get("in_progress") is not True and doc.get("in_progress") is True:
            continue  # keep the completed one
        docs[key] = doc
    if len(seen_traces) > 1:
        raise ValueError(f"documents of several traces: {', '.join(sorted(seen_traces))}")
    nodes = [_node(docs[k], subsegment=docs[k].get("type") == "subsegment") for k in order]
    by_id: dict[str, dict[str, Any]] = {}
    for node in nodes:
        for n in _walk(node):
            by_id.setdefault(n["id"], n)
    roots: list[dict[str, Any]] = []
    for node in nodes:
        parent = by_id.get(node.get("parent_id") or "")
        if parent is None or parent is node:
            roots.append(node)
            continue
        if (
            parent.get("origin") == "AWS::Lambda::Function"
            and node.get("name") not in _PLATFORM_SUBSEGMENTS
        ):
            invocation = next(
                (c for c in parent["children"] if c.get("name") == "Invocation"), None
            )
            if invocation is not None:
                parent = invocation
        parent["children"].append(node)
    _sort(roots)
    times = [n for root in roots for n in _walk(root)]
    start = min((n["start_time"] for n in times if _is_number(n.get("start_time"))), default=0.0)
    end = max(
        (n.get("end_time") or n.get("start_time", 0.0) for n in times if "start_time" in n),
        default=start,
    )
    tid = trace_id or next(iter(seen_traces), None)
    return {
        "trace_id": tid,
        "start_time": start,
        "end_time": end,
        "duration": end - start,
        "roots": roots,
    }
