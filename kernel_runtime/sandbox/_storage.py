"""The ephemeral-storage limit on an environment's /tmp, enforced off the invoke path.

/tmp is a directory on the host disk (AWS's /tmp is disk too, and a tmpfs would count against
the memory limit). RLIMIT_FSIZE caps any one file at the configured size exactly; this guard
caps the total: a thread measures the /tmp of environments that ran recently, and when one is
over its size it lowers that runtime's RLIMIT_FSIZE soft limit to 0, so further writes fail
(EFBIG, "File too large", where AWS would say ENOSPC) until files are deleted.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["StorageGuard", "directory_size"]


def directory_size(path: str) -> int:
    """Bytes allocated under ``path`` (blocks, so sparse files count what they really use)."""
    total = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total


class StorageGuard:
    """One daemon thread for a sandbox; looks only at environments used since its last look."""

    def __init__(self, environments: Callable[[], Iterable[Any]], interval_s: float = 0.1) -> None:
        self._environments = environments
        self._interval = interval_s
        self._seen: dict[str, int] = {}  # env id -> invocation count at the last look
        #: environments whose writes are stopped now (usually empty: the invoke path tests it)
        self.capped: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lambda-lab-storage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for env in list(self._environments()):
                try:
                    self.check(env)
                except Exception:  # noqa: BLE001, S112 - an environment may vanish mid-look
                    continue

    def check(self, env: Any) -> None:
        key = env.environment_id
        busy = env.state == "BUSY"
        if not busy and self._seen.get(key) == env.invocation_count and key not in self.capped:
            return
        self._seen[key] = env.invocation_count
        pid = env.pid
        if pid is None:
            return
        limit = env.config.ephemeral_storage * 1024 * 1024
        used = directory_size(str(env.tmp_dir))
        if used >= limit and key not in self.capped:
            _set_fsize_soft(pid, 0)
            self.capped.add(key)
        elif used < limit and key in self.capped:
            _set_fsize_soft(pid, limit)
            self.capped.discard(key)

    def ready(self, env: Any) -> None:
        """Before a request to a capped environment: look again now. Files deleted since the
        cap (by the last request, say) give the space back at once, as a disk would, not at
        the thread's next look."""
        if env.environment_id in self.capped:
            self.check(env)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def _set_fsize_soft(pid: int, soft: int) -> None:
    try:
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        if hard != resource.RLIM_INFINITY:  # RLIM_INFINITY is -1: min() would pick it
            soft = min(soft, hard)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    except (ProcessLookupError, PermissionError, OSError):
        pass
