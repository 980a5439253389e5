"""Generate the API's code from its one proto (`make proto`): the Python stubs, the packaged copy of
the proto, and the Go client's generated package.

    python tools/gen_proto.py                 # both, in place
    python tools/gen_proto.py --python DIR    # only the Python stubs and the proto copy, into DIR
    python tools/gen_proto.py --go DIR        # only the Go package, into DIR/zenleadv1

Reproducible: protoc is the one bundled with the pinned grpcio-tools (`python -m grpc_tools.protoc`,
constraints.txt), protoc-gen-go and protoc-gen-go-grpc are built from the versions pinned as `tool`
directives in clients/go/go.mod (the Go module proxy serves them). The tests regenerate both into a
temporary directory and compare with the committed files, so a proto change without `make proto`
fails them.

The Python stubs live in `zen_lead.api.pb`; protoc writes an absolute import (`from zenlead.v1 import
zenlead_pb2`) that only works with the proto root on sys.path, so it is rewritten package-relative.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO / "proto"
PROTO = "zenlead/v1/zenlead.proto"  # its name in the descriptor pool (and for gRPC reflection)
PYTHON_OUT = REPO / "src" / "zen_lead" / "api" / "pb"
GO_MODULE = REPO / "clients" / "go"
GO_MODULE_PATH = "zen-lead.io/client"
GO_PLUGINS = {
    "protoc-gen-go": "google.golang.org/protobuf/cmd/protoc-gen-go",
    "protoc-gen-go-grpc": "google.golang.org/grpc/cmd/protoc-gen-go-grpc",
}
PYTHON_FILES = ("zenlead_pb2.py", "zenlead_pb2.pyi", "zenlead_pb2_grpc.py")
ABSOLUTE_IMPORT = "from zenlead.v1 import zenlead_pb2 as"
RELATIVE_IMPORT = "from . import zenlead_pb2 as"


def protoc(args: list[str]) -> None:
    """grpcio-tools' protoc (it adds its bundled well-known types, google/protobuf/*.proto, itself)."""
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", *args, str(PROTO_ROOT / PROTO)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"protoc failed ({' '.join(command)}):\n{result.stdout}{result.stderr}")


def package_relative(text: str, name: str) -> str:
    """The generated module with protoc's absolute sibling import made package-relative."""
    if name == "zenlead_pb2_grpc.py":
        if ABSOLUTE_IMPORT not in text:
            raise SystemExit(
                f"{name}: the generator no longer writes {ABSOLUTE_IMPORT!r}: update this script"
            )
        text = text.replace(ABSOLUTE_IMPORT, RELATIVE_IMPORT)
    if "from zenlead." in text or "import zenlead." in text:
        raise SystemExit(f"{name}: an absolute import of the proto package is left")
    return text


def generate_python(out: Path) -> list[Path]:
    """Write the Python stubs and the proto copy into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        protoc([f"--python_out={tmp}", f"--pyi_out={tmp}", f"--grpc_python_out={tmp}"])
        generated = Path(tmp) / Path(PROTO).parent
        written = []
        for name in PYTHON_FILES:
            target = out / name
            target.write_text(package_relative((generated / name).read_text(), name))
            written.append(target)
    proto_copy = out / Path(PROTO).name
    shutil.copyfile(PROTO_ROOT / PROTO, proto_copy)
    return [*written, proto_copy]


def go_env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}


def build_go_plugins(bin_dir: Path) -> dict[str, Path]:
    """protoc-gen-go and protoc-gen-go-grpc at the versions clients/go/go.mod pins."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    plugins = {}
    for name, package in GO_PLUGINS.items():
        binary = bin_dir / name
        command = [go, "build", "-trimpath", "-o", str(binary), package]
        result = subprocess.run(command, cwd=GO_MODULE, env=go_env(), capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"building {name} failed:\n{result.stdout}{result.stderr}")
        plugins[name] = binary
    return plugins


def generate_go(out: Path) -> list[Path]:
    """Write the Go package (``out/zenleadv1/*.go``, ``out`` standing for the module root)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        plugins = build_go_plugins(Path(tmp))
        protoc(
            [
                *(f"--plugin={name}={path}" for name, path in plugins.items()),
                f"--go_out={out}",
                f"--go_opt=module={GO_MODULE_PATH}",
                f"--go-grpc_out={out}",
                f"--go-grpc_opt=module={GO_MODULE_PATH}",
            ]
        )
    return sorted((out / "zenleadv1").glob("*.go"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", type=Path, metavar="DIR", help="only the Python stubs, into DIR")
    parser.add_argument("--go", type=Path, metavar="DIR", help="only the Go package, into DIR/zenleadv1")
    args = parser.parse_args(argv)
    if args.python is None and args.go is None:
        args.python, args.go = PYTHON_OUT, GO_MODULE
    written = []
    if args.python is not None:
        written += generate_python(args.python)
    if args.go is not None:
        written += generate_go(args.go)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
