"""The decisions of ``zen-lead exec``, pure: option rules, the stop bound, the child's environment,
exit codes and the record of completed schedule slots.

The stop bound. The leader's tenure ends at its deadline: ``renew_deadline`` after the START of its
last successful renewal. No other candidate may take over before ``lease_duration`` has passed since
it first saw that renewal, which it can only have seen after the renewal started. The wrapper sends
SIGTERM at the deadline and SIGKILL ``grace`` seconds later, so the child is dead at least
``lease_duration - renew_deadline - grace`` seconds before anyone else may lead. ``KILL_MARGIN``
keeps that gap above zero: it covers the wake-up of the timer and the kernel's delivery of SIGKILL.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping
from dataclasses import dataclass

from zen_lead.election.record import Timing

KILL_MARGIN = 0.5
"""Seconds kept between the SIGKILL of the child and the earliest takeover by another candidate."""

EXIT_USAGE = 2
"""Bad flags, or a Job that is not a CronJob's (the option cannot be honoured)."""
EXIT_TIMEOUT = 75
"""``--timeout`` passed before this wrapper led (EX_TEMPFAIL: try again later)."""

DONE_SLOTS_ANNOTATION = "zen-lead.io/exec-done-slots"
"""On the Lease: a JSON array of the most recent completed slots, oldest first."""
DONE_SLOTS_KEPT = 20
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
"""Set by the CronJob controller on every Job it creates: the schedule slot the Job is for."""
MAX_SLOT_LENGTH = 253

FORWARDED = (signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
"""Passed to the child's process group as they are; SIGTERM and SIGINT also stop the wrapper."""
STOPPING = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class ExecOptions:
    """What the command line asked for, before any rule was checked."""

    command: tuple[str, ...]
    lease: str | None = None
    pool: str | None = None
    identity: str | None = None
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    grace: float | None = None
    timeout: float | None = None
    slot: str | None = None
    slot_from_job: str | None = None


def max_grace(timing: Timing) -> float:
    """The longest SIGTERM-to-SIGKILL grace that still ends ``KILL_MARGIN`` before a takeover."""
    return timing.lease_duration - timing.renew_deadline - KILL_MARGIN


def option_problems(options: ExecOptions, *, pod_name: str | None) -> list[str]:
    """Every rule the options break, each naming the flag and the rule (empty when all hold)."""
    problems: list[str] = []
    if not options.command:
        problems.append(
            "no command given: write it after `--`, e.g. `zen-lead exec --lease NAME -- cmd args`"
        )
    if options.pool is not None:
        if options.lease is not None:
            problems.append(
                "--pool and --lease are mutually exclusive: --pool NAME campaigns on the Lease NAME"
            )
        if options.identity is not None:
            problems.append(
                "--pool and --identity are mutually exclusive: in a pool the identity is the pod's name"
            )
        if not pod_name:
            problems.append("--pool needs POD_NAME in the environment (the downward API's metadata.name)")
    elif options.lease is None:
        problems.append("--lease NAME (or --pool NAME) is required")
    if options.identity is not None and not options.identity:
        problems.append("--identity must not be empty")
    if options.slot is not None and options.slot_from_job is not None:
        problems.append("--slot and --slot-from-job are mutually exclusive")
    if options.slot is not None and not 0 < len(options.slot) <= MAX_SLOT_LENGTH:
        problems.append(f"--slot must be 1 to {MAX_SLOT_LENGTH} characters (got {len(options.slot)})")
    if options.timeout is not None and not options.timeout >= 0:
        problems.append(f"--timeout {options.timeout:g} must be zero or more seconds")
    try:
        timing: Timing | None = timing_of(options)
    except ValueError as error:
        problems.append(_as_flags(str(error)))
        timing = None
    if timing is not None and max_grace(timing) < 0:
        problems.append(
            f"--lease-duration ({timing.lease_duration:g}s) must exceed --renew-deadline "
            f"({timing.renew_deadline:g}s) by at least {KILL_MARGIN:g}s: the time the wrapper needs to "
            "kill its child before another candidate may take over"
        )
    elif timing is not None and options.grace is not None and not 0 <= options.grace <= max_grace(timing):
        problems.append(
            f"--grace {options.grace:g} must be between 0 and lease-duration - renew-deadline - "
            f"{KILL_MARGIN:g} = {max_grace(timing):g} seconds (the child must be dead before another "
            "candidate may take over)"
        )
    return problems


def _as_flags(problem: str) -> str:
    """The library's rule sentences speak of parameters; the command line's user knows flags."""
    for parameter, flag in (
        ("lease_duration", "--lease-duration"),
        ("renew_deadline", "--renew-deadline"),
        ("retry_period", "--retry-period"),
    ):
        problem = problem.replace(parameter, flag)
    return problem


def timing_of(options: ExecOptions) -> Timing:
    """The elector's timing (call only when ``option_problems`` found nothing)."""
    return Timing(
        lease_duration=options.lease_duration,
        renew_deadline=options.renew_deadline,
        retry_period=options.retry_period,
    )


def grace_of(options: ExecOptions, timing: Timing) -> float:
    return options.grace if options.grace is not None else max(0.0, max_grace(timing))


def kill_at(*, deadline: float, detected: float, grace: float) -> float:
    """When the child gets SIGKILL after a loss detected at ``detected`` (local monotonic): ``grace``
    after the detection, never later than ``grace`` after the tenure's deadline."""
    return min(detected, deadline) + grace


def child_env(
    base: Mapping[str, str], *, namespace: str, name: str, identity: str, token: int, slot: str | None
) -> dict[str, str]:
    """The environment of the child: the wrapper's own, plus who leads which Lease with which token."""
    env = dict(base)
    env.update(
        ZEN_LEAD_LEASE=f"{namespace}/{name}",
        ZEN_LEAD_IDENTITY=identity,
        ZEN_LEAD_TOKEN=str(token),
        ZEN_LEAD_TERM=str(token),
        ZEN_LEAD_FENCING_TOKEN=f"{namespace}/{name}#{token}",
    )
    if slot is not None:
        env["ZEN_LEAD_SLOT"] = slot
    else:
        env.pop("ZEN_LEAD_SLOT", None)
    return env


def exit_code(returncode: int) -> int:
    """The wrapper's exit code for a child's return code: killed by signal ``s`` -> ``128 + s``."""
    return 128 - returncode if returncode < 0 else returncode


def signalled_exit(signum: int) -> int:
    """The exit code of a wrapper stopped by a signal before its child ran (what a shell reports)."""
    return 128 + signum


def done_slots(annotation: str | None) -> tuple[str, ...]:
    """The slots the Lease records as done. An annotation that is not a JSON array of strings (someone
    edited it by hand) reads as empty: the slot runs again rather than being skipped on a guess."""
    if not annotation:
        return ()
    try:
        value = json.loads(annotation)
    except ValueError:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return ()
    return tuple(value)


def with_slot_done(annotation: str | None, slot: str) -> str:
    """The annotation after ``slot`` completed: appended once, the oldest dropped beyond the cap."""
    slots = [item for item in done_slots(annotation) if item != slot]
    slots.append(slot)
    return json.dumps(slots[-DONE_SLOTS_KEPT:], separators=(",", ":"))


def binding(nominee: str, *, identity: str, seen_at: float, now: float, lasts: float) -> bool:
    """Does a pools controller's nomination hold this wrapper back (defer, or hand over)? Only one of
    another pod, and only for ``lasts`` (the lease duration) after this wrapper first saw it: a nominee
    that has not taken the Lease by then is not there to take it."""
    return bool(nominee) and nominee != identity and now < seen_at + lasts
