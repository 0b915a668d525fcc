"""The control plane's store: functions, versions, aliases, layers and per-function settings."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import stat
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from kernel_runtime.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ProvisionedConcurrencyConfigNotFoundException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from kernel_runtime.service import _registry
from kernel_runtime.service._bytecode import precompile
from kernel_runtime.service._registry import (
    DIRECT_UPLOAD_LIMIT,
    UNZIPPED_LIMIT,
    Code,
    Registry,
)

SRC = "def handler(event, context):\n    return event\n"
ACCT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCT}:function:"
HANDLER = "lambda_function.handler"


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


def make_zip(files: dict[str, bytes | str], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | (modes or {}).get(name, 0o644)) << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def create(reg: Registry, name: str = "fn", code: object = SRC, **kw: object) -> dict:
    return reg.create_function(name, HANDLER, code, **kw)


def layer_dir(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    root = tmp_path / "layer-src" / name
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


# -- code packages ---------------------------------------------------------------------------------
class TestCode:
    def test_inline_single_source(self) -> None:
        code = Code.from_source(SRC)
        with zipfile.ZipFile(io.BytesIO(code.zip_file)) as zf:
            assert zf.namelist() == ["lambda_function.py"]
            assert zf.read("lambda_function.py").decode() == SRC
        assert code.sha256 == base64.b64encode(hashlib.sha256(code.zip_file).digest()).decode()
        assert code.size == len(code.zip_file)
        assert not code.direct

    def test_inline_mapping_with_packages_and_shebang(self) -> None:
        code = Code.from_source(
            {"app.py": SRC, "pkg/util.py": "X = 1\n", "bootstrap": "#!/bin/sh\n"}
        )
        with zipfile.ZipFile(io.BytesIO(code.zip_file)) as zf:
            names = zf.namelist()
            mode = zf.getinfo("bootstrap").external_attr >> 16
        assert names == ["app.py", "bootstrap", "pkg/", "pkg/util.py"]
        assert mode & 0o111

    def test_inline_rejects_escaping_names(self) -> None:
        with pytest.raises(InvalidParameterValueException):
            Code.from_source({"../x.py": SRC})

    def test_directory_zip_is_deterministic_and_keeps_modes(self, tmp_path: Path) -> None:
        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        (src / "lambda_function.py").write_text(SRC)
        (src / "sub" / "tool").write_text("#!/bin/sh\n")
        os.chmod(src / "sub" / "tool", 0o755)
        first = Code.from_directory(src)
        os.utime(src / "lambda_function.py", (1, 1))  # timestamps do not matter
        second = Code.from_directory(src)
        assert first.zip_file == second.zip_file
        assert first.sha256 == second.sha256
        with zipfile.ZipFile(io.BytesIO(first.zip_file)) as zf:
            assert (zf.getinfo("sub/tool").external_attr >> 16) & 0o777 == 0o755

    def test_missing_directory(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidParameterValueException, match="does not exist"):
            Code.from_directory(tmp_path / "nope")

    def test_coerce_forms(self, tmp_path: Path) -> None:
        data = make_zip({"a.py": SRC})
        path = tmp_path / "pkg.zip"
        path.write_bytes(data)
        assert Code.coerce(data).zip_file == data
        assert Code.coerce(path).zip_file == data
        assert Code.coerce({"ZipFile": data}).zip_file == data
        with zipfile.ZipFile(io.BytesIO(Code.coerce(SRC, "app.main").zip_file)) as zf:
            assert zf.namelist() == ["app.py"]
        with zipfile.ZipFile(io.BytesIO(Code.coerce(SRC, "pkg.mod.main").zip_file)) as zf:
            assert "pkg/mod.py" in zf.namelist()
        with pytest.raises(InvalidParameterValueException):
            Code.coerce(42)
        with pytest.raises(InvalidParameterValueException, match="ZipFile"):
            Code.coerce({"S3Bucket": "b", "S3Key": "k"})


# -- create / get ----------------------------------------------------------------------------------
class TestCreateFunction:
    def test_configuration_shape(self, reg: Registry) -> None:
        code = Code.from_source(SRC)
        cfg = create(reg, code=code, description="demo")
        assert cfg["FunctionName"] == "fn"
        assert cfg["FunctionArn"] == ARN + "fn"
        assert cfg["Role"] == f"arn:aws:iam::{ACCT}:role/lambda-lab-execution"
        assert cfg["Handler"] == HANDLER
        assert cfg["CodeSha256"] == code.sha256
        assert cfg["CodeSize"] == code.size
        assert cfg["Description"] == "demo"
        assert (cfg["Timeout"], cfg["MemorySize"]) == (3, 128)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", cfg["LastModified"])
        assert cfg["Version"] == "$LATEST"
        assert cfg["TracingConfig"] == {"Mode": "PassThrough"}
        assert re.fullmatch(r"[0-9a-f-]{36}", cfg["RevisionId"])
        assert cfg["State"] == "Active"
        assert cfg["LastUpdateStatus"] == "Successful"
        assert cfg["PackageType"] == "Zip"
        assert cfg["Architectures"] == ["x86_64"]
        assert cfg["EphemeralStorage"] == {"Size": 512}
        assert cfg["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
        assert "Environment" not in cfg  # AWS omits it when no variables are set
        assert "Layers" not in cfg
        assert cfg["Runtime"].startswith("python3.")

    def test_settings_are_applied(self, reg: Registry) -> None:
        cfg = create(
            reg,
            runtime="python3.12",
            memory_size=1024,
            timeout=30,
            ephemeral_storage={"Size": 1024},
            environment={"Variables": {"STAGE": "dev"}},
            role=f"arn:aws:iam::{ACCT}:role/custom",
            logging_config={"LogFormat": "JSON"},
            architectures=["arm64"],
            tracing_config={"Mode": "Active"},
            dead_letter_config={"TargetArn": f"arn:aws:sqs:us-east-1:{ACCT}:dlq"},
        )
        assert cfg["Runtime"] == "python3.12"
        assert cfg["MemorySize"] == 1024 and cfg["Timeout"] == 30
        assert cfg["EphemeralStorage"] == {"Size": 1024}
        assert cfg["Environment"] == {"Variables": {"STAGE": "dev"}}
        assert cfg["Role"].endswith("role/custom")
        assert cfg["LoggingConfig"] == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "INFO",
            "LogGroup": "/aws/lambda/fn",
        }
        assert cfg["Architectures"] == ["arm64"]
        assert cfg["TracingConfig"] == {"Mode": "Active"}
        assert cfg["DeadLetterConfig"]["TargetArn"].endswith(":dlq")
        config = reg.function_config("fn")
        assert (config.memory_size, config.timeout, config.ephemeral_storage) == (1024, 30, 1024)
        assert config.environment == {"STAGE": "dev"}
        assert config.architecture == "arm64"
        assert config.log_format == "JSON"

    def test_code_is_unpacked_on_disk(self, reg: Registry, tmp_path: Path) -> None:
        create(reg)
        config = reg.function_config("fn")
        assert (config.code / "lambda_function.py").read_text() == SRC
        assert tmp_path / "registry" in config.code.parents
        assert config.version == "$LATEST"
        assert config.function_arn == ARN + "fn"

    def test_directory_code_is_copied(self, reg: Registry, tmp_path: Path) -> None:
        src = tmp_path / "src"
        src.mkdir()
        (src / "lambda_function.py").write_text(SRC)
        create(reg, code=src)
        (src / "lambda_function.py").write_text("changed")
        assert (reg.function_config("fn").code / "lambda_function.py").read_text() == SRC

    def test_duplicate_name(self, reg: Registry) -> None:
        create(reg)
        with pytest.raises(ResourceConflictException) as exc:
            create(reg)
        assert exc.value.message == "Function already exist: fn"

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"memory_size": 64}, "at 'memorySize' failed"),
            ({"timeout": 901}, "at 'timeout' failed"),
            ({"runtime": "nodejs20.x"}, "at 'runtime' failed"),
            ({"role": "not-a-role"}, "at 'role' failed"),
            ({"description": "x" * 257}, "at 'description' failed"),
            ({"architectures": ["x86_64", "arm64"]}, "at 'architectures' failed"),
            ({"environment": {"AWS_REGION": "x"}}, "Reserved keys used in this request"),
            ({"tracing_config": {"Mode": "On"}}, "at 'tracingConfig.mode' failed"),
        ],
    )
    def test_validation(self, reg: Registry, kwargs: dict, fragment: str) -> None:
        with pytest.raises(InvalidParameterValueException, match=re.escape(fragment)):
            create(reg, **kwargs)
        assert reg.function_names() == []

    def test_bad_function_name(self, reg: Registry) -> None:
        with pytest.raises(InvalidParameterValueException, match="functionName"):
            create(reg, name="has space")

    def test_create_with_publish(self, reg: Registry) -> None:
        cfg = create(reg, publish=True)
        assert cfg["Version"] == "1"
        assert cfg["FunctionArn"] == ARN + "fn:1"
        assert reg.get_function_configuration("fn")["Version"] == "$LATEST"

    def test_get_function(self, reg: Registry) -> None:
        create(reg, tags={"team": "a"})
        out = reg.get_function("fn")
        assert out["Configuration"]["FunctionName"] == "fn"
        assert out["Code"]["RepositoryType"] == "S3"
        location = out["Code"]["Location"]
        assert location.startswith("file://")
        data = Path(location[len("file://") :]).read_bytes()
        assert (
            base64.b64encode(hashlib.sha256(data).digest()).decode()
            == (out["Configuration"]["CodeSha256"])
        )
        assert out["Tags"] == {"team": "a"}
        assert "Concurrency" not in out
        reg.put_function_concurrency("fn", 5)
        assert reg.get_function("fn")["Concurrency"] == {"ReservedConcurrentExecutions": 5}

    def test_not_found_messages(self, reg: Registry) -> None:
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_function("nope")
        assert exc.value.message == f"Function not found: {ARN}nope"
        create(reg)
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_function_configuration("fn", "7")
        assert exc.value.message == f"Function not found: {ARN}fn:7"
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_function("fn:live")
        assert exc.value.message == f"Function not found: {ARN}fn:live"


# -- zip limits and safety -------------------------------------------------------------------------
class TestPackages:
    def test_direct_zip_over_50_mb(self, reg: Registry) -> None:
        with pytest.raises(RequestTooLargeException) as exc:
            create(reg, code=b"\0" * (DIRECT_UPLOAD_LIMIT + 1))
        assert exc.value.message == (
            "Request must be smaller than 69905067 bytes for the CreateFunction operation"
        )
        assert exc.value.status == 413

    def test_unzipped_over_250_mb(self, reg: Registry, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("lambda_function.py", SRC)
            with zf.open("blob.bin", "w", force_zip64=True) as out:
                chunk = b"\0" * (1 << 20)
                for _ in range(UNZIPPED_LIMIT // len(chunk) + 1):
                    out.write(chunk)
        data = buffer.getvalue()
        assert len(data) < DIRECT_UPLOAD_LIMIT
        with pytest.raises(InvalidParameterValueException) as exc:
            create(reg, code=data)
        assert exc.value.message == "Unzipped size must be smaller than 262144000 bytes"
        assert reg.function_names() == []
        assert not any((tmp_path / "registry" / "staging").iterdir())

    def test_combined_with_layers(
        self, reg: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        layer = reg.publish_layer_version("big", {"python/big.py": "x" * 5000})
        monkeypatch.setattr(_registry, "UNZIPPED_LIMIT", 4000)
        with pytest.raises(InvalidParameterValueException) as exc:
            create(reg, layers=[layer["LayerVersionArn"]])
        assert exc.value.message.startswith(
            "Function code combined with layers exceeds the maximum allowed size of 4000 bytes."
        )

    def test_bad_zip(self, reg: Registry) -> None:
        with pytest.raises(InvalidParameterValueException) as exc:
            create(reg, code=b"not a zip")
        assert exc.value.message.startswith("Could not unzip uploaded file.")

    @pytest.mark.parametrize("name", ["../evil.py", "/abs/evil.py", "a/../../evil.py"])
    def test_zip_slip(self, reg: Registry, tmp_path: Path, name: str) -> None:
        data = make_zip({"lambda_function.py": SRC, name: "pwned"})
        with pytest.raises(InvalidParameterValueException, match="outside the package root"):
            create(reg, code=data)
        assert not list(tmp_path.rglob("evil.py"))
        assert reg.function_names() == []

    def test_symlink_escaping_is_rejected(self, reg: Registry) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            info = zipfile.ZipInfo("link")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "../../../../etc")
        with pytest.raises(InvalidParameterValueException, match="outside the package root"):
            create(reg, code=buffer.getvalue())

    def test_symlink_inside_is_kept(self, reg: Registry) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("lambda_function.py", SRC)
            info = zipfile.ZipInfo("alias.py")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "lambda_function.py")
        create(reg, code=buffer.getvalue())
        code = reg.function_config("fn").code
        assert (code / "alias.py").is_symlink()
        assert (code / "alias.py").read_text() == SRC

    def test_file_modes_are_kept(self, reg: Registry) -> None:
        data = make_zip(
            {"lambda_function.py": SRC, "bin/tool": "#!/bin/sh\n"},
            {"bin/tool": 0o755, "lambda_function.py": 0o640},
        )
        create(reg, code=data)
        code = reg.function_config("fn").code
        assert stat.S_IMODE((code / "bin" / "tool").stat().st_mode) == 0o755
        assert stat.S_IMODE((code / "lambda_function.py").stat().st_mode) == 0o640


# -- listing ---------------------------------------------------------------------------------------
class TestListFunctions:
    def test_pagination(self, reg: Registry) -> None:
        for name in ["e", "a", "d", "b", "c"]:
            create(reg, name=name)
        seen, marker, pages = [], None, 0
        while True:
            page = reg.list_functions(marker=marker, max_items=2)
            pages += 1
            seen += [f["FunctionName"] for f in page["Functions"]]
            marker = page.get("NextMarker")
            if not marker:
                break
        assert seen == ["a", "b", "c", "d", "e"]
        assert pages == 3

    def test_marker_survives_deletion(self, reg: Registry) -> None:
        for name in "abcd":
            create(reg, name=name)
        page = reg.list_functions(max_items=2)
        reg.delete_function("b")
        rest = reg.list_functions(marker=page["NextMarker"])
        assert [f["FunctionName"] for f in rest["Functions"]] == ["c", "d"]

    def test_all_versions(self, reg: Registry) -> None:
        create(reg, publish=True)
        create(reg, name="other")
        assert [f["Version"] for f in reg.list_functions()["Functions"]] == ["$LATEST", "$LATEST"]
        listed = reg.list_functions(function_version="ALL")["Functions"]
        assert [(f["FunctionName"], f["Version"]) for f in listed] == [
            ("fn", "$LATEST"),
            ("fn", "1"),
            ("other", "$LATEST"),
        ]
        assert listed[1]["FunctionArn"] == ARN + "fn:1"

    def test_bad_arguments(self, reg: Registry) -> None:
        with pytest.raises(InvalidParameterValueException, match="functionVersion"):
            reg.list_functions(function_version="LATEST")
        with pytest.raises(InvalidParameterValueException, match="maxItems"):
            reg.list_functions(max_items=0)
        with pytest.raises(InvalidParameterValueException, match="marker"):
            reg.list_functions(marker="!!garbage")


# -- updates and versions --------------------------------------------------------------------------
class TestUpdatesAndVersions:
    def test_update_code(self, reg: Registry) -> None:
        before = create(reg)
        old_dir = reg.function_config("fn").code
        after = reg.update_function_code("fn", "def handler(e, c):\n    return 2\n")
        assert after["CodeSha256"] != before["CodeSha256"]
        assert after["RevisionId"] != before["RevisionId"]
        new_dir = reg.function_config("fn").code
        assert new_dir != old_dir
        assert "return 2" in (new_dir / "lambda_function.py").read_text()
        assert (old_dir / "lambda_function.py").read_text() == SRC  # never rewritten

    def test_update_code_revision_check(self, reg: Registry) -> None:
        create(reg)
        with pytest.raises(PreconditionFailedException, match="Revision Id provided"):
            reg.update_function_code("fn", SRC, revision_id="stale")

    def test_update_code_rejects_qualified_name(self, reg: Registry) -> None:
        create(reg)
        with pytest.raises(InvalidParameterValueException, match="functionName"):
            reg.update_function_code("fn:1", SRC)

    def test_update_code_direct_zip_limit_names_operation(self, reg: Registry) -> None:
        create(reg)
        with pytest.raises(RequestTooLargeException, match="UpdateFunctionCode operation"):
            reg.update_function_code("fn", b"\0" * (DIRECT_UPLOAD_LIMIT + 1))

    def test_update_configuration(self, reg: Registry) -> None:
        before = create(reg, environment={"AB": "1"})
        after = reg.update_function_configuration("fn", timeout=10, description="d")
        assert after["Timeout"] == 10 and after["Description"] == "d"
        assert after["MemorySize"] == 128
        assert after["Environment"] == {"Variables": {"AB": "1"}}
        assert after["RevisionId"] != before["RevisionId"]
        assert after["CodeSha256"] == before["CodeSha256"]
        with pytest.raises(PreconditionFailedException):
            reg.update_function_configuration("fn", timeout=5, revision_id=before["RevisionId"])
        ok = reg.update_function_configuration("fn", timeout=5, revision_id=after["RevisionId"])
        assert ok["Timeout"] == 5
        assert reg.function_config("fn").timeout == 5

    def test_update_configuration_validation_keeps_state(self, reg: Registry) -> None:
        create(reg)
        with pytest.raises(InvalidParameterValueException, match="memorySize"):
            reg.update_function_configuration("fn", memory_size=10241)
        assert reg.get_function_configuration("fn")["MemorySize"] == 128

    def test_logging_config_switches(self, reg: Registry) -> None:
        create(reg)
        cfg = reg.update_function_configuration(
            "fn", logging_config={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}
        )
        assert cfg["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
        assert reg.function_config("fn").application_log_level == "DEBUG"
        cfg = reg.update_function_configuration("fn", logging_config={"LogFormat": "Text"})
        assert cfg["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
        with pytest.raises(InvalidParameterValueException, match="LogLevel is not supported"):
            reg.update_function_configuration(
                "fn", logging_config={"LogFormat": "Text", "SystemLogLevel": "WARN"}
            )

    def test_publish_numbers_and_immutability(self, reg: Registry) -> None:
        create(reg, environment={"VER": "one"})
        v1 = reg.publish_version("fn")
        assert v1["Version"] == "1" and v1["FunctionArn"] == ARN + "fn:1"
        v1_dir = reg.function_config("fn:1").code
        reg.update_function_code("fn", "def handler(e, c):\n    return 'two'\n")
        reg.update_function_configuration("fn", environment={"VER": "two"}, memory_size=256)
        one = reg.get_function_configuration("fn", "1")
        assert one == v1
        config = reg.function_config("fn", "1")
        assert config.version == "1"
        assert config.environment == {"VER": "one"} and config.memory_size == 128
        assert config.code == v1_dir
        assert (v1_dir / "lambda_function.py").read_text() == SRC
        v2 = reg.publish_version("fn", description="second")
        assert v2["Version"] == "2" and v2["Description"] == "second"
        assert reg.function_config("fn:2").environment == {"VER": "two"}
        assert "'two'" in (reg.function_config("fn:2").code / "lambda_function.py").read_text()

    def test_publish_without_change_returns_existing(self, reg: Registry) -> None:
        create(reg)
        events: list[tuple] = []
        reg.on_change(lambda *e: events.append(e))
        first = reg.publish_version("fn")
        again = reg.publish_version("fn")
        assert again == first
        assert events == [("PublishVersion", "fn", "1")]
        reg.update_function_configuration("fn", timeout=9)
        assert reg.publish_version("fn")["Version"] == "2"

    def test_publish_checks(self, reg: Registry) -> None:
        cfg = create(reg)
        with pytest.raises(InvalidParameterValueException, match="CodeSHA256"):
            reg.publish_version("fn", code_sha256="abc")
        with pytest.raises(PreconditionFailedException):
            reg.publish_version("fn", revision_id="stale")
        assert reg.publish_version("fn", code_sha256=cfg["CodeSha256"])["Version"] == "1"

    def test_update_code_with_publish(self, reg: Registry) -> None:
        create(reg)
        out = reg.update_function_code("fn", "def handler(e, c):\n    return 3\n", publish=True)
        assert out["Version"] == "1"

    def test_list_versions(self, reg: Registry) -> None:
        create(reg)
        for timeout in (4, 5, 6):
            reg.update_function_configuration("fn", timeout=timeout)
            reg.publish_version("fn")
        listed = reg.list_versions_by_function("fn")["Versions"]
        assert [v["Version"] for v in listed] == ["$LATEST", "1", "2", "3"]
        assert listed[0]["FunctionArn"] == ARN + "fn:$LATEST"
        page = reg.list_versions_by_function("fn", max_items=3)
        assert len(page["Versions"]) == 3
        rest = reg.list_versions_by_function("fn", marker=page["NextMarker"])
        assert [v["Version"] for v in rest["Versions"]] == ["3"]
        assert "NextMarker" not in rest

    def test_version_numbers_are_not_reused(self, reg: Registry) -> None:
        create(reg)
        reg.publish_version("fn")
        reg.delete_function("fn", "1")
        reg.update_function_configuration("fn", timeout=7)
        assert reg.publish_version("fn")["Version"] == "2"


class TestDelete:
    def test_delete_version_and_function(self, reg: Registry, tmp_path: Path) -> None:
        create(reg, publish=True)
        reg.delete_function("fn", "1")
        with pytest.raises(ResourceNotFoundException):
            reg.get_function("fn:1")
        home = reg.function_config("fn").code.parent.parent
        reg.delete_function(ARN + "fn")
        assert not home.exists()
        with pytest.raises(ResourceNotFoundException):
            reg.get_function("fn")
        create(reg)  # the name is free again, versions restart
        assert reg.publish_version("fn")["Version"] == "1"

    def test_delete_latest_qualifier(self, reg: Registry) -> None:
        create(reg)
        with pytest.raises(InvalidParameterValueException) as exc:
            reg.delete_function("fn", "$LATEST")
        assert exc.value.message == (
            "$LATEST version cannot be deleted without deleting the function."
        )

    def test_delete_version_used_by_alias(self, reg: Registry) -> None:
        create(reg, publish=True)
        reg.update_function_configuration("fn", timeout=9)
        reg.publish_version("fn")
        reg.create_alias("fn", "live", "1")
        reg.create_alias(
            "fn", "canary", "1", routing_config={"AdditionalVersionWeights": {"2": 0.5}}
        )
        for version in ("1", "2"):
            with pytest.raises(ResourceConflictException, match="aliases reference it"):
                reg.delete_function("fn", version)
        reg.delete_alias("fn", "canary")
        reg.delete_function("fn", "2")

    def test_delete_unknown(self, reg: Registry) -> None:
        with pytest.raises(ResourceNotFoundException):
            reg.delete_function("nope")
        create(reg)
        with pytest.raises(ResourceNotFoundException):
            reg.delete_function("fn", "3")


# -- aliases ---------------------------------------------------------------------------------------
@pytest.fixture
def versions(reg: Registry) -> Registry:
    """``fn`` with versions 1, 2 and 3."""
    create(reg)
    for timeout in (4, 5, 6):
        reg.update_function_configuration("fn", timeout=timeout)
        reg.publish_version("fn")
    return reg


class TestAliases:
    def test_crud(self, versions: Registry) -> None:
        reg = versions
        alias = reg.create_alias("fn", "live", "1", description="prod")
        assert alias == {
            "AliasArn": ARN + "fn:live",
            "Name": "live",
            "FunctionVersion": "1",
            "Description": "prod",
            "RevisionId": alias["RevisionId"],
        }
        assert reg.get_alias("fn", "live") == alias
        updated = reg.update_alias("fn", "live", function_version="2")
        assert updated["FunctionVersion"] == "2" and updated["Description"] == "prod"
        assert updated["RevisionId"] != alias["RevisionId"]
        with pytest.raises(PreconditionFailedException):
            reg.update_alias("fn", "live", description="x", revision_id=alias["RevisionId"])
        reg.create_alias("fn", "beta", "$LATEST")
        assert [a["Name"] for a in reg.list_aliases("fn")["Aliases"]] == ["beta", "live"]
        assert [a["Name"] for a in reg.list_aliases("fn", function_version="2")["Aliases"]] == [
            "live"
        ]
        page = reg.list_aliases("fn", max_items=1)
        assert [a["Name"] for a in page["Aliases"]] == ["beta"]
        assert [
            a["Name"] for a in reg.list_aliases("fn", marker=page["NextMarker"])["Aliases"]
        ] == ["live"]
        reg.delete_alias("fn", "live")
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_alias("fn", "live")
        assert exc.value.message == f"Alias not found: {ARN}fn:live"

    def test_duplicate(self, versions: Registry) -> None:
        versions.create_alias("fn", "live", "1")
        with pytest.raises(ResourceConflictException) as exc:
            versions.create_alias("fn", "live", "2")
        assert exc.value.message == f"Alias already exists: {ARN}fn:live"

    @pytest.mark.parametrize("name", ["123", "bad name", "$LATEST", "a" * 129])
    def test_bad_names(self, versions: Registry, name: str) -> None:
        with pytest.raises(InvalidParameterValueException, match="at 'name'"):
            versions.create_alias("fn", name, "1")

    def test_unknown_version(self, versions: Registry) -> None:
        with pytest.raises(ResourceNotFoundException, match=re.escape(f"{ARN}fn:9")):
            versions.create_alias("fn", "live", "9")
        with pytest.raises(InvalidParameterValueException, match="functionVersion"):
            versions.create_alias("fn", "live", "latest")

    def test_weights(self, versions: Registry) -> None:
        alias = versions.create_alias(
            "fn", "live", "1", routing_config={"AdditionalVersionWeights": {"2": 0.25}}
        )
        assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
        target = versions.resolve("fn:live")
        assert target.version == "1" and target.alias == "live"
        assert target.routing == (("1", 0.75), ("2", 0.25))
        assert target.pick(0.1)[0] == "1"
        version, config = target.pick(0.9)
        assert version == "2" and config.version == "2" and config.timeout == 5
        assert target.choose(lambda: 0.9)[0] == "2"  # a weighted target draws
        cleared = versions.update_alias("fn", "live", routing_config={})
        assert "RoutingConfig" not in cleared
        unweighted = versions.resolve("fn:live")
        assert unweighted.routing == (("1", 1.0),)

        def no_draw() -> float:
            raise AssertionError("an unweighted target must not draw")

        assert unweighted.choose(no_draw)[0] == "1"

    def test_weights_kept_on_update_without_routing(self, versions: Registry) -> None:
        versions.create_alias(
            "fn", "live", "1", routing_config={"AdditionalVersionWeights": {"2": 0.5}}
        )
        out = versions.update_alias("fn", "live", description="still weighted")
        assert out["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
        with pytest.raises(InvalidParameterValueException, match="already included"):
            versions.update_alias("fn", "live", function_version="2")

    @pytest.mark.parametrize(
        ("primary", "weights", "error", "fragment"),
        [
            ("1", {"2": 1.5}, InvalidParameterValueException, "less than or equal to 1.0"),
            ("1", {"2": -0.1}, InvalidParameterValueException, "greater than or equal to 0.0"),
            ("1", {"$LATEST": 0.1}, InvalidParameterValueException, "Map keys must satisfy"),
            ("1", {"2": 0.1, "3": 0.1}, InvalidParameterValueException, "length less than"),
            ("$LATEST", {"2": 0.1}, InvalidParameterValueException, "$LATEST is not supported"),
            ("1", {"1": 0.1}, InvalidParameterValueException, "already included"),
            ("1", {"9": 0.1}, ResourceNotFoundException, "Function not found"),
        ],
    )
    def test_bad_weights(
        self, versions: Registry, primary: str, weights: dict, error: type, fragment: str
    ) -> None:
        with pytest.raises(error, match=re.escape(fragment)):
            versions.create_alias(
                "fn", "live", primary, routing_config={"AdditionalVersionWeights": weights}
            )
        assert versions.list_aliases("fn")["Aliases"] == []

    def test_weight_message_shape(self, versions: Registry) -> None:
        with pytest.raises(InvalidParameterValueException) as exc:
            versions.create_alias(
                "fn", "live", "1", routing_config={"AdditionalVersionWeights": {"2": 1.5}}
            )
        assert exc.value.message.startswith(
            "1 validation error detected: Value '{2=1.5}' at "
            "'routingConfig.additionalVersionWeights' failed to satisfy constraint"
        )

    def test_alias_to_latest_follows_updates(self, versions: Registry) -> None:
        versions.create_alias("fn", "dev", "$LATEST")
        versions.update_function_configuration("fn", timeout=20)
        assert versions.function_config("fn:dev").timeout == 20
        assert versions.resolve("fn", "dev").version == "$LATEST"


# -- resolution ------------------------------------------------------------------------------------
class TestResolve:
    @pytest.fixture
    def target(self, versions: Registry) -> Registry:
        versions.create_alias("fn", "live", "2")
        return versions

    @pytest.mark.parametrize(
        ("ref", "qualifier", "version", "alias"),
        [
            ("fn", None, "$LATEST", None),
            ("fn", "$LATEST", "$LATEST", None),
            ("fn:1", None, "1", None),
            ("fn", "3", "3", None),
            ("fn:live", None, "2", "live"),
            ("fn", "live", "2", "live"),
            (ARN + "fn", None, "$LATEST", None),
            (ARN + "fn:1", None, "1", None),
            (ARN + "fn:live", "live", "2", "live"),
            (ARN + "fn", "3", "3", None),
            (f"{ACCT}:function:fn", None, "$LATEST", None),
            (f"{ACCT}:function:fn:live", None, "2", "live"),
        ],
    )
    def test_forms(
        self,
        target: Registry,
        ref: str,
        qualifier: str | None,
        version: str,
        alias: str | None,
    ) -> None:
        resolved = target.resolve(ref, qualifier)
        assert resolved.function_name == "fn"
        assert (resolved.version, resolved.alias) == (version, alias)
        assert resolved.config.version == version
        assert resolved.qualifier == (alias or version)
        assert resolved.function_arn == f"{ARN}fn:{alias or version}"
        assert target.function_config(resolved) is resolved.config

    def test_conflicting_qualifier(self, target: Registry) -> None:
        with pytest.raises(InvalidParameterValueException) as exc:
            target.resolve("fn:1", "2")
        assert exc.value.message == (
            "The derived qualifier from the function name does not match the specified qualifier."
        )
        with pytest.raises(InvalidParameterValueException):
            target.resolve(ARN + "fn:live", "1")

    def test_not_found(self, target: Registry) -> None:
        with pytest.raises(ResourceNotFoundException) as exc:
            target.resolve("nope")
        assert exc.value.message == f"Function not found: {ARN}nope"
        with pytest.raises(ResourceNotFoundException) as exc:
            target.resolve(ARN + "fn:staging")
        assert exc.value.message == f"Function not found: {ARN}fn:staging"
        with pytest.raises(ResourceNotFoundException) as exc:
            target.resolve("fn", "9")
        assert exc.value.message == f"Function not found: {ARN}fn:9"

    def test_other_region_and_account(self, target: Registry) -> None:
        with pytest.raises(InvalidParameterValueException) as exc:
            target.resolve(f"arn:aws:lambda:eu-west-1:{ACCT}:function:fn")
        assert exc.value.message == (
            "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
        )
        with pytest.raises(ResourceNotFoundException):
            target.resolve("arn:aws:lambda:us-east-1:999999999999:function:fn")

    @pytest.mark.parametrize(
        "ref", ["", "fn name", "fn:a:b", "arn:aws:lambda:us-east-1:fn", "x" * 65, "fn:bad qual"]
    )
    def test_malformed(self, target: Registry, ref: str) -> None:
        with pytest.raises(InvalidParameterValueException, match="functionName"):
            target.resolve(ref)

    def test_function_config_for_routed_version(self, target: Registry) -> None:
        resolved = target.resolve("fn:live")
        assert target.function_config(resolved, "3").version == "3"
        assert target.function_config("fn:1").version == "1"
        assert target.function_config("fn", "live").version == "2"

    def test_every_version_has_its_own_code(self, reg: Registry) -> None:
        create(reg)
        reg.publish_version("fn")
        reg.update_function_code("fn", "def handler(e, c):\n    return 2\n")
        reg.publish_version("fn")
        one, two = reg.function_config("fn:1").code, reg.function_config("fn:2").code
        assert one != two
        assert reg.function_config("fn").code == two


# -- layers ----------------------------------------------------------------------------------------
class TestLayers:
    def test_publish_and_get(self, reg: Registry, tmp_path: Path) -> None:
        src = layer_dir(tmp_path, "a", {"python/helper.py": "X = 1\n"})
        out = reg.publish_layer_version(
            "shared",
            src,
            description="helpers",
            compatible_runtimes=["python3.12"],
            license_info="MIT",
            compatible_architectures=["x86_64"],
        )
        arn = f"arn:aws:lambda:us-east-1:{ACCT}:layer:shared"
        assert out["LayerArn"] == arn
        assert out["LayerVersionArn"] == arn + ":1"
        assert out["Version"] == 1
        assert out["Description"] == "helpers"
        assert out["CompatibleRuntimes"] == ["python3.12"]
        assert out["LicenseInfo"] == "MIT"
        assert out["CompatibleArchitectures"] == ["x86_64"]
        assert re.fullmatch(r"\d{4}-.*\.\d{3}\+0000", out["CreatedDate"])
        assert out["Content"]["CodeSha256"] == Code.from_directory(src).sha256
        assert out["Content"]["Location"].startswith("file://")
        assert reg.get_layer_version("shared", 1) == out
        assert reg.get_layer_version(arn, 1) == out
        assert reg.get_layer_version_by_arn(arn + ":1") == out
        second = reg.publish_layer_version("shared", make_zip({"python/helper.py": "X = 2\n"}))
        assert second["Version"] == 2

    def test_errors(self, reg: Registry) -> None:
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_layer_version("nope", 1)
        assert exc.value.message == "The resource you requested does not exist."
        with pytest.raises(InvalidParameterValueException, match="layerName"):
            reg.publish_layer_version("bad name", {"a.py": ""})
        with pytest.raises(RequestTooLargeException, match="PublishLayerVersion"):
            reg.publish_layer_version("big", b"\0" * (DIRECT_UPLOAD_LIMIT + 1))
        with pytest.raises(InvalidParameterValueException, match="compatibleArchitectures"):
            reg.publish_layer_version("x", {"a.py": ""}, compatible_architectures=["mips"])

    def test_list(self, reg: Registry) -> None:
        reg.publish_layer_version("b", {"a.py": ""}, compatible_runtimes=["python3.12"])
        reg.publish_layer_version("b", {"a.py": "2"}, compatible_runtimes=["python3.11"])
        reg.publish_layer_version("a", {"a.py": ""})
        layers = reg.list_layers()["Layers"]
        assert [(lay["LayerName"], lay["LatestMatchingVersion"]["Version"]) for lay in layers] == [
            ("a", 1),
            ("b", 2),
        ]
        assert "Content" not in layers[0]["LatestMatchingVersion"]
        filtered = reg.list_layers(compatible_runtime="python3.12")["Layers"]
        assert [
            (lay["LayerName"], lay["LatestMatchingVersion"]["Version"]) for lay in filtered
        ] == [("b", 1)]
        versions = reg.list_layer_versions("b")["LayerVersions"]
        assert [v["Version"] for v in versions] == [2, 1]
        page = reg.list_layer_versions("b", max_items=1)
        assert [v["Version"] for v in page["LayerVersions"]] == [2]
        rest = reg.list_layer_versions("b", marker=page["NextMarker"])
        assert [v["Version"] for v in rest["LayerVersions"]] == [1]
        assert reg.list_layer_versions("unknown")["LayerVersions"] == []

    def test_delete_is_idempotent_and_numbers_are_not_reused(self, reg: Registry) -> None:
        reg.publish_layer_version("l", {"a.py": ""})
        reg.delete_layer_version("l", 1)
        reg.delete_layer_version("l", 1)
        assert reg.list_layers()["Layers"] == []
        assert reg.publish_layer_version("l", {"a.py": "x"})["Version"] == 2

    def test_function_layers_in_order(self, reg: Registry, tmp_path: Path) -> None:
        first = reg.publish_layer_version(
            "one", {"python/common.py": "WHO = 'one'\n", "python/only1.py": ""}
        )
        second = reg.publish_layer_version("two", {"python/common.py": "WHO = 'two'\n"})
        arns = [first["LayerVersionArn"], second["LayerVersionArn"]]
        cfg = create(reg, layers=arns)
        assert cfg["Layers"] == [
            {"Arn": first["LayerVersionArn"], "CodeSize": first["Content"]["CodeSize"]},
            {"Arn": second["LayerVersionArn"], "CodeSize": second["Content"]["CodeSize"]},
        ]
        config = reg.function_config("fn")
        assert len(config.layers) == 2
        # Merge into /opt as the sandbox does: in order, later layers win.
        opt = tmp_path / "opt"
        for layer in config.layers:
            shutil.copytree(layer, opt, dirs_exist_ok=True, symlinks=True)
        assert (opt / "python" / "common.py").read_text() == "WHO = 'two'\n"
        assert (opt / "python" / "only1.py").exists()
        reversed_cfg = reg.update_function_configuration("fn", layers=arns[::-1])
        assert [lay["Arn"] for lay in reversed_cfg["Layers"]] == arns[::-1]
        assert reg.function_config("fn").layers == config.layers[::-1]
        cleared = reg.update_function_configuration("fn", layers=[])
        assert "Layers" not in cleared
        assert reg.function_config("fn").layers == ()

    def test_layer_cap_and_unknown(self, reg: Registry) -> None:
        arns = [
            reg.publish_layer_version(f"l{i}", {"a.py": ""})["LayerVersionArn"] for i in range(6)
        ]
        create(reg, name="five", layers=arns[:5])
        with pytest.raises(InvalidParameterValueException, match="more than 5 layers"):
            create(reg, layers=arns)
        with pytest.raises(InvalidParameterValueException, match="more than 5 layers"):
            reg.update_function_configuration("five", layers=arns)
        missing = f"arn:aws:lambda:us-east-1:{ACCT}:layer:ghost:1"
        with pytest.raises(InvalidParameterValueException) as exc:
            create(reg, layers=[missing])
        assert exc.value.message == f"Layer version {missing} does not exist."
        with pytest.raises(InvalidParameterValueException, match="layers"):
            create(reg, layers=["not-an-arn"])

    def test_two_versions_of_one_layer(self, reg: Registry) -> None:
        a = reg.publish_layer_version("l", {"a.py": ""})["LayerVersionArn"]
        b = reg.publish_layer_version("l", {"a.py": "x"})["LayerVersionArn"]
        with pytest.raises(InvalidParameterValueException, match="same layer"):
            create(reg, layers=[a, b])

    def test_deleted_layer_stays_for_its_users(self, reg: Registry) -> None:
        arn = reg.publish_layer_version("l", {"python/m.py": "M = 1\n"})["LayerVersionArn"]
        create(reg, layers=[arn])
        layer = reg.function_config("fn").layers[0]
        reg.delete_layer_version("l", 1)
        assert (layer / "python" / "m.py").exists()
        assert reg.get_function_configuration("fn")["Layers"][0]["Arn"] == arn
        with pytest.raises(InvalidParameterValueException, match="does not exist"):
            create(reg, name="other", layers=[arn])
        reg.delete_function("fn")
        assert not layer.exists()


# -- per-function settings -------------------------------------------------------------------------
class TestConcurrency:
    def test_reserved(self, reg: Registry) -> None:
        create(reg)
        assert reg.get_function_concurrency("fn") == {}
        assert reg.reserved_concurrency("fn") is None
        assert reg.put_function_concurrency("fn", 0) == {"ReservedConcurrentExecutions": 0}
        assert reg.reserved_concurrency("fn") == 0
        with pytest.raises(InvalidParameterValueException, match="reservedConcurrentExecutions"):
            reg.put_function_concurrency("fn", -1)
        reg.delete_function_concurrency("fn")
        assert reg.get_function_concurrency("fn") == {}

    def test_provisioned(self, versions: Registry) -> None:
        reg = versions
        reg.create_alias("fn", "live", "1")
        out = reg.put_provisioned_concurrency_config("fn", "live", 3)
        assert out["RequestedProvisionedConcurrentExecutions"] == 3
        assert out["AllocatedProvisionedConcurrentExecutions"] == 0
        assert out["Status"] == "IN_PROGRESS"
        reg.set_provisioned_concurrency_status(
            "fn", "live", status="READY", allocated=3, available=3
        )
        got = reg.get_provisioned_concurrency_config("fn", "live")
        assert got["Status"] == "READY" and got["AvailableProvisionedConcurrentExecutions"] == 3
        reg.put_provisioned_concurrency_config("fn:2", None, 1)
        listed = reg.list_provisioned_concurrency_configs("fn")["ProvisionedConcurrencyConfigs"]
        assert [c["FunctionArn"] for c in listed] == [ARN + "fn:2", ARN + "fn:live"]
        reg.delete_provisioned_concurrency_config("fn", "live")
        with pytest.raises(
            ProvisionedConcurrencyConfigNotFoundException, match="No Provisioned Concurrency Config"
        ):
            reg.get_provisioned_concurrency_config("fn", "live")

    def test_provisioned_targets(self, versions: Registry) -> None:
        reg = versions
        reg.create_alias("fn", "dev", "$LATEST")
        reg.create_alias(
            "fn", "split", "1", routing_config={"AdditionalVersionWeights": {"2": 0.1}}
        )
        for qualifier in ("$LATEST", "dev"):
            with pytest.raises(InvalidParameterValueException, match="unpublished"):
                reg.put_provisioned_concurrency_config("fn", qualifier, 1)
        with pytest.raises(InvalidParameterValueException, match="Alias with weights"):
            reg.put_provisioned_concurrency_config("fn", "split", 1)
        with pytest.raises(ResourceNotFoundException, match="Function not found"):
            reg.put_provisioned_concurrency_config("fn", "9", 1)
        with pytest.raises(InvalidParameterValueException, match="provisionedConcurrentExecutions"):
            reg.put_provisioned_concurrency_config("fn", "1", 0)
        reg.create_alias("fn", "live", "1")
        reg.put_provisioned_concurrency_config("fn", "live", 2)
        with pytest.raises(InvalidParameterValueException, match="Alias with weights"):
            reg.update_alias("fn", "live", routing_config={"AdditionalVersionWeights": {"2": 0.1}})


class TestEventInvokeConfig:
    def test_put_get_update_list_delete(self, versions: Registry) -> None:
        reg = versions
        queue = f"arn:aws:sqs:us-east-1:{ACCT}:failures"
        out = reg.put_function_event_invoke_config(
            "fn",
            maximum_retry_attempts=1,
            destination_config={"OnFailure": {"Destination": queue}},
        )
        assert out["FunctionArn"] == ARN + "fn:$LATEST"
        assert out["MaximumRetryAttempts"] == 1
        assert "MaximumEventAgeInSeconds" not in out
        assert out["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue}}
        assert isinstance(out["LastModified"], float)
        patched = reg.update_function_event_invoke_config("fn", maximum_event_age_in_seconds=60)
        assert patched["MaximumRetryAttempts"] == 1 and patched["MaximumEventAgeInSeconds"] == 60
        assert patched["DestinationConfig"]["OnFailure"] == {"Destination": queue}
        replaced = reg.put_function_event_invoke_config("fn", maximum_event_age_in_seconds=120)
        assert "MaximumRetryAttempts" not in replaced
        assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
        reg.put_function_event_invoke_config("fn", "1", maximum_retry_attempts=0)
        listed = reg.list_function_event_invoke_configs("fn")["FunctionEventInvokeConfigs"]
        assert sorted(c["FunctionArn"] for c in listed) == [ARN + "fn:$LATEST", ARN + "fn:1"]
        assert reg.get_function_event_invoke_config("fn:1")["MaximumRetryAttempts"] == 0
        reg.delete_function_event_invoke_config("fn", "1")
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_function_event_invoke_config("fn", "1")
        assert exc.value.message == f"The function {ARN}fn:1 doesn't have an EventInvokeConfig"

    def test_update_needs_existing(self, versions: Registry) -> None:
        with pytest.raises(ResourceNotFoundException, match="doesn't have an EventInvokeConfig"):
            versions.update_function_event_invoke_config("fn", maximum_retry_attempts=1)

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"maximum_retry_attempts": 3}, "maximumRetryAttempts"),
            ({"maximum_retry_attempts": -1}, "maximumRetryAttempts"),
            ({"maximum_event_age_in_seconds": 59}, "maximumEventAgeInSeconds"),
            ({"maximum_event_age_in_seconds": 21601}, "maximumEventAgeInSeconds"),
            (
                {"destination_config": {"OnSuccess": {"Destination": "nope"}}},
                "destinationConfig.onSuccess.destination",
            ),
            (
                {"destination_config": {"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}}},
                "invalid for OnSuccess",
            ),
        ],
    )
    def test_validation(self, versions: Registry, kwargs: dict, fragment: str) -> None:
        with pytest.raises(InvalidParameterValueException, match=re.escape(fragment)):
            versions.put_function_event_invoke_config("fn", **kwargs)

    def test_s3_on_failure_is_allowed(self, versions: Registry) -> None:
        out = versions.put_function_event_invoke_config(
            "fn", destination_config={"OnFailure": {"Destination": "arn:aws:s3:::bucket"}}
        )
        assert out["DestinationConfig"]["OnFailure"] == {"Destination": "arn:aws:s3:::bucket"}


class TestPolicy:
    def test_add_get_remove(self, versions: Registry) -> None:
        reg = versions
        out = reg.add_permission(
            "fn",
            "s3-invoke",
            "lambda:InvokeFunction",
            "s3.amazonaws.com",
            source_arn="arn:aws:s3:::bucket",
            source_account=ACCT,
        )
        statement = json.loads(out["Statement"])
        assert statement == {
            "Sid": "s3-invoke",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": ARN + "fn",
            "Condition": {
                "StringEquals": {"AWS:SourceAccount": ACCT},
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
            },
        }
        reg.add_permission("fn", "acct", "lambda:*", "210987654321")
        policy = reg.get_policy("fn")
        document = json.loads(policy["Policy"])
        assert document["Version"] == "2012-10-17" and document["Id"] == "default"
        assert [s["Sid"] for s in document["Statement"]] == ["s3-invoke", "acct"]
        assert document["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
        assert reg.policy_statements("fn")[0]["Sid"] == "s3-invoke"
        with pytest.raises(ResourceConflictException) as exc:
            reg.add_permission("fn", "acct", "lambda:InvokeFunction", "*")
        assert exc.value.message == (
            "The statement id (acct) provided already exists. Please provide a new statement "
            "id, or remove the existing statement."
        )
        with pytest.raises(PreconditionFailedException):
            reg.remove_permission("fn", "acct", revision_id="stale")
        reg.remove_permission("fn", "acct", revision_id=policy["RevisionId"])
        with pytest.raises(ResourceNotFoundException, match="is not found in resource policy"):
            reg.remove_permission("fn", "acct")
        reg.remove_permission("fn", "s3-invoke")
        with pytest.raises(ResourceNotFoundException) as exc:
            reg.get_policy("fn")
        assert exc.value.message == "The resource you requested does not exist."

    def test_qualified_policies(self, versions: Registry) -> None:
        reg = versions
        reg.create_alias("fn", "live", "1")
        out = reg.add_permission("fn", "s", "lambda:InvokeFunction", "*", qualifier="live")
        assert json.loads(out["Statement"])["Resource"] == ARN + "fn:live"
        assert reg.policy_statements("fn") == []
        with pytest.raises(InvalidParameterValueException, match=r"\$LATEST"):
            reg.add_permission("fn", "s", "lambda:InvokeFunction", "*", qualifier="$LATEST")
        with pytest.raises(ResourceNotFoundException):
            reg.add_permission("fn", "s", "lambda:InvokeFunction", "*", qualifier="nope")
        reg.delete_alias("fn", "live")
        reg.create_alias("fn", "live", "1")
        assert reg.policy_statements("fn:live") == []

    def test_validation(self, versions: Registry) -> None:
        with pytest.raises(InvalidParameterValueException, match="statementId"):
            versions.add_permission("fn", "bad id", "lambda:InvokeFunction", "*")
        with pytest.raises(InvalidParameterValueException, match="action"):
            versions.add_permission("fn", "s", "s3:GetObject", "*")
        with pytest.raises(InvalidParameterValueException, match="functionUrlAuthType"):
            versions.add_permission(
                "fn", "s", "lambda:InvokeFunctionUrl", "*", function_url_auth_type="OPEN"
            )

    def test_policy_size_limit(self, versions: Registry) -> None:
        with pytest.raises(InvalidParameterValueException, match="bigger than the limit"):
            for i in range(200):
                versions.add_permission(
                    "fn",
                    f"s{i}",
                    "lambda:InvokeFunction",
                    "s3.amazonaws.com",
                    source_arn="arn:aws:s3:::" + "b" * 60,
                )


# -- listeners and concurrency ---------------------------------------------------------------------
class TestListeners:
    def test_events(self, reg: Registry) -> None:
        events: list[tuple] = []
        remove = reg.on_change(lambda *e: events.append(e))
        create(reg, publish=True)
        reg.update_function_code("fn", "def handler(e, c):\n    return 1\n")
        reg.update_function_configuration("fn", timeout=5)
        reg.publish_version("fn")
        reg.create_alias("fn", "live", "2")
        reg.update_alias("fn", "live", function_version="1")
        reg.delete_alias("fn", "live")
        reg.delete_function("fn", "1")
        reg.delete_function("fn")
        assert events == [
            ("CreateFunction", "fn", "$LATEST"),
            ("PublishVersion", "fn", "1"),
            ("UpdateFunctionCode", "fn", "$LATEST"),
            ("UpdateFunctionConfiguration", "fn", "$LATEST"),
            ("PublishVersion", "fn", "2"),
            ("CreateAlias", "fn", "live"),
            ("UpdateAlias", "fn", "live"),
            ("DeleteAlias", "fn", "live"),
            ("DeleteFunction", "fn", "1"),
            ("DeleteFunction", "fn", None),
        ]
        remove()
        create(reg)
        assert len(events) == 10

    def test_files_exist_while_listeners_run(self, reg: Registry) -> None:
        create(reg)
        code = reg.function_config("fn").code
        seen: list[bool] = []
        reg.on_change(lambda *e: seen.append(code.exists()))
        reg.delete_function("fn")
        assert seen == [True]
        assert not code.exists()

    def test_failing_listener_does_not_undo(self, reg: Registry) -> None:
        def boom(*_: object) -> None:
            raise RuntimeError("listener bug")

        reg.on_change(boom)
        create(reg)
        assert "fn" in reg

    def test_listener_may_call_back(self, reg: Registry) -> None:
        seen: list[str] = []
        reg.on_change(
            lambda event, name, q: (
                seen.append(reg.get_function(name)["Configuration"]["Version"])
                if event == "CreateFunction"
                else None
            )
        )
        create(reg)
        assert seen == ["$LATEST"]


def test_concurrent_creates(reg: Registry) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        try:
            create(reg, name=name)
            outcome = "ok"
        except ResourceConflictException:
            outcome = "conflict"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=("same",)) for _ in range(8)]
    threads += [threading.Thread(target=worker, args=(f"f{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 9 and results.count("conflict") == 7
    assert len(reg.function_names()) == 9


def test_unqualified_resolve_is_shared_until_latest_changes(reg: Registry) -> None:
    """Invokes of ``$LATEST`` share one resolved target; an update makes a new one."""
    create(reg)
    first = reg.resolve("fn")
    assert reg.resolve("fn") is first
    reg.update_function_configuration("fn", timeout=10)
    updated = reg.resolve("fn")
    assert updated is not first and updated.config.timeout == 10
    assert first.config.timeout != 10  # the old target still describes the old snapshot
    assert reg.resolve("fn") is updated


@pytest.mark.parametrize("in_process_bytes", [1 << 20, 0], ids=["here", "child interpreter"])
def test_precompile_writes_bytecode_within_its_budget(
    tmp_path: Path, in_process_bytes: int
) -> None:
    """Deployment compiles what it can in its time; warnings and errors stay the import's.
    Small packages compile in this process, large ones in a child interpreter: same result."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    (tmp_path / "warns.py").write_text("X = 1 is 1\n")  # SyntaxWarning
    (tmp_path / "broken.py").write_text("def f(:\n")
    assert precompile(tmp_path, budget_s=-1, in_process_bytes=in_process_bytes) == 0
    assert not list(tmp_path.rglob("*.pyc"))
    assert precompile(tmp_path, in_process_bytes=in_process_bytes) == 2
    tag = sys.implementation.cache_tag
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.pyc")) == [
        f"__pycache__/app.{tag}.pyc",
        f"pkg/__pycache__/mod.{tag}.pyc",
    ]
