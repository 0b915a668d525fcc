"""The store's writer: queued records turned into rows and committed to SQLite, in a process
of its own.

Per invocation the writer spends ~90 µs of Python (the log split into CloudWatch events,
Embedded Metric Format, rows bound for ``executemany``). In the kernel that time holds the
GIL the invoke path needs, so it runs here instead, started by the store's shipper thread as
``python -S -c <boot> <package parent> <store path> <socket fd> <owner pid> <max bytes>``:
the kernel pays one C-level ``marshal.dumps`` per chunk of a batch (Invocations sent as their
plain field tuples; ~2-4 µs per invocation in all) and nothing else. After each batch it also
keeps the store under its size limit (``_retention``). The same :func:`write_batch` also runs
in the kernel when this process cannot start or dies (the store's fallback), so both paths
write the same rows.

The process never outlives its owner: it exits after a STOP frame, at EOF of its socket, and
on SIGTERM, which Linux sends when the owner's shipper thread ends (``PR_SET_PDEATHSIG``).

Frames, both ways, over one ``AF_UNIX`` stream socket: a header (kind: 1 byte, flags: 1 byte,
number: 8 bytes, payload length: 8 bytes, little-endian), then the payload.

* owner -> writer: ``BATCH`` (number: the batch's sequence; payload: one chunk of it, see
  :func:`encode`; flag ``MORE``: more chunks of this batch follow, it commits at the last one),
  ``STOP`` (commit, say BYE, exit);
* writer -> owner: ``READY`` (the database is open: batches are welcome; until then the
  owner writes them itself), ``ACK`` (number: the batch is committed, or dropped after a logged
  error), ``NACK`` (number: a chunk of the batch could not be loaded here, so none of it was
  written; payload: why: the owner writes it itself), ``LOG`` (number: a ``logging`` level;
  payload: the message, logged by the owner under ``kernel_runtime.observe``), ``BYE`` (last
  frame before exit).
"""

from __future__ import annotations

import io
import json
import marshal
import os
import pickle
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._affinity import original_cpus
from ..invocation import Invocation
from ._logs import emf_metrics, log_group_name, timed_messages
from ._retention import MARK_SQL, Retention

__all__ = [
    "ACK",
    "BATCH",
    "BYE",
    "LOG",
    "MORE",
    "NACK",
    "READY",
    "STOP",
    "FrameReader",
    "Rows",
    "canonical",
    "connect",
    "decode",
    "encode",
    "is_locked",
    "main",
    "prune",
    "send_frame",
    "start_writer",
    "write_batch",
]

# Kinds of queued records (the first item of each queued tuple)
INVOCATION, LIFECYCLE, LOGS, METRIC, THROTTLE, SEGMENTS, ALARM = range(7)
# Kinds of frames
BATCH, STOP, READY, ACK, NACK, LOG, BYE = range(7)
MARSHAL, MORE = 1, 2  # frame flags: the payload is marshal (else pickle); more chunks follow
_HEADER = struct.Struct("<BBQQ")

BUSY_TIMEOUT_S = 5.0
LOCKED_RETRY_S = 60.0  # how long a batch waits for another writer before it is dropped
# logging's levels, without importing logging into the writer process
_WARNING, _ERROR = 30, 40
_PR_SET_PDEATHSIG = 1
#: the directory that holds the ``kernel_runtime`` package, for the writer's ``sys.path``
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from kernel_runtime.observe._store_writer import main; sys.exit(main(sys.argv[1:]))"
)

Report = Callable[[int, str], None]  # (logging level, message)

_INVOCATION_COLUMNS = (
    "request_id",
    "function_name",
    "function_version",
    "qualifier",
    "function_arn",
    "architecture",
    "environment_id",
    "log_stream_name",
    "status",
    "error_type",
    "function_error",
    "cold_start",
    "initialization_type",
    "init_duration_ms",
    "duration_ms",
    "billed_duration_ms",
    "memory_size_mb",
    "max_memory_used_mb",
    "started_at",
    "finished_at",
    "trace_id",
    "log_bytes_dropped",
    "payload",
)
_INSERT_INVOCATION = (
    f"INSERT INTO invocations ({', '.join(_INVOCATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_INVOCATION_COLUMNS))})"
)
_INSERT_LOG = (
    "INSERT INTO log_events (log_group, log_stream, timestamp, ingestion_time, message, "
    "request_id) VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_STREAM = (
    "INSERT INTO log_streams VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (log_group, log_stream) "
    "DO UPDATE SET first_event_timestamp = min(first_event_timestamp, "
    "excluded.first_event_timestamp), last_event_timestamp = max(last_event_timestamp, "
    "excluded.last_event_timestamp), last_ingestion_time = max(last_ingestion_time, "
    "excluded.last_ingestion_time)"
)
_INSERT_METRIC = (
    "INSERT INTO metric_points (namespace, metric_name, dimensions, timestamp, value, unit, "
    "storage_resolution) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_LIFECYCLE = (
    "INSERT INTO lifecycle (environment_id, function_name, function_version, state, at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_THROTTLE = (
    "INSERT INTO throttles (function_name, qualifier, reason, at) VALUES (?, ?, ?, ?)"
)
_INSERT_SEGMENT = (
    "INSERT INTO trace_segments (trace_id, segment_id, parent_id, name, start_time, end_time, "
    "document) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ALARM = (
    "INSERT INTO alarm_history (alarm_name, old_state, new_state, reason, at) "
    "VALUES (?, ?, ?, ?, ?)"
)


# -- SQLite ---------------------------------------------------------------------------------
def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout."""
    conn = sqlite3.connect(
        os.fspath(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    deadline = time.monotonic() + LOCKED_RETRY_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:  # another process is creating the file
            if not is_locked(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.01)
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across process crashes
    return conn


def is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


_CANONICAL: dict[tuple[tuple[str, str], ...], str] = {}


def canonical(dimensions: Mapping[str, str] | None) -> str:
    """Dimensions as one canonical JSON string (sorted keys, no spaces): equal sets compare
    equal in SQL. Cached: a function emits the same few sets over and over."""
    if not dimensions:
        return "{}"
    key = tuple(sorted(dimensions.items()))
    text = _CANONICAL.get(key)
    if text is None:
        text = json.dumps(dict(key), separators=(",", ":"))
        if len(_CANONICAL) < 4096:
            _CANONICAL[key] = text
    return text


def _text(value: Any) -> Any:
    """A str enum (the sandbox's ``State``) as its plain value, for SQLite."""
    return getattr(value, "value", value) if type(value) is not str else value


def _traceback() -> str:
    import traceback  # only on the error path: the writer process starts without it

    return traceback.format_exc().rstrip()


class Rows:
    """One batch of queued records turned into rows per table."""

    def __init__(self, ingestion_ms: int, report: Report) -> None:
        self.ingestion = ingestion_ms
        self.report = report
        self.invocations: list[tuple[Any, ...]] = []
        self.logs: list[tuple[Any, ...]] = []
        self.streams: dict[tuple[str, str], list[int]] = {}
        self.metrics: list[tuple[Any, ...]] = []
        self.lifecycle: list[tuple[Any, ...]] = []
        self.throttles: list[tuple[Any, ...]] = []
        self.segments: list[tuple[Any, ...]] = []
        self.alarms: list[tuple[Any, ...]] = []

    def add(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == INVOCATION:
            _, inv, qualifier, arn, architecture, *traced = item
            if type(inv) is tuple:  # as Store.record_invocation queues an Invocation
                inv = Invocation._make(inv)
            self.add_invocation(inv, qualifier, arn, architecture)
            if traced and traced[0] is not None and "Sampled=1" in (inv.trace_id or ""):
                self.add_platform_segments(inv, *traced[0])
        elif kind == LOGS:
            _, group, stream, events, request_id = item
            self.add_logs(group, stream, [(int(t), str(m)) for t, m in events], request_id)
        elif kind == LIFECYCLE:
            _, env_id, function, version, state, at = item
            self.lifecycle.append((env_id, function, version, _text(state), at))
        elif kind == METRIC:
            self.metrics.append(item[1:])
        elif kind == THROTTLE:
            self.throttles.append(item[1:])
        elif kind == SEGMENTS:
            for document in item[1]:
                self.add_segment(document)
        elif kind == ALARM:
            _, name, old, new, reason, at = item
            self.alarms.append((name, _text(old), _text(new), reason, at))
        else:
            raise ValueError(f"unknown record kind {kind!r}")

    def add_invocation(
        self, inv: Any, qualifier: str | None, arn: str | None, architecture: str | None
    ) -> None:
        self.invocations.append(
            (
                inv.request_id,
                inv.function_name,
                inv.function_version,
                qualifier,
                arn,
                architecture,
                inv.environment_id,
                inv.log_stream_name,
                inv.status,
                inv.error_type,
                inv.function_error,
                int(inv.cold_start),
                inv.initialization_type,
                inv.init_duration_ms,
                inv.duration_ms,
                inv.billed_duration_ms,
                inv.memory_size_mb,
                inv.max_memory_used_mb,
                inv.started_at,
                inv.finished_at,
                inv.trace_id,
                inv.log_bytes_dropped,
                inv.payload,
            )
        )
        events = timed_messages(inv)
        group = log_group_name(inv.function_name)
        self.add_logs(group, inv.log_stream_name, events, inv.request_id)
        for _, message in events:
            if '"_aws"' in message:
                for p in emf_metrics(message):
                    self.metrics.append(
                        (
                            p.namespace,
                            p.name,
                            canonical(p.dimensions),
                            p.timestamp,
                            p.value,
                            p.unit,
                            p.storage_resolution,
                        )
                    )

    def add_platform_segments(
        self, inv: Any, function_arn: str, region: str, account_id: str
    ) -> None:
        """The service's AWS::Lambda and AWS::Lambda::Function segments of a sampled request
        of a function with Active tracing."""
        from ._xray import platform_segments  # only a store with traced functions needs it

        for document in platform_segments(
            inv, function_arn=function_arn, region=region, account_id=account_id
        ):
            self.add_segment(document)

    def add_logs(
        self,
        group: str,
        stream: str,
        events: Sequence[tuple[int, str]],
        request_id: str | None,
    ) -> None:
        if not events:
            return
        ingestion = self.ingestion
        self.logs.extend([(group, stream, t, ingestion, m, request_id) for t, m in events])
        first = min(t for t, _ in events)
        last = max(t for t, _ in events)
        span = self.streams.get((group, stream))
        if span is None:
            self.streams[(group, stream)] = [first, last]
        else:
            span[0] = min(span[0], first)
            span[1] = max(span[1], last)

    def add_segment(self, document: Mapping[str, Any]) -> None:
        try:
            self.segments.append(
                (
                    str(document["trace_id"]),
                    str(document["id"]),
                    document.get("parent_id"),
                    str(document["name"]),
                    float(document["start_time"]),
                    None if document.get("end_time") is None else float(document["end_time"]),
                    json.dumps(document, separators=(",", ":"), default=str),
                )
            )
        except (KeyError, TypeError, ValueError):
            self.report(
                _WARNING,
                "the store skipped a trace segment without trace_id, id, name, start_time",
            )

    def write(self, conn: sqlite3.Connection) -> None:
        for sql, rows in (
            (_INSERT_INVOCATION, self.invocations),
            (_INSERT_LOG, self.logs),
            (_INSERT_METRIC, self.metrics),
            (_INSERT_LIFECYCLE, self.lifecycle),
            (_INSERT_THROTTLE, self.throttles),
            (_INSERT_SEGMENT, self.segments),
            (_INSERT_ALARM, self.alarms),
        ):
            if rows:
                conn.executemany(sql, rows)
        conn.execute(MARK_SQL, (self.ingestion / 1000,))
        if self.streams:
            ingestion = self.ingestion
            conn.executemany(
                _UPSERT_STREAM,
                [
                    (group, stream, ingestion, first, last, ingestion)
                    for (group, stream), (first, last) in self.streams.items()
                ],
            )


def write_batch(
    conn: sqlite3.Connection,
    items: Sequence[tuple[Any, ...]],
    ingestion_ms: int,
    report: Report,
    *,
    yield_every: int = 0,
) -> None:
    """Turn queued records into rows and commit them in one transaction, retried while
    another writer holds the lock. Never raises for bad data: a record that cannot be read
    costs only itself, a batch SQLite refuses is dropped, and both are reported.
    ``yield_every`` records, release the GIL (in the kernel, for the invoke path)."""
    rows = Rows(ingestion_ms, report)
    bad = 0
    for i, item in enumerate(items, 1):
        try:
            rows.add(item)
        except Exception:  # noqa: BLE001 - one bad record must not cost the batch
            if not bad:
                report(
                    _ERROR,
                    f"the store skipped a record it could not read: {item!r:.200}\n{_traceback()}",
                )
            bad += 1
        if yield_every and not i % yield_every:
            # without this a thread of the invoke path waking from its worker's answer could
            # wait a whole switch interval (5 ms) for the GIL
            time.sleep(0)
    if bad > 1:
        report(_ERROR, f"the store skipped {bad} records it could not read")
    try:
        _commit(conn, rows)
    except Exception:  # noqa: BLE001 - the writer must outlive one bad batch
        report(_ERROR, f"the store dropped a batch of {len(items)} records\n{_traceback()}")


def _commit(conn: sqlite3.Connection, rows: Rows) -> None:
    deadline = time.monotonic() + LOCKED_RETRY_S
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows.write(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


# -- frames ---------------------------------------------------------------------------------
class _Pickler(pickle.Pickler):
    """Records as the writer process can load them without importing the caller's modules."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, str):  # a str enum (the sandbox's State, ...): its plain text
            return str, (str.__str__(obj),)
        return NotImplemented


def encode(ingestion_ms: int, items: list[tuple[Any, ...]]) -> tuple[int, bytes]:
    """A chunk of records as ``(flags, payload)`` for a BATCH frame: one C-level
    ``marshal.dumps`` when every value is a plain builtin (the common case, ~2x cheaper than
    pickle: ``Store.record_invocation`` queues an Invocation as its tuple of fields already);
    else a pickle (protocol 5) in which str subclasses (enums) become plain str, so the writer
    need not import the caller's classes. Raises what pickle raises for what cannot be sent at
    all."""
    try:
        return MARSHAL, marshal.dumps((ingestion_ms, items))
    except ValueError:  # an enum, a LogEvent, any other class: pickle it
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=5).dump((ingestion_ms, items))
        return 0, buffer.getvalue()


def decode(flags: int, payload: bytes) -> tuple[int, list[tuple[Any, ...]]]:
    """``(ingestion ms, records)`` of a BATCH frame's payload."""
    ingestion_ms, items = marshal.loads(payload) if flags & MARSHAL else pickle.loads(payload)
    return ingestion_ms, items


def send_frame(
    sock: socket.socket, kind: int, number: int = 0, payload: bytes = b"", flags: int = 0
) -> None:
    sock.sendall(_HEADER.pack(kind, flags, number, len(payload)))
    if payload:
        sock.sendall(payload)


class FrameReader:
    """Reads frames from a stream socket: ``read()`` is ``(kind, flags, number, payload)``, or
    None at EOF (or a cut frame)."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def read(self) -> tuple[int, int, int, bytes] | None:
        head = self._file.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return None
        kind, flags, number, size = _HEADER.unpack(head)
        payload = self._file.read(size) if size else b""
        if len(payload) < size:
            return None
        return kind, flags, number, payload

    def close(self) -> None:
        self._file.close()


def start_writer(
    path: str | os.PathLike[str], max_bytes: int
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start a writer process for the store at ``path``, keeping its data under
    ``max_bytes``; returns it and the owner's end of its socket. Call it from the thread that
    will outlive the process (PDEATHSIG follows the thread that started it)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-S",
                "-c",
                _BOOT,
                _PKG_PARENT,
                os.fspath(path),
                str(theirs.fileno()),
                str(os.getpid()),
                str(max_bytes),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            close_fds=True,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    cpus = original_cpus()
    if cpus:  # the writer forks nothing: setting it from here, just after its exec, is enough
        try:  # (its scheduling policy it sets itself: SCHED_IDLE)
            os.sched_setaffinity(process.pid, cpus)
        except OSError:  # it exited already; the owner sees that on the socket
            pass
    return process, ours


# -- the writer process ------------------------------------------------------------------------
def _die_with(owner: int) -> None:
    """Exit when the owner does: SIGTERM on its death (Linux), and now if it is gone already."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: EOF on the socket still ends us
            pass
    if os.getppid() != owner:
        raise SystemExit(0)


def _yield_cpu() -> None:
    """Run only on CPU time nobody else wants (SCHED_IDLE; else the lowest nice): under load
    the writer falls behind and catches up when the functions are idle, instead of taking
    cores from the environments and the supervisor on a 2-core laptop. Queries still see
    everything, since they wait for the writer's acknowledgement."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(0)  # unwinds through ROLLBACK of an open transaction and conn.close()


def prune(
    conn: sqlite3.Connection, retention: Retention, report: Report, budget_s: float = 0.2
) -> int:
    """Steps of ``retention`` while the store is over its limit, for at most about
    ``budget_s`` (batches wait meanwhile); returns the rows deleted. Never raises: a failed
    step is reported, and the next batch tries again."""
    deleted = 0
    deadline = time.monotonic() + budget_s
    try:
        while True:
            deleted += retention.step(conn)
            if not retention.pruning or time.monotonic() >= deadline:
                return deleted
    except Exception:  # noqa: BLE001 - the writer must outlive a failed prune
        report(_WARNING, f"the store could not delete its oldest records\n{_traceback()}")
        return deleted


def main(argv: Sequence[str]) -> int:
    """The writer process: ``<store path> <socket fd> <owner pid> <max bytes>``."""
    path, fd, owner = argv[0], int(argv[1]), int(argv[2])
    retention = Retention(int(argv[3]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the kernel
    signal.signal(signal.SIGTERM, _terminate)
    _die_with(owner)
    _yield_cpu()
    sock = socket.socket(fileno=fd)

    def report(level: int, message: str) -> None:
        send_frame(sock, LOG, level, message.encode("utf-8", "replace"))

    try:
        conn = connect(path)
    except Exception:  # noqa: BLE001 - say why; the owner then writes in its own process
        report(_ERROR, f"the store's writer could not open {path}\n{_traceback()}")
        return 1
    reader = FrameReader(sock)
    items: list[tuple[Any, ...]] = []  # the chunks of the batch being received
    ingestion_ms = 0
    refused: str | None = None  # why a chunk of it could not be loaded
    try:
        send_frame(sock, READY)
        while True:
            frame = reader.read()
            if frame is None or frame[0] == STOP:
                return 0
            kind, flags, number, payload = frame
            if kind != BATCH:
                report(_ERROR, f"the store's writer got an unknown frame kind {kind}")
                continue
            if refused is None:
                try:
                    ingestion_ms, chunk = decode(flags, payload)
                    items.extend(chunk)
                except Exception as exc:  # noqa: BLE001 - a class only the owner can import ...
                    refused = f"{type(exc).__name__}: {exc}"
                    items = []
            del payload
            if flags & MORE:
                continue
            if refused is not None:
                send_frame(sock, NACK, number, refused.encode("utf-8", "replace"))
                refused = None
                continue
            write_batch(conn, items, ingestion_ms, report)
            items = []
            send_frame(sock, ACK, number)
            prune(conn, retention, report)
    except OSError:  # the owner is gone (what it sent is committed)
        return 0
    finally:
        conn.close()
        try:
            send_frame(sock, BYE)
        except OSError:  # the owner is gone
            pass
