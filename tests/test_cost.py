"""Lambda cost with AWS list prices (kernel_runtime.observe._cost)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kernel_runtime.observe._cost import (
    AWS_LIST_PRICES,
    CostBreakdown,
    PriceList,
    PricingError,
    ProvisionedConcurrencyUsage,
    Usage,
    invocation_cost,
    monthly_cost,
)

X86_TIER_1 = Decimal("0.0000166667")
X86_TIER_2 = Decimal("0.000015")
X86_TIER_3 = Decimal("0.0000133334")
ARM_TIER_1 = Decimal("0.0000133334")
ARM_TIER_2 = Decimal("0.0000120001")
STORAGE = Decimal("0.0000000309")


def test_the_pricing_page_worked_example_to_the_cent() -> None:
    """512 MB, 3M invocations of 1 s: (1.5M - 400K) GB-s x $0.0000166667 + (3M - 1M) x $0.20/M."""
    bill = monthly_cost([Usage(512, 1000, count=3_000_000)])
    assert bill.request_count == 3_000_000
    assert bill.gb_seconds == 1_500_000
    assert bill.requests == Decimal("0.60")
    assert bill.duration == Decimal("25.00005")  # 1.5M GB-s before the free tier
    assert bill.free_tier_credit == Decimal("6.86668")  # 400K GB-s + 1M requests
    assert bill.total == Decimal("18.73337")  # = 18.33337 compute + 0.40 requests
    assert bill.rounded().total == Decimal("18.73")
    assert str(bill.rounded().free_tier_credit) == "6.87"


def test_plain_tuples_and_one_row_per_invocation_give_the_same_bill() -> None:
    aggregate = monthly_cost([(512, 1000, "x86_64", 512, False, 1_000)])
    one_by_one = monthly_cost([(512, 1000, "x86_64", 512, False)] * 1_000)
    assert aggregate == one_by_one
    assert aggregate.request_count == 1_000 and aggregate.total == 0  # all inside the free tier


def test_one_invocation() -> None:
    cost = invocation_cost(512, 1000)
    assert cost.gb_seconds == Decimal("0.5")
    assert cost.request == Decimal("0.0000002")
    assert cost.duration == Decimal("0.5") * X86_TIER_1
    assert cost.ephemeral_storage == 0
    assert cost.total == Decimal("0.00000853335")
    assert invocation_cost(128, 1).gb_seconds == Decimal("0.000125")  # 1/8 GB x 1 ms


def test_arm64_is_cheaper_than_x86_64_for_the_same_work() -> None:
    x86 = invocation_cost(1769, 250)
    arm = invocation_cost(1769, 250, architecture="arm64")
    assert arm.gb_seconds == x86.gb_seconds
    assert arm.request == x86.request
    assert arm.duration < x86.duration
    month = [Usage(1024, 200, count=10_000_000)]
    month_arm = [Usage(1024, 200, "arm64", count=10_000_000)]
    assert monthly_cost(month_arm).total < monthly_cost(month).total
    assert monthly_cost(month_arm, free_tier=False).duration == 2_000_000 * ARM_TIER_1


@pytest.mark.parametrize(
    ("gb_seconds", "expected"),
    [
        (6_000_000_000, 6_000_000_000 * X86_TIER_1),  # exactly the first tier
        (7_000_000_000, 6_000_000_000 * X86_TIER_1 + 1_000_000_000 * X86_TIER_2),
        (
            16_000_000_000,
            6_000_000_000 * X86_TIER_1 + 9_000_000_000 * X86_TIER_2 + 1_000_000_000 * X86_TIER_3,
        ),
    ],
)
def test_x86_64_tiers_across_the_month(gb_seconds: int, expected: Decimal) -> None:
    bill = monthly_cost([Usage(1024, 1000, count=gb_seconds)], free_tier=False)  # 1 GB-s each
    assert bill.gb_seconds == gb_seconds
    assert bill.duration == expected


def test_arm64_tiers_start_at_7_5_billion_gb_seconds() -> None:
    bill = monthly_cost([Usage(1024, 1000, "arm64", count=8_000_000_000)], free_tier=False)
    assert bill.duration == 7_500_000_000 * ARM_TIER_1 + 500_000_000 * ARM_TIER_2


def test_tiers_are_counted_per_architecture() -> None:
    both = monthly_cost(
        [
            Usage(1024, 1000, "x86_64", count=5_000_000_000),
            Usage(1024, 1000, "arm64", count=5_000_000_000),
        ],
        free_tier=False,
    )
    assert both.duration == 5_000_000_000 * (X86_TIER_1 + ARM_TIER_1)  # neither crosses a tier


def test_ephemeral_storage_is_billed_above_512_mb_only() -> None:
    assert invocation_cost(512, 1000, ephemeral_storage_mb=512).ephemeral_storage == 0
    assert invocation_cost(512, 1000, ephemeral_storage_mb=513).ephemeral_storage == (
        Decimal(1) / 1024 * STORAGE
    )
    assert invocation_cost(512, 2000, ephemeral_storage_mb=10240).ephemeral_storage == (
        Decimal(9728) / 1024 * 2 * STORAGE
    )
    bill = monthly_cost([Usage(128, 1, ephemeral_storage_mb=1536, count=10)])
    assert bill.ephemeral_storage == 10 * Decimal("0.001") * STORAGE  # 1 GB x 1 ms each
    assert bill.total == bill.ephemeral_storage  # the free tier does not cover /tmp


@pytest.mark.parametrize(
    ("seconds", "billed"),
    [(0, 0), (1, 300), (299.5, 300), (300, 300), (301, 600), (3600, 3600), (3601, 3900)],
)
def test_provisioned_concurrency_is_billed_in_5_minute_steps(seconds, billed) -> None:
    bill = monthly_cost(
        [], provisioned_configs=[ProvisionedConcurrencyUsage(2048, 3, seconds, "x86_64")]
    )
    assert bill.provisioned_concurrency == 2 * 3 * billed * Decimal("0.0000041667")
    assert bill.total == bill.provisioned_concurrency


def test_provisioned_concurrency_on_arm64_and_plain_tuples() -> None:
    bill = monthly_cost([], provisioned_configs=[(1024, 1, 300, "arm64")])
    assert bill.provisioned_concurrency == 300 * Decimal("0.0000033334")


def test_invocations_on_provisioned_concurrency_use_its_rate_and_no_free_tier() -> None:
    cost = invocation_cost(1024, 1000, provisioned=True)
    assert cost.duration == Decimal("0.0000097222")
    assert invocation_cost(1024, 1000, provisioned=True, architecture="arm64").duration == (
        Decimal("0.0000077778")
    )
    bill = monthly_cost([Usage(1024, 1000, provisioned=True, count=1_000)])
    assert bill.free_tier_credit == 0
    assert bill.total == 1_000 * (Decimal("0.0000097222") + Decimal("0.0000002"))


def test_the_free_tier_never_makes_a_bill_negative() -> None:
    tiny = monthly_cost([Usage(128, 1, count=5)])
    assert tiny.free_tier_credit == tiny.requests + tiny.duration
    assert tiny.total == 0
    assert monthly_cost([]).total == 0
    mixed = monthly_cost([Usage(128, 100, count=10), Usage(128, 100, "arm64", count=10)])
    assert mixed.total == 0 and mixed.free_tier_credit > 0


def test_the_free_tier_gb_seconds_go_to_x86_64_first() -> None:
    bill = monthly_cost(
        [
            Usage(1024, 1000, "x86_64", count=300_000),
            Usage(1024, 1000, "arm64", count=300_000),
        ]
    )
    gb_credit = 300_000 * X86_TIER_1 + 100_000 * ARM_TIER_1
    assert bill.free_tier_credit == gb_credit + 600_000 * Decimal("0.0000002")
    assert bill.total == 200_000 * ARM_TIER_1


def test_without_the_free_tier() -> None:
    bill = monthly_cost([Usage(512, 1000, count=3_000_000)], free_tier=False)
    assert bill.free_tier_credit == 0
    assert bill.rounded().total == Decimal("25.60")


def test_fractional_billed_milliseconds_are_rounded_up() -> None:
    assert invocation_cost(1024, 100.2).gb_seconds == Decimal("0.101")


def test_rounded_keeps_counts_and_rounds_money_half_up() -> None:
    bill = CostBreakdown(
        request_count=7,
        gb_seconds=Decimal("1.23456"),
        requests=Decimal("0.005"),
        duration=Decimal("1.004999"),
        ephemeral_storage=Decimal(0),
        provisioned_concurrency=Decimal(0),
        free_tier_credit=Decimal(0),
    ).rounded()
    assert (bill.request_count, bill.gb_seconds) == (7, Decimal("1.23456"))
    assert (bill.requests, bill.duration, bill.total) == (
        Decimal("0.01"),
        Decimal("1.00"),
        Decimal("1.01"),
    )


def test_a_custom_price_list() -> None:
    prices = PriceList(
        request=Decimal("0.000001"),
        x86_64_tiers=((None, Decimal("0.00001")),),
        arm64_tiers=((None, Decimal("0.000005")),),
        ephemeral_storage_gb_second=Decimal(0),
        x86_64_provisioned_gb_second=Decimal(0),
        x86_64_provisioned_duration_gb_second=Decimal(0),
        arm64_provisioned_gb_second=Decimal(0),
        arm64_provisioned_duration_gb_second=Decimal(0),
        free_requests=0,
        free_gb_seconds=Decimal(0),
    )
    assert invocation_cost(1024, 1000, prices=prices).total == Decimal("0.000011")
    assert AWS_LIST_PRICES.free_gb_seconds == 400_000 and AWS_LIST_PRICES.free_requests == 10**6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: invocation_cost(127, 1),
            "Value '127' at 'memorySize' failed to satisfy constraint: Member must have value "
            "greater than or equal to 128",
        ),
        (
            lambda: invocation_cost(10241, 1),
            "Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value "
            "less than or equal to 10240",
        ),
        (
            lambda: invocation_cost("512", 1),  # type: ignore[arg-type]
            "Value '512' at 'memorySize' failed to satisfy constraint: Member must be an integer",
        ),
        (
            lambda: invocation_cost(512, 1, architecture="x86"),
            "Value 'x86' at 'architectures' failed to satisfy constraint: Member must satisfy "
            "enum value set: [x86_64, arm64]",
        ),
        (
            lambda: invocation_cost(512, 1, ephemeral_storage_mb=511),
            "Value '511' at 'ephemeralStorage.size' failed to satisfy constraint: Member must "
            "have value greater than or equal to 512",
        ),
        (
            lambda: invocation_cost(512, -1),
            "Value '-1' at 'billedDurationMs' failed to satisfy constraint: Member must have "
            "value greater than or equal to 0",
        ),
        (
            lambda: monthly_cost([Usage(512, 1, "arm", count=1)]),
            "Value 'arm' at 'architectures'",
        ),
        (
            lambda: monthly_cost([Usage(512, 1, count=-1)]),
            "Value '-1' at 'count'",
        ),
        (
            lambda: monthly_cost([], provisioned_configs=[(512, 0, 60, "x86_64")]),
            "Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            lambda: monthly_cost([], provisioned_configs=[(512, 1, -5, "x86_64")]),
            "Value '-5' at 'secondsConfigured'",
        ),
        (
            lambda: monthly_cost([], provisioned_configs=[(512, 1, 60, "sparc")]),
            "Value 'sparc' at 'architectures'",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_problem(call, message: str) -> None:
    with pytest.raises(PricingError) as caught:
        call()
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "InvalidParameterValueException"
    assert str(caught.value).startswith("1 validation error detected: ")
    assert message in str(caught.value)
