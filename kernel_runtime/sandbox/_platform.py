"""The platform's own log lines (INIT_START, START, END, REPORT ...) in AWS's formats."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .._ids import derived_id

__all__ = ["PlatformLog"]

_RUNTIME_VERSION = f"python:{sys.version_info[0]}.{sys.version_info[1]}.v1"


def iso_ms(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class PlatformLog:
    """Formats platform lines in Text or JSON, honouring the system log level (JSON only)."""

    __slots__ = ("json", "quiet", "region")

    def __init__(self, log_format: str, system_log_level: str | None, region: str) -> None:
        self.json = log_format == "JSON"
        # WARN hides the routine lines; errors and timeouts still show, as AWS does
        self.quiet = self.json and (system_log_level or "INFO") == "WARN"
        self.region = region

    def _record(self, kind: str, record: dict[str, Any], t: float | None = None) -> str:
        return (
            json.dumps(
                {"time": iso_ms(time.time() if t is None else t), "type": kind, "record": record}
            )
            + "\n"
        )

    def init_start(self, function_arn: str) -> str:
        if self.json:
            return (
                ""
                if self.quiet
                else self._record(
                    "platform.initStart",
                    {
                        "initializationType": "on-demand",
                        "phase": "init",
                        "runtimeVersion": _RUNTIME_VERSION,
                        "functionName": function_arn.rsplit(":", 1)[-1],
                    },
                )
            )
        arn = f"arn:aws:lambda:{self.region}::runtime:lambda-lab-{_RUNTIME_VERSION}"
        return f"INIT_START Runtime Version: {_RUNTIME_VERSION}\tRuntime Version ARN: {arn}\n"

    def init_report(
        self, duration_ms: float, phase: str, status: str, error_type: str | None
    ) -> str:
        if self.json:
            record: dict[str, Any] = {
                "initializationType": "on-demand",
                "phase": phase,
                "status": status,
                "metrics": {"durationMs": round(duration_ms, 2)},
            }
            if error_type:
                record["errorType"] = error_type
            return self._record("platform.initReport", record)
        line = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
        if error_type:
            line += f"\tError Type: {error_type}"
        return line + "\n"

    def start(self, request_id: str, version: str) -> str:
        if self.json:
            return (
                ""
                if self.quiet
                else self._record("platform.start", {"requestId": request_id, "version": version})
            )
        return f"START RequestId: {request_id} Version: {version}\n"

    def timed_out(self, request_id: str, timeout_s: int) -> str:
        if self.json:
            return self._record(
                "platform.runtimeDone", {"requestId": request_id, "status": "timeout"}
            )
        return f"{iso_ms(time.time())} {request_id} Task timed out after {timeout_s:.2f} seconds\n"

    def exited(self, request_id: str, reason: str, error_type: str) -> str:
        if self.json:
            return self._record(
                "platform.runtimeDone",
                {"requestId": request_id, "status": "error", "errorType": error_type},
            )
        return f"RequestId: {request_id} Error: {reason}\n{error_type}\n"

    def end_report(
        self,
        request_id: str,
        status: str,
        duration_ms: float,
        billed_ms: int,
        memory_mb: int,
        max_used_mb: int,
        init_ms: float | None,
        error_type: str | None,
        trace: str | None = None,
    ) -> str:
        """END then REPORT. A warm success in the Text format without Active tracing, the
        invoke path's usual case, is one format; the rest is :meth:`end` + :meth:`report`."""
        if init_ms is None and trace is None and status == "success" and not self.json:
            return (
                f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
                f"Duration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
                f"Memory Size: {memory_mb} MB\tMax Memory Used: {max_used_mb} MB\t\n"
            )
        return self.end(request_id, status) + self.report(
            request_id,
            duration_ms,
            billed_ms,
            memory_mb,
            max_used_mb,
            init_ms,
            status,
            error_type,
            trace,
        )

    def end(self, request_id: str, status: str) -> str:
        if self.json:
            return (
                ""
                if self.quiet
                else self._record(
                    "platform.runtimeDone", {"requestId": request_id, "status": status}
                )
            )
        return f"END RequestId: {request_id}\n"

    def report(
        self,
        request_id: str,
        duration_ms: float,
        billed_ms: int,
        memory_mb: int,
        max_used_mb: int,
        init_ms: float | None,
        status: str,
        error_type: str | None,
        trace: str | None = None,
    ) -> str:
        """The REPORT line; ``trace`` (the request's header, in the layout ``_ids`` builds)
        adds the X-Ray part, as AWS does for functions with Active tracing."""
        if self.json:
            if self.quiet and status == "success":
                return ""
            metrics: dict[str, Any] = {
                "durationMs": round(duration_ms, 2),
                "billedDurationMs": billed_ms,
                "memorySizeMB": memory_mb,
                "maxMemoryUsedMB": max_used_mb,
            }
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 2)
            record: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": status}
            if error_type:
                record["errorType"] = error_type
            if trace is not None:
                record["tracing"] = {
                    "spanId": derived_id(trace[48:64], "Invocation"),
                    "type": "X-Amzn-Trace-Id",
                    "value": trace,
                }
            return self._record("platform.report", record)
        parts = [
            f"REPORT RequestId: {request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {billed_ms} ms",
            f"Memory Size: {memory_mb} MB",
            f"Max Memory Used: {max_used_mb} MB",
        ]
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if (status != "success" and error_type is not None) or status == "timeout":
            parts.append(f"Status: {status}")
            if error_type and status != "timeout":
                parts.append(f"Error Type: {error_type}")
        if trace is not None:
            # one CloudWatch event "REPORT ...\t\nXRAY ...\t\n": the inner break is written
            # as \r, as for every multi-line record in an invocation's raw log
            sampled = "true" if trace[-1] == "1" else "false"
            parts.append(
                f"\rXRAY TraceId: {trace[5:40]}\tSegmentId: {trace[48:64]}\tSampled: {sampled}"
            )
        return "\t".join(parts) + "\t\n"
