"""The control plane's store of functions, versions, aliases and layers.

Everything the Lambda management API answers comes from here, in AWS's shapes (the
``FunctionConfiguration`` dict, alias and layer records, policies) and with AWS's error messages,
so boto3 code, the CLI and the lab all see what AWS would show them.

State lives in memory behind one lock. Code lives on disk under the registry's root: each code
revision and each layer version is unpacked once into its own directory that is never written
again, so a published version keeps running the code it was published with while ``$LATEST``
moves on, and a warm environment of an old ``$LATEST`` never sees files change under it.
Unpacking happens outside the lock; only the bookkeeping that makes it visible takes it.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from ..config import MAX_LAYERS, FunctionConfig
from ..errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ProvisionedConcurrencyConfigNotFoundException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from ._bytecode import precompile

__all__ = [
    "DIRECT_UPLOAD_LIMIT",
    "UNZIPPED_LIMIT",
    "Code",
    "Registry",
    "ResolvedTarget",
]

log = logging.getLogger(__name__)

#: ZipFile uploaded in the request itself (larger packages go through S3 on AWS).
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
#: What AWS quotes in the 413: the 50 MB zip once base64-encoded in the JSON request.
_REQUEST_LIMIT = 69905067
#: Function code plus all its layers, unzipped.
UNZIPPED_LIMIT = 262144000
POLICY_LIMIT = 20480
DEFAULT_ROLE_NAME = "lambda-lab-execution"
_DEFAULT_PAGE = 50

_BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
_PRECONDITION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)

_FN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_]+)"
)
_FN_PATTERN_QUALIFIED = _FN_PATTERN + r"(:(\$LATEST|[a-zA-Z0-9-_]+))?"
_FUNCTION_REF = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):"
    r"(?P<arn_account>\d{12}):function:|(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)
_QUALIFIER_RE = re.compile(r"^[a-zA-Z0-9$_-]{1,128}$")
_VERSION_RE = re.compile(r"^(\$LATEST|[0-9]+)$")
_ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
_ALIAS_RE = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9_-]{1,128})$")
_ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
_ROLE_RE = re.compile("^" + _ROLE_PATTERN + "$")
_LAYER_NAME_PATTERN = (
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
)
_LAYER_NAME_RE = re.compile(
    r"^(?:arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:)?"
    r"(?P<name>[a-zA-Z0-9_-]{1,140})$"
)
_LAYER_VERSION_PATTERN = (
    r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
)
_LAYER_VERSION_RE = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9_-]+):(?P<version>[0-9]+)$"
)
_STATEMENT_ID_RE = re.compile(r"^[a-zA-Z0-9._-]{1,100}$")
_ACTION_PATTERN = r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"
_ACTION_RE = re.compile("^" + _ACTION_PATTERN + "$")
_DESTINATION_PATTERN = (
    r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
_DESTINATION_RE = re.compile(_DESTINATION_PATTERN)
_DLQ_RE = re.compile(r"^(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)?$")

Listener = Callable[[str, str, "str | None"], None]


# -- small helpers ---------------------------------------------------------------------------------
def _constraint(value: object, member: str, constraint: str) -> InvalidParameterValueException:
    """AWS's wording for a failed member constraint (a ValidationException on AWS)."""
    return InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _check_int(value: object, member: str, low: int | None, high: int | None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _constraint(value, member, "Member must be an integer")
    if low is not None and value < low:
        raise _constraint(value, member, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise _constraint(value, member, f"Member must have value less than or equal to {high}")
    return value


def _java_map(mapping: Mapping[str, object]) -> str:
    """How AWS echoes a map value in validation messages ({2=0.5})."""
    return "{" + ", ".join(f"{k}={v}" for k, v in mapping.items()) + "}"


def _new_revision() -> str:
    return str(uuid.uuid4())


def _aws_time(seconds: float) -> str:
    """LastModified/CreatedDate as the Lambda API writes them: 2024-01-01T00:00:00.000+0000."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _page(
    items: Sequence[tuple[tuple[Any, ...], Any]],
    marker: str | None,
    max_items: int | None,
    *,
    limit: int = 10000,
) -> tuple[list[Any], str | None]:
    """One page of ``items`` (sorted by key) after ``marker``; the marker names the next key.

    Markers name a key rather than an offset, so a page boundary survives creations and
    deletions between calls.
    """
    if max_items is not None:
        _check_int(max_items, "maxItems", 1, limit)
    size = _DEFAULT_PAGE if max_items is None else max_items
    start = 0
    if marker:
        try:
            key = tuple(json.loads(base64.urlsafe_b64decode(marker.encode())))
        except (ValueError, TypeError) as exc:
            raise InvalidParameterValueException(f"Invalid marker: {marker}") from exc
        keys = [k for k, _ in items]
        try:
            start = bisect.bisect_left(keys, key)
        except TypeError as exc:
            raise InvalidParameterValueException(f"Invalid marker: {marker}") from exc
    chunk = items[start : start + size]
    following = None
    if start + size < len(items):
        following = base64.urlsafe_b64encode(
            json.dumps(list(items[start + size][0])).encode()
        ).decode()
    return [value for _, value in chunk], following


# -- code packages ---------------------------------------------------------------------------------
def _zip_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix, so the mode bits below are honoured on extraction
    info.external_attr = (mode & 0xFFFF) << 16
    if not stat.S_ISDIR(mode):
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _zip_tree(root: Path) -> bytes:
    """Deterministic zip of a directory: sorted entries, fixed timestamps, modes kept.

    Same content gives the same bytes, hence the same CodeSha256, however often it is zipped.
    Symlinks that stay inside the tree are stored as links; others are followed.
    """
    root = root.resolve()
    buffer = io.BytesIO()
    seen: set[Path] = set()

    def inside(path: Path) -> bool:
        try:
            path.resolve().relative_to(root)
        except ValueError:
            return False
        return True

    def walk(directory: Path, prefix: str, out: zipfile.ZipFile) -> None:
        real = directory.resolve()
        if real in seen:  # a followed link looping back
            return
        seen.add(real)
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            name = prefix + entry.name
            if entry.is_symlink() and inside(entry):
                target = os.readlink(entry)
                out.writestr(_zip_info(name, stat.S_IFLNK | 0o777), target)
            elif entry.is_dir():
                mode = entry.stat().st_mode
                out.writestr(_zip_info(name + "/", stat.S_IFDIR | (mode & 0o7777)), b"")
                walk(entry, name + "/", out)
            elif entry.is_file():
                mode = entry.stat().st_mode
                out.writestr(_zip_info(name, stat.S_IFREG | (mode & 0o7777)), entry.read_bytes())

    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        walk(root, "", out)
    return buffer.getvalue()


def _safe_member(name: str) -> PurePosixPath:
    """The relative path of a zip entry, or an error for one escaping the root (zip slip)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or re.match(r"^[a-zA-Z]:", name)
        or "\0" in name
    ):
        raise InvalidParameterValueException(
            f"{_BAD_ZIP} Entry '{name}' would be extracted outside the package root."
        )
    return path


def _unzip(data: bytes, dest: Path, limit: int = UNZIPPED_LIMIT) -> int:
    """Unpack ``data`` into ``dest`` (modes kept, links checked); return the unzipped size.

    Declared sizes are checked before anything is written and actual bytes while writing,
    so a zip bomb costs at most ``limit`` bytes of disk.
    """
    too_big = InvalidParameterValueException(f"Unzipped size must be smaller than {limit} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidParameterValueException(_BAD_ZIP) from exc
    if sum(info.file_size for info in infos) > limit:
        raise too_big
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    total = 0
    with archive:
        for info in infos:
            rel = _safe_member(info.filename)
            if not rel.parts or rel.parts == (".",):
                continue
            target = dest.joinpath(*rel.parts)
            try:
                target.parent.resolve().relative_to(root)
            except ValueError:
                raise InvalidParameterValueException(
                    f"{_BAD_ZIP} Entry '{info.filename}' would be extracted outside the "
                    "package root."
                ) from None
            mode = (info.external_attr >> 16) if info.create_system == 3 else 0
            try:
                if stat.S_ISLNK(mode):
                    link = archive.read(info).decode()
                    resolved = os.path.normpath(os.path.join(str(target.parent), link))
                    if os.path.isabs(link) or not (
                        resolved == str(root) or resolved.startswith(str(root) + os.sep)
                    ):
                        raise InvalidParameterValueException(
                            f"{_BAD_ZIP} Link '{info.filename}' points outside the package root."
                        )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(link, target)
                elif info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as src, open(target, "wb") as out:
                        while chunk := src.read(1 << 20):
                            total += len(chunk)
                            if total > limit:
                                raise too_big
                            out.write(chunk)
                    perms = mode & 0o7777
                    os.chmod(target, perms | 0o400 if perms else 0o644)
            except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as exc:
                raise InvalidParameterValueException(_BAD_ZIP) from exc
            except FileExistsError as exc:
                raise InvalidParameterValueException(
                    f"{_BAD_ZIP} Entry '{info.filename}' is duplicated."
                ) from exc
    return total


@dataclass(frozen=True)
class Code:
    """A deployment package: the zip bytes AWS would receive, plus where they came from.

    ``direct`` is true for a ZipFile uploaded as is, which AWS caps at 50 MB; a directory or
    inline source stands for what SAM or the console would upload through S3, so only the
    250 MB unzipped limit applies to it.
    """

    zip_file: bytes = field(repr=False)
    direct: bool = True

    @classmethod
    def from_zip(cls, data: bytes | os.PathLike[str]) -> Code:
        """A zip as bytes or as a path to a .zip file."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            return cls(bytes(data), direct=True)
        return cls(Path(data).read_bytes(), direct=True)

    @classmethod
    def from_directory(cls, path: os.PathLike[str] | str) -> Code:
        """A directory, zipped deterministically (the directory becomes the task root)."""
        path = Path(path)
        if not path.is_dir():
            raise InvalidParameterValueException(
                f"Code directory '{path}' does not exist or is not a directory."
            )
        return cls(_zip_tree(path), direct=False)

    @classmethod
    def from_source(
        cls,
        source: str | bytes | Mapping[str, str | bytes],
        filename: str = "lambda_function.py",
    ) -> Code:
        """Inline files: one source text named ``filename``, or a mapping of file name to text.

        A file starting with ``#!`` is made executable (a ``bootstrap`` for a custom runtime).
        """
        files = {filename: source} if isinstance(source, (str, bytes)) else dict(source)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            dirs: set[str] = set()
            for name in sorted(files):
                rel = _safe_member(name)
                for depth in range(1, len(rel.parts)):
                    parent = "/".join(rel.parts[:depth]) + "/"
                    if parent not in dirs:
                        dirs.add(parent)
                        out.writestr(_zip_info(parent, stat.S_IFDIR | 0o755), b"")
                text = files[name]
                data = text.encode() if isinstance(text, str) else bytes(text)
                mode = 0o755 if data.startswith(b"#!") else 0o644
                out.writestr(_zip_info(rel.as_posix(), stat.S_IFREG | mode), data)
        return cls(buffer.getvalue(), direct=False)

    @classmethod
    def coerce(cls, value: object, handler: str | None = None) -> Code:
        """Accept the forms the Python API takes for ``code``.

        ``Code``; zip ``bytes``; a ``Path`` (a directory, or a ``.zip`` file); AWS's
        ``{"ZipFile": bytes}``; a mapping of file names to source; or a ``str`` of source,
        stored in the file the handler names (``app.handler`` -> ``app.py``).
        """
        if isinstance(value, Code):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls.from_zip(bytes(value))
        if isinstance(value, os.PathLike):
            path = Path(value)
            return cls.from_directory(path) if path.is_dir() else cls.from_zip(path)
        if isinstance(value, Mapping):
            if "ZipFile" in value and isinstance(value["ZipFile"], (bytes, bytearray)):
                return cls.from_zip(bytes(value["ZipFile"]))
            if "S3Bucket" in value or "ImageUri" in value:
                raise InvalidParameterValueException(
                    "Only ZipFile code is supported locally: pass the zip bytes, a directory "
                    "or inline source."
                )
            return cls.from_source(value)
        if isinstance(value, str):
            module = (handler or "lambda_function.handler").rsplit(".", 1)[0]
            return cls.from_source(value, module.replace(".", "/") + ".py")
        raise InvalidParameterValueException(
            f"Unsupported code of type {type(value).__name__}: pass Code, zip bytes, a directory "
            "Path, a mapping of file names to source, or a source string."
        )

    @property
    def sha256(self) -> str:
        """CodeSha256: base64 of the SHA-256 of the zip."""
        return _sha256_b64(self.zip_file)

    @property
    def size(self) -> int:
        return len(self.zip_file)


@dataclass(frozen=True)
class _Package:
    """A package unpacked on disk (never written again)."""

    directory: Path
    zip_path: Path
    sha256: str
    size: int
    unzipped: int


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _LayerVersion:
    name: str
    version: int
    arn: str
    package: _Package
    description: str
    created: str
    runtimes: tuple[str, ...]
    license_info: str | None
    architectures: tuple[str, ...]


@dataclass(frozen=True)
class _Snapshot:
    """One function version: $LATEST's current state, or a published (immutable) version."""

    config: FunctionConfig
    role: str
    description: str
    package: _Package
    layers: tuple[_LayerVersion, ...]
    log_group: str
    tracing_mode: str
    dead_letter_arn: str | None
    last_modified: str
    revision_id: str

    def fingerprint(self) -> tuple[object, ...]:
        """What PublishVersion compares to decide whether anything changed."""
        c = self.config
        return (
            self.package.sha256,
            c.handler,
            c.runtime,
            c.memory_size,
            c.timeout,
            c.ephemeral_storage,
            tuple(sorted(c.environment.items())),
            c.log_format,
            c.application_log_level,
            c.system_log_level,
            c.architecture,
            self.role,
            self.description,
            tuple(layer.arn for layer in self.layers),
            self.log_group,
            self.tracing_mode,
            self.dead_letter_arn,
        )


@dataclass(frozen=True)
class _Alias:
    name: str
    function_version: str
    description: str
    weights: tuple[tuple[str, float], ...]
    revision_id: str


@dataclass
class _Function:
    name: str
    directory: Path
    latest: _Snapshot
    versions: dict[str, _Snapshot] = field(default_factory=dict)
    next_version: int = 1
    aliases: dict[str, _Alias] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    provisioned: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_invoke: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str | None, list[dict[str, Any]]] = field(default_factory=dict)
    policy_revisions: dict[str | None, str] = field(default_factory=dict)
    #: (the snapshot it was made from, the target) of the last unqualified resolve: an
    #: update replaces ``latest``, which makes it stale
    resolved_latest: tuple[_Snapshot, ResolvedTarget] | None = field(
        default=None, repr=False, compare=False
    )


@dataclass(frozen=True)
class ResolvedTarget:
    """What an invoke addresses: a function version, reached directly or through an alias.

    ``routing`` lists ``(version, weight)`` pairs, primary first, weights summing to 1;
    ``configs`` holds the configuration of every version in it, taken under the same lock so
    a weighted alias never mixes two moments of the registry.
    """

    function_name: str
    version: str
    alias: str | None
    config: FunctionConfig
    routing: tuple[tuple[str, float], ...]
    configs: Mapping[str, FunctionConfig]

    @property
    def qualifier(self) -> str:
        return self.alias if self.alias is not None else self.version

    @property
    def function_arn(self) -> str:
        """The qualified ARN the invoke was addressed to (alias or version)."""
        return f"{self.config.function_arn}:{self.qualifier}"

    def choose(self, draw: Callable[[], float]) -> tuple[str, FunctionConfig]:
        """:meth:`pick` with a number from ``draw()``, drawn only when an alias shifts
        traffic (every request of an unweighted target runs on its one version)."""
        if len(self.routing) == 1:
            return self.version, self.config
        return self.pick(draw())

    def pick(self, r: float) -> tuple[str, FunctionConfig]:
        """The version a request drawing ``r`` in [0, 1) runs on (alias traffic shifting)."""
        cumulative = 0.0
        for version, weight in self.routing:
            cumulative += weight
            if r < cumulative:
                return version, self.configs[version]
        version = self.routing[0][0]
        return version, self.configs[version]


# -- the registry ----------------------------------------------------------------------------------
class Registry:
    """Functions, versions, aliases, layers and per-function settings, as AWS Lambda keeps them.

    Thread-safe: one lock guards all state. Methods named after a Lambda API operation take
    its parameters in snake_case and return its response shape.
    """

    def __init__(
        self,
        root: Path,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.region = region
        self.account_id = account_id
        self.default_role = f"arn:aws:iam::{account_id}:role/{DEFAULT_ROLE_NAME}"
        self._clock = clock
        self._lock = threading.RLock()
        self._functions: dict[str, _Function] = {}
        self._layers: dict[str, dict[int, _LayerVersion]] = {}
        self._layer_counters: dict[str, int] = {}
        self._retired_layers: list[_LayerVersion] = []
        self._listeners: list[Listener] = []
        for sub in ("functions", "layers", "staging"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- listeners ------------------------------------------------------------------------------
    def on_change(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, function_name, qualifier)`` after every change; returns an
        unsubscribe function.

        ``event`` is the API operation (CreateFunction, UpdateFunctionCode,
        UpdateFunctionConfiguration, PublishVersion, DeleteFunction, CreateAlias, UpdateAlias,
        DeleteAlias, PutFunctionConcurrency, DeleteFunctionConcurrency,
        PutProvisionedConcurrencyConfig, DeleteProvisionedConcurrencyConfig); ``qualifier`` is
        ``$LATEST``, a version, an alias, or None for the whole function. Callbacks run
        outside the lock, after the change is visible, and before the files of a deleted
        function are removed.
        """
        with self._lock:
            self._listeners.append(callback)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    def _notify(self, events: Iterable[tuple[str, str, str | None]]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for event in events:
            for callback in listeners:
                try:
                    callback(*event)
                except Exception:  # a listener must not undo a committed change
                    log.exception("registry listener failed on %s", event)

    # -- names and ARNs -------------------------------------------------------------------------
    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def _layer_arn(self, name: str, version: int | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}"
        return arn if version is None else f"{arn}:{version}"

    def _not_found(self, name: str, qualifier: str | None = None) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"Function not found: {self.function_arn(name, qualifier)}"
        )

    def _parse(
        self, function_name: str, qualifier: str | None = None, *, qualified: bool = True
    ) -> tuple[str, str | None]:
        """A name, name:qualifier, partial or full ARN -> (name, qualifier), as Invoke reads it."""
        if not isinstance(function_name, str):
            raise _constraint(function_name, "functionName", "Member must not be null")
        match = _FUNCTION_REF.match(function_name)
        if match is None or len(match["name"]) > 64 or len(function_name) > 170:
            raise _constraint(
                function_name,
                "functionName",
                "Member must satisfy regular expression pattern: "
                + (_FN_PATTERN_QUALIFIED if qualified else _FN_PATTERN),
            )
        region = match["region"]
        if region and region != self.region:
            raise InvalidParameterValueException(
                f"Functions from '{region}' are not reachable in this region ('{self.region}')"
            )
        name = match["name"]
        account = match["arn_account"] or match["account"]
        derived = match["qualifier"]
        if derived is not None and not qualified:
            raise _constraint(
                function_name,
                "functionName",
                f"Member must satisfy regular expression pattern: {_FN_PATTERN}",
            )
        if qualifier is not None:
            if not isinstance(qualifier, str) or not _QUALIFIER_RE.match(qualifier):
                raise _constraint(
                    qualifier,
                    "qualifier",
                    "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
                )
            if derived is not None and derived != qualifier:
                raise InvalidParameterValueException(
                    "The derived qualifier from the function name does not match the "
                    "specified qualifier."
                )
        if account and account != self.account_id:
            raise ResourceNotFoundException(
                f"Function not found: arn:aws:lambda:{self.region}:{account}:function:{name}"
                + (f":{derived or qualifier}" if derived or qualifier else "")
            )
        return name, derived if derived is not None else qualifier

    def _function(self, name: str) -> _Function:
        fn = self._functions.get(name)
        if fn is None:
            raise self._not_found(name)
        return fn

    def _lookup(self, fn: _Function, qualifier: str | None) -> tuple[_Snapshot, str, str | None]:
        """(snapshot, version, alias) for a qualifier; an alias yields its primary version."""
        if qualifier is None or qualifier == "$LATEST":
            return fn.latest, "$LATEST", None
        if qualifier.isdigit():
            snapshot = fn.versions.get(qualifier)
            if snapshot is None:
                raise self._not_found(fn.name, qualifier)
            return snapshot, qualifier, None
        alias = fn.aliases.get(qualifier)
        if alias is None:
            raise self._not_found(fn.name, qualifier)
        return self._version(fn, alias.function_version), alias.function_version, alias.name

    def _version(self, fn: _Function, version: str) -> _Snapshot:
        if version == "$LATEST":
            return fn.latest
        snapshot = fn.versions.get(version)
        if snapshot is None:
            raise self._not_found(fn.name, version)
        return snapshot

    # -- resolution for the data plane ---------------------------------------------------------
    def resolve(self, function_name: str, qualifier: str | None = None) -> ResolvedTarget:
        """Which version(s) an Invoke of ``function_name`` (+ ``qualifier``) runs."""
        if qualifier is None and ":" not in function_name:  # the common case, kept cheap
            with self._lock:
                fn = self._functions.get(function_name)
                if fn is not None:
                    latest, cached = fn.latest, fn.resolved_latest
                    if cached is not None and cached[0] is latest:
                        return cached[1]  # immutable: every invoke of $LATEST can share it
                    config = latest.config
                    target = ResolvedTarget(
                        fn.name,
                        "$LATEST",
                        None,
                        config,
                        (("$LATEST", 1.0),),
                        MappingProxyType({"$LATEST": config}),
                    )
                    fn.resolved_latest = (latest, target)
                    return target
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            snapshot, version, alias = self._lookup(fn, qualifier)
            routing: tuple[tuple[str, float], ...] = ((version, 1.0),)
            configs = {version: snapshot.config}
            if alias is not None:
                weights = fn.aliases[alias].weights
                if weights:
                    extra = sum(w for _, w in weights)
                    routing = ((version, max(0.0, 1.0 - extra)), *weights)
                    for other, _ in weights:
                        configs[other] = self._version(fn, other).config
            return ResolvedTarget(
                fn.name, version, alias, snapshot.config, routing, MappingProxyType(configs)
            )

    def function_config(
        self, target: ResolvedTarget | str, version: str | None = None
    ) -> FunctionConfig:
        """The FunctionConfig an execution environment of this version needs.

        ``target`` is a ResolvedTarget (``version`` picks one of its routed versions) or any
        name/ARN ``resolve`` accepts.
        """
        if isinstance(target, str):
            target = self.resolve(target, version if version is not None else None)
            return target.config
        wanted = version or target.version
        config = target.configs.get(wanted)
        if config is not None:
            return config
        with self._lock:
            return self._version(self._function(target.function_name), wanted).config

    # -- shapes ---------------------------------------------------------------------------------
    def _configuration(self, fn_name: str, snap: _Snapshot, arn_qualifier: str | None) -> dict:
        c = snap.config
        logging_config: dict[str, str] = {"LogFormat": c.log_format}
        if c.log_format == "JSON":
            logging_config["ApplicationLogLevel"] = c.application_log_level or "INFO"
            logging_config["SystemLogLevel"] = c.system_log_level or "INFO"
        logging_config["LogGroup"] = snap.log_group
        out: dict[str, Any] = {
            "FunctionName": fn_name,
            "FunctionArn": self.function_arn(fn_name, arn_qualifier),
            "Runtime": c.runtime,
            "Role": snap.role,
            "Handler": c.handler,
            "CodeSize": snap.package.size,
            "Description": snap.description,
            "Timeout": c.timeout,
            "MemorySize": c.memory_size,
            "LastModified": snap.last_modified,
            "CodeSha256": snap.package.sha256,
            "Version": c.version,
        }
        if c.environment:
            out["Environment"] = {"Variables": dict(c.environment)}
        if snap.dead_letter_arn:
            out["DeadLetterConfig"] = {"TargetArn": snap.dead_letter_arn}
        out["TracingConfig"] = {"Mode": snap.tracing_mode}
        out["RevisionId"] = snap.revision_id
        if snap.layers:
            out["Layers"] = [{"Arn": lv.arn, "CodeSize": lv.package.size} for lv in snap.layers]
        out.update(
            {
                "State": "Active",
                "LastUpdateStatus": "Successful",
                "PackageType": "Zip",
                "Architectures": [c.architecture],
                "EphemeralStorage": {"Size": c.ephemeral_storage},
                "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
                "LoggingConfig": logging_config,
            }
        )
        return out

    # -- packaging ------------------------------------------------------------------------------
    def _stage(self, code: Code, operation: str) -> tuple[Path, int]:
        """Unpack ``code`` into a fresh staging directory (outside the lock)."""
        if code.direct and code.size > DIRECT_UPLOAD_LIMIT:
            raise RequestTooLargeException(
                f"Request must be smaller than {_REQUEST_LIMIT} bytes for the {operation} operation"
            )
        staging = self.root / "staging" / uuid.uuid4().hex
        try:
            unzipped = _unzip(code.zip_file, staging)
            precompile(staging)  # environments see it read-only: compiled once, here
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, unzipped

    @staticmethod
    def _adopt(staging: Path, code: Code, unzipped: int, home: Path) -> _Package:
        """Move a staged package to its content-addressed home (or drop it if already there)."""
        digest = hashlib.sha256(code.zip_file).hexdigest()[:32]
        directory = home / digest
        zip_path = home / f"{digest}.zip"
        if directory.exists():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            home.mkdir(parents=True, exist_ok=True)
            zip_path.write_bytes(code.zip_file)
            os.rename(staging, directory)
        return _Package(directory, zip_path, code.sha256, code.size, unzipped)

    def _layer_versions(self, arns: Sequence[str] | None) -> tuple[_LayerVersion, ...]:
        if not arns:
            return ()
        if isinstance(arns, str):
            arns = [arns]
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValueException(
                f"Cannot reference more than {MAX_LAYERS} layers. Layers requested: {len(arns)}."
            )
        found: list[_LayerVersion] = []
        by_name: dict[str, str] = {}
        for arn in arns:
            match = _LAYER_VERSION_RE.match(arn) if isinstance(arn, str) else None
            if match is None:
                raise _constraint(
                    arn,
                    "layers",
                    f"Member must satisfy regular expression pattern: {_LAYER_VERSION_PATTERN}",
                )
            layer = None
            if match["region"] == self.region and match["account"] == self.account_id:
                layer = self._layers.get(match["name"], {}).get(int(match["version"]))
            if layer is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            if layer.name in by_name:
                raise InvalidParameterValueException(
                    "Two different versions of the same layer are not allowed to be "
                    f"referenced in the same function. {by_name[layer.name]} and {arn} are "
                    "versions of the same layer."
                    if by_name[layer.name] != arn
                    else f"Duplicate layer version ARN: {arn}"
                )
            by_name[layer.name] = arn
            found.append(layer)
        return tuple(found)

    @staticmethod
    def _check_combined(unzipped: int, layers: Sequence[_LayerVersion]) -> None:
        total = unzipped + sum(lv.package.unzipped for lv in layers)
        if total > UNZIPPED_LIMIT:
            raise InvalidParameterValueException(
                "Function code combined with layers exceeds the maximum allowed size of "
                f"{UNZIPPED_LIMIT} bytes. The actual size is {total} bytes."
            )

    # -- validation of the fields FunctionConfig does not know ------------------------------------
    @staticmethod
    def _check_role(role: str) -> str:
        if not isinstance(role, str) or not _ROLE_RE.match(role):
            raise _constraint(
                role, "role", f"Member must satisfy regular expression pattern: {_ROLE_PATTERN}"
            )
        return role

    @staticmethod
    def _check_description(description: str, member: str = "description") -> str:
        if not isinstance(description, str) or len(description) > 256:
            raise _constraint(
                description, member, "Member must have length less than or equal to 256"
            )
        return description

    @staticmethod
    def _architecture(architectures: Sequence[str] | None, default: str) -> str:
        if architectures is None:
            return default
        if isinstance(architectures, str):
            architectures = [architectures]
        if len(architectures) != 1 or architectures[0] not in ("x86_64", "arm64"):
            raise _constraint(
                list(architectures),
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[x86_64, arm64], Member must not be null]",
            )
        return architectures[0]

    @staticmethod
    def _variables(environment: Mapping[str, Any] | None) -> dict[str, str] | None:
        """Environment as {"Variables": {...}} (AWS) or a plain mapping of variables."""
        if environment is None:
            return None
        variables = environment.get("Variables") if "Variables" in environment else environment
        if not isinstance(variables, Mapping):
            raise InvalidParameterValueException("Environment.Variables must be a map.")
        return dict(variables)

    @staticmethod
    def _tracing(tracing_config: Mapping[str, str] | str | None, default: str) -> str:
        if tracing_config is None:
            return default
        mode = tracing_config if isinstance(tracing_config, str) else tracing_config.get("Mode")
        if mode not in ("Active", "PassThrough"):
            raise _constraint(
                mode,
                "tracingConfig.mode",
                "Member must satisfy enum value set: [Active, PassThrough]",
            )
        return mode

    @staticmethod
    def _dead_letter(
        dead_letter_config: Mapping[str, str] | None, default: str | None
    ) -> str | None:
        if dead_letter_config is None:
            return default
        target = dead_letter_config.get("TargetArn") or None
        if target is not None and not _DLQ_RE.match(target):
            raise _constraint(
                target,
                "deadLetterConfig.targetArn",
                "Member must satisfy regular expression pattern: "
                "(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()",
            )
        return target

    # -- functions ------------------------------------------------------------------------------
    def create_function(
        self,
        function_name: str,
        handler: str,
        code: Any,
        *,
        role: str | None = None,
        runtime: str | None = None,
        memory_size: int = 128,
        timeout: int = 3,
        ephemeral_storage: int | Mapping[str, int] = 512,
        environment: Mapping[str, Any] | None = None,
        layers: Sequence[str] | None = None,
        description: str = "",
        publish: bool = False,
        logging_config: Mapping[str, str] | None = None,
        architectures: Sequence[str] | None = None,
        tracing_config: Mapping[str, str] | None = None,
        dead_letter_config: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """CreateFunction: $LATEST (and version 1 with ``publish``); returns its configuration."""
        role = self._check_role(role) if role is not None else self.default_role
        self._check_description(description)
        log_cfg = dict(logging_config or {})
        fields: dict[str, Any] = {
            "function_name": function_name,
            "handler": handler,
            "memory_size": memory_size,
            "timeout": timeout,
            "ephemeral_storage": (
                ephemeral_storage.get("Size", 512)
                if isinstance(ephemeral_storage, Mapping)
                else ephemeral_storage
            ),
            "environment": self._variables(environment) or {},
            "log_format": log_cfg.get("LogFormat", "Text"),
            "application_log_level": log_cfg.get("ApplicationLogLevel"),
            "system_log_level": log_cfg.get("SystemLogLevel"),
            "architecture": self._architecture(architectures, "x86_64"),
            "region": self.region,
            "account_id": self.account_id,
        }
        if runtime is not None:
            fields["runtime"] = runtime
        layer_arns = list(layers or [])
        # Validate every field (AWS's messages) before touching the code.
        FunctionConfig(code=self.root, layers=(self.root,) * len(layer_arns), **fields)
        tracing = self._tracing(tracing_config, "PassThrough")
        dead_letter = self._dead_letter(dead_letter_config, None)
        package_code = Code.coerce(code, handler)
        with self._lock:
            if function_name in self._functions:
                raise ResourceConflictException(f"Function already exist: {function_name}")
            self._layer_versions(layer_arns)
        staging, unzipped = self._stage(package_code, "CreateFunction")
        try:
            with self._lock:
                if function_name in self._functions:
                    raise ResourceConflictException(f"Function already exist: {function_name}")
                layer_versions = self._layer_versions(layer_arns)
                self._check_combined(unzipped, layer_versions)
                home = self.root / "functions" / f"{function_name}-{uuid.uuid4().hex[:8]}"
                package = self._adopt(staging, package_code, unzipped, home / "code")
                config = FunctionConfig(
                    code=package.directory,
                    layers=tuple(lv.package.directory for lv in layer_versions),
                    tracing_mode=tracing,
                    **fields,
                )
                snapshot = _Snapshot(
                    config=config,
                    role=role,
                    description=description,
                    package=package,
                    layers=layer_versions,
                    log_group=log_cfg.get("LogGroup") or config.log_group_name,
                    tracing_mode=tracing,
                    dead_letter_arn=dead_letter,
                    last_modified=_aws_time(self._clock()),
                    revision_id=_new_revision(),
                )
                fn = _Function(function_name, home, snapshot, tags=dict(tags or {}))
                self._functions[function_name] = fn
                events: list[tuple[str, str, str | None]] = [
                    ("CreateFunction", function_name, "$LATEST")
                ]
                if publish:
                    version, _ = self._publish(fn, None)
                    events.append(("PublishVersion", function_name, version))
                    result = self._configuration(function_name, fn.versions[version], version)
                else:
                    result = self._configuration(function_name, snapshot, None)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._notify(events)
        return result

    def get_function(self, function_name: str, qualifier: str | None = None) -> dict[str, Any]:
        """GetFunction: configuration, code location (a file:// URL to the zip), concurrency."""
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            snapshot, _, _ = self._lookup(fn, qualifier)
            out: dict[str, Any] = {
                "Configuration": self._configuration(name, snapshot, qualifier),
                "Code": {"RepositoryType": "S3", "Location": snapshot.package.zip_path.as_uri()},
            }
            if fn.tags:
                out["Tags"] = dict(fn.tags)
            if fn.reserved_concurrency is not None:
                out["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
            return out

    def get_function_configuration(
        self, function_name: str, qualifier: str | None = None
    ) -> dict[str, Any]:
        """GetFunctionConfiguration (an alias answers with its primary version's settings)."""
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            snapshot, _, _ = self._lookup(self._function(name), qualifier)
            return self._configuration(name, snapshot, qualifier)

    def list_functions(
        self,
        function_version: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        """ListFunctions: $LATEST of each function, or every version with ``"ALL"``."""
        if function_version is not None and function_version != "ALL":
            raise _constraint(
                function_version, "functionVersion", "Member must satisfy enum value set: [ALL]"
            )
        with self._lock:
            items: list[tuple[tuple[Any, ...], Any]] = []
            for name in sorted(self._functions):
                fn = self._functions[name]
                items.append(((name, 0), (name, fn.latest, None)))
                if function_version == "ALL":
                    for version, snap in fn.versions.items():
                        items.append(((name, int(version)), (name, snap, version)))
            page, following = _page(items, marker, max_items)
            out: dict[str, Any] = {"Functions": [self._configuration(n, s, q) for n, s, q in page]}
        if following:
            out["NextMarker"] = following
        return out

    def _check_revision(self, current: str, revision_id: str | None) -> None:
        if revision_id is not None and revision_id != current:
            raise PreconditionFailedException(_PRECONDITION)

    def update_function_code(
        self,
        function_name: str,
        code: Any,
        *,
        publish: bool = False,
        revision_id: str | None = None,
        architectures: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """UpdateFunctionCode: new code for $LATEST (versions keep theirs)."""
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            fn = self._function(name)
            handler = fn.latest.config.handler
            self._check_revision(fn.latest.revision_id, revision_id)
        architecture = (
            None if architectures is None else self._architecture(architectures, "x86_64")
        )
        package_code = Code.coerce(code, handler)
        staging, unzipped = self._stage(package_code, "UpdateFunctionCode")
        try:
            with self._lock:
                fn = self._function(name)
                self._check_revision(fn.latest.revision_id, revision_id)
                latest = fn.latest
                self._check_combined(unzipped, latest.layers)
                package = self._adopt(staging, package_code, unzipped, fn.directory / "code")
                changes: dict[str, Any] = {"code": package.directory}
                if architecture:
                    changes["architecture"] = architecture
                fn.latest = self._replace(
                    latest, config=latest.config.with_changes(**changes), package=package
                )
                events: list[tuple[str, str, str | None]] = [
                    ("UpdateFunctionCode", name, "$LATEST")
                ]
                result = self._configuration(name, fn.latest, None)
                if publish:
                    version, created = self._publish(fn, None)
                    if created:
                        events.append(("PublishVersion", name, version))
                    result = self._configuration(name, fn.versions[version], version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._notify(events)
        return result

    def _replace(self, snapshot: _Snapshot, **changes: Any) -> _Snapshot:
        """A changed $LATEST: new RevisionId and LastModified."""
        values = dict(snapshot.__dict__)
        values.update(changes)
        values["last_modified"] = _aws_time(self._clock())
        values["revision_id"] = _new_revision()
        return _Snapshot(**values)

    def update_function_configuration(
        self,
        function_name: str,
        *,
        role: str | None = None,
        handler: str | None = None,
        description: str | None = None,
        timeout: int | None = None,
        memory_size: int | None = None,
        environment: Mapping[str, Any] | None = None,
        runtime: str | None = None,
        layers: Sequence[str] | None = None,
        ephemeral_storage: int | Mapping[str, int] | None = None,
        logging_config: Mapping[str, str] | None = None,
        tracing_config: Mapping[str, str] | None = None,
        dead_letter_config: Mapping[str, str] | None = None,
        revision_id: str | None = None,
    ) -> dict[str, Any]:
        """UpdateFunctionConfiguration: only the given settings change (``layers=[]`` clears)."""
        name, _ = self._parse(function_name, qualified=False)
        if role is not None:
            self._check_role(role)
        if description is not None:
            self._check_description(description)
        changes: dict[str, Any] = {}
        for key, value in (
            ("handler", handler),
            ("timeout", timeout),
            ("memory_size", memory_size),
            ("runtime", runtime),
        ):
            if value is not None:
                changes[key] = value
        if ephemeral_storage is not None:
            changes["ephemeral_storage"] = (
                ephemeral_storage.get("Size", 512)
                if isinstance(ephemeral_storage, Mapping)
                else ephemeral_storage
            )
        variables = self._variables(environment)
        if variables is not None:
            changes["environment"] = variables
        with self._lock:
            fn = self._function(name)
            latest = fn.latest
            self._check_revision(latest.revision_id, revision_id)
            if logging_config is not None:
                fmt = logging_config.get("LogFormat", latest.config.log_format)
                changes["log_format"] = fmt
                for key, member in (
                    ("ApplicationLogLevel", "application_log_level"),
                    ("SystemLogLevel", "system_log_level"),
                ):
                    if key in logging_config:
                        changes[member] = logging_config[key]
                    elif fmt == "Text":  # stored levels do not survive a switch to Text
                        changes[member] = None
            layer_versions = latest.layers
            if layers is not None:
                layer_versions = self._layer_versions(list(layers))
                changes["layers"] = tuple(lv.package.directory for lv in layer_versions)
                self._check_combined(latest.package.unzipped, layer_versions)
            tracing = self._tracing(tracing_config, latest.tracing_mode)
            config = latest.config.with_changes(tracing_mode=tracing, **changes)
            log_group = latest.log_group
            if logging_config is not None and logging_config.get("LogGroup"):
                log_group = logging_config["LogGroup"]
            fn.latest = self._replace(
                latest,
                config=config,
                role=role if role is not None else latest.role,
                description=description if description is not None else latest.description,
                layers=layer_versions,
                log_group=log_group,
                tracing_mode=tracing,
                dead_letter_arn=self._dead_letter(dead_letter_config, latest.dead_letter_arn),
            )
            result = self._configuration(name, fn.latest, None)
        self._notify([("UpdateFunctionConfiguration", name, "$LATEST")])
        return result

    def _publish(self, fn: _Function, description: str | None) -> tuple[str, bool]:
        """Snapshot $LATEST as the next version, unless the newest version already matches it."""
        if fn.versions:
            newest = fn.versions[max(fn.versions, key=int)]
            if newest.fingerprint() == fn.latest.fingerprint():
                return newest.config.version, False
        version = str(fn.next_version)
        fn.next_version += 1
        latest = fn.latest
        values = dict(latest.__dict__)
        values.update(
            config=latest.config.with_changes(version=version),
            description=latest.description if description is None else description,
            last_modified=_aws_time(self._clock()),
            revision_id=_new_revision(),
        )
        fn.versions[version] = _Snapshot(**values)
        return version, True

    def publish_version(
        self,
        function_name: str,
        *,
        description: str | None = None,
        code_sha256: str | None = None,
        revision_id: str | None = None,
    ) -> dict[str, Any]:
        """PublishVersion: an immutable copy of $LATEST (the existing one if nothing changed)."""
        name, _ = self._parse(function_name, qualified=False)
        if description is not None:
            self._check_description(description)
        with self._lock:
            fn = self._function(name)
            self._check_revision(fn.latest.revision_id, revision_id)
            if code_sha256 is not None and code_sha256 != fn.latest.package.sha256:
                raise InvalidParameterValueException(
                    f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                    f"$LATEST ({fn.latest.package.sha256}). Please try again with the "
                    "CodeSHA256 in $LATEST."
                )
            version, created = self._publish(fn, description)
            result = self._configuration(name, fn.versions[version], version)
        if created:
            self._notify([("PublishVersion", name, version)])
        return result

    def list_versions_by_function(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> dict[str, Any]:
        """ListVersionsByFunction: $LATEST first, then the versions in order."""
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            fn = self._function(name)
            items: list[tuple[tuple[Any, ...], Any]] = [((0,), ("$LATEST", fn.latest))]
            items += [((int(v),), (v, s)) for v, s in sorted(fn.versions.items(), key=_int_key)]
            page, following = _page(items, marker, max_items)
            out: dict[str, Any] = {"Versions": [self._configuration(name, s, v) for v, s in page]}
        if following:
            out["NextMarker"] = following
        return out

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """DeleteFunction: the whole function, or one published version."""
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            if qualifier is None:
                del self._functions[name]
                retired = self._collect_layers()
            else:
                if qualifier == "$LATEST":
                    raise InvalidParameterValueException(
                        "$LATEST version cannot be deleted without deleting the function."
                    )
                if not qualifier.isdigit() or qualifier not in fn.versions:
                    raise self._not_found(name, qualifier)
                users = sorted(
                    a.name
                    for a in fn.aliases.values()
                    if a.function_version == qualifier or qualifier in dict(a.weights)
                )
                if users:
                    raise ResourceConflictException(
                        "Unable to delete version because the following aliases reference it: "
                        f"[{', '.join(users)}]"
                    )
                del fn.versions[qualifier]
                fn.provisioned.pop(qualifier, None)
                fn.event_invoke.pop(qualifier, None)
                fn.policies.pop(qualifier, None)
                fn.policy_revisions.pop(qualifier, None)
                retired = self._collect_layers()
        self._notify([("DeleteFunction", name, qualifier)])
        if qualifier is None:
            shutil.rmtree(fn.directory, ignore_errors=True)
        for layer in retired:
            _remove_package(layer.package)

    # -- aliases --------------------------------------------------------------------------------
    def _alias_shape(self, fn_name: str, alias: _Alias) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AliasArn": self.function_arn(fn_name, alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        }
        if alias.weights:
            out["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
        return out

    def _check_alias_name(self, name: str) -> None:
        if not isinstance(name, str) or not _ALIAS_RE.match(name):
            raise _constraint(
                name, "name", f"Member must satisfy regular expression pattern: {_ALIAS_PATTERN}"
            )

    def _alias(self, fn: _Function, name: str) -> _Alias:
        alias = fn.aliases.get(name)
        if alias is None:
            raise ResourceNotFoundException(f"Alias not found: {self.function_arn(fn.name, name)}")
        return alias

    def _routing(
        self, fn: _Function, version: str, routing_config: Mapping[str, Any] | None
    ) -> tuple[tuple[str, float], ...]:
        """Validate AdditionalVersionWeights for an alias pointing at ``version``."""
        if not routing_config:
            return ()
        weights = routing_config.get("AdditionalVersionWeights", routing_config)
        if not weights:
            return ()
        member = "routingConfig.additionalVersionWeights"
        if not isinstance(weights, Mapping):
            raise _constraint(weights, member, "Member must be a map")
        weights = {str(k): v for k, v in weights.items()}
        for key, value in weights.items():
            if not re.fullmatch(r"[0-9]{1,1024}", key):
                raise _constraint(
                    _java_map(weights),
                    member,
                    "Map keys must satisfy constraint: "
                    "[Member must satisfy regular expression pattern: [0-9]+]",
                )
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not 0.0 <= value <= 1.0
            ):
                raise _constraint(
                    _java_map(weights),
                    member,
                    "Map value must satisfy constraint: [Member must have value less than or "
                    "equal to 1.0, Member must have value greater than or equal to 0.0]",
                )
        if len(weights) > 1:
            raise _constraint(
                _java_map(weights), member, "Member must have length less than or equal to 1"
            )
        if version == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        for key in weights:
            if key == version:
                raise InvalidParameterValueException(
                    f"Invalid function version {key}. Function version {key} is already "
                    "included in routing configuration."
                )
            self._version(fn, key)
        return tuple((k, float(v)) for k, v in weights.items())

    def _check_version_param(self, version: str) -> None:
        if not isinstance(version, str) or not _VERSION_RE.match(version):
            raise _constraint(
                version,
                "functionVersion",
                "Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)",
            )

    def create_alias(
        self,
        function_name: str,
        name: str,
        function_version: str,
        *,
        description: str = "",
        routing_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """CreateAlias (optionally weighted between two published versions)."""
        fn_name, _ = self._parse(function_name, qualified=False)
        self._check_alias_name(name)
        self._check_version_param(function_version)
        self._check_description(description)
        with self._lock:
            fn = self._function(fn_name)
            if name in fn.aliases:
                raise ResourceConflictException(
                    f"Alias already exists: {self.function_arn(fn_name, name)}"
                )
            self._version(fn, function_version)
            weights = self._routing(fn, function_version, routing_config)
            alias = _Alias(name, function_version, description, weights, _new_revision())
            fn.aliases[name] = alias
            result = self._alias_shape(fn_name, alias)
        self._notify([("CreateAlias", fn_name, name)])
        return result

    def get_alias(self, function_name: str, name: str) -> dict[str, Any]:
        fn_name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            return self._alias_shape(fn_name, self._alias(self._function(fn_name), name))

    def update_alias(
        self,
        function_name: str,
        name: str,
        *,
        function_version: str | None = None,
        description: str | None = None,
        routing_config: Mapping[str, Any] | None = None,
        revision_id: str | None = None,
    ) -> dict[str, Any]:
        """UpdateAlias: unspecified fields keep their value; ``routing_config={}`` clears it."""
        fn_name, _ = self._parse(function_name, qualified=False)
        if function_version is not None:
            self._check_version_param(function_version)
        if description is not None:
            self._check_description(description)
        with self._lock:
            fn = self._function(fn_name)
            alias = self._alias(fn, name)
            self._check_revision(alias.revision_id, revision_id)
            version = function_version if function_version is not None else alias.function_version
            self._version(fn, version)
            if routing_config is not None:
                weights = self._routing(fn, version, routing_config)
            else:
                weights = self._routing(
                    fn, version, {"AdditionalVersionWeights": dict(alias.weights)}
                )
            if weights and any(q == name for q in fn.provisioned) and weights != alias.weights:
                raise InvalidParameterValueException(
                    "Alias with weights can not be used with Provisioned Concurrency"
                )
            alias = _Alias(
                name,
                version,
                description if description is not None else alias.description,
                weights,
                _new_revision(),
            )
            fn.aliases[name] = alias
            result = self._alias_shape(fn_name, alias)
        self._notify([("UpdateAlias", fn_name, name)])
        return result

    def delete_alias(self, function_name: str, name: str) -> None:
        fn_name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            fn = self._function(fn_name)
            self._alias(fn, name)
            del fn.aliases[name]
            fn.provisioned.pop(name, None)
            fn.event_invoke.pop(name, None)
            fn.policies.pop(name, None)
            fn.policy_revisions.pop(name, None)
        self._notify([("DeleteAlias", fn_name, name)])

    def list_aliases(
        self,
        function_name: str,
        function_version: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        """ListAliases, optionally only those pointing at ``function_version``."""
        fn_name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            fn = self._function(fn_name)
            items = [
                ((a.name,), a)
                for a in sorted(fn.aliases.values(), key=lambda a: a.name)
                if function_version is None or a.function_version == function_version
            ]
            page, following = _page(items, marker, max_items)
            out: dict[str, Any] = {"Aliases": [self._alias_shape(fn_name, a) for a in page]}
        if following:
            out["NextMarker"] = following
        return out

    # -- layers ---------------------------------------------------------------------------------
    def _layer_name(self, layer_name: str) -> str:
        match = _LAYER_NAME_RE.match(layer_name) if isinstance(layer_name, str) else None
        if match is None:
            raise _constraint(
                layer_name,
                "layerName",
                f"Member must satisfy regular expression pattern: {_LAYER_NAME_PATTERN}",
            )
        if match["region"] and (
            match["region"] != self.region or match["account"] != self.account_id
        ):
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return match["name"]

    def _layer_shape(self, lv: _LayerVersion) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Content": {
                "Location": lv.package.zip_path.as_uri(),
                "CodeSha256": lv.package.sha256,
                "CodeSize": lv.package.size,
            },
            "LayerArn": self._layer_arn(lv.name),
            "LayerVersionArn": lv.arn,
            "Description": lv.description,
            "CreatedDate": lv.created,
            "Version": lv.version,
        }
        if lv.runtimes:
            out["CompatibleRuntimes"] = list(lv.runtimes)
        if lv.license_info is not None:
            out["LicenseInfo"] = lv.license_info
        if lv.architectures:
            out["CompatibleArchitectures"] = list(lv.architectures)
        return out

    def publish_layer_version(
        self,
        layer_name: str,
        content: Any,
        *,
        description: str = "",
        compatible_runtimes: Sequence[str] | None = None,
        license_info: str | None = None,
        compatible_architectures: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """PublishLayerVersion: content is a zip, a directory (the /opt tree) or Code."""
        name = self._layer_name(layer_name)
        self._check_description(description)
        runtimes = tuple(compatible_runtimes or ())
        if len(runtimes) > 15:
            raise _constraint(
                list(runtimes),
                "compatibleRuntimes",
                "Member must have length less than or equal to 15",
            )
        architectures = tuple(compatible_architectures or ())
        if len(architectures) > 2 or any(a not in ("x86_64", "arm64") for a in architectures):
            raise _constraint(
                list(architectures),
                "compatibleArchitectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[x86_64, arm64]]",
            )
        if license_info is not None and len(license_info) > 512:
            raise _constraint(
                license_info, "licenseInfo", "Member must have length less than or equal to 512"
            )
        package_code = Code.coerce(content)
        staging, unzipped = self._stage(package_code, "PublishLayerVersion")
        try:
            with self._lock:
                version = self._layer_counters.get(name, 0) + 1
                self._layer_counters[name] = version
                package = self._adopt(
                    staging, package_code, unzipped, self.root / "layers" / name / str(version)
                )
                lv = _LayerVersion(
                    name=name,
                    version=version,
                    arn=self._layer_arn(name, version),
                    package=package,
                    description=description,
                    created=_aws_time(self._clock()),
                    runtimes=runtimes,
                    license_info=license_info,
                    architectures=architectures,
                )
                self._layers.setdefault(name, {})[version] = lv
                return self._layer_shape(lv)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _layer_version(self, layer_name: str, version_number: int) -> _LayerVersion:
        name = self._layer_name(layer_name)
        _check_int(version_number, "versionNumber", None, None)
        lv = self._layers.get(name, {}).get(version_number)
        if lv is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return lv

    def get_layer_version(self, layer_name: str, version_number: int) -> dict[str, Any]:
        with self._lock:
            return self._layer_shape(self._layer_version(layer_name, version_number))

    def get_layer_version_by_arn(self, arn: str) -> dict[str, Any]:
        match = _LAYER_VERSION_RE.match(arn) if isinstance(arn, str) else None
        if match is None:
            raise _constraint(
                arn,
                "arn",
                f"Member must satisfy regular expression pattern: {_LAYER_VERSION_PATTERN}",
            )
        return self.get_layer_version(arn.rsplit(":", 1)[0], int(match["version"]))

    @staticmethod
    def _matches(lv: _LayerVersion, runtime: str | None, architecture: str | None) -> bool:
        return (runtime is None or runtime in lv.runtimes) and (
            architecture is None or architecture in lv.architectures
        )

    def list_layers(
        self,
        compatible_runtime: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
        compatible_architecture: str | None = None,
    ) -> dict[str, Any]:
        """ListLayers: each layer with its latest version matching the filters."""
        with self._lock:
            items: list[tuple[tuple[Any, ...], Any]] = []
            for name in sorted(self._layers):
                matching = [
                    lv
                    for lv in self._layers[name].values()
                    if self._matches(lv, compatible_runtime, compatible_architecture)
                ]
                if matching:
                    items.append(((name,), max(matching, key=lambda lv: lv.version)))
            page, following = _page(items, marker, max_items, limit=50)
            layers = []
            for lv in page:
                latest = self._layer_shape(lv)
                del latest["Content"], latest["LayerArn"]
                layers.append(
                    {
                        "LayerName": lv.name,
                        "LayerArn": self._layer_arn(lv.name),
                        "LatestMatchingVersion": latest,
                    }
                )
        out: dict[str, Any] = {"Layers": layers}
        if following:
            out["NextMarker"] = following
        return out

    def list_layer_versions(
        self,
        layer_name: str,
        compatible_runtime: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
        compatible_architecture: str | None = None,
    ) -> dict[str, Any]:
        """ListLayerVersions: newest first."""
        name = self._layer_name(layer_name)
        with self._lock:
            versions = sorted(self._layers.get(name, {}).values(), key=lambda lv: -lv.version)
            items = [
                ((-lv.version,), lv)
                for lv in versions
                if self._matches(lv, compatible_runtime, compatible_architecture)
            ]
            page, following = _page(items, marker, max_items, limit=50)
            shapes = []
            for lv in page:
                shape = self._layer_shape(lv)
                del shape["Content"], shape["LayerArn"]
                shapes.append(shape)
        out: dict[str, Any] = {"LayerVersions": shapes}
        if following:
            out["NextMarker"] = following
        return out

    def delete_layer_version(self, layer_name: str, version_number: int) -> None:
        """DeleteLayerVersion: idempotent; functions using it keep their copy."""
        name = self._layer_name(layer_name)
        _check_int(version_number, "versionNumber", None, None)
        with self._lock:
            lv = self._layers.get(name, {}).pop(version_number, None)
            if lv is None:
                return
            if not self._layers[name]:
                del self._layers[name]
            self._retired_layers.append(lv)
            retired = self._collect_layers()
        for layer in retired:
            _remove_package(layer.package)

    def _collect_layers(self) -> list[_LayerVersion]:
        """Deleted layer versions no function version uses any more (their files can go)."""
        used = {
            lv.arn
            for fn in self._functions.values()
            for snap in (fn.latest, *fn.versions.values())
            for lv in snap.layers
        }
        free = [lv for lv in self._retired_layers if lv.arn not in used]
        self._retired_layers = [lv for lv in self._retired_layers if lv.arn in used]
        return free

    # -- concurrency ----------------------------------------------------------------------------
    def put_function_concurrency(
        self, function_name: str, reserved_concurrent_executions: int
    ) -> dict[str, int]:
        """PutFunctionConcurrency, stored as plain data.

        Account-level checks (the 100 that must stay unreserved, provisioned concurrency
        already configured) need the whole account's state: ``_policy.check_reserved`` makes
        them before the service calls this.
        """
        name, _ = self._parse(function_name, qualified=False)
        _check_int(reserved_concurrent_executions, "reservedConcurrentExecutions", 0, None)
        with self._lock:
            self._function(name).reserved_concurrency = reserved_concurrent_executions
        self._notify([("PutFunctionConcurrency", name, None)])
        return {"ReservedConcurrentExecutions": reserved_concurrent_executions}

    def get_function_concurrency(self, function_name: str) -> dict[str, int]:
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            reserved = self._function(name).reserved_concurrency
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    def delete_function_concurrency(self, function_name: str) -> None:
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            self._function(name).reserved_concurrency = None
        self._notify([("DeleteFunctionConcurrency", name, None)])

    def reserved_concurrency(self, function_name: str) -> int | None:
        """The function's reserved concurrency, for the scaling policy (None = unreserved)."""
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            return self._function(name).reserved_concurrency

    def _provisioned_target(self, fn: _Function, qualifier: str) -> None:
        unpublished = InvalidParameterValueException(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
        if qualifier == "$LATEST":
            raise unpublished
        _, version, alias = self._lookup(fn, qualifier)
        if version == "$LATEST":
            raise unpublished
        if alias is not None and fn.aliases[alias].weights:
            raise InvalidParameterValueException(
                "Alias with weights can not be used with Provisioned Concurrency"
            )

    def _provisioned_shape(self, fn: _Function, qualifier: str, *, arn: bool) -> dict[str, Any]:
        record = fn.provisioned[qualifier]
        out: dict[str, Any] = {}
        if arn:
            out["FunctionArn"] = self.function_arn(fn.name, qualifier)
        out.update(
            {
                "RequestedProvisionedConcurrentExecutions": record["requested"],
                "AvailableProvisionedConcurrentExecutions": record["available"],
                "AllocatedProvisionedConcurrentExecutions": record["allocated"],
                "Status": record["status"],
                "LastModified": record["last_modified"],
            }
        )
        if record.get("reason"):
            out["StatusReason"] = record["reason"]
        return out

    def put_provisioned_concurrency_config(
        self, function_name: str, qualifier: str, provisioned_concurrent_executions: int
    ) -> dict[str, Any]:
        """PutProvisionedConcurrencyConfig: recorded IN_PROGRESS; the service allocates it.

        Checked here: what depends on qualifiers ($LATEST, weighted aliases). Checked by
        ``_policy.check_provisioned`` before: the amounts against reserved and account
        concurrency.
        """
        name, qualifier = self._parse(function_name, qualifier)
        if qualifier is None:
            raise _constraint(None, "qualifier", "Member must not be null")
        _check_int(provisioned_concurrent_executions, "provisionedConcurrentExecutions", 1, None)
        with self._lock:
            fn = self._function(name)
            self._provisioned_target(fn, qualifier)
            fn.provisioned[qualifier] = {
                "requested": provisioned_concurrent_executions,
                "allocated": 0,
                "available": 0,
                "status": "IN_PROGRESS",
                "reason": None,
                "last_modified": _aws_time(self._clock()),
            }
            result = self._provisioned_shape(fn, qualifier, arn=False)
        self._notify([("PutProvisionedConcurrencyConfig", name, qualifier)])
        return result

    def _provisioned(self, fn: _Function, qualifier: str | None) -> str:
        if qualifier is None:
            raise _constraint(None, "qualifier", "Member must not be null")
        if qualifier not in fn.provisioned:
            self._lookup(fn, qualifier)  # an unknown version/alias is "Function not found"
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return qualifier

    def get_provisioned_concurrency_config(
        self, function_name: str, qualifier: str | None = None
    ) -> dict[str, Any]:
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            return self._provisioned_shape(fn, self._provisioned(fn, qualifier), arn=False)

    def set_provisioned_concurrency_status(
        self,
        function_name: str,
        qualifier: str,
        *,
        status: str,
        allocated: int,
        available: int,
        reason: str | None = None,
    ) -> None:
        """For the service: report allocation progress (IN_PROGRESS, READY, FAILED)."""
        if status not in ("IN_PROGRESS", "READY", "FAILED"):
            raise InvalidParameterValueException(f"Unknown provisioned concurrency status {status}")
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            record = fn.provisioned[self._provisioned(fn, qualifier)]
            record.update(status=status, allocated=allocated, available=available, reason=reason)

    def delete_provisioned_concurrency_config(
        self, function_name: str, qualifier: str | None = None
    ) -> None:
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            del fn.provisioned[self._provisioned(fn, qualifier)]
        self._notify([("DeleteProvisionedConcurrencyConfig", name, qualifier)])

    def list_provisioned_concurrency_configs(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> dict[str, Any]:
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            fn = self._function(name)
            items = [((q,), q) for q in sorted(fn.provisioned)]
            page, following = _page(items, marker, max_items, limit=50)
            out: dict[str, Any] = {
                "ProvisionedConcurrencyConfigs": [
                    self._provisioned_shape(fn, q, arn=True) for q in page
                ]
            }
        if following:
            out["NextMarker"] = following
        return out

    # -- asynchronous invocation settings -------------------------------------------------------
    @staticmethod
    def _check_destinations(config: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {"OnSuccess": {}, "OnFailure": {}}
        for key in config:
            if key not in out:
                raise InvalidParameterValueException(
                    f"Unknown destination condition {key}: use OnSuccess or OnFailure."
                )
        for key, member in (("OnSuccess", "onSuccess"), ("OnFailure", "onFailure")):
            destination = (config.get(key) or {}).get("Destination")
            if not destination:
                continue
            if not _DESTINATION_RE.match(destination):
                raise _constraint(
                    destination,
                    f"destinationConfig.{member}.destination",
                    f"Member must satisfy regular expression pattern: {_DESTINATION_PATTERN}",
                )
            service = destination.split(":")[2]
            allowed = {"sqs", "sns", "lambda", "events"} | ({"s3"} if key == "OnFailure" else set())
            if service not in allowed:
                raise InvalidParameterValueException(
                    f"The destination ARN {destination} is invalid for {key}: destinations are "
                    "an SQS queue, an SNS topic, a Lambda function or an EventBridge event bus"
                    + (" (or an S3 bucket on failure)." if key == "OnFailure" else ".")
                )
            out[key] = {"Destination": destination}
        return out

    def _event_key(self, fn: _Function, qualifier: str | None) -> str:
        if qualifier is None or qualifier == "$LATEST":
            return "$LATEST"
        self._lookup(fn, qualifier)
        return qualifier

    def _event_shape(self, fn: _Function, key: str) -> dict[str, Any]:
        record = fn.event_invoke[key]
        out: dict[str, Any] = {
            "LastModified": record["LastModified"],
            "FunctionArn": self.function_arn(fn.name, key),
        }
        for field_name in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if record.get(field_name) is not None:
                out[field_name] = record[field_name]
        out["DestinationConfig"] = record["DestinationConfig"]
        return out

    def _event_invoke(
        self,
        function_name: str,
        qualifier: str | None,
        values: dict[str, Any],
        *,
        patch: bool,
    ) -> dict[str, Any]:
        if values.get("MaximumRetryAttempts") is not None:
            _check_int(values["MaximumRetryAttempts"], "maximumRetryAttempts", 0, 2)
        if values.get("MaximumEventAgeInSeconds") is not None:
            _check_int(values["MaximumEventAgeInSeconds"], "maximumEventAgeInSeconds", 60, 21600)
        destinations = values.pop("DestinationConfig", None)
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            key = self._event_key(fn, qualifier)
            current = fn.event_invoke.get(key)
            if patch and current is None:
                raise ResourceNotFoundException(
                    f"The function {self.function_arn(name, key)} doesn't have an EventInvokeConfig"
                )
            record = (
                dict(current)
                if patch and current
                else {"DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}}
            )
            for k, v in values.items():
                if v is not None or not patch:
                    record[k] = v
            if destinations is not None:
                merged = dict(record["DestinationConfig"]) if patch else {}
                merged.update(destinations)
                record["DestinationConfig"] = self._check_destinations(merged)
            record["LastModified"] = self._clock()
            fn.event_invoke[key] = record
            return self._event_shape(fn, key)

    def put_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str | None = None,
        *,
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """PutFunctionEventInvokeConfig: replaces the whole configuration for the qualifier."""
        return self._event_invoke(
            function_name,
            qualifier,
            {
                "MaximumRetryAttempts": maximum_retry_attempts,
                "MaximumEventAgeInSeconds": maximum_event_age_in_seconds,
                "DestinationConfig": destination_config,
            },
            patch=False,
        )

    def update_function_event_invoke_config(
        self,
        function_name: str,
        qualifier: str | None = None,
        *,
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """UpdateFunctionEventInvokeConfig: changes only the given settings."""
        return self._event_invoke(
            function_name,
            qualifier,
            {
                "MaximumRetryAttempts": maximum_retry_attempts,
                "MaximumEventAgeInSeconds": maximum_event_age_in_seconds,
                "DestinationConfig": destination_config,
            },
            patch=True,
        )

    def get_function_event_invoke_config(
        self, function_name: str, qualifier: str | None = None
    ) -> dict[str, Any]:
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            key = self._event_key(fn, qualifier)
            if key not in fn.event_invoke:
                raise ResourceNotFoundException(
                    f"The function {self.function_arn(name, key)} doesn't have an EventInvokeConfig"
                )
            return self._event_shape(fn, key)

    def delete_function_event_invoke_config(
        self, function_name: str, qualifier: str | None = None
    ) -> None:
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            key = self._event_key(fn, qualifier)
            if fn.event_invoke.pop(key, None) is None:
                raise ResourceNotFoundException(
                    f"The function {self.function_arn(name, key)} doesn't have an EventInvokeConfig"
                )

    def list_function_event_invoke_configs(
        self, function_name: str, marker: str | None = None, max_items: int | None = None
    ) -> dict[str, Any]:
        name, _ = self._parse(function_name, qualified=False)
        with self._lock:
            fn = self._function(name)
            items = [((k,), k) for k in sorted(fn.event_invoke)]
            page, following = _page(items, marker, max_items, limit=50)
            out: dict[str, Any] = {
                "FunctionEventInvokeConfigs": [self._event_shape(fn, k) for k in page]
            }
        if following:
            out["NextMarker"] = following
        return out

    # -- resource-based policy ------------------------------------------------------------------
    def _policy_key(self, fn: _Function, qualifier: str | None) -> str | None:
        if qualifier is None:
            return None
        if qualifier == "$LATEST":
            raise InvalidParameterValueException(
                "We currently do not support adding policies for $LATEST."
            )
        self._lookup(fn, qualifier)
        return qualifier

    @staticmethod
    def _principal(principal: str) -> str | dict[str, str]:
        if principal == "*":
            return "*"
        if re.fullmatch(r"\d{12}", principal):
            return {"AWS": f"arn:aws:iam::{principal}:root"}
        if principal.startswith("arn:"):
            return {"AWS": principal}
        return {"Service": principal}

    def add_permission(
        self,
        function_name: str,
        statement_id: str,
        action: str,
        principal: str,
        *,
        source_arn: str | None = None,
        source_account: str | None = None,
        event_source_token: str | None = None,
        qualifier: str | None = None,
        revision_id: str | None = None,
        principal_org_id: str | None = None,
        function_url_auth_type: str | None = None,
    ) -> dict[str, str]:
        """AddPermission: one statement in the function's (or version's/alias's) policy."""
        name, qualifier = self._parse(function_name, qualifier)
        if not isinstance(statement_id, str) or not _STATEMENT_ID_RE.match(statement_id):
            raise _constraint(
                statement_id,
                "statementId",
                "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)",
            )
        if not isinstance(action, str) or not _ACTION_RE.match(action):
            raise _constraint(
                action,
                "action",
                f"Member must satisfy regular expression pattern: {_ACTION_PATTERN}",
            )
        if not isinstance(principal, str) or not re.fullmatch(r"[^\s]+", principal):
            raise _constraint(
                principal, "principal", "Member must satisfy regular expression pattern: [^\\s]+"
            )
        if function_url_auth_type not in (None, "NONE", "AWS_IAM"):
            raise _constraint(
                function_url_auth_type,
                "functionUrlAuthType",
                "Member must satisfy enum value set: [AWS_IAM, NONE]",
            )
        with self._lock:
            fn = self._function(name)
            key = self._policy_key(fn, qualifier)
            statements = fn.policies.setdefault(key, [])
            revision = fn.policy_revisions.setdefault(key, _new_revision())
            self._check_revision(revision, revision_id)
            if any(s["Sid"] == statement_id for s in statements):
                raise ResourceConflictException(
                    f"The statement id ({statement_id}) provided already exists. Please provide "
                    "a new statement id, or remove the existing statement."
                )
            statement: dict[str, Any] = {
                "Sid": statement_id,
                "Effect": "Allow",
                "Principal": self._principal(principal),
                "Action": action,
                "Resource": self.function_arn(name, key),
            }
            condition: dict[str, dict[str, str]] = {}
            equals: dict[str, str] = {}
            if source_account is not None:
                equals["AWS:SourceAccount"] = source_account
            if principal_org_id is not None:
                equals["aws:PrincipalOrgID"] = principal_org_id
            if event_source_token is not None:
                equals["lambda:EventSourceToken"] = event_source_token
            if function_url_auth_type is not None:
                equals["lambda:FunctionUrlAuthType"] = function_url_auth_type
            if equals:
                condition["StringEquals"] = equals
            if source_arn is not None:
                condition["ArnLike"] = {"AWS:SourceArn": source_arn}
            if condition:
                statement["Condition"] = condition
            size = len(self._policy_document([*statements, statement]))
            if size > POLICY_LIMIT:
                raise InvalidParameterValueException(
                    f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT})."
                )
            statements.append(statement)
            fn.policy_revisions[key] = _new_revision()
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    @staticmethod
    def _policy_document(statements: list[dict[str, Any]]) -> str:
        return json.dumps(
            {"Version": "2012-10-17", "Id": "default", "Statement": statements},
            separators=(",", ":"),
        )

    def remove_permission(
        self,
        function_name: str,
        statement_id: str,
        qualifier: str | None = None,
        revision_id: str | None = None,
    ) -> None:
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            key = self._policy_key(fn, qualifier)
            statements = fn.policies.get(key, [])
            if revision_id is not None:
                self._check_revision(fn.policy_revisions.get(key, ""), revision_id)
            kept = [s for s in statements if s["Sid"] != statement_id]
            if len(kept) == len(statements):
                raise ResourceNotFoundException(
                    f"Statement {statement_id} is not found in resource policy."
                )
            fn.policies[key] = kept
            fn.policy_revisions[key] = _new_revision()

    def get_policy(self, function_name: str, qualifier: str | None = None) -> dict[str, str]:
        """GetPolicy: the policy document as a JSON string, with its RevisionId."""
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            key = self._policy_key(fn, qualifier)
            statements = fn.policies.get(key)
            if not statements:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            return {
                "Policy": self._policy_document(statements),
                "RevisionId": fn.policy_revisions[key],
            }

    def policy_statements(
        self, function_name: str, qualifier: str | None = None
    ) -> list[dict[str, Any]]:
        """The statements as data (empty when there is no policy), for permission checks."""
        name, qualifier = self._parse(function_name, qualifier)
        with self._lock:
            fn = self._function(name)
            key = self._policy_key(fn, qualifier)
            return json.loads(json.dumps(fn.policies.get(key, [])))

    # -- introspection --------------------------------------------------------------------------
    def function_names(self) -> list[str]:
        with self._lock:
            return sorted(self._functions)

    def __contains__(self, function_name: object) -> bool:
        with self._lock:
            return function_name in self._functions

    def __iter__(self) -> Iterator[str]:
        return iter(self.function_names())


def _int_key(item: tuple[str, Any]) -> int:
    return int(item[0])


def _remove_package(package: _Package) -> None:
    shutil.rmtree(package.directory, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        package.zip_path.unlink()
