"""The store's size limit: when its data outgrows ``max_bytes``, the oldest records go.

CloudWatch keeps a log group's events until its retention policy says otherwise, and AWS has
the disks for that. The store lives in the learner's cache directory, and a load test writes
~1.6 KB per invocation (its row, its START/END/REPORT events, its lifecycle pair and their
indexes): a few minutes at 10,000 invocations a second would be gigabytes, kept forever. So
the writer keeps the newest ``max_bytes`` of data (1 GiB by default, ``$LAMBDA_LAB_STORE_MAX_MB``
or ``Store(max_bytes=...)``): past it, it deletes the oldest records until the data is back
under 90 % of the limit. SQLite reuses the freed pages, so the file stops growing near the
limit; it does not shrink.

"Oldest" is by when the store wrote a record, not by the time the record carries (a metric
point may be dated two weeks back): every batch leaves a mark, in its own transaction, of
where each table ended, and pruning deletes whole batches from the oldest mark on (of the last
one it reaches, the same share of each table's rows), so an invocation goes together with its
log events, lifecycle states and the metric points and segments written beside it. The
newest batch always stays. It runs in the writer process (or wherever the store writes when
that process is unavailable), in steps of at most ``step_rows`` rows per table, each its own
transaction: a step never holds the database long, and batches are served between steps.
"""

from __future__ import annotations

import os
import sqlite3
import time

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ENV_MAX_MB",
    "MARK_SQL",
    "TABLES",
    "Retention",
    "max_bytes_from_env",
    "used_bytes",
]

DEFAULT_MAX_BYTES = 1 << 30
ENV_MAX_MB = "LAMBDA_LAB_STORE_MAX_MB"

#: tables whose rowid follows insertion order, and each is a column of ``retention_marks``
TABLES: tuple[str, ...] = (
    "invocations",
    "log_events",
    "lifecycle",
    "metric_points",
    "throttles",
    "trace_segments",
    "alarm_history",
)
#: written with every batch, in its transaction: where each table ended (max id) then
MARK_SQL = (
    f"INSERT INTO retention_marks (at, {', '.join(TABLES)}) "
    f"SELECT ?, {', '.join(f'(SELECT max(id) FROM {t})' for t in TABLES)}"
)
_LOW_WATER = 0.9  # prune down to this share of the limit, so that it is not every batch
_MARKS_FETCHED = 4096
_MIN_STEP_ROWS = 100


def max_bytes_from_env() -> int:
    """``$LAMBDA_LAB_STORE_MAX_MB`` in bytes, else the default (1 GiB)."""
    text = os.environ.get(ENV_MAX_MB, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        mb = float(text)
    except ValueError:
        mb = 0.0
    if not mb > 0 or mb != mb or mb == float("inf"):
        raise ValueError(f"{ENV_MAX_MB} must be a positive number of megabytes, got {text!r}")
    return int(mb * 1024 * 1024)


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the database's pages that hold data (its free pages not counted)."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size


class Retention:
    """Keeps one store's data under ``max_bytes``; ``step()`` after each committed batch."""

    def __init__(
        self, max_bytes: int, *, step_rows: int = 5_000, step_s: float | None = 0.1
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
        self.max_bytes = max_bytes
        #: at most this many rows of any table per step; with ``step_s``, it adapts so that
        #: a step takes about that long (~15 us a row in a store the page cache holds; a
        #: store far over its limit and out of the cache can need milliseconds a row)
        self.step_rows = step_rows
        self._step_s = step_s
        self._max_step_rows = step_rows
        self._pruning = False  # over the limit, not yet back under the low water mark
        #: rows deleted so far
        self.deleted = 0

    def step(self, conn: sqlite3.Connection) -> int:
        """One step of pruning if the store is over its limit; returns the rows deleted.
        Looking costs three reads of the database header's counts, so it is done after every
        batch. Raises what SQLite raises (the caller reports it and goes on writing)."""
        if not self._pruning:
            if used_bytes(conn) <= self.max_bytes:
                return 0
            self._pruning = True
        started = time.monotonic()
        deleted = self._delete_oldest(conn)
        if self._step_s is not None:
            took = time.monotonic() - started
            if took > self._step_s:
                self.step_rows = max(_MIN_STEP_ROWS, self.step_rows // 2)
            elif took < self._step_s / 4:
                self.step_rows = min(self._max_step_rows, self.step_rows * 2)
        if not deleted or used_bytes(conn) <= self.max_bytes * _LOW_WATER:
            self._pruning = False  # done, or nothing left that pruning could delete
        return deleted

    @property
    def pruning(self) -> bool:
        """Over the limit: the next ``step()`` deletes more."""
        return self._pruning

    def _delete_oldest(self, conn: sqlite3.Connection) -> int:
        """Delete, in one transaction, the oldest records: those of the oldest batches, up to
        the share of the data that is over the low water mark (of the last batch only that
        share of each table), and at most ``step_rows`` rows of any table (a table that
        reaches that limit catches up in the next steps)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            used = used_bytes(conn)
            share = min(1.0, max(0.0, (used - self.max_bytes * _LOW_WATER) / used))
            spans: dict[str, tuple[int, int]] = {}
            for table in TABLES:
                lo, hi = conn.execute(  # one aggregate each: min/max by the rowid, not a scan
                    f"SELECT (SELECT min(id) FROM {table}), (SELECT max(id) FROM {table})"
                ).fetchone()
                if lo is not None:
                    spans[table] = (lo, hi)
            # rows to delete: that share of each table, and of all rows together (a sparse
            # table, alarm changes or throttles, must not decide alone how far back to go)
            quota = {t: round((hi - lo + 1) * share) for t, (lo, hi) in spans.items()}
            if spans and not any(quota.values()):  # at least a row, of the largest table
                quota[max(spans, key=lambda t: spans[t][1] - spans[t][0])] = 1
            need = sum(quota.values())
            marks = conn.execute(
                f"SELECT id, {', '.join(TABLES)} FROM retention_marks ORDER BY id LIMIT ?",
                (_MARKS_FETCHED,),
            ).fetchall()
            newest = conn.execute("SELECT max(id) FROM retention_marks").fetchone()[0]
            if marks and marks[-1][0] == newest:  # the newest batch always stays
                marks.pop()
                if not marks:
                    spans = {}  # one batch is all there is: nothing to delete
            # whole batches, oldest first, until they hold what is needed, or before the one
            # that would take a table past step_rows (the first one always goes, capped); of
            # the last batch taken only each table's quota, so that a batch larger than what
            # must go keeps its newest rows
            target: dict[str, int] | None = None
            whole: dict[str, int] = {}  # the end of the batches before the last one taken
            for mark in marks:
                ends = {t: m for t, m in zip(TABLES, mark[1:], strict=True) if m is not None}
                rows = [max(0, ends.get(t, lo - 1) - lo + 1) for t, (lo, _) in spans.items()]
                if target is not None and max(rows) > self.step_rows:
                    break
                whole, target = target or {}, ends
                if sum(rows) >= need:
                    break
            go: dict[str, int] = {}  # rows to delete from each table
            for t, (lo, _) in spans.items():
                if target is None:  # no marks (written before them): each table's oldest rows
                    go[t] = quota[t]
                else:
                    upto = max(whole.get(t, lo - 1) + 1, lo + quota[t])
                    go[t] = max(0, min(target.get(t, lo - 1) + 1, upto) - lo)
            # past step_rows, every table takes the same fraction of its part: they stay cut
            # at about the same batch and time
            most = max(go.values(), default=0)
            if most > self.step_rows:  # integers: the largest part gets exactly step_rows
                go = {t: n * self.step_rows // most for t, n in go.items()}
            cut = {t: spans[t][0] + n for t, n in go.items()}
            deleted = 0
            for t, (lo, _) in spans.items():
                if cut[t] > lo:
                    deleted += conn.execute(f"DELETE FROM {t} WHERE id < ?", (cut[t],)).rowcount
            # the marks every table has passed are spent
            spent = 0
            for mark in marks:
                ends = zip(TABLES, mark[1:], strict=True)
                if any(t in cut and m is not None and m >= cut[t] for t, m in ends):
                    break
                spent = mark[0]
            if spent:
                conn.execute("DELETE FROM retention_marks WHERE id <= ?", (spent,))
            # a stream last written before the oldest event left has no events left
            oldest = conn.execute(
                "SELECT ingestion_time FROM log_events ORDER BY id LIMIT 1"
            ).fetchone()
            deleted += conn.execute(
                "DELETE FROM log_streams WHERE last_ingestion_time < ?",
                (2**62 if oldest is None else oldest[0],),
            ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.deleted += deleted
        return deleted
