"""The exec examples (examples/exec/*.yaml): accepted by the real apiserver, and each wrapped container's
command line, run here by the wrapper it names as the example's own ServiceAccount (so the example's
Role is what is tested), leads and runs its program once. Only the program is replaced (by the
worker), and ``$(JOB_NAME)`` by a Job stamped as the CronJob controller stamps its Jobs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.codecs import load_all_yaml
from lightkube.models.batch_v1 import JobSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job

from tests.cluster.election.harness import spawn
from tests.cluster.exec.harness import HERE, Ledger
from tests.cluster.pools.conftest import LeaderPolicy  # noqa: F401  (registers the kind for load_all_yaml)
from tests.support.crds import install_pool_crd
from tests.support.identity import service_account_kubeconfig
from zen_lead.exec.core import SCHEDULED_ANNOTATION
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples" / "exec").glob("*.yaml"))
WORKLOADS = {"Deployment", "CronJob"}


def pod_spec(obj: Any) -> Any:
    spec = obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob" else obj.spec.template.spec
    return spec


def load(example: Path) -> list[Any]:
    return load_all_yaml(example.read_text())


def test_there_are_examples() -> None:
    assert {p.stem for p in EXAMPLES} == {"vendor-singleton", "nightly-cron", "pool-member"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
async def test_each_example_is_accepted_and_its_command_runs_with_its_own_rbac(
    kube: Client,
    cluster: ClusterInfo,
    namespace: str,
    static_wrapper: Path,
    ledger: Ledger,
    tmp_path: Path,
    example: Path,
) -> None:
    install_pool_crd(kube)
    objects = load(example)
    for obj in objects:
        dry_run = obj.kind in WORKLOADS  # the workloads' pods would only be kwok's
        kube.apply(obj, namespace=namespace, field_manager="zen-lead-tests", dry_run=dry_run)
    job = "nightly-report-29420000"
    kube.create(
        Job(
            metadata=ObjectMeta(
                name=job, namespace=namespace, annotations={SCHEDULED_ANNOTATION: "2026-12-03T02:00:00Z"}
            ),
            spec=JobSpec(
                suspend=True,
                template=PodTemplateSpec(
                    spec=PodSpec(restartPolicy="Never", containers=[Container(name="j", image="j")])
                ),
            ),
        )
    )
    commands = [
        (obj, container) for obj in objects if obj.kind in WORKLOADS for container in pod_spec(obj).containers
    ]
    assert commands
    for obj, container in commands:
        command = [arg.replace("$(JOB_NAME)", job) for arg in container.command]
        split = command.index("--")
        front, flags = (
            ([str(static_wrapper)], command[1:split])
            if command[0] == "/zen/zen-lead-exec"
            else ([sys.executable, "-m", "zen_lead", "exec"], command[2:split])
        )
        assert command[0] == "/zen/zen-lead-exec" or command[:2] == ["zen-lead", "exec"], command
        account = pod_spec(obj).serviceAccountName
        kubeconfig = service_account_kubeconfig(
            kube, cluster, namespace=namespace, name=account, target=tmp_path / f"{account}.kubeconfig"
        )
        program = [sys.executable, str(HERE / "worker.py"), str(ledger.path), "--run-for", "0"]
        wrapper = await spawn(
            f"{example.stem}-{container.name}",
            [*front, *flags, "--", *program],
            logs=tmp_path,
            env={"KUBECONFIG": str(kubeconfig), "POD_NAME": "member-0", "POD_NAMESPACE": namespace},
        )
        ledger.wrappers.append(wrapper)
        assert await wrapper.exited(within=60) == 0, wrapper.log.read_text()
    assert len(ledger.runs()) == len(commands)
