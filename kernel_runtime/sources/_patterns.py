"""EventBridge event patterns, and Lambda's filter criteria built on them.

One matcher serves EventBridge rules (``PutRule``'s ``EventPattern``) and Lambda event filtering
(an event source mapping's ``FilterCriteria``), because Lambda documents its filter rules as
"the same syntax and rules as Amazon EventBridge".

Why not moto's ``moto.events.models.EventPattern`` (moto 5.2.5): it was checked and is not
faithful enough to wrap.

- Validation only checks that leaves are non-empty arrays: unknown operators
  (``{"bogus": 1}``), a malformed range (``{"numeric": [">"]}``, which then matches every
  number) and a bad CIDR are all accepted, and a pattern that is not an object (``[1]``) raises
  ``AttributeError``.
- It flattens the event only through objects, so a pattern never reaches the fields of objects
  inside arrays (``{"a": {"b": ["x"]}}`` misses ``{"a": [{"b": "x"}]}``), which EventBridge
  matches element by element.
- Python's ``True == 1`` leaks through: ``[1]`` matches ``true``, and ``numeric`` matches
  booleans.
- No ±5.0e9 range or six-decimal precision for numbers, no IP normalisation of exact values,
  and no AWS wording for any error.

So this module compiles a pattern once, with the validation and messages of AWS's own matcher
(the ``aws/event-ruler`` library EventBridge runs), and matches recursively so that fields under
one array element are matched together ("array-consistent" matching).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ..errors import InvalidParameterValueException

__all__ = ["EventPattern", "FilterCriteria", "InvalidEventPattern"]


class InvalidEventPattern(ValueError):
    """A pattern EventBridge refuses (``InvalidEventPatternException`` on PutRule)."""

    code = "InvalidEventPatternException"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason


# -- values ------------------------------------------------------------------------------------
class _Missing:
    """The value of a field the event does not have (distinct from JSON ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Final = _Missing()
_NUMBER_LIMIT: Final = 5.0e9
_OR: Final = "$or"
_OPERATORS: Final = frozenset(
    {
        "anything-but",
        "cidr",
        "equals-ignore-case",
        "exists",
        "numeric",
        "prefix",
        "suffix",
        "wildcard",
    }
)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparable(value: float) -> int | None:
    """event-ruler's comparable form: numbers in ±5.0e9, compared to six decimal places."""
    if not -_NUMBER_LIMIT <= value <= _NUMBER_LIMIT:
        return None
    return int(1e6 * (_NUMBER_LIMIT + value))


def _pattern_number(value: float) -> int:
    """The comparable form of a number written in a pattern, which must lie in ±5.0e9."""
    key = _comparable(float(value))
    if key is None:
        raise InvalidEventPattern("Value must be between -5.0E9 and 5.0E9, inclusive")
    return key


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in text or ("." not in text and ":" not in text):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# -- matchers on one leaf value ----------------------------------------------------------------
# A matcher is a predicate over one scalar event value (str, number, bool or None).
_Matcher = Callable[[Any], bool]


def _exact(expected: Any) -> _Matcher:
    if isinstance(expected, bool) or expected is None:
        return lambda value: value is expected
    if _is_number(expected):
        key = _comparable(float(expected))

        def number(value: Any) -> bool:
            if not _is_number(value):
                return False
            if value == expected:
                return True
            return key is not None and key == _comparable(float(value))

        return number
    address = _ip(expected)
    if address is not None:
        # event-ruler turns an IP literal into a one-address range: "::1" also matches "0::1".
        return lambda value: isinstance(value, str) and (value == expected or _ip(value) == address)
    return lambda value: isinstance(value, str) and value == expected


def _prefix(text: str, ignore_case: bool) -> _Matcher:
    if ignore_case:
        lowered = text.lower()
        return lambda value: isinstance(value, str) and value.lower().startswith(lowered)
    return lambda value: isinstance(value, str) and value.startswith(text)


def _suffix(text: str, ignore_case: bool) -> _Matcher:
    if ignore_case:
        lowered = text.lower()
        return lambda value: isinstance(value, str) and value.lower().endswith(lowered)
    return lambda value: isinstance(value, str) and value.endswith(text)


def _equals_ignore_case(text: str) -> _Matcher:
    lowered = text.lower()
    return lambda value: isinstance(value, str) and value.lower() == lowered


def _wildcard(text: str) -> _Matcher:
    parts: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                # Positions count the opening quote event-ruler wraps around the value.
                raise InvalidEventPattern(f"Invalid escape character at pos {index + 1}")
            parts.append(re.escape(following))
            index += 2
            continue
        if char == "*":
            if text[index + 1 : index + 2] == "*":
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {index + 1}")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        index += 1
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda value: isinstance(value, str) and regex.fullmatch(value) is not None


def _numeric_range(low: int | None, low_open: bool, high: int | None, high_open: bool) -> _Matcher:
    def in_range(value: Any) -> bool:
        if not _is_number(value):
            return False
        key = _comparable(float(value))
        if key is None:
            return False
        if low is not None and (key < low or (low_open and key == low)):
            return False
        return not (high is not None and (key > high or (high_open and key == high)))

    return in_range


def _cidr(text: str) -> _Matcher:
    """event-ruler's CIDR: IPv4 or IPv6, masks up to /31 and /127 (it rejects /32 and /128)."""
    pieces = text.split("/")
    if len(pieces) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    try:
        bits = int(pieces[1])
    except ValueError:
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    address = _ip(pieces[0])
    if address is None:
        raise InvalidEventPattern(f"Nonstandard IP address: {pieces[0]}")
    width = address.max_prefixlen
    if bits > width - 1:
        family = "IPv4" if width == 32 else "IPv6"
        raise InvalidEventPattern(f"{family} mask bits must be < {width}")
    host = (1 << (width - bits)) - 1
    bottom = int(address) & ~host
    top = int(address) | host

    def inside(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        candidate = _ip(value)
        return (
            candidate is not None
            and candidate.max_prefixlen == width
            and bottom <= int(candidate) <= top
        )

    return inside


def _anything_but(excluded: _Matcher) -> _Matcher:
    return lambda value: not excluded(value)


# -- the compiled pattern ----------------------------------------------------------------------
class _Leaf:
    """A field's array of alternatives; ``exists`` is kept apart, as it tests presence."""

    __slots__ = ("exists", "matchers")

    def __init__(self, matchers: list[_Matcher], exists: list[bool]) -> None:
        self.matchers = tuple(matchers)
        self.exists = tuple(exists)

    def matches(self, value: Any) -> bool:
        leaves = list(_leaf_values(value))
        if any(flag == bool(leaves) for flag in self.exists):
            return True
        return any(matcher(leaf) for leaf in leaves for matcher in self.matchers)


class _Object:
    """Fields that must all match, and at most one ``$or`` of which one branch must match."""

    __slots__ = ("alternatives", "fields")

    def __init__(
        self, fields: list[tuple[str, _Object | _Leaf]], alternatives: list[_Object] | None
    ) -> None:
        self.fields = tuple(fields)
        self.alternatives = tuple(alternatives) if alternatives is not None else None


_Guard = Callable[[str, "_Object | _Leaf"], bool]


def _leaf_values(value: Any) -> Iterator[Any]:
    """The scalar values a field holds: arrays are crushed, objects are not leaves."""
    if value is _MISSING or isinstance(value, Mapping):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaf_values(item)
        return
    yield value


def _objects_in(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _objects_in(item)


_EMPTY: Final[Mapping[str, Any]] = {}


def _match_node(node: _Object | _Leaf, value: Any) -> bool:
    if isinstance(node, _Leaf):
        return node.matches(value)
    objects = list(_objects_in(value))
    if not objects:
        # Nothing below this point: only absence tests (exists: false) can still match.
        return _match_fields(node, _EMPTY, None)
    return any(_match_fields(node, item, None) for item in objects)


def _match_fields(node: _Object, event: Mapping[str, Any], guard: _Guard | None) -> bool:
    for name, child in node.fields:
        if guard is not None and not guard(name, child):
            return False
        if not _match_node(child, event.get(name, _MISSING)):
            return False
    if node.alternatives is None:
        return True
    return any(_match_fields(branch, event, guard) for branch in node.alternatives)


# -- compiling (validation follows event-ruler's JsonRuleCompiler, in document order) ----------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def _compile(text: str) -> _Object:
    if not isinstance(text, str):
        raise InvalidEventPattern("Filter is not an object")
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidEventPattern(
            f"{exc.msg}: line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from None
    except ValueError as exc:
        raise InvalidEventPattern(str(exc)) from None
    if not isinstance(document, dict):
        raise InvalidEventPattern("Filter is not an object")
    return _compile_object(document, inside_or=False)


def _compile_object(document: dict[str, Any], inside_or: bool) -> _Object:
    if not document:
        raise InvalidEventPattern("Empty objects are not allowed")
    fields: list[tuple[str, _Object | _Leaf]] = []
    alternatives: list[_Object] | None = None
    for name, value in document.items():
        if name == _OR:
            alternatives = _compile_or(value)
            continue
        if inside_or and name in _OPERATORS:
            raise InvalidEventPattern(
                f"{name} is Ruler reserved fieldName which cannot be used inside {_OR}."
            )
        if isinstance(value, dict):
            fields.append((name, _compile_object(value, inside_or)))
        elif isinstance(value, list):
            fields.append((name, _compile_leaf(value)))
        else:
            raise InvalidEventPattern(f'"{name}" must be an object or an array')
    return _Object(fields, alternatives)


def _compile_or(value: Any) -> list[_Object]:
    if not isinstance(value, list):
        raise InvalidEventPattern(f"It must be an Array followed with {_OR}.")
    branches: list[_Object] = []
    for branch in value:
        if not isinstance(branch, dict):
            raise InvalidEventPattern(
                f"Only JSON object is allowed in array of {_OR} relationship."
            )
        branches.append(_compile_object(branch, inside_or=True))
    if len(branches) < 2:
        raise InvalidEventPattern(f"There must have at least 2 Objects in {_OR} relationship.")
    return branches


def _compile_leaf(values: list[Any]) -> _Leaf:
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")
    matchers: list[_Matcher] = []
    exists: list[bool] = []
    for value in values:
        if isinstance(value, dict):
            operator = _compile_operator(value)
            if isinstance(operator, bool):
                exists.append(operator)
            else:
                matchers.append(operator)
        elif isinstance(value, list):
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
        else:
            matchers.append(_exact(value))
    return _Leaf(matchers, exists)


def _only_key(expression: dict[str, Any], missing: str) -> tuple[str, Any]:
    if not expression:
        raise InvalidEventPattern(missing)
    name, operand = next(iter(expression.items()))
    return name, operand


def _one_key(
    expression: dict[str, Any], message: str = "Only one key allowed in match expression"
) -> None:
    if len(expression) > 1:
        raise InvalidEventPattern(message)


def _compile_operator(expression: dict[str, Any]) -> _Matcher | bool:
    """One ``{"operator": operand}`` object; ``exists`` compiles to its boolean."""
    name, operand = _only_key(expression, "Match expression name not found")
    if name in ("prefix", "suffix"):
        if isinstance(operand, dict):
            _one_key(expression)
            return _compile_ignore_case(name, operand)
        if not isinstance(operand, str):
            raise InvalidEventPattern(f"{name} match pattern must be a string")
        _one_key(expression)
        return _prefix(operand, False) if name == "prefix" else _suffix(operand, False)
    if name == "equals-ignore-case":
        if not isinstance(operand, str):
            raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
        _one_key(expression)
        return _equals_ignore_case(operand)
    if name == "wildcard":
        if not isinstance(operand, str):
            raise InvalidEventPattern("wildcard match pattern must be a string")
        matcher = _wildcard(operand)
        _one_key(expression)
        return matcher
    if name == "numeric":
        if not isinstance(operand, list):
            raise InvalidEventPattern("Value of numeric must be an array.")
        matcher = _compile_numeric(operand)
        _one_key(expression, "Too many elements in numeric expression")
        return matcher
    if name == "anything-but":
        matcher = _compile_anything_but(operand)
        _one_key(expression, "Too many elements in numeric expression")
        return matcher
    if name == "exists":
        if not isinstance(operand, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.")
        _one_key(expression)
        return operand
    if name == "cidr":
        if not isinstance(operand, str):
            # Sic: event-ruler reuses the prefix wording for a non-string CIDR.
            raise InvalidEventPattern("prefix match pattern must be a string")
        matcher = _cidr(operand)
        _one_key(expression)
        return matcher
    raise InvalidEventPattern(f"Unrecognized match type {name}")


def _compile_ignore_case(name: str, operand: dict[str, Any]) -> _Matcher:
    inner, text = _only_key(operand, f"{name.capitalize()} expression name not found")
    if inner != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {name} pattern: {inner}")
    if not isinstance(text, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    _one_key(operand)
    return _prefix(text, True) if name == "prefix" else _suffix(text, True)


_NUMERIC_NAMES: Final = {"=": "equals", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _numeric_operand(operator: str, operand: list[Any], index: int) -> int:
    value = operand[index] if index < len(operand) else None
    if not _is_number(value):
        raise InvalidEventPattern(f"Value of {_NUMERIC_NAMES[operator]} must be numeric")
    return _pattern_number(value)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _compile_numeric(operand: list[Any]) -> _Matcher:
    if not operand or not isinstance(operand[0], str):
        token = _json_text(operand[0]) if operand else "]"
        raise InvalidEventPattern(f"Invalid member in numeric match: {token}")
    operator = operand[0]
    if operator not in _NUMERIC_NAMES:
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")
    first = _numeric_operand(operator, operand, 1)
    if operator in ("=", "<", "<="):
        if len(operand) > 2:
            raise InvalidEventPattern("Too many elements in numeric expression")
        if operator == "=":
            return _numeric_range(first, False, first, False)
        return _numeric_range(None, False, first, operator == "<")
    if len(operand) == 2:
        return _numeric_range(first, operator == ">", None, False)
    closer = operand[2]
    if not isinstance(closer, str):
        raise InvalidEventPattern(f"Bad value in numeric range: {_json_text(closer)}")
    if closer not in ("<", "<="):
        raise InvalidEventPattern(f"Bad numeric range operator: {closer}")
    second = _numeric_operand(closer, operand, 3)
    if len(operand) > 4:
        raise InvalidEventPattern("Too many terms in numeric range expression")
    if first >= second:
        raise InvalidEventPattern("Bottom must be less than top")
    return _numeric_range(first, operator == ">", second, closer == "<")


_ANYTHING_BUT_NESTED: Final = ("equals-ignore-case", "prefix", "suffix", "wildcard")


def _compile_anything_but(operand: Any) -> _Matcher:
    if isinstance(operand, dict):
        inner, value = _only_key(operand, "Anything-But expression name not found")
        if inner not in _ANYTHING_BUT_NESTED:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {inner}")
        matcher = _compile_anything_but_nested(inner, value)
        _one_key(operand, "Too many elements in numeric expression")
        return matcher
    if isinstance(operand, list):
        return _anything_but(_compile_anything_but_list(operand))
    if isinstance(operand, str):
        return _anything_but(_exact(operand))
    if _is_number(operand):
        _pattern_number(operand)  # refused outside ±5.0e9
        return _anything_but(_exact(operand))
    raise InvalidEventPattern(
        "Value of anything-but must be an array or single string/number value."
    )


def _compile_anything_but_list(values: list[Any]) -> _Matcher:
    for value in values:
        if not (isinstance(value, str) or _is_number(value)):
            raise InvalidEventPattern(
                "Inside anything but list, start|null|boolean is not supported."
            )
    strings = [value for value in values if isinstance(value, str)]
    numbers = [value for value in values if _is_number(value)]
    if bool(strings) == bool(numbers):
        raise InvalidEventPattern(
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported"
        )
    if numbers:
        keys = {_pattern_number(number) for number in numbers}
        return lambda value: _is_number(value) and _comparable(float(value)) in keys
    excluded = frozenset(strings)
    return lambda value: isinstance(value, str) and value in excluded


def _compile_anything_but_nested(inner: str, value: Any) -> _Matcher:
    if isinstance(value, list):
        texts = value
    elif isinstance(value, str) or _is_number(value):
        texts = [value]
    else:
        raise InvalidEventPattern(
            "Value of anything-but must be an array or single string/number value."
        )
    matchers: list[_Matcher] = []
    for text in texts:
        if not isinstance(text, str):
            if inner == "equals-ignore-case":
                raise InvalidEventPattern(
                    "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported."
                )
            if inner == "wildcard":
                raise InvalidEventPattern("wildcard match pattern must be a string")
            raise InvalidEventPattern("prefix/suffix match pattern must be a string")
        if inner in ("prefix", "suffix") and not text:
            raise InvalidEventPattern("Null prefix/suffix not allowed")
        if inner == "prefix":
            matchers.append(_prefix(text, False))
        elif inner == "suffix":
            matchers.append(_suffix(text, False))
        elif inner == "wildcard":
            matchers.append(_wildcard(text))
        else:
            matchers.append(_equals_ignore_case(text))
    return _anything_but(lambda candidate: any(matcher(candidate) for matcher in matchers))


# -- public API ----------------------------------------------------------------------------------
class EventPattern:
    """A validated EventBridge event pattern; :meth:`matches` tests one event (a JSON object)."""

    __slots__ = ("_root", "_text")

    def __init__(self, text: str, root: _Object) -> None:
        self._text = text
        self._root = root

    @classmethod
    def parse(cls, text: str) -> EventPattern:
        """Compile ``text``; raise :class:`InvalidEventPattern` with EventBridge's reason."""
        return cls(text, _compile(text))

    @property
    def text(self) -> str:
        """The pattern as given (EventBridge stores and returns it verbatim)."""
        return self._text

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` (parsed JSON: dicts, lists, str, int, float, bool, None) matches."""
        return _match_node(self._root, event)

    def _matches_guarded(self, event: Mapping[str, Any], guard: _Guard) -> bool:
        return _match_fields(self._root, event, guard)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventPattern) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return f"EventPattern({self._text!r})"


# -- Lambda event filtering ------------------------------------------------------------------------
_SOURCES: Final = ("aws:sqs", "aws:kinesis", "aws:dynamodb")
_DATA_KEYS: Final = {"aws:sqs": "body", "aws:kinesis": "data", "aws:dynamodb": "dynamodb"}
_MAX_PATTERN: Final = 4096
_DEFAULT_MAX_FILTERS: Final = 5
_INVALID_DEFINITION: Final = "Invalid filter pattern definition."


def _constraint(value: object, member: str, constraint: str) -> InvalidParameterValueException:
    """AWS's wording for a failed member constraint (a ValidationException on AWS)."""
    return InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _as_json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _kind_guard(key: str, kind: str) -> _Guard:
    """Lambda's format check: a JSON data field needs an object pattern under its key, a plain
    string needs an array, and data that cannot be read matches no pattern on it."""

    def guard(name: str, node: _Object | _Leaf) -> bool:
        if name != key:
            return True
        if kind == "json":
            return isinstance(node, _Object)
        if kind == "string":
            return isinstance(node, _Leaf)
        return False

    return guard


class FilterCriteria:
    """An event source mapping's ``FilterCriteria``: up to five patterns, ORed.

    A record is kept when any pattern matches it. The data field is read as Lambda reads it:
    SQS ``body`` and Kinesis ``data`` (base64-decoded) are matched as JSON when they hold a JSON
    object and as a plain string otherwise; a pattern that treats a JSON body as a string, or a
    string body as JSON, drops the record (the table in "Lambda event filtering"). DynamoDB
    records are matched as they are (``eventName``, ``dynamodb.NewImage`` ...).
    """

    __slots__ = ("_patterns",)

    def __init__(self, patterns: tuple[EventPattern, ...]) -> None:
        if not patterns:
            raise ValueError("FilterCriteria needs at least one pattern")
        self._patterns = patterns

    @classmethod
    def from_api(
        cls,
        value: Mapping[str, Any] | None,
        *,
        source: str | None = None,
        max_filters: int = _DEFAULT_MAX_FILTERS,
    ) -> FilterCriteria | None:
        """Validate the API shape ``{"Filters": [{"Pattern": "<json>"}]}``.

        ``None``, ``{}`` and an empty ``Filters`` list mean "no filtering" (what
        UpdateEventSourceMapping uses to remove filters) and give ``None``. ``source`` (when
        known) adds Lambda's create-time check that Kinesis and DynamoDB patterns on the data
        field are JSON objects. ``max_filters`` is the account quota (5, raisable to 10).
        """
        if source is not None and source not in _SOURCES:
            raise ValueError(f"source must be one of {', '.join(_SOURCES)}, not {source!r}")
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InvalidParameterValueException(_INVALID_DEFINITION)
        filters = value.get("Filters")
        if filters is None:
            return None
        if not isinstance(filters, (list, tuple)):
            raise InvalidParameterValueException(_INVALID_DEFINITION)
        if len(filters) > max_filters:
            raise InvalidParameterValueException(
                f"The number of filters in FilterCriteria ({len(filters)}) exceeds the limit "
                f"of {max_filters}."
            )
        patterns: list[EventPattern] = []
        for index, item in enumerate(filters, start=1):
            text = item.get("Pattern") if isinstance(item, Mapping) else None
            if not isinstance(text, str):
                raise InvalidParameterValueException(_INVALID_DEFINITION)
            if len(text) > _MAX_PATTERN:
                raise _constraint(
                    text,
                    f"filterCriteria.filters.{index}.member.pattern",
                    f"Member must have length less than or equal to {_MAX_PATTERN}",
                )
            try:
                pattern = EventPattern.parse(text)
            except InvalidEventPattern:
                raise InvalidParameterValueException(_INVALID_DEFINITION) from None
            if source in ("aws:kinesis", "aws:dynamodb") and any(
                name == _DATA_KEYS[source] and isinstance(node, _Leaf)
                for branch in _branches(pattern._root)
                for name, node in branch.fields
            ):
                raise InvalidParameterValueException(_INVALID_DEFINITION)
            patterns.append(pattern)
        if not patterns:
            return None
        return cls(tuple(patterns))

    @property
    def patterns(self) -> tuple[EventPattern, ...]:
        return self._patterns

    def to_api(self) -> dict[str, list[dict[str, str]]]:
        """The shape Create/Get/UpdateEventSourceMapping answer with."""
        return {"Filters": [{"Pattern": pattern.text} for pattern in self._patterns]}

    def matches(self, record: Mapping[str, Any], source: str) -> bool:
        """Whether Lambda would keep ``record`` (one element of the event's ``Records``)."""
        if source == "aws:sqs":
            view, guard = _sqs_view(record)
        elif source == "aws:kinesis":
            view, guard = _kinesis_view(record)
        elif source == "aws:dynamodb":
            view, guard = record, None
        else:
            raise ValueError(f"source must be one of {', '.join(_SOURCES)}, not {source!r}")
        if guard is None:
            return any(pattern.matches(view) for pattern in self._patterns)
        return any(pattern._matches_guarded(view, guard) for pattern in self._patterns)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FilterCriteria) and other._patterns == self._patterns

    def __hash__(self) -> int:
        return hash(self._patterns)

    def __repr__(self) -> str:
        return f"FilterCriteria({self.to_api()!r})"


def _branches(node: _Object) -> Iterator[_Object]:
    """The objects whose fields sit at the top level of the record: the root and its $or."""
    yield node
    for branch in node.alternatives or ():
        yield from _branches(branch)


def _sqs_view(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], _Guard | None]:
    body = record.get("body", _MISSING)
    if body is _MISSING:
        return record, _kind_guard("body", "absent")
    parsed = _as_json_object(body)
    if parsed is None:
        return record, _kind_guard("body", "string" if isinstance(body, str) else "absent")
    view = dict(record)
    view["body"] = parsed
    return view, _kind_guard("body", "json")


def _kinesis_view(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], _Guard | None]:
    """Kinesis patterns name ``partitionKey`` and ``data`` at the top (the docs' examples), so
    the ``kinesis`` object's fields are lifted beside the record's own, ``data`` decoded."""
    nested = record.get("kinesis")
    view = dict(record)
    if isinstance(nested, Mapping):
        for name, value in nested.items():
            view.setdefault(name, value)
        raw = nested.get("data", _MISSING)
    else:
        raw = record.get("data", _MISSING)
    if not isinstance(raw, str):
        view.pop("data", None)
        return view, _kind_guard("data", "absent")
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        view.pop("data", None)
        return view, _kind_guard("data", "absent")
    parsed = _as_json_object(text)
    if parsed is None:
        view["data"] = text
        return view, _kind_guard("data", "string")
    view["data"] = parsed
    return view, _kind_guard("data", "json")
