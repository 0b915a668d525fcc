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
    """One daemon thread for a sandbox; looks only at environments used since its last look,
    and measures at most ``budget`` directories per look. A thousand busy environments (a
    burst) would otherwise cost ten thousand directory scans a second, about 15 % of the
    supervisor's CPU; each is then measured every ``n / budget`` looks instead of every one.
    """

    def __init__(
        self,
        environments: Callable[[], Iterable[Any]],
        interval_s: float = 0.1,
        budget: int = 64,
    ) -> None:
        self._environments = environments
        self._interval = interval_s
        self._budget = budget
        self._next = 0  # where the next look starts when the last one ran out of budget
        self._seen: dict[str, int] = {}  # env id -> invocation count at the last look
        #: environments whose writes are stopped now (usually empty: the invoke path tests it)
        self.capped: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lambda-lab-storage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.look(list(self._environments()))

    def look(self, envs: list[Any]) -> int:
        """One look: check environments from where the last look stopped, until ``budget``
        directories were measured. Returns how many were."""
        n = len(envs)
        start = self._next if self._next < n else 0
        self._next = 0
        measured = 0
        for i in range(n):
            try:
                measured += self.check(envs[(start + i) % n])
            except Exception:  # noqa: BLE001, S112 - an environment may vanish mid-look
                continue
            if measured >= self._budget:
                self._next = (start + i + 1) % n
                break
        return measured

    def check(self, env: Any) -> bool:
        """Measure ``env``'s /tmp if it ran since the last look (or runs now); cap or uncap
        its writes. Returns whether its directory was measured."""
        key = env.environment_id
        busy = env.state == "BUSY"
        if not busy and self._seen.get(key) == env.invocation_count and key not in self.capped:
            return False
        self._seen[key] = env.invocation_count
        pid = env.pid
        if pid is None:
            return False
        limit = env.config.ephemeral_storage * 1024 * 1024
        used = directory_size(env.tmp_path)
        if used >= limit and key not in self.capped:
            _set_fsize_soft(pid, 0)
            self.capped.add(key)
        elif used < limit and key in self.capped:
            _set_fsize_soft(pid, limit)
            self.capped.discard(key)
        return True

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
