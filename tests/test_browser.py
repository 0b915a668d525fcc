"""The lab in a real browser: JupyterLab started here, Debian's Chromium driven by Playwright.

A notebook loads the extension, deploys a function with ``%%lambda``, shows an EventBuilder
and a live cold/warm plot; the test clicks Invoke in the page and checks that the result
appears and that the Bokeh plot rendered the new point (a canvas, and the point's request id
in the plot's data source in the page). Nothing is fetched from the network: BokehJS and the
widget assets come from the installed packages. A screenshot is kept as a CI artifact
(``artifacts/browser-lab.png``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("LAMBDA_LAB_ARTIFACTS", ROOT / "artifacts"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.timeout(300)

CELLS = [
    "%load_ext lab",
    "%%lambda hello --memory 512\n"
    "def handler(event, context):\n"
    "    return {'greeting': 'hi from lambda-lab'}\n",
    "import time\n"
    "from lab import ColdWarmPlot, EventBuilder\n"
    "builder = EventBuilder(function_name='hello')\n"
    "builder",
    "plot = ColdWarmPlot(function_name='hello', start=time.time())\nplot.start()\nplot",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on 127.0.0.1 with a temporary root, no token, the app exposed to scripts."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
    root = tmp_path_factory.mktemp("lab-root")
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(nb, root / "browser.ipynb")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        JUPYTER_PATH=str(Path(sys.prefix) / "share" / "jupyter"),
        JUPYTER_PLATFORM_DIRS="1",
        JUPYTER_CONFIG_DIR=str(root / ".jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(root / ".jupyter-runtime"),
        IPYTHONDIR=str(root / ".ipython"),
        PYTHONPATH=str(ROOT),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={root}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--allow-root",
    ]
    log = open(root / "jupyterlab.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.25)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


_DATA_SOURCE_PROBE = """
(requestId) => {
  const B = window.Bokeh;
  if (!B || !B.documents) return -1;
  for (const doc of B.documents) {
    const models = doc.all_models || doc._all_models || [];
    for (const model of (models.values ? models.values() : models)) {
      const data = model.data;
      if (!data || typeof data !== "object") continue;
      let ids = data instanceof Map ? data.get("request_id") : data["request_id"];
      if (ids && Array.from(ids).includes(requestId)) return Array.from(ids).length;
    }
  }
  return 0;
}
"""


def test_invoke_from_the_page_updates_result_and_plot(jupyterlab: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            failed_requests: list[str] = []
            page.on(
                "requestfailed",
                lambda r: failed_requests.append(r.url) if "127.0.0.1" not in r.url else None,
            )
            try:
                _drive(page, jupyterlab, failed_requests)
            except BaseException:
                page.screenshot(path=str(ARTIFACTS / "browser-lab-failure.png"), full_page=True)
                (ARTIFACTS / "browser-lab-failure.txt").write_text(page.inner_text("body"))
                raise
        finally:
            browser.close()


def _run_all_cells(page, attempts: int = 4) -> None:  # noqa: ANN001
    """Run > Run All Cells, until the first cell shows it ran (the menu can be clicked before
    the notebook's kernel session is ready, and is then ignored)."""
    first_prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
    for _ in range(attempts):
        page.click(".jp-Notebook .jp-Cell")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if re.search(r"\[(\*|\d+)\]", first_prompt.inner_text()):
                return
            time.sleep(0.25)
    raise AssertionError("the notebook's cells never started running")


def _drive(page, jupyterlab: str, failed_requests: list[str]) -> None:  # noqa: ANN001
    """Open the notebook, run it, click Invoke, check the result and the plot."""
    if True:
        if True:
            page.goto(f"{jupyterlab}/lab/tree/browser.ipynb?reset", wait_until="domcontentloaded")
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
            )
            _run_all_cells(page)
            # the widget's button: "Invoke" (its icon is a font glyph), not "Invoke async"
            invoke = page.locator("button.jupyter-button", has_text=re.compile(r"^\s*Invoke\s*$"))
            invoke.wait_for(timeout=60_000)
            page.wait_for_selector(".bk-Canvas canvas, .bk-canvas", timeout=60_000)
            assert "Click to show javascript error" not in page.content()
            invoke.click()
            page.get_by_text("hi from lambda-lab").first.wait_for(timeout=60_000)
            # the log (START ... REPORT) may render a moment after the result: wait for it
            page.wait_for_function(
                "() => /RequestId: [0-9a-f-]{36}/.test(document.body.innerText)",
                timeout=30_000,
            )
            request_id = page.evaluate(
                "() => { const m = document.body.innerText.match("
                "/RequestId: ([0-9a-f-]{36})/); return m ? m[1] : null; }"
            )
            assert request_id, "the invocation's REPORT/request id is shown in the page"
            page.wait_for_function(
                f"() => ({_DATA_SOURCE_PROBE})({json.dumps(request_id)}) >= 1", timeout=30_000
            )
            assert page.locator(".bk-Canvas canvas, canvas.bk-layer, .bk-canvas").count() >= 1
            errors = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
            stderr = [errors.nth(i).inner_text() for i in range(errors.count())]
            assert not any("Traceback" in text for text in stderr), stderr
            assert not failed_requests, f"requests left the machine: {failed_requests}"
            page.screenshot(path=str(ARTIFACTS / "browser-lab.png"), full_page=True)
