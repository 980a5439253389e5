"""The demo: local cluster, controller, a 3-replica workload behind an annotated Service, then failovers.

Each step prints what a platform engineer would look at: which pod the leader Service routes to, and how
long the move took — measured by the controller itself (``zen_lead_failover_latency_seconds``: from the
watch event that made the move necessary to the EndpointSlice write landing) and, from outside, from the
moment our write returned to the moment a client reading the leader EndpointSlice saw the new pod.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import click
from lightkube import Client
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import (
    Container,
    ContainerPort,
    PodSpec,
    PodTemplateSpec,
    ServicePort,
    ServiceSpec,
)
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from zen_lead.constants import ANNOTATION_ENABLED, LABEL_SERVICE_NAME
from zen_lead.kube.config import sync_client
from zen_lead.localcluster import LocalCluster
from zen_lead.localcluster.pods import observed_readiness, set_pod_readiness

NAMESPACE = "zen-lead-demo"
APP = "postgres"


def say(text: str, *, color: str | None = None) -> None:
    click.secho(text, fg=color)


def _workload(client: Client) -> None:
    labels = {"app": APP}
    client.apply(Namespace(metadata=ObjectMeta(name=NAMESPACE)), field_manager="zen-lead-demo")
    client.apply(
        Deployment(
            metadata=ObjectMeta(name=APP, namespace=NAMESPACE),
            spec=DeploymentSpec(
                replicas=3,
                selector=LabelSelector(matchLabels=labels),
                template=PodTemplateSpec(
                    metadata=ObjectMeta(labels=labels),
                    spec=PodSpec(
                        containers=[
                            Container(
                                name="db",
                                image="postgres:16",
                                ports=[ContainerPort(name="pg", containerPort=5432)],
                            )
                        ]
                    ),
                ),
            ),
        ),
        field_manager="zen-lead-demo",
        force=True,
    )
    client.apply(
        Service(
            metadata=ObjectMeta(name=APP, namespace=NAMESPACE, annotations={ANNOTATION_ENABLED: "true"}),
            spec=ServiceSpec(selector=labels, ports=[ServicePort(name="pg", port=5432, targetPort="pg")]),
        ),
        field_manager="zen-lead-demo",
        force=True,
    )
    for pod in client.list(Pod, namespace=NAMESPACE, labels={"app": APP}):  # kept from an earlier run
        readiness = observed_readiness(pod)
        if pod.status and pod.status.phase == "Running" and not readiness.ready:
            say(f"{readiness.name} was left NotReady (by an earlier run, or by you): making it Ready again")
            set_pod_readiness(client, readiness.name, namespace=NAMESPACE, ready=True)


def _leader(client: Client) -> tuple[str, str] | None:
    for slice_ in client.list(
        EndpointSlice, namespace=NAMESPACE, labels={LABEL_SERVICE_NAME: f"{APP}-leader"}
    ):
        for endpoint in slice_.endpoints or []:
            if endpoint.targetRef is not None:
                return str(endpoint.targetRef.name), str(endpoint.addresses[0])
    return None


def _wait(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.002)
    raise click.ClickException(f"timed out waiting for {what}")


class Controller:
    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.log = log
        self.addresses = log.with_name("controller.addresses.json")
        self.addresses.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "zen_lead",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            NAMESPACE,
            "--metrics-bind-address",
            "127.0.0.1:0",
            "--health-probe-bind-address",
            "127.0.0.1:0",
            "--node-zones",
            "--leader-elect-lease-duration=6s",
            "--leader-elect-renew-deadline=4s",
            "--leader-elect-retry-period=1s",
            "--addresses-file",
            str(self.addresses),
        ]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.port = int(_wait(self._port, 30, "the controller to start"))  # type: ignore[call-overload]

    def _port(self) -> int | None:
        if self.proc.poll() is not None:
            raise click.ClickException(f"the controller exited:\n{self.log.read_text()[-2000:]}")
        if not self.addresses.exists():
            return None
        return int(json.loads(self.addresses.read_text())["metrics"].rsplit(":", 1)[1])

    def latency(self) -> tuple[float, float]:
        """(sum, count) of the controller's failover latency histogram."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        total = sum(
            float(v) for v in re.findall(r"^zen_lead_failover_latency_seconds_sum\{.*\} (\S+)$", text, re.M)
        )
        count = sum(
            float(v) for v in re.findall(r"^zen_lead_failover_latency_seconds_count\{.*\} (\S+)$", text, re.M)
        )
        return total, count

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def _failover(client: Client, controller: Controller, *, action: str, act: Callable[[str], None]) -> None:
    old, _ = _leader(client) or ("", "")
    before = controller.latency()
    say(f"\n→ {action} the leader pod {old}", color="yellow")
    act(old)
    started = time.monotonic()
    new = _wait(lambda: (leader := _leader(client)) and leader[0] != old and leader, 30, "a new leader")
    seen = time.monotonic() - started
    after = _wait(
        lambda: (latency := controller.latency())[1] > before[1] and latency, 10, "the latency metric"
    )
    controller_side = (after[0] - before[0]) / (after[1] - before[1])  # type: ignore[index]
    say(f"  new leader {new[0]} ({new[1]})", color="green")  # type: ignore[index]
    say(
        f"  controller-side failover latency: {controller_side * 1000:.1f} ms "
        "(watch event -> EndpointSlice written); "
        f"visible to a client reading the API after {seen * 1000:.0f} ms"
    )


def run_demo(*, keep: bool, name: str = "demo") -> None:
    """The demo on local cluster ``name``: started if needed, and stopped afterwards only if it was started
    here and ``keep`` is false. The "try it yourself" commands are printed only when it stays up."""
    cluster = LocalCluster(name, nodes=3, zones=3)
    say("zen-lead demo: single-active routing on a real local Kubernetes control plane", color="cyan")
    info = cluster.up()
    client = sync_client(info.kubeconfig, field_manager="zen-lead-demo")
    log = Path(tempfile.gettempdir()) / f"zen-lead-{name}-controller.log"
    controller = Controller(info.kubeconfig, log)
    stays_up = keep or info.reused
    try:
        say(
            f"cluster ready ({info.kubernetes_version}, {len(info.nodes)} simulated nodes); "
            f"controller log: {log}"
        )
        _workload(client)
        say(f'\nService {NAMESPACE}/{APP} (3 replicas) is annotated {ANNOTATION_ENABLED}: "true"')
        leader = _wait(lambda: _leader(client), 60, "the first leader")
        say(f"{APP}-leader routes to exactly one pod: {leader[0]} ({leader[1]})", color="green")  # type: ignore[index]

        def not_ready(pod: str) -> None:
            readiness = set_pod_readiness(client, pod, namespace=NAMESPACE, ready=False)
            say(f"  kubectl get pods shows it READY {readiness.ready_containers}/{readiness.containers}")

        _failover(client, controller, action="marking NotReady", act=not_ready)
        _failover(
            client,
            controller,
            action="deleting",
            act=lambda pod: client.delete(Pod, pod, namespace=NAMESPACE),
        )
    finally:
        controller.stop()
        if not stays_up:
            cluster.down()
    if stays_up:
        _try_it_yourself(info.name, info.kubeconfig, reused=info.reused, pod=(_leader(client) or ("POD",))[0])
    else:
        say(f"\ncluster {name!r} stopped (zen-lead demo --keep leaves it running, to try it yourself)")


def _try_it_yourself(name: str, kubeconfig: Path, *, reused: bool, pod: str) -> None:
    """Commands that work now: the cluster stays up (the controller is yours to start)."""
    cluster = "" if name == "default" else f" --name {name}"
    why = "was already running" if reused else "stays up (--keep)"
    say(f"\nTry it yourself: cluster {name!r} {why}; stop it: zen-lead cluster down{cluster}", color="cyan")
    say(f"  export KUBECONFIG={kubeconfig}")
    say(f"  zen-lead run --namespace {NAMESPACE} --metrics-bind-address 0 --health-probe-bind-address 0 &")
    say(f"  kubectl -n {NAMESPACE} get endpointslices -l {LABEL_SERVICE_NAME}={APP}-leader -w &")
    say(f"  zen-lead cluster pod-ready {pod} -n {NAMESPACE}{cluster} --not-ready   # then --ready")
    say(f"  kubectl -n {NAMESPACE} get pods -l app={APP}")
