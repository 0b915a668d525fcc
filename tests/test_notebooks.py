"""Notebooks are tests: every guided notebook and every exercise solution runs headless.

Each notebook runs with papermill in quick mode (``parameters={"quick": True}``) in a fresh
``python3`` kernel, i.e. this test runner's interpreter, from the notebook's own folder.
The executed copy is written to the test's ``tmp_path`` and never over the committed file.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "python3"
CELL_TIMEOUT = 300  # seconds per cell
ALLOWED_KERNELSPECS = {"lambda-lab", "python3"}


def _visible(paths: list[Path]) -> list[Path]:
    return sorted(p for p in paths if ".ipynb_checkpoints" not in p.parts)


def executable_notebooks() -> list[Path]:
    """notebooks/*.ipynb, then exercises/**/solution*.ipynb, each sorted."""
    guided = _visible(list((ROOT / "notebooks").glob("*.ipynb")))
    solutions = _visible(list((ROOT / "exercises").glob("**/solution*.ipynb")))
    return guided + solutions


def committed_notebooks() -> list[Path]:
    """Every notebook under notebooks/ and exercises/, exercise stubs included."""
    found = [*(ROOT / "notebooks").glob("**/*.ipynb"), *(ROOT / "exercises").glob("**/*.ipynb")]
    return _visible(found)


def _param(path: Path):
    return pytest.param(path, id=path.relative_to(ROOT).with_suffix("").as_posix())


# An empty parameter set would be skipped; a missing notebook must fail instead.
_EXECUTABLE = [_param(p) for p in executable_notebooks()] or [
    pytest.param(None, id="no-notebooks-found")
]


@pytest.mark.timeout(2 * CELL_TIMEOUT)  # let papermill's per-cell timeout report first
@pytest.mark.parametrize("notebook", _EXECUTABLE)
def test_notebook_runs(notebook: Path | None, tmp_path: Path, notebook_env: None) -> None:
    if notebook is None:
        pytest.fail(
            "no notebooks found: expected notebooks/*.ipynb or exercises/**/solution*.ipynb "
            f"under {ROOT}",
            pytrace=False,
        )
    pm.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        kernel_name=KERNEL_NAME,
        parameters={"quick": True},
        cwd=str(notebook.parent),
        progress_bar=False,
        request_save_on_cell_execute=False,
        execution_timeout=CELL_TIMEOUT,
    )


@pytest.mark.parametrize("notebook", [_param(p) for p in committed_notebooks()])
def test_notebook_is_clean(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, (
        f"{notebook.relative_to(ROOT)}: cells {dirty} have outputs or execution counts; "
        f"clear them with `jupyter nbconvert --clear-output --inplace {notebook.relative_to(ROOT)}`"
    )
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    assert kernel in ALLOWED_KERNELSPECS, (
        f"{notebook.relative_to(ROOT)}: kernelspec name {kernel!r}, "
        f"expected one of {sorted(ALLOWED_KERNELSPECS)}"
    )
