"""The sandbox: launcher, limits backend and housekeeping shared by all environments."""

from __future__ import annotations

import atexit
import concurrent.futures
import hashlib
import itertools
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import FunctionConfig
from ..errors import InvalidParameterValueException
from ._environment import ExecutionEnvironment, State
from ._launcher import Launcher
from ._limits import CpuDutyCycler, LimitsBackend, MemoryWatchdog, detect_limits_backend
from ._storage import StorageGuard

__all__ = ["Sandbox"]

LAUNCH_MODES = ("zygote", "spawn")
INITIALIZATION_TYPES = ("on-demand", "provisioned-concurrency")
_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()


class Sandbox:
    """Creates execution environments and owns every process they run in.

    ``launch_mode`` "zygote" forks environments from a warm interpreter (the fast path);
    "spawn" execs a fresh interpreter per environment. ``limits`` picks the enforcement
    backend: "auto" (cgroups when writable, else rlimits plus watchdogs), "cgroup" or "rlimit".
    ``freeze_grace`` is how long an idle environment stays thawed before it is frozen, so
    back-to-back invokes do not pay for a freeze and a thaw each. ``init_timeout`` is AWS's
    10 s Init limit: an init that overruns it is retried inside the first invoke, bounded by
    the function timeout ("suppressed init"). ``pool_size`` children are kept forked and
    parked in their limits groups, so a cold start skips the fork; ``zygotes`` zygotes (at most
    one per core) can share bursts of cold starts. ``orphaned_dirs`` are removed by the zygote
    if this process dies without closing the sandbox (a killed kernel), after it has killed
    every environment; a ``work_dir`` the sandbox made itself is always one of them.
    """

    def __init__(
        self,
        *,
        launch_mode: str = "zygote",
        limits: str = "auto",
        freeze: bool = True,
        freeze_grace: float = 0.01,
        isolate: bool = True,
        work_dir: str | Path | None = None,
        preload: tuple[str, ...] = (),
        shutdown_grace: float = 0.5,
        init_timeout: float = 10.0,
        pool_size: int = 2,
        zygotes: int = 1,
        orphaned_dirs: Sequence[str | Path] = (),
    ) -> None:
        if launch_mode not in LAUNCH_MODES:
            raise InvalidParameterValueException(
                f"launch_mode must be one of {', '.join(LAUNCH_MODES)}, not {launch_mode!r}"
            )
        self.launch_mode = launch_mode
        self.freeze = freeze
        self.freeze_grace = freeze_grace
        self.shutdown_grace = shutdown_grace
        self.init_timeout = init_timeout  # AWS's 10 s Init limit; lower it to demo a slow init
        self.extra_environment: dict[str, str] = {}
        self.runtime_id = os.urandom(4).hex()
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(
            tempfile.mkdtemp(prefix="lambda-lab-") if work_dir is None else work_dir
        )
        #: where environments make their /tmp (a str: joined once per cold start)
        self.envs_dir = str(self.work_dir / "envs")
        os.makedirs(self.envs_dir, exist_ok=True)
        try:
            self.backend: LimitsBackend = detect_limits_backend(limits, runtime_id=self.runtime_id)
        except ValueError as exc:
            raise InvalidParameterValueException(str(exc)) from None
        self.backend.cleanup_stale()
        self._envs: dict[str, ExecutionEnvironment] = {}
        #: environments created so far (cold starts and provisioned ones)
        self.started = 0
        self._layer_dirs: dict[tuple[Path, ...], str] = {}  # made by layers_dir(), per list
        self.envs_dir_lock = threading.Lock()  # environments make their /tmp one at a time
        self._lock = threading.Lock()
        self._closed = False
        self._watchdog: MemoryWatchdog | None = None
        self._cycler: CpuDutyCycler | None = None
        if not self.backend.enforces_memory:
            self._watchdog = MemoryWatchdog()
        if not self.backend.enforces_cpu:
            self._cycler = CpuDutyCycler()
        # more than one zygote (at most one per core) can share a burst of cold starts; on two
        # cores it measured slower (the zygotes compete with the children they start), so 1
        count = max(1, min(zygotes, os.cpu_count() or 1))
        self.launchers = [
            Launcher(
                limits=self.backend.name,
                runtime_id=self.runtime_id,
                preload=preload,
                isolate=isolate,
                pool_size=pool_size,
                orphaned_dirs=[
                    *map(str, orphaned_dirs),
                    *([str(self.work_dir)] if self._owns_work_dir else []),
                ],
            )
            for _ in range(count)
        ]
        self.launcher = self.launchers[0]
        self._next_launcher = itertools.cycle(self.launchers).__next__
        self.isolate = isolate and self.launcher.isolation
        self.zygote_rss = self.launcher.rss
        self._idle_envs: dict[ExecutionEnvironment, None] = {}
        self._kick = threading.Event()
        self._sleeping = False
        self._housekeeper = threading.Thread(
            target=self._housekeep, name="lambda-lab-housekeeper", daemon=True
        )
        self._housekeeper.start()
        self._storage = StorageGuard(lambda: self.environments)
        #: called with each new environment before its Init (observers attach listeners)
        self.on_environment: list[Callable[[ExecutionEnvironment], None]] = []
        _live.add(self)

    # -- public ---------------------------------------------------------------------------------
    def create_environment(
        self, config: FunctionConfig, *, initialization_type: str = "on-demand"
    ) -> ExecutionEnvironment:
        """A new environment for ``config``, with Init already run (or failed: see its state)."""
        if initialization_type not in INITIALIZATION_TYPES:
            raise InvalidParameterValueException(
                f"initialization_type must be one of {', '.join(INITIALIZATION_TYPES)}"
            )
        if self._closed:
            raise InvalidParameterValueException("the sandbox is closed")
        env = ExecutionEnvironment(self, config, initialization_type)
        with self._lock:
            self._envs[env.environment_id] = env
            self.started += 1
        for watcher in self.on_environment:
            watcher(env)  # before Init, so its whole lifecycle is seen
        env.start()
        return env

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        with self._lock:
            return list(self._envs.values())

    def describe(self) -> dict[str, Any]:
        """Which mechanisms are active: launch mode, limits backend, freezer, isolation."""
        return {
            "launch_mode": self.launch_mode,
            "limits": self.backend.describe(),
            "freeze": self.freeze,
            "freeze_grace_s": self.freeze_grace,
            "mount_isolation": self.isolate,
            "private_tmp": self.isolate and self.launcher.private_tmp,
            "zygote_pids": [launcher.pid for launcher in self.launchers],
            "zygote_rss_bytes": self.zygote_rss,
        }

    def close(self) -> None:
        """Shut every environment down, stop the zygote, remove every group and file."""
        if self._closed:
            return
        self._closed = True
        shutdown_all(self.environments)
        self._kick.set()
        self._storage.close()
        for launcher in self.launchers:
            launcher.close()
        for helper in (self._watchdog, self._cycler):
            if helper is not None:
                helper.close()
        self.backend.close()
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- layers ---------------------------------------------------------------------------------
    def layers_dir(self, layers: tuple[Path, ...]) -> str | None:
        """Layers merged in order into one directory (later layers win), made once per list."""
        if not layers:
            return None
        made = self._layer_dirs.get(layers)
        if made is not None:
            return made
        key = hashlib.sha256("\0".join(str(p.resolve()) for p in layers).encode()).hexdigest()[:16]
        target = self.work_dir / "opt" / key
        if not target.exists():
            staging = target.with_suffix(".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            for layer in layers:
                shutil.copytree(layer, staging, dirs_exist_ok=True, symlinks=True)
            staging.rename(target)
        self._layer_dirs[layers] = made = str(target)
        return made

    # -- hooks called by environments ------------------------------------------------------------
    def _watch(self, env: ExecutionEnvironment) -> None:
        if self._watchdog is not None and env.pid is not None:
            self._watchdog.watch(
                env.environment_id,
                env.pid,
                env.config.memory_size * 1048576,
                0,
                lambda _key, _rss, env=env: env._on_memory_exceeded(),
            )

    def _unwatch(self, env: ExecutionEnvironment) -> None:
        if self._watchdog is not None:
            self._watchdog.unwatch(env.environment_id)

    def _busy(self, env: ExecutionEnvironment, busy: bool) -> None:
        if busy and self._storage.capped:  # a set, empty unless some /tmp is full
            self._storage.ready(env)
        cycler = self._cycler
        if cycler is None or env.config.cpu_share >= 1 or env.pid is None:
            return
        if busy:
            cycler.start(env.environment_id, env.pid, env.config.cpu_share)
        else:
            cycler.stop(env.environment_id)

    def _idle(self, env: ExecutionEnvironment) -> None:
        # one dict lookup on the invoke path; the housekeeper is woken only from a deep sleep
        if self.freeze and env not in self._idle_envs:
            self._idle_envs[env] = None
            if self._sleeping:
                self._kick.set()

    def _forget(self, env: ExecutionEnvironment) -> None:
        self._idle_envs.pop(env, None)
        with self._lock:
            self._envs.pop(env.environment_id, None)

    def _housekeep(self) -> None:
        """Freeze environments that stayed idle past the grace period.

        An environment stays on the watch list while it is used; a busy one is looked at again
        one grace period later, so back-to-back invokes cost this thread ~1/grace wake-ups a
        second and the invoke path nothing.
        """
        grace = self.freeze_grace
        while not self._closed:
            now = time.monotonic()
            wake: float | None = None
            for env in list(self._idle_envs):
                state = env.state
                if state is State.READY and now - env.last_used >= grace:
                    if env.try_freeze(env.last_used):
                        self._idle_envs.pop(env, None)
                        continue
                    due = now + 0.001
                elif state is State.READY:
                    due = env.last_used + grace
                elif state is State.BUSY or state is State.INITIALIZING:
                    due = now + max(grace, 0.001)
                else:  # frozen, reset or gone: _idle puts it back when it is used again
                    self._idle_envs.pop(env, None)
                    continue
                wake = due if wake is None else min(wake, due)
            if wake is None:
                self._sleeping = True
                if not self._idle_envs:
                    self._kick.wait()
                self._sleeping = False
            else:
                self._kick.wait(max(wake - time.monotonic(), 0.0005))
            self._kick.clear()


def shutdown_all(environments: list[ExecutionEnvironment]) -> None:
    """Shut environments down side by side: each waits up to its SIGTERM grace, and a
    thousand of them one after another would keep a notebook's kernel waiting for minutes."""
    if len(environments) <= 1:
        for env in environments:
            env.shutdown()
        return
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(32, len(environments)), thread_name_prefix="lambda-lab-shutdown"
    ) as pool:
        for future in [pool.submit(env.shutdown) for env in environments]:
            future.result()


@atexit.register
def _close_all() -> None:
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001, S110 - best effort at interpreter exit
            pass
