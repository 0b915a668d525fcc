"""The store: everything observed, in SQLite, written off the invoke path (DESIGN decision 8).

Writes only append to an in-memory queue (a ``collections.deque``: no lock, no SQLite on the
caller's thread; the invoke path pays well under a microsecond). A light shipper thread wakes
every ``flush_interval`` (sooner when the queue grows) and sends what is queued, a C-level
``marshal`` per chunk of 512 records, to the store's writer process (``_store_writer``), which
turns invocations into their CloudWatch log events and Embedded Metric Format points and
commits each batch in one transaction: that Python (~90 µs per invocation) no longer holds the
kernel's GIL. The writer acknowledges each batch; ``flush()`` waits for the acknowledgement.
Until the writer process is ready (~0.15 s after the store opens), and for good if it cannot
start or dies, the shipper writes in this process instead (the same code), so nothing queued
is lost and nothing waits for a process to start.

The file is SQLite in WAL mode, so readers never block the writer, and several stores (two
runtimes, or two processes) can share one file: writes take the lock with ``BEGIN IMMEDIATE``
under a busy timeout and are retried while another writer holds it. The schema is versioned
with ``PRAGMA user_version`` and migrated forward when a store opens.

Times are epoch seconds (floats) everywhere except log events, which are epoch milliseconds
as in the CloudWatch Logs API. Queries run in this process, on a read-only connection, and
first wait for whatever was recorded before them, so a query right after an invoke sees it.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import sqlite3
import subprocess
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..invocation import Invocation
from . import _store_writer as _w
from ._logs import _RANK, FilterPattern, LogEvent, _rank, event_level
from ._retention import Retention, max_bytes_from_env
from ._store_writer import _INVOCATION_COLUMNS
from ._store_writer import canonical as _canonical
from ._store_writer import connect as _connect

__all__ = ["LogFollower", "Store", "StoreError"]

_log = logging.getLogger("kernel_runtime.observe")

#: Forward migrations: entry ``n`` takes a store from ``user_version`` n to n + 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE invocations (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            function_name TEXT NOT NULL,
            function_version TEXT NOT NULL,
            qualifier TEXT,
            function_arn TEXT,
            architecture TEXT,
            environment_id TEXT NOT NULL,
            log_stream_name TEXT NOT NULL,
            status TEXT NOT NULL,
            error_type TEXT,
            function_error TEXT,
            cold_start INTEGER NOT NULL,
            initialization_type TEXT NOT NULL,
            init_duration_ms REAL,
            duration_ms REAL NOT NULL,
            billed_duration_ms INTEGER NOT NULL,
            memory_size_mb INTEGER NOT NULL,
            max_memory_used_mb INTEGER NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL,
            trace_id TEXT,
            log_bytes_dropped INTEGER NOT NULL DEFAULT 0,
            payload BLOB
        )""",
        "CREATE INDEX invocations_function_time ON invocations (function_name, started_at)",
        "CREATE INDEX invocations_time ON invocations (started_at)",
        "CREATE INDEX invocations_request ON invocations (request_id)",
        """CREATE TABLE lifecycle (
            id INTEGER PRIMARY KEY,
            environment_id TEXT NOT NULL,
            function_name TEXT NOT NULL,
            function_version TEXT,
            state TEXT NOT NULL,
            at REAL NOT NULL
        )""",
        "CREATE INDEX lifecycle_function_time ON lifecycle (function_name, at)",
        "CREATE INDEX lifecycle_environment_time ON lifecycle (environment_id, at)",
        """CREATE TABLE log_events (
            id INTEGER PRIMARY KEY,
            log_group TEXT NOT NULL,
            log_stream TEXT NOT NULL,
            timestamp INTEGER NOT NULL,
            ingestion_time INTEGER NOT NULL,
            message TEXT NOT NULL,
            request_id TEXT
        )""",
        "CREATE INDEX log_events_group_time ON log_events (log_group, timestamp)",
        "CREATE INDEX log_events_request ON log_events (request_id)",
        """CREATE TABLE log_streams (
            log_group TEXT NOT NULL,
            log_stream TEXT NOT NULL,
            creation_time INTEGER NOT NULL,
            first_event_timestamp INTEGER NOT NULL,
            last_event_timestamp INTEGER NOT NULL,
            last_ingestion_time INTEGER NOT NULL,
            PRIMARY KEY (log_group, log_stream)
        ) WITHOUT ROWID""",
        """CREATE TABLE metric_points (
            id INTEGER PRIMARY KEY,
            namespace TEXT NOT NULL,
            metric_name TEXT NOT NULL,
            dimensions TEXT NOT NULL,
            timestamp REAL NOT NULL,
            value REAL NOT NULL,
            unit TEXT NOT NULL,
            storage_resolution INTEGER NOT NULL DEFAULT 60
        )""",
        "CREATE INDEX metric_points_name_time ON metric_points (namespace, metric_name, timestamp)",
        """CREATE TABLE throttles (
            id INTEGER PRIMARY KEY,
            function_name TEXT NOT NULL,
            qualifier TEXT,
            reason TEXT NOT NULL,
            at REAL NOT NULL
        )""",
        "CREATE INDEX throttles_function_time ON throttles (function_name, at)",
        """CREATE TABLE trace_segments (
            id INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL,
            segment_id TEXT NOT NULL,
            parent_id TEXT,
            name TEXT NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX trace_segments_trace ON trace_segments (trace_id, start_time)",
        """CREATE TABLE alarm_history (
            id INTEGER PRIMARY KEY,
            alarm_name TEXT NOT NULL,
            old_state TEXT NOT NULL,
            new_state TEXT NOT NULL,
            reason TEXT NOT NULL,
            at REAL NOT NULL
        )""",
        "CREATE INDEX alarm_history_name_time ON alarm_history (alarm_name, at)",
    ),
    (  # 2: where each table ended after each batch, for pruning by age (_retention)
        """CREATE TABLE retention_marks (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            invocations INTEGER,
            log_events INTEGER,
            lifecycle INTEGER,
            metric_points INTEGER,
            throttles INTEGER,
            trace_segments INTEGER,
            alarm_history INTEGER
        )""",
    ),
)


# Kinds of queued records (the first item of each queued tuple)
_INVOCATION, _LIFECYCLE, _LOGS, _METRIC, _THROTTLE, _SEGMENTS, _ALARM = (
    _w.INVOCATION,
    _w.LIFECYCLE,
    _w.LOGS,
    _w.METRIC,
    _w.THROTTLE,
    _w.SEGMENTS,
    _w.ALARM,
)
#: While records keep arriving the shipper holds them (one bigger batch later costs the invoke
#: path less than many small ones now), at most this long and this many; a flush (every
#: query) or a pause in the traffic ships them at once. Past the size, a record wakes the
#: shipper only if it is not awake already: setting the event for every record of a round
#: (while the shipper waits for the GIL, then ships) cost 3 % of the invoke path.
_HOLD_S = 2.0
_HOLD_MAX = 50_000
#: The writer stores ~4,000 invocations a second here (three records each, with their lifecycle
#: pair); two callers can make ~6,000. Past this many queued records a new invocation or
#: throttle waits for the queue to drain to _QUEUE_LOW, so a sustained overload slows the
#: callers to what can be stored instead of growing the queue without bound (~1 KB per
#: request: 430 MB after 460,000 of them). Nothing is dropped. The gap is small: a caller
#: waits about as long as the writer needs for 10,000 records (~1 s), not for half the queue.
_QUEUE_HIGH = 200_000
_QUEUE_LOW = 190_000
_BACKLOG_WAIT_S = 30.0  # at most, per record: a shipper that stopped must not hang callers
#: lifecycle states (a str enum in the sandbox) as plain str, filled as they are seen
_STATE_TEXT: dict[Any, str] = {}
_BATCH = 20_000  # records per batch (one transaction) at most
_CHUNK = 512  # records per frame: bounds one C-level encode's hold of the GIL (~1 ms)
_YIELD_EVERY = 16  # records turned into rows between two releases of the GIL (in-process)
_STALL_S = _w.LOCKED_RETRY_S + 10  # close(): how long the writer may work without a word
_REAP_S = 5.0  # how long a writer that said BYE, or lost its socket, gets to exit


class StoreError(Exception):
    """The store cannot be used: closed, or written by a newer lambda-lab."""


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]]) -> int:
    """Bring the schema to ``len(migrations)``; returns the version found before."""
    latest = len(migrations)

    def check(version: int) -> None:
        if version > latest:
            raise StoreError(
                f"the store's schema version {version} is newer than this lambda-lab "
                f"understands ({latest}); upgrade lambda-lab or use another store path"
            )

    found = conn.execute("PRAGMA user_version").fetchone()[0]
    check(found)
    if found == latest:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have
        check(found)
        for statements in migrations[found:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {latest}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found


def _epoch(value: float | datetime | None) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return value
    return value.timestamp()


def _epoch_ms(value: int | float | datetime | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def _report(level: int, message: str) -> None:
    """What the writer reports (bad records, dropped batches), in this process's log."""
    _log.log(min(max(level, logging.DEBUG), logging.CRITICAL), "%s", message)


class _Sink:
    """What a closed store appends to: nothing is kept."""

    @staticmethod
    def append(item: Any) -> None:
        return None

    def __len__(self) -> int:
        return 0


class _Batch:
    """Records shipped under one sequence number, kept until the writer acknowledges them;
    ``waiters`` are the flushes that return once it is committed."""

    __slots__ = ("ingestion", "items", "seq", "waiters")

    def __init__(self, seq: int, ingestion: int, items: list[tuple[Any, ...]]) -> None:
        self.seq = seq
        self.ingestion = ingestion
        self.items = items
        self.waiters: list[threading.Event] = []


class _Shipper:
    """The kernel's side of the writer: a daemon thread that starts the writer process, takes
    what the record methods queued and sends it (a C-level marshal per chunk of a batch: a few
    µs per invocation of this process's GIL, against ~90 µs to write it); a second thread reads
    the writer's acknowledgements and log messages. Until the process is ready (~0.15 s), and
    for good if it cannot start or dies, batches are written here with the same code (after
    the batches it did not acknowledge), so no flush ever waits for a process to start.

    Holds no reference to the Store, so an unclosed store can still be collected (its
    finalizer stops this shipper, which stops the process)."""

    def __init__(
        self,
        path: Path,
        queue: deque[tuple[Any, ...]],
        wake: threading.Event,
        interval: float,
        now: Callable[[], float],
        max_bytes: int,
    ) -> None:
        self.path = path
        #: the store's size limit, kept by the writer process (or here, when it writes here)
        self.retention = Retention(max_bytes)
        self.queue = queue
        self.wake = wake
        self.interval = interval
        self.now = now
        self.flushes: deque[threading.Event] = deque()
        self.stopping = False
        #: the writer process (None until started, or if it could not start)
        self.process: subprocess.Popen[bytes] | None = None
        #: set when the writer process has opened the database: batches go there from then on
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, name="lambda-lab-store", daemon=True)
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, _Batch] = {}  # shipped, not acknowledged (in sequence order)
        self._redo: list[_Batch] = []  # the writer could not load these: to be written here
        self._seq = 0
        self._heard = 0  # frames from the writer so far (its progress, for close())
        self._gone = threading.Event()  # the writer's socket reached its end
        self._local = False  # writing in this process: the writer process is unavailable
        self._conn: sqlite3.Connection | None = None  # this process's writing connection
        self._shipping = False  # records taken off the queue, not yet in _pending

    @property
    def busy(self) -> bool:
        """Records left the queue but are not committed yet (a query must flush first)."""
        return self._shipping or bool(self._pending) or bool(self._redo)

    # -- the shipper thread -------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._start()
            seen = 0  # queue length at the last look
            held_since: float | None = None  # when the records now held started to wait
            while True:
                self.wake.wait(self.interval)
                self.wake.clear()
                stopping = self.stopping
                if self._gone.is_set() and not self._local:
                    self._fall_back()
                queued = len(self.queue)
                if queued and held_since is None:
                    held_since = time.monotonic()
                if (
                    queued != seen  # still arriving: the functions are busy
                    and queued < _HOLD_MAX
                    and not self.flushes
                    and not stopping
                    and held_since is not None
                    and time.monotonic() - held_since < _HOLD_S
                ):
                    seen = queued
                    continue
                self._write_redo()
                self._ship_queued()
                seen, held_since = len(self.queue), None
                if stopping:
                    return
        finally:
            self._finish()
            if self._conn is not None:
                self._conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        current = threading.current_thread()
        if self.thread.is_alive() and current is not self.thread and current is not self._reader:
            self.thread.join()

    def _start(self) -> None:
        if self.stopping:  # closed at once: not worth a process
            return
        try:
            self.process, self._sock = _w.start_writer(self.path, self.retention.max_bytes)
        except Exception as exc:  # noqa: BLE001 - no interpreter, no fds, no AF_UNIX ...
            self._go_local(f"could not start ({exc})")
            return
        self._reader = threading.Thread(
            target=self._read, args=(self._sock,), name="lambda-lab-store-acks", daemon=True
        )
        self._reader.start()

    def _ship_queued(self) -> None:
        """Send what is queued now, in batches of at most ``_BATCH`` records; the flushes
        taken first return when the last of them is committed."""
        flushes = self.flushes
        waiting = list(itertools.starmap(flushes.popleft, itertools.repeat((), len(flushes))))
        queue = self.queue
        left = len(queue)  # everything recorded before those flushes is in here
        self._shipping = bool(left)
        try:
            while left:
                n = min(left, _BATCH)
                left -= n
                # n C-level pops: records appended meanwhile stay for the next round
                self._ship(list(itertools.starmap(queue.popleft, itertools.repeat((), n))))
        finally:
            self._shipping = False
        if waiting:
            with self._lock:
                if self._pending:
                    next(reversed(self._pending.values())).waiters.extend(waiting)
                    waiting = []
                elif self._redo:
                    self._redo[-1].waiters.extend(waiting)
                    waiting = []
            for event in waiting:
                event.set()

    def _ship(self, items: list[tuple[Any, ...]]) -> None:
        self._seq += 1
        batch = _Batch(self._seq, int(self.now() * 1000), items)
        if self._local or not self.ready.is_set():  # no one waits for the process to start
            self._write_here(batch)
            return
        frames: list[tuple[int, bytes]] = []
        shipped: list[tuple[Any, ...]] = []
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            try:
                frames.append(_w.encode(batch.ingestion, chunk))
            except Exception as exc:  # noqa: BLE001 - pickling runs any object's __reduce__
                _log.warning(
                    "the store cannot send %d records to its writer process (%s: %s); "
                    "writing them in this process",
                    len(chunk),
                    type(exc).__name__,
                    exc,
                )
                self._write_here(_Batch(0, batch.ingestion, chunk))
            else:
                shipped.extend(chunk)
        if not frames:
            return
        batch.items = shipped  # what the writer will have, should it die before its ACK
        with self._lock:
            self._pending[batch.seq] = batch
        last = len(frames) - 1
        try:
            for i, (flags, payload) in enumerate(frames):
                more = _w.MORE if i < last else 0  # the writer commits at the last chunk
                _w.send_frame(self._sock, _w.BATCH, batch.seq, payload, flags | more)  # type: ignore[arg-type]
        except OSError:
            self._fall_back()

    def _finish(self) -> None:
        """Stop the writer once it committed what it was sent; write here what it did not."""
        if self.process is not None and not self._local:
            if self.ready.is_set():
                try:
                    _w.send_frame(self._sock, _w.STOP)  # type: ignore[arg-type]
                except OSError:
                    pass
                self._await_writer()
            else:  # still starting, and sent nothing: no need to wait for its imports
                self.process.terminate()
            self._end_process(_REAP_S)
        self._write_unacknowledged()

    def _await_writer(self) -> None:
        """Wait for the writer's BYE (or its end) as long as it makes progress."""
        assert self.process is not None
        heard, since = self._heard, time.monotonic()
        while not self._gone.wait(0.2):
            if self.process.poll() is not None:  # ended without BYE: let its socket drain
                self._gone.wait(1.0)
                return
            if self._heard != heard:
                heard, since = self._heard, time.monotonic()
            elif time.monotonic() - since > _STALL_S:
                _log.error(
                    "the store's writer process made no progress for %.0f s; stopping it",
                    _STALL_S,
                )
                return

    # -- the fallback: writing in this process -------------------------------------------------
    def _go_local(self, why: str) -> None:
        self._local = True
        _log.warning("the store's writer process %s; the store writes in this process instead", why)

    def _fall_back(self) -> None:
        """The writer process is gone (or its socket broke): reap it, write here from now on,
        starting with the batches it did not acknowledge."""
        self._local = True  # no more sends, whatever happens below
        self._end_process(0.5)
        code = self.process.returncode if self.process is not None else None
        self._go_local(
            f"was stopped by signal {-code}"
            if code is not None and code < 0
            else f"exited with status {code}"
        )
        self._write_unacknowledged()

    def _end_process(self, grace: float) -> None:
        """Reap the writer (killed after ``grace`` seconds), let the reader take its last
        frames, close the socket."""
        process = self.process
        if process is not None and process.returncode is None:
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader, sock = self._reader, self._sock
        if reader is not None and reader is not threading.current_thread():
            reader.join(1.0)  # EOF follows the process's exit
            if reader.is_alive() and sock is not None:  # a copy of its end lives elsewhere
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                reader.join(1.0)
        if sock is not None:
            sock.close()

    def _write_here(self, batch: _Batch) -> None:
        if self._conn is None:
            try:
                self._conn = _connect(self.path)
            except Exception:  # noqa: BLE001 - flush() still returns; the loss is logged
                _log.exception(
                    "the store could not open %s; %d records lost", self.path, len(batch.items)
                )
                return
        _w.write_batch(self._conn, batch.items, batch.ingestion, _report, yield_every=_YIELD_EVERY)
        _w.prune(self._conn, self.retention, _report)

    def _write_redo(self) -> None:
        """Batches the writer could not load, in order; each stays listed until committed so
        that flushes acknowledged meanwhile wait for it."""
        while True:
            with self._lock:
                if not self._redo:
                    return
                batch = self._redo[0]
            self._write_here(batch)
            with self._lock:
                self._redo.pop(0)
                waiters = batch.waiters
            for event in waiters:
                event.set()

    def _write_unacknowledged(self) -> None:
        with self._lock:
            batches = sorted([*self._pending.values(), *self._redo], key=lambda b: b.seq)
            self._pending.clear()
            self._redo.clear()
        for batch in batches:
            self._write_here(batch)
            for event in batch.waiters:
                event.set()

    # -- the reader thread ----------------------------------------------------------------------
    def _read(self, sock: socket.socket) -> None:
        reader = _w.FrameReader(sock)
        try:
            while True:
                frame = reader.read()
                if frame is None:
                    return
                kind, _, number, payload = frame
                self._heard += 1
                if kind == _w.ACK:
                    self._acknowledged(number)
                elif kind == _w.READY:
                    self.ready.set()
                elif kind == _w.NACK:
                    self._refused(number, payload.decode("utf-8", "replace"))
                elif kind == _w.LOG:
                    _report(number, payload.decode("utf-8", "replace"))
                elif kind == _w.BYE:
                    return
        except OSError:  # the socket was shut down under us
            return
        finally:
            reader.close()
            self._gone.set()
            self.wake.set()

    def _acknowledged(self, seq: int) -> None:
        with self._lock:
            done: list[threading.Event] = []
            for s in [s for s in self._pending if s <= seq]:
                done.extend(self._pending.pop(s).waiters)
            if self._redo:  # what was recorded before them is not written yet
                self._redo[-1].waiters.extend(done)
                done = []
        for event in done:
            event.set()

    def _refused(self, seq: int, why: str) -> None:
        with self._lock:
            batch = self._pending.pop(seq, None)
            if batch is not None:
                self._redo.append(batch)
        _log.warning(
            "the store's writer process could not load a batch (%s); writing it in this process",
            why,
        )
        self.wake.set()


def _stop(writer: _Shipper, conn: sqlite3.Connection, lock: threading.Lock) -> None:
    """Finalizer of a store (``close()``, garbage collection or interpreter exit)."""
    writer.stop()
    with lock:
        conn.close()


class Store:
    """The SQLite store of everything observed: ``Store(path)``; record, query, ``close()``.

    ``flush_interval`` is how often the writer commits (seconds); ``clock`` is anything with
    ``now()`` in epoch seconds (the platform clock), for ingestion times and the default time
    of records; the wall clock by default. ``max_bytes`` bounds the data kept: past it the
    oldest records of every kind are deleted (``$LAMBDA_LAB_STORE_MAX_MB``, else 1 GiB; see
    ``_retention``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval: float = 0.2,
        clock: Any = None,
        max_bytes: int | None = None,
    ) -> None:
        if flush_interval <= 0:
            raise ValueError(f"flush_interval must be positive, got {flush_interval!r}")
        if max_bytes is None:
            max_bytes = max_bytes_from_env()
        elif type(max_bytes) is not int or max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
        #: the most data (bytes of SQLite pages in use) the store keeps
        self.max_bytes = max_bytes
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._now: Callable[[], float] = clock.now if clock is not None else time.time
        self._closed = False
        #: how many records waited for the writer to catch up (a sustained overload)
        self.backlog_waits = 0
        self._lock = threading.Lock()
        self._conn = _connect(self.path)
        try:
            _migrate(self._conn, _MIGRATIONS)
            self._conn.execute("PRAGMA query_only = ON")  # queries only: the writer writes
        except BaseException:
            self._conn.close()
            raise
        self._queue: Any = deque()
        self._wake = threading.Event()
        self._writer = _Shipper(
            self.path, self._queue, self._wake, flush_interval, self._now, max_bytes
        )
        self._writer.thread.start()
        # runs on close(), when the store is collected, or at interpreter exit (weakref-based:
        # the registration does not keep a store alive)
        self._finalizer = weakref.finalize(self, _stop, self._writer, self._conn, self._lock)

    # -- write path: append only ----------------------------------------------------------------
    def record_invocation(
        self,
        invocation: Any,
        *,
        qualifier: str | None = None,
        function_arn: str | None = None,
        architecture: str | None = None,
        traced: tuple[str, str, str] | None = None,
    ) -> None:
        """Queue an :class:`~kernel_runtime.invocation.Invocation` (its log events and EMF
        metrics are derived by the writer process).

        ``traced`` is ``(function ARN, region, account id)`` for a function with Active
        tracing: when the request was sampled, the writer records the platform's X-Ray
        segments too (building them costs ~15 us, which the invoke path should not pay)."""
        queue = self._queue
        if type(invocation) is Invocation:
            # its fields as a plain tuple, which the collector stops tracking at its next pass
            # (a NamedTuple it tracks for as long as it waits here, up to 2 s: long enough to
            # reach the oldest generation and drive full collections of the whole kernel)
            invocation = tuple(invocation)
        if len(queue) > _QUEUE_HIGH:
            self._drain_backlog()
        queue.append((_INVOCATION, invocation, qualifier, function_arn, architecture, traced))
        if len(queue) > _HOLD_MAX and not self._wake.is_set():
            self._wake.set()

    def record_throttle(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded",
        at: float | None = None,
    ) -> None:
        """Queue a throttled request (429) with AWS's ``Reason``."""
        at = self._now() if at is None else at
        if len(self._queue) > _QUEUE_HIGH:
            self._drain_backlog()
        self._enqueue((_THROTTLE, function_name, qualifier, reason, at))

    def _enqueue(self, record: tuple[Any, ...]) -> None:
        """Queue one record; past the hold size, wake the shipper if it is not awake. (The two
        records of every invocation, its own and its lifecycle pair, do this inline.)"""
        queue = self._queue
        queue.append(record)
        if len(queue) > _HOLD_MAX and not self._wake.is_set():
            self._wake.set()

    def _drain_backlog(self) -> None:
        """Wait (sleeping, no lock held) until the shipper has taken the queue below
        _QUEUE_LOW; not on the store's own threads, and never longer than _BACKLOG_WAIT_S."""
        current = threading.current_thread()
        if current is self._writer.thread or current is self._writer._reader:
            return
        self.backlog_waits += 1
        deadline = time.monotonic() + _BACKLOG_WAIT_S
        while len(self._queue) > _QUEUE_LOW and time.monotonic() < deadline:
            if not self._writer.thread.is_alive():
                return
            self._wake.set()
            time.sleep(0.005)

    def record_lifecycle(
        self,
        environment_id: str,
        function_name: str,
        function_version: str | None,
        state: str,
        at: float | None = None,
    ) -> None:
        """Queue an execution environment's state transition (INITIALIZING, READY, ...)."""
        self._enqueue(
            (
                _LIFECYCLE,
                environment_id,
                function_name,
                function_version,
                state,
                self._now() if at is None else at,
            )
        )

    def lifecycle_listener(
        self, environment_id: str, function_name: str, function_version: str | None
    ) -> Callable[[Any, str, float], None]:
        """A listener for one environment's transitions, ``listener(environment, state, at)``,
        that queues them as :meth:`record_lifecycle` does, minus a call: it runs twice per
        invocation (BUSY, then READY)."""
        queue = self._queue
        append, wake, texts = queue.append, self._wake, _STATE_TEXT

        def transition(_environment: Any, state: str, at: float) -> None:
            text = texts.get(state)
            if text is None:  # the sandbox's State is a str enum: queue its plain value, so
                text = texts[state] = str(getattr(state, "value", state))  # batches marshal
            append((_LIFECYCLE, environment_id, function_name, function_version, text, at))
            if len(queue) > _HOLD_MAX and not wake.is_set():
                wake.set()

        return transition

    def record_metric(
        self,
        namespace: str,
        name: str,
        value: float,
        *,
        dimensions: Mapping[str, str] | None = None,
        unit: str = "None",
        timestamp: float | None = None,
        storage_resolution: int = 60,
    ) -> None:
        """Queue one metric data point (``timestamp`` in epoch seconds)."""
        self._enqueue(
            (
                _METRIC,
                namespace,
                name,
                _canonical(dimensions),
                self._now() if timestamp is None else timestamp,
                float(value),
                unit,
                storage_resolution,
            )
        )

    def record_log_events(
        self,
        group: str,
        stream: str,
        events: Iterable[LogEvent | tuple[int, str]],
        *,
        request_id: str | None = None,
    ) -> None:
        """Queue log events (epoch ms, message) for a stream of a log group."""
        self._enqueue((_LOGS, group, stream, list(events), request_id))

    def record_segments(self, segments: Iterable[Mapping[str, Any]]) -> None:
        """Queue X-Ray segment documents (``trace_id``, ``id``, ``parent_id``, ``name``,
        ``start_time``, ``end_time`` in epoch seconds, and the rest of the document)."""
        self._enqueue((_SEGMENTS, list(segments)))

    def record_alarm_state(
        self,
        alarm_name: str,
        old_state: str,
        new_state: str,
        reason: str,
        at: float | None = None,
    ) -> None:
        """Queue an alarm's state change (OK, ALARM, INSUFFICIENT_DATA)."""
        self._enqueue(
            (_ALARM, alarm_name, old_state, new_state, reason, self._now() if at is None else at)
        )

    # -- flushing and closing -------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything recorded before this call is committed; False on timeout."""
        if self._closed or not self._writer.thread.is_alive():
            return not len(self._queue)
        done = threading.Event()
        self._writer.flushes.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue = _Sink()  # later records are dropped, not kept in memory
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Store {str(self.path)!r} {state}>"

    # -- queries ----------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._closed:
            raise StoreError("the store is closed")
        if len(self._queue) or self._writer.busy:  # recorded, maybe not committed yet
            self.flush()
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def invocations(
        self,
        function: str | None = None,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Invocations started in [start, end), oldest first (with ``limit``: the most recent
        ``limit`` of them). Each a dict of the Invocation's fields but ``raw_log``, plus
        ``qualifier``, ``function_arn`` and ``architecture``."""
        rows = self._invocation_rows(_INVOCATION_COLUMNS, function, start, end, request_id, limit)
        out = []
        for row in rows:
            record = dict(zip(_INVOCATION_COLUMNS, row, strict=True))
            record["cold_start"] = bool(record["cold_start"])
            out.append(record)
        return out

    def columns(
        self,
        function: str | None = None,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> dict[str, list[Any]]:
        """The same selection as :meth:`invocations`, as one list per field (for plots and
        ``ColumnDataSource``), without the payload."""
        names = tuple(c for c in _INVOCATION_COLUMNS if c != "payload")
        rows = self._invocation_rows(names, function, start, end, request_id, limit)
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        table = {name: list(col) for name, col in zip(names, columns, strict=True)}
        table["cold_start"] = [bool(v) for v in table["cold_start"]]
        return table

    def _invocation_rows(
        self,
        names: Sequence[str],
        function: str | None,
        start: float | datetime | None,
        end: float | datetime | None,
        request_id: str | None,
        limit: int | None,
    ) -> list[tuple[Any, ...]]:
        where, params = _where(
            ("function_name = ?", function),
            ("started_at >= ?", _epoch(start)),
            ("started_at < ?", _epoch(end)),
            ("request_id = ?", request_id),
        )
        sql = f"SELECT {', '.join(names)} FROM invocations{where}"
        if limit is None:
            return self._rows(sql + " ORDER BY started_at, id", params)
        rows = self._rows(sql + " ORDER BY started_at DESC, id DESC LIMIT ?", [*params, limit])
        rows.reverse()
        return rows

    def throttles(
        self,
        function: str | None = None,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Throttled requests in [start, end), oldest first."""
        where, params = _where(
            ("function_name = ?", function), ("at >= ?", _epoch(start)), ("at < ?", _epoch(end))
        )
        rows = self._rows(
            f"SELECT function_name, qualifier, reason, at FROM throttles{where} ORDER BY at, id",
            params,
        )
        keys = ("function_name", "qualifier", "reason", "at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def lifecycle(
        self,
        function: str | None = None,
        environment_id: str | None = None,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Environment state transitions in [start, end), oldest first."""
        where, params = _where(
            ("function_name = ?", function),
            ("environment_id = ?", environment_id),
            ("at >= ?", _epoch(start)),
            ("at < ?", _epoch(end)),
        )
        keys = ("environment_id", "function_name", "function_version", "state", "at")
        rows = self._rows(f"SELECT {', '.join(keys)} FROM lifecycle{where} ORDER BY at, id", params)
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def metric_points(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None = None,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Data points of one metric in [start, end), oldest first. ``dimensions`` selects one
        exact dimension set as CloudWatch does (``{}``: the metric without dimensions); None
        returns every set."""
        where, params = _where(
            ("namespace = ?", namespace),
            ("metric_name = ?", name),
            ("dimensions = ?", None if dimensions is None else _canonical(dimensions)),
            ("timestamp >= ?", _epoch(start)),
            ("timestamp < ?", _epoch(end)),
        )
        rows = self._rows(
            "SELECT timestamp, value, unit, dimensions, storage_resolution FROM metric_points"
            f"{where} ORDER BY timestamp, id",
            params,
        )
        return [
            {
                "timestamp": t,
                "value": v,
                "unit": u,
                "dimensions": json.loads(d),
                "storage_resolution": r,
            }
            for t, v, u, d, r in rows
        ]

    def segments(self, trace_id: str) -> list[dict[str, Any]]:
        """The X-Ray segment documents of one trace, by start time."""
        rows = self._rows(
            "SELECT document FROM trace_segments WHERE trace_id = ? ORDER BY start_time, id",
            (trace_id,),
        )
        return [json.loads(document) for (document,) in rows]

    def alarm_history(self, name: str | None = None) -> list[dict[str, Any]]:
        """State changes of an alarm (all alarms with None), newest first, in the shape of
        CloudWatch's DescribeAlarmHistory items (``Timestamp`` in epoch seconds)."""
        where, params = _where(("alarm_name = ?", name))
        rows = self._rows(
            "SELECT alarm_name, old_state, new_state, reason, at FROM alarm_history"
            f"{where} ORDER BY at DESC, id DESC",
            params,
        )
        return [
            {
                "AlarmName": alarm,
                "AlarmType": "MetricAlarm",
                "Timestamp": at,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps(
                    {
                        "version": "1.0",
                        "oldState": {"stateValue": old},
                        "newState": {"stateValue": new, "stateReason": reason},
                    }
                ),
            }
            for alarm, old, new, reason, at in rows
        ]

    # -- logs -----------------------------------------------------------------------------------
    def log_groups(self) -> list[dict[str, Any]]:
        """Log groups that hold events, in DescribeLogGroups' shape."""
        rows = self._rows(
            "SELECT log_group, min(creation_time) FROM log_streams GROUP BY log_group "
            "ORDER BY log_group"
        )
        return [
            {"logGroupName": group, "creationTime": created, "storedBytes": 0}
            for group, created in rows
        ]

    def log_streams(
        self, group: str, *, order_by: str = "LogStreamName", descending: bool = False
    ) -> list[dict[str, Any]]:
        """The streams of a log group, in DescribeLogStreams' shape and orders
        (``LogStreamName`` or ``LastEventTime``)."""
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise ValueError(
                f"1 validation error detected: Value '{order_by}' at 'orderBy' failed to satisfy "
                "constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )
        column = "log_stream" if order_by == "LogStreamName" else "last_event_timestamp"
        direction = "DESC" if descending else "ASC"
        rows = self._rows(
            "SELECT log_stream, creation_time, first_event_timestamp, last_event_timestamp, "
            f"last_ingestion_time FROM log_streams WHERE log_group = ? "
            f"ORDER BY {column} {direction}, log_stream {direction}",
            (group,),
        )
        return [
            {
                "logStreamName": stream,
                "creationTime": created,
                "firstEventTimestamp": first,
                "lastEventTimestamp": last,
                "lastIngestionTime": ingested,
                "storedBytes": 0,
            }
            for stream, created, first, last, ingested in rows
        ]

    def log_events(
        self,
        group: str,
        stream: str | None = None,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        pattern: str | FilterPattern | None = None,
        limit: int | None = None,
        start_from_head: bool = True,
        *,
        request_id: str | None = None,
        min_level: str | None = None,
    ) -> list[dict[str, Any]]:
        """Events of a log group (one stream with ``stream``) with timestamps in [start, end)
        (epoch ms), matching a filter ``pattern`` and at ``min_level`` or above, in time order,
        as FilterLogEvents' events (``logStreamName``, ``timestamp``, ``message``,
        ``ingestionTime``, ``eventId``). With ``limit``: the first ``limit`` matches, or with
        ``start_from_head=False`` the last ones (still oldest first), like GetLogEvents."""
        if isinstance(pattern, str):
            pattern = FilterPattern.parse(pattern)
        level_rank = None
        if min_level is not None:
            level_rank = _rank(min_level)  # the same validation and ranks as log_events()
        where, params = _where(
            ("log_group = ?", group),
            ("log_stream = ?", stream),
            ("timestamp >= ?", _epoch_ms(start)),
            ("timestamp < ?", _epoch_ms(end)),
            ("request_id = ?", request_id),
        )
        order = "ASC" if start_from_head else "DESC"
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM log_events{where} ORDER BY timestamp {order}, id {order}"
        )
        filtered = pattern is not None or level_rank is not None
        if limit is not None and not filtered:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._rows(sql, params)
        out = []
        for row in rows:
            message = row[3]
            if pattern is not None and not pattern.matches(message):
                continue
            if level_rank is not None and _RANK[event_level(message)] < level_rank:
                continue
            out.append(_event(row))
            if limit is not None and len(out) >= limit:
                break
        if not start_from_head:
            out.reverse()
        return out

    def tail(self, group: str, since_ms: int | datetime) -> list[dict[str, Any]]:
        """Events of a log group from ``since_ms`` on (like ``aws logs tail --since``)."""
        return self.log_events(group, start=since_ms)

    def follow(
        self,
        group: str,
        callback: Callable[[list[dict[str, Any]]], None],
        *,
        interval: float = 0.5,
        pattern: str | FilterPattern | None = None,
        from_start: bool = False,
    ) -> LogFollower:
        """Call ``callback`` with each batch of new events of a log group (in the order they
        were stored) until :meth:`LogFollower.stop`: a live tail for widgets, polling the
        table every ``interval`` seconds on a daemon thread. Only events stored from now on,
        or all of them with ``from_start``."""
        if isinstance(pattern, str):
            pattern = FilterPattern.parse(pattern)
        cursor = 0
        if not from_start:
            (cursor,) = self._rows("SELECT coalesce(max(id), 0) FROM log_events")[0]
        return LogFollower(self, group, callback, interval, pattern, cursor)

    def _events_after(self, group: str, cursor: int, limit: int) -> list[tuple[Any, ...]]:
        if self._closed:
            return []
        with self._lock:
            return self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM log_events "
                "WHERE id > ? AND log_group = ? ORDER BY id LIMIT ?",
                (cursor, group, limit),
            ).fetchall()


#: the columns of a log event row, in the order :func:`_event` reads them
_EVENT_COLUMNS = "id, log_stream, timestamp, message, ingestion_time"


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    """A log event row (``_EVENT_COLUMNS``) as FilterLogEvents' event."""
    event_id, stream, timestamp, message, ingestion = row
    return {
        "logStreamName": stream,
        "timestamp": timestamp,
        "message": message,
        "ingestionTime": ingestion,
        "eventId": str(event_id),
    }


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`` WHERE a AND b`` of the conditions whose value is not None, and their parameters."""
    parts = [sql for sql, value in conditions if value is not None]
    params = [value for _, value in conditions if value is not None]
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


class LogFollower:
    """A running :meth:`Store.follow`: ``stop()`` it (or use it as a context manager)."""

    _BATCH = 1000

    def __init__(
        self,
        store: Store,
        group: str,
        callback: Callable[[list[dict[str, Any]]], None],
        interval: float,
        pattern: FilterPattern | None,
        cursor: int,
    ) -> None:
        self._store = weakref.ref(store)
        self.group = group
        self._callback = callback
        self._interval = interval
        self._pattern = pattern
        self._cursor = cursor
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lambda-lab-follow", daemon=True)
        self._thread.start()

    def poll(self) -> int:
        """Deliver what is new now (the thread does this every interval); returns the count."""
        store = self._store()
        if store is None or store.closed:
            self._stopped.set()
            return 0
        delivered = 0
        while True:
            rows = store._events_after(self.group, self._cursor, self._BATCH)
            if not rows:
                return delivered
            self._cursor = rows[-1][0]
            events = [
                _event(row)
                for row in rows
                if self._pattern is None or self._pattern.matches(row[3])
            ]
            if events:
                delivered += len(events)
                try:
                    self._callback(events)
                except Exception:  # noqa: BLE001 - a widget's bug must not stop the tail
                    _log.exception("log follower callback failed")
            if len(rows) < self._BATCH:
                return delivered

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - e.g. the store closed under us
                _log.debug("log follower poll failed", exc_info=True)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
