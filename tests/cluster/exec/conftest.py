"""Fixtures of the exec cluster tests: each test runs against both wrappers, the Python command and
the static binary built from ``cmd/zen-lead-exec`` (offline, from the module cache the control-plane
build filled), which share the Lease format and this suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.exec.harness import Ledger
from tests.support import golang

SOURCE = Path(__file__).parents[3] / "cmd" / "zen-lead-exec"


@pytest.fixture(scope="session")
def static_wrapper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zen-lead-exec") / "zen-lead-exec"
    return golang.build(SOURCE, out, what="the static wrapper", strip=True)


@pytest.fixture(params=["python", "static"])
def impl(request: pytest.FixtureRequest) -> Path | None:
    """None: ``python -m zen_lead exec``; else the static binary's path."""
    if request.param == "python":
        return None
    path: Path = request.getfixturevalue("static_wrapper")
    return path


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    """The workers' ledger; at the end every worker and wrapper started with it is killed."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    yield ledger
    await ledger.close()


# the election tests' async client (the independent witness) and log directory
from tests.cluster.election.conftest import aclient, logs  # noqa: E402, F401
