"""The lab's magics: deploy a cell as a function, invoke it, read its logs, list functions.

Each magic makes the same calls the AWS API has (CreateFunction, UpdateFunctionCode, Invoke,
FilterLogEvents ...) on the kernel's runtime (:func:`lab._session.runtime`). A bad command line
prints its usage; an AWS error prints the way the AWS CLI does (``An error occurred (Code) when
calling the Op operation: message``). Neither is a traceback: both are the user's to fix, not
a bug to debug. Lines are not variable-expanded (``{...}`` and ``$`` belong to JSON events and
filter patterns); ``-e VAR`` takes an event from the namespace instead.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, NoReturn

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand

from kernel_runtime import (
    Function,
    InvalidParameterValueException,
    Invocation,
    LambdaError,
    LambdaRuntime,
    ResourceNotFoundException,
)
from kernel_runtime.cli import _env_pair
from kernel_runtime.observe import InvalidFilterPattern

from . import _session

__all__ = ["LIVE_ALIAS", "LambdaMagics", "register", "unregister"]

#: the alias ``--provisioned`` publishes to (provisioned concurrency needs a version or alias)
LIVE_ALIAS = "live"
DEFAULT_HANDLER = "app.handler"
DEFAULT_TAIL = 100


class _Usage(Exception):
    """A command line the magic cannot run; its text (usage and why) is what gets printed."""


class _Failed(Exception):
    """An AWS error, with the operation that raised it (as the AWS CLI reports it)."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(
            f"An error occurred ({code}) when calling the {operation} operation: {message}"
        )
        self.code = code


@contextmanager
def _calling(operation: str) -> Iterator[None]:
    try:
        yield
    except LambdaError as exc:
        raise _Failed(operation, exc.code, exc.message) from exc
    except InvalidFilterPattern as exc:
        raise _Failed(operation, exc.code, str(exc)) from exc


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help text as written, at a fixed width (the terminal's is meaningless in a kernel)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=100)


class _Parser(argparse.ArgumentParser):
    """argparse that reports instead of exiting: a magic must never ``SystemExit`` a kernel."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(
            prog=prog,
            formatter_class=_Formatter,
            **kwargs,
        )

    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{self.format_usage()}{self.prog}: error: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Usage(message or "")  # after --help, which argparse has printed already


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


LAMBDA_PARSER = _Parser(
    "%%lambda",
    description=(
        "Deploy the cell as function NAME: the cell becomes the module app.py (its module-level\n"
        "code is the init phase; the handler defaults to app.handler). The first run creates\n"
        "the function (CreateFunction); later runs update its code (UpdateFunctionCode) and only\n"
        "the settings given here (UpdateFunctionConfiguration)."
    ),
    epilog=(
        "Provisioned concurrency needs a published version or an alias: --provisioned N\n"
        f"publishes a version, points the alias '{LIVE_ALIAS}' at it and provisions N "
        f"environments\nthere; invoke it with --qualifier {LIVE_ALIAS} (0 removes the "
        "configuration).\n\n"
        "Example:\n  %%lambda hello --memory 256 --env GREETING=hi --provisioned 1"
    ),
)
LAMBDA_PARSER.add_argument("name", metavar="NAME", help="the function's name")
LAMBDA_PARSER.add_argument("--memory", type=int, metavar="MB", help="MemorySize, 128-10240 MB")
LAMBDA_PARSER.add_argument("--timeout", type=int, metavar="S", help="Timeout, 1-900 seconds")
LAMBDA_PARSER.add_argument(
    "--env",
    type=_env_pair,
    nargs="*",
    action="extend",
    metavar="K=V",
    help="environment variables; they replace the function's (--env alone clears them)",
)
LAMBDA_PARSER.add_argument(
    "--layer",
    dest="layers",
    nargs="*",
    action="extend",
    metavar="ARN",
    help="layer version ARNs; they replace the function's (--layer alone clears them)",
)
LAMBDA_PARSER.add_argument(
    "--reserved", type=int, metavar="N", help="reserved concurrency (PutFunctionConcurrency)"
)
LAMBDA_PARSER.add_argument(
    "--provisioned",
    type=int,
    metavar="N",
    help=f"provisioned concurrency on the alias '{LIVE_ALIAS}' (publishes a version)",
)
LAMBDA_PARSER.add_argument("--runtime", metavar="python3.x", help="e.g. python3.12")
LAMBDA_PARSER.add_argument(
    "--handler",
    metavar="handler",
    help=f"MODULE.FUNCTION (default {DEFAULT_HANDLER}); the cell becomes MODULE.py",
)
LAMBDA_PARSER.add_argument(
    "--tracing", choices=("Active", "PassThrough"), help="X-Ray tracing mode"
)

INVOKE_PARSER = _Parser(
    "%lambda_invoke",
    usage="%(prog)s NAME [JSON event | -e VAR] [--async] [--qualifier Q]",
    description=(
        "Invoke function NAME with a JSON event written on the line (it may contain spaces)\n"
        "or the value of the variable VAR (JSON-encoded; bytes are sent as they are), and\n"
        "show the Invocation. With --async the event is queued (InvocationType=Event, 202)."
    ),
    epilog='Example:\n  %lambda_invoke hello {"name": "world"}',
)
INVOKE_PARSER.add_argument("name", metavar="NAME", help="function name, name:qualifier or ARN")
INVOKE_PARSER.add_argument("-e", dest="var", metavar="VAR", help="the event is this variable")
INVOKE_PARSER.add_argument(
    "--async", dest="is_async", action="store_true", help="queue it (InvocationType=Event)"
)
INVOKE_PARSER.add_argument("--qualifier", metavar="Q", help="a version or alias")
_INVOKE_VALUE_OPTIONS = frozenset({"-e", "--qualifier"})

LOGS_PARSER = _Parser(
    "%lambda_logs",
    description="Print the latest events of function NAME's log group (FilterLogEvents).",
    epilog="Example:\n  %lambda_logs hello --tail 20 --filter ERROR",
)
LOGS_PARSER.add_argument("name", metavar="NAME", help="the function's name")
LOGS_PARSER.add_argument(
    "--tail",
    type=_positive,
    default=DEFAULT_TAIL,
    metavar="N",
    help=f"how many of the latest events (default {DEFAULT_TAIL})",
)
LOGS_PARSER.add_argument(
    "--filter", metavar="PATTERN", help="a CloudWatch Logs filter pattern (quote it)"
)

LIST_PARSER = _Parser(
    "%lambda_list",
    description="Show the runtime: its functions, their environments and concurrency.",
)


def _parse(parser: _Parser, argv: list[str]) -> argparse.Namespace:
    return parser.parse_args(argv)


def _shell_words(parser: _Parser, line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:  # an unclosed quote
        parser.error(str(exc))


def _split_invoke(line: str) -> tuple[list[str], str | None]:
    """The options and NAME as argv, and the JSON event's text, which may hold spaces and
    quotes that a shell-style split would mangle: it ends where the JSON value ends."""
    decoder = json.JSONDecoder()
    argv: list[str] = []
    event: str | None = None
    have_name = False
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return argv, event
        option = line[i] == "-" and i + 1 < n and not line[i + 1].isdigit()  # -1 is JSON
        if option or not have_name:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            word = line[i:j]
            argv.append(word)
            i = j
            if word in _INVOKE_VALUE_OPTIONS:  # its value is the next word, whatever it is
                while i < n and line[i].isspace():
                    i += 1
                j = i
                while j < n and not line[j].isspace():
                    j += 1
                if j > i:
                    argv.append(line[i:j])
                i = j
            elif not option:
                have_name = True
            continue
        if event is not None:
            INVOKE_PARSER.error("give one event: a JSON value or -e VAR")
        try:
            _, end = decoder.raw_decode(line, i)
        except json.JSONDecodeError as exc:
            INVOKE_PARSER.error(f"the event is not valid JSON: {exc.msg} (at {line[i : i + 20]!r})")
        if end < n and not line[end].isspace():
            INVOKE_PARSER.error(f"the event is not valid JSON: extra data {line[end : end + 20]!r}")
        event, i = line[i:end], end


def _module_file(handler: str) -> str:
    """Where the cell goes: ``app.handler`` -> ``app.py``, ``pkg.mod.fn`` -> ``pkg/mod.py``."""
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    return module.replace(".", "/") + ".py"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")


# -- what the magics do, on a given runtime (testable without IPython) --------------------------
def deploy(rt: LambdaRuntime, args: argparse.Namespace, source: str) -> Function:
    """Create or update function ``args.name`` from ``source`` and the flags given."""
    registry = rt.service.registry
    name = args.name
    with _calling("GetFunction"):
        try:
            current: dict[str, Any] | None = registry.get_function_configuration(name)
        except (ResourceNotFoundException, InvalidParameterValueException):
            current = None  # a malformed name: CreateFunction says what is wrong with it
    changes: dict[str, Any] = {}
    for key, value in (
        ("memory_size", args.memory),
        ("timeout", args.timeout),
        ("runtime", args.runtime),
        ("layers", args.layers),
    ):
        if value is not None:
            changes[key] = value
    if args.env is not None:
        changes["environment"] = {"Variables": dict(args.env)}
    if args.tracing is not None:
        changes["tracing_config"] = {"Mode": args.tracing}
    if current is None:
        handler = args.handler or DEFAULT_HANDLER
        with _calling("CreateFunction"):
            rt.create_function(name, handler, {_module_file(handler): source}, **changes)
    else:
        handler = args.handler or current["Handler"]
        if args.handler is not None:
            changes["handler"] = args.handler
        if changes:  # first: a setting AWS refuses leaves the code as it was too
            with _calling("UpdateFunctionConfiguration"):
                registry.update_function_configuration(name, **changes)
        with _calling("UpdateFunctionCode"):
            registry.update_function_code(name, {_module_file(handler): source})
    if args.reserved is not None:
        with _calling("PutFunctionConcurrency"):
            rt.service.put_function_concurrency(name, args.reserved)
    if args.provisioned is not None:
        _provision(rt, name, args.provisioned)
    return Function(rt, name)


def _provision(rt: LambdaRuntime, name: str, amount: int) -> None:
    """Publish a version, point ``live`` at it, provision ``amount`` there (0: remove)."""
    registry = rt.service.registry
    if amount == 0:
        with _calling("DeleteProvisionedConcurrencyConfig"):
            try:
                rt.service.delete_provisioned_concurrency_config(name, LIVE_ALIAS)
            except ResourceNotFoundException:
                pass  # nothing provisioned (or no alias): nothing to remove
        return
    with _calling("PublishVersion"):
        version = str(registry.publish_version(name)["Version"])
    try:
        registry.get_alias(name, LIVE_ALIAS)
    except ResourceNotFoundException:
        with _calling("CreateAlias"):
            registry.create_alias(name, LIVE_ALIAS, version)
    else:
        with _calling("UpdateAlias"):
            registry.update_alias(name, LIVE_ALIAS, function_version=version)
    with _calling("PutProvisionedConcurrencyConfig"):
        rt.service.put_provisioned_concurrency_config(name, LIVE_ALIAS, amount)


def invoke(rt: LambdaRuntime, args: argparse.Namespace, event: Any) -> Invocation | str:
    """Invoke; the Invocation, or the request id of a queued (``--async``) event."""
    kind = "Event" if args.is_async else "RequestResponse"
    with _calling("Invoke"):
        result = rt.invoke(args.name, event, qualifier=args.qualifier, invocation_type=kind)
    if args.is_async:
        return result.request_id
    assert result.invocation is not None  # a RequestResponse answer always has one
    return result.invocation


def log_lines(rt: LambdaRuntime, args: argparse.Namespace) -> list[str]:
    """The latest ``args.tail`` events of the function's log group, one printable line each."""
    if rt.store is None:
        raise _Usage("this runtime records nothing (it was started with store=False)")
    group = f"/aws/lambda/{args.name}"
    try:
        group = rt.service.registry.get_function_configuration(args.name)["LoggingConfig"][
            "LogGroup"
        ]
    except LambdaError:
        pass  # a deleted function's log group outlives it, as on AWS
    rt.store.flush()  # what the last invoke logged is committed by now
    with _calling("FilterLogEvents"):
        events = rt.store.log_events(
            group, pattern=args.filter, limit=args.tail, start_from_head=False
        )
        if not events and group not in {g["logGroupName"] for g in rt.store.log_groups()}:
            raise ResourceNotFoundException("The specified log group does not exist.")
    lines = []
    for e in events:
        message = e["message"].rstrip("\n").replace("\r", "\n")
        lines.append(f"{_utc(e['timestamp'])} {message}")
    return lines


# -- the magics --------------------------------------------------------------------------------
@magics_class
class LambdaMagics(Magics):
    """``%%lambda``, ``%lambda_invoke``, ``%lambda_logs`` and ``%lambda_list``."""

    def _run(self, body: Callable[..., Any], *args: Any) -> Any:
        try:
            return body(*args)
        except _Usage as exc:
            text = str(exc)
            if text:
                print(text.rstrip("\n"), file=sys.stderr)
        except _Failed as exc:
            print(exc, file=sys.stderr)
        return None

    @no_var_expand
    @cell_magic("lambda")
    def lambda_cell(self, line: str, cell: str) -> Function | None:
        return self._run(self._deploy, line, cell)

    def _deploy(self, line: str, cell: str) -> Function:
        args = _parse(LAMBDA_PARSER, _shell_words(LAMBDA_PARSER, line))
        return deploy(_session.runtime(), args, cell)

    @no_var_expand
    @line_magic("lambda_invoke")
    def lambda_invoke(self, line: str) -> Invocation | None:
        return self._run(self._invoke, line)

    def _invoke(self, line: str) -> Invocation | None:
        argv, text = _split_invoke(line)
        args = _parse(INVOKE_PARSER, argv)
        event: Any = None if text is None else text.encode("utf-8")
        if args.var is not None:
            if text is not None:
                INVOKE_PARSER.error("give one event: a JSON value or -e VAR, not both")
            namespace = self.shell.user_ns if self.shell is not None else {}
            if args.var not in namespace:
                INVOKE_PARSER.error(f"name {args.var!r} is not defined")
            value = namespace[args.var]
            if isinstance(value, (bytes, bytearray, memoryview)):
                event = bytes(value)
            else:
                try:
                    event = json.dumps(value).encode("utf-8")
                except (TypeError, ValueError) as exc:
                    INVOKE_PARSER.error(f"{args.var} is not JSON serializable: {exc}")
        result = invoke(_session.runtime(), args, event)
        if isinstance(result, str):
            print(f"202 Accepted: queued as RequestId {result}")
            return None
        return result

    @no_var_expand
    @line_magic("lambda_logs")
    def lambda_logs(self, line: str) -> None:
        self._run(self._logs, line)

    def _logs(self, line: str) -> None:
        args = _parse(LOGS_PARSER, _shell_words(LOGS_PARSER, line))
        lines = log_lines(_session.runtime(), args)
        print("\n".join(lines) if lines else "(no log events)")

    @no_var_expand
    @line_magic("lambda_list")
    def lambda_list(self, line: str) -> LambdaRuntime | None:
        return self._run(self._list, line)

    def _list(self, line: str) -> LambdaRuntime:
        _parse(LIST_PARSER, _shell_words(LIST_PARSER, line))
        return _session.runtime()

    lambda_cell.__doc__ = LAMBDA_PARSER.format_help()
    lambda_invoke.__doc__ = INVOKE_PARSER.format_help()
    lambda_logs.__doc__ = LOGS_PARSER.format_help()
    lambda_list.__doc__ = LIST_PARSER.format_help()


_MAGIC_NAMES = {"cell": ("lambda",), "line": ("lambda_invoke", "lambda_logs", "lambda_list")}
#: per shell: the LambdaMagics instance registered with it
_registered: dict[int, LambdaMagics] = {}


def register(ip: Any) -> None:
    """Register the magics with ``ip`` (idempotent)."""
    if id(ip) in _registered:
        return
    magics = LambdaMagics(ip)
    ip.register_magics(magics)
    _registered[id(ip)] = magics


def unregister(ip: Any) -> None:
    """Remove the magics :func:`register` added (IPython has no API for it: its tables)."""
    magics = _registered.pop(id(ip), None)
    if magics is None:
        return
    manager = ip.magics_manager
    for kind, names in _MAGIC_NAMES.items():
        table = manager.magics[kind]
        for name in names:
            if getattr(table.get(name), "__self__", None) is magics:
                del table[name]
    if manager.registry.get(type(magics).__name__) is magics:
        del manager.registry[type(magics).__name__]
