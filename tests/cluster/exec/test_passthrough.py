"""What passes through the wrapper: the program's exit code, signals, and the wrapper's own exits."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from lightkube import AsyncClient

from tests.cluster.election.harness import LeaseWatch, until
from tests.cluster.exec.harness import Ledger, start_wrapper
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


async def test_exit_codes_and_signals_pass_through_and_every_exit_releases(
    impl: Path | None, cluster: ClusterInfo, namespace: str, aclient: AsyncClient, ledger: Ledger, logs: Path
) -> None:
    common = {"cluster": cluster, "namespace": namespace, "ledger": ledger, "logs": logs}
    async with LeaseWatch(aclient, namespace, "exec") as watch:
        # the program's own exit code, and the Lease released at once (not left to expire)
        done = await start_wrapper(impl, "exit3", worker=("--run-for", "0.2", "--exit", "3"), **common)
        assert await done.exited(within=60) == 3
        run = ledger.runs()[0]
        await until(
            lambda: any(c.holder == "" and c.transitions == run.token for c in watch.changes),
            within=10,
            what="the release after the program exited",
        )

        # signals forwarded (SIGUSR1, SIGHUP) and SIGTERM's exit code is the program's
        held = await start_wrapper(impl, "holder", worker=("--term-exit", "7"), **common)
        run = (await ledger.wait_runs(2, within=60))[1]
        held.signal(signal.SIGUSR1)
        await until(lambda: "SIGUSR1" in ledger.runs()[1].signals, within=10, what="SIGUSR1 forwarded")
        held.signal(signal.SIGHUP)
        await until(lambda: "SIGHUP" in ledger.runs()[1].signals, within=10, what="SIGHUP forwarded")

        # a standby stopped before its program ran: 128 + 15, and no program started
        standby = await start_wrapper(impl, "standby", **common)
        await until(
            lambda: (
                "standby" in standby.log.read_text(errors="replace") or standby.process.returncode is not None
            ),
            within=30,
            what="the standby to start campaigning",
        )
        standby.signal(signal.SIGTERM)
        assert await standby.exited(within=30) == 143

        # --timeout while the Lease stays held: 75, no program started
        late = await start_wrapper(impl, "late", flags=("--timeout", "1"), **common)
        assert await late.exited(within=60) == 75

        held.signal(signal.SIGTERM)
        assert await held.exited(within=30) == 7
        assert ledger.runs()[1].signals == ["SIGUSR1", "SIGHUP", "SIGTERM"]

        # a program that does not exist: 127, as a shell says
        missing = await start_wrapper(impl, "missing", command=("/nonexistent/program",), **common)
        assert await missing.exited(within=60) == 127
    assert [r.identity for r in ledger.runs()] == ["exit3", "holder"], "only two programs may have run"
    assert run.identity == "holder"


async def test_a_bad_flag_is_refused_with_exit_2_naming_the_flag_and_the_rule(
    impl: Path | None, cluster: ClusterInfo, namespace: str, ledger: Ledger, logs: Path
) -> None:
    wrapper = await start_wrapper(
        impl, "bad", cluster=cluster, namespace=namespace, ledger=ledger, logs=logs, flags=("--grace", "5")
    )
    assert await wrapper.exited(within=60) == 2
    text = wrapper.log.read_text()
    assert "--grace 5 must be between 0 and lease-duration - renew-deadline - 0.5 = 0.5 seconds" in text, text
    assert ledger.runs() == []
