"""The command line without a cluster: the help's one style, durations, and ``cluster env`` refusing a
cluster that is not there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from zen_lead.cli import Duration


def zen_lead(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zen_lead", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def option_entries(help_text: str) -> dict[str, str]:
    """Each option of a help page (its first name) and its whole entry, wrapped lines joined."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.split("Options:", 1)[1].splitlines():
        match = re.match(r"^  (-\w, )?(--[\w-]+)", line)
        if match:
            current = match.group(2)
            entries[current] = line.strip()
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
    return entries


def test_every_run_flag_shows_its_default_the_same_way() -> None:
    entries = option_entries(zen_lead("run", "--help").stdout)
    assert {"--leader-elect-lease-duration", "--kube-api-qps", "--kube-api-burst", "--workers"} <= set(
        entries
    )
    switches = {"--help", "--all-namespaces"}  # a plain switch is off unless given
    for flag, entry in entries.items():
        assert "Default:" not in entry, entry  # no default said in prose
        if flag not in switches:
            assert "[default: " in entry, entry
    assert "[default: 15s]" in entries["--leader-elect-lease-duration"]
    assert "[default: 500.0; x>=0]" in entries["--kube-api-qps"]
    assert "--lease-duration" in entries["--leader-elect-lease-duration"]  # the older name, as an alias
    assert "--qps" in entries["--kube-api-qps"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("15", 15.0), ("2.5", 2.5), (3, 3.0)],
)
def test_durations_take_go_syntax_or_bare_seconds(text: str | int, seconds: float) -> None:
    assert Duration().convert(text, None, None) == seconds


@pytest.mark.parametrize("text", ["soon", "15 s", "1d", "inf", "nan", "", "s"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a duration"):
        Duration().convert(text, None, None)


def test_env_of_a_cluster_that_does_not_exist_fails(tmp_path: Path) -> None:
    result = zen_lead("cluster", "env", "--name", "nosuch", env={"ZEN_LEAD_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: cluster 'nosuch' does not exist (start it: zen-lead cluster up --name nosuch)"
    ]


def test_env_of_a_stopped_cluster_fails(tmp_path: Path) -> None:
    state = tmp_path / "clusters" / "stopped"
    state.mkdir(parents=True)
    (state / "layout.json").write_text("{}")  # what `cluster down` leaves behind
    (state / "status.json").write_text(json.dumps({"phase": "stopped", "supervisor_pid": None}))
    result = zen_lead("cluster", "env", "--name", "stopped", env={"ZEN_LEAD_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: cluster 'stopped' is not running (start it: zen-lead cluster up --name stopped)"
    ]
