"""The bill of recorded invocations, from the store's records and AWS's list prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kernel_runtime import LambdaRuntime
from kernel_runtime.observe._billing import cost_report, invocation_costs
from kernel_runtime.observe._cost import AWS_LIST_PRICES

pytestmark = pytest.mark.timeout(60)

SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.05)\n    return 1\n"


def test_cost_of_recorded_invocations(tmp_path: Path) -> None:
    with LambdaRuntime(store=tmp_path / "s.sqlite3", endpoint=False) as lab:
        lab.create_function("small", "app.handler", SLOW, memory_size=128)
        lab.create_function("big", "app.handler", SLOW, memory_size=1024, architectures=["arm64"])
        for _ in range(3):
            lab.invoke("small", {})
        lab.invoke("big", {})
        report = cost_report(lab.store, free_tier=False)
        rows = lab.store.invocations()
    assert report.invocations == 4
    small, big = report.by_function["small"], report.by_function["big"]
    assert (small.request_count, big.request_count) == (3, 1)
    billed = {"small": 0, "big": 0}
    for row in rows:
        billed[row["function_name"]] += row["billed_duration_ms"]
    # GB-s = MB / 1024 x billed seconds (init included on the cold start)
    assert small.gb_seconds == Decimal(128) / 1024 * Decimal(billed["small"]) / 1000
    assert big.gb_seconds == Decimal(1024) / 1024 * Decimal(billed["big"]) / 1000
    _, arm_first_tier_rate = AWS_LIST_PRICES.tiers("arm64")[0]
    assert big.duration == big.gb_seconds * arm_first_tier_rate
    assert report.total.total == small.total + big.total
    per_invocation = invocation_costs(rows)
    assert sum(per_invocation) == pytest.approx(report.total.total, rel=Decimal("1e-12"))


def test_free_tier_covers_a_small_month(tmp_path: Path) -> None:
    with LambdaRuntime(store=tmp_path / "s.sqlite3", endpoint=False) as lab:
        lab.create_function("f", "app.handler", SLOW)
        lab.invoke("f", {})
        report = cost_report(lab.store, function="f")
        assert report.total.total == 0  # 1M requests and 400,000 GB-s are free
        assert cost_report(lab.store, function="f", free_tier=False).total.total > 0
        assert report.table()[0]["function"] == "f"
