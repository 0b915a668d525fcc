"""Many cold starts at once: what keeps a burst from costing more than its environments."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from kernel_runtime.sandbox import _launcher


@pytest.fixture
def launcher():
    launcher = _launcher.Launcher(limits="rlimit", runtime_id=os.urandom(4).hex(), pool_size=0)
    yield launcher
    launcher.close()


def test_spawn_requests_go_to_the_zygote_one_sender_at_a_time(launcher, monkeypatch) -> None:
    """Writers blocked on a full unix datagram socket are all woken whenever the reader takes
    one message; concurrent spawns must wait for their turn in user space instead."""
    inside = peak = 0
    count = threading.Lock()
    sent: list[str] = []

    def slow_send_fds(sock: socket.socket, buffers: list[bytes], fds: list[int]) -> int:
        nonlocal inside, peak
        with count:
            inside += 1
            peak = max(peak, inside)
        time.sleep(0.005)  # a full socket: the sender is stuck in sendmsg for a while
        with count:
            inside -= 1
            sent.append(json.loads(buffers[0])["env"])
        return len(buffers[0])

    monkeypatch.setattr(_launcher.socket, "send_fds", slow_send_fds)
    r, w = os.pipe()
    try:
        threads = [
            threading.Thread(target=launcher.spawn, args=(f"env-{i}", {"mode": "zygote"}, r, w))
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        os.close(r)
        os.close(w)
    assert sorted(sent) == sorted(f"env-{i}" for i in range(8))
    assert peak == 1
