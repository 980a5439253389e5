"""The static wrapper: its Go unit tests and vet pass, and the binary needs nothing from the image it
is copied into (no ELF interpreter, no dynamic section: no libc, any base image)."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

from tests.cluster.exec.conftest import SOURCE
from tests.support import golang

pytestmark = pytest.mark.cluster

PT_DYNAMIC, PT_INTERP = 2, 3


def program_header_types(binary: Path) -> set[int]:
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[4] == 2, "not a 64-bit ELF file"
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return {struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)}


def test_the_static_wrapper_links_nothing_dynamically(static_wrapper: Path) -> None:
    types = program_header_types(static_wrapper)
    assert PT_INTERP not in types, "the binary names an ELF interpreter: it needs the image's libc"
    assert PT_DYNAMIC not in types, "the binary has a dynamic section"


def test_the_program_header_reader_sees_a_dynamic_binary() -> None:
    """The check above can fail: this machine's Python is dynamically linked."""
    python = Path(os.path.realpath(sys.executable))
    assert PT_INTERP in program_header_types(python)


def test_the_static_wrappers_go_tests_and_vet_pass() -> None:
    golang.run_go(["vet", "./..."], cwd=SOURCE, what="go vet")
    golang.run_go(["test", "-count=1", "./..."], cwd=SOURCE, what="go test")
