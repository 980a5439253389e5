"""Go programs of the test suite, built and run offline from the module cache the control-plane build
filled (client-go v0.36.3 and its dependencies): static (``CGO_ENABLED=0``), the local toolchain."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ENV = {"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}


def go() -> str:
    path = shutil.which("go") or "/usr/local/go/bin/go"
    assert Path(path).exists(), "no Go toolchain (the control-plane build needs one too)"
    return path


def run_go(args: list[str], *, cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    """``go <args>`` in ``cwd``; fails the test with Go's output when it fails."""
    result = subprocess.run(
        [go(), *args],
        cwd=cwd,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


def build(source: Path, out: Path, *, what: str, strip: bool = False) -> Path:
    """Build the main package in ``source`` to ``out``; a few seconds when Go's build cache is warm."""
    flags = ["-trimpath", *(["-ldflags=-s -w"] if strip else []), "-o", str(out), "."]
    run_go(["build", *flags], cwd=source, what=f"building {what}")
    return out
