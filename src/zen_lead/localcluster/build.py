"""Build the control-plane binaries from the Go modules under ``tools/`` (once, then cached).

The cache key is a hash of the module's files and of ``go version``: a warm start finds the binary and
never runs the Go toolchain; a change of version builds anew. Builds take minutes on a cold machine, so
progress (packages compiled, time elapsed) is printed while they run. Concurrent callers serialise on a
file lock, and the binary is renamed into place only when complete.

The same cache holds tools the test suite needs, built with ``go install <package>@<version>`` (never a
downloaded release binary): Helm and promtool (``ensure_go_tool``), keyed by version and build flags.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zen_lead.localcluster.errors import ClusterError
from zen_lead.localcluster.paths import cache_root, tools_dir

Progress = Callable[[str], None]

KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


@dataclass(frozen=True, slots=True)
class Binaries:
    kube: Path
    kwok: Path
    kwok_stages: Path
    kubernetes_version: str


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def go_binary() -> str:
    go = shutil.which("go")
    if go is None:
        raise ClusterError(
            "Go is not installed or not on PATH: the local cluster builds kube-apiserver, etcd and kwok from "
            "Go modules. Install Go >= 1.26 (https://go.dev/doc/install) and run again."
        )
    return go


def kubernetes_version(module: Path) -> str:
    match = re.search(r"^\s*k8s\.io/kubernetes\s+(v\S+)", (module / "go.mod").read_text(), re.MULTILINE)
    if match is None:
        raise ClusterError(f"{module}/go.mod does not require k8s.io/kubernetes")
    return match.group(1)


def module_key(module: Path, go: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(module.glob("*")):
        if path.suffix in {".go", ".mod", ".sum"}:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update(subprocess.run([go, "version"], capture_output=True, check=True).stdout)
    return digest.hexdigest()[:16]


def ensure_binaries(progress: Progress = stderr_progress) -> Binaries:
    go = go_binary()
    kube_module = tools_dir() / "kube"
    kwok_module = tools_dir() / "kwok"
    for module in (kube_module, kwok_module):
        if not (module / "go.mod").is_file():
            raise ClusterError(
                f"Go module not found at {module}: run from a source checkout or set ZEN_LEAD_TOOLS_DIR"
            )
    version = kubernetes_version(kube_module)
    minor = version.split(".")[1]
    ldflags = " ".join(
        [
            "-s -w",
            f"-X k8s.io/component-base/version.gitVersion={version}",
            "-X k8s.io/component-base/version.gitMajor=1",
            f"-X k8s.io/component-base/version.gitMinor={minor}",
            "-X k8s.io/component-base/version.gitTreeState=clean",
        ]
    )
    kube = _ensure(go=go, module=kube_module, name="kube", package=".", ldflags=ldflags, progress=progress)
    kwok = _ensure(
        go=go,
        module=kwok_module,
        name="kwok",
        package="sigs.k8s.io/kwok/cmd/kwok",
        ldflags="-s -w",
        progress=progress,
    )
    stages = kwok.with_name(kwok.name + "-stages.yaml")
    if not stages.is_file():
        _write_kwok_stages(go=go, module=kwok_module, target=stages)
    return Binaries(kube=kube, kwok=kwok, kwok_stages=stages, kubernetes_version=version)


@dataclass(frozen=True, slots=True)
class GoTool:
    """A command built with ``go install <package>@<version>``, cached as ``bin/<name>-<version>-<flags>``
    (``flags`` a hash of the ldflags and build tags, so a change of build settings never reuses a stale
    binary)."""

    name: str
    package: str
    version: str
    ldflags: str = "-s -w"
    tags: str = ""


# The ldflags of Helm's Makefile: its version, and the Kubernetes version it assumes without a cluster
# (`helm template`, `helm lint`) — that of its client-go (v0.37 -> 1.37); the built-in default is 1.20.
HELM_VERSION = "v3.22.0"
HELM = GoTool(
    name="helm",
    package="helm.sh/helm/v3/cmd/helm",
    version=HELM_VERSION,
    ldflags=" ".join(
        [
            f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
            *(
                f"-X helm.sh/helm/v3/pkg/{package}.k8sVersion{part}={value}"
                for package in ("lint/rules", "chartutil")
                for part, value in (("Major", "1"), ("Minor", "37"))
            ),
        ]
    ),
)
# Prometheus's own build tag ``remove_all_sd`` leaves out every service-discovery plugin (the cloud SDKs
# are most of the build); ``promtool check rules`` needs none of them.
PROMTOOL = GoTool(
    name="promtool",
    package="github.com/prometheus/prometheus/cmd/promtool",
    version="v0.316.0",
    tags="remove_all_sd",
)
#: Tools the test suite needs besides the control plane (the chart's and the alert rules' checks).
TEST_TOOLS = (HELM, PROMTOOL)


def ensure_go_tool(tool: GoTool, progress: Progress = stderr_progress) -> Path:
    """The path of ``tool``, built from its Go module on first use (minutes cold; a file check when warm)."""
    go = go_binary()

    def build(output: Path) -> None:
        progress(f"building {tool.name} {tool.version} from {tool.package} (first run only; takes minutes)")
        gobin = output.with_name(output.name + ".d")
        shutil.rmtree(gobin, ignore_errors=True)
        command = [
            go,
            "install",
            "-v",
            "-trimpath",
            "-ldflags",
            tool.ldflags,
            *(["-tags", tool.tags] if tool.tags else []),
            f"{tool.package}@{tool.version}",
        ]
        elapsed = _run_go(
            command=command,
            cwd=gobin.parent,
            extra_env={"GOBIN": str(gobin)},
            name=tool.name,
            progress=progress,
        )
        (gobin / tool.package.rsplit("/", 1)[-1]).rename(output)
        gobin.rmdir()
        progress(f"  {tool.name}: built in {elapsed:.0f}s ({output.stat().st_size >> 20} MiB)")

    flags = hashlib.sha256(f"{tool.ldflags}|{tool.tags}".encode()).hexdigest()[:8]
    return _cached(name=tool.name, key=f"{tool.version}-{flags}", build=build)


def _ensure(*, go: str, module: Path, name: str, package: str, ldflags: str, progress: Progress) -> Path:
    def build(output: Path) -> None:
        progress(f"building {name} from {module} (first run only; this takes minutes on a cold machine)")
        _go_build(
            go=go,
            module=module,
            package=package,
            ldflags=ldflags,
            output=output,
            name=name,
            progress=progress,
        )

    return _cached(name=name, key=module_key(module, go), build=build)


def _cached(*, name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The cached binary ``bin/<name>-<key>``; ``build(partial_path)`` makes it once, under a file lock."""
    bin_dir = cache_root() / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / f"{name}-{key}"
    if target.is_file():
        return target
    with open(bin_dir / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():  # built by a concurrent caller while we waited
            return target
        partial = target.with_name(target.name + ".partial")
        build(partial)
        partial.rename(target)
    return target


def _go_build(
    *, go: str, module: Path, package: str, ldflags: str, output: Path, name: str, progress: Progress
) -> None:
    command = [go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(output), package]
    elapsed = _run_go(command=command, cwd=module, extra_env={}, name=name, progress=progress)
    progress(f"  {name}: built in {elapsed:.0f}s ({output.stat().st_size >> 20} MiB)")


def _run_go(
    *, command: list[str], cwd: Path, extra_env: dict[str, str], name: str, progress: Progress
) -> float:
    """Run ``go build -v`` or ``go install -v`` (one stderr line per package), reporting progress every 15 s.

    Returns the seconds it took; raises ClusterError with the last lines of output when Go fails.
    """
    env = {
        **os.environ,
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-buildvcs=false",
        **extra_env,
    }
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    compiled = 0
    tail: list[str] = []
    done = threading.Event()

    def report() -> None:
        while not done.wait(15):
            progress(f"  {name}: {compiled} packages compiled, {time.monotonic() - started:.0f}s elapsed")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    for line in proc.stderr:
        compiled += 1
        tail = [*tail[-39:], line.rstrip()]
    code = proc.wait()
    done.set()
    if code != 0:
        raise ClusterError(f"go build of {name} failed (exit {code}):\n" + "\n".join(tail))
    return time.monotonic() - started


def _write_kwok_stages(*, go: str, module: Path, target: Path) -> None:
    listing = subprocess.run(
        [go, "mod", "download", "-json", "sigs.k8s.io/kwok"],
        cwd=module,
        capture_output=True,
        text=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
    )
    if listing.returncode != 0:
        raise ClusterError(f"cannot locate the kwok module: {listing.stderr.strip()}")
    source = Path(json.loads(listing.stdout)["Dir"])
    documents = [(source / stage).read_text().strip() for stage in KWOK_STAGES]
    partial = target.with_suffix(".partial")
    partial.write_text("\n---\n".join(documents) + "\n")
    partial.rename(target)
