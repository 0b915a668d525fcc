"""Metric alarm evaluation with CloudWatch's semantics (kernel_runtime.observe._alarms)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import pytest

from kernel_runtime.observe._alarms import (
    AlarmValidationError,
    MetricAlarm,
    evaluate,
)

PERIOD = 60
NOW_AT = datetime(2026, 11, 27, 19, 51, 30, tzinfo=timezone.utc)
NOW = NOW_AT.timestamp()
NEWEST = NOW - 90  # 19:50:00, the last period complete at 19:51:30
ALARM_ARN = "arn:aws:sns:us-east-1:123456789012:page"
OK_ARN = "arn:aws:sns:us-east-1:123456789012:all-clear"
INSUFFICIENT_ARN = "arn:aws:sns:us-east-1:123456789012:no-data"


def make_alarm(**changes: Any) -> MetricAlarm:
    fields: dict[str, Any] = {
        "AlarmName": "errors",
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Statistic": "Sum",
        "Period": PERIOD,
        "EvaluationPeriods": 3,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": (ALARM_ARN,),
        "OKActions": (OK_ARN,),
        "InsufficientDataActions": (INSUFFICIENT_ARN,),
    }
    fields.update(changes)
    return MetricAlarm(**fields)


def series(pattern: str) -> dict[float, float | None]:
    """The docs' notation, oldest to newest, ending at the newest complete period:
    ``X`` breaches (5.0), ``0`` does not (0.0), ``-`` is missing."""
    points: dict[float, float | None] = {}
    for age, token in enumerate(reversed(pattern.split())):
        if token != "-":
            points[NEWEST - age * PERIOD] = 5.0 if token == "X" else 0.0
    return points


# -- comparisons and M out of N ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("operator", "below", "equal", "above"),
    [
        ("GreaterThanOrEqualToThreshold", "OK", "ALARM", "ALARM"),
        ("GreaterThanThreshold", "OK", "OK", "ALARM"),
        ("LessThanThreshold", "ALARM", "OK", "OK"),
        ("LessThanOrEqualToThreshold", "ALARM", "ALARM", "OK"),
    ],
)
def test_each_comparison_operator(operator: str, below: str, equal: str, above: str) -> None:
    alarm = make_alarm(ComparisonOperator=operator, EvaluationPeriods=1)
    for value, expected in ((0.5, below), (1.0, equal), (1.5, above)):
        result = evaluate(alarm, {NEWEST: value}, NOW)
        assert result.new_state == expected, (operator, value)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("X X X 0 0", "ALARM"),
        ("X 0 X 0 X", "ALARM"),  # breaching datapoints need not be consecutive
        ("0 X X X 0", "ALARM"),
        ("X X 0 0 0", "OK"),
        ("0 0 0 X X", "OK"),
        ("X X X X X", "ALARM"),
        ("0 0 0 0 0", "OK"),
    ],
)
def test_m_out_of_n(pattern: str, expected: str) -> None:
    alarm = make_alarm(EvaluationPeriods=5, DatapointsToAlarm=3)
    assert evaluate(alarm, series(pattern), NOW).new_state == expected


def test_only_the_most_recent_n_real_datapoints_count() -> None:
    alarm = make_alarm(EvaluationPeriods=3)
    assert evaluate(alarm, series("X X 0 0 0"), NOW).new_state == "OK"
    older = {NEWEST - age * PERIOD: 5.0 for age in range(3, 10)}
    assert evaluate(alarm, {**older, **series("0 0 0")}, NOW).new_state == "OK"


def test_the_period_still_in_progress_is_not_evaluated() -> None:
    alarm = make_alarm(EvaluationPeriods=1, TreatMissingData="missing")
    current = NEWEST + PERIOD  # 19:51:00, incomplete at 19:51:30
    assert evaluate(alarm, {current: 99.0}, NOW).new_state == "INSUFFICIENT_DATA"
    assert evaluate(alarm, {current: 99.0}, current + PERIOD).new_state == "ALARM"


# -- the tables of "Configuring how CloudWatch alarms treat missing data" ------------------------
RETAIN = None
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
THREE_OF_THREE = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("0 - - - -", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - - - X", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
    ("X - - - -", "ALARM", RETAIN, "ALARM", "OK"),
]
TWO_OF_THREE = [
    ("0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - - X", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
]


def _table_cases() -> list[tuple[int, str, str, str | None]]:
    cases = []
    for m, table in ((3, THREE_OF_THREE), (2, TWO_OF_THREE)):
        for pattern, *outcomes in table:
            for treat, outcome in zip(TREATMENTS, outcomes, strict=True):
                cases.append((m, pattern, treat, outcome))
    return cases


@pytest.mark.parametrize(("m", "pattern", "treat", "outcome"), _table_cases())
@pytest.mark.parametrize("current", ["OK", "ALARM", "INSUFFICIENT_DATA"])
def test_the_missing_data_tables(m: int, pattern: str, treat: str, outcome, current) -> None:
    alarm = make_alarm(EvaluationPeriods=3, DatapointsToAlarm=m, TreatMissingData=treat)
    result = evaluate(alarm, series(pattern), NOW, current)
    assert result.new_state == (current if outcome is RETAIN else outcome)


def test_enough_real_datapoints_make_the_treatment_irrelevant() -> None:
    for treat in TREATMENTS:
        alarm = make_alarm(TreatMissingData=treat)
        assert evaluate(alarm, series("X - X - X"), NOW, "OK").new_state == "ALARM"
        assert evaluate(alarm, series("- 0 - 0 X"), NOW, "ALARM").new_state == "OK"


def test_missing_and_nan_values_are_missing() -> None:
    alarm = make_alarm(EvaluationPeriods=2, TreatMissingData="breaching")
    points = {NEWEST: None, NEWEST - PERIOD: math.nan}
    assert evaluate(alarm, points, NOW).new_state == "ALARM"


# -- StateReason texts ------------------------------------------------------------------------
def test_reason_for_3_out_of_3() -> None:
    points = {NEWEST - 120: 3.0, NEWEST - 60: 4.0, NEWEST: 5.0}
    result = evaluate(make_alarm(), points, NOW)
    assert result.new_state == "ALARM"
    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [5.0 (27/11/26 19:50:00), "
        "4.0 (27/11/26 19:49:00), 3.0 (27/11/26 19:48:00)] were greater than or equal to the "
        "threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )


@pytest.mark.parametrize(
    ("changes", "points", "state", "reason"),
    [
        (
            {"EvaluationPeriods": 3, "DatapointsToAlarm": 2},
            series("X 0 X"),
            "OK",
            "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (27/11/26 19:50:00), "
            "5.0 (27/11/26 19:48:00)] were greater than or equal to the threshold (1.0) "
            "(minimum 2 datapoints for OK -> ALARM transition).",
        ),
        (
            {"EvaluationPeriods": 3, "DatapointsToAlarm": 2},
            series("X 0 0"),
            "ALARM",
            "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (27/11/26 19:50:00), "
            "0.0 (27/11/26 19:49:00)] were not greater than or equal to the threshold (1.0) "
            "(minimum 2 datapoints for ALARM -> OK transition).",
        ),
        (
            {"EvaluationPeriods": 2, "Threshold": 30},
            {NEWEST: 10.0, NEWEST - 60: 10.0},
            "ALARM",
            "Threshold Crossed: 2 out of the last 2 datapoints [10.0 (27/11/26 19:50:00), "
            "10.0 (27/11/26 19:49:00)] were not greater than or equal to the threshold (30.0) "
            "(minimum 1 datapoint for ALARM -> OK transition).",
        ),
        (
            {"EvaluationPeriods": 1, "Threshold": 60, "ComparisonOperator": "GreaterThanThreshold"},
            {NEWEST: 0.25},
            "INSUFFICIENT_DATA",
            "Threshold Crossed: 1 datapoint [0.25 (27/11/26 19:50:00)] was not greater than the "
            "threshold (60.0).",
        ),
        (
            {"EvaluationPeriods": 1, "ComparisonOperator": "LessThanOrEqualToThreshold"},
            {NEWEST: 0.0},
            "OK",
            "Threshold Crossed: 1 datapoint [0.0 (27/11/26 19:50:00)] was less than or equal to "
            "the threshold (1.0).",
        ),
        (
            {"EvaluationPeriods": 1, "TreatMissingData": "breaching"},
            {},
            "OK",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing "
            "datapoint was treated as [Breaching].",
        ),
        (
            {"TreatMissingData": "notBreaching"},
            {},
            "ALARM",
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing "
            "datapoints were treated as [NonBreaching].",
        ),
        (
            {"TreatMissingData": "breaching"},
            series("- - 0 - X"),
            "ALARM",
            "Threshold Crossed: 2 datapoints were received for 3 periods and 1 missing "
            "datapoint was treated as [Breaching].",
        ),
        (
            {"EvaluationPeriods": 1},
            {},
            "OK",
            "Insufficient Data: 1 datapoint was unknown.",
        ),
        (
            {},
            series("- - - - X"),
            "OK",
            "Insufficient Data: 2 datapoints were unknown.",
        ),
        (
            {},
            series("X - - - -"),
            "OK",
            "Threshold Crossed: 1 out of the last 3 datapoints [5.0 (27/11/26 19:46:00)] was "
            "greater than or equal to the threshold (1.0) (minimum 3 datapoints for OK -> ALARM "
            "transition).",
        ),
    ],
)
def test_state_reasons(changes, points, state: str, reason: str) -> None:
    result = evaluate(make_alarm(**changes), points, NOW, state)
    assert result.changed
    assert result.reason == reason


def test_reason_data() -> None:
    points = {NEWEST - 120: 3.0, NEWEST - 60: 4.0, NEWEST: 5.0, NEWEST - 240: 9.0}
    result = evaluate(make_alarm(Unit="Count"), points, NOW)
    assert result.reason_data == {
        "version": "1.0",
        "queryDate": "2026-11-27T19:51:30.000+0000",
        "startDate": "2026-11-27T19:48:00.000+0000",
        "unit": "Count",
        "statistic": "Sum",
        "period": 60,
        "recentDatapoints": [9.0, 3.0, 4.0, 5.0],  # the evaluation range, oldest first
        "threshold": 1.0,
        "evaluatedDatapoints": [
            {"timestamp": "2026-11-27T19:50:00.000+0000", "value": 5.0},
            {"timestamp": "2026-11-27T19:49:00.000+0000", "value": 4.0},
            {"timestamp": "2026-11-27T19:48:00.000+0000", "value": 3.0},
        ],
    }


def test_reason_data_with_filled_and_without_datapoints() -> None:
    filled = evaluate(make_alarm(TreatMissingData="breaching"), series("0 - -"), NOW).reason_data
    assert filled["recentDatapoints"] == [0.0]
    assert filled["startDate"] == "2026-11-27T19:48:00.000+0000"
    assert filled["evaluatedDatapoints"] == [
        {"timestamp": "2026-11-27T19:50:00.000+0000"},
        {"timestamp": "2026-11-27T19:49:00.000+0000"},
        {"timestamp": "2026-11-27T19:48:00.000+0000", "value": 0.0},
    ]
    empty = evaluate(make_alarm(ExtendedStatistic="p99", Statistic=None), {}, NOW).reason_data
    assert "startDate" not in empty
    assert empty["statistic"] == "p99"
    assert empty["recentDatapoints"] == [] and empty["evaluatedDatapoints"] == []


# -- transitions and actions ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("points", "state", "new_state", "actions"),
    [
        (series("X X X"), "INSUFFICIENT_DATA", "ALARM", (ALARM_ARN,)),
        (series("X X X"), "OK", "ALARM", (ALARM_ARN,)),
        (series("0 0 0"), "ALARM", "OK", (OK_ARN,)),
        (series("0 0 0"), "INSUFFICIENT_DATA", "OK", (OK_ARN,)),
        ({}, "OK", "INSUFFICIENT_DATA", (INSUFFICIENT_ARN,)),
        ({}, "ALARM", "INSUFFICIENT_DATA", (INSUFFICIENT_ARN,)),
        (series("X X X"), "ALARM", "ALARM", ()),
        (series("0 0 0"), "OK", "OK", ()),
        ({}, "INSUFFICIENT_DATA", "INSUFFICIENT_DATA", ()),
    ],
)
def test_actions_fire_on_a_change_only(points, state, new_state, actions) -> None:
    result = evaluate(make_alarm(), points, NOW, state)
    assert (result.old_state, result.new_state) == (state, new_state)
    assert result.changed is (state != new_state)
    assert result.actions == actions


def test_no_actions_when_actions_are_disabled() -> None:
    result = evaluate(make_alarm(ActionsEnabled=False), series("X X X"), NOW, "OK")
    assert result.changed and result.new_state == "ALARM"
    assert result.actions == ()


def test_ignore_keeps_the_state_without_actions() -> None:
    alarm = make_alarm(TreatMissingData="ignore")
    for state in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        result = evaluate(alarm, {}, NOW, state)
        assert (result.new_state, result.changed, result.actions) == (state, False, ())
        assert "(TreatMissingData: ignore)" in result.reason


def test_now_may_be_a_datetime() -> None:
    alarm = make_alarm()
    assert evaluate(alarm, series("X X X"), NOW_AT) == evaluate(alarm, series("X X X"), NOW)


def test_bad_evaluation_arguments() -> None:
    with pytest.raises(ValueError, match="not a multiple of Period"):
        evaluate(make_alarm(), {NEWEST + 30: 1.0}, NOW)
    with pytest.raises(ValueError, match="state must be one of OK, ALARM, INSUFFICIENT_DATA"):
        evaluate(make_alarm(), {}, NOW, "PENDING")


# -- PutMetricAlarm shape and validation --------------------------------------------------------
REQUEST: dict[str, Any] = {
    "AlarmName": "p99-duration",
    "AlarmDescription": "slow invocations",
    "ActionsEnabled": True,
    "OKActions": [OK_ARN],
    "AlarmActions": [ALARM_ARN],
    "InsufficientDataActions": [],
    "MetricName": "Duration",
    "Namespace": "AWS/Lambda",
    "ExtendedStatistic": "p99",
    "Dimensions": [{"Name": "FunctionName", "Value": "checkout"}],
    "Period": 300,
    "Unit": "Milliseconds",
    "EvaluationPeriods": 5,
    "DatapointsToAlarm": 3,
    "Threshold": 800.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
}


def test_from_api_and_to_api_round_trip() -> None:
    alarm = MetricAlarm.from_api(REQUEST)
    assert alarm.Dimensions == (("FunctionName", "checkout"),)
    assert alarm.AlarmActions == (ALARM_ARN,)
    assert alarm.datapoints_to_alarm == 3 and alarm.statistic == "p99"
    assert alarm.to_api() == REQUEST


def test_defaults_as_put_metric_alarm_has_them() -> None:
    alarm = MetricAlarm.from_api(
        {
            "AlarmName": "a",
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 4,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    )
    assert alarm.TreatMissingData == "missing"
    assert alarm.ActionsEnabled is True
    assert alarm.datapoints_to_alarm == 4  # DatapointsToAlarm defaults to EvaluationPeriods
    shaped = alarm.to_api()
    assert "DatapointsToAlarm" not in shaped and "ExtendedStatistic" not in shaped
    assert shaped["AlarmActions"] == [] and shaped["Dimensions"] == []


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in REQUEST.items() if k != key}


CORAL = "1 validation error detected: "
OPERATORS = (
    "GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, "
    "LessThanOrEqualToThreshold, LessThanLowerOrGreaterThanUpperThreshold, "
    "LessThanLowerThreshold, GreaterThanUpperThreshold"
)


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            _without("AlarmName"),
            "ValidationError",
            CORAL
            + "Value null at 'alarmName' failed to satisfy constraint: Member must not be null",
        ),
        (
            _without("EvaluationPeriods"),
            "ValidationError",
            CORAL + "Value null at 'evaluationPeriods' failed to satisfy constraint: Member must "
            "not be null",
        ),
        (
            _without("ComparisonOperator"),
            "ValidationError",
            CORAL + "Value null at 'comparisonOperator' failed to satisfy constraint: Member "
            "must not be null",
        ),
        (_without("MetricName"), "ValidationError", "MetricName must not be null"),
        (_without("Namespace"), "ValidationError", "Namespace must not be null"),
        (_without("Period"), "ValidationError", "Period must not be null"),
        (_without("Threshold"), "ValidationError", "Threshold must not be null"),
        (
            {**REQUEST, "AlarmName": "a" * 256},
            "ValidationError",
            CORAL + f"Value '{'a' * 256}' at 'alarmName' failed to satisfy constraint: Member "
            "must have length less than or equal to 255",
        ),
        (
            {**REQUEST, "EvaluationPeriods": 0},
            "ValidationError",
            CORAL + "Value '0' at 'evaluationPeriods' failed to satisfy constraint: Member must "
            "have value greater than or equal to 1",
        ),
        (
            {**REQUEST, "ComparisonOperator": "Bigger"},
            "ValidationError",
            CORAL + "Value 'Bigger' at 'comparisonOperator' failed to satisfy constraint: Member "
            f"must satisfy enum value set: [{OPERATORS}]",
        ),
        (
            {**_without("ExtendedStatistic"), "Statistic": "Median"},
            "ValidationError",
            CORAL + "Value 'Median' at 'statistic' failed to satisfy constraint: Member must "
            "satisfy enum value set: [SampleCount, Average, Sum, Minimum, Maximum]",
        ),
        (
            {**REQUEST, "Namespace": ":bad"},
            "ValidationError",
            CORAL + "Value ':bad' at 'namespace' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [^:].*",
        ),
        (
            {**REQUEST, "AlarmActions": [f"{ALARM_ARN}-{i}" for i in range(6)]},
            "ValidationError",
            "at 'alarmActions' failed to satisfy constraint: Member must have length less than "
            "or equal to 5",
        ),
        (
            {**REQUEST, "OKActions": [OK_ARN] * 6},
            "ValidationError",
            "at 'okActions' failed to satisfy constraint",
        ),
        (
            {**REQUEST, "DatapointsToAlarm": 0},
            "ValidationError",
            CORAL + "Value '0' at 'datapointsToAlarm' failed to satisfy constraint: Member must "
            "have value greater than or equal to 1",
        ),
        (
            {**REQUEST, "Statistic": "Average"},
            "ValidationError",
            "Statistic and ExtendedStatistic are mutually exclusive; specify only one.",
        ),
        (
            _without("ExtendedStatistic"),
            "ValidationError",
            "Statistic or ExtendedStatistic must be specified.",
        ),
        (
            {**REQUEST, "ExtendedStatistic": "p101"},
            "InvalidParameterValue",
            "The value p101 for parameter ExtendedStatistic is not supported.",
        ),
        (
            {**REQUEST, "ExtendedStatistic": "Sum"},
            "InvalidParameterValue",
            "The value Sum for parameter ExtendedStatistic is not supported.",
        ),
        (
            {**REQUEST, "Period": 45},
            "ValidationError",
            "Period must be 10, 20, 30 or a multiple of 60",
        ),
        (
            {**REQUEST, "Period": 60, "EvaluationPeriods": 1441},
            "ValidationError",
            "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must "
            "be <= 86400)",
        ),
        (
            {**REQUEST, "Period": 3600, "EvaluationPeriods": 169},
            "ValidationError",
            "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must "
            "be <= 604800)",
        ),
        (
            {**REQUEST, "DatapointsToAlarm": 6},
            "ValidationError",
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods",
        ),
        (
            {**REQUEST, "TreatMissingData": "sometimes"},
            "ValidationError",
            "Option sometimes is not supported. Supported options for parameter TreatMissingData "
            "are missing, ignore, breaching and notBreaching.",
        ),
        (
            {**REQUEST, "ComparisonOperator": "GreaterThanUpperThreshold"},
            "ValidationError",
            "ComparisonOperator GreaterThanUpperThreshold needs an anomaly detection band",
        ),
        (
            {**REQUEST, "Threshold": math.inf},
            "ValidationError",
            "at 'threshold' failed to satisfy constraint: Member must be a finite number",
        ),
        (
            {**REQUEST, "Metrics": []},
            "ValidationError",
            "Metrics is not supported here",
        ),
        (
            {**REQUEST, "Colour": "red"},
            "ParamValidationError",
            'Unknown parameter in input: "Colour", must be one of: AlarmName, AlarmDescription,',
        ),
        (
            {**REQUEST, "EvaluationPeriods": "3"},
            "ParamValidationError",
            "Invalid type for parameter EvaluationPeriods, value: '3'",
        ),
        (
            {**REQUEST, "ActionsEnabled": "yes"},
            "ParamValidationError",
            "Invalid type for parameter ActionsEnabled",
        ),
        (
            {**REQUEST, "Dimensions": [{"Name": "FunctionName"}]},
            "ParamValidationError",
            'Missing required parameter in Dimensions: "Value"',
        ),
    ],
)
def test_put_metric_alarm_validation(request_: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(AlarmValidationError) as caught:
        MetricAlarm.from_api(request_)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == code
    assert message in str(caught.value)


@pytest.mark.parametrize("period", [10, 20, 30, 60, 120, 3600, 86400])
def test_accepted_periods(period: int) -> None:
    request = {**REQUEST, "Period": period, "EvaluationPeriods": 1, "DatapointsToAlarm": 1}
    assert MetricAlarm.from_api(request).Period == period


def test_direct_construction_validates_too() -> None:
    with pytest.raises(AlarmValidationError, match="Period must be 10, 20, 30"):
        make_alarm(Period=90)
    with pytest.raises(AlarmValidationError, match="DatapointsToAlarm must be less"):
        make_alarm(EvaluationPeriods=2, DatapointsToAlarm=3)
