"""The simulator and the live service follow the same policy: on the same small scenario they
count the same invocations, cold starts and throttles."""

from __future__ import annotations

import threading
import time

from kernel_runtime import TooManyRequestsException
from kernel_runtime.runtime import LambdaRuntime
from kernel_runtime.service._policy import Limits
from kernel_runtime.simulate import from_list, simulate

RATES = [5, 0, 1]  # per second: 5 requests in second 0, none in second 1, 1 in second 2
LIMITS = Limits(account_concurrency=3, unreserved_minimum=0)
HANDLER_S = 1.0


def test_simulator_and_live_service_agree() -> None:
    sim = simulate(
        from_list(RATES),
        duration_s=4.0,
        cold_start_s=0.01,
        warm_duration_s=HANDLER_S,
        limits=LIMITS,
        arrivals="even",
    )
    expected = {k: sim.totals[k] for k in ("invocations", "cold_starts", "throttles")}
    assert expected == {"invocations": 4, "cold_starts": 3, "throttles": 2}

    arrivals = [i / r + s for s, r in enumerate(RATES) if r for i in range(r)]
    with LambdaRuntime(limits=LIMITS) as lab:
        lab.create_function(
            "agree",
            "app.handler",
            f"""
import time
def handler(event, context):
    time.sleep({HANDLER_S})
    return "done"
""",
        )
        outcomes: list[str] = []
        lock = threading.Lock()

        def call() -> None:
            try:
                inv = lab.invoke("agree", {}).invocation
                kind = "cold" if inv.cold_start else "warm"
            except TooManyRequestsException:
                kind = "throttle"
            with lock:
                outcomes.append(kind)

        start = time.monotonic()
        threads = []
        for at in arrivals:
            time.sleep(max(0.0, start + at - time.monotonic()))
            thread = threading.Thread(target=call)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        stats = lab.service.pools.stats("agree")
    live = {
        "invocations": stats.invocations,
        "cold_starts": stats.cold_starts,
        "throttles": stats.throttles,
    }
    assert live == expected, (live, sorted(outcomes))
