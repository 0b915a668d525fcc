"""EventBridge event patterns and Lambda filter criteria (kernel_runtime.sources._patterns).

Cases follow AWS's "Content filtering in Amazon EventBridge event patterns", the event-ruler
README it builds on, and "Lambda event filtering"; every operator has a positive and a negative
case, and every malformed pattern names the reason EventBridge gives.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kernel_runtime.errors import InvalidParameterValueException
from kernel_runtime.sources._patterns import EventPattern, FilterCriteria, InvalidEventPattern

# The EC2 event of the EventBridge user guide, with the detail fields its examples filter on.
EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "FilePath": "/usr/lib/libz.so",
        "flags": [True],
        "nothing": None,
        "empty": "",
    },
}


def _matches(pattern: dict[str, Any], event: dict[str, Any] = EC2_EVENT) -> bool:
    return EventPattern.parse(json.dumps(pattern)).matches(event)


def _detail(**fields: Any) -> dict[str, Any]:
    return {"detail": fields}


# -- matching -------------------------------------------------------------------------------------
MATCHING = [
    # exact values and arrays of alternatives
    ("exact string", {"source": ["aws.ec2"]}, EC2_EVENT, True),
    ("exact string other value", {"source": ["aws.s3"]}, EC2_EVENT, False),
    ("alternatives", {"source": ["aws.s3", "aws.ec2"]}, EC2_EVENT, True),
    ("case sensitive", {"source": ["AWS.EC2"]}, EC2_EVENT, False),
    ("nested object", {"detail": {"state": ["terminated"]}}, EC2_EVENT, True),
    ("nested wrong value", {"detail": {"state": ["running"]}}, EC2_EVENT, False),
    (
        "all fields ANDed",
        {"source": ["aws.ec2"], "detail": {"state": ["running"]}},
        EC2_EVENT,
        False,
    ),
    ("missing field", {"detail": {"absent": ["x"]}}, EC2_EVENT, False),
    ("event array intersects", {"resources": [EC2_EVENT["resources"][0], "x"]}, EC2_EVENT, True),
    ("event array disjoint", {"resources": ["arn:x"]}, EC2_EVENT, False),
    ("number equal", {"detail": {"c-count": [5]}}, EC2_EVENT, True),
    ("number compared numerically", {"detail": {"c-count": [5.0]}}, EC2_EVENT, True),
    ("number exponent form", {"detail": {"x-limit": [3.018e2]}}, EC2_EVENT, True),
    ("number is not its string", {"detail": {"c-count": ["5"]}}, EC2_EVENT, False),
    ("string is not a number", {"detail": {"instance-id": [5]}}, EC2_EVENT, False),
    ("true matches true", {"detail": {"flags": [True]}}, EC2_EVENT, True),
    ("1 does not match true", {"detail": {"flags": [1]}}, EC2_EVENT, False),
    ("false does not match 0", {"n": [False]}, {"n": 0}, False),
    ("null matches null", {"detail": {"nothing": [None]}}, EC2_EVENT, True),
    ("null does not match a missing field", {"detail": {"absent": [None]}}, EC2_EVENT, False),
    ("empty string", {"detail": {"empty": [""]}}, EC2_EVENT, True),
    ("empty string is not null", {"detail": {"nothing": [""]}}, EC2_EVENT, False),
    ("leaf pattern on an object", {"detail": ["x"]}, EC2_EVENT, False),
    ("object pattern on a string", {"source": {"x": ["aws.ec2"]}}, EC2_EVENT, False),
    ("nested arrays are crushed", {"a": [3]}, {"a": [[1, 2], [3]]}, True),
    # objects inside arrays, matched element by element (array consistency)
    (
        "objects in array",
        {"employees": {"firstName": ["Anna"]}},
        {"employees": [{"firstName": "John"}, {"firstName": "Anna"}]},
        True,
    ),
    (
        "fields from one element",
        {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}},
        {"employees": [{"firstName": "Anna", "lastName": "Smith"}]},
        True,
    ),
    (
        "fields across elements",
        {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
        {
            "employees": [
                {"firstName": "Anna", "lastName": "Smith"},
                {"firstName": "Peter", "lastName": "Jones"},
            ]
        },
        False,
    ),
    (
        "multi-level arrays",
        {"employees": {"firstName": ["Peter"]}},
        {"employees": [[{"firstName": "John"}], [{"firstName": "Peter"}]]},
        True,
    ),
    # prefix / suffix / equals-ignore-case
    ("prefix", {"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT, True),
    ("prefix miss", {"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT, False),
    ("prefix only on strings", {"n": [{"prefix": "12"}]}, {"n": 123}, False),
    (
        "prefix on array",
        {"region": [{"prefix": "eu-"}]},
        {"region": ["us-east-1", "eu-west-1"]},
        True,
    ),
    (
        "prefix ignore case",
        {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"service": "eventbridge"},
        True,
    ),
    (
        "prefix ignore case miss",
        {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"service": "sqs"},
        False,
    ),
    ("suffix", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"}, True),
    ("suffix miss", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.PNG"}, False),
    (
        "suffix ignore case",
        {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"FileName": "image.PNG"},
        True,
    ),
    (
        "suffix ignore case miss",
        {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"FileName": "image.gif"},
        False,
    ),
    ("equals-ignore-case", {"name": [{"equals-ignore-case": "alice"}]}, {"name": "ALICE"}, True),
    (
        "equals-ignore-case miss",
        {"name": [{"equals-ignore-case": "alice"}]},
        {"name": "alicia"},
        False,
    ),
    # wildcard
    (
        "wildcard",
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
        {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"},
        True,
    ),
    (
        "wildcard miss",
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
        {"EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/default"},
        False,
    ),
    ("wildcard matches empty run", {"f": [{"wildcard": "dir/*.png"}]}, {"f": "dir/.png"}, True),
    ("wildcard is anchored", {"f": [{"wildcard": "dir/*.png"}]}, {"f": "xdir/a.png"}, False),
    ("wildcard escaped star", {"f": [{"wildcard": "a\\*b"}]}, {"f": "a*b"}, True),
    ("wildcard escaped star is literal", {"f": [{"wildcard": "a\\*b"}]}, {"f": "axxb"}, False),
    ("wildcard escaped backslash", {"f": [{"wildcard": "a\\\\*"}]}, {"f": "a\\bc"}, True),
    ("wildcard regex chars are literal", {"f": [{"wildcard": "a.c*"}]}, {"f": "abcd"}, False),
    # anything-but
    (
        "anything-but string",
        {"detail": {"state": [{"anything-but": "initializing"}]}},
        EC2_EVENT,
        True,
    ),
    (
        "anything-but string miss",
        {"detail": {"state": [{"anything-but": "terminated"}]}},
        EC2_EVENT,
        False,
    ),
    ("anything-but number", {"detail": {"x-limit": [{"anything-but": 123}]}}, EC2_EVENT, True),
    (
        "anything-but number miss",
        {"detail": {"c-count": [{"anything-but": 5.0}]}},
        EC2_EVENT,
        False,
    ),
    (
        "anything-but string list",
        {"state": [{"anything-but": ["stopped", "overloaded"]}]},
        {"state": "running"},
        True,
    ),
    (
        "anything-but string list miss",
        {"state": [{"anything-but": ["stopped", "overloaded"]}]},
        {"state": "stopped"},
        False,
    ),
    ("anything-but number list", {"x": [{"anything-but": [100, 200, 300]}]}, {"x": 101}, True),
    (
        "anything-but number list miss",
        {"x": [{"anything-but": [100, 200, 300]}]},
        {"x": 200},
        False,
    ),
    (
        "anything-but array with other value",
        {"price": [{"anything-but": [100, 500]}]},
        {"price": [100, 50]},
        True,
    ),
    (
        "anything-but array all excluded",
        {"price": [{"anything-but": [100, 500]}]},
        {"price": [100, 500]},
        False,
    ),
    ("anything-but needs the field", {"state": [{"anything-but": "x"}]}, {}, False),
    (
        "anything-but prefix",
        {"state": [{"anything-but": {"prefix": "init"}}]},
        {"state": "running"},
        True,
    ),
    (
        "anything-but prefix miss",
        {"state": [{"anything-but": {"prefix": "init"}}]},
        {"state": "initializing"},
        False,
    ),
    (
        "anything-but suffix",
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "a.txt"},
        True,
    ),
    (
        "anything-but suffix miss",
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "a.png"},
        False,
    ),
    (
        "anything-but suffix list",
        {"FileName": [{"anything-but": {"suffix": [".png", ".txt"]}}]},
        {"FileName": "a.txt"},
        False,
    ),
    (
        "anything-but ignore case",
        {"state": [{"anything-but": {"equals-ignore-case": "stopped"}}]},
        {"state": "running"},
        True,
    ),
    (
        "anything-but ignore case miss",
        {"state": [{"anything-but": {"equals-ignore-case": ["stopped", "overloaded"]}}]},
        {"state": "STOPPED"},
        False,
    ),
    (
        "anything-but wildcard",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/ls"},
        True,
    ),
    (
        "anything-but wildcard miss",
        {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}},
        EC2_EVENT,
        False,
    ),
    (
        "anything-but wildcard list miss",
        {"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]},
        {"FilePath": "/usr/bin/ls"},
        False,
    ),
    # numeric
    ("numeric range", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, EC2_EVENT, True),
    (
        "numeric range open top",
        {"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}},
        EC2_EVENT,
        False,
    ),
    ("numeric less than", {"detail": {"d-count": [{"numeric": ["<", 10]}]}}, EC2_EVENT, True),
    ("numeric less than miss", {"detail": {"d-count": [{"numeric": ["<", 3]}]}}, EC2_EVENT, False),
    ("numeric less or equal", {"detail": {"d-count": [{"numeric": ["<=", 3]}]}}, EC2_EVENT, True),
    ("numeric greater or equal", {"n": [{"numeric": [">=", 10]}]}, {"n": 10}, True),
    ("numeric greater or equal miss", {"n": [{"numeric": [">=", 10]}]}, {"n": 9.999}, False),
    ("numeric equals", {"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}, EC2_EVENT, True),
    ("numeric equals miss", {"detail": {"x-limit": [{"numeric": ["=", 301.9]}]}}, EC2_EVENT, False),
    ("numeric six decimal places", {"n": [{"numeric": ["=", 1.0]}]}, {"n": 1.0000001}, True),
    ("numeric not strings", {"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False),
    ("numeric not booleans", {"n": [{"numeric": [">", 0]}]}, {"n": True}, False),
    ("numeric out of range event", {"n": [{"numeric": [">", 0]}]}, {"n": 6e9}, False),
    ("numeric array any element", {"n": [{"numeric": [">", 10]}]}, {"n": [1, 20]}, True),
    # exists
    ("exists true", {"detail": {"c-count": [{"exists": True}]}}, EC2_EVENT, True),
    ("exists true miss", {"detail": {"absent": [{"exists": True}]}}, EC2_EVENT, False),
    ("exists true on null", {"detail": {"nothing": [{"exists": True}]}}, EC2_EVENT, True),
    ("exists false", {"detail": {"absent": [{"exists": False}]}}, EC2_EVENT, True),
    ("exists false miss", {"detail": {"c-count": [{"exists": False}]}}, EC2_EVENT, False),
    (
        "exists false on an intermediate node",
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail": {"c-count": {"c1": 100}}},
        True,
    ),
    ("exists true not on an intermediate node", {"detail": [{"exists": True}]}, EC2_EVENT, False),
    ("exists false under a missing parent", {"detail": {"x": [{"exists": False}]}}, {}, True),
    ("exists true on empty array", {"a": [{"exists": True}]}, {"a": []}, False),
    # cidr and IP literals
    ("cidr", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, EC2_EVENT, True),
    ("cidr miss", {"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, EC2_EVENT, False),
    ("cidr host bits ignored", {"ip": [{"cidr": "10.0.0.77/24"}]}, {"ip": "10.0.0.1"}, True),
    ("cidr ipv6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::42"}, True),
    ("cidr other family", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "::1"}, False),
    ("cidr not an address", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "ten"}, False),
    ("ip literal normalised", {"ip": ["2001:db8::1"]}, {"ip": "2001:0db8:0:0:0:0:0:1"}, True),
    # $or
    (
        "$or first branch",
        {
            "source": ["aws.ec2"],
            "$or": [{"detail": {"c-count": [5]}}, {"detail": {"d-count": [9]}}],
        },
        EC2_EVENT,
        True,
    ),
    (
        "$or no branch",
        {"$or": [{"detail": {"c-count": [1]}}, {"detail": {"d-count": [9]}}]},
        EC2_EVENT,
        False,
    ),
    (
        "$or nested",
        {
            "detail": {
                "$or": [
                    {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                    {"d-count": [{"numeric": ["<", 10]}]},
                ]
            }
        },
        {"detail": {"d-count": 4}},
        True,
    ),
    ("$or with AND inside", {"$or": [{"a": [1], "b": [2]}, {"c": [3]}]}, {"a": 1, "b": 3}, False),
    (
        "$or inside $or",
        {"$or": [{"a": [1], "$or": [{"b": [2]}, {"c": [3]}]}, {"d": [4]}]},
        {"a": 1, "c": 3},
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [pytest.param(p, e, x, id=name) for name, p, e, x in MATCHING],
)
def test_matching(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert _matches(pattern, event) is expected


def test_parse_keeps_text_and_equality() -> None:
    text = '{ "source" : [ "aws.ec2" ] }'
    pattern = EventPattern.parse(text)
    assert pattern.text == text
    assert pattern == EventPattern.parse(text)
    assert pattern != EventPattern.parse('{"source": ["aws.s3"]}')
    assert "aws.ec2" in repr(pattern)


def test_duplicate_keys_last_wins() -> None:
    pattern = EventPattern.parse('{"a": ["hello"], "b": ["x"], "a": ["world"]}')
    assert pattern.matches({"a": "world", "b": "x"})
    assert not pattern.matches({"a": "hello", "b": "x"})


# -- validation -----------------------------------------------------------------------------------
INVALID = [
    ("[1]", "Filter is not an object"),
    ('"x"', "Filter is not an object"),
    ("null", "Filter is not an object"),
    ("{}", "Empty objects are not allowed"),
    ('{"a": {}}', "Empty objects are not allowed"),
    ('{"a": "x"}', '"a" must be an object or an array'),
    ('{"a": 1}', '"a" must be an object or an array'),
    ('{"a": []}', "Empty arrays are not allowed"),
    ('{"a": [["x"]]}', "Match value must be String, number, true, false, or null"),
    ('{"a": [{}]}', "Match expression name not found"),
    ('{"a": [{"bogus": 1}]}', "Unrecognized match type bogus"),
    ('{"a": [{"prefix": 1}]}', "prefix match pattern must be a string"),
    ('{"a": [{"prefix": "x", "suffix": "y"}]}', "Only one key allowed in match expression"),
    ('{"a": [{"prefix": {"bogus": "x"}}]}', "Unsupported prefix pattern: bogus"),
    ('{"a": [{"prefix": {}}]}', "Prefix expression name not found"),
    (
        '{"a": [{"prefix": {"equals-ignore-case": 1}}]}',
        "equals-ignore-case match pattern must be a string",
    ),
    ('{"a": [{"suffix": null}]}', "suffix match pattern must be a string"),
    ('{"a": [{"suffix": {"prefix": "x"}}]}', "Unsupported suffix pattern: prefix"),
    ('{"a": [{"equals-ignore-case": ["x"]}]}', "equals-ignore-case match pattern must be a string"),
    ('{"a": [{"wildcard": 3}]}', "wildcard match pattern must be a string"),
    ('{"a": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 2"),
    ('{"a": [{"wildcard": "a\\\\xb"}]}', "Invalid escape character at pos 2"),
    ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
    ('{"a": [{"numeric": 5}]}', "Value of numeric must be an array."),
    ('{"a": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
    ('{"a": [{"numeric": [5]}]}', "Invalid member in numeric match: 5"),
    ('{"a": [{"numeric": ["!=", 5]}]}', "Unrecognized numeric range operator: !="),
    ('{"a": [{"numeric": [">"]}]}', "Value of > must be numeric"),
    ('{"a": [{"numeric": ["=", "5"]}]}', "Value of equals must be numeric"),
    ('{"a": [{"numeric": [">=", true]}]}', "Value of >= must be numeric"),
    ('{"a": [{"numeric": ["<", 5, ">", 1]}]}', "Too many elements in numeric expression"),
    ('{"a": [{"numeric": [">", 0, 5]}]}', "Bad value in numeric range: 5"),
    ('{"a": [{"numeric": [">", 0, ">", 5]}]}', "Bad numeric range operator: >"),
    ('{"a": [{"numeric": [">", 0, "<"]}]}', "Value of < must be numeric"),
    ('{"a": [{"numeric": [">", 0, "<", 5, 6]}]}', "Too many terms in numeric range expression"),
    ('{"a": [{"numeric": [">", 5, "<=", 5]}]}', "Bottom must be less than top"),
    ('{"a": [{"numeric": [">", 6e9]}]}', "Value must be between -5.0E9 and 5.0E9, inclusive"),
    ('{"a": [{"numeric": ["<", 1], "prefix": "x"}]}', "Too many elements in numeric expression"),
    (
        '{"a": [{"anything-but": null}]}',
        "Value of anything-but must be an array or single string/number value.",
    ),
    (
        '{"a": [{"anything-but": true}]}',
        "Value of anything-but must be an array or single string/number value.",
    ),
    (
        '{"a": [{"anything-but": [null]}]}',
        "Inside anything but list, start|null|boolean is not supported.",
    ),
    (
        '{"a": [{"anything-but": ["x", 1]}]}',
        "Inside anything but list, either all values are number or string, mixed type is not "
        "supported",
    ),
    (
        '{"a": [{"anything-but": []}]}',
        "Inside anything but list, either all values are number or string, mixed type is not "
        "supported",
    ),
    ('{"a": [{"anything-but": {}}]}', "Anything-But expression name not found"),
    (
        '{"a": [{"anything-but": {"numeric": [">", 1]}}]}',
        "Unsupported anything-but pattern: numeric",
    ),
    ('{"a": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
    ('{"a": [{"anything-but": {"suffix": [1]}}]}', "prefix/suffix match pattern must be a string"),
    (
        '{"a": [{"anything-but": {"prefix": null}}]}',
        "Value of anything-but must be an array or single string/number value.",
    ),
    (
        '{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}',
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
    ),
    ('{"a": [{"anything-but": {"wildcard": [1]}}]}', "wildcard match pattern must be a string"),
    ('{"a": [{"anything-but": 7e9}]}', "Value must be between -5.0E9 and 5.0E9, inclusive"),
    ('{"a": [{"cidr": 10}]}', "prefix match pattern must be a string"),
    ('{"a": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
    ('{"a": [{"cidr": "10.0.0.0/x"}]}', "Malformed CIDR, mask bits must be an integer"),
    ('{"a": [{"cidr": "10.0.0.0/-1"}]}', "Malformed CIDR, mask bits must not be negative"),
    ('{"a": [{"cidr": "bogus/8"}]}', "Nonstandard IP address: bogus"),
    ('{"a": [{"cidr": "10.0.0.1/32"}]}', "IPv4 mask bits must be < 32"),
    ('{"a": [{"cidr": "::1/128"}]}', "IPv6 mask bits must be < 128"),
    ('{"$or": {"a": ["x"]}}', "It must be an Array followed with $or."),
    ('{"$or": [{"a": ["x"]}]}', "There must have at least 2 Objects in $or relationship."),
    ('{"$or": [{"a": ["x"]}, ["b"]]}', "Only JSON object is allowed in array of $or relationship."),
    (
        '{"$or": [{"a": ["x"]}, {"numeric": [1]}]}',
        "numeric is Ruler reserved fieldName which cannot be used inside $or.",
    ),
    ('{"$or": [{"a": ["x"]}, {}]}', "Empty objects are not allowed"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID, ids=[reason for _, reason in INVALID])
def test_invalid_pattern_names_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidEventPattern) as caught:
        EventPattern.parse(text)
    assert caught.value.reason == reason
    assert str(caught.value) == f"Event pattern is not valid. Reason: {reason}"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", ["", "{", '{"a": ["x"],}', "{'a': ['x']}", '{"a": [NaN]}'])
def test_malformed_json_is_invalid(text: str) -> None:
    with pytest.raises(InvalidEventPattern, match=r"^Event pattern is not valid\. Reason: "):
        EventPattern.parse(text)


def test_or_is_not_reserved_outside_or() -> None:
    # Operator names are ordinary field names outside $or (event-ruler reserves them only there).
    assert _matches({"numeric": ["x"]}, {"numeric": "x"})


# -- FilterCriteria: the API shape ----------------------------------------------------------------
def _criteria(*patterns: dict[str, Any], source: str | None = None) -> FilterCriteria:
    value = {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}
    criteria = FilterCriteria.from_api(value, source=source)
    assert criteria is not None
    return criteria


@pytest.mark.parametrize("value", [None, {}, {"Filters": []}])
def test_from_api_without_filters_is_none(value: dict[str, Any] | None) -> None:
    assert FilterCriteria.from_api(value) is None


def test_to_api_round_trips() -> None:
    value = {"Filters": [{"Pattern": '{"body": {"a": [1]}}'}, {"Pattern": '{"x": ["y"]}'}]}
    criteria = FilterCriteria.from_api(value)
    assert criteria is not None
    assert criteria.to_api() == value
    assert FilterCriteria.from_api(criteria.to_api()) == criteria
    assert len(criteria.patterns) == 2


@pytest.mark.parametrize(
    "value",
    [
        {"Filters": [{"Pattern": "{not json"}]},
        {"Filters": [{"Pattern": '{"a": "x"}'}]},
        {"Filters": [{"Pattern": "[]"}]},
        {"Filters": [{"Pattern": '{"a": [{"numeric": [">"]}]}'}]},
        {"Filters": [{}]},
        {"Filters": [{"Pattern": 5}]},
        {"Filters": ["x"]},
        {"Filters": "x"},
        "not an object",
    ],
)
def test_invalid_pattern_definition(value: Any) -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        FilterCriteria.from_api(value)
    assert caught.value.message == "Invalid filter pattern definition."
    assert caught.value.code == "InvalidParameterValueException"


def test_at_most_five_filters_by_default() -> None:
    five = {"Filters": [{"Pattern": json.dumps({"n": [i]})} for i in range(5)]}
    assert FilterCriteria.from_api(five) is not None
    six = {"Filters": [*five["Filters"], {"Pattern": '{"n": [6]}'}]}
    with pytest.raises(InvalidParameterValueException, match="exceeds the limit of 5"):
        FilterCriteria.from_api(six)
    # An account whose quota was raised to ten.
    assert FilterCriteria.from_api(six, max_filters=10) is not None


def test_pattern_longer_than_4096_characters() -> None:
    padding = "x" * 4096
    pattern = json.dumps({"a": [padding]})
    with pytest.raises(InvalidParameterValueException) as caught:
        FilterCriteria.from_api({"Filters": [{"Pattern": '{"b": ["y"]}'}, {"Pattern": pattern}]})
    assert "at 'filterCriteria.filters.2.member.pattern'" in caught.value.message
    assert caught.value.message.endswith("Member must have length less than or equal to 4096")
    exactly = json.dumps({"a": ["x" * (4096 - len('{"a": [""]}'))]})
    assert len(exactly) == 4096
    assert FilterCriteria.from_api({"Filters": [{"Pattern": exactly}]}) is not None


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("aws:kinesis", {"data": ["plain"]}),
        ("aws:dynamodb", {"dynamodb": ["x"]}),
        ("aws:kinesis", {"$or": [{"data": ["a"]}, {"partitionKey": ["1"]}]}),
    ],
)
def test_stream_data_patterns_must_be_objects(source: str, pattern: dict[str, Any]) -> None:
    value = {"Filters": [{"Pattern": json.dumps(pattern)}]}
    assert FilterCriteria.from_api(value) is not None  # source unknown: no create-time check
    with pytest.raises(InvalidParameterValueException, match="Invalid filter pattern definition"):
        FilterCriteria.from_api(value, source=source)


def test_unknown_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aws:sqs"):
        FilterCriteria.from_api(None, source="aws:s3")
    with pytest.raises(ValueError, match="aws:sqs"):
        _criteria({"a": ["x"]}).matches({"a": "x"}, "aws:sns")


# -- FilterCriteria: SQS --------------------------------------------------------------------------
def _sqs(body: str, **attributes: str) -> dict[str, Any]:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
            **attributes,
        },
        "messageAttributes": {
            "Color": {
                "stringValue": "red",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
        },
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:my-queue",
        "awsRegion": "us-west-2",
    }


JSON_BODY = json.dumps(
    {"RecordNumber": 1234, "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "AAAA"}
)

SQS_CASES = [
    ("json body field", {"body": {"RequestCode": ["AAAA"]}}, JSON_BODY, True),
    ("json body other value", {"body": {"RequestCode": ["BBBB"]}}, JSON_BODY, False),
    ("json body numeric", {"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}, JSON_BODY, False),
    (
        "json body numeric match",
        {"body": {"RecordNumber": [{"numeric": [">", 999]}]}},
        JSON_BODY,
        True,
    ),
    ("plain body as string", {"body": [{"prefix": "Result: "}]}, "Result: ok", True),
    ("plain body other string", {"body": ["Result: ok"]}, "Result: bad", False),
    (
        "json pattern on plain body drops",
        {"body": {"RequestCode": [{"exists": False}]}},
        "Result: ok",
        False,
    ),
    ("string pattern on json body drops", {"body": [{"exists": False}]}, JSON_BODY, False),
    (
        "string pattern on json body drops even with matching text",
        {"body": [JSON_BODY]},
        JSON_BODY,
        False,
    ),
    ("json array body is a plain string", {"body": ["[1, 2]"]}, "[1, 2]", True),
    ("metadata attribute", {"attributes": {"ApproximateReceiveCount": ["1"]}}, "x", True),
    ("metadata attribute miss", {"attributes": {"ApproximateReceiveCount": ["2"]}}, "x", False),
    ("message attribute", {"messageAttributes": {"Color": {"stringValue": ["red"]}}}, "x", True),
    (
        "metadata with json body",
        {"messageId": [{"prefix": "059f"}], "body": {"TimeStamp": [{"exists": True}]}},
        JSON_BODY,
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "body", "expected"),
    [pytest.param(p, b, x, id=name) for name, p, b, x in SQS_CASES],
)
def test_sqs_records(pattern: dict[str, Any], body: str, expected: bool) -> None:
    assert _criteria(pattern).matches(_sqs(body), "aws:sqs") is expected


def test_filters_are_ored() -> None:
    criteria = _criteria({"body": {"RequestCode": ["BBBB"]}}, {"body": {"RequestCode": ["AAAA"]}})
    assert criteria.matches(_sqs(JSON_BODY), "aws:sqs")
    other = json.dumps({"RequestCode": "CCCC"})
    assert not criteria.matches(_sqs(other), "aws:sqs")


def test_sqs_record_is_not_modified() -> None:
    record = _sqs(JSON_BODY)
    _criteria({"body": {"RequestCode": ["AAAA"]}}).matches(record, "aws:sqs")
    assert record["body"] == JSON_BODY


# -- FilterCriteria: Kinesis ----------------------------------------------------------------------
def _kinesis(data: bytes, partition_key: str = "1") -> dict[str, Any]:
    sequence = "49590338271490256608559692538361571095921575989136588898"
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000006:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
    }


ORDER = json.dumps(
    {"record": 12345, "order": {"type": "buy", "stock": "ANYCO", "quantity": 1000}}
).encode()

KINESIS_CASES = [
    ("decoded json", {"data": {"order": {"type": ["buy"]}}}, ORDER, True),
    ("decoded json miss", {"data": {"order": {"type": ["sell"]}}}, ORDER, False),
    (
        "numeric in data",
        {"data": {"order": {"quantity": [{"numeric": [">=", 1000]}]}}},
        ORDER,
        True,
    ),
    ("partition key and data", {"partitionKey": ["1"], "data": {"record": [12345]}}, ORDER, True),
    ("partition key miss", {"partitionKey": ["2"], "data": {"record": [12345]}}, ORDER, False),
    ("nested metadata", {"kinesis": {"partitionKey": ["1"]}}, ORDER, True),
    ("record metadata", {"eventSource": ["aws:kinesis"]}, ORDER, True),
    ("plain data as string", {"data": [{"prefix": "ERROR"}]}, b"ERROR disk full", True),
    ("json pattern on plain data drops", {"data": {"level": ["ERROR"]}}, b"ERROR disk full", False),
    ("string pattern on json data drops", {"data": [{"prefix": "{"}]}, ORDER, False),
    ("non utf-8 data matches no data pattern", {"data": [{"exists": False}]}, b"\xff\xfe", False),
    ("non utf-8 data still filters metadata", {"partitionKey": ["1"]}, b"\xff\xfe", True),
]


@pytest.mark.parametrize(
    ("pattern", "data", "expected"),
    [pytest.param(p, d, x, id=name) for name, p, d, x in KINESIS_CASES],
)
def test_kinesis_records(pattern: dict[str, Any], data: bytes, expected: bool) -> None:
    assert _criteria(pattern).matches(_kinesis(data), "aws:kinesis") is expected


def test_kinesis_record_is_not_modified() -> None:
    record = _kinesis(ORDER)
    encoded = record["kinesis"]["data"]
    assert _criteria({"data": {"record": [12345]}}).matches(record, "aws:kinesis")
    assert record["kinesis"]["data"] == encoded
    assert "data" not in record


def test_kinesis_flat_record_as_pipes_sends_it() -> None:
    flat = {"partitionKey": "1", "data": base64.b64encode(ORDER).decode()}
    assert _criteria({"data": {"order": {"stock": ["ANYCO"]}}}).matches(flat, "aws:kinesis")


# -- FilterCriteria: DynamoDB ---------------------------------------------------------------------
def _dynamodb(event_name: str, new_image: dict[str, Any] | None) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1480642020,
        "Keys": {"Id": {"N": "101"}},
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new_image is not None:
        dynamodb["NewImage"] = new_image
    return {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024",
        "dynamodb": dynamodb,
    }


NEW_ITEM = {"Id": {"N": "101"}, "Message": {"S": "New item!"}, "Total": {"N": "250"}}

DYNAMODB_CASES = [
    ("event name", {"eventName": ["INSERT"]}, _dynamodb("INSERT", NEW_ITEM), True),
    ("event name miss", {"eventName": ["INSERT"]}, _dynamodb("REMOVE", None), False),
    ("key", {"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}, _dynamodb("MODIFY", NEW_ITEM), True),
    (
        "typed number is a string",
        {"dynamodb": {"Keys": {"Id": {"N": [101]}}}},
        _dynamodb("MODIFY", NEW_ITEM),
        False,
    ),
    (
        "numeric does not read N strings",
        {"dynamodb": {"NewImage": {"Total": {"N": [{"numeric": [">", 100]}]}}}},
        _dynamodb("INSERT", NEW_ITEM),
        False,
    ),
    (
        "new image prefix",
        {"dynamodb": {"NewImage": {"Message": {"S": [{"prefix": "New"}]}}}},
        _dynamodb("INSERT", NEW_ITEM),
        True,
    ),
    (
        "no new image on remove",
        {"eventName": ["REMOVE"], "dynamodb": {"NewImage": {"Id": [{"exists": False}]}}},
        _dynamodb("REMOVE", None),
        True,
    ),
    (
        "insert with attribute",
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"Total": {"N": ["250"]}}}},
        _dynamodb("INSERT", NEW_ITEM),
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [pytest.param(p, r, x, id=name) for name, p, r, x in DYNAMODB_CASES],
)
def test_dynamodb_records(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert _criteria(pattern).matches(record, "aws:dynamodb") is expected
