"""The zygote: a warm interpreter that forks execution environments on request.

It has imported the worker and frozen its heap (``gc.freeze``) so a fork costs page-table
copies only. It is the parent and subreaper of every environment: it sets PDEATHSIG on each
child, reaps them, reports their exit status, kills escaped descendants, and when its
supervisor goes away (EOF on the control socket) it kills everything it started. Its main
thread is the only one that forks (PDEATHSIG follows the forking thread).

A spawn request carries the environment's spec (JSON) and two fds: the worker end of the
supervisor socketpair and the write end of the log pipe. A parked child (forked while the
zygote was idle) is handed the request over its socket; when none is parked, the zygote forks
a child per request with the request already in hand (``spawn_many``). The zygote itself
starts without ``site``, with a private mount namespace every child copies, and with the
compiler, the invoke path and a handler module's load warmed up before it freezes its heap.
The same child set-up serves the "zygote" launch mode (run the worker in the forked process)
and the "spawn" mode (exec a fresh interpreter), and is where an exec'd custom runtime
bootstrap or a network namespace will be set up later.
"""

from __future__ import annotations

import _signal
import array
import ctypes
import fcntl
import gc
import json
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from . import _direct_import, _limits, _worker

__all__ = ["main"]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
]


# fork(2) called with the GIL held (PyDLL does not release it): see fork_child()
_pyfork = ctypes.PyDLL(None, use_errno=True).fork
_pyfork.restype = ctypes.c_int
_pyfork.argtypes = ()


def fork_child() -> int:
    """``os.fork()`` for a zygote with one thread, without the interpreter's at-fork work.

    ``os.fork()`` re-initialises the interpreter's locks and thread states and runs every
    at-fork hook, repairs for a process whose other threads may have held locks at the fork.
    The zygote has one thread and forks from its loop, holding nothing, so there is nothing
    to repair; yet threading's and logging's hooks touched ~100 of each child's pages and cost
    it 0.6-0.8 ms (measured in bursts). The one hook whose effect a handler could see is
    ``random``'s, or every environment would draw the same numbers: the zygote reseeds just
    before each fork, so the child starts with a state of its own (reseeding in the child cost
    it ~40 page copies, 0.16 ms; here, where those pages are warm, a few microseconds).
    """
    rnd = sys.modules.get("random")
    if rnd is not None:
        rnd.seed()
    pid = _pyfork()
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"fork: {os.strerror(err)}")
    return pid


def _one_thread() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, flags: int) -> None:
    _check(
        _libc.mount(src.encode() if src else None, dst.encode(), None, flags, None),
        f"mount {src} {dst}",
    )


def private_mount_namespace() -> None:
    """A mount namespace of our own whose mounts never propagate back to the host."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", MS_REC | MS_PRIVATE)


def copy_mount_namespace() -> None:
    """A copy of the caller's mount namespace, already private (the zygote's): nothing to
    re-mark, and copying private mounts costs a third of copying the host's shared ones
    (0.12-0.14 ms against 0.33-0.38, plus 0.1 for the re-marking, measured per child)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")


def runtime_under_tmp() -> bool:
    """True when the interpreter, its packages or ours live under /tmp (a clone or venv made
    there): a private /tmp would then hide them from the runtime and from handlers."""
    paths = [
        sys.prefix,
        sys.base_prefix,
        os.path.realpath(sys.executable),
        *sys.path,
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    ]
    return any(p == "/tmp" or p.startswith("/tmp/") for p in paths if p)


def isolate_mounts(task_root: str, opt_dir: str | None, tmp_dir: str | None) -> None:
    """In the private namespace: code read-only at /var/task, layers at /opt, own /tmp."""
    _mount(task_root, "/var/task", MS_BIND | MS_REC)
    _mount(None, "/var/task", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if opt_dir:
        _mount(opt_dir, "/opt", MS_BIND | MS_REC)
        _mount(None, "/opt", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if tmp_dir:
        _mount(tmp_dir, "/tmp", MS_BIND)


_RESET_SIGNALS = tuple(
    int(s) for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
)
_SIG_DFL = int(signal.SIG_DFL)

#: Spawn requests taken at once: their children are forked back to back (``spawn_many``).
_BATCH = 32
_MAX_FDS = 4  # a request carries two: the worker's socket and the log pipe

#: Above any fd the zygote holds: a child closes up to here (one close_range)
_FD_LIMIT = max(os.sysconf("SC_OPEN_MAX"), 1 << 16)

#: Limits a parked child runs under until a request gives it the function's real ones.
_PARK_SPEC = _limits.LimitSpec(memory_bytes=1 << 30, cpu_share=float(os.cpu_count() or 1))


class _Parked:
    """A forked child waiting, already in its own limits groups, for an environment's spec."""

    __slots__ = ("group", "pid", "sock")

    def __init__(self, group: str, pid: int, sock: socket.socket) -> None:
        self.group, self.pid, self.sock = group, pid, sock


class Zygote:
    def __init__(self, ctl: socket.socket, args: dict[str, Any]) -> None:
        self.ctl = ctl
        self.pid = os.getpid()
        self.backend = _limits.detect_limits_backend(
            args["limits"], runtime_id=args["runtime_id"], owner_pid=args["owner_pid"]
        )
        self.pool_size = int(args.get("pool_size", 2))
        self.orphaned_dirs: list[str] = list(args.get("orphaned_dirs", []))
        self.parked: list[_Parked] = []
        self.children: dict[int, tuple[str | None, str]] = {}  # pid -> (env id, group)
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        self.can_isolate = self._isolate_self() if args.get("isolate", True) else False
        self.tmp_under_runtime = runtime_under_tmp()
        # preloaded modules may register at-fork hooks of their own, or start threads
        self.fork = fork_child if not args.get("preload") and _one_thread() else os.fork

    @staticmethod
    def _isolate_self() -> bool:
        """Mount isolation needs root (CAP_SYS_ADMIN) and an existing /var/task mount point.
        The zygote takes a private mount namespace of its own, once: every child copies it
        (``copy_mount_namespace``), so host mounts made later are not seen by environments."""
        if os.geteuid() != 0:
            return False
        try:
            os.makedirs("/var/task", exist_ok=True)
            private_mount_namespace()
        except OSError:  # no CAP_SYS_ADMIN (a container): describe() says isolation is off
            return False
        return True

    def send(self, msg: dict[str, Any]) -> None:
        try:
            self.ctl.send(json.dumps(msg).encode())
        except OSError:
            pass

    def serve(self) -> None:
        poller = select.poll()
        poller.register(self.ctl, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            # refill the pool only when nothing is waiting: a fork must never delay a request
            idle_ms = 0 if len(self.parked) < self.pool_size else None
            try:
                events = poller.poll(idle_ms)
            except InterruptedError:
                continue
            if not events:
                self.park()
                continue
            for fd, _ in events:
                if fd == self.wake_r:
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                    continue
                if not self.serve_requests():
                    return

    def serve_requests(self) -> bool:
        """Take every request waiting (up to a batch): parked children get theirs over their
        socket, the rest are forked back to back holding theirs. False once the zygote must
        stop."""
        spawns: list[tuple[dict[str, Any], list[int], bytes]] = []
        stop = None
        flags = 0
        while len(spawns) < _BATCH:
            try:
                data, fds = _recv_request(self.ctl, flags)
            except (InterruptedError, BlockingIOError):
                break
            except ConnectionResetError:  # it died with our messages unread: the same
                data, fds = b"", []
            flags = socket.MSG_DONTWAIT
            if not data:  # the supervisor died without closing us (a killed kernel)
                stop = "orphaned"
                break
            msg = json.loads(data)
            if msg["op"] == "spawn":
                spawns.append((msg, fds, data))
            else:
                for fd_ in fds:
                    os.close(fd_)
                if msg["op"] == "exit":
                    stop = "exit"
                    break
        if stop is not None:
            for _msg, fds, _data in spawns:
                for fd_ in fds:
                    os.close(fd_)
            self.shutdown()
            if stop == "orphaned":
                self.remove_orphaned_dirs()
            return False
        direct: list[tuple[dict[str, Any], list[int]]] = []
        for msg, fds, data in spawns:
            if self.parked:
                self.spawn(msg, fds, data)
            else:
                direct.append((msg, fds))
        if direct:
            self.spawn_many(direct)
        return True

    # -- children ------------------------------------------------------------------------------
    def park(self) -> _Parked | None:
        """Fork a child into fresh limits groups, where it waits for a spec: the fork, the
        cgroup joins and the copy-on-write faults that follow a fork happen here, off the
        cold-start path."""
        made = self.park_many(1)
        return made[0] if made else None

    def park_many(self, n: int) -> list[_Parked]:
        """Park ``n`` children: their groups and socket pairs first, then the forks back to
        back (see ``spawn_many``)."""
        ready: list[tuple[str, socket.socket, socket.socket]] = []
        for _ in range(n):
            group = _new_group()
            try:
                self.backend.park(group, _PARK_SPEC)
                ready.append((group, *socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)))
            except OSError as exc:
                self._cannot_park(exc)
                self.backend.destroy(group)
                break

        def child(entry: tuple[str, socket.socket, socket.socket]) -> None:
            group, _ours, theirs = entry
            others = [s for other in ready for s in other[1:] if s is not theirs]
            self._parked_child(group, theirs, others)

        pids, error = self._fork_each(ready, child)
        if error is not None:
            self._cannot_park(error)
        made: list[_Parked] = []
        for (group, ours, theirs), pid in zip(ready[: len(pids)], pids, strict=True):
            theirs.close()
            slot = _Parked(group, pid, ours)
            self.parked.append(slot)
            self.children[pid] = (None, group)
            made.append(slot)
        for group, ours, theirs in ready[len(pids) :]:
            ours.close()
            theirs.close()
            self.backend.destroy(group)
        return made

    def spawn_many(self, requests: Sequence[tuple[dict[str, Any], list[int]]]) -> None:
        """Fork one child per request, back to back, each born knowing its request: its
        groups made and limited first, its fds inherited, so it needs no spec over a socket,
        no JSON, no limits of its own to apply afterwards and no "go" (a parked child needs
        all four). After a fork every page the zygote writes is copied (the new child shares
        them all); between back-to-back forks it writes almost none, so a burst pays for those
        copies (~200 pages, ~1 ms) once per batch instead of once per child."""
        ready: list[tuple[dict[str, Any], list[int], str, _limits.LimitSpec]] = []
        for msg, fds in requests:
            group = _new_group()
            try:
                limits = _limits.LimitSpec(**msg["limits"])
                self.backend.create(group, limits)
            except (OSError, TypeError, ValueError) as exc:
                self.backend.destroy(group)
                self._spawn_failed(msg["env"], fds, exc)
                continue
            ready.append((msg, fds, group, limits))
        pids, error = self._fork_each(ready, lambda entry: self._spawned_child(*entry))
        if error is not None:
            for msg, fds, group, _ in ready[len(pids) :]:
                self.backend.destroy(group)
                self._spawn_failed(msg["env"], fds, error)
        for (msg, fds, group, _), pid in zip(ready[: len(pids)], pids, strict=True):
            for fd in fds:
                os.close(fd)
            self.children[pid] = (msg["env"], group)
            self.send({"op": "spawned", "env": msg["env"], "pid": pid, "group": group})

    def _fork_each(
        self, entries: Sequence[Any], child: Callable[[Any], None]
    ) -> tuple[list[int], OSError | None]:
        """Fork one child per entry, back to back; each runs ``child(entry)``, which never
        returns. The pids of those forked, and the error that stopped the loop early."""
        fork = self.fork
        pids: list[int] = []
        for entry in entries:
            try:
                pid = fork()
            except OSError as exc:
                return pids, exc
            if pid == 0:
                child(entry)
                os._exit(0)  # not reached: the children exit themselves
            pids.append(pid)
        return pids, None

    def _spawn_failed(self, env_id: str, fds: Sequence[int], exc: BaseException) -> None:
        for fd in fds:
            os.close(fd)
        self.send({"op": "spawn_failed", "env": env_id, "error": str(exc)})

    @staticmethod
    def _cannot_park(exc: OSError) -> None:
        os.write(2, f"lambda-lab zygote: cannot park a child: {exc}\n".encode())

    def spawn(self, msg: dict[str, Any], fds: list[int], body: bytes) -> None:
        """Hand a request to a parked child (there is one): ``body``, the request as it
        came, goes on unchanged (the child knows its own group)."""
        env_id = msg["env"]
        slot = self.parked.pop(0)
        try:
            limits = _limits.LimitSpec(**msg["limits"])
            if msg["mode"] == "spawn":  # an exec'd runtime cannot wait for "go": limits first
                self.backend.prepare(slot.group, limits)
                socket.send_fds(slot.sock, [body], fds)
            else:
                # the child sets up the platform side while we write its limits; it imports
                # no user code before our "go"
                socket.send_fds(slot.sock, [body], fds)
                self.backend.prepare(slot.group, limits)
                slot.sock.send(b"go")
        except (OSError, TypeError, ValueError) as exc:
            self._discard(slot)
            self.send({"op": "spawn_failed", "env": env_id, "error": str(exc)})
            return
        finally:
            for fd in fds:
                os.close(fd)
        slot.sock.close()
        self.children[slot.pid] = (env_id, slot.group)
        self.send({"op": "spawned", "env": env_id, "pid": slot.pid, "group": slot.group})

    def _discard(self, slot: _Parked) -> None:
        slot.sock.close()
        try:
            self.backend.kill(slot.group, slot.pid)
        except OSError:
            pass

    def _child_setup(
        self,
        group: str,
        limits: _limits.LimitSpec,
        keep: Sequence[int],
        sockets: Sequence[socket.socket] = (),
    ) -> None:
        """What every child does first: die with the zygote, default signals, a session of
        its own, its groups joined, every fd closed but stdio and ``keep``, a copy of the
        zygote's private mount namespace. ``sockets`` (with the zygote's own) are inherited
        socket objects: they give their fds up first, so none may close a number reused
        later."""
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != self.pid:
            os._exit(1)
        # the C functions: signal.signal's enum conversions cost a child ~0.3 ms of page
        # copies, on every cold start
        _signal.set_wakeup_fd(-1)
        for sig in _RESET_SIGNALS:
            _signal.signal(sig, _SIG_DFL)
        os.setsid()
        self.backend.enter(group, limits)
        # the zygote's fds, other children's sockets, other environments' (requests' fds are
        # in hand while a batch is forked): one close_range per gap
        for s in (self.ctl, *(slot.sock for slot in self.parked), *sockets):
            s.detach()
        low = 3
        for fd in sorted(keep):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, _FD_LIMIT)
        if self.can_isolate:
            copy_mount_namespace()

    def _parked_child(self, group: str, sock: socket.socket, others: list[socket.socket]) -> None:
        try:
            self._child_setup(group, _PARK_SPEC, (sock.fileno(),), others)
            data, fds = _recv_request(sock)
            if not data:
                os._exit(0)  # the zygote is going away or shrinking its pool
            started = time.perf_counter()
            msg = json.loads(data)
            msg["group"] = group

            def gate() -> None:
                if sock.recv(16) != b"go":
                    os._exit(127)  # the zygote could not apply the limits
                sock.close()

            self._activate(msg, _limits.LimitSpec(**msg["limits"]), fds[0], fds[1], started, gate)
        except BaseException:  # noqa: BLE001 - report any set-up failure, then die
            _die()
        os._exit(0)

    def _spawned_child(
        self, msg: dict[str, Any], fds: list[int], group: str, limits: _limits.LimitSpec
    ) -> None:
        try:
            started = time.perf_counter()
            self._child_setup(group, limits, fds)
            msg["group"] = group
            self._activate(msg, None, fds[0], fds[1], started, None)
        except BaseException:  # noqa: BLE001
            _die()
        os._exit(0)

    def _activate(
        self,
        msg: dict[str, Any],
        limits: _limits.LimitSpec | None,
        sock_fd: int,
        log_fd: int,
        started: float,
        gate: Any,
    ) -> None:
        """Become the environment: real limits, stdio, the private mounts, then the runtime.
        ``limits``: the rlimits still to apply, a parked child's (it joined its groups with
        the parking ones); None for a child that entered them with its own."""
        if limits is not None:
            self.backend.restrict(limits)
        # lift the received fds clear of 0-3 first, so the dup2s below never collide
        sock_fd, log_fd = (_lift(sock_fd), _lift(log_fd))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.dup2(sock_fd, _worker.SOCK_FD, inheritable=msg["mode"] == "spawn")
        for fd in {null, log_fd, sock_fd}:
            if fd > _worker.SOCK_FD:
                os.close(fd)
        spec = dict(msg["spec"], group=msg["group"])
        if msg.get("isolate") and self.can_isolate:  # the namespace was made at park time
            tmp = None if self.tmp_under_runtime else spec["tmp_dir"]
            isolate_mounts(spec["task_root"], spec.get("opt_dir"), tmp)
            opt = "/opt" if spec.get("opt_dir") else None
            spec = _rebase(spec, "/var/task", opt, "/tmp" if tmp else spec["tmp_dir"])
        if msg["mode"] == "spawn":
            boot = (
                f"import sys; sys.path.insert(0, {msg['pkg_parent']!r}); "
                "from kernel_runtime.sandbox._worker import main; main()"
            )
            os.execve(
                sys.executable, [sys.executable, "-s", "-c", boot, json.dumps(spec)], spec["env"]
            )
        _worker.run(spec, started, gate)

    def reap(self) -> None:
        swept = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            entry = self.children.pop(pid, None)
            if entry is None:
                continue  # an adopted orphan
            env_id, group = entry
            if env_id is None:  # a parked child died before it was used
                for slot in [p for p in self.parked if p.pid == pid]:
                    self.parked.remove(slot)
                    slot.sock.close()
                self.backend.destroy(group)
                continue
            self.send(
                {
                    "op": "exited",
                    "env": env_id,
                    "pid": pid,
                    "group": group,
                    "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                }
            )
            swept = True
        if swept:
            self.sweep_orphans()

    def sweep_orphans(self) -> None:
        """Kill descendants that outlived their environment and were re-parented to us."""
        me = str(self.pid).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid in self.children:
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rfind(b")") + 2 :].split()[1] == me:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove_orphaned_dirs(self) -> None:
        """The supervisor's temporary directories (work dir, runtime home): nobody else will
        remove them once it is gone. Only after shutdown(): no environment uses them now."""
        import shutil  # only on this path: the zygote stays small

        for path in self.orphaned_dirs:
            if os.path.isabs(path):
                shutil.rmtree(path, ignore_errors=True)

    def shutdown(self) -> None:
        groups = [group for _env, group in self.children.values()]
        for slot in self.parked:
            slot.sock.close()
        for pid, (_env, group) in list(self.children.items()):
            try:
                self.backend.kill(group, pid)
            except OSError:
                pass
        deadline = time.monotonic() + 3
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.005)
        self.sweep_orphans()
        for group in groups:
            self.backend.destroy(group)
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def _new_group() -> str:
    """A fresh name for a child's limits groups."""
    return "p" + os.urandom(8).hex()


def _die() -> None:
    """A child's set-up failed: say why on stderr (the zygote's), then exit 127."""
    try:
        os.write(2, traceback.format_exc().encode())
    finally:
        os._exit(127)


def _recv_request(sock: socket.socket, flags: int = 0) -> tuple[bytes, list[int]]:
    """One request and its fds, from the supervisor or (to a parked child) from the zygote:
    ``socket.recv_fds`` without its flaw (Python 3.11 drops its ``flags`` argument, so
    MSG_DONTWAIT would block)."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = sock.recvmsg(
        1 << 20, socket.CMSG_LEN(_MAX_FDS * fds.itemsize), flags
    )
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
    return data, fds.tolist()


def _lift(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _rebase(
    spec: dict[str, Any], task_root: str, opt_dir: str | None, tmp_dir: str
) -> dict[str, Any]:
    """The spec as seen from inside the private mount namespace."""
    old_task, old_opt = spec["task_root"], spec.get("opt_dir")
    spec = dict(spec)
    env = dict(spec["env"])

    def fix(value: str) -> str:
        if old_opt and opt_dir and value.startswith(old_opt):
            value = opt_dir + value[len(old_opt) :]
        return value.replace(old_task, task_root)

    for key in ("LAMBDA_TASK_ROOT", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "TMPDIR"):
        if key in env:
            env[key] = fix(env[key])
    if tmp_dir == "/tmp":
        env.pop("TMPDIR", None)
    spec["env"] = env
    spec["path_prefix"] = [fix(p) for p in spec["path_prefix"]]
    spec["task_root"], spec["opt_dir"], spec["tmp_dir"] = task_root, opt_dir, tmp_dir
    return spec


def add_site(dirs: Sequence[str]) -> None:
    """What ``site`` would do for a handler, without running the .pth files' import lines:
    the site-packages directories on sys.path (boto3 and the like), with the plain paths
    their .pth files list, and the builtins it installs (``exit``, ``quit``, ``help``...)."""
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()
    for site_dir in dirs:
        if os.path.isdir(site_dir):
            found = [site_dir, *_pth_paths(site_dir)]
            sys.path.extend(p for p in found if p not in sys.path)


def _pth_paths(site_dir: str) -> list[str]:
    """The existing directories a site dir's .pth files name, in site's order (by file name)."""
    paths: list[str] = []
    for name in sorted(n for n in os.listdir(site_dir) if n.endswith(".pth")):
        try:
            with open(os.path.join(site_dir, name), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in map(str.strip, lines):
            if line and not line.startswith(("#", "import ", "import\t")):
                path = os.path.normpath(os.path.join(site_dir, line))
                if os.path.isdir(path):
                    paths.append(path)
    return paths


#: Compiled once by the zygote (never run) so that its children find the compiler ready.
_WARM_SOURCE = """
import os
from json import dumps as _d
class _C(Exception):
    x: int = 1
    def m(self, a, *args, b=None, **kw):
        return [i for i in args if i], {k: v for k, v in kw.items()}, lambda y: y + a
async def _f():
    async with _C() as c:
        await c
def _g(n):
    global _G
    try:
        with open(n) as f:
            yield from f
    except (OSError, ValueError) as e:
        raise RuntimeError(f"{n!r}: {e}") from e
    finally:
        del n
    while True:
        if not _G or _G is None and _G >= 2.5:
            break
"""


def warm_compiler() -> None:
    """Compile a little of everything once. The first compile in an interpreter sets up the
    parser's and compiler's state: in a child of a zygote that never compiled, importing a
    handler from source cost 4.4 ms and ~240 page copies instead of 0.45 ms and ~80
    (measured), at every cold start."""
    compile(_WARM_SOURCE, "<lambda-lab zygote>", "exec")


def main() -> None:
    """Entry point: ``python -S -c ... <ctl fd> <args json>``, started by the supervisor."""
    ctl = socket.socket(fileno=int(sys.argv[1]))
    args = json.loads(sys.argv[2])
    add_site(args.get("site_dirs", ()))
    if args.get("cpus"):  # started by a supervisor pinned to one core: environments get the rest
        os.sched_setaffinity(0, args["cpus"])
    if args.get("unbatch"):  # ... and scheduled as a batch, which environments are not
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in args.get("preload", []):
        try:
            __import__(name)
        except ImportError as exc:
            os.write(2, f"lambda-lab zygote: cannot preload {name}: {exc}\n".encode())
    try:
        zygote = Zygote(ctl, args)
    except Exception as exc:  # noqa: BLE001 - tell the supervisor why we cannot serve
        ctl.send(json.dumps({"op": "failed", "error": f"{type(exc).__name__}: {exc}"}).encode())
        sys.exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    rss = 0
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    _worker.park()
    warm_compiler()
    for rehearsal in (_worker.rehearse, _direct_import.rehearse):
        try:
            rehearsal()
        except Exception as exc:  # noqa: BLE001 - a warm-up only: serve without it
            os.write(2, f"lambda-lab zygote: rehearsal failed: {exc!r}\n".encode())
    gc.collect()
    gc.freeze()
    zygote.send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "rss": rss,
            "isolation": zygote.can_isolate,
            "private_tmp": zygote.can_isolate and not zygote.tmp_under_runtime,
            "backend": zygote.backend.describe(),
            "bare_fork": zygote.fork is fork_child,
        }
    )
    try:
        zygote.serve()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        zygote.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
