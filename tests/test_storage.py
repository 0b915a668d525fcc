"""The ephemeral-storage guard: a full /tmp stops writes; deleting files gives the space back
before the next request, not at the guard's next look."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path
from types import SimpleNamespace

from kernel_runtime.sandbox._storage import StorageGuard, directory_size


def _soft_fsize(pid: int) -> int:
    return resource.prlimit(pid, resource.RLIMIT_FSIZE)[0]


def test_a_capped_environment_gets_its_space_back_before_the_next_request(
    tmp_path: Path,
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    runtime = subprocess.Popen(["sleep", "60"])  # stands for the environment's process
    try:
        env = SimpleNamespace(
            environment_id="e1",
            state="READY",
            invocation_count=1,
            pid=runtime.pid,
            tmp_dir=tmp,
            config=SimpleNamespace(ephemeral_storage=1),  # 1 MiB
        )
        guard = StorageGuard(lambda: [], interval_s=3600)  # the thread never looks itself
        try:
            (tmp / "big").write_bytes(b"x" * (1 << 20))
            assert directory_size(str(tmp)) >= 1 << 20
            guard.check(env)
            assert "e1" in guard.capped and _soft_fsize(runtime.pid) == 0
            guard.ready(env)  # still full: stays capped
            assert _soft_fsize(runtime.pid) == 0
            (tmp / "big").unlink()
            guard.ready(env)  # what the sandbox calls as the next request starts
            assert "e1" not in guard.capped
            assert _soft_fsize(runtime.pid) == 1 << 20
        finally:
            guard.close()
    finally:
        runtime.kill()
        runtime.wait()
