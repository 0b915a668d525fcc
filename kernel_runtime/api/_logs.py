"""CloudWatch Logs for the Lambda log groups, answered from the store at the edge.

Functions write to ``/aws/lambda/<function>`` and the store holds those events (DESIGN decision
8); moto never sees them. :class:`LogsInterceptor` is the edge's interceptor for the ``logs``
signing name: it answers GetLogEvents, FilterLogEvents and DescribeLogStreams for the log
groups the store holds, and DescribeLogGroups for every group (the store's merged with moto's),
in the JSON 1.1 protocol's shapes and with CloudWatch Logs' error codes and messages. Every
other request, and any request about a group the store does not hold, goes on to moto, so
groups created with CreateLogGroup and PutLogEvents keep working as before.

What follows AWS:

- GetLogEvents: ``startTime`` inclusive, ``endTime`` exclusive; at most ``limit`` events
  (default and maximum 10,000) and 1 MB (each event counted as its UTF-8 message plus 26
  bytes, as CloudWatch counts them); ``startFromHead`` false (the default) returns the latest
  events, oldest first. ``nextForwardToken`` (``f/<56 digits>``) continues after the last
  event returned, ``nextBackwardToken`` (``b/<56 digits>``) before the first; a page with no
  events returns the token that was passed in, so a reader stops when the token repeats. A
  token names a position in the stream (event time and id), not a page: it stays valid while
  the stream grows, so polling with ``nextForwardToken`` tails a stream.
- FilterLogEvents: ``startTime`` and ``endTime`` both inclusive; events of all the selected
  streams interleaved by time, filtered with :class:`~kernel_runtime.observe.FilterPattern`;
  ``nextToken`` only while more matches remain. An unreadable ``nextToken`` yields an empty
  page, as AWS does (moto's finding); GetLogEvents and the Describe operations refuse one.
- DescribeLogStreams: ``orderBy`` LogStreamName or LastEventTime, ``descending``, ``limit``
  up to 50; a prefix cannot be combined with LastEventTime.

Limitations (local choices): the store is not regional, so the Lambda log groups appear in
every region's answers; when moto also holds a ``/aws/lambda/`` group the store holds (a
group created ahead of the function's first invoke), the store answers for its events and
streams, and DescribeLogGroups shows moto's entry (it carries the retention). DescribeLogGroups
with ``logGroupIdentifiers`` or ``accountIdentifiers`` is left to moto (the store's groups are
not listed then).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from .._ids import request_id
from ..observe._logs import FilterPattern, InvalidFilterPattern
from ..observe._store import StoreError
from ._app import credential_scope
from ._errors import ApiError

__all__ = ["LogsInterceptor"]

_log = logging.getLogger(__name__)

Response = tuple[int, list[tuple[str, str]], bytes]

#: The log groups Lambda writes to: the only ones the store answers for.
_LAMBDA_GROUPS = "/aws/lambda/"

_JSON = "application/x-amz-json-1.1"
_MAX_EVENTS = 10_000
_MAX_BYTES = 1_048_576  # a response holds at most 1 MB of events
_EVENT_OVERHEAD = 26  # bytes CloudWatch Logs counts per event on top of its message
_MAX_DESCRIBE = 50
_SCAN_CHUNK = 1_000  # events read from the store per query while filtering
#: A position in a log group: ``timestamp * _ID_SPAN + event id``. Event ids are SQLite rowids
#: (below 2**63), so the pair orders exactly as the store orders events.
_ID_SPAN = 10**20
_EVENT_TOKEN = re.compile(r"([fb])/(\d{1,56})(?:/s)?")
_NUMBER_TOKEN = re.compile(r"\d{1,56}")

_NO_STREAM = "The specified log stream does not exist."
_BAD_TOKEN = "The specified nextToken is invalid."


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", 400, message)


def _constraint(value: Any, member: str, constraint: str) -> ApiError:
    return _invalid(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


class _Request:
    """The parameters of one JSON request, read with the types the API model gives them."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def _typed(self, name: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = self.params.get(name)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError(
                "SerializationException", 400, f"Value for '{name}' must be {what}, got {value!r}"
            )
        return value

    def string(self, name: str) -> str | None:
        return self._typed(name, str, "a string")

    def integer(self, name: str) -> int | None:
        return self._typed(name, int, "an integer")

    def boolean(self, name: str) -> bool | None:
        return self._typed(name, bool, "a boolean")

    def strings(self, name: str) -> list[str] | None:
        value = self._typed(name, list, "a list of strings")
        if value is not None and not all(isinstance(v, str) for v in value):
            raise ApiError(
                "SerializationException", 400, f"Value for '{name}' must be a list of strings"
            )
        return value

    def limit(self, default: int, maximum: int) -> int:
        limit = self.integer("limit")
        if limit is None:
            return default
        if limit < 1:
            raise _constraint(limit, "limit", "Member must have value greater than or equal to 1")
        if limit > maximum:
            raise _constraint(
                limit, "limit", f"Member must have value less than or equal to {maximum}"
            )
        return limit

    def time(self, name: str) -> int | None:
        value = self.integer(name)
        if value is not None and value < 0:
            raise _constraint(value, name, "Member must have value greater than or equal to 0")
        return value

    def group(self) -> str | None:
        """The log group named by ``logGroupName`` or ``logGroupIdentifier`` (a name or an
        ARN, with or without the trailing ``:*``)."""
        name = self.string("logGroupName")
        identifier = self.string("logGroupIdentifier")
        if identifier is not None:
            marker = identifier.find(":log-group:")
            if identifier.startswith("arn:") and marker >= 0:
                identifier = identifier[marker + len(":log-group:") :]
                if identifier.endswith(":*"):
                    identifier = identifier[:-2]
        if name is not None and identifier is not None:
            if not (name.startswith(_LAMBDA_GROUPS) or identifier.startswith(_LAMBDA_GROUPS)):
                return None  # moto's to refuse
            raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        return name if name is not None else identifier


def _key(event: dict[str, Any]) -> int:
    return int(event["timestamp"]) * _ID_SPAN + int(event["eventId"])


def _size(event: dict[str, Any]) -> int:
    return len(event["message"].encode("utf-8", "surrogatepass")) + _EVENT_OVERHEAD


def _forward(
    store: Any,
    group: str,
    stream: str | None,
    start: int | None,
    end: int | None,
    boundary: int,
    chunk: int,
) -> Iterator[dict[str, Any]]:
    """Events at positions >= ``boundary`` with timestamps in [start, end), oldest first,
    read ``chunk`` at a time (the store's queries are by time; the id settles ties)."""
    while True:
        low = boundary // _ID_SPAN
        if start is not None:
            low = max(low, start)
        if end is not None and low >= end:
            return
        size = chunk
        while True:
            rows = store.log_events(group, stream, start=low, end=end, limit=size)
            fresh = [e for e in rows if _key(e) >= boundary]
            if fresh or len(rows) < size:
                break
            size *= 2  # a run of events in one millisecond, all before the boundary
        yield from fresh
        if len(rows) < size:
            return
        boundary = _key(rows[-1]) + 1


def _backward(
    store: Any,
    group: str,
    stream: str | None,
    start: int | None,
    end: int | None,
    boundary: int | None,
    chunk: int,
) -> Iterator[dict[str, Any]]:
    """Events at positions < ``boundary`` (None: all) with timestamps in [start, end), newest
    first."""
    while True:
        high = end
        if boundary is not None:
            high = boundary // _ID_SPAN + 1
            if end is not None:
                high = min(high, end)
        if start is not None and high is not None and high <= start:
            return
        size = chunk
        while True:
            rows = store.log_events(
                group, stream, start=start, end=high, limit=size, start_from_head=False
            )
            fresh = rows if boundary is None else [e for e in rows if _key(e) < boundary]
            if fresh or len(rows) < size:
                break
            size *= 2
        yield from reversed(fresh)
        if len(rows) < size:
            return
        boundary = _key(rows[0])


def _take(events: Iterator[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` events and 1 MB of them (at least one, whatever its size)."""
    page: list[dict[str, Any]] = []
    total = 0
    for event in events:
        total += _size(event)
        if page and total > _MAX_BYTES:
            break
        page.append(event)
        if len(page) >= limit:
            break
    return page


def _upload_sequence_token(group: str, stream: str, last_ingestion: int) -> str:
    """A 56-digit token like AWS's, changing with each ingestion into the stream (PutLogEvents
    ignores sequence tokens now; clients still read the field)."""
    digest = hashlib.blake2b(
        f"{group}\n{stream}\n{last_ingestion}".encode(), digest_size=24
    ).digest()
    return f"{int.from_bytes(digest, 'big') % 10**56:056d}"


def _offset_token(token: str | None) -> int:
    if token is None:
        return 0
    if not _NUMBER_TOKEN.fullmatch(token):
        raise _invalid(_BAD_TOKEN)
    return int(token)


class LogsInterceptor:
    """The edge's interceptor for ``logs``: the Lambda log groups from ``store``.

    ``region`` and ``account_id`` are the runtime's, for ARNs. Called with the operation (from
    ``X-Amz-Target``), the WSGI environ and the request body; returns the response, or None to
    let moto answer.
    """

    def __init__(
        self, store: Any, *, region: str = "us-east-1", account_id: str = "123456789012"
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self._operations: dict[str, Callable[[_Request, dict[str, Any]], Any]] = {
            "GetLogEvents": self._get_log_events,
            "FilterLogEvents": self._filter_log_events,
            "DescribeLogStreams": self._describe_log_streams,
            "DescribeLogGroups": self._describe_log_groups,
        }

    def __call__(self, operation: str, environ: dict[str, Any], body: bytes) -> Response | None:
        handler = self._operations.get(operation)
        if handler is None or self.store is None or self.store.closed:
            return None
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return None  # moto answers what is not JSON
        if not isinstance(params, dict):
            return None
        try:
            result = handler(_Request(params), environ)
        except ApiError as exc:
            return self._error(exc.code, exc.message, exc.status)
        except StoreError:
            return None  # closed under the request: moto answers as if the store were off
        if result is None:
            return None
        return self._respond(200, result)

    # -- responses ------------------------------------------------------------------------------
    @staticmethod
    def _respond(status: int, document: dict[str, Any]) -> Response:
        data = json.dumps(document).encode()
        headers = [
            ("Content-Type", _JSON),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", request_id()),
        ]
        return status, headers, data

    def _error(self, code: str, message: str, status: int = 400) -> Response:
        return self._respond(status, {"__type": code, "message": message})

    # -- shared ---------------------------------------------------------------------------------
    def _lambda_group(self, request: _Request) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """The requested group and its streams by name, if the store holds it; else None."""
        group = request.group()
        if group is None or not group.startswith(_LAMBDA_GROUPS):
            return None
        streams = {s["logStreamName"]: s for s in self.store.log_streams(group)}
        if not streams:
            return None  # not a group the store holds: moto's, or nobody's (moto says so)
        return group, streams

    # -- GetLogEvents ---------------------------------------------------------------------------
    def _get_log_events(self, request: _Request, environ: dict[str, Any]) -> Any:
        found = self._lambda_group(request)
        if found is None:
            return None
        group, streams = found
        stream = request.string("logStreamName")
        limit = request.limit(_MAX_EVENTS, _MAX_EVENTS)
        start, end = request.time("startTime"), request.time("endTime")
        from_head = bool(request.boolean("startFromHead"))
        token = request.string("nextToken")
        if stream is None:  # botocore requires it; a raw request may leave it out
            raise _constraint("null", "logStreamName", "Member must not be null")
        if stream not in streams:
            raise ApiError("ResourceNotFoundException", 400, _NO_STREAM)
        boundary: int | None = None
        if token is not None:
            match = _EVENT_TOKEN.fullmatch(token)
            if match is None:
                raise _invalid(_BAD_TOKEN)
            from_head = match.group(1) == "f"
            boundary = int(match.group(2))
        chunk = min(limit, _MAX_EVENTS) + 1
        if from_head:
            events = _forward(self.store, group, stream, start, end, boundary or 0, chunk)
            page = _take(events, limit)
        else:
            page = _take(_backward(self.store, group, stream, start, end, boundary, chunk), limit)
            page.reverse()
        if page:
            after, before = _key(page[-1]) + 1, _key(page[0])
            forward, backward = f"f/{after:056d}", f"b/{before:056d}"
        else:
            if boundary is None:  # nothing in the range: both tokens at its start
                boundary = (start or 0) * _ID_SPAN
            forward, backward = f"f/{boundary:056d}", f"b/{boundary:056d}"
            if token is not None:  # "the same token you passed in"
                if from_head:
                    forward = token
                else:
                    backward = token
        return {
            "events": [{k: e[k] for k in ("timestamp", "message", "ingestionTime")} for e in page],
            "nextForwardToken": forward,
            "nextBackwardToken": backward,
        }

    # -- FilterLogEvents ------------------------------------------------------------------------
    def _filter_log_events(self, request: _Request, environ: dict[str, Any]) -> Any:
        found = self._lambda_group(request)
        if found is None:
            return None
        group, streams = found
        names = request.strings("logStreamNames")
        prefix = request.string("logStreamNamePrefix")
        limit = request.limit(_MAX_EVENTS, _MAX_EVENTS)
        start, end = request.time("startTime"), request.time("endTime")
        text = request.string("filterPattern")
        token = request.string("nextToken")
        if names is not None and prefix is not None:
            raise _invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
        if names is not None:
            if not 1 <= len(names) <= 100:
                member = "greater than or equal to 1" if not names else "less than or equal to 100"
                raise _invalid(
                    "1 validation error detected: Value at 'logStreamNames' failed to satisfy "
                    f"constraint: Member must have length {member}"
                )
            if any(name not in streams for name in names):
                raise ApiError("ResourceNotFoundException", 400, _NO_STREAM)
        try:
            pattern = FilterPattern.parse(text) if text is not None else None
        except InvalidFilterPattern as exc:
            raise _invalid(str(exc)) from None
        if token is not None and not _NUMBER_TOKEN.fullmatch(token):
            return {"events": [], "searchedLogStreams": []}  # AWS: an empty page, no error
        selected: set[str] | None = None
        if names is not None:
            selected = set(names)
        elif prefix is not None:
            selected = {name for name in streams if name.startswith(prefix)}
        stream = next(iter(selected)) if selected is not None and len(selected) == 1 else None
        boundary = int(token) if token is not None else 0
        # AWS's endTime is inclusive here (GetLogEvents' is not)
        end_exclusive = None if end is None else end + 1
        page: list[dict[str, Any]] = []
        total = 0
        next_token: str | None = None
        if selected is None or selected:
            scan = _forward(self.store, group, stream, start, end_exclusive, boundary, _SCAN_CHUNK)
            for event in scan:
                if selected is not None and event["logStreamName"] not in selected:
                    continue
                if pattern is not None and not pattern.matches(event["message"]):
                    continue
                total += _size(event)
                if len(page) >= limit or (page and total > _MAX_BYTES):
                    next_token = f"{_key(event):056d}"  # resumes at this event
                    break
                page.append(event)
        out: dict[str, Any] = {"events": page, "searchedLogStreams": []}
        if next_token is not None:
            out["nextToken"] = next_token
        return out

    # -- DescribeLogStreams ---------------------------------------------------------------------
    def _describe_log_streams(self, request: _Request, environ: dict[str, Any]) -> Any:
        found = self._lambda_group(request)
        if found is None:
            return None
        group, _ = found
        prefix = request.string("logStreamNamePrefix")
        order_by = request.string("orderBy") or "LogStreamName"
        descending = bool(request.boolean("descending"))
        limit = request.limit(_MAX_DESCRIBE, _MAX_DESCRIBE)
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise _constraint(
                order_by,
                "orderBy",
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
            )
        if order_by == "LastEventTime" and prefix is not None:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        offset = _offset_token(request.string("nextToken"))
        streams = self.store.log_streams(group, order_by=order_by, descending=descending)
        if prefix is not None:
            streams = [s for s in streams if s["logStreamName"].startswith(prefix)]
        arn = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}:log-stream:"
        out: dict[str, Any] = {
            "logStreams": [
                {
                    "logStreamName": s["logStreamName"],
                    "creationTime": s["creationTime"],
                    "firstEventTimestamp": s["firstEventTimestamp"],
                    "lastEventTimestamp": s["lastEventTimestamp"],
                    "lastIngestionTime": s["lastIngestionTime"],
                    "uploadSequenceToken": _upload_sequence_token(
                        group, s["logStreamName"], s["lastIngestionTime"]
                    ),
                    "arn": arn + s["logStreamName"],
                    "storedBytes": 0,
                }
                for s in streams[offset : offset + limit]
            ]
        }
        if offset + limit < len(streams):
            out["nextToken"] = str(offset + limit)
        return out

    # -- DescribeLogGroups ----------------------------------------------------------------------
    def _describe_log_groups(self, request: _Request, environ: dict[str, Any]) -> Any:
        if request.params.get("logGroupIdentifiers") or request.params.get("accountIdentifiers"):
            return None
        prefix = request.string("logGroupNamePrefix")
        pattern = request.string("logGroupNamePattern")
        group_class = request.string("logGroupClass")
        limit = request.limit(_MAX_DESCRIBE, _MAX_DESCRIBE)
        if prefix is not None and pattern is not None:
            raise _invalid(
                "logGroupNamePrefix and logGroupNamePattern are mutually exclusive. Only one of "
                "these parameters can be passed."
            )
        offset = _offset_token(request.string("nextToken"))
        moto = self._moto_groups(environ)
        if moto is None:
            return None
        groups: dict[str, dict[str, Any]] = {}
        for entry in self.store.log_groups():
            name = entry["logGroupName"]
            if name.startswith(_LAMBDA_GROUPS):
                groups[name] = self._group_entry(name, entry["creationTime"])
        groups.update((g["logGroupName"], g) for g in moto)  # moto's carry retention, KMS key
        selected = [
            entry
            for name, entry in sorted(groups.items())
            if (prefix is None or name.startswith(prefix))
            and (pattern is None or pattern in name)
            and (group_class is None or entry.get("logGroupClass", "STANDARD") == group_class)
        ]
        out: dict[str, Any] = {"logGroups": selected[offset : offset + limit]}
        if offset + limit < len(selected):
            out["nextToken"] = str(offset + limit)
        return out

    def _group_entry(self, name: str, created: int) -> dict[str, Any]:
        arn = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"
        return {
            "logGroupName": name,
            "creationTime": created,
            "metricFilterCount": 0,
            "arn": f"{arn}:*",
            "storedBytes": 0,
            "logGroupClass": "STANDARD",
            "logGroupArn": arn,
        }

    @staticmethod
    def _moto_groups(environ: dict[str, Any]) -> list[dict[str, Any]] | None:
        """DescribeLogGroups entries of the groups the embedded moto holds for the caller's
        account and region (read in-process, as moto would answer); None if moto cannot be
        read, so that moto answers alone."""
        scope = credential_scope(environ.get("HTTP_AUTHORIZATION"))
        if scope is None:
            return None
        access_key, region = scope[0], scope[2]
        try:
            from moto.iam.models import get_account_id_from
            from moto.logs.models import logs_backends

            account = (
                os.environ.get("MOTO_ACCOUNT_ID")
                or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
                or get_account_id_from(access_key)
            )
            try:
                backend = logs_backends[account][region]
            except KeyError:
                return []
            return [group.to_describe_dict() for group in list(backend.groups.values())]
        except Exception:  # noqa: BLE001 - a moto upgrade must not break the edge
            _log.warning("could not read moto's log groups; moto answers alone", exc_info=True)
            return None
