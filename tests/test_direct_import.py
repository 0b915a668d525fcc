"""The handler's module loaded without the import system's search (``_direct_import``): where
the search could find nothing else, the module is the one ``importlib`` would have made, and
everywhere else the search runs as before."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_runtime.runtime import LambdaRuntime
from kernel_runtime.sandbox._direct_import import locate

REPO = Path(__file__).resolve().parent.parent
TAG = sys.implementation.cache_tag
APP = """
import sys
SEEN_ITSELF = sys.modules[__name__].__spec__._initializing
def handler(event, context):
    return event
"""


def _package(root: Path, source: str = APP, *, mode: str = "CHECKED_HASH") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(source)
    py_compile.compile(
        str(root / "app.py"),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode[mode],
    )
    return root


def test_locate_answers_only_where_nothing_else_can_be_found(tmp_path: Path) -> None:
    root = _package(tmp_path / "plain")
    assert locate(str(root), "app.handler") == ("app.py", f"__pycache__/app.{TAG}.pyc")
    assert locate(str(root), "missing.handler") is None
    assert locate(str(root), "sys.handler") is None  # a built-in module's name
    assert locate(str(root), "pkg.app.handler") is None  # dotted: the search runs
    assert locate(str(root), "dir/app.handler") is None
    assert locate(str(root / "nowhere"), "app.handler") is None
    # a package directory or an extension module of the same name comes first in the search
    shadowed = _package(tmp_path / "package")
    (shadowed / "app").mkdir()
    assert locate(str(shadowed), "app.handler") is None
    for i, suffix in enumerate((f".{TAG}-x86_64-linux-gnu.so", ".abi3.so", ".so")):
        extension = _package(tmp_path / f"extension{i}")
        (extension / f"app{suffix}").touch()
        assert locate(str(extension), "app.handler") is None
    # no bytecode yet: none; once it is written (the root changes), the answer follows
    late = tmp_path / "late"
    late.mkdir()
    (late / "app.py").write_text(APP)
    assert locate(str(late), "app.handler") is None
    py_compile.compile(str(late / "app.py"), doraise=True)
    assert locate(str(late), "app.handler") == ("app.py", f"__pycache__/app.{TAG}.pyc")


_PROBE = """
import importlib, inspect, json, sys
sys.path.insert(0, {repo!r})
from kernel_runtime.sandbox import _direct_import as d
root, how, tweak = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root)
if tweak == "hook":
    class Finder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            return None
    sys.meta_path.insert(0, Finder)
if tweak == "preloaded":
    sys.modules["app"] = type(sys)("app")
if tweak == "not-first":
    sys.path.insert(0, "/nonexistent")
files = d.locate(root, "app.handler")
try:
    if how == "direct":
        m = d.load("app", root, files)
    else:
        m = importlib.import_module("app")
except Exception as exc:
    print(json.dumps({{"raised": type(exc).__name__, "left": "app" in sys.modules}}))
    raise SystemExit(0)
if m is None:
    print(json.dumps({{"none": True, "app": type(sys.modules.get("app")).__name__}}))
    raise SystemExit(0)
spec = m.__spec__
print(json.dumps({{
    "name": m.__name__, "file": m.__file__, "cached": m.__cached__, "package": m.__package__,
    "origin": spec.origin, "spec_cached": spec.cached, "has_location": spec.has_location,
    "parent": spec.parent, "loader": type(m.__loader__).__name__, "same_loader":
    m.__loader__ is spec.loader, "loader_path": m.__loader__.path, "code_file":
    m.handler.__code__.co_filename, "source": inspect.getsource(m.handler),
    "in_modules": sys.modules["app"] is m, "initializing": spec._initializing,
    "seen_itself": getattr(m, "SEEN_ITSELF", None),
    "keys": sorted(k for k in vars(m) if k.startswith("__")),
    "other_thread_saw": (m.T.join(), m.SAW)[1] if hasattr(m, "T") else None,
    "finder_for_root": root in sys.path_importer_cache,
}}))
"""


def _probe(root: Path, how: str, tweak: str = "") -> dict:
    """A fresh interpreter without ``site`` (as the zygote runs): load or import ``app``."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE.format(repo=str(REPO)), str(root), how, tweak],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_direct_load_makes_the_module_importlib_makes(tmp_path: Path) -> None:
    root = _package(tmp_path / "code")
    direct, searched = _probe(root, "direct"), _probe(root, "import")
    # only what the search leaves behind differs: a finder cached for the root
    assert direct.pop("finder_for_root") is False
    assert searched.pop("finder_for_root") is True
    assert direct == searched
    assert direct["file"] == str(root / "app.py")
    assert direct["code_file"] == str(root / "app.py")  # not where it was compiled
    assert direct["cached"] == str(root / "__pycache__" / f"app.{TAG}.pyc")
    assert direct["loader"] == "SourceFileLoader" and direct["seen_itself"] is True
    assert direct["initializing"] is False and direct["in_modules"] is True


THREADED = """
import threading, time
SAW = []
def _other():
    import app
    SAW.append(getattr(app, "DONE", False))
T = threading.Thread(target=_other)
T.start()
time.sleep(0.2)
DONE = True
def handler(event, context):
    return event
"""


@pytest.mark.parametrize("how", ["direct", "import"])
def test_another_thread_importing_the_module_waits_for_its_code(tmp_path: Path, how: str) -> None:
    out = _probe(_package(tmp_path / "code", THREADED), how)
    assert out["other_thread_saw"] == [True]


@pytest.mark.parametrize("tweak", ["hook", "preloaded", "not-first"])
def test_the_search_runs_where_it_might_answer_differently(tmp_path: Path, tweak: str) -> None:
    root = _package(tmp_path / "code")
    out = _probe(root, "direct", tweak)
    assert out["none"] is True
    assert out["app"] == ("module" if tweak == "preloaded" else "NoneType")


def test_bytecode_that_does_not_match_its_source_is_not_loaded(tmp_path: Path) -> None:
    stale = _package(tmp_path / "stale")
    (stale / "app.py").write_text(APP.replace("return event", "return None"))
    assert _probe(stale, "direct") == {"none": True, "app": "NoneType"}
    stamped = _package(tmp_path / "stamped", mode="TIMESTAMP")  # not checked against a hash
    assert _probe(stamped, "direct") == {"none": True, "app": "NoneType"}


def test_a_module_that_raises_is_not_left_in_sys_modules(tmp_path: Path) -> None:
    root = _package(tmp_path / "code", "raise LookupError('at import')\n")
    assert _probe(root, "direct") == {"raised": "LookupError", "left": False}
    assert _probe(root, "import") == {"raised": "LookupError", "left": False}


PROBE_HANDLER = """
import os, sys
def handler(event, context):
    root = os.environ["LAMBDA_TASK_ROOT"]
    return {"searched": root in sys.path_importer_cache, "file": __file__}
"""


def test_environments_load_a_deployed_handler_directly() -> None:
    """Through the service: a deployed top-level module skips the search (no finder was made
    for the task root when the handler ran); a module in a package is searched for; a module
    that raises at import reports only its own frames, as AWS does."""
    with LambdaRuntime(pin_platform=False) as lab:
        plain = lab.create_function("plain", "app.handler", PROBE_HANDLER)
        out = plain.invoke({}).result
        assert out == {"searched": False, "file": out["file"]}
        assert out["file"].endswith("/app.py")
        nested = lab.create_function(
            "nested", "pkg.app.handler", {"pkg/__init__.py": "", "pkg/app.py": PROBE_HANDLER}
        )
        assert nested.invoke({}).result["searched"] is True
        failing = lab.create_function(
            "failing", "app.handler", "import os\n\nraise ValueError('bad config')\n"
        )
        err = failing.invoke({}).result
        assert err["errorType"] == "ValueError" and err["errorMessage"] == "bad config"
        assert len(err["stackTrace"]) == 1
        assert err["stackTrace"][0].startswith(f'  File "{os.path.dirname(out["file"])}/app.py"')
        assert "line 3, in <module>" in err["stackTrace"][0]
