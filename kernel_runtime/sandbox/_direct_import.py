"""The handler's module loaded without the import system's search, where nothing can shadow it.

Importing the handler through ``importlib`` cost each new environment ~1 ms of CPU and ~120
page faults, measured in the child: the path finder, a file finder for the task root and the
loader's chain of calls, each touching objects that every child shares with the zygote, so
each touched page is copied. For the usual handler (a top-level module in the task root, with
the bytecode its deployment wrote) the answer of that search is known before an environment
exists. The supervisor works it out once per function (:func:`locate`), and the worker loads
the two files itself (:func:`load`): about 0.5 ms and 60 page copies less per cold start.
Anything the search could answer differently goes through ``importlib`` as before: a package,
a namespace directory or an extension module of the same name, a dotted name, a frozen or
already imported module, import hooks, and bytecode that does not match its source.
"""

from __future__ import annotations

import _imp
import contextlib
import functools
import marshal
import os
import sys
import time
import types
from collections.abc import Sequence
from importlib import _bootstrap  # type: ignore[attr-defined]
from importlib.machinery import (
    EXTENSION_SUFFIXES,
    BuiltinImporter,
    FileFinder,
    FrozenImporter,
    ModuleSpec,
    PathFinder,
    SourceFileLoader,
)
from importlib.util import MAGIC_NUMBER, cache_from_source
from zipimport import zipimporter

__all__ = ["load", "locate", "rehearse"]

_DEFAULT_META_PATH = [BuiltinImporter, FrozenImporter, PathFinder]
_RAW_MAGIC = int.from_bytes(MAGIC_NUMBER, "little")
_CHECKED_HASH = 0b11  # the pyc header's flags: hash-based, checked against the source


def locate(task_root: str, handler: str) -> tuple[str, str] | None:
    """``(source, bytecode)`` paths, relative to ``task_root``, of the handler's module when
    the import system could find nothing else for its name there; else None. Cached per
    function code: the root's mtime changes when an entry is added or removed."""
    try:
        mtime = os.stat(task_root).st_mtime_ns
    except OSError:
        return None
    return _locate(task_root, handler, mtime)


@functools.lru_cache(maxsize=256)
def _locate(task_root: str, handler: str, _mtime: int) -> tuple[str, str] | None:
    name = handler.rpartition(".")[0]
    if not name.isidentifier() or name in sys.builtin_module_names:
        return None
    base = os.path.join(task_root, name)
    # the file finder looks for a package (or namespace) directory first, then extension
    # modules, then the source: any of the others must not exist
    if os.path.lexists(base) or any(os.path.lexists(base + s) for s in EXTENSION_SUFFIXES):
        return None
    source = base + ".py"
    cached = cache_from_source(source)
    if not (os.path.isfile(source) and os.path.isfile(cached)):
        return None
    return os.path.relpath(source, task_root), os.path.relpath(cached, task_root)


def _default_path_hooks() -> bool:
    """Only the interpreter's own hooks: zip files, then the file finder for directories."""
    hooks = sys.path_hooks
    return (
        len(hooks) == 2
        and hooks[0] is zipimporter
        and getattr(hooks[1], "__name__", "") == "path_hook_for_FileFinder"
    )


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load(name: str, task_root: str, files: Sequence[str]) -> types.ModuleType | None:
    """Import module ``name`` from ``files`` (:func:`locate`'s answer) as ``importlib`` would
    have: same attributes, same spec and loader, in ``sys.modules`` while its code runs and
    removed if that raises (what it raises propagates). None, with nothing changed, where the
    search might answer differently now or the bytecode does not match the source."""
    if (
        name in sys.modules
        or _imp.is_frozen(name)
        or sys.meta_path != _DEFAULT_META_PATH
        or not _default_path_hooks()
        or not sys.path
        or sys.path[0] != task_root
    ):
        return None
    if task_root in sys.path_importer_cache and not isinstance(
        sys.path_importer_cache[task_root], FileFinder
    ):
        return None  # a cached None: the search would skip the task root
    source_path = os.path.join(task_root, files[0])
    cached_path = os.path.join(task_root, files[1])
    try:
        data = _read(cached_path)
        source = _read(source_path)
    except OSError:
        return None
    if (
        data[:4] != MAGIC_NUMBER
        or int.from_bytes(data[4:8], "little") != _CHECKED_HASH
        or data[8:16] != _imp.source_hash(_RAW_MAGIC, source)
    ):
        return None
    code = marshal.loads(memoryview(data)[16:])
    _imp._fix_co_filename(code, source_path)
    loader = SourceFileLoader(name, source_path)
    spec = ModuleSpec(name, loader, origin=source_path)
    spec.has_location = True
    spec.cached = cached_path
    module = types.ModuleType(name)
    module.__loader__ = loader
    module.__package__ = ""
    module.__spec__ = spec
    module.__file__ = source_path
    module.__cached__ = cached_path
    # importlib's own per-module lock: another thread importing the module while its code
    # runs waits for it, as it would
    with _bootstrap._ModuleLockManager(name):  # type: ignore[attr-defined]
        sys.modules[name] = module
        spec._initializing = True  # type: ignore[attr-defined]  # what importlib's messages read
        try:
            exec(code, module.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            spec._initializing = False  # type: ignore[attr-defined]
        return sys.modules[name]


def rehearse(parent: str = "/tmp") -> None:
    """Load a throwaway module once through :func:`load`, in the zygote before it forks: the
    caches a load fills (specialised bytecode, method lookups) are then in pages every child
    shares. Written and compiled with what the zygote already holds (no ``tempfile`` or
    ``py_compile``, which would pull a dozen modules into every child's heap). Leaves no
    module, file or path entry behind."""
    name = "lambda_lab_rehearsal"
    root = os.path.join(parent, f"lambda-lab-rehearsal-{os.getpid()}-{time.monotonic_ns()}")
    source = os.path.join(root, name + ".py")
    cached = cache_from_source(source)
    text = b"def handler(event, context):\n    return event\n"
    saved_path = list(sys.path)
    try:
        os.makedirs(os.path.dirname(cached), mode=0o700)
        code = compile(text, source, "exec", dont_inherit=True)
        header = MAGIC_NUMBER + _CHECKED_HASH.to_bytes(4, "little")
        for path, data in (
            (source, text),
            (cached, header + _imp.source_hash(_RAW_MAGIC, text) + marshal.dumps(code)),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        files = locate(root, name + ".handler")
        if files is not None:
            sys.path.insert(0, root)
            load(name, root, files)
    finally:
        sys.path[:] = saved_path
        sys.modules.pop(name, None)
        sys.path_importer_cache.pop(root, None)
        for path in (cached, source):
            with contextlib.suppress(OSError):
                os.unlink(path)
        for path in (os.path.dirname(cached), root):
            with contextlib.suppress(OSError):
                os.rmdir(path)
