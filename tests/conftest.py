"""Shared pytest fixtures. Keep this file small: a fixture used by one module lives there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.fixture
def notebook_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Environment for kernels that papermill/nbclient start from a test.

    The kernel spec ``python3`` must resolve to this interpreter's bundled spec (its bare
    ``python`` is replaced by ``sys.executable``), not to a user-level spec pointing at some
    other Python; and the user's IPython profile and startup files must not run in it.
    """
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")


@pytest.fixture(autouse=True, scope="session")
def _session_store(tmp_path_factory: pytest.TempPathFactory):
    """Runtimes started by tests record into one store of this session, not the user's cache."""
    import os

    path = tmp_path_factory.mktemp("store") / "store.sqlite3"
    previous = os.environ.get("LAMBDA_LAB_STORE")
    os.environ["LAMBDA_LAB_STORE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("LAMBDA_LAB_STORE", None)
    else:
        os.environ["LAMBDA_LAB_STORE"] = previous
