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
            tmp_path=str(tmp),
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


def test_a_look_measures_at_most_its_budget_and_reaches_everyone_in_turn(tmp_path: Path) -> None:
    """A burst keeps a thousand environments busy: one look must not scan them all, and no
    environment may be skipped for good either."""

    def env(i: int, state: str = "BUSY") -> SimpleNamespace:
        return SimpleNamespace(
            environment_id=f"e{i}",
            state=state,
            invocation_count=1,
            pid=1,
            tmp_path=str(tmp_path / f"e{i}"),  # missing directories measure 0 bytes
            config=SimpleNamespace(ephemeral_storage=512),
        )

    guard = StorageGuard(lambda: [], interval_s=3600, budget=10)
    try:
        busy = [env(i) for i in range(25)]
        measured: list[str] = []
        real_check = guard.check

        def check(e: SimpleNamespace) -> bool:
            done = real_check(e)
            if done:
                measured.append(e.environment_id)
            return done

        guard.check = check  # type: ignore[method-assign]
        assert [guard.look(busy) for _ in range(3)] == [10, 10, 10]
        assert measured[:25] == [e.environment_id for e in busy]  # each in turn
        assert measured[25:] == ["e0", "e1", "e2", "e3", "e4"]  # then round again
        few = [env(100), env(101), env(102, state="READY")]
        assert guard.look(few) == 3  # READY, but used since the last look
        assert guard.look(few) == 2  # only the busy ones now
    finally:
        guard.close()
