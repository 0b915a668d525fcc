"""``lambda-lab``: invoke a function from a shell, the way ``aws lambda invoke`` does, or serve
the AWS endpoint (``serve``) that boto3, the AWS CLI and SAM talk to.

The command exists so a handler can be tried without a notebook (and from CI scripts): it
builds one sandbox and one execution environment, invokes it, and follows the AWS CLI's
conventions a learner already knows: the response payload on stdout, the log (``--log-type
Tail``) on stderr, ``An error occurred (Code) when calling the Op operation: message`` for
API errors.

Exit codes: 0 success, 1 a function error (the payload is then the error object, like the
``FunctionError`` field of the AWS CLI's output), 2 a usage or API error.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .config import FunctionConfig
from .errors import LambdaError
from .sandbox import LimitsUnavailable, Sandbox

__all__ = ["main"]

EXIT_OK = 0
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


class _ApiError(Exception):
    """An error the AWS CLI would report as a service error, before or after the call."""

    def __init__(self, code: str, operation: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.message = message


# -- argument parsing ----------------------------------------------------------------------------
def _env_pair(text: str) -> tuple[str, str]:
    """``K=V`` as argparse sees it; the value may itself contain ``=``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--launch-mode",
        choices=("zygote", "spawn"),
        default="zygote",
        help="fork environments from a warm zygote (fast) or exec a fresh "
        "interpreter per environment (default: %(default)s)",
    )
    parser.add_argument(
        "--limits",
        choices=("auto", "cgroup", "cgroup-v1", "cgroup-v2", "rlimit"),
        default="auto",
        help="limits backend: auto picks cgroups when writable, else rlimits and "
        "watchdogs; cgroup-v1 / cgroup-v2 force one hierarchy "
        "(default: %(default)s)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-lab",
        description="Run AWS Lambda functions locally, with the real lifecycle and limits.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    inv = sub.add_parser(
        "invoke",
        help="invoke a handler in a fresh execution environment",
        description="Create an execution environment for CODE_DIR, run Init, invoke it "
        "(--repeat times: the first is a cold start, the rest warm). The response "
        "payload goes to stdout, one per line; the log goes to stderr.",
    )
    inv.add_argument(
        "code_dir",
        metavar="CODE_DIR",
        type=Path,
        help="task root: the directory holding the handler module",
    )
    inv.add_argument("--handler", required=True, help="module.function, e.g. app.handler")
    inv.add_argument("--function-name", help="function name (default: from CODE_DIR)")
    event = inv.add_mutually_exclusive_group()
    event.add_argument("--event", metavar="JSON", help="the event, as JSON text (default: {})")
    event.add_argument(
        "--event-file", metavar="FILE", help="read the event from FILE ('-' for stdin)"
    )
    inv.add_argument(
        "--memory-size",
        type=int,
        default=128,
        metavar="MB",
        help="memory in MB, 128-10240 (default: %(default)s)",
    )
    inv.add_argument(
        "--timeout",
        type=int,
        default=3,
        metavar="SECONDS",
        help="function timeout, 1-900 (default: %(default)s)",
    )
    inv.add_argument(
        "--env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="K=V",
        help="an environment variable for the function (repeatable)",
    )
    inv.add_argument(
        "--log-format",
        choices=("Text", "JSON"),
        default="Text",
        help="log format of the function (default: %(default)s)",
    )
    inv.add_argument(
        "--log-type",
        choices=("Tail", "None"),
        default="Tail",
        help="Tail prints the whole log of each invocation to stderr; None prints "
        "no log (default: %(default)s)",
    )
    inv.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        metavar="N",
        help="invoke N times in the same environment (default: %(default)s)",
    )
    _add_sandbox_options(inv)
    inv.set_defaults(run=_cmd_invoke)

    info = sub.add_parser(
        "info",
        help="show which limits backend, freezer and isolation are active on this host, as JSON",
    )
    _add_sandbox_options(info)
    info.set_defaults(run=_cmd_info)

    serve = sub.add_parser(
        "serve",
        help="serve the AWS Lambda API, and every other AWS service (moto), on one endpoint",
        description="Run the local Lambda service behind one HTTP endpoint, like LocalStack's: "
        "requests signed for lambda are served here, every other AWS service by the "
        "embedded moto. Prints the endpoint URL on stdout; stops on Ctrl-C or SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=4566, help="port, 0 for any free one (default: %(default)s)"
    )
    serve.add_argument(
        "--home",
        type=Path,
        metavar="DIR",
        help="directory for the functions' code (default: a temporary directory, removed on exit)",
    )
    serve.add_argument(
        "--pin-platform",
        nargs="?",
        const="on",
        default="auto",
        choices=("auto", "on", "off"),
        help="keep the service's own process on one core and the environments on the others "
        "(more invokes per second from concurrent clients on a small machine): 'on' (the "
        "flag alone) throughout, 'auto' (default) while the service is the bottleneck, 'off' "
        "never",
    )
    _add_sandbox_options(serve)
    serve.set_defaults(run=_cmd_serve)
    return parser


# -- commands ------------------------------------------------------------------------------------
def _function_name(args: argparse.Namespace) -> str:
    """An explicit name is validated as given; a derived one is made valid, since the user
    never typed it."""
    if args.function_name is not None:
        return str(args.function_name)
    derived = _NAME_CHARS.sub("-", args.code_dir.resolve().name).strip("-")[:64]
    return derived or "function"


def _read_event(args: argparse.Namespace) -> bytes:
    """The payload bytes, checked to be JSON as the Invoke API checks them before any function
    runs (the runtime alone would only fail later, inside the environment)."""
    if args.event_file is not None:
        if args.event_file == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                data = Path(args.event_file).read_bytes()
            except OSError as exc:
                raise _ApiError(
                    "InvalidParameterValueException",
                    "Invoke",
                    f"Cannot read event file '{args.event_file}': {exc.strerror}",
                ) from None
    elif args.event is not None:
        data = args.event.encode()
    else:
        data = b"{}"
    if data.strip():
        try:
            json.loads(data)
        except ValueError as exc:
            raise _ApiError(
                "InvalidRequestContentException",
                "Invoke",
                f"Could not parse request body into json: {exc}",
            ) from None
    return data


def _cmd_invoke(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    payload = _read_event(args)
    try:
        config = FunctionConfig(
            function_name=_function_name(args),
            handler=args.handler,
            code=args.code_dir,
            memory_size=args.memory_size,
            timeout=args.timeout,
            environment=dict(args.env),
            log_format=args.log_format,
        )
    except LambdaError as exc:
        raise _ApiError(exc.code, "CreateFunction", exc.message) from None
    code = EXIT_OK
    with Sandbox(launch_mode=args.launch_mode, limits=args.limits) as sandbox:
        env = sandbox.create_environment(config)
        for _ in range(args.repeat):
            try:
                inv = env.invoke(payload)
            except LambdaError as exc:
                raise _ApiError(exc.code, "Invoke", exc.message) from None
            if args.log_type == "Tail":
                err.write(inv.log)
                err.flush()
            out.write(inv.payload.decode("utf-8", "backslashreplace") + "\n")
            out.flush()
            if inv.function_error:
                code = EXIT_FUNCTION_ERROR
    return code


def _cmd_info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .observe._retention import max_bytes_from_env
    from .runtime import default_store_path

    try:
        max_bytes = max_bytes_from_env()
    except ValueError as exc:
        err.write(f"lambda-lab: error: {exc}\n")
        return EXIT_USAGE
    with Sandbox(launch_mode=args.launch_mode, limits=args.limits) as sandbox:
        description: dict[str, Any] = sandbox.describe()
    store = default_store_path()  # looked at, not opened: info creates nothing
    description["store"] = {
        "path": str(store),
        "max_bytes": max_bytes,
        "file_bytes": store.stat().st_size if store.is_file() else 0,
    }
    out.write(json.dumps(description, indent=2, default=str) + "\n")
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve until SIGINT/SIGTERM, then close the runtime (endpoint, service, clock, sandbox
    with its zygote and every environment), so no process outlives us."""
    from .runtime import LambdaRuntime

    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        try:
            runtime = LambdaRuntime(
                home=args.home,
                host=args.host,
                port=args.port,
                launch_mode=args.launch_mode,
                limits_backend=args.limits,
                pin_platform={"on": True, "off": False}.get(args.pin_platform, "auto"),
            )
        except OSError as exc:
            err.write(f"lambda-lab: error: cannot listen on {args.host}:{args.port}: {exc}\n")
            return EXIT_USAGE
        with runtime:
            out.write(f"{runtime.endpoint_url}\n")
            out.flush()
            err.write(
                f"lambda-lab: AWS endpoint at {runtime.endpoint_url} (Lambda here, other "
                "services by moto); Ctrl-C to stop\n"
            )
            err.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lambda-lab`` console script; returns the exit code."""
    out, err = sys.stdout, sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.run(args, out, err))
    except _ApiError as exc:
        err.write(
            f"\nAn error occurred ({exc.code}) when calling the {exc.operation} "
            f"operation: {exc.message}\n"
        )
        return EXIT_USAGE
    except LambdaError as exc:  # the sandbox itself refused (bad launch mode, zygote gone)
        err.write(f"\nAn error occurred ({exc.code}): {exc.message}\n")
        return EXIT_USAGE
    except LimitsUnavailable as exc:
        err.write(f"lambda-lab: error: --limits {args.limits} is not available here: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # the sandbox's context manager has already cleaned up
        return EXIT_INTERRUPTED
