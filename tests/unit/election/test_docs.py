"""Docs that cannot drift: every example the election guide names exists and compiles."""

from __future__ import annotations

import py_compile
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "election.md"
NAMED = sorted(set(re.findall(r"examples/([a-z_]+\.py)", GUIDE.read_text())))


def test_the_guide_names_an_example_for_each_seed_use_case() -> None:
    assert set(NAMED) >= {
        "controller_ha.py",
        "exclusive_cron.py",
        "fenced_write.py",
        "primary_secondary_http.py",
        "expensive_operation.py",
    }


@pytest.mark.parametrize("example", NAMED)
def test_example_compiles_and_takes_a_kubeconfig(example: str, tmp_path: Path) -> None:
    path = ROOT / "examples" / example
    py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)
    assert '"--kubeconfig"' in path.read_text()
