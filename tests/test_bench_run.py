"""benchmarks/run.py in miniature: every case runs with tiny n and yields sane rows.

No timing assertions here: the targets live in the benchmark (PASS/MISS), not in tests.
"""

import importlib.util
import json
import os
import sys

import psutil
import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_run():
    path = os.path.join(_ROOT, "benchmarks", "run.py")
    spec = importlib.util.spec_from_file_location("_bench_run_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while decorating
    spec.loader.exec_module(mod)
    return mod


run = _load_run()
TINY = run.Params(
    n_cold=2,
    cold_max_s=2.0,
    cold_cases=(("zygote", 128), ("spawn", 1769)),
    n_warm=20,
    warmup=5,
    n_thaw=5,
    n_mem=2,
    mem_invokes=5,
    tput_seconds=0.1,
    peers_cold=1,
    peers_warm=5,
    burst_n=3,
    burst_rounds=2,
    service_tput_rounds=2,
    edge_n=10,
    sim_scale=0.01,
    sqs_messages=20,
    observe_rounds=1,
    lab_invocations=50,
)


@pytest.fixture(scope="module")
def code():
    with run._Code() as c:
        assert (c.path / "app.py").read_text() == run.HANDLER_SOURCE
        yield c


def _assert_figures(row, unit):
    assert "error" not in row, row.get("error")
    assert row["unit"] == unit
    assert row["n"] > 0
    assert row["p50"] is not None and row["p50"] > 0
    if row.get("p99") is not None:
        assert row["p99"] >= row["p50"]
    if row["target"]:
        assert row["verdict"] in ("PASS", "MISS")
    else:
        assert row["verdict"] is None


@pytest.mark.parametrize("mode", ["zygote", "spawn"])
def test_cold_rows(code, mode):
    rows = run.bench_cold(code, mode, 2, warmup=0, memory_size=1769 if mode == "spawn" else 128)
    assert [r["case"].split(" ")[0] for r in rows] == ["platform", "create_environment()", "first"]
    for r in rows:
        _assert_figures(r, "ms")
        assert r["n"] == 2
        assert mode in r["group"]
    _overhead, create, first = (r["p50"] for r in rows)
    assert first >= create  # create + invoke includes create
    if mode == "zygote":
        assert rows[0]["target"] == {"p50": ["<=", 3.0]}
        assert rows[2]["target"] == {"p50": ["<=", 10.0]}


@pytest.mark.parametrize("limits", ["auto", "rlimit"])
@pytest.mark.parametrize("variant", ["default", "nofreeze", "thaw"])
def test_warm_rows(code, limits, variant):
    row = run.bench_warm(
        code,
        limits,
        variant,
        20 if variant != "thaw" else 5,
        5,
        0.003,
        memory_size=1769 if variant == "nofreeze" else 128,
        target_on=variant == "default",
    )
    _assert_figures(row, "us")
    assert row["n"] == (5 if variant == "thaw" else 20)
    assert row["min"] <= row["p50"] <= row["max"]
    if variant == "default":
        assert row["target"] == {"p50": ["<=", 150.0], "p99": ["<=", 1000.0]}
    if variant == "thaw":
        assert 0 <= row["frozen_before"] <= 5
    if limits == "rlimit":
        assert "rlimit" in row["group"]


def test_memory_rows(code):
    rows = run.bench_memory(code, 2, 5)
    assert len(rows) == 2
    for r in rows:
        _assert_figures(r, "MiB")
        assert r["n"] == 2
    uss, rss = rows
    assert uss["p50"] <= rss["p50"]
    assert rss["zygote_rss_mib"] > 0


def test_uss_fallback_matches_shape():
    uss, rss = run._uss_bytes(os.getpid())
    assert 0 < uss <= rss


def test_throughput_row(code):
    row = run.bench_throughput(code, 0.1, rounds=1, memory_size=1769)
    assert "1769 MB" in row["case"]
    _assert_figures(row, "inv/s")
    assert row["target"] == {"p50": [">=", 10000.0]}
    # 128 MB's CPU quota caps it by design: a row to compare with, not a target to miss
    quota = run.bench_throughput(code, 0.05, rounds=1, memory_size=128)
    _assert_figures(quota, "inv/s")
    assert quota["target"] is None and quota["verdict"] is None


def test_ipc_floor_row_and_no_worker_left():
    before = set(psutil.Process().children())
    row = run.bench_ipc_floor(0.1, rounds=1)
    _assert_figures(row, "inv/s")
    assert row["p50"] > 1000  # bare round trips: far above any invoke path
    assert "target" not in row or not row["target"]
    assert set(psutil.Process().children()) == before  # the echo workers were reaped


def test_verdicts():
    ok = run._row(
        "g",
        "c",
        "us",
        {"p50": 100.0, "p99": 900.0, "n": 10},
        target={"p50": ("<=", 150.0), "p99": ("<=", 1000.0)},
    )
    assert ok["verdict"] == "PASS"
    miss = run._row(
        "g",
        "c",
        "us",
        {"p50": 100.0, "p99": 1900.0, "n": 10},
        target={"p50": ("<=", 150.0), "p99": ("<=", 1000.0)},
    )
    assert miss["verdict"] == "MISS"
    assert (
        run._row("g", "c", "inv/s", {"p50": 9999.0, "n": 1}, target={"p50": (">=", 10000.0)})[
            "verdict"
        ]
        == "MISS"
    )
    assert run._row("g", "c", "ms", error="boom", target={"p50": ("<=", 1.0)})["verdict"] == "ERROR"
    assert run._row("g", "c", "ms", {"p50": 1.0, "n": 1})["verdict"] is None


def test_the_table_says_when_the_host_took_cpu_time_during_a_row():
    rows = [
        run._row("g", "calm", "inv/s", {"p50": 10.0, "n": 1}, steal_s=0.0),
        run._row("g", "stolen", "inv/s", {"p50": 10.0, "n": 1}, steal_s=1.25),
    ]
    machine = {"cores": 2, "usable_cores": 2, "kernel": "k", "implementation": "i", "python": "p"}
    text = run.format_table({"machine": machine, "rows": rows, "elapsed_s": 1})
    assert text.count("(steal)") == 1
    assert "the host took 1.25 s of CPU (steal) meanwhile" in text


def test_peer_rows_are_converted(monkeypatch):
    fake = [
        {
            "tool": "awslambdaric",
            "case": "cold: spawn -> first /next",
            "p50_ms": 33.0,
            "p99_ms": 40.0,
            "n": 3,
        },
        {
            "tool": "awslambdaric",
            "case": "warm: Runtime API round trip",
            "p50_ms": 0.3,
            "p99_ms": 0.5,
            "n": 5,
            "uss_mib": 8.2,
            "rss_mib": 20.0,
        },
        {
            "tool": "python-lambda-local",
            "case": "CLI per invoke (spawn -> exit)",
            "p50_ms": None,
            "p99_ms": None,
            "n": 0,
            "error": "PeerUnavailable: not installed",
        },
    ]
    monkeypatch.setattr(run._peers, "run_peers", lambda n_cold, n_warm: fake)
    rows = run.bench_peers(1, 5)
    assert [r["unit"] for r in rows] == ["ms", "us", "MiB", "ms"]
    assert rows[1]["p50"] == pytest.approx(300.0) and rows[1]["p99"] == pytest.approx(500.0)
    assert rows[2]["p50"] == 8.2
    assert rows[3]["error"].startswith("PeerUnavailable")
    assert all(r["group"].startswith("peer: ") for r in rows)


def test_run_all_table_and_json(monkeypatch):
    monkeypatch.setattr(run._peers, "run_peers", lambda n_cold, n_warm: [])
    result = run.run_all(TINY, peers=True)
    assert set(result["machine"]) >= {"cores", "kernel", "python"}
    assert result["backend"]
    rows = result["rows"]
    # 2 cold groups x 3, 5 warm cases x 1-2 backends, memory x 2, throughput x 2 + its floor,
    # service x 6 (throughput: auto, pinned, never pinned), endpoint x 4, simulator x 1, event
    # sources x 6, observability x 5, lab x 3
    assert len(rows) in (6 + 5 + 2 + 3 + 11 + 6 + 5 + 3, 6 + 10 + 2 + 3 + 11 + 6 + 5 + 3)
    for r in rows:
        assert "error" not in r, (r["group"], r["case"], r.get("error"))
        assert r["p50"] is not None
        # a CPU difference over 20 messages may round to 0; every other figure is positive
        assert r["p50"] > 0 or "CPU per message" in r["case"], (r["case"], r["p50"])
    burst = next(r for r in rows if r["case"].startswith("burst: 3 invokes"))
    assert burst["n"] == 2 and len(burst["each"]) == 2 and burst["errors"] == 0
    assert burst["min"] <= burst["p50"] <= burst["max"]
    assert burst["p50"] in burst["each"] and burst["min"] == min(burst["each"])
    assert burst["p50"] >= 2.0  # the handler sleeps 2 s
    # the pinning modes took turns: each row is its mode's median of 2 rounds, listed
    modes = [r for r in rows if r["group"] == "ours, service" and r["unit"] == "inv/s"]
    assert [r["case"].split("pin_platform=")[1].split(":")[0] for r in modes] == [
        "'auto' (default)",
        "True",
        "False",
    ]
    for r in modes:
        assert r["n"] == 2 and len(r["each"]) == 2
        assert r["min"] == min(r["each"]) and r["max"] == max(r["each"])
        assert r["p50"] == r["max"]  # upper median of two
    assert [bool(r["target"]) for r in modes] == [True, True, False]
    text = run.format_table(result)
    assert f"each, in the order run: {burst['each'][0]:.3f}" in text
    assert "target" in text.splitlines()[2] and "mark" in text.splitlines()[2]
    assert result["machine"]["kernel"] in text.splitlines()[0]
    assert "PASS" in text or "MISS" in text
    json.loads(json.dumps(result))  # --json output is plain JSON


def test_benchmarks_record_into_a_scratch_store(monkeypatch):
    """Not into the user's: `make bench` writes a million invocations."""
    monkeypatch.setenv("LAMBDA_LAB_STORE", "/nonexistent/user/store.sqlite3")
    with run.bench_service.scratch_store() as tmp:
        path = os.environ["LAMBDA_LAB_STORE"]
        assert path.startswith(str(tmp)) and tmp.is_dir()
        from kernel_runtime.runtime import default_store_path

        assert str(default_store_path()) == path
    assert os.environ["LAMBDA_LAB_STORE"] == "/nonexistent/user/store.sqlite3"
    assert not tmp.exists()
    monkeypatch.delenv("LAMBDA_LAB_STORE")
    with run.bench_service.scratch_store():
        pass
    assert "LAMBDA_LAB_STORE" not in os.environ
