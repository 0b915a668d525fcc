"""The ``lambda-lab`` command: AWS CLI conventions for stdout, stderr and exit codes.

Most tests call ``main()`` in-process (fast, and capsys sees both streams); one runs
``python -m kernel_runtime`` as a real subprocess, the way a shell script would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_runtime.cli import main

HANDLER = """\
import os

print("init ran")


def handler(event, context):
    print("event:", event)
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"hello": event.get("name", "world"), "greeting": os.environ.get("GREETING")}
"""


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """A task root holding app.py with a handler that can succeed or raise."""
    root = tmp_path / "hello"
    root.mkdir()
    (root / "app.py").write_text(HANDLER)
    return root


def test_invoke_prints_payload_on_stdout_and_log_on_stderr(
    code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "invoke",
            str(code_dir),
            "--handler",
            "app.handler",
            "--event",
            '{"name": "lab"}',
            "--env",
            "GREETING=hi",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0
    assert json.loads(out) == {"hello": "lab", "greeting": "hi"}
    assert "init ran" in err
    assert "START RequestId:" in err
    assert "END RequestId:" in err
    assert "REPORT RequestId:" in err
    assert "Init Duration:" in err


def test_repeat_reuses_the_environment(code_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--repeat", "3"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"hello": "world", "greeting": None}
    ] * 3
    assert err.count("REPORT RequestId:") == 3
    assert err.count("Init Duration:") == 1  # only the first invoke is a cold start


def test_log_type_none_keeps_stderr_quiet(
    code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--log-type", "None"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert json.loads(out)["hello"] == "world"
    assert err == ""


def test_function_error_exits_1_with_the_error_object(
    code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--event", '{"fail": true}'])
    out, err = capsys.readouterr()
    assert rc == 1
    error = json.loads(out)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail"
    assert "[ERROR] ValueError: asked to fail" in err
    assert "REPORT RequestId:" in err


def test_bad_memory_size_is_an_api_error(
    code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--memory-size", "64"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert "An error occurred (InvalidParameterValueException)" in err
    assert "'memorySize'" in err
    assert "Member must have value greater than or equal to 128" in err


def test_event_that_is_not_json_never_reaches_the_function(
    code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--event", "{oops"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert "An error occurred (InvalidRequestContentException)" in err
    assert "START RequestId" not in err


def test_event_file(code_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"name": "file"}')
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--event-file", str(event)])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["hello"] == "file"


def test_malformed_env_is_a_usage_error(code_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["invoke", str(code_dir), "--handler", "app.handler", "--env", "NOEQUALS"])
    assert rc == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_info_describes_the_active_mechanisms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAMBDA_LAB_STORE_MAX_MB", raising=False)
    rc = main(["info"])
    out, _ = capsys.readouterr()
    assert rc == 0
    info = json.loads(out)
    assert info["launch_mode"] == "zygote"
    assert info["limits"]["backend"]
    assert info["limits"]["freezer"]
    assert "mount_isolation" in info
    # the store it would record into, with its size limit; looking does not create it
    store = Path(info["store"]["path"])
    assert info["store"]["max_bytes"] == 1 << 30
    assert info["store"]["file_bytes"] == (store.stat().st_size if store.is_file() else 0)


def test_info_names_a_bad_store_limit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAMBDA_LAB_STORE", str(tmp_path / "none" / "s.sqlite3"))
    monkeypatch.setenv("LAMBDA_LAB_STORE_MAX_MB", "64")
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr()[0])
    assert info["store"] == {
        "path": str(tmp_path / "none" / "s.sqlite3"),
        "max_bytes": 64 << 20,
        "file_bytes": 0,
    }
    assert not (tmp_path / "none").exists()
    monkeypatch.setenv("LAMBDA_LAB_STORE_MAX_MB", "plenty")
    assert main(["info"]) == 2
    assert (
        "LAMBDA_LAB_STORE_MAX_MB must be a positive number of megabytes, got 'plenty'"
        in (capsys.readouterr()[1])
    )


def test_python_dash_m_end_to_end(code_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kernel_runtime",
            "invoke",
            str(code_dir),
            "--handler",
            "app.handler",
            "--event",
            '{"name": "shell"}',
            "--timeout",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"hello": "shell", "greeting": None}
    assert "REPORT RequestId:" in proc.stderr
    assert proc.stderr.count("Init Duration:") == 1
