"""The immutable record of one invocation, as the platform observed it."""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple

__all__ = ["Invocation"]

LOG_TAIL_BYTES = 4096


class Invocation(NamedTuple):
    """What one request did: its response or error, its log, and every REPORT field.

    ``payload`` is the response body exactly as the Invoke API returns it (JSON bytes, or the
    raw bytes a handler returned). ``function_error`` is ``"Unhandled"`` when the body is an
    error object, like the ``X-Amz-Function-Error`` header. A named tuple: immutable and
    built in about a microsecond on the invoke path.
    """

    request_id: str
    function_name: str
    function_version: str
    environment_id: str
    log_stream_name: str
    payload: bytes
    function_error: str | None
    error_type: str | None
    status: str  # "success" | "error" | "timeout"
    cold_start: bool
    initialization_type: str
    init_duration_ms: float | None
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    started_at: float  # epoch seconds
    finished_at: float
    trace_id: str
    raw_log: str
    log_bytes_dropped: int = 0

    @property
    def log(self) -> str:
        """The log for reading: the runtime writes multi-line records with ``\\r`` between lines
        (one CloudWatch event each, see ``raw_log``); here they are broken into lines."""
        return self.raw_log.replace("\r", "\n")

    @property
    def result(self) -> Any:
        """The decoded JSON response (the error object when the function failed)."""
        return json.loads(self.payload) if self.payload else None

    @property
    def log_result(self) -> str:
        """The last 4 KB of the log, base64, as ``X-Amz-Log-Result`` carries it for LogType=Tail."""
        raw = self.raw_log.encode("utf-8")[-LOG_TAIL_BYTES:]
        return base64.b64encode(raw).decode("ascii")

    @property
    def report(self) -> dict[str, Any]:
        """The REPORT fields as a dict (for tables and plots)."""
        return {
            "RequestId": self.request_id,
            "Duration": self.duration_ms,
            "BilledDuration": self.billed_duration_ms,
            "MemorySize": self.memory_size_mb,
            "MaxMemoryUsed": self.max_memory_used_mb,
            "InitDuration": self.init_duration_ms,
        }

    def __repr__(self) -> str:
        kind = "cold" if self.cold_start else "warm"
        err = f" {self.error_type}" if self.error_type else ""
        return (
            f"<Invocation {self.function_name}:{self.function_version} {self.request_id} "
            f"{self.status}{err} {kind} {self.duration_ms:.2f} ms>"
        )
