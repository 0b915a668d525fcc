"""What Lambda would charge, with AWS's us-east-1 list prices, for teaching.

Sources: https://aws.amazon.com/lambda/pricing/ ;
https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/ ;
https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/

Money is :class:`~decimal.Decimal` and never rounded inside: one invocation costs a few
millionths of a dollar, so rounding each one would bill nothing. :meth:`CostBreakdown.rounded`
rounds a finished month to the cent (half up), the way a bill shows it.

Billing rules applied:

* duration is GB (MB / 1024) x billed seconds; the billed duration comes from the caller (the
  REPORT line's ``Billed Duration``, already rounded up to 1 ms). Since August 2025 the init
  phase of on-demand functions is billed too, so that figure includes Init Duration on a cold
  start; for provisioned concurrency init happens ahead of time and is not billed per invoke.
* on-demand duration is priced in monthly tiers per architecture; one invocation on its own is
  priced at the first tier.
* ``/tmp`` above the free 512 MB is billed per GB-second of duration.
* provisioned concurrency bills the configured GB x concurrency for the time it is configured,
  rounded up to 5 minutes, and its invocations at a lower duration rate (no tiers).
* the free tier (1M requests and 400,000 GB-seconds a month) does not apply to provisioned
  concurrency: its requests and duration are never credited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, NamedTuple

__all__ = [
    "ARCHITECTURES",
    "AWS_LIST_PRICES",
    "Cost",
    "CostBreakdown",
    "PriceList",
    "PricingError",
    "ProvisionedConcurrencyUsage",
    "Usage",
    "invocation_cost",
    "monthly_cost",
]

ARCHITECTURES: Final = ("x86_64", "arm64")
_FREE_STORAGE_MB: Final = 512
_MB_PER_GB: Final = Decimal(1024)
_MS_PER_S: Final = Decimal(1000)
_PC_BILLING_INCREMENT_S: Final = 300  # provisioned concurrency: rounded up to 5 minutes
_ZERO: Final = Decimal(0)

#: A tier: (cumulative upper bound in GB-seconds per month, or None for "above"; $/GB-s).
PriceTier = tuple[Decimal | None, Decimal]


class PricingError(ValueError):
    """An argument Lambda itself would refuse (same message shape as the Lambda API)."""

    code = "InvalidParameterValueException"

    def __init__(self, value: object, member: str, constraint: str) -> None:
        self.message = (
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: {constraint}"
        )
        super().__init__(self.message)


@dataclass(frozen=True)
class PriceList:
    """Lambda prices in US dollars. Tiers hold cumulative monthly GB-second bounds."""

    request: Decimal
    x86_64_tiers: tuple[PriceTier, ...]
    arm64_tiers: tuple[PriceTier, ...]
    ephemeral_storage_gb_second: Decimal
    x86_64_provisioned_gb_second: Decimal
    x86_64_provisioned_duration_gb_second: Decimal
    arm64_provisioned_gb_second: Decimal
    arm64_provisioned_duration_gb_second: Decimal
    free_requests: int
    free_gb_seconds: Decimal

    def tiers(self, architecture: str) -> tuple[PriceTier, ...]:
        """The on-demand duration tiers of ``architecture``."""
        return self.arm64_tiers if _architecture(architecture) == "arm64" else self.x86_64_tiers

    def provisioned(self, architecture: str) -> tuple[Decimal, Decimal]:
        """(per GB-s configured, per GB-s of execution) for provisioned concurrency."""
        if _architecture(architecture) == "arm64":
            return self.arm64_provisioned_gb_second, self.arm64_provisioned_duration_gb_second
        return self.x86_64_provisioned_gb_second, self.x86_64_provisioned_duration_gb_second

    def duration_cost(self, gb_seconds: Decimal, architecture: str) -> Decimal:
        """On-demand duration charge for a month's ``gb_seconds``, tier by tier."""
        charge, floor = _ZERO, _ZERO
        for ceiling, price in self.tiers(architecture):
            if gb_seconds <= floor:
                break
            top = gb_seconds if ceiling is None else min(gb_seconds, ceiling)
            charge += (top - floor) * price
            if ceiling is None:
                break
            floor = ceiling
        return charge


# us-east-1 list prices, https://aws.amazon.com/lambda/pricing/ (arm64 provisioned concurrency
# prices from secondary sources, see reference/lambda-facts.md section 9).
AWS_LIST_PRICES: Final = PriceList(
    request=Decimal("0.0000002"),
    x86_64_tiers=(
        (Decimal(6_000_000_000), Decimal("0.0000166667")),
        (Decimal(15_000_000_000), Decimal("0.000015")),
        (None, Decimal("0.0000133334")),
    ),
    arm64_tiers=(
        (Decimal(7_500_000_000), Decimal("0.0000133334")),
        (Decimal(18_750_000_000), Decimal("0.0000120001")),
        (None, Decimal("0.0000106667")),
    ),
    ephemeral_storage_gb_second=Decimal("0.0000000309"),
    x86_64_provisioned_gb_second=Decimal("0.0000041667"),
    x86_64_provisioned_duration_gb_second=Decimal("0.0000097222"),
    arm64_provisioned_gb_second=Decimal("0.0000033334"),
    arm64_provisioned_duration_gb_second=Decimal("0.0000077778"),
    free_requests=1_000_000,
    free_gb_seconds=Decimal(400_000),
)


@dataclass(frozen=True)
class Cost:
    """The charge for one invocation, in dollars (unrounded)."""

    gb_seconds: Decimal
    request: Decimal
    duration: Decimal
    ephemeral_storage: Decimal

    @property
    def total(self) -> Decimal:
        return self.request + self.duration + self.ephemeral_storage


class Usage(NamedTuple):
    """``count`` invocations alike: the aggregate form of a month's invocations."""

    memory_mb: int
    billed_duration_ms: int
    architecture: str = "x86_64"
    ephemeral_storage_mb: int = _FREE_STORAGE_MB
    provisioned: bool = False
    count: int = 1


class ProvisionedConcurrencyUsage(NamedTuple):
    """Provisioned concurrency kept configured for ``seconds_configured`` seconds."""

    memory_mb: int
    concurrency: int
    seconds_configured: float
    architecture: str = "x86_64"


@dataclass(frozen=True)
class CostBreakdown:
    """A month's bill, in dollars. ``free_tier_credit`` is subtracted in ``total``."""

    request_count: int
    gb_seconds: Decimal
    requests: Decimal
    duration: Decimal
    ephemeral_storage: Decimal
    provisioned_concurrency: Decimal
    free_tier_credit: Decimal

    @property
    def total(self) -> Decimal:
        return (
            self.requests
            + self.duration
            + self.ephemeral_storage
            + self.provisioned_concurrency
            - self.free_tier_credit
        )

    def rounded(self, places: int = 2) -> CostBreakdown:
        """A copy with every dollar amount rounded half up to ``places`` decimals (cents);
        ``total`` is then the sum of the rounded lines, as on a bill."""
        quantum = Decimal(1).scaleb(-places)
        money = {
            f.name: getattr(self, f.name).quantize(quantum, rounding=ROUND_HALF_UP)
            for f in fields(self)
            if f.name not in ("request_count", "gb_seconds")
        }
        return replace(self, **money)


def invocation_cost(
    memory_mb: int,
    billed_duration_ms: int,
    *,
    architecture: str = "x86_64",
    ephemeral_storage_mb: int = _FREE_STORAGE_MB,
    provisioned: bool = False,
    prices: PriceList = AWS_LIST_PRICES,
) -> Cost:
    """What one invocation costs: the request, its duration at the first-tier rate (or the
    provisioned-concurrency execution rate) and ``/tmp`` above 512 MB. No free tier.

    ``billed_duration_ms`` is the REPORT line's Billed Duration: on an on-demand cold start it
    already includes the Init Duration (billed since August 2025)."""
    gb, seconds = _gb(memory_mb), _seconds(billed_duration_ms)
    storage_gb = _storage_gb(ephemeral_storage_mb)
    gb_seconds = gb * seconds
    if provisioned:
        rate = prices.provisioned(architecture)[1]
    else:
        rate = prices.tiers(architecture)[0][1]
    return Cost(
        gb_seconds=gb_seconds,
        request=prices.request,
        duration=gb_seconds * rate,
        ephemeral_storage=storage_gb * seconds * prices.ephemeral_storage_gb_second,
    )


def monthly_cost(
    invocations: Iterable[Usage | tuple],
    *,
    free_tier: bool = True,
    provisioned_configs: Iterable[ProvisionedConcurrencyUsage | tuple] = (),
    prices: PriceList = AWS_LIST_PRICES,
) -> CostBreakdown:
    """A month's bill for ``invocations`` (:class:`Usage` or plain tuples in its field order;
    ``count`` makes one row stand for many invocations) and provisioned concurrency windows.

    On-demand duration is tiered per architecture over the whole month. The free tier is a
    credit: its 400,000 GB-seconds are valued at the first-tier rate (they are the month's
    first), taken from x86_64 usage before arm64 (AWS does not say; x86_64 is dearer), and
    1M requests at the request price; it never exceeds what it offsets.
    """
    request_count = 0
    free_eligible_requests = 0
    on_demand: dict[str, Decimal] = dict.fromkeys(ARCHITECTURES, _ZERO)
    pc_duration = _ZERO
    storage = _ZERO
    total_gb_seconds = _ZERO
    for row in invocations:
        usage = row if isinstance(row, Usage) else Usage(*row)
        count = _count(usage.count)
        gb_seconds = _gb(usage.memory_mb) * _seconds(usage.billed_duration_ms) * count
        storage_gb_seconds = (
            _storage_gb(usage.ephemeral_storage_mb) * _seconds(usage.billed_duration_ms) * count
        )
        architecture = _architecture(usage.architecture)
        request_count += count
        total_gb_seconds += gb_seconds
        storage += storage_gb_seconds * prices.ephemeral_storage_gb_second
        if usage.provisioned:
            pc_duration += gb_seconds * prices.provisioned(architecture)[1]
        else:
            free_eligible_requests += count
            on_demand[architecture] += gb_seconds
    duration = pc_duration + sum(
        (prices.duration_cost(gbs, arch) for arch, gbs in on_demand.items()), _ZERO
    )
    configured = sum((_configured_cost(config, prices) for config in provisioned_configs), _ZERO)
    credit = _ZERO
    if free_tier:
        credit += min(free_eligible_requests, prices.free_requests) * prices.request
        free_left = prices.free_gb_seconds
        for architecture in ARCHITECTURES:  # x86_64 first
            used = min(on_demand[architecture], free_left)
            credit += used * prices.tiers(architecture)[0][1]
            free_left -= used
    return CostBreakdown(
        request_count=request_count,
        gb_seconds=total_gb_seconds,
        requests=request_count * prices.request,
        duration=duration,
        ephemeral_storage=storage,
        provisioned_concurrency=configured,
        free_tier_credit=credit,
    )


# -- validation ------------------------------------------------------------------------------
def _integer(value: object, member: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingError(value, member, "Member must be an integer")
    if value < low:
        raise PricingError(value, member, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise PricingError(value, member, f"Member must have value less than or equal to {high}")
    return value


def _gb(memory_mb: int) -> Decimal:
    return Decimal(_integer(memory_mb, "memorySize", 128, 10240)) / _MB_PER_GB


def _storage_gb(ephemeral_storage_mb: int) -> Decimal:
    size = _integer(ephemeral_storage_mb, "ephemeralStorage.size", 512, 10240)
    return Decimal(size - _FREE_STORAGE_MB) / _MB_PER_GB


def _seconds(billed_duration_ms: float) -> Decimal:
    """Billed milliseconds as seconds; a fractional value is rounded up as Lambda bills."""
    if isinstance(billed_duration_ms, float) and math.isfinite(billed_duration_ms):
        billed_duration_ms = math.ceil(billed_duration_ms)
    return Decimal(_integer(billed_duration_ms, "billedDurationMs", 0, None)) / _MS_PER_S


def _count(count: int) -> int:
    return _integer(count, "count", 0, None)


def _architecture(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise PricingError(
            architecture, "architectures", "Member must satisfy enum value set: [x86_64, arm64]"
        )
    return architecture


def _configured_cost(row: ProvisionedConcurrencyUsage | tuple, prices: PriceList) -> Decimal:
    config = (
        row if isinstance(row, ProvisionedConcurrencyUsage) else ProvisionedConcurrencyUsage(*row)
    )
    gb = _gb(config.memory_mb)
    concurrency = _integer(config.concurrency, "provisionedConcurrentExecutions", 1, None)
    seconds = config.seconds_configured
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise PricingError(
            seconds, "secondsConfigured", "Member must have value greater than or equal to 0"
        )
    increments = math.ceil(seconds / _PC_BILLING_INCREMENT_S)
    billed_seconds = Decimal(increments * _PC_BILLING_INCREMENT_S)
    return gb * concurrency * billed_seconds * prices.provisioned(config.architecture)[0]
