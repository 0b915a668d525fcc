"""Configuration validation names the problem the way AWS does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kernel_runtime
from kernel_runtime import FunctionConfig, InvalidParameterValueException


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    return tmp_path


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        (
            "memory_size",
            127,
            "Value '127' at 'memorySize' failed to satisfy constraint: Member must "
            "have value greater than or equal to 128",
        ),
        (
            "memory_size",
            10241,
            "at 'memorySize' failed to satisfy constraint: Member must have value "
            "less than or equal to 10240",
        ),
        ("timeout", 0, "at 'timeout' failed to satisfy constraint: Member must have value greater"),
        ("timeout", 901, "Member must have value less than or equal to 900"),
        ("ephemeral_storage", 511, "at 'ephemeralStorage.size' failed to satisfy constraint"),
        ("runtime", "python2.7", "Value 'python2.7' at 'runtime' failed to satisfy constraint"),
        ("function_name", "bad name!", "at 'functionName' failed to satisfy constraint"),
        ("handler", "has space.handler", "at 'handler' failed to satisfy constraint"),
        ("log_format", "XML", "at 'loggingConfig.logFormat'"),
        (
            "application_log_level",
            "DEBUG",
            'LogLevel is not supported when LogFormat is set to "Text"',
        ),
        (
            "environment",
            {"AWS_REGION": "eu-west-1"},
            "contains reserved keys that are currently not "
            "supported for modification. Reserved keys used in "
            "this request: AWS_REGION",
        ),
        ("environment", {"BIG": "x" * 4100}, "exceeded the 4KB limit"),
        ("environment", {"1BAD": "x"}, "at 'environment.variables'"),
    ],
)
def test_invalid_configuration_is_refused(
    code: Path, field: str, value: object, fragment: str
) -> None:
    fields = {"function_name": "fn", "handler": "app.handler", "code": code, field: value}
    with pytest.raises(InvalidParameterValueException) as info:
        FunctionConfig(**fields)
    assert fragment in str(info.value)
    assert info.value.code == "InvalidParameterValueException" and info.value.status == 400


def test_layers_and_code_must_exist(code: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException, match="Cannot reference more than 5 layers"):
        FunctionConfig(function_name="fn", handler="app.handler", code=code, layers=[code] * 6)
    with pytest.raises(InvalidParameterValueException, match="does not exist"):
        FunctionConfig(function_name="fn", handler="app.handler", code=tmp_path / "missing")


def test_defaults_and_derived_values(code: Path) -> None:
    cfg = FunctionConfig(function_name="fn", handler="app.handler", code=code)
    assert (cfg.memory_size, cfg.timeout, cfg.ephemeral_storage) == (128, 3, 512)
    assert cfg.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert cfg.log_group_name == "/aws/lambda/fn"
    assert cfg.cpu_share == pytest.approx(128 / 1769)
    assert cfg.with_changes(memory_size=3538).cpu_share == pytest.approx(
        min(2.0, os.cpu_count() or 1)
    )
    with pytest.raises(InvalidParameterValueException):
        cfg.with_changes(timeout=1000)


def test_public_surface_is_explicit() -> None:
    for name in kernel_runtime.__all__:
        assert hasattr(kernel_runtime, name), name
    public = {n for n in dir(kernel_runtime) if not n.startswith("_")}
    assert public == set(kernel_runtime.__all__) - {"__version__"}
    assert issubclass(kernel_runtime.TooManyRequestsException, kernel_runtime.LambdaError)
