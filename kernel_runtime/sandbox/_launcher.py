"""Supervisor side of the zygote: start it, ask it to fork environments, hear about exits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._affinity import batched, environment_cpus
from ..errors import SandboxUnavailable

__all__ = ["Launcher", "ProcessHandle"]

_PKG_PARENT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from kernel_runtime.sandbox._zygote import main; main()"
)


def _zygote_environment() -> dict[str, str]:
    """The zygote needs almost no environment (every runtime gets its own from its spec);
    keeping it tiny keeps the per-environment copy-on-write cost of replacing it tiny too."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep}


def _site_dirs() -> list[str]:
    """This interpreter's site-packages directories (a venv's when we run in one), for the
    zygote, which starts without ``site`` (``-S``)."""
    import site

    return [d for d in site.getsitepackages() if os.path.isdir(d)]


@dataclass
class ProcessHandle:
    """One process generation of an environment, as the zygote reports it."""

    env_id: str
    pid: int | None = None
    group: str | None = None  # the limits groups of this process tree
    spawn_error: str | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    spawned: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    on_exit: Any = None  # callable(handle) run on the launcher's reader thread


class Launcher:
    """Owns the zygote process and the reader thread for its control socket."""

    def __init__(
        self,
        *,
        limits: str,
        runtime_id: str,
        preload: tuple[str, ...] = (),
        isolate: bool = True,
        pool_size: int = 2,
        start_timeout: float = 60.0,
        orphaned_dirs: Sequence[str] = (),
    ) -> None:
        self._lock = threading.Lock()
        # One sender at a time. The control socket holds about 90 requests; once it is full, a
        # unix datagram socket wakes every blocked writer each time the zygote reads one, so a
        # burst of 1,000 cold starts cost ~400 context switches per request (measured). Behind
        # a lock the others sleep until their turn.
        self._send_lock = threading.Lock()
        self._handles: dict[str, ProcessHandle] = {}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._ctl = ours
        args = {
            "limits": limits,
            "runtime_id": runtime_id,
            "preload": list(preload),
            "isolate": isolate,
            "owner_pid": os.getpid(),
            "orphaned_dirs": list(orphaned_dirs),
            "cpus": environment_cpus(),
            "unbatch": batched(),
            "site_dirs": _site_dirs(),
        }
        # -S: no site, whose .pth files import what the zygote never needs (an editable
        # install's finder brings pathlib, urllib and ipaddress: ~0.7 MB of heap and the
        # page-table copies of it at every fork); it adds the site-packages itself
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-S",
                "-c",
                _BOOT,
                _PKG_PARENT,
                str(theirs.fileno()),
                json.dumps(args),
            ],
            pass_fds=[theirs.fileno()],
            env=_zygote_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        theirs.close()
        ours.settimeout(start_timeout)
        try:
            first = json.loads(ours.recv(1 << 16) or b'{"op": "failed", "error": "zygote exited"}')
        except (OSError, ValueError) as exc:
            self._kill()
            raise SandboxUnavailable(f"the zygote did not start: {exc}") from exc
        ours.settimeout(None)
        if first.get("op") != "ready":
            self._kill()
            raise SandboxUnavailable(f"the zygote did not start: {first.get('error')}")
        self.pid: int = first["pid"]
        self.rss: int = first["rss"]
        self.isolation: bool = first["isolation"]
        self.private_tmp: bool = first["private_tmp"]
        self.backend_info: dict[str, Any] = first["backend"]
        #: whether it forks without the interpreter's at-fork work (``_zygote.fork_child``)
        self.bare_fork: bool = first["bare_fork"]
        self.alive = True
        self._reader = threading.Thread(
            target=self._read_loop, name="lambda-lab-zygote-reader", daemon=True
        )
        self._reader.start()

    def spawn(
        self, env_id: str, message: dict[str, Any], sock_fd: int, log_fd: int
    ) -> ProcessHandle:
        """Ask the zygote to fork an environment; returns at once with a handle to watch."""
        handle = ProcessHandle(env_id)
        with self._lock:
            if not self.alive:
                raise SandboxUnavailable("the zygote is not running")
            self._handles[env_id] = handle
        msg = dict(message, op="spawn", env=env_id, pkg_parent=_PKG_PARENT)
        data = json.dumps(msg).encode()
        try:
            with self._send_lock:
                socket.send_fds(self._ctl, [data], [sock_fd, log_fd])
        except OSError as exc:
            with self._lock:
                self._handles.pop(env_id, None)
            raise SandboxUnavailable(f"the zygote is not reachable: {exc}") from exc
        return handle

    def _read_loop(self) -> None:
        while True:
            try:
                data = self._ctl.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            msg = json.loads(data)
            op = msg.get("op")
            with self._lock:
                handle = self._handles.get(msg.get("env", ""))
                if op in ("exited", "spawn_failed"):
                    self._handles.pop(msg.get("env", ""), None)
            if handle is None:
                continue
            if op == "spawned":
                handle.pid = msg["pid"]
                handle.group = msg["group"]
                handle.spawned.set()
            elif op == "spawn_failed":
                handle.spawn_error = msg["error"]
                handle.spawned.set()
                handle.exited.set()
            elif op == "exited":
                handle.exit_code = msg["code"]
                handle.exit_signal = msg["signal"]
                handle.spawned.set()
                handle.exited.set()
                if handle.on_exit is not None:
                    handle.on_exit(handle)
        with self._lock:
            self.alive = False
            orphans = list(self._handles.values())
            self._handles.clear()
        for handle in orphans:
            handle.spawn_error = handle.spawn_error or "the zygote exited"
            handle.spawned.set()
            handle.exited.set()
            if handle.on_exit is not None:
                handle.on_exit(handle)

    def close(self, timeout: float = 5.0) -> None:
        """Tell the zygote to kill what is left and exit; kill it if it does not."""
        try:
            self._ctl.send(json.dumps({"op": "exit"}).encode())
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        self._ctl.close()
        self._reader.join(timeout=1.0)

    def _kill(self) -> None:
        try:
            os.kill(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
