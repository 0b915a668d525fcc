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
