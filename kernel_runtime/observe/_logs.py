"""Log events from an invocation's log, log levels, Embedded Metric Format and filter patterns.

Pure functions: the store's writer thread calls them, tests call them directly, nothing here
touches the invoke path.

An :class:`~kernel_runtime.invocation.Invocation` carries its environment's log exactly as
captured (``raw_log``): one CloudWatch log event per ``\\n``-terminated line; a multi-line
record (a traceback, an ``[ERROR]`` line) keeps its inner line breaks as ``\\r``, as AWS's
Python runtime writes them. :func:`log_events` turns that back into what CloudWatch Logs shows:
one event per record, inner breaks as ``\\n``, each message keeping its terminating ``\\n``
like Lambda's events do, except the records the runtime itself writes as JSON (platform
records and logging records in the JSON log format), which are the document alone.
"""

from __future__ import annotations

import calendar
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

__all__ = [
    "LOG_LEVELS",
    "FilterPattern",
    "InvalidFilterPattern",
    "LogEvent",
    "MetricPoint",
    "emf_metrics",
    "event_level",
    "log_events",
    "log_group_name",
    "timed_messages",
]

#: AWS's application log levels, lowest first (``LoggingConfig.ApplicationLogLevel``).
LOG_LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_RANK = {name: i for i, name in enumerate(LOG_LEVELS)}
# Python's level names, as logging's records carry them, mapped onto AWS's.
_RANK.update({"WARNING": _RANK["WARN"], "CRITICAL": _RANK["FATAL"]})
_TEXT_LEVEL = re.compile(r"\[(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\]")


class LogEvent(NamedTuple):
    """One CloudWatch Logs event: epoch milliseconds and the message."""

    timestamp: int
    message: str


class MetricPoint(NamedTuple):
    """One metric data point, as CloudWatch extracts it from an EMF document.

    ``timestamp`` is epoch seconds (the document's ``_aws.Timestamp`` is milliseconds), like
    every other time in the store except log events.
    """

    namespace: str
    name: str
    dimensions: dict[str, str]
    timestamp: float
    value: float
    unit: str
    storage_resolution: int


def log_group_name(function_name: str) -> str:
    """The log group Lambda writes a function's logs to."""
    return f"/aws/lambda/{function_name}"


# -- levels -----------------------------------------------------------------------------------
def _rank(level: str) -> int:
    rank = _RANK.get(level.upper())
    if rank is None:
        raise ValueError(f"Invalid log level {level!r}: expected one of {', '.join(LOG_LEVELS)}")
    return rank


def event_level(message: str) -> str:
    """The level of one log event, for level filtering.

    A JSON record's ``level`` (Python's ``WARNING``/``CRITICAL`` read as ``WARN``/``FATAL``);
    a record without a valid one is INFO, as Lambda treats it. Text-format records are read
    from their ``[LEVEL]`` prefix. Platform records are INFO, except those reporting a failure
    (INIT_REPORT, a REPORT with a Status, a timeout, a ``platform.*`` record whose status is not
    success), which are ERROR, so that filtering on ERROR still shows why a request failed.
    """
    if message.startswith("{"):
        try:
            doc = json.loads(message)
        except ValueError:
            return "INFO"
        if not isinstance(doc, dict):
            return "INFO"
        level = doc.get("level")
        if isinstance(level, str) and level.upper() in _RANK:
            return LOG_LEVELS[_RANK[level.upper()]]
        kind = doc.get("type")
        if isinstance(kind, str) and kind.startswith("platform."):
            record = doc.get("record")
            status = record.get("status") if isinstance(record, dict) else None
            failed = status not in (None, "success") or kind == "platform.initReport"
            return "ERROR" if failed else "INFO"
        return "INFO"
    match = _TEXT_LEVEL.match(message)
    if match:
        return LOG_LEVELS[_RANK[match.group(1)]]
    if (
        message.startswith("INIT_REPORT ")
        or (message.startswith("REPORT RequestId: ") and "\tStatus: " in message)
        or " Task timed out after " in message
    ):
        return "ERROR"
    return "INFO"


# -- splitting an invocation's log into events ------------------------------------------------
def _iso_ms(text: str) -> int | None:
    """Epoch ms of ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the runtime's stamps), or None."""
    if len(text) < 24 or text[4] != "-" or text[10] != "T" or text[19] != "." or text[23] != "Z":
        return None
    try:
        fields = (
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
        )
        return calendar.timegm((*fields, 0, 0, 0)) * 1000 + int(text[20:23])
    except ValueError:
        return None


# Roles of a line in the timeline: anchored at init start, at the request's start, at its end.
_INIT, _START, _FINISH = "init", "start", "finish"
_JSON_PLATFORM = {
    "platform.initStart": _INIT,
    "platform.start": _START,
    "platform.runtimeDone": _FINISH,
    "platform.report": _FINISH,
}


def _classify(message: str) -> tuple[str | None, int | None]:
    """(timeline role, the record's own time in ms) of one event's message. Cheap for the
    usual line: one look at its first character."""
    first = message[:1]
    if first == "S":
        return (_START, None) if message.startswith("START RequestId: ") else (None, None)
    if first == "E":
        return (_FINISH, None) if message.startswith("END RequestId: ") else (None, None)
    if first == "R":
        return (_FINISH, None) if message.startswith("REPORT RequestId: ") else (None, None)
    if first == "I":
        return (_INIT, None) if message.startswith("INIT_START ") else (None, None)
    if first == "{":
        if not message.startswith('{"time'):  # platform records and the runtime's JSON logs
            return None, None
        try:
            doc = json.loads(message)
        except ValueError:
            return None, None
        if not isinstance(doc, dict):
            return None, None
        role = _JSON_PLATFORM.get(doc.get("type"))  # type: ignore[arg-type]
        stamp = doc.get("time") if role is not None else doc.get("timestamp")
        return role, _iso_ms(stamp) if isinstance(stamp, str) else None
    if first == "[":  # [LEVEL]\t<time>\t<request id>\t<message>
        tab = message.find("\t", 0, 12)
        return None, _iso_ms(message[tab + 1 : tab + 25]) if tab > 0 else None
    if first.isdigit():  # <time> <request id> Task timed out after ...
        return None, _iso_ms(message[:24])
    return None, None


def _split(raw_log: str) -> list[str]:
    """One message per ``\\n``-terminated line (a last unterminated fragment too), inner
    ``\\r`` breaks back to ``\\n``. The runtime's own JSON records (``{"time": ...`` platform
    records, ``{"timestamp": ...`` logging records) are the document alone; anything printed,
    JSON or not (an EMF document too), keeps its newline, as a captured stdout line does."""
    lines = raw_log.split("\n")
    tail = lines.pop()  # "" when the log ends with a newline
    messages = [
        body if body[-1:] == "}" and body.startswith('{"time') else body.replace("\r", "\n") + "\n"
        for body in lines
    ]
    if tail:
        messages.append(tail if tail.startswith('{"time') else tail.replace("\r", "\n"))
    return messages


def log_events(invocation: Any, *, min_level: str | None = None) -> list[LogEvent]:
    """The CloudWatch log events of one invocation, in order, with monotonic timestamps.

    INIT_START is stamped at the start of init (``started_at - init_duration_ms``), START at
    ``started_at``, END and REPORT (or their JSON ``platform.*`` records) at ``finished_at``.
    A record that carries its own time (a JSON record's ``timestamp``, a text-format logging
    record, the timeout line) keeps it; the worker does not stamp ``print`` output yet, so the
    other lines are spread evenly between their neighbours. Times are then made non-decreasing
    and kept within the invocation's span, as CloudWatch would order them in a stream.

    ``min_level`` keeps events at that level or above (see :func:`event_level`).
    """
    events = [LogEvent(t, m) for t, m in timed_messages(invocation)]
    if min_level is not None:
        threshold = _rank(min_level)
        events = [e for e in events if _RANK[event_level(e.message)] >= threshold]
    return events


def timed_messages(invocation: Any) -> list[tuple[int, str]]:
    """:func:`log_events` as plain ``(timestamp, message)`` tuples, for the store's writer."""
    messages = _split(invocation.raw_log)
    if not messages:
        return []
    started = round(invocation.started_at * 1000)
    finished = max(round(invocation.finished_at * 1000), started)
    init_ms = invocation.init_duration_ms
    init_start = started - round(init_ms) if init_ms else started
    anchors = {_INIT: init_start, _START: started, _FINISH: finished, None: None}
    times: list[int | None] = []
    gaps = False
    for message in messages:
        role, own = _classify(message)
        t = anchors[role] if role is not None else own
        gaps = gaps or t is None
        times.append(t)
    if gaps:
        # unstamped lines before the first known time follow init's start; after the last,
        # they lead up to END
        _interpolate(times, init_start, finished)
    out: list[tuple[int, str]] = []
    last = init_start
    for message, t in zip(messages, times, strict=True):
        if t is None or t < last:
            t = last
        elif t > finished:
            t = finished
        last = t
        out.append((t, message))
    return out


def _interpolate(times: list[int | None], lo: int, hi: int) -> None:
    """Fill the ``None`` runs of ``times`` evenly between their known neighbours."""
    n = len(times)
    i = 0
    while i < n:
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < n and times[j] is None:
            j += 1
        left = times[i - 1] if i > 0 else lo
        right = times[j] if j < n else hi
        assert left is not None and right is not None
        right = max(right, left)
        gap = j - i + 1
        for k in range(i, j):
            times[k] = left + (right - left) * (k - i + 1) // gap
        i = j


# -- Embedded Metric Format -------------------------------------------------------------------
#: CloudWatch's units (StandardUnit), in the API's order (PutMetricAlarm's messages list them)
_UNITS: tuple[str, ...] = (
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
)  # fmt: skip
_UNIT_SET = frozenset(_UNITS)
_MAX_DIMENSIONS = 30
_MAX_METRICS = 100
_MAX_VALUES = 100


class _InvalidEmf(Exception):
    """An EMF document CloudWatch would reject: no metrics are extracted from it."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 1024:
        raise _InvalidEmf
    return value


def emf_metrics(message: str) -> list[MetricPoint]:
    """The metric data points of one log event in CloudWatch Embedded Metric Format.

    Follows the EMF specification as aws-lambda-powertools' ``Metrics`` emits it:
    ``_aws.Timestamp`` (ms), ``_aws.CloudWatchMetrics[]`` directives each with a ``Namespace``,
    ``Dimensions`` (dimension sets naming root members whose values are strings) and
    ``Metrics[]{Name, Unit, StorageResolution}``; each metric's value is the root member of its
    name, a number or an array of up to 100 numbers (one point each); every dimension set
    yields its own points. A message that is not EMF, or an invalid document (bad unit,
    resolution, names, a dimension without a string value ...), yields no points, as CloudWatch
    extracts none; a metric whose value is missing or not numeric is skipped alone.
    """
    if '"_aws"' not in message:
        return []
    try:
        doc = json.loads(message)
    except ValueError:
        return []
    try:
        return _emf(doc)
    except _InvalidEmf:
        return []


def _emf(doc: Any) -> list[MetricPoint]:
    if not isinstance(doc, dict):
        raise _InvalidEmf
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        raise _InvalidEmf
    stamp = meta.get("Timestamp")
    directives = meta.get("CloudWatchMetrics")
    if not _number(stamp) or not isinstance(directives, list):
        raise _InvalidEmf
    timestamp = stamp / 1000.0
    points: list[MetricPoint] = []
    for directive in directives:
        if not isinstance(directive, dict):
            raise _InvalidEmf
        namespace = _name(directive.get("Namespace"))
        dimension_sets = _dimension_sets(doc, directive.get("Dimensions", [[]]))
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or len(metrics) > _MAX_METRICS:
            raise _InvalidEmf
        for metric in metrics:
            if not isinstance(metric, dict):
                raise _InvalidEmf
            name = _name(metric.get("Name"))
            unit = metric.get("Unit", "None")
            resolution = metric.get("StorageResolution", 60)
            if unit not in _UNIT_SET or resolution not in (1, 60) or isinstance(resolution, bool):
                raise _InvalidEmf
            raw = doc.get(name)
            values = raw if isinstance(raw, list) else [raw]
            if not values or len(values) > _MAX_VALUES or not all(_number(v) for v in values):
                continue
            for dimensions in dimension_sets:
                for value in values:
                    points.append(
                        MetricPoint(
                            namespace,
                            name,
                            dict(dimensions),
                            timestamp,
                            float(value),
                            unit,
                            int(resolution),
                        )
                    )
    return points


def _dimension_sets(doc: Mapping[str, Any], sets: Any) -> list[dict[str, str]]:
    if not isinstance(sets, list):
        raise _InvalidEmf
    if not sets:
        return [{}]
    out = []
    for names in sets:
        if not isinstance(names, list) or len(names) > _MAX_DIMENSIONS:
            raise _InvalidEmf
        dims: dict[str, str] = {}
        for name in names:
            value = doc.get(_name(name))
            if not isinstance(value, str):
                raise _InvalidEmf
            dims[name] = value
        out.append(dims)
    return out


# -- filter patterns --------------------------------------------------------------------------
class InvalidFilterPattern(ValueError):
    """A filter pattern CloudWatch Logs would refuse (``InvalidParameterException``)."""

    code = "InvalidParameterException"

    def __init__(self, message: str = "Invalid filter pattern") -> None:
        super().__init__(message)


_Matcher = Callable[[str], bool]


class FilterPattern:
    """A CloudWatch Logs filter pattern (metric filters, subscription filters, FilterLogEvents).

    Supported: the empty pattern (everything); terms, all of which must appear (case-sensitive
    substrings), double-quoted phrases, ``?term`` (at least one of the ``?`` terms must appear),
    ``-term`` (must not appear); ``%regex%``; JSON patterns ``{ $.a.b[0] = "x*" }`` with
    ``= != < > <= >=``, ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``, ``&&``, ``||``
    and parentheses; space-delimited patterns ``[ip, user, ..., status=5*, bytes>1000]``
    (fields split on spaces, ``"..."`` and ``[...]`` are one field each, ``...`` any number of
    fields, conditions joined with ``&&``/``||``). A pattern CloudWatch refuses raises
    :class:`InvalidFilterPattern` with its message, ``Invalid filter pattern``.
    """

    __slots__ = ("_match", "text")

    def __init__(self, text: str, match: _Matcher) -> None:
        self.text = text
        self._match = match

    @classmethod
    def parse(cls, text: str) -> FilterPattern:
        if not isinstance(text, str):
            raise InvalidFilterPattern
        stripped = text.strip()
        if stripped in ("", '""'):
            return cls(text, lambda message: True)
        if stripped.startswith("{"):
            return cls(text, _JsonPatternParser(stripped).parse())
        if stripped.startswith("["):
            return cls(text, _parse_delimited(stripped))
        if len(stripped) > 2 and stripped[0] == stripped[-1] == "%" and "%" not in stripped[1:-1]:
            return cls(text, _search(_regex(stripped[1:-1])))  # one regex, spaces and all
        return cls(text, _parse_terms(stripped))

    def matches(self, message: str) -> bool:
        return self._match(message)

    def __repr__(self) -> str:
        return f"FilterPattern({self.text!r})"


def _regex(body: str) -> re.Pattern[str]:
    # CloudWatch's regex subset has no groups: parentheses are refused
    if not body or "(" in body or ")" in body:
        raise InvalidFilterPattern
    try:
        return re.compile(body)
    except re.error:
        raise InvalidFilterPattern from None


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The string of the double-quoted literal starting at ``text[i]``, and the index after it."""
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise InvalidFilterPattern


def _parse_terms(text: str) -> _Matcher:
    required: list[_Matcher] = []
    optional: list[_Matcher] = []
    excluded: list[_Matcher] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        target = required
        if text[i] in "?-" and i + 1 < n and not text[i + 1].isspace():
            target = optional if text[i] == "?" else excluded
            i += 1
        if text[i] == '"':
            term, i = _quoted(text, i)
            if term:
                target.append(_contains(term))
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        word = text[i:j]
        i = j
        if len(word) > 1 and word.startswith("%") and word.endswith("%"):
            target.append(_search(_regex(word[1:-1])))
        elif '"' in word or word in ("&&", "||") or word[0] in "{}[]":
            raise InvalidFilterPattern
        else:
            target.append(_contains(word))

    def match(message: str) -> bool:
        return (
            all(m(message) for m in required)
            and (not optional or any(m(message) for m in optional))
            and not any(m(message) for m in excluded)
        )

    return match


def _contains(term: str) -> _Matcher:
    return lambda message: term in message


def _search(pattern: re.Pattern[str]) -> _Matcher:
    return lambda message: pattern.search(message) is not None


# Values of comparisons, shared by JSON and space-delimited patterns
class _Value(NamedTuple):
    text: str | None  # a string literal (may hold * wildcards); None for a regex
    number: float | None  # the literal read as a number, when it is one
    regex: re.Pattern[str] | None
    quoted: bool


def _literal(raw: str, quoted: bool) -> _Value:
    if not quoted and len(raw) > 1 and raw.startswith("%") and raw.endswith("%"):
        return _Value(None, None, _regex(raw[1:-1]), False)
    number = None
    if not quoted:
        try:
            number = float(raw)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            number = None
    return _Value(raw, number, None, quoted)


def _wildcard(pattern: str, value: str) -> bool:
    if "*" not in pattern:
        return pattern == value
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


_ORDER_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _compare_json(field: Any, op: str, value: _Value) -> bool:
    """A JSON field against a literal: strings by (wildcard) equality, numbers numerically."""
    if op in _ORDER_OPS:
        if not _number(field):
            return False
        assert value.number is not None
        return _ORDER_OPS[op](float(field), value.number)
    if value.regex is not None:
        equal = isinstance(field, str) and value.regex.search(field) is not None
    elif _number(field) and value.number is not None:
        equal = float(field) == value.number
    elif isinstance(field, str) and value.text is not None:
        equal = _wildcard(value.text, field)
    else:
        equal = False
    return equal if op == "=" else not equal


def _compare_token(token: str, op: str, value: _Value) -> bool:
    """A space-delimited field (always text) against a literal; numbers compare numerically."""
    if op in _ORDER_OPS:
        try:
            number = float(token)
        except ValueError:
            return False
        assert value.number is not None
        return _ORDER_OPS[op](number, value.number)
    if value.regex is not None:
        equal = value.regex.search(token) is not None
    elif value.number is not None:
        try:
            equal = float(token) == value.number
        except ValueError:
            equal = token == value.text
    else:
        assert value.text is not None
        equal = _wildcard(value.text, token)
    return equal if op == "=" else not equal


_MISSING = object()
_SELECTOR = re.compile(r"\$((?:\.[A-Za-z_@][\w@\-]*|\[\d+\])*)")
_STEP = re.compile(r"\.([A-Za-z_@][\w@\-]*)|\[(\d+)\]")
_OPS = ("!=", "<=", ">=", "=", "<", ">")


def _resolve(doc: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
            doc = doc[step]
        else:
            if not isinstance(doc, dict) or step not in doc:
                return _MISSING
            doc = doc[step]
    return doc


class _JsonPatternParser:
    """Recursive descent over ``{ cond && (cond || cond) }``; yields a matcher of messages."""

    def __init__(self, text: str) -> None:
        if not text.endswith("}"):
            raise InvalidFilterPattern
        self.text = text[1:-1]
        self.i = 0

    def parse(self) -> _Matcher:
        predicate = self._or()
        self._space()
        if self.i != len(self.text):
            raise InvalidFilterPattern

        def match(message: str) -> bool:
            if not message.lstrip().startswith("{"):
                return False
            try:
                doc = json.loads(message)
            except ValueError:
                return False
            return isinstance(doc, dict) and predicate(doc)

        return match

    def _space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def _take(self, token: str) -> bool:
        self._space()
        if self.text.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def _or(self) -> Callable[[Any], bool]:
        return self._joined("||", self._and, any)

    def _and(self) -> Callable[[Any], bool]:
        return self._joined("&&", self._unary, all)

    def _joined(
        self,
        operator: str,
        term: Callable[[], Callable[[Any], bool]],
        combine: Callable[[Iterator[bool]], bool],
    ) -> Callable[[Any], bool]:
        """Terms separated by ``operator``, their results combined (``any``/``all``)."""
        terms = [term()]
        while self._take(operator):
            terms.append(term())
        if len(terms) == 1:
            return terms[0]
        return lambda doc: combine(t(doc) for t in terms)

    def _unary(self) -> Callable[[Any], bool]:
        if self._take("("):
            inner = self._or()
            if not self._take(")"):
                raise InvalidFilterPattern
            return inner
        return self._comparison()

    def _comparison(self) -> Callable[[Any], bool]:
        self._space()
        selector = _SELECTOR.match(self.text, self.i)
        if selector is None or not selector.group(1):
            raise InvalidFilterPattern
        self.i = selector.end()
        steps = tuple(
            m.group(1) if m.group(1) is not None else int(m.group(2))
            for m in _STEP.finditer(selector.group(1))
        )
        self._space()
        rest = self.text[self.i :]
        for keyword, test in (
            ("IS NULL", lambda v: v is None),
            ("IS TRUE", lambda v: v is True),
            ("IS FALSE", lambda v: v is False),
            ("NOT EXISTS", None),
        ):
            if rest.startswith(keyword):
                self.i += len(keyword)
                if test is None:
                    return lambda doc: _resolve(doc, steps) is _MISSING
                return lambda doc, test=test: test(_resolve(doc, steps))
        op = next((o for o in _OPS if rest.startswith(o)), None)
        if op is None:
            raise InvalidFilterPattern
        self.i += len(op)
        value = self._value()
        if op in _ORDER_OPS and value.number is None:
            raise InvalidFilterPattern

        def compare(doc: Any) -> bool:
            field = _resolve(doc, steps)
            return field is not _MISSING and _compare_json(field, op, value)

        return compare

    def _value(self) -> _Value:
        self._space()
        if self.i < len(self.text) and self.text[self.i] == '"':
            text, self.i = _quoted(self.text, self.i)
            return _literal(text, True)
        start = self.i
        while (
            self.i < len(self.text)
            and not self.text[self.i].isspace()
            and self.text[self.i] not in "()&|"
        ):
            self.i += 1
        raw = self.text[start : self.i]
        if not raw:
            raise InvalidFilterPattern
        return _literal(raw, False)


# -- space-delimited patterns -----------------------------------------------------------------
_ELLIPSIS = "..."
_FIELD_NAME = re.compile(r"[A-Za-z_][\w\-]*")


class _Field(NamedTuple):
    name: str | None  # None for an ellipsis or a bare literal
    literal: _Value | None  # a bare literal in the slot (e.g. [ERROR, ...])


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes."""
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quoted and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if not quoted and text.startswith(sep, i):
            parts.append("".join(current))
            current = []
            i += len(sep)
            continue
        current.append(c)
        i += 1
    if quoted:
        raise InvalidFilterPattern
    parts.append("".join(current))
    return parts


def _condition(text: str) -> tuple[str, str, _Value]:
    text = text.strip()
    name = _FIELD_NAME.match(text)
    if name is None:
        raise InvalidFilterPattern
    rest = text[name.end() :].lstrip()
    op = next((o for o in _OPS if rest.startswith(o)), None)
    if op is None:
        raise InvalidFilterPattern
    raw = rest[len(op) :].strip()
    if not raw:
        raise InvalidFilterPattern
    if raw.startswith('"'):
        literal, end = _quoted(raw, 0)
        if raw[end:].strip():
            raise InvalidFilterPattern
        value = _literal(literal, True)
    else:
        value = _literal(raw, False)
    if op in _ORDER_OPS and value.number is None:
        raise InvalidFilterPattern
    return name.group(0), op, value


def _parse_delimited(text: str) -> _Matcher:
    if not text.endswith("]"):
        raise InvalidFilterPattern
    fields: list[_Field] = []
    clauses: list[list[list[tuple[str, str, _Value]]]] = []  # and of (or of (and of conds))
    for part in _split_top(text[1:-1], ","):
        part = part.strip()
        if not part:
            raise InvalidFilterPattern
        if part == _ELLIPSIS:
            fields.append(_Field(None, None))
            continue
        if part.startswith('"'):
            literal, end = _quoted(part, 0)
            if part[end:].strip():
                raise InvalidFilterPattern
            fields.append(_Field(None, _literal(literal, True)))
            continue
        name = _FIELD_NAME.fullmatch(part)
        if name is not None:
            fields.append(_Field(part, None))
            continue
        alternatives = [
            [_condition(c) for c in _split_top(alt, "&&")] for alt in _split_top(part, "||")
        ]
        fields.append(_Field(alternatives[0][0][0], None))
        clauses.append(alternatives)

    def satisfied(bound: dict[str, str]) -> bool:
        for alternatives in clauses:
            if not any(
                all(name in bound and _compare_token(bound[name], op, v) for name, op, v in alt)
                for alt in alternatives
            ):
                return False
        return True

    def match(message: str) -> bool:
        tokens = _tokens(message)
        return any(satisfied(b) for b in _bind(fields, tokens, 0, 0, {}))

    return match


def _tokens(message: str) -> list[str]:
    """Fields of a message: split on whitespace; ``"..."`` and ``[...]`` are single fields."""
    out, i, n = [], 0, len(message)
    while i < n:
        c = message[i]
        if c.isspace():
            i += 1
            continue
        close = {'"': '"', "[": "]"}.get(c)
        if close is not None:
            end = message.find(close, i + 1)
            if end >= 0:
                out.append(message[i + 1 : end])
                i = end + 1
                continue
        j = i
        while j < n and not message[j].isspace():
            j += 1
        out.append(message[i:j])
        i = j
    return out


def _bind(
    fields: list[_Field], tokens: list[str], fi: int, ti: int, bound: dict[str, str]
) -> Iterator[dict[str, str]]:
    """Every assignment of tokens to fields (an ellipsis takes any number of tokens)."""
    if fi == len(fields):
        if ti == len(tokens):
            yield bound
        return
    field = fields[fi]
    if field.name is None and field.literal is None:  # ellipsis
        for k in range(ti, len(tokens) + 1):
            yield from _bind(fields, tokens, fi + 1, k, bound)
        return
    if ti >= len(tokens):
        return
    token = tokens[ti]
    if field.literal is not None:
        if _compare_token(token, "=", field.literal):
            yield from _bind(fields, tokens, fi + 1, ti + 1, bound)
        return
    assert field.name is not None
    yield from _bind(fields, tokens, fi + 1, ti + 1, {**bound, field.name: token})
