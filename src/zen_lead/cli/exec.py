"""``zen-lead exec``: run a program only while this process leads (``zen_lead.exec``)."""

from __future__ import annotations

import sys
from typing import Any

import click

from zen_lead.cli.params import Duration, OneLineUsageError, _Command


@click.command(
    "exec",
    cls=_Command,
    context_settings={"allow_interspersed_args": False},
    epilog="Exit codes: the program's own (killed by signal N: 128+N); 0 when the slot was already done; "
    "75 when --timeout passed; 128+N when stopped by signal N before the program ran; 2 for bad flags.",
)
@click.option("--lease", metavar="NAME", default=None, help="The Lease to campaign on.")
@click.option(
    "--pool", metavar="NAME", default=None, help="Campaign on the pool's Lease as this pod ($POD_NAME)."
)
@click.option(
    "--namespace",
    metavar="NAME",
    default=None,
    help="The Lease's namespace.",
    show_default="$POD_NAMESPACE, the service account's, else the kubeconfig context's",
)
@click.option(
    "--identity",
    metavar="ID",
    default=None,
    show_default="$POD_NAME or hostname + random suffix",
    help="Holder identity.",
)
@click.option("--kubeconfig", envvar="KUBECONFIG", metavar="PATH", default=None, help="Path to a kubeconfig.")
@click.option("--lease-duration", type=Duration(), default="15s", show_default=True)
@click.option("--renew-deadline", type=Duration(), default="10s", show_default=True)
@click.option("--retry-period", type=Duration(), default="2s", show_default=True)
@click.option(
    "--grace",
    type=Duration(),
    default=None,
    show_default="lease-duration - renew-deadline - 0.5s",
    help="SIGTERM to SIGKILL when leadership is lost.",
)
@click.option(
    "--timeout",
    type=Duration(),
    default=None,
    show_default="wait forever",
    help="Give up (exit 75) when not leading within this long.",
)
@click.option("--slot", metavar="VALUE", default=None, help="Run once per slot: skip (exit 0) if done.")
@click.option(
    "--slot-from-job",
    metavar="JOB",
    default=None,
    help="The slot is this Job's CronJob schedule time (batch.kubernetes.io/cronjob-scheduled-timestamp).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def exec_command(
    namespace: str | None, kubeconfig: str | None, command: tuple[str, ...], **flags: Any
) -> None:
    """Run COMMAND only while this process leads a Lease: zen-lead exec --lease NAME -- COMMAND [ARG]...

    The program gets ZEN_LEAD_TOKEN (the fencing token), ZEN_LEAD_TERM, ZEN_LEAD_FENCING_TOKEN,
    ZEN_LEAD_LEASE, ZEN_LEAD_IDENTITY (and ZEN_LEAD_SLOT). When leadership is lost it gets SIGTERM,
    and SIGKILL --grace later, before anyone else may lead; then the wrapper campaigns again.
    """
    import asyncio
    import logging
    import os

    from zen_lead.exec import core, wrapper

    options = core.ExecOptions(command=command, **flags)
    problems = core.option_problems(options, pod_name=os.environ.get("POD_NAME"))
    if problems:
        raise OneLineUsageError("; ".join(problems))
    logging.basicConfig(level=logging.INFO, format="zen-lead exec: %(message)s", stream=sys.stderr)
    sys.exit(asyncio.run(wrapper.run(options, namespace=namespace, kubeconfig=kubeconfig)))
