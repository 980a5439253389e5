"""Once per schedule slot, keyed on the Job's scheduled time that a real CronJob controller stamped."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.batch_v1 import CronJobSpec, JobSpec, JobTemplateSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace

from tests.cluster.exec.harness import Ledger, start_wrapper
from tests.support.wait import eventually
from zen_lead.exec.core import DONE_SLOTS_ANNOTATION, SCHEDULED_ANNOTATION
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster


def pod_template() -> PodTemplateSpec:
    return PodTemplateSpec(
        spec=PodSpec(restartPolicy="Never", containers=[Container(name="job", image="example.invalid/job")])
    )


@pytest.fixture(scope="module")
def cron(kube: Client) -> Iterator[tuple[str, str, str]]:
    """(namespace, Job, slot): the first Job a real CronJob made (the controller runs every minute, so
    this waits up to a minute, once for the module), then the CronJob is suspended."""
    namespace = f"t-exec-cron-{secrets.token_hex(3)}"
    kube.create(Namespace(metadata=ObjectMeta(name=namespace, labels={"zen-lead.io/test": "true"})))
    try:
        kube.create(
            CronJob(
                metadata=ObjectMeta(name="report", namespace=namespace),
                spec=CronJobSpec(
                    schedule="* * * * *",
                    concurrencyPolicy="Forbid",
                    jobTemplate=JobTemplateSpec(spec=JobSpec(template=pod_template())),
                ),
            )
        )
        job = eventually(
            lambda: next(iter(kube.list(Job, namespace=namespace)), None),
            timeout=90,
            what="the CronJob's Job",
        )
        kube.patch(CronJob, "report", {"spec": {"suspend": True}}, namespace=namespace)
        assert job.metadata is not None
        assert job.metadata.name is not None
        slot = (job.metadata.annotations or {})[SCHEDULED_ANNOTATION]
        kube.create(
            Job(
                metadata=ObjectMeta(name="by-hand", namespace=namespace),
                spec=JobSpec(suspend=True, template=pod_template()),
            )
        )
        yield namespace, job.metadata.name, slot
    finally:
        kube.delete(Namespace, namespace)


async def test_a_slot_runs_once_however_many_wrappers_and_a_failed_run_runs_again(
    impl: Path | None,
    cluster: ClusterInfo,
    cron: tuple[str, str, str],
    kube: Client,
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    namespace, job, slot = cron
    lease = f"report-{'python' if impl is None else 'static'}"
    common = {"cluster": cluster, "namespace": namespace, "ledger": ledger, "logs": tmp_path, "lease": lease}
    from_job = ("--slot-from-job", job)

    # two Jobs' pods of one slot at once (a replacement pod while the first still runs): one run
    twins = [
        await start_wrapper(impl, f"twin{i}", flags=from_job, worker=("--run-for", "1"), **common)
        for i in range(2)
    ]
    assert await asyncio.gather(*(t.exited(within=60) for t in twins)) == [0, 0]
    runs = ledger.runs()
    assert len(runs) == 1, [r.start for r in runs]
    assert runs[0].start["slot"] == slot
    # and later: nothing
    again = await start_wrapper(impl, "again", flags=from_job, worker=("--run-for", "0"), **common)
    assert await again.exited(within=60) == 0
    assert len(ledger.runs()) == 1
    assert "already done" in again.log.read_text()

    # a run that fails marks nothing: the retry runs; then the slot is done
    other = ("--slot", "nightly-2026-12-03")
    failed = await start_wrapper(
        impl, "fails", flags=other, worker=("--run-for", "0", "--exit", "1"), **common
    )
    assert await failed.exited(within=60) == 1
    retry = await start_wrapper(impl, "retry", flags=other, worker=("--run-for", "0"), **common)
    assert await retry.exited(within=60) == 0
    assert [r.start["slot"] for r in ledger.runs()] == [slot, "nightly-2026-12-03", "nightly-2026-12-03"]
    done = kube.get(Lease, lease, namespace=namespace).metadata.annotations[DONE_SLOTS_ANNOTATION]
    assert json.loads(done) == [slot, "nightly-2026-12-03"]

    # a Job no CronJob made has no slot: refused, naming the annotation
    by_hand = await start_wrapper(impl, "hand", flags=("--slot-from-job", "by-hand"), **common)
    assert await by_hand.exited(within=60) == 2
    assert SCHEDULED_ANNOTATION in by_hand.log.read_text()
    assert len(ledger.runs()) == 3
