"""Per-environment resource limits for forked execution environments.

Each Lambda execution environment is one process tree forked from the zygote. This module gives
every environment its own memory, CPU and process limits plus a freezer and a tree-wide kill:

* ``cgroup-v1``: memory, cpu, freezer and pids hierarchies (root, v1 or hybrid host). On a hybrid
  host the environment also joins a group in the cgroup2 tree, used only for ``cgroup.freeze`` and
  ``cgroup.kill`` (5x cheaper than the v1 freezer, and kills frozen tasks without a thaw).
* ``cgroup-v2``: one group per environment on a pure v2 host with delegatable controllers.
* ``rlimit``: fallback without writable cgroups; rlimits in the child, plus ``MemoryWatchdog`` and
  ``CpuDutyCycler`` run by the supervisor, SIGSTOP/SIGCONT as freezer and killpg as kill.

Groups live under ``<hierarchy>/<runtime's own cgroup>/lambda-lab/rt-<ownerpid>-<runtime_id>/<env>``
so that environments stay nested inside whatever limits the runtime itself runs under, and so that
groups left behind by a crashed runtime can be recognised (dead owner pid) and removed at start-up.

The measurements behind the choices are in the project's sandbox reference notes.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import errno
import os
import re
import resource
import select
import signal
import sys
import threading
import time
from collections.abc import Callable

__all__ = [
    "CpuDutyCycler",
    "LimitSpec",
    "LimitsBackend",
    "LimitsUnavailable",
    "MemoryWatchdog",
    "detect_limits_backend",
]

ROOT_GROUP = "lambda-lab"
ENV_VAR = "LAMBDA_LAB_LIMITS"
CFS_PERIOD_US = 100_000
CFS_MIN_QUOTA_US = 1_000
KILL_TIMEOUT_S = 2.0
FREEZE_TIMEOUT_S = 5.0
_V1_CONTROLLERS = ("pids", "memory", "cpu", "freezer")  # join order: pids first bounds forks
_V2_CONTROLLERS = ("memory", "cpu", "pids")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_RT_RE = re.compile(r"^rt-(\d+)-([A-Za-z0-9_][A-Za-z0-9_.-]*)$")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class LimitsUnavailable(RuntimeError):
    """The requested limits backend cannot work on this host (not mounted, not writable, ...)."""


_LimitFields = collections.namedtuple(
    "_LimitFields", ("memory_bytes", "cpu_share", "pids_max", "nofile", "fsize_bytes")
)  # the defaults are LimitSpec.__new__'s


class LimitSpec(_LimitFields):
    """Limits of one execution environment (immutable).

    - ``memory_bytes``: hard memory limit for the environment's own pages
    - ``cpu_share``: vCPUs, already capped at the machine's cores; >= cores means unlimited
    - ``pids_max``: processes + threads; ``nofile``: RLIMIT_NOFILE soft and hard
    - ``fsize_bytes``: RLIMIT_FSIZE (largest single file), None = unlimited

    A named tuple, not a dataclass: the zygote imports this module, and ``dataclasses`` brings
    ``inspect`` and ``ast``, 1 MB more of its heap to map into every child (~0.1 ms per fork).
    """

    __slots__ = ()
    memory_bytes: int
    cpu_share: float
    pids_max: int
    nofile: int
    fsize_bytes: int | None

    def __new__(
        cls,
        memory_bytes: int,
        cpu_share: float,
        pids_max: int = 1024,
        nofile: int = 1024,
        fsize_bytes: int | None = None,
    ) -> LimitSpec:
        # Fail in the zygote with a clear message rather than with EINVAL from a cgroup file.
        if memory_bytes <= 0:
            raise ValueError(f"memory_bytes must be > 0, got {memory_bytes}")
        if not cpu_share > 0:
            raise ValueError(f"cpu_share must be > 0, got {cpu_share}")
        if pids_max < 1:
            raise ValueError(f"pids_max must be >= 1, got {pids_max}")
        if nofile < 1:
            raise ValueError(f"nofile must be >= 1, got {nofile}")
        if fsize_bytes is not None and fsize_bytes < 0:
            raise ValueError(f"fsize_bytes must be >= 0 or None, got {fsize_bytes}")
        return super().__new__(cls, memory_bytes, cpu_share, pids_max, nofile, fsize_bytes)


# --------------------------------------------------------------------------- small helpers


def _cpu_count() -> int:
    """Cores this process may run on (what an unlimited environment could use)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check_name(kind: str, name: str) -> str:
    """Names become directory names; refuse anything that could escape the parent group."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", ".."):
        raise ValueError(f"invalid {kind} {name!r}: use [A-Za-z0-9_.-], max 128 chars")
    return name


def _write(path: str, data: str) -> None:
    """One write() per value: cgroup files parse each write separately."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


def _read_kv(path: str) -> dict[str, int]:
    """Parse 'key value' lines (memory.oom_control, memory.events, cgroup.events)."""
    out: dict[str, int] = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out[parts[0]] = int(parts[1])
    return out


def _procs(group: str) -> list[int]:
    """Member pids of a cgroup; [] when the group does not exist (any more)."""
    try:
        return [int(x) for x in _read(os.path.join(group, "cgroup.procs")).split()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _signal_pids(pids: list[int], sig: int) -> None:
    me = os.getpid()
    for pid in pids:
        if pid != me:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _killpg_guarded(pgid: int, sig: int) -> bool:
    """killpg that never hits init or the caller's own group (the supervisor or the test runner)."""
    if pgid <= 1 or pgid == os.getpgrp():
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _proc_state(pid: int) -> str | None:
    """One-letter state from /proc/PID/stat, None when the pid does not exist."""
    try:
        stat = _read(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.rfind(")") + 2 :][:1] or None


def _pid_alive(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def _rmdir(path: str) -> bool:
    """rmdir that treats 'already gone' as success."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    return True


def _subdirs(path: str) -> list[str]:
    try:
        return [e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _mounts() -> list[tuple[str, str, str, str]]:
    """(root, mountpoint, fstype, super options) of cgroup mounts, from /proc/self/mountinfo."""
    out = []
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        lf, rf = left.split(), right.split()
        if len(lf) >= 5 and len(rf) >= 3 and rf[0] in ("cgroup", "cgroup2"):
            out.append((lf[3], lf[4].replace("\\040", " "), rf[0], rf[2]))
    return out


def _self_cgroups() -> dict[str, str]:
    """controller -> own cgroup path; key '' is the cgroup2 path."""
    out: dict[str, str] = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _, ctrls, path = line.split(":", 2)
        if ctrls == "":
            out[""] = path
        for c in ctrls.split(","):
            if c:
                out[c] = path
    return out


def _group_path(mount_root: str, mountpoint: str, own: str) -> str | None:
    """Directory of our own cgroup inside a mount (handles bind mounts / cgroup namespaces)."""
    root = mount_root.rstrip("/")
    if root and not (own == root or own.startswith(root + "/")):
        return None
    rel = own[len(root) :].strip("/")
    return os.path.join(mountpoint, rel) if rel else mountpoint


def _wait_events(path: str, key: str, want: int, timeout: float) -> bool:
    """Read a cgroup.events file until key == want; poll(POLLPRI) only when not there yet.

    Reading first matters: notifications on cgroup.events are rate-limited (~10 ms), so
    blocking before the first read made a freeze cost 16 ms instead of 0.03 ms.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        poller: select.poll | None = None
        deadline = time.monotonic() + timeout
        needle = key.encode() + b" "
        while True:
            for line in os.pread(fd, 4096, 0).splitlines():
                if line.startswith(needle) and int(line[len(needle) :]) == want:
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if poller is None:
                poller = select.poll()
                poller.register(fd, select.POLLPRI | select.POLLERR)
            # Short timeout: a rate-limited notification may arrive late; re-reading is cheap.
            poller.poll(max(1, int(min(remaining, 0.002) * 1000)))
    finally:
        os.close(fd)


# ----------------------------------------------------------------- freeze / kill primitives


def _freeze_v2(group: str) -> None:
    _write(os.path.join(group, "cgroup.freeze"), "1")
    if not _wait_events(os.path.join(group, "cgroup.events"), "frozen", 1, FREEZE_TIMEOUT_S):
        raise TimeoutError(f"{group} not frozen after {FREEZE_TIMEOUT_S} s")


def _thaw_v2(group: str) -> None:
    _write(os.path.join(group, "cgroup.freeze"), "0")


def _freeze_v1(group: str, timeout: float = FREEZE_TIMEOUT_S) -> bool:
    """Write FROZEN and poll freezer.state: the write only starts freezing (FREEZING)."""
    path = os.path.join(group, "freezer.state")
    _write(path, "FROZEN")
    deadline = time.monotonic() + timeout
    spins = 0
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while True:
            if os.pread(fd, 64, 0).startswith(b"FROZEN"):
                return True
            if time.monotonic() >= deadline:
                return False
            spins += 1
            if spins > 50:  # usually frozen on the first read; back off only for slow cases
                time.sleep(0.0002)
    finally:
        os.close(fd)


def _thaw_v1(group: str) -> None:
    _write(os.path.join(group, "freezer.state"), "THAWED")


def _kill_v2(group: str, timeout: float = KILL_TIMEOUT_S) -> bool:
    """cgroup.kill reaches every member, setsid escapees and frozen tasks included."""
    try:
        _write(os.path.join(group, "cgroup.kill"), "1")
        return _wait_events(os.path.join(group, "cgroup.events"), "populated", 0, timeout)
    except FileNotFoundError:
        return True


def _kill_v1(procs_group: str, freezer_group: str | None, timeout: float = KILL_TIMEOUT_S) -> bool:
    """Freeze (no new forks), SIGKILL every member, THAW (v1 kills land only after thaw), repeat."""
    frozen = False
    if freezer_group is not None:
        with contextlib.suppress(FileNotFoundError):
            _freeze_v1(freezer_group, timeout=min(0.5, timeout))
            frozen = True
    deadline = time.monotonic() + timeout
    delay = 0.0002
    try:
        while True:
            pids = _procs(procs_group)
            if not pids:
                return True
            _signal_pids(pids, signal.SIGKILL)
            if frozen and freezer_group is not None:
                with contextlib.suppress(FileNotFoundError):
                    _thaw_v1(freezer_group)
                frozen = False
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
    finally:
        if freezer_group is not None:
            with contextlib.suppress(FileNotFoundError):
                _thaw_v1(freezer_group)


def _vm_data_bytes() -> int:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _set_rlimit(which: int, value: int) -> None:
    """Set soft = hard = value, clamped to the current hard limit (raising it needs
    CAP_SYS_RESOURCE, which root on our VMs lacks)."""
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY and value > hard:
        value = hard
    resource.setrlimit(which, (value, value))


def _join(procs_files: tuple[str, ...]) -> None:
    """Move the calling process into each group: "0" names the writer, with all its threads."""
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def _apply_rlimits(spec: LimitSpec, fallback: bool) -> None:
    _set_rlimit(resource.RLIMIT_NOFILE, spec.nofile)
    if spec.fsize_bytes is not None:
        _set_rlimit(resource.RLIMIT_FSIZE, spec.fsize_bytes)
    if fallback:
        # Backstop only: a catchable MemoryError, not Lambda's kill. Not RLIMIT_AS: it counts
        # reservations (thread stacks, OpenBLAS) and breaks `import numpy` at 128 MiB.
        _set_rlimit(resource.RLIMIT_DATA, spec.memory_bytes + _vm_data_bytes())
        if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; the count is per uid, system-wide
            _set_rlimit(resource.RLIMIT_NPROC, spec.pids_max)


# ------------------------------------------------------------------------------ backends


class LimitsBackend(abc.ABC):
    """How one runtime limits, freezes and kills its environments."""

    name: str = ""
    freezer: str = ""
    enforces_memory: bool = False
    enforces_cpu: bool = False
    enforces_pids: bool = False

    @abc.abstractmethod
    def describe(self) -> dict[str, object]:
        """What is enforced and by which mechanism, for the user."""

    @abc.abstractmethod
    def prepare(self, env_id: str, spec: LimitSpec) -> None:
        """Zygote side, before fork: create the environment's groups and write its limits."""

    def park(self, env_id: str, spec: LimitSpec) -> None:
        """Zygote side, before forking a child that will wait for an environment's spec:
        create its groups. ``prepare()`` then writes the real limits once the spec arrives;
        a backend whose groups are cheap to fill leaves them empty here (``spec`` is what the
        waiting child may use meanwhile). By default: ``prepare(env_id, spec)``."""
        self.prepare(env_id, spec)

    def create(self, env_id: str, spec: LimitSpec) -> None:
        """Zygote side, before forking a child that already has its environment's spec: the
        groups and their limits at once. By default: ``prepare(env_id, spec)``."""
        self.prepare(env_id, spec)

    @abc.abstractmethod
    def enter(self, env_id: str, spec: LimitSpec) -> None:
        """Child side, right after fork and before user code: join groups, set rlimits."""

    def restrict(self, spec: LimitSpec) -> None:
        """Child side, after enter(): apply ``spec``'s rlimits without joining groups again.

        A parked child joins its groups once, off the cold-start path; joining again would take
        the cgroup migration lock and wait for an RCU grace period (milliseconds).
        """
        _apply_rlimits(spec, fallback=self.name == "rlimit")

    @abc.abstractmethod
    def freeze(self, env_id: str, pgid: int) -> None:
        """Stop every process of the environment; returns once they are stopped."""

    @abc.abstractmethod
    def thaw(self, env_id: str, pgid: int) -> None:
        """Undo freeze()."""

    @abc.abstractmethod
    def kill(self, env_id: str, pgid: int) -> None:
        """SIGKILL the whole tree, frozen or not; never raises when it is already dead."""

    @abc.abstractmethod
    def terminate(self, env_id: str, pgid: int) -> None:
        """SIGTERM every process of the environment (thawing it first)."""

    @abc.abstractmethod
    def pids(self, env_id: str) -> list[int]:
        """Current member pids, or [] when the backend cannot know."""

    @abc.abstractmethod
    def oom_kills(self, env_id: str) -> int:
        """How many tasks the kernel OOM-killed in this environment (the only reliable signal)."""

    @abc.abstractmethod
    def memory_peak_bytes(self, env_id: str) -> int | None:
        """High-water mark of the environment's charged memory (includes page cache)."""

    @abc.abstractmethod
    def destroy(self, env_id: str) -> None:
        """Remove the environment's groups after kill(); idempotent."""

    @abc.abstractmethod
    def cleanup_stale(self) -> int:
        """Kill and remove groups of dead runtimes; returns how many runtime groups went."""

    @abc.abstractmethod
    def close(self) -> None:
        """Remove this runtime's own parent groups."""


class _CgroupBackend(LimitsBackend):
    """Shared lifecycle of the cgroup backends (paths, teardown, stale cleanup)."""

    def __init__(self, runtime_id: str | None, owner_pid: int | None) -> None:
        self.runtime_id = _check_name("runtime_id", runtime_id or os.urandom(4).hex())
        self._explicit_owner = owner_pid is not None
        self.owner_pid = owner_pid if owner_pid is not None else os.getpid()
        self.rt_name = f"rt-{self.owner_pid}-{self.runtime_id}"
        self._bases: list[str] = []  # <own cgroup>/lambda-lab in every hierarchy we use
        self._closed = False
        self.adopted = False

    def _adopt_existing(self) -> None:
        """Join the groups another live process made for the same runtime_id.

        The supervisor and its zygote each build a backend with the same runtime_id: the
        zygote must prepare environments in the supervisor's rt-<pid>-<id> groups, or the
        supervisor's freeze/kill would miss them. The creator's pid stays the owner, so stale
        cleanup happens once the supervisor is gone; only the creator's close() removes them.
        """
        if self._explicit_owner:
            return
        for base in self._bases:
            for name in _subdirs(base):
                m = _RT_RE.match(name)
                if m is None or m.group(2) != self.runtime_id:
                    continue
                owner = int(m.group(1))
                if owner != self.owner_pid and _pid_alive(owner):
                    self.owner_pid, self.rt_name, self.adopted = owner, name, True
                    return

    # Subclasses: directories of one env ("v2" / "freezer" / others), procs source, kill.
    @abc.abstractmethod
    def _env_groups(self, env_id: str) -> dict[str, str]: ...

    def _group_dirs(self, env_id: str) -> list[str]:
        """All directories of one environment (deduplicated)."""
        return list(dict.fromkeys(self._env_groups(_check_name("env_id", env_id)).values()))

    def _rt_dirs(self) -> list[str]:
        return [os.path.join(b, self.rt_name) for b in self._bases]

    def _make_rt_dirs(self) -> None:
        for base in self._bases:
            rt = os.path.join(base, self.rt_name)
            for _ in range(3):  # another runtime's close() may rmdir the shared base meanwhile
                try:
                    os.makedirs(rt, exist_ok=True)
                    break
                except FileNotFoundError:
                    continue
            else:
                os.makedirs(rt, exist_ok=True)

    def _kill_groups(self, groups: dict[str, str]) -> bool:
        """Kill every process in one environment's groups (by path, so also for stale ones)."""
        ok = True
        v2 = groups.get("v2")
        freezer = groups.get("freezer")
        if v2 is not None and os.path.isdir(v2):
            ok = _kill_v2(v2)
            freezer = None  # already dead; the v1 sweep below is only a safety net
        for kind, group in groups.items():
            if kind == "v2" or not os.path.isdir(group):
                continue
            # Sweep v1 groups too: a child killed mid-enter() may sit in some groups only.
            if _procs(group):
                fz = freezer if freezer is not None and os.path.isdir(freezer) else None
                ok = _kill_v1(group, fz) and ok
        return ok

    def _remove_groups(self, groups: dict[str, str]) -> None:
        dirs = list(dict.fromkeys(groups.values()))
        deadline = time.monotonic() + KILL_TIMEOUT_S
        for d in dirs:
            while True:
                try:
                    _rmdir(d)
                    break
                except OSError as e:
                    # EBUSY: members still exiting (or a straggler): kill again, then retry.
                    if e.errno != errno.EBUSY or time.monotonic() >= deadline:
                        raise
                    self._kill_groups(groups)
                    time.sleep(0.001)

    def pids(self, env_id: str) -> list[int]:
        groups = self._env_groups(_check_name("env_id", env_id))
        seen: dict[int, None] = {}
        for group in groups.values():
            for pid in _procs(group):
                seen[pid] = None
        return list(seen)

    def kill(self, env_id: str, pgid: int) -> None:
        groups = self._env_groups(_check_name("env_id", env_id))
        _killpg_guarded(pgid, signal.SIGKILL)  # catches a child still inside enter()
        self._kill_groups(groups)

    def terminate(self, env_id: str, pgid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.thaw(env_id, pgid)
        _signal_pids(self.pids(env_id), signal.SIGTERM)
        _killpg_guarded(pgid, signal.SIGTERM)

    def destroy(self, env_id: str) -> None:
        groups = self._env_groups(_check_name("env_id", env_id))
        self._remove_groups(groups)

    def _groups_at(self, rt_name: str, env_id: str) -> dict[str, str]:
        """Same layout as _env_groups, for another runtime's rt directory."""
        mine = self._env_groups(env_id)
        return {k: v.replace(f"/{self.rt_name}/", f"/{rt_name}/") for k, v in mine.items()}

    def _teardown_rt(self, rt_name: str) -> bool:
        """Kill and remove every env group below rt_name, then the rt directories themselves."""
        rt_dirs = [os.path.join(b, rt_name) for b in self._bases]
        env_ids: dict[str, None] = {}
        for rt in rt_dirs:
            for name in _subdirs(rt):
                env_ids[name] = None
        for env_id in env_ids:
            if not _NAME_RE.match(env_id):
                continue
            groups = self._groups_at(rt_name, env_id)
            self._kill_groups(groups)
            self._remove_groups(groups)
        existed = False
        for rt in rt_dirs:
            if os.path.isdir(rt):
                existed = True
                # Processes attached to the rt group itself (should not happen): kill them too.
                if _procs(rt):
                    _kill_v1(rt, None)
                _rmdir(rt)
        return existed

    def cleanup_stale(self) -> int:
        stale: dict[str, None] = {}
        for base in self._bases:
            for name in _subdirs(base):
                m = _RT_RE.match(name)
                if m is None:
                    continue
                owner = int(m.group(1))
                if owner == self.owner_pid or owner == os.getpid() or _pid_alive(owner):
                    continue
                stale[name] = None
        removed = 0
        for name in stale:
            try:
                if self._teardown_rt(name):
                    removed += 1
            except OSError as e:  # another runtime may be cleaning the same group right now
                print(f"lambda-lab limits: could not remove stale {name}: {e}", file=sys.stderr)
        return removed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.adopted:  # the creating process (supervisor) removes the shared groups
            return
        self._teardown_rt(self.rt_name)
        for base in self._bases:
            with contextlib.suppress(OSError):  # EBUSY while other runtimes still have groups
                os.rmdir(base)

    def _describe_common(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "freezer": self.freezer,
            "groups": [os.path.join(d, "<env>") for d in self._rt_dirs()],
            "nofile": "RLIMIT_NOFILE soft=hard (EMFILE beyond)",
            "fsize": "RLIMIT_FSIZE soft=hard when set (EFBIG; Python ignores SIGXFSZ)",
        }


class CgroupV1Backend(_CgroupBackend):
    """cgroup v1 memory/cpu/freezer/pids, plus the hybrid cgroup2 tree's freeze/kill if present."""

    name = "cgroup-v1"
    enforces_memory = True
    enforces_cpu = True
    enforces_pids = True

    def __init__(
        self,
        runtime_id: str | None = None,
        owner_pid: int | None = None,
        use_v2_core: bool = True,
    ) -> None:
        """owner_pid/use_v2_core exist for tests (stale groups, forcing the v1 freezer)."""
        super().__init__(runtime_id, owner_pid)
        mounts = _mounts()
        own = _self_cgroups()
        self._ctrl_base: dict[str, str] = {}
        for ctrl in _V1_CONTROLLERS:
            for root, mp, fstype, opts in mounts:
                if fstype == "cgroup" and ctrl in opts.split(",") and ctrl in own:
                    path = _group_path(root, mp, own[ctrl])
                    if path is not None:
                        self._ctrl_base[ctrl] = os.path.join(path, ROOT_GROUP)
                        break
            else:
                raise LimitsUnavailable(f"cgroup v1 '{ctrl}' hierarchy is not mounted")
        self._v2_base: str | None = None
        for root, mp, fstype, _ in mounts:
            if use_v2_core and fstype == "cgroup2" and "" in own:
                path = _group_path(root, mp, own[""])
                if path is not None:
                    self._v2_base = os.path.join(path, ROOT_GROUP)
                    break
        self._bases = list(dict.fromkeys(self._ctrl_base.values()))
        self._cache: dict[str, tuple[str, ...]] = {}
        self._parked: set[str] = set()  # groups park() made that prepare() has not filled yet
        self._adopt_existing()
        try:
            self._make_rt_dirs()
            rt = {c: os.path.join(b, self.rt_name) for c, b in self._ctrl_base.items()}
            for ctrl, fname in (
                ("memory", "memory.limit_in_bytes"),
                ("cpu", "cpu.cfs_quota_us"),
                ("freezer", "freezer.state"),
                ("pids", "pids.max"),
            ):
                if not os.access(os.path.join(rt[ctrl], fname), os.W_OK):
                    raise LimitsUnavailable(f"{rt[ctrl]}/{fname} is not writable")
            _write(os.path.join(rt["pids"], "pids.max"), "max")  # real write probe
            self._has_memsw = os.path.exists(
                os.path.join(rt["memory"], "memory.memsw.limit_in_bytes")
            )
        except (OSError, LimitsUnavailable) as e:
            self._closed = True
            for d in [] if self.adopted else self._rt_dirs():
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            if isinstance(e, LimitsUnavailable):
                raise
            raise LimitsUnavailable(f"cgroup v1 hierarchies not writable: {e}") from e
        self.freezer = "cgroup-v1-freezer"
        if self._v2_base is not None:
            # Hybrid host: the cgroup2 tree has no controllers here, but its core files
            # cgroup.freeze / cgroup.kill work next to the v1 memberships.
            v2rt = os.path.join(self._v2_base, self.rt_name)
            try:
                os.makedirs(v2rt, exist_ok=True)
                usable = all(
                    os.access(os.path.join(v2rt, f), os.W_OK)
                    for f in ("cgroup.freeze", "cgroup.kill", "cgroup.procs")
                )
            except OSError:
                usable = False
            if usable:
                self._bases.append(self._v2_base)
                self.freezer = "cgroup-v2-freeze"
            else:
                if not self.adopted:
                    with contextlib.suppress(OSError):
                        os.rmdir(v2rt)
                self._v2_base = None

    def _env_groups(self, env_id: str) -> dict[str, str]:
        out = {c: os.path.join(b, self.rt_name, env_id) for c, b in self._ctrl_base.items()}
        if self._v2_base is not None:
            out["v2"] = os.path.join(self._v2_base, self.rt_name, env_id)
        return out

    def describe(self) -> dict[str, object]:
        d = self._describe_common()
        d.update(
            {
                "memory": "cgroup v1 memory.limit_in_bytes (+memsw=limit"
                + ("" if self._has_memsw else ", not available")
                + "); kernel OOM killer SIGKILLs the largest task; oom_kill counter; "
                "page cache and tmpfs count",
                "cpu": f"cgroup v1 CFS quota = share x {CFS_PERIOD_US} us per {CFS_PERIOD_US} us",
                "pids": "cgroup v1 pids.max (fork fails with EAGAIN)",
                "kill": "cgroup.kill (cgroup2 tree)"
                if self._v2_base
                else "v1 freeze, SIGKILL every pid in cgroup.procs, thaw, until empty",
            }
        )
        return d

    def park(self, env_id: str, spec: LimitSpec) -> None:
        """Only the directories: a fresh group has no limits, the default 100 ms CFS period
        and is thawed, so ``prepare()`` writes each limit once, when the spec is known (a
        burst of cold starts forks one child per environment through here)."""
        groups = self._env_groups(_check_name("env_id", env_id))
        created: list[str] = []
        try:
            for d in dict.fromkeys(groups.values()):
                os.mkdir(d)
                created.append(d)
        except BaseException:
            for d in reversed(created):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            raise
        self._parked.add(env_id)
        self._remember_procs(env_id, groups)

    def create(self, env_id: str, spec: LimitSpec) -> None:
        """Fresh groups (``park()``), then each limit written once; on failure the caller
        ``destroy()``s the group, as after ``park()``."""
        self.park(env_id, spec)
        self.prepare(env_id, spec)

    def _remember_procs(self, env_id: str, groups: dict[str, str]) -> None:
        order = [groups[c] for c in _V1_CONTROLLERS] + ([groups["v2"]] if "v2" in groups else [])
        self._cache[env_id] = tuple(os.path.join(d, "cgroup.procs") for d in dict.fromkeys(order))

    def prepare(self, env_id: str, spec: LimitSpec) -> None:
        groups = self._env_groups(_check_name("env_id", env_id))
        if env_id in self._parked:
            self._parked.discard(env_id)
            self._write_limits(groups, spec, fresh=True)
            return
        created: list[str] = []
        reused = False
        try:
            for d in dict.fromkeys(groups.values()):
                try:
                    os.mkdir(d)
                    created.append(d)
                except FileExistsError:
                    reused = True
            self._write_limits(groups, spec, fresh=False)
            if reused:  # a reused group may still be frozen
                if "v2" in groups:
                    _write(os.path.join(groups["v2"], "cgroup.freeze"), "0")
                _thaw_v1(groups["freezer"])
        except BaseException:
            for d in reversed(created):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            raise
        self._remember_procs(env_id, groups)

    def _write_limits(self, groups: dict[str, str], spec: LimitSpec, *, fresh: bool) -> None:
        """Memory (+memsw), CPU quota and pids of one environment's groups; ``fresh`` groups
        (made by ``park()``, never limited) still have the default CFS period."""
        mem = groups["memory"]
        limit = str(spec.memory_bytes)
        try:
            _write(os.path.join(mem, "memory.limit_in_bytes"), limit)
        except OSError as e:
            # Raising a reused group above its memsw limit: memsw must go first then.
            if e.errno != errno.EINVAL or not self._has_memsw:
                raise
            _write(os.path.join(mem, "memory.memsw.limit_in_bytes"), limit)
            _write(os.path.join(mem, "memory.limit_in_bytes"), limit)
        if self._has_memsw:  # without it a host with swap lets the env swap instead of dying
            _write(os.path.join(mem, "memory.memsw.limit_in_bytes"), limit)
        cpu = groups["cpu"]
        if not fresh:
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), "-1")  # -1 first: period change
            _write(os.path.join(cpu, "cpu.cfs_period_us"), str(CFS_PERIOD_US))
        if spec.cpu_share < _cpu_count():
            quota = max(CFS_MIN_QUOTA_US, int(spec.cpu_share * CFS_PERIOD_US))
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), str(quota))
        _write(os.path.join(groups["pids"], "pids.max"), str(spec.pids_max))

    def enter(self, env_id: str, spec: LimitSpec) -> None:
        procs = self._cache.get(env_id)
        if procs is None:
            groups = self._env_groups(_check_name("env_id", env_id))
            procs = tuple(os.path.join(d, "cgroup.procs") for d in dict.fromkeys(groups.values()))
        _join(procs)
        _apply_rlimits(spec, fallback=False)

    def freeze(self, env_id: str, pgid: int) -> None:
        groups = self._env_groups(_check_name("env_id", env_id))
        if "v2" in groups:
            _freeze_v2(groups["v2"])
        elif not _freeze_v1(groups["freezer"]):
            raise TimeoutError(f"{groups['freezer']} not FROZEN after {FREEZE_TIMEOUT_S} s")

    def thaw(self, env_id: str, pgid: int) -> None:
        groups = self._env_groups(_check_name("env_id", env_id))
        if "v2" in groups:
            _thaw_v2(groups["v2"])
        else:
            _thaw_v1(groups["freezer"])

    def oom_kills(self, env_id: str) -> int:
        path = os.path.join(self._env_groups(env_id)["memory"], "memory.oom_control")
        try:
            return _read_kv(path).get("oom_kill", 0)
        except FileNotFoundError:
            return 0

    def memory_peak_bytes(self, env_id: str) -> int | None:
        path = os.path.join(self._env_groups(env_id)["memory"], "memory.max_usage_in_bytes")
        try:
            return int(_read(path))
        except (FileNotFoundError, ValueError):
            return None

    def destroy(self, env_id: str) -> None:
        super().destroy(env_id)
        self._cache.pop(env_id, None)
        self._parked.discard(env_id)


class CgroupV2Backend(_CgroupBackend):
    """Pure cgroup v2 host: one group per environment with memory, cpu and pids controllers."""

    name = "cgroup-v2"
    freezer = "cgroup-v2-freeze"
    enforces_memory = True
    enforces_cpu = True
    enforces_pids = True

    def __init__(self, runtime_id: str | None = None, owner_pid: int | None = None) -> None:
        super().__init__(runtime_id, owner_pid)
        mounts = _mounts()
        if any(m[2] == "cgroup" and set(m[3].split(",")) & set(_V2_CONTROLLERS) for m in mounts):
            raise LimitsUnavailable("memory/cpu/pids are bound to cgroup v1 (hybrid or v1 host)")
        own = _self_cgroups().get("")
        v2 = [(root, mp) for root, mp, fstype, _ in mounts if fstype == "cgroup2"]
        if own is None or not v2:
            raise LimitsUnavailable("no cgroup2 mount")
        mine = _group_path(v2[0][0], v2[0][1], own)
        if mine is None:
            raise LimitsUnavailable("own cgroup is outside the visible cgroup2 mount")
        try:
            avail = set(_read(os.path.join(mine, "cgroup.controllers")).split())
        except OSError as e:
            raise LimitsUnavailable(f"cannot read {mine}/cgroup.controllers: {e}") from e
        missing = set(_V2_CONTROLLERS) - avail
        if missing:
            raise LimitsUnavailable(f"cgroup2 controllers not delegated here: {sorted(missing)}")
        # "No internal processes": controllers can only be enabled below a group without
        # members (or the root). Our own group has members (us), and we do not move ourselves,
        # so try our own group (works if it is the root) and else its parent.
        parent = None
        errors = []
        candidates = [mine] if mine == v2[0][1] else [mine, os.path.dirname(mine)]
        for cand in candidates:
            try:
                self._enable(cand)
                parent = cand
                break
            except OSError as e:
                errors.append(f"{cand}: {e.strerror}")
        if parent is None:
            raise LimitsUnavailable("cannot enable +memory +cpu +pids: " + "; ".join(errors))
        self._base = os.path.join(parent, ROOT_GROUP)
        self._bases = [self._base]
        self._adopt_existing()
        try:
            os.makedirs(self._base, exist_ok=True)
            self._enable(self._base)
            self._make_rt_dirs()
            self._enable(os.path.join(self._base, self.rt_name))
        except OSError as e:
            self._closed = True
            if not self.adopted:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self._base, self.rt_name))
            raise LimitsUnavailable(f"cgroup v2 parent {self._base} not usable: {e}") from e

    @staticmethod
    def _enable(group: str) -> None:
        path = os.path.join(group, "cgroup.subtree_control")
        have = set(_read(path).split())
        want = [c for c in _V2_CONTROLLERS if c not in have]
        if want:
            _write(path, " ".join("+" + c for c in want))

    def _env_groups(self, env_id: str) -> dict[str, str]:
        return {"v2": os.path.join(self._base, self.rt_name, env_id)}

    def describe(self) -> dict[str, object]:
        d = self._describe_common()
        d.update(
            {
                "memory": "cgroup v2 memory.max (+memory.swap.max=0); OOM killer; "
                "memory.events oom_kill; page cache and tmpfs count",
                "cpu": f"cgroup v2 cpu.max = share x {CFS_PERIOD_US} / {CFS_PERIOD_US}",
                "pids": "cgroup v2 pids.max",
                "kill": "cgroup.kill",
            }
        )
        return d

    def prepare(self, env_id: str, spec: LimitSpec) -> None:
        group = self._env_groups(_check_name("env_id", env_id))["v2"]
        created = False
        try:
            try:
                os.mkdir(group)
                created = True
            except FileExistsError:
                pass
            _write(os.path.join(group, "memory.max"), str(spec.memory_bytes))
            swap = os.path.join(group, "memory.swap.max")
            if os.path.exists(swap):
                _write(swap, "0")
            if spec.cpu_share < _cpu_count():
                quota = str(max(CFS_MIN_QUOTA_US, int(spec.cpu_share * CFS_PERIOD_US)))
            else:
                quota = "max"
            _write(os.path.join(group, "cpu.max"), f"{quota} {CFS_PERIOD_US}")
            _write(os.path.join(group, "pids.max"), str(spec.pids_max))
            _write(os.path.join(group, "cgroup.freeze"), "0")
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    os.rmdir(group)
            raise

    def enter(self, env_id: str, spec: LimitSpec) -> None:
        _join((os.path.join(self._base, self.rt_name, env_id, "cgroup.procs"),))
        _apply_rlimits(spec, fallback=False)

    def freeze(self, env_id: str, pgid: int) -> None:
        _freeze_v2(self._env_groups(_check_name("env_id", env_id))["v2"])

    def thaw(self, env_id: str, pgid: int) -> None:
        _thaw_v2(self._env_groups(_check_name("env_id", env_id))["v2"])

    def oom_kills(self, env_id: str) -> int:
        try:
            return _read_kv(os.path.join(self._env_groups(env_id)["v2"], "memory.events")).get(
                "oom_kill", 0
            )
        except FileNotFoundError:
            return 0

    def memory_peak_bytes(self, env_id: str) -> int | None:
        try:
            return int(_read(os.path.join(self._env_groups(env_id)["v2"], "memory.peak")))
        except (FileNotFoundError, ValueError):
            return None  # memory.peak needs kernel >= 5.19


class RlimitBackend(LimitsBackend):
    """No writable cgroups: rlimits in the child, process groups for freeze and kill.

    Memory and CPU need the supervisor's MemoryWatchdog and CpuDutyCycler; subprocesses that
    call setsid() escape freeze and kill.
    """

    name = "rlimit"
    freezer = "sigstop"
    enforces_memory = False
    enforces_cpu = False
    enforces_pids = False

    def __init__(self, runtime_id: str | None = None) -> None:
        self.runtime_id = _check_name("runtime_id", runtime_id or os.urandom(4).hex())

    def describe(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "freezer": self.freezer,
            "memory": "not enforced by the kernel per environment: RSS watchdog (MemoryWatchdog, "
            "SIGKILL on excess) + RLIMIT_DATA backstop (limit + zygote VmData, MemoryError); "
            "page cache, tmpfs and subprocesses not counted",
            "cpu": "not enforced by the kernel: SIGSTOP/SIGCONT duty cycling (CpuDutyCycler)",
            "pids": "RLIMIT_NPROC (per uid, system-wide)"
            if os.geteuid() != 0
            else "not enforced (root ignores RLIMIT_NPROC)",
            "nofile": "RLIMIT_NOFILE soft=hard (EMFILE beyond)",
            "fsize": "RLIMIT_FSIZE soft=hard when set (EFBIG; Python ignores SIGXFSZ)",
            "kill": "killpg(SIGKILL): processes that setsid() escape it",
        }

    def prepare(self, env_id: str, spec: LimitSpec) -> None:
        _check_name("env_id", env_id)

    def enter(self, env_id: str, spec: LimitSpec) -> None:
        _apply_rlimits(spec, fallback=True)

    @staticmethod
    def _need_pgid(pgid: int) -> None:
        if pgid <= 1 or pgid == os.getpgrp():
            raise ValueError(f"refusing to signal process group {pgid} (init or our own)")

    def freeze(self, env_id: str, pgid: int) -> None:
        self._need_pgid(pgid)
        os.killpg(pgid, signal.SIGSTOP)
        # Only the parent can waitpid(WUNTRACED); poll the leader's threads instead (a spinning
        # thread stops a little after the main thread reports 'T').
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                tids = os.listdir(f"/proc/{pgid}/task")
            except (FileNotFoundError, ProcessLookupError):
                return
            states = [_proc_state(int(t)) for t in tids]
            if all(s is None or s in ("T", "t", "Z", "X") for s in states):
                return
            time.sleep(0.0001)

    def thaw(self, env_id: str, pgid: int) -> None:
        self._need_pgid(pgid)
        os.killpg(pgid, signal.SIGCONT)

    def kill(self, env_id: str, pgid: int) -> None:
        self._need_pgid(pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # works on stopped processes, no SIGCONT needed

    def terminate(self, env_id: str, pgid: int) -> None:
        self._need_pgid(pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
            os.killpg(pgid, signal.SIGCONT)

    def pids(self, env_id: str) -> list[int]:
        return []

    def oom_kills(self, env_id: str) -> int:
        return 0

    def memory_peak_bytes(self, env_id: str) -> int | None:
        return None

    def destroy(self, env_id: str) -> None:
        pass

    def cleanup_stale(self) -> int:
        return 0

    def close(self) -> None:
        pass


def detect_limits_backend(
    preference: str = "auto", runtime_id: str | None = None, owner_pid: int | None = None
) -> LimitsBackend:
    """Pick the strongest backend that works here.

    preference: "auto" (env var LAMBDA_LAB_LIMITS overrides it), "cgroup" (any cgroup backend or
    LimitsUnavailable), "cgroup-v2", "cgroup-v1" or "rlimit". ``owner_pid`` lets the zygote
    address the groups its supervisor owns (their names carry the owner's pid).
    """
    pref = preference.strip().lower()
    if pref == "auto":
        pref = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    choices: dict[str, list[Callable[[], LimitsBackend]]] = {
        "auto": [
            lambda: CgroupV2Backend(runtime_id, owner_pid=owner_pid),
            lambda: CgroupV1Backend(runtime_id, owner_pid=owner_pid),
            lambda: RlimitBackend(runtime_id),
        ],
        "cgroup": [
            lambda: CgroupV2Backend(runtime_id, owner_pid=owner_pid),
            lambda: CgroupV1Backend(runtime_id, owner_pid=owner_pid),
        ],
        "cgroup-v2": [lambda: CgroupV2Backend(runtime_id, owner_pid=owner_pid)],
        "cgroup-v1": [lambda: CgroupV1Backend(runtime_id, owner_pid=owner_pid)],
        "rlimit": [lambda: RlimitBackend(runtime_id)],
    }
    if pref not in choices:
        raise ValueError(f"unknown limits preference {pref!r}; use one of {sorted(choices)}")
    errors: list[str] = []
    for make in choices[pref]:
        try:
            return make()
        except LimitsUnavailable as e:
            errors.append(str(e))
    raise LimitsUnavailable(
        f"no cgroup backend usable ({'; '.join(errors)}); run as root on a host with writable "
        f"cgroup v1 memory/cpu/freezer/pids or delegated cgroup v2 memory/cpu/pids, "
        f"or set {ENV_VAR}=rlimit"
    )


# ------------------------------------------------------------- fallback helpers (supervisor)


class MemoryWatchdog:
    """RSS polling for the rlimit backend: ONE daemon thread for all watched environments.

    statm costs ~10 us per read; at 5 ms the overshoot was 3-6 MiB for a 1.85 MiB/ms allocator.
    Only the watched pid is measured (not its subprocesses), minus the baseline shared with
    the zygote at fork.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        # key -> [fd, pid, limit, baseline, callback]
        self._watched: dict[str, list] = {}
        self._thread: threading.Thread | None = None

    def watch(
        self,
        key: str,
        pid: int,
        limit_bytes: int,
        baseline_bytes: int,
        on_exceed: Callable[[str, int], None],
    ) -> None:
        """Start watching pid; on_exceed(key, rss_bytes) runs once, on the watchdog thread."""
        fd = os.open(f"/proc/{pid}/statm", os.O_RDONLY | os.O_CLOEXEC)
        with self._lock:
            if self._closed:
                os.close(fd)
                raise RuntimeError("MemoryWatchdog is closed")
            old = self._watched.pop(key, None)
            if old is not None:
                os.close(old[0])
            self._watched[key] = [fd, pid, limit_bytes, baseline_bytes, on_exceed]
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lambda-lab-memwatch", daemon=True
                )
                self._thread.start()

    def unwatch(self, key: str) -> None:
        with self._lock:
            entry = self._watched.pop(key, None)
        if entry is not None:
            os.close(entry[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            entries = list(self._watched.values())
            self._watched.clear()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        for entry in entries:
            with contextlib.suppress(OSError):
                os.close(entry[0])

    def _run(self) -> None:
        while not self._wake.wait(self.interval_s):
            with self._lock:
                items = list(self._watched.items())
            fired: list[tuple[str, list, int]] = []
            for key, entry in items:
                fd, pid, limit, baseline, _ = entry
                try:
                    data = os.pread(fd, 128, 0)  # a kept-open fd re-reads fresh values
                except OSError:
                    data = b""
                if not data:  # process gone: nothing more to watch
                    self.unwatch(key)
                    continue
                rss = int(data.split()[1]) * _PAGE_SIZE
                if rss - baseline > limit:
                    fired.append((key, entry, rss))
            for key, entry, rss in fired:
                with self._lock:
                    if self._watched.get(key) is not entry:
                        continue  # unwatched/replaced meanwhile
                self.unwatch(key)  # once
                pid = entry[1]
                try:
                    pgid = os.getpgid(pid)
                    if not _killpg_guarded(pgid, signal.SIGKILL):
                        os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    entry[4](key, rss)
                except Exception as e:  # a callback bug must not stop the watchdog
                    print(
                        f"lambda-lab MemoryWatchdog: on_exceed({key}) failed: {e!r}",
                        file=sys.stderr,
                    )


class CpuDutyCycler:
    """SIGSTOP/SIGCONT duty cycling for the rlimit backend: ONE daemon thread, 100 ms period.

    Each environment runs share*period minus ~0.4 ms (measured sleep + signal overshoot) per
    period, in its own phase. A long period keeps short invocations at full speed.
    """

    COMPENSATION_S = 0.0004

    def __init__(self, period_s: float = 0.1) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self.period_s = period_s
        self._cond = threading.Condition()
        self._closed = False
        # key -> [pgid, run_window_s, period_start, running]
        self._entries: dict[str, list] = {}
        self._thread: threading.Thread | None = None

    def start(self, key: str, pgid: int, share: float) -> None:
        """Duty-cycle process group pgid at share (0 < share < 1) of one CPU."""
        if not 0 < share < 1:
            raise ValueError(f"share must be in (0, 1), got {share}; >= 1 needs no cycling")
        if pgid <= 1 or pgid == os.getpgrp():
            raise ValueError(f"refusing to duty-cycle process group {pgid}")
        window = max(0.0002, share * self.period_s - self.COMPENSATION_S)
        with self._cond:
            if self._closed:
                raise RuntimeError("CpuDutyCycler is closed")
            old = self._entries.get(key)
            if old is not None and old[0] != pgid:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(old[0], signal.SIGCONT)
            self._entries[key] = [pgid, window, time.monotonic(), True]
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lambda-lab-cpucycle", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def stop(self, key: str) -> None:
        """Stop cycling; the group is left CONTINUED (the thread checks membership under lock)."""
        with self._cond:
            entry = self._entries.pop(key, None)
            if entry is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(entry[0], signal.SIGCONT)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for entry in self._entries.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(entry[0], signal.SIGCONT)
            self._entries.clear()
            self._cond.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                next_due = now + 1.0
                for key, e in list(self._entries.items()):
                    pgid, window, start, running = e
                    if now - start >= self.period_s:  # new period: run again
                        start = start + self.period_s
                        if now - start >= self.period_s:  # fell behind (suspended host)
                            start = now
                        e[2] = start
                        if not running:
                            running = self._signal(key, pgid, signal.SIGCONT)
                            e[3] = running
                    if running and now - start >= window:
                        self._signal(key, pgid, signal.SIGSTOP)
                        e[3] = running = False
                    if key in self._entries:
                        due = start + (window if running else self.period_s)
                        next_due = min(next_due, due)
                self._cond.wait(max(0.0, next_due - time.monotonic()))

    def _signal(self, key: str, pgid: int, sig: int) -> bool:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            self._entries.pop(key, None)  # group gone
            return False
        return True


# ---------------------------------------------------------------- manual timing check


def _timing_check(kind: str = "auto", repeats: int = 100) -> dict[str, float]:
    """Median ms of each lifecycle step; run by hand (not a test):

    python -c "from kernel_runtime.sandbox._limits import _timing_check as t; t(); t('rlimit')"


    enter() is timed inside the freshly forked child (cold: includes copy-on-write faults).
    """
    import statistics

    backend = detect_limits_backend(kind)
    spec = LimitSpec(memory_bytes=128 << 20, cpu_share=128 / 1769, fsize_bytes=512 << 20)
    steps: dict[str, list[float]] = {
        k: [] for k in ("prepare", "enter", "freeze", "thaw", "kill", "destroy", "total")
    }
    try:
        for i in range(repeats):
            env = f"timing-{i}"
            r, w = os.pipe()
            t0 = time.perf_counter()
            backend.prepare(env, spec)
            t1 = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                try:
                    os.setpgid(0, 0)
                    s = time.perf_counter()
                    backend.enter(env, spec)
                    os.write(w, f"{time.perf_counter() - s}\n".encode())
                    os.read(r, 1)
                finally:
                    os._exit(0)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)
            steps["enter"].append(float(os.read(r, 64)) * 1e3)
            time.sleep(0.002)  # freeze an idle, settled environment (as after an invoke)
            t2 = time.perf_counter()
            backend.freeze(env, pid)
            t3 = time.perf_counter()
            backend.thaw(env, pid)
            t4 = time.perf_counter()
            backend.kill(env, pid)
            os.waitpid(pid, 0)
            t5 = time.perf_counter()
            backend.destroy(env)
            t6 = time.perf_counter()
            os.close(r)
            os.close(w)
            for k, v in (
                ("prepare", t1 - t0),
                ("freeze", t3 - t2),
                ("thaw", t4 - t3),
                ("kill", t5 - t4),
                ("destroy", t6 - t5),
                ("total", (t1 - t0) + (t6 - t2)),
            ):
                steps[k].append(v * 1e3)
    finally:
        backend.close()
    result = {k: round(statistics.median(v), 4) for k, v in steps.items()}
    p90 = {k: round(sorted(v)[int(len(v) * 0.9)], 4) for k, v in steps.items()}
    print(f"{backend.name} ({backend.freezer}), {repeats} repeats, ms median: {result}")
    print(f"{'':>{len(backend.name)}}  p90: {p90}")
    return result


if __name__ == "__main__":
    for _kind in sys.argv[1:] or ["auto", "rlimit"]:
        _timing_check(_kind)
