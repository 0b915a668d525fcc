"""What the recorded invocations would cost on AWS: per invocation, per function, in total.

The prices and the month's arithmetic are :mod:`._cost`'s (AWS list prices, tiers, the free
tier); this module only turns the store's invocation records into usage rows. Each invocation
is billed for its Billed Duration (which includes Init for on-demand cold starts, as AWS bills
since August 2025) at its memory size and architecture; invocations on provisioned concurrency
at the provisioned rate. Not included: the charge for keeping provisioned concurrency
configured, and ephemeral storage above 512 MB (the store does not keep the size per
invocation).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ._cost import AWS_LIST_PRICES, CostBreakdown, PriceList, Usage, invocation_cost, monthly_cost

__all__ = ["CostReport", "cost_report", "invocation_costs"]


@dataclass(frozen=True)
class CostReport:
    """The bill for a set of invocations: ``total`` (free tier applied when asked) and, per
    function, what each one's invocations cost on their own (no free tier: it is the
    account's, not a function's)."""

    invocations: int
    total: CostBreakdown
    by_function: dict[str, CostBreakdown]

    def table(self) -> list[dict[str, Any]]:
        """One row per function, rounded to micro-dollars, for display."""
        quantum = Decimal("0.000001")
        return [
            {
                "function": name,
                "requests": bill.request_count,
                "gb_seconds": float(bill.gb_seconds),
                "cost_usd": float(bill.total.quantize(quantum)),
            }
            for name, bill in sorted(self.by_function.items())
        ]


def _usage(row: dict[str, Any]) -> tuple[int, int, str, int, bool]:
    return (
        int(row["memory_size_mb"]),
        int(row["billed_duration_ms"]),
        row.get("architecture") or "x86_64",
        512,
        row.get("initialization_type") == "provisioned-concurrency",
    )


def cost_report(
    store: Any,
    *,
    function: str | None = None,
    start: float | datetime | None = None,
    end: float | datetime | None = None,
    free_tier: bool = True,
    prices: PriceList = AWS_LIST_PRICES,
) -> CostReport:
    """The cost of the invocations in ``store`` (optionally one function's, in a time range),
    as one month's bill."""
    rows = store.invocations(function=function, start=start, end=end)
    per_function: dict[str, Counter[tuple[int, int, str, int, bool]]] = {}
    for row in rows:
        per_function.setdefault(row["function_name"], Counter())[_usage(row)] += 1
    by_function = {
        name: monthly_cost(
            (Usage(*key, count=n) for key, n in usage.items()), free_tier=False, prices=prices
        )
        for name, usage in per_function.items()
    }
    everything: Counter[tuple[int, int, str, int, bool]] = Counter()
    for usage in per_function.values():
        everything.update(usage)
    total = monthly_cost(
        (Usage(*key, count=n) for key, n in everything.items()),
        free_tier=free_tier,
        prices=prices,
    )
    return CostReport(len(rows), total, by_function)


def invocation_costs(
    rows: list[dict[str, Any]], *, prices: PriceList = AWS_LIST_PRICES
) -> list[Decimal]:
    """Each invocation's own price (requests + duration, first-tier rates, no free tier): the
    per-point cost a plot shows."""
    out = []
    for row in rows:
        memory, billed, architecture, storage, provisioned = _usage(row)
        cost = invocation_cost(
            memory,
            billed,
            architecture=architecture,
            ephemeral_storage_mb=storage,
            provisioned=provisioned,
            prices=prices,
        )
        out.append(cost.total)
    return out
