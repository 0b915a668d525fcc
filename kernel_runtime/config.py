"""Function configuration and its validation, with AWS's ranges and AWS's error messages.

Validation happens once, when a configuration is built, so the invoke path never re-checks it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import InvalidParameterValueException

__all__ = [
    "MAX_LAYERS",
    "PYTHON_RUNTIMES",
    "RESERVED_ENV_KEYS",
    "FunctionConfig",
]

#: Managed Python runtimes AWS lists; the local interpreter runs them all.
PYTHON_RUNTIMES = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
)
MAX_LAYERS = 5
ENV_VARS_MAX_BYTES = 4096
CPU_MB_PER_VCPU = 1769

#: Keys AWS refuses in a function's Environment.Variables (configuration-envvars.html).
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_HANDLER_RE = re.compile(r"^[^\s]{1,128}$")
_ENV_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")


def _constraint(value: object, member: str, constraint: str) -> InvalidParameterValueException:
    """The message shape AWS uses for a single failed member constraint."""
    return InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _check_range(value: int, member: str, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _constraint(value, member, "Member must be an integer")
    if value < low:
        raise _constraint(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _constraint(value, member, f"Member must have value less than or equal to {high}")


@dataclass(frozen=True)
class FunctionConfig:
    """One function version's configuration, as the execution environment needs it.

    ``code`` is the task root: a directory holding the handler module. ``layers`` are
    directories merged in order into ``/opt`` (later layers win on duplicate files).
    """

    function_name: str
    handler: str
    code: Path
    runtime: str = field(
        default_factory=lambda: f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    memory_size: int = 128
    timeout: int = 3
    ephemeral_storage: int = 512
    environment: dict[str, str] = field(default_factory=dict)
    layers: tuple[Path, ...] = ()
    version: str = "$LATEST"
    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None
    region: str = "us-east-1"
    account_id: str = "123456789012"
    architecture: str = "x86_64"
    tracing_mode: str = "PassThrough"

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", Path(self.code))
        object.__setattr__(self, "layers", tuple(Path(p) for p in self.layers))
        object.__setattr__(self, "environment", dict(self.environment))
        self._validate()

    # -- validation ---------------------------------------------------------------------------
    def _validate(self) -> None:
        if not isinstance(self.function_name, str) or not _NAME_RE.match(self.function_name):
            raise _constraint(
                self.function_name,
                "functionName",
                "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ "
                "and have length less than or equal to 64",
            )
        if not isinstance(self.handler, str) or not _HANDLER_RE.match(self.handler):
            raise _constraint(
                self.handler,
                "handler",
                "Member must satisfy regular expression pattern: [^\\s]+ "
                "and have length less than or equal to 128",
            )
        if self.runtime not in PYTHON_RUNTIMES:
            raise _constraint(
                self.runtime,
                "runtime",
                "Member must satisfy enum value set: [" + ", ".join(PYTHON_RUNTIMES) + "]",
            )
        _check_range(self.memory_size, "memorySize", 128, 10240)
        _check_range(self.timeout, "timeout", 1, 900)
        _check_range(self.ephemeral_storage, "ephemeralStorage.size", 512, 10240)
        if not self.code.is_dir():
            raise InvalidParameterValueException(
                f"Code directory '{self.code}' does not exist or is not a directory."
            )
        if len(self.layers) > MAX_LAYERS:
            raise InvalidParameterValueException(
                f"Cannot reference more than {MAX_LAYERS} layers. "
                f"Layers requested: {len(self.layers)}."
            )
        for layer in self.layers:
            if not layer.is_dir():
                raise InvalidParameterValueException(
                    f"Layer directory '{layer}' does not exist or is not a directory."
                )
        self._validate_environment()
        if self.log_format not in ("Text", "JSON"):
            raise _constraint(
                self.log_format,
                "loggingConfig.logFormat",
                "Member must satisfy enum value set: [JSON, Text]",
            )
        levels = (
            (self.application_log_level, "applicationLogLevel", _LOG_LEVELS),
            (self.system_log_level, "systemLogLevel", _SYSTEM_LOG_LEVELS),
        )
        for level, member, allowed in levels:
            if level is None:
                continue
            if self.log_format != "JSON":
                raise InvalidParameterValueException(
                    'LogLevel is not supported when LogFormat is set to "Text". '
                    'Remove LogLevel from your request or change the LogFormat to "JSON" '
                    "and try again."
                )
            if level not in allowed:
                raise _constraint(
                    level,
                    f"loggingConfig.{member}",
                    "Member must satisfy enum value set: [" + ", ".join(allowed) + "]",
                )
        if self.architecture not in ("x86_64", "arm64"):
            raise _constraint(
                self.architecture,
                "architectures",
                "Member must satisfy enum value set: [x86_64, arm64]",
            )
        if self.tracing_mode not in ("Active", "PassThrough"):
            raise _constraint(
                self.tracing_mode,
                "tracingConfig.mode",
                "Member must satisfy enum value set: [Active, PassThrough]",
            )

    def _validate_environment(self) -> None:
        for key, value in self.environment.items():
            if not isinstance(key, str) or not _ENV_KEY_RE.match(key):
                raise _constraint(
                    key,
                    "environment.variables",
                    "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
                )
            if not isinstance(value, str):
                raise InvalidParameterValueException(
                    f"Environment variable '{key}' must be a string, not {type(value).__name__}."
                )
        reserved = sorted(k for k in self.environment if k in RESERVED_ENV_KEYS)
        if reserved:
            raise InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the "
                "environment variables you have provided contains reserved keys that are "
                f"currently not supported for modification. Reserved keys used in this request: "
                f"{', '.join(reserved)}"
            )
        measured = json.dumps(self.environment, separators=(",", ":"))
        if len(measured.encode()) > ENV_VARS_MAX_BYTES:
            raise InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the "
                "environment variables you have provided exceeded the 4KB limit. "
                f"String measured: {measured[:200]}{'...' if len(measured) > 200 else ''}"
            )

    # -- derived values -----------------------------------------------------------------------
    @functools.cached_property
    def function_arn(self) -> str:
        """Computed once per (frozen) config: the invoke path asks for it every request."""
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @functools.cached_property
    def task_root(self) -> str:
        """The code directory, symlinks resolved: once per config, not per cold start (12
        ``lstat`` calls each, every one a GIL release in a burst of them)."""
        return str(self.code.resolve())

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @functools.cached_property
    def cpu_share(self) -> float:
        """vCPUs AWS gives this memory size (1,769 MB = 1 vCPU), capped at this machine's cores
        (counted once per config: ``os.cpu_count()`` reads a file in /sys every time)."""
        return min(self.memory_size / CPU_MB_PER_VCPU, float(os.cpu_count() or 1))

    def with_changes(self, **changes: Any) -> FunctionConfig:
        """A validated copy with some fields changed (configurations are immutable)."""
        return replace(self, **changes)
