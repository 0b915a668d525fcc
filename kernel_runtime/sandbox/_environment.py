"""The supervisor side of one execution environment: lifecycle, invoke, limits, logs.

An :class:`ExecutionEnvironment` outlives its runtime process the way AWS's does: after a
crash or timeout the process is gone (state RESET) but the environment keeps its id, log stream
and ``/tmp``, and the next invoke re-runs init in it (a cold start). The invoke path runs on the
caller's thread: one ``sendmsg``, one ``poll`` over the socket and the log pipe, one ``recv``.
"""

from __future__ import annotations

import collections
import enum
import fcntl
import json
import math
import os
import select
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._ids import continue_trace, environment_id, log_stream_name, request_and_trace
from ..config import FunctionConfig
from ..errors import (
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
)
from ..invocation import Invocation
from ..observe._xray import DEFAULT_SAMPLING_RULE
from . import _protocol as P
from ._direct_import import locate
from ._launcher import ProcessHandle
from ._platform import PlatformLog

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["ExecutionEnvironment", "State"]

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100
LOG_CAPTURE_LIMIT = 1 << 20  # per invocation; the rest is counted, not kept
F_SETPIPE_SZ = 1031
_RECV_SIZE = 1 << 16  # below malloc's mmap threshold: no mmap/munmap per read
_MAX_TRANSITIONS = 10_000  # lifecycle history kept per environment (listeners see them all)
_RUNTIME_DIR = str(Path(__file__).resolve().parent)  # LAMBDA_RUNTIME_DIR

_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGPIPE: "broken pipe",
}


_encode_event = P.json_encoder(json.JSONEncoder())  # json.dumps, minus its per-call setup


def _compact(obj: Any) -> str:
    """JSON as the runtime writes it: no spaces."""
    return json.dumps(obj, separators=(",", ":"))


class State(str, enum.Enum):
    """Lifecycle states; every transition is timestamped in ``transitions``."""

    INITIALIZING = "INITIALIZING"
    READY = "READY"  # idle, not yet frozen (the freeze grace)
    FROZEN = "FROZEN"
    BUSY = "BUSY"
    RESET = "RESET"  # runtime process gone after a failure; next invoke re-inits
    SHUTTING_DOWN = "SHUTTING_DOWN"
    DEAD = "DEAD"


#: Members as module names for the invoke path: reading one through its class costs ~0.25 us
#: on Python 3.11, and a request compares states a dozen times.
_READY, _FROZEN, _BUSY, _RESET = State.READY, State.FROZEN, State.BUSY, State.RESET
_GONE = (State.SHUTTING_DOWN, State.DEAD)

_EOF = -1
_TIMEOUT = -2
_new_tuple = tuple.__new__


class ExecutionEnvironment:
    """One execution environment: one process tree, one request at a time."""

    def __init__(self, sandbox: Sandbox, config: FunctionConfig, initialization_type: str) -> None:
        self.sandbox = sandbox
        self.config = config
        self.initialization_type = initialization_type
        self.environment_id = environment_id()
        self.log_stream_name = log_stream_name(config.version, self.environment_id)
        self.state = State.INITIALIZING
        self.transitions: collections.deque[tuple[float, str]] = collections.deque(
            maxlen=_MAX_TRANSITIONS
        )
        self.invocation_count = 0
        #: the last init's split: platform (fork to user code), runtime init, function init (ms)
        self.init_phases: dict[str, float] = {}
        #: Init Duration of a provisioned environment (reported at allocation, not in a REPORT)
        self.init_duration_ms: float | None = None
        self.pid: int | None = None
        self.last_used = time.monotonic()
        self.listeners: list[Callable[[ExecutionEnvironment, str, float], None]] = []
        self._lock = threading.Lock()
        self._handle: ProcessHandle | None = None
        self._sock: socket.socket | None = None
        self._log_r = -1
        self._poll = select.poll()
        self._frames = P.FrameBuffer()
        self._log = bytearray()
        self._log_dropped = 0
        self._pending_log = ""  # init-phase output, shown before the next START
        self._pending_init_ms: float | None = None
        self._init_error: dict[str, Any] | None = None
        self._oom_flag = False
        self._peak_rss = 0
        self._memory_bytes = config.memory_size * 1024 * 1024
        # its /tmp, one new directory in the sandbox's envs/ (on ext4 every new inode costs
        # 0.1-0.8 ms while many were deleted lately: a burst makes a thousand of them), one
        # at a time: concurrent mkdirs in one directory spin on its lock in the kernel (9 % of
        # the supervisor's CPU in a burst), where waiters for ours sleep
        tmp_dir = f"{sandbox.envs_dir}/{self.environment_id}"
        with sandbox.envs_dir_lock:
            os.mkdir(tmp_dir)
        self.tmp_path = tmp_dir
        self._spec = self._build_spec(tmp_dir)
        self._platform = PlatformLog(config.log_format, config.system_log_level, config.region)
        #: Active tracing: our own sampling decision, a Parent of our own, REPORT's XRAY line
        self._active = config.tracing_mode == "Active"
        rule = getattr(sandbox, "sampling_rule", None) or DEFAULT_SAMPLING_RULE
        arn = config.function_arn
        self._sample: Callable[[], bool] = lambda: rule.sample(arn)

    @property
    def tmp_dir(self) -> Path:
        """The directory behind the environment's /tmp (``tmp_path``, as a Path)."""
        return Path(self.tmp_path)

    # -- lifecycle ------------------------------------------------------------------------------
    def _record(self, state: State, t: float | None = None) -> None:
        t = time.time() if t is None else t
        self.state = state
        # the plain str value ("READY"), not the enum member: a member is an object the
        # garbage collector tracks, so each (t, member) pair stayed tracked for as long as the
        # history keeps it (10,000 per environment) and, two per request, drove full collections
        self.transitions.append((t, state._value_))
        if self.listeners:
            for listener in self.listeners:
                listener(self, state, t)

    def _build_spec(self, tmp_dir: str) -> dict[str, Any]:
        cfg = self.config
        task_root = cfg.task_root
        opt_dir = self.sandbox.layers_dir(cfg.layers)
        pyver = f"python{cfg.runtime.removeprefix('python')}"
        prefix = [task_root]
        if opt_dir:
            prefix += [f"{opt_dir}/python/lib/{pyver}/site-packages", f"{opt_dir}/python"]
        env = {
            "_HANDLER": cfg.handler,
            "AWS_REGION": cfg.region,
            "AWS_DEFAULT_REGION": cfg.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{cfg.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": cfg.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": cfg.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": self.initialization_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": cfg.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
            "AWS_LAMBDA_LOG_FORMAT": cfg.log_format,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": _RUNTIME_DIR,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin/:/bin" + (f":{opt_dir}/bin" if opt_dir else ""),
            "LD_LIBRARY_PATH": f"{task_root}:{task_root}/lib"
            + (f":{opt_dir}/lib" if opt_dir else ""),
            "TMPDIR": tmp_dir,
            "_X_AMZN_TRACE_ID": "",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        if cfg.application_log_level:
            env["AWS_LAMBDA_LOG_LEVEL"] = cfg.application_log_level
        env.update(self.sandbox.extra_environment)
        env.update(cfg.environment)
        return {
            "handler": cfg.handler,
            "task_root": task_root,
            "opt_dir": opt_dir,
            "tmp_dir": tmp_dir,
            "env": env,
            "path_prefix": prefix,
            "handler_files": locate(task_root, cfg.handler),
            "log_format": cfg.log_format,
            "log_level": cfg.application_log_level,
        }

    def _limit_spec(self) -> dict[str, Any]:
        cfg = self.config
        # the zygote's pages are shared and charged to it, so the environment's own limit is
        # the configured size minus that share: the process tree then tops out at memory_size
        own = max(self._memory_bytes - self.sandbox.zygote_rss, 16 * 1024 * 1024)
        if not self.sandbox.backend.enforces_memory:
            # the RSS watchdog enforces memory_size; RLIMIT_DATA is only a backstop above it
            own = self._memory_bytes + self._memory_bytes // 4
        return {
            "memory_bytes": own,
            "cpu_share": cfg.cpu_share,
            "pids_max": 1024,
            "nofile": 1024,
            "fsize_bytes": cfg.ephemeral_storage * 1024 * 1024,
        }

    def _start_process(self, time_limit: float) -> tuple[str, float, dict[str, Any]]:
        """Fork the runtime and run init. Returns (status, init_ms, info) where status is
        "ready", "error" (info = error object) or "timeout"."""
        self._frames = P.FrameBuffer()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe2(os.O_CLOEXEC)
        try:
            fcntl.fcntl(log_r, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        os.set_blocking(log_r, False)
        self._sock, self._log_r = ours, log_r
        self._poll = select.poll()
        self._poll.register(ours.fileno(), select.POLLIN)
        self._poll.register(log_r, select.POLLIN)
        self._oom_flag = False
        self._peak_rss = 0  # Max Memory Used is per runtime process, as on AWS after a reset
        t0 = time.perf_counter()
        try:
            handle = self.sandbox._next_launcher().spawn(
                self.environment_id,
                {
                    "spec": self._spec,
                    "limits": self._limit_spec(),
                    "mode": self.sandbox.launch_mode,
                    "isolate": self.sandbox.isolate,
                },
                theirs.fileno(),
                log_w,
            )
        finally:
            theirs.close()
            os.close(log_w)
        self._handle = handle
        kind, body = self._wait(time.monotonic() + time_limit)
        init_ms = (time.perf_counter() - t0) * 1000
        if kind == P.READY:
            info = json.loads(body)
            self.pid = info["pid"]
            if handle.group is None:  # READY can overtake the zygote's "spawned" message
                handle.group = info["group"]
            self.init_phases = {
                "platform_ms": init_ms - info["function_init_ms"],
                "runtime_init_ms": info["runtime_init_ms"],
                "function_init_ms": info["function_init_ms"],
            }
            self.sandbox._watch(self)
            return "ready", init_ms, info
        if kind == P.INIT_ERROR:
            self._await_exit()
            return "error", init_ms, json.loads(body)
        if kind == _TIMEOUT:
            self._kill_process()
            return "timeout", init_ms, {}
        reason, error_type = self._exit_reason()
        return (
            "error",
            init_ms,
            {
                "errorMessage": f"Error: {reason}",
                "errorType": error_type,
                "requestId": "",
                "stackTrace": [],
            },
        )

    def _init(self, phase: str, time_limit: float) -> tuple[bool, float, dict[str, Any] | None]:
        """Run init; on failure leave the INIT_REPORT in the pending log and the process gone."""
        self._record(State.INITIALIZING)
        self._pending_log += self._platform.init_start(self.config.function_arn)
        status, init_ms, info = self._start_process(time_limit)
        self._pending_log += self._take_log()
        if status == "ready":
            self._init_error = None
            return True, init_ms, None
        error = (
            info
            if status == "error"
            else {
                "errorMessage": f"Init timed out after {time_limit:.2f} seconds"
                if phase == "init"
                else "Task timed out",
                "errorType": "Sandbox.Timedout",
                "requestId": "",
                "stackTrace": [],
            }
        )
        self._pending_log += self._platform.init_report(
            init_ms, phase, status, None if status == "timeout" else error["errorType"]
        )
        self._init_error = error
        self._close_channel()
        self._record(State.RESET)
        return False, init_ms, error

    def start(self) -> None:
        """The Init phase of a new environment, bounded by the 10 s init limit."""
        with self._lock:
            ok, init_ms, _ = self._init("init", self.sandbox.init_timeout)
            if not ok:
                return
            if self.initialization_type == "provisioned-concurrency":
                # initialised ahead of any request: no cold start, no Init Duration in REPORT;
                # AWS always writes the INIT_REPORT for provisioned environments instead
                self._pending_log += self._platform.init_report(init_ms, "init", "success", None)
                self.init_duration_ms = init_ms
            else:
                self._pending_init_ms = init_ms
            self._record(State.READY)

    # -- invoke ---------------------------------------------------------------------------------
    def invoke(
        self,
        payload: bytes | str | Any = b"",
        *,
        client_context: dict[str, Any] | None = None,
        identity: dict[str, Any] | None = None,
        trace_header: str | None = None,
        invoked_function_arn: str | None = None,
        request_id_: str | None = None,
        checked: bool = False,
    ) -> Invocation:
        """Run one request to completion and return its record. Function errors, timeouts and
        crashes are part of the record; only platform misuse raises.

        ``payload`` as bytes is the raw JSON document (as boto3's ``Payload``); any other value,
        a str included, is the event itself and is JSON-encoded. ``checked`` says the bytes
        were already parsed once (the Invoke API checks them before admission), so they are
        not parsed again here.
        """
        if isinstance(payload, (bytes, bytearray)):
            if payload and not checked:
                try:
                    json.loads(payload)
                except ValueError as exc:
                    raise InvalidRequestContentException(
                        f"Could not parse request body into json: Could not parse payload into "
                        f"json: {exc}"
                    ) from None
        else:
            payload = _encode_event(payload).encode()
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            raise RequestTooLargeException(
                f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes "
                "for the InvokeFunction operation"
            )
        with self._lock:
            if self.state in _GONE:
                raise ResourceConflictException(
                    f"Execution environment {self.environment_id} is {self.state.value}"
                )
            if trace_header is None:
                rid, trace = request_and_trace(self._active and self._sample())
            else:
                rid, trace = request_and_trace()
                trace = continue_trace(trace_header, trace, self._sample if self._active else None)
            return self._invoke_locked(
                bytes(payload),
                client_context,
                identity,
                trace,
                invoked_function_arn,
                request_id_ or rid,
            )

    def _invoke_locked(
        self,
        payload: bytes,
        client_context: dict[str, Any] | None,
        identity: dict[str, Any] | None,
        trace_header: str | None,
        invoked_arn: str | None,
        rid: str,
    ) -> Invocation:
        cfg = self.config
        started_at = time.time()
        t0 = time.perf_counter()
        timeout_s = cfg.timeout
        deadline = time.monotonic() + timeout_s
        trace = trace_header
        cold = self._pending_init_ms is not None
        init_ms = self._pending_init_ms
        self._pending_init_ms = None
        if self.state is _RESET:
            # after a failed init the retry runs inside the invoke ("suppressed init"), bounded by
            # the function timeout; after a crash or timeout it is an ordinary cold start
            phase = "invoke" if self._init_error is not None else "init"
            ok, ms, error = self._init(
                phase, timeout_s if phase == "invoke" else self.sandbox.init_timeout
            )
            cold = True
            if not ok:
                assert error is not None
                return self._finish_failed_init(rid, trace, started_at, t0, error)
            if phase == "init":
                init_ms = ms
                t0 = time.perf_counter()
                started_at = time.time()
                deadline = time.monotonic() + timeout_s
        elif self.state is _FROZEN:
            self.sandbox.backend.thaw(self._group, self.pid or 0)
        self._record(_BUSY, started_at)
        head = self._pending_log + self._platform.start(rid, cfg.version)
        self._pending_log = ""
        deadline_ms = int((started_at + timeout_s) * 1000)
        meta_b = P.pack_meta(
            rid, deadline_ms, invoked_arn or cfg.function_arn, trace, client_context, identity
        )
        assert self._sock is not None
        self.sandbox._busy(self, True)
        try:
            P.send_frame(self._sock, P.INVOKE, meta_b, payload)
            kind, body = self._wait(deadline)
        except OSError:
            kind, body = _EOF, b""
        finally:
            self.sandbox._busy(self, False)
        duration = (time.perf_counter() - t0) * 1000
        self.invocation_count += 1
        tail = ""
        error_type: str | None = None
        function_error: str | None = None
        status = "success"
        report_error: str | None = None
        if kind == P.RESULT or kind == P.ERROR:
            rss = P.RSS.unpack_from(body)[0]
            if rss > self._peak_rss:
                self._peak_rss = rss
            body = body[P.RSS.size :]
            if kind == P.ERROR:
                function_error = "Unhandled"
                status = "error"
                error_type = json.loads(body).get("errorType")
            elif len(body) > RESPONSE_LIMIT:
                function_error, status, error_type = (
                    "Unhandled",
                    "error",
                    "Function.ResponseSizeTooLarge",
                )
                body = _compact(
                    {
                        "errorMessage": "Response payload size exceeded maximum allowed "
                        f"payload size ({RESPONSE_LIMIT} bytes).",
                        "errorType": error_type,
                    }
                ).encode()
            next_state = _READY
        elif kind == _TIMEOUT:
            self._note_peak()
            self._kill_process()
            status, error_type, function_error = "timeout", "Sandbox.Timedout", "Unhandled"
            tail = self._platform.timed_out(rid, timeout_s)
            body = _compact(
                {
                    "errorMessage": f"RequestId: {rid} Error: Task timed out after "
                    f"{timeout_s:.2f} seconds",
                    "errorType": error_type,
                }
            ).encode()
            next_state = _RESET
        else:  # the runtime process died under the request
            reason, error_type = self._exit_reason()
            status, function_error, report_error = "error", "Unhandled", error_type
            tail = self._platform.exited(rid, reason, error_type)
            body = _compact(
                {"errorMessage": f"RequestId: {rid} Error: {reason}", "errorType": error_type}
            ).encode()
            next_state = _RESET
        if next_state is _RESET:
            self._close_channel()
        log = head + self._take_log() + tail
        return self._complete(
            rid,
            trace,
            started_at,
            duration,
            init_ms,
            cold,
            body,
            function_error,
            error_type,
            status,
            report_error if status == "error" else error_type,
            log,
            next_state,
        )

    def _finish_failed_init(
        self, rid: str, trace: str, started_at: float, t0: float, error: dict[str, Any]
    ) -> Invocation:
        duration = (time.perf_counter() - t0) * 1000
        error_type = error["errorType"]
        head = self._pending_log + self._platform.start(rid, self.config.version)
        self._pending_log = ""
        status = "timeout" if error_type == "Sandbox.Timedout" else "error"
        if status == "timeout":
            tail = self._platform.timed_out(rid, self.config.timeout)
            error = {
                "errorMessage": f"RequestId: {rid} Error: Task timed out after "
                f"{self.config.timeout:.2f} seconds",
                "errorType": error_type,
            }
        else:
            tail = (
                "" if self._platform.json else f"Unknown application error occurred\n{error_type}\n"
            )
        return self._complete(
            rid,
            trace,
            started_at,
            duration,
            None,
            True,
            _compact(error).encode(),
            "Unhandled",
            error_type,
            status,
            error_type,
            head + tail,
            State.RESET,
        )

    def _complete(
        self,
        rid: str,
        trace: str,
        started_at: float,
        duration: float,
        init_ms: float | None,
        cold: bool,
        body: bytes,
        function_error: str | None,
        error_type: str | None,
        status: str,
        report_error: str | None,
        log: str,
        next_state: State,
    ) -> Invocation:
        cfg = self.config
        billed_base = duration + (
            init_ms or 0.0 if self.initialization_type == "on-demand" else 0.0
        )
        billed = max(1, math.ceil(billed_base))
        if status != "success" and report_error == "Runtime.OutOfMemory":
            max_used = cfg.memory_size
        else:
            max_used = min(max(1, round(self._peak_rss / 1048576)), cfg.memory_size)
        log += self._platform.end_report(
            rid,
            status,
            duration,
            billed,
            cfg.memory_size,
            max_used,
            init_ms,
            report_error,
            trace if self._active else None,
        )
        dropped, self._log_dropped = self._log_dropped, 0
        if dropped:
            log += f"[lambda-lab] {dropped} bytes of output were not kept (1 MiB per invocation)\n"
        # the fields in Invocation's order, as one tuple: 0.35 us, where 21 keywords cost 3.3
        inv = _new_tuple(
            Invocation,
            (
                rid,
                cfg.function_name,
                cfg.version,
                self.environment_id,
                self.log_stream_name,
                body,
                function_error,
                error_type,
                status,
                cold,
                self.initialization_type,
                init_ms,
                round(duration, 3),
                billed,
                cfg.memory_size,
                max_used,
                started_at,
                time.time(),
                trace,
                log,
                dropped,
            ),
        )
        self.last_used = time.monotonic()
        if self.state not in _GONE:
            self._record(next_state)
            if next_state is _READY:
                self.sandbox._idle(self)
        return inv

    # -- waiting, logs, exits -----------------------------------------------------------------
    def _wait(self, deadline: float) -> tuple[int, bytes]:
        """Wait for the next frame from the worker while collecting its output: ``(kind,
        body)``, or ``(_TIMEOUT, b"")`` / ``(_EOF, b"")``.

        Output is drained before the socket is read: the worker writes its output before its
        result, so when the result is readable, any output of the request is already in the
        pipe and ``poll`` reports both in the same call.
        """
        sock, log_r, frames = self._sock, self._log_r, self._frames
        assert sock is not None
        if len(frames):
            frame = frames.pop()
            if frame is not None:
                return frame
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return _TIMEOUT, b""
            events = self._poll.poll(math.ceil(left * 1000))
            if len(events) > 1 or (events and events[0][0] == log_r):
                self._drain_log()
            for fd, _ev in events:
                if fd == log_r:
                    continue
                try:
                    data = sock.recv(_RECV_SIZE)
                except OSError:
                    data = b""
                if not data:
                    self._drain_log()
                    return _EOF, b""
                frame = frames.feed_pop(data)
                if frame is not None:
                    return frame

    def _drain_log(self) -> None:
        fd = self._log_r
        if fd < 0:
            return
        while True:
            try:
                chunk = os.read(fd, _RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not chunk:
                try:
                    self._poll.unregister(fd)
                except KeyError:
                    pass
                return
            room = LOG_CAPTURE_LIMIT - len(self._log)
            if room >= len(chunk):
                self._log += chunk
            else:
                if room > 0:
                    self._log += chunk[:room]
                self._log_dropped += len(chunk) - max(room, 0)

    def _take_log(self) -> str:
        if not self._log:
            return ""
        text = self._log.decode("utf-8", "backslashreplace")
        self._log = bytearray()
        return text

    def _await_exit(self, timeout: float = 2.0) -> None:
        if self._handle is not None:
            self._handle.exited.wait(timeout)

    def _note_peak(self) -> None:
        """Peak memory of a process that died before it could report its own."""
        peak = self.sandbox.backend.memory_peak_bytes(self._group) if self._group else None
        floor = self.sandbox.zygote_rss + (peak or 0)
        self._peak_rss = max(self._peak_rss, floor)

    def _exit_reason(self) -> tuple[str, str]:
        """Why the runtime process ended, in AWS's words, and the error type."""
        self._await_exit()
        handle = self._handle
        self._drain_log()
        self._note_peak()
        if handle is None:
            return "Runtime exited without providing a reason", "Runtime.ExitError"
        oom = self._oom_flag or bool(self._group and self.sandbox.backend.oom_kills(self._group))
        if handle.spawn_error:
            return f"Runtime failed to start: {handle.spawn_error}", "Runtime.ExitError"
        if handle.exit_signal is not None:
            name = _SIGNAL_NAMES.get(handle.exit_signal, f"signal {handle.exit_signal}")
            if oom:
                return f"Runtime exited with error: signal: {name}", "Runtime.OutOfMemory"
            return f"Runtime exited with error: signal: {name}", "Runtime.ExitError"
        if handle.exit_code:
            return f"Runtime exited with error: exit status {handle.exit_code}", "Runtime.ExitError"
        return "Runtime exited without providing a reason", "Runtime.ExitError"

    @property
    def _group(self) -> str:
        """The limits groups of the current runtime process (one set per process, not per
        environment: a re-init after a reset gets fresh ones from the zygote's pool)."""
        handle = self._handle
        return handle.group if handle is not None and handle.group else ""

    def _kill_process(self) -> None:
        handle = self._handle
        if handle is None:
            return
        handle.spawned.wait(2.0)
        if handle.pid is not None and not handle.exited.is_set():
            self.sandbox.backend.kill(self._group, handle.pid)
        self._await_exit(5.0)
        self._drain_log()

    def _close_channel(self) -> None:
        self.sandbox._unwatch(self)
        if (
            self._handle is not None
            and self._handle.pid is not None
            and not self._handle.exited.is_set()
        ):
            self._kill_process()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._log_r >= 0:
            self._drain_log()
            os.close(self._log_r)
            self._log_r = -1
        self.pid = None
        if self._group:
            self.sandbox.backend.destroy(self._group)

    def _on_memory_exceeded(self) -> None:
        self._oom_flag = True

    # -- freeze and shutdown ------------------------------------------------------------------
    def try_freeze(self, idle_since: float) -> bool:
        """Freeze if still idle since ``idle_since``; never waits for a busy environment."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self.state is not State.READY or self.last_used != idle_since or self.pid is None:
                return False
            self.sandbox.backend.freeze(self._group, self.pid)
            self._record(State.FROZEN)
            return True
        finally:
            self._lock.release()

    def shutdown(self, grace: float | None = None) -> None:
        """SIGTERM, then SIGKILL after the grace period; remove /tmp and the limits groups."""
        grace = self.sandbox.shutdown_grace if grace is None else grace
        with self._lock:
            if self.state is State.DEAD:
                return
            was_frozen = self.state is State.FROZEN
            self._record(State.SHUTTING_DOWN)
            handle = self._handle
            if handle is not None and handle.pid is not None and not handle.exited.is_set():
                backend = self.sandbox.backend
                if was_frozen:
                    backend.thaw(self._group, handle.pid)
                try:
                    backend.terminate(self._group, handle.pid)
                except OSError:
                    pass
                if not handle.exited.wait(grace):
                    backend.kill(self._group, handle.pid)
                    handle.exited.wait(5.0)
                backend.kill(self._group, handle.pid)  # descendants still in the group
            self._close_channel()
            shutil.rmtree(self.tmp_path, ignore_errors=True)
            self._record(State.DEAD)
        self.sandbox._forget(self)

    def __repr__(self) -> str:
        return (
            f"<ExecutionEnvironment {self.config.function_name}:{self.config.version} "
            f"{self.environment_id[:8]} {self.state.value} invocations={self.invocation_count}>"
        )
