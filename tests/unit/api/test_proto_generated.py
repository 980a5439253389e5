"""The committed generated code is what the pinned generator makes of the committed proto: a proto
change without `make proto` (or a hand edit of a generated file) fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]
PROTO = REPO / "proto" / "zenlead" / "v1" / "zenlead.proto"
PACKAGE = REPO / "src" / "zen_lead" / "api" / "pb"
GENERATED = ("zenlead_pb2.py", "zenlead_pb2.pyi", "zenlead_pb2_grpc.py")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pb")
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_proto.py"), "--python", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.mark.parametrize("name", GENERATED)
def test_the_committed_stubs_are_regenerated_identically(regenerated: Path, name: str) -> None:
    assert (PACKAGE / name).read_text() == (regenerated / name).read_text(), (
        f"src/zen_lead/api/pb/{name} differs from what tools/gen_proto.py makes: run `make proto`"
    )


def test_the_packaged_proto_is_the_repos_proto() -> None:
    assert (PACKAGE / "zenlead.proto").read_bytes() == PROTO.read_bytes(), "run `make proto`"


def test_the_generated_modules_import_package_relative() -> None:
    grpc_module = (PACKAGE / "zenlead_pb2_grpc.py").read_text()
    assert "from . import zenlead_pb2 as" in grpc_module
    assert "from zenlead" not in grpc_module


def test_the_stubs_describe_both_services_under_the_protos_name() -> None:
    from zen_lead.api.pb import zenlead_pb2, zenlead_pb2_grpc

    assert zenlead_pb2.DESCRIPTOR.name == "zenlead/v1/zenlead.proto"  # what reflection serves
    services = zenlead_pb2.DESCRIPTOR.services_by_name
    assert set(services) == {"Leaders", "Locks"}
    assert set(services["Leaders"].methods_by_name) == {"Get", "List", "Watch"}
    assert set(services["Locks"].methods_by_name) == {"Acquire", "Renew", "KeepAlive", "Release", "Get"}
    assert hasattr(zenlead_pb2_grpc, "add_LeadersServicer_to_server")
    assert hasattr(zenlead_pb2_grpc, "LocksStub")


def test_the_wheel_ships_the_proto_and_the_type_stubs() -> None:
    import tomllib

    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data["zen_lead"]
    shipped = {path.name for pattern in patterns for path in (REPO / "src" / "zen_lead").glob(pattern)}
    assert {"zenlead.proto", "zenlead_pb2.pyi"} <= shipped
