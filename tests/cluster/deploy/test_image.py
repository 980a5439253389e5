"""The container image, as far as it can be checked without a Docker engine.

The builder stage's RUN command is executed here as written, in a copy of the build context that holds
only what ``.dockerignore`` lets through, with ``/dist`` and ``/opt/zen-lead`` moved under a temporary
directory: the wheel builds, installs with the pinned dependencies into a fresh virtualenv, and
``zen-lead`` runs from it. The final stage is checked for what it must (and must not) contain.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cluster.deploy.conftest import CHART, ROOT, container_args, rendered

pytestmark = pytest.mark.cluster

CONTEXT_PATHS = ("/dist", "/opt/zen-lead")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def dockerfile_stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = args.partition("=")
            arguments[name] = default
        elif keyword == "FROM":
            base, _, name = args.partition(" AS ")
            for key, value in arguments.items():
                base = base.replace("${" + key + "}", value)
            stages.append(Stage(base=base.strip(), name=name.strip() or None))
        else:
            stages[-1].instructions.append((keyword, " ".join(args.split())))
    return stages


def stage(name: str) -> Stage:
    return next(s for s in dockerfile_stages() if s.name == name)


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    allowed = True
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            allowed = negate
    return allowed


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the builder stage; return the virtualenv it made (the image's /opt/zen-lead)."""
    builder = stage("builder")
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    context.mkdir()
    for copy in builder.all("COPY"):
        *sources, destination = copy.split()
        for source in sources:
            assert dockerignore_allows(source), (
                f".dockerignore excludes {source}, which the Dockerfile copies"
            )
            target = context / destination / source if destination.endswith("/") else context / destination
            if (ROOT / source).is_dir():
                shutil.copytree(
                    ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)
    # `python` is the image's interpreter: here, the one this virtualenv was made from.
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    [command] = builder.all("RUN")
    for path in CONTEXT_PATHS:
        command = command.replace(path, f"{root}{path}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=context, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "opt" / "zen-lead"


def test_builder_stage_installs_the_wheel_with_pinned_dependencies(built: Path) -> None:
    assert not (built / "bin" / "pip").exists(), "pip is left in the image"
    assert not list(built.glob("lib/python3*/site-packages/setuptools")), "setuptools is left in the image"
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    site = next((built / "lib").glob("python3*/site-packages"))
    installed = {}
    for dist in site.glob("*.dist-info"):
        name, _, version = dist.name.removesuffix(".dist-info").rpartition("-")
        installed[name.lower().replace("_", "-")] = version
    assert installed.pop("zen-lead") == "0.1.0"
    assert installed, "no dependencies installed"
    unpinned = {name: version for name, version in installed.items() if pins.get(name) != version}
    assert not unpinned, f"installed versions that constraints.txt does not pin: {unpinned}"
    assert "pytest" not in installed  # runtime dependencies only
    assert "mypy" not in installed


def test_zen_lead_runs_from_the_image_virtualenv(built: Path, helm: Path) -> None:
    zen_lead = built / "bin" / "zen-lead"
    version = subprocess.run([zen_lead, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "zen-lead, version 0.1.0"
    help_text = subprocess.run([zen_lead, "run", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--leader-elect" in help_text
    # Every flag the chart passes, in every mode, is one `zen-lead run` knows.
    flags: set[str] = set()
    api = {"api": {"enabled": True, "tls": {"secretName": "cert"}}}
    for sets in ({}, {"clusterWide": True, "nodeZones": True}, {"leaderElection": {"enabled": False}}, api):
        flags |= {a.partition("=")[0] for a in container_args(rendered(helm, namespace="ns", **sets))}
    unknown = {
        flag for flag in flags if not re.search(rf"(^|[\s/]){re.escape(flag)}\b", help_text, re.MULTILINE)
    }
    assert not unknown, f"the chart passes flags `zen-lead run` does not have: {unknown}"
    # the image carries the API's stack (grpcio): api.enabled needs no other image
    python = built / "bin" / "python"
    subprocess.run([python, "-c", "import zen_lead.api.server, zen_lead.api.grpc_server"], check=True)


def test_the_exec_builder_stage_builds_the_static_wrapper(tmp_path: Path) -> None:
    """The stage's COPY and RUN, executed here (Go from this machine, modules from its cache)."""
    builder = stage("exec-builder")
    assert builder.base == "golang:1.26"
    [copy] = builder.all("COPY")
    source, destination = copy.split()
    assert (source, destination) == ("cmd/zen-lead-exec", "./")
    assert dockerignore_allows(source)
    assert dockerignore_allows(f"{source}/main.go")
    context = tmp_path / "src"
    shutil.copytree(ROOT / source, context)
    [command] = builder.all("RUN")
    command = command.replace("/dist", str(tmp_path / "dist"))
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=context, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "--lease" in result.stdout + result.stderr  # its --help ran


def test_final_stage_is_slim_non_root_and_runs_the_controller() -> None:
    stages = dockerfile_stages()
    assert [s.name for s in stages] == ["builder", "exec-builder", None]
    final = stages[-1]
    assert final.base == "python:3.11-slim"
    assert final.all("COPY") == [
        "--from=builder /opt/zen-lead /opt/zen-lead",
        "--from=exec-builder /dist/zen-lead-exec /usr/local/bin/zen-lead-exec",
    ]
    for run in final.all("RUN"):
        assert not re.search(r"\b(pip|apt-get|apk|gcc|make)\b", run), (
            f"build tooling in the final stage: {run}"
        )
    [user] = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "USER must be numeric: runAsNonRoot can verify only a numeric uid"
    assert int(uid) != 0
    values = (CHART / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values
    assert f"runAsGroup: {gid}" in values
    assert final.all("ENTRYPOINT") == ['["zen-lead", "run"]']
    assert any("PYTHONDONTWRITEBYTECODE=1" in env for env in final.all("ENV"))  # read-only root filesystem


def test_dockerignore_keeps_the_context_small() -> None:
    for path in ("pyproject.toml", "constraints.txt", "README.md", "src/zen_lead/cli/__init__.py"):
        assert dockerignore_allows(path), path
    for path in (".venv/bin/python", ".git/config", "tests/conftest.py", "charts/zen-lead/Chart.yaml"):
        assert not dockerignore_allows(path), path
