"""The pure scaling and concurrency policy: one test per AWS rule."""

from __future__ import annotations

import random

import pytest

from kernel_runtime.service._policy import (
    ACCOUNT_LIMIT,
    RESERVED_LIMIT,
    ConcurrencyState,
    EnvironmentRef,
    Limits,
    add_provisioned,
    admit,
    admit_many,
    check_provisioned,
    check_reserved,
    environment_lost,
    provisioned_shortfall,
    reap,
    release,
    remove_function,
    set_provisioned,
    set_reserved,
    unreserved_available,
)

L = Limits()


def test_defaults_are_aws() -> None:
    assert (L.account_concurrency, L.unreserved_minimum, L.scale_rate, L.scale_window_s) == (
        1000,
        100,
        1000,
        10.0,
    )
    assert L.refill_per_s == 100.0
    with pytest.raises(ValueError):
        Limits(account_concurrency=50)  # below the unreserved minimum


def test_first_request_is_cold_then_warm_reuse() -> None:
    s = ConcurrencyState()
    a = admit(s, L, "f", "1", 0.0)
    assert a.action == "cold" and a.env is None and not a.throttled and a.message == ""
    assert s.busy == 1 and s.unreserved_claimed == 1
    assert release(s, "f", "1", 1.0, env="e1") == 0
    assert s.busy == 0 and s.unreserved_claimed == 0
    a = admit(s, L, "f", "1", 2.0)
    assert a == ("warm", "e1", "", "")


def test_warm_reuse_is_most_recently_used_first_and_per_pool() -> None:
    s = ConcurrencyState()
    for _ in range(3):
        admit(s, L, "f", "1", 0.0)
    for t, e in ((1.0, "a"), (2.0, "b"), (3.0, "c")):
        release(s, "f", "1", t, env=e)
    assert admit(s, L, "f", "2", 4.0).action == "cold"  # another version: no sharing
    assert [admit(s, L, "f", "1", 4.0).env for _ in range(3)] == ["c", "b", "a"]
    assert admit(s, L, "f", "1", 4.0).action == "cold"


def test_provisioned_first_then_spillover() -> None:
    s = ConcurrencyState()
    assert admit(s, L, "f", "live", 0.0).action == "cold"
    set_provisioned(s, "f", "live", 2)
    assert s.unreserved_claimed == 1 + 2  # PC claims concurrency even while idle
    assert provisioned_shortfall(s, "f", "live") == 2
    add_provisioned(s, "f", "live", 0.0, env="p1")
    add_provisioned(s, "f", "live", 0.0, env="p2")
    assert provisioned_shortfall(s, "f", "live") == 0
    with pytest.raises(ValueError):
        add_provisioned(s, "f", "live", 0.0, env="p3")
    release(s, "f", "live", 0.0, env="w1")
    assert admit(s, L, "f", "live", 1.0).action == "provisioned"
    assert admit(s, L, "f", "live", 1.0).action == "provisioned"
    spill = admit(s, L, "f", "live", 1.0)
    assert spill == ("warm", "w1", "", "")  # spillover reuses a warm on-demand env
    assert admit(s, L, "f", "live", 1.0).action == "cold"
    assert s.busy == 4 and s.unreserved_claimed == 2 + 2
    assert release(s, "f", "live", 2.0, provisioned=True, env="p1") == 0
    assert admit(s, L, "f", "live", 3.0) == ("provisioned", "p1", "", "")


def test_provisioned_counts_against_reserved() -> None:
    s = ConcurrencyState()
    set_reserved(s, "f", 3)
    set_provisioned(s, "f", "live", 2)
    add_provisioned(s, "f", "live", 0.0, count=2)
    counts = admit_many(s, L, "f", "live", 5, 0.0)
    assert counts == (2, 0, 1, 2, RESERVED_LIMIT, "reserved")
    # Even idle PC counts: with PC busy released, only 1 on-demand slot remains.
    release(s, "f", "live", 1.0, provisioned=True, count=2)
    assert admit(s, L, "f", "other", 1.0).reason == RESERVED_LIMIT


def test_reserved_zero_throttles_everything() -> None:
    s = ConcurrencyState()
    set_reserved(s, "f", 0)
    a = admit(s, L, "f", "1", 0.0)
    assert a.action == "throttle"
    assert a.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert a.message == "Rate Exceeded."
    assert s.busy == 0


def test_reserved_caps_the_function_and_protects_it_from_others() -> None:
    lim = Limits(account_concurrency=300)
    s = ConcurrencyState()
    set_reserved(s, "critical", 100)
    assert unreserved_available(s, lim) == 200
    # The greedy function uses the whole unreserved pool (300 - 100) and no more.
    greedy = admit_many(s, lim, "greedy", "1", 500, 0.0)
    assert greedy == (0, 0, 200, 300, ACCOUNT_LIMIT, "unreserved")
    # ...yet the reserved function still gets its full 100, and is capped there.
    critical = admit_many(s, lim, "critical", "1", 150, 0.0)
    assert critical == (0, 0, 100, 50, RESERVED_LIMIT, "reserved")
    assert s.busy == 300


def test_account_limit() -> None:
    s = ConcurrencyState()
    got = admit_many(s, L, "a", "1", 600, 0.0)
    assert got.cold == 600
    got = admit_many(s, L, "b", "1", 600, 0.0)
    assert got == (0, 0, 400, 200, "ConcurrentInvocationLimitExceeded", "unreserved")
    a = admit(s, L, "c", "1", 0.0)
    assert a.reason == ACCOUNT_LIMIT and a.cause == "unreserved"
    release(s, "a", "1", 1.0, count=1)
    assert admit(s, L, "c", "1", 1.0).action == "cold"


def test_scaling_rate_bucket_and_continuous_refill() -> None:
    lim = Limits(account_concurrency=100_000)
    s = ConcurrencyState()
    first = admit_many(s, lim, "f", "1", 1500, 0.0)
    assert first == (0, 0, 1000, 500, ACCOUNT_LIMIT, "scaling")  # bucket starts full
    a = admit(s, lim, "f", "1", 0.0)
    assert a.action == "throttle" and a.cause == "scaling" and a.message == "Rate Exceeded."
    assert admit_many(s, lim, "f", "1", 1000, 1.0).cold == 100  # 100 per second
    assert admit_many(s, lim, "f", "1", 1000, 1.5).cold == 50
    # Not accumulated beyond one window: an hour idle still gives 1,000.
    assert admit_many(s, lim, "f", "1", 5000, 3600.0).cold == 1000
    # Per function: another function has its own bucket.
    assert admit_many(s, lim, "g", "1", 1000, 3600.0).cold == 1000
    # Warm reuse does not draw on the bucket.
    release(s, "f", "1", 3600.0, count=500)
    assert admit_many(s, lim, "f", "1", 500, 3600.0) == (0, 500, 0, 0, "", "")


def test_custom_scaling_rate() -> None:
    lim = Limits(scale_rate=10, scale_window_s=1.0)
    s = ConcurrencyState()
    assert admit_many(s, lim, "f", "1", 50, 0.0).cold == 10
    assert admit_many(s, lim, "f", "1", 50, 0.5).cold == 5


def test_concurrency_limit_reported_before_scaling_when_both_bind() -> None:
    lim = Limits(account_concurrency=1000, scale_rate=1000)
    s = ConcurrencyState()
    assert admit_many(s, lim, "f", "1", 2000, 0.0).cause == "unreserved"


def test_reap_idle_on_demand_only_oldest_first() -> None:
    lim = Limits(idle_timeout_s=300)
    s = ConcurrencyState()
    set_provisioned(s, "f", "1", 1)
    add_provisioned(s, "f", "1", 0.0, env="pc")
    for _ in range(3):
        admit(s, lim, "f", "2", 0.0)
    release(s, "f", "2", 10.0, env="old")
    release(s, "f", "2", 20.0, env="mid")
    release(s, "f", "2", 200.0, env="new")
    assert reap(s, lim, 309.0) == []
    assert reap(s, lim, 320.0) == [
        EnvironmentRef("f", "2", "old", 1),
        EnvironmentRef("f", "2", "mid", 1),
    ]
    assert reap(s, lim, 10_000.0) == [EnvironmentRef("f", "2", "new", 1)]
    pool = s.functions["f"].pools["1"]
    assert pool.idle_provisioned.count == 1  # never reaped
    assert admit(s, lim, "f", "2", 10_000.0).action == "cold"


def test_reuse_resets_idle_time() -> None:
    lim = Limits(idle_timeout_s=100)
    s = ConcurrencyState()
    admit(s, lim, "f", "1", 0.0)
    release(s, "f", "1", 0.0, env="e")
    assert admit(s, lim, "f", "1", 90.0).env == "e"
    release(s, "f", "1", 95.0, env="e")
    assert reap(s, lim, 150.0) == []
    assert [r.env for r in reap(s, lim, 195.0)] == ["e"]


def test_anonymous_batches_reap_in_runs() -> None:
    lim = Limits(idle_timeout_s=10)
    s = ConcurrencyState()
    admit_many(s, lim, "f", "1", 100, 0.0)
    release(s, "f", "1", 1.0, count=60)
    release(s, "f", "1", 5.0, count=40)
    assert admit_many(s, lim, "f", "1", 30, 6.0).warm == 30  # takes the newest 30 (of the 40)
    release(s, "f", "1", 7.0, count=30)
    assert reap(s, lim, 11.0) == [EnvironmentRef("f", "1", None, 60)]
    assert sum(r.count for r in reap(s, lim, 17.0)) == 40


def test_environment_lost() -> None:
    s = ConcurrencyState()
    admit(s, L, "f", "1", 0.0)
    admit(s, L, "f", "1", 0.0)
    environment_lost(s, "f", "1", busy=True)
    assert s.busy == 1 and s.unreserved_claimed == 1
    release(s, "f", "1", 1.0, env="e")
    environment_lost(s, "f", "1", env="e")
    assert admit(s, L, "f", "1", 2.0).action == "cold"
    with pytest.raises(KeyError):
        environment_lost(s, "f", "1", env="nope")
    set_provisioned(s, "f", "live", 2)
    add_provisioned(s, "f", "live", 0.0, env="p")
    environment_lost(s, "f", "live", provisioned=True, env="p")
    assert provisioned_shortfall(s, "f", "live") == 2


def test_lowering_provisioned_retires_surplus() -> None:
    s = ConcurrencyState()
    set_provisioned(s, "f", "live", 3)
    for e in ("a", "b", "c"):
        add_provisioned(s, "f", "live", 0.0, env=e)
    assert admit(s, L, "f", "live", 1.0).action == "provisioned"  # c busy
    retired = set_provisioned(s, "f", "live", 1)
    assert retired == [  # idle ones go first, the busy one stays
        EnvironmentRef("f", "live", "a", 1, True),
        EnvironmentRef("f", "live", "b", 1, True),
    ]
    assert s.unreserved_claimed == 1
    assert release(s, "f", "live", 2.0, provisioned=True, env="c") == 0
    assert [admit(s, L, "f", "live", 3.0).action for _ in range(2)] == ["provisioned", "cold"]
    set_provisioned(s, "f", "live", 0)  # delete while the PC env is busy...
    assert release(s, "f", "live", 4.0, provisioned=True, env="c") == 1  # ...shut it down after
    assert s.functions["f"].pools["live"].provisioned_envs == 0


def test_set_reserved_moves_usage_between_pools() -> None:
    s = ConcurrencyState()
    admit_many(s, L, "f", "1", 10, 0.0)
    assert s.unreserved_claimed == 10
    set_reserved(s, "f", 50)
    assert s.unreserved_claimed == 0 and s.reserved_total == 50
    set_reserved(s, "f", None)
    assert s.unreserved_claimed == 10 and s.reserved_total == 0


def test_remove_function() -> None:
    s = ConcurrencyState()
    set_reserved(s, "f", 10)
    admit(s, L, "f", "1", 0.0)
    with pytest.raises(ValueError):
        remove_function(s, "f")
    release(s, "f", "1", 1.0, env="e")
    assert remove_function(s, "f") == [EnvironmentRef("f", "1", "e", 1)]
    assert s.reserved_total == 0 and s.unreserved_claimed == 0 and "f" not in s.functions


def test_check_reserved_messages() -> None:
    s = ConcurrencyState()
    assert check_reserved(s, L, "f", 900) is None
    msg = check_reserved(s, L, "f", 901)
    assert msg == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    set_reserved(s, "f", 900)
    assert check_reserved(s, L, "g", 1) is not None  # nothing left to reserve
    assert check_reserved(s, L, "f", 900) is None  # re-putting the same value
    assert check_reserved(s, L, "f", 10) is None  # lowering always allowed
    assert "greater than or equal to 0" in (check_reserved(s, L, "f", -1) or "")
    # The minimum is configurable (new accounts have 10).
    small = Limits(account_concurrency=10, unreserved_minimum=10)
    assert "[10]" in (check_reserved(ConcurrencyState(), small, "f", 1) or "")


def test_check_reserved_counts_unreserved_provisioned() -> None:
    s = ConcurrencyState()
    set_provisioned(s, "g", "1", 500)
    assert check_reserved(s, L, "f", 400) is None
    assert check_reserved(s, L, "f", 401) is not None
    set_provisioned(s, "f", "1", 5)
    assert check_reserved(s, L, "f", 4) is not None  # below its own PC


def test_check_provisioned_messages() -> None:
    s = ConcurrencyState()
    assert check_provisioned(s, L, "f", "1", 900) is None
    assert check_provisioned(s, L, "f", "1", 901) == (
        "Specified ConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    assert "greater than or equal to 1" in (check_provisioned(s, L, "f", "1", 0) or "")
    set_reserved(s, "r", 20)
    assert check_provisioned(s, L, "r", "1", 20) is None
    set_provisioned(s, "r", "1", 15)
    assert check_provisioned(s, L, "r", "2", 6) is not None  # 15 + 6 > 20
    assert check_provisioned(s, L, "r", "1", 10) is None  # lowering


def test_batch_equals_sequential_singles() -> None:
    """admit_many(n) makes exactly the decisions of n admit() calls, whatever the state."""
    rng = random.Random(7)
    lim = Limits(account_concurrency=400, scale_rate=50, scale_window_s=5.0, idle_timeout_s=20)
    a, b = ConcurrencyState(), ConcurrencyState()
    for s in (a, b):
        set_reserved(s, "r", 60)
        set_provisioned(s, "r", "1", 10)
        add_provisioned(s, "r", "1", 0.0, count=10)
    busy = {("f", "1"): [0, 0], ("r", "1"): [0, 0]}  # [on-demand, provisioned]
    t = 0.0
    for _ in range(400):
        t += rng.choice((0.0, 0.1, 1.0, 7.0))
        key = rng.choice(list(busy))
        if rng.random() < 0.5:
            n = rng.randint(1, 80)
            got = admit_many(a, lim, *key, n, t)
            seq = [admit(b, lim, *key, t) for _ in range(n)]
            actions = [x.action for x in seq]
            assert (got.provisioned, got.warm, got.cold, got.throttled) == tuple(
                actions.count(k) for k in ("provisioned", "warm", "cold", "throttle")
            )
            if got.throttled:
                assert {x.reason for x in seq if x.throttled} == {got.reason}
            busy[key][0] += got.warm + got.cold
            busy[key][1] += got.provisioned
        else:
            pc = rng.random() < 0.5
            n = rng.randint(0, busy[key][pc])
            if n:
                release(a, *key, t, provisioned=pc, count=n)
                release(b, *key, t, provisioned=pc, count=n)
                busy[key][pc] -= n
        ra, rb = reap(a, lim, t), reap(b, lim, t)
        assert sum(r.count for r in ra) == sum(r.count for r in rb)
        assert (a.busy, a.unreserved_claimed) == (b.busy, b.unreserved_claimed)
        assert a.busy == sum(map(sum, busy.values()))
