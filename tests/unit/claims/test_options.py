"""The coordinator's flags: Go durations, the elector's timing rules, errors naming the flag."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from zen_lead.claims import (
    ClaimCoordinatorOptions,
    ClaimOptionError,
    add_claim_coordinator_arguments,
    claim_coordinator_click_options,
    claim_coordinator_options,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("15s", 15), ("1m30s", 90), ("500ms", 0.5), ("1.5h", 5400), ("7", 7)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration("--x", text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-3s", "0s", "15 s", "1d", "nan", "inf"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(ClaimOptionError, match="--x"):
        parse_duration("--x", text)


def test_defaults_are_the_seeds() -> None:
    parser = argparse.ArgumentParser()
    add_claim_coordinator_arguments(parser)
    options = claim_coordinator_options(parser.parse_args([]))
    assert options == ClaimCoordinatorOptions(enabled=False)
    assert (options.timing.lease_duration, options.timing.renew_deadline, options.timing.retry_period) == (
        15,
        10,
        2,
    )
    enabled = claim_coordinator_options(parser.parse_args(["--enable-claim-coordinator-leader-election"]))
    assert enabled.enabled


def test_argparse_refuses_broken_timing_with_the_rule() -> None:
    parser = argparse.ArgumentParser()
    add_claim_coordinator_arguments(parser)
    args = parser.parse_args(["--claim-coordinator-renew-deadline=20s"])
    with pytest.raises(
        ClaimOptionError, match=r"--claim-coordinator-lease-duration \(15s\) must be greater than"
    ):
        claim_coordinator_options(args)
    with pytest.raises(SystemExit) as exited:
        claim_coordinator_options(args, parser)
    assert exited.value.code == 2


def test_click_helper() -> None:
    seen: list[ClaimCoordinatorOptions] = []

    @click.command()
    @claim_coordinator_click_options
    def command(claim_coordinator: ClaimCoordinatorOptions) -> None:
        seen.append(claim_coordinator)

    ok = CliRunner().invoke(
        command, ["--enable-claim-coordinator-leader-election", "--claim-coordinator-retry-period=1s"]
    )
    assert ok.exit_code == 0
    assert seen[0].enabled
    assert seen[0].timing.retry_period == 1
    bad = CliRunner().invoke(command, ["--claim-coordinator-retry-period=9s"])
    assert bad.exit_code == 2
    assert "--claim-coordinator-renew-deadline (10s) must be greater than" in bad.output
    fractional = CliRunner().invoke(command, ["--claim-coordinator-lease-duration=15.5s"])
    assert fractional.exit_code == 2
    assert "whole number of seconds" in fractional.output


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "claims" / "coordinator.py"


@pytest.mark.parametrize(
    ("flag", "rule"),
    [
        ("--claim-coordinator-lease-duration=abc", "--claim-coordinator-lease-duration='abc' is not a"),
        ("--claim-coordinator-retry-period=0s", "--claim-coordinator-retry-period='0s': the duration must"),
        ("--claim-coordinator-renew-deadline=15s", "(15s) must be greater than --claim-coordinator-renew"),
    ],
)
def test_the_example_refuses_bad_flags_before_it_touches_the_cluster(flag: str, rule: str) -> None:
    argv = [sys.executable, str(EXAMPLE), "--namespace=ns", "--identity=a", "--kubeconfig=/nonexistent", flag]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert rule in done.stderr
    assert "Traceback" not in done.stderr
