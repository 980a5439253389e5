"""The command lines of the control-plane components: a pure function of the cluster's layout.

Flags chosen for a single-machine test cluster (see docs/local-cluster.md):
etcd on loopback without fsync; kube-apiserver bound to 127.0.0.1 with RBAC, a token file for the
admin and component credentials, service-account keys and dual-stack Service ranges; the controller
manager and scheduler without leader election (one of each) and without a serving port; kwok managing
only nodes annotated ``kwok.x-k8s.io/node=fake`` and renewing their Leases.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SERVICE_CIDRS = "10.96.0.0/16,fd00:10:96::/112"
POD_CIDR = "10.244.0.1/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything a component's command line depends on."""

    state: Path
    kube: Path
    kwok: Path
    kwok_stages: Path
    etcd_client_port: int
    etcd_peer_port: int
    apiserver_port: int
    kwok_port: int

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    def component_kubeconfig(self, component: str) -> Path:
        return self.state / f"{component}.kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    argv: tuple[str, ...]


def _extra(name: str) -> tuple[str, ...]:
    """Extra flags from ``ZEN_LEAD_<NAME>_FLAGS`` (benchmarks tune client QPS this way)."""
    value = os.environ.get(f"ZEN_LEAD_{name.upper().replace('-', '_')}_FLAGS", "")
    return tuple(value.split())


def components(layout: Layout) -> list[Component]:
    kube = str(layout.kube)
    etcd = Component(
        "etcd",
        (
            kube,
            "etcd",
            "--name=zen-lead-local",
            f"--data-dir={layout.state / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{layout.etcd_client_port}",
            f"--advertise-client-urls=http://127.0.0.1:{layout.etcd_client_port}",
            f"--listen-peer-urls=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--initial-cluster=zen-lead-local=http://127.0.0.1:{layout.etcd_peer_port}",
            "--unsafe-no-fsync",
            "--quota-backend-bytes=8589934592",
            "--log-level=warn",
            *_extra("etcd"),
        ),
    )
    apiserver = Component(
        "kube-apiserver",
        (
            kube,
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{layout.etcd_client_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={layout.apiserver_port}",
            f"--cert-dir={layout.pki / 'serving'}",
            f"--token-auth-file={layout.pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={layout.pki / 'sa.pub'}",
            f"--service-account-signing-key-file={layout.pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDRS}",
            "--enable-priority-and-fairness=true",
            # PodTemplates (used by nothing here) are watched straight from etcd, without the watch
            # cache: a test that compacts etcd then gets a real 410 Gone for an old resourceVersion at
            # once. Served from the cache, a young cluster still answers a watch from resourceVersion 1.
            "--watch-cache-sizes=podtemplates#0",
            "--profiling=false",
            "--v=1",
            *_extra("kube-apiserver"),
        ),
    )
    controller_manager = Component(
        "kube-controller-manager",
        (
            kube,
            "kube-controller-manager",
            f"--kubeconfig={layout.component_kubeconfig('kube-controller-manager')}",
            "--leader-elect=false",
            "--secure-port=0",
            f"--service-account-private-key-file={layout.pki / 'sa.key'}",
            f"--root-ca-file={layout.pki / 'serving' / 'apiserver.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDRS}",
            "--allocate-node-cidrs=false",
            # A node whose heartbeat stops is declared unreachable (and its pods NotReady) after 20 s
            # instead of 50 s: tests of node death stay short. kwok renews node Leases every ~10 s.
            "--node-monitor-grace-period=20s",
            "--node-monitor-period=2s",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
            "--v=1",
            *_extra("kube-controller-manager"),
        ),
    )
    scheduler = Component(
        "kube-scheduler",
        (
            kube,
            "kube-scheduler",
            f"--kubeconfig={layout.component_kubeconfig('kube-scheduler')}",
            f"--authentication-kubeconfig={layout.component_kubeconfig('kube-scheduler')}",
            f"--authorization-kubeconfig={layout.component_kubeconfig('kube-scheduler')}",
            "--leader-elect=false",
            "--secure-port=0",
            "--v=1",
            *_extra("kube-scheduler"),
        ),
    )
    kwok = kwok_component(layout)
    return [etcd, apiserver, controller_manager, scheduler, kwok]


def kwok_component(
    layout: Layout, *, node_selector: str = "fake", port: int | None = None, cidr: str = POD_CIDR
) -> Component:
    """kwok managing the nodes annotated ``kwok.x-k8s.io/node=<node_selector>``.

    The cluster runs one for ``fake``; a test can run another for a node of its own and kill it to make
    that node's heartbeat stop, as when a kubelet dies (with its own ``cidr`` so pod IPs stay unique)."""
    return Component(
        "kwok",
        (
            str(layout.kwok),
            f"--kubeconfig={layout.component_kubeconfig('kwok')}",
            f"--config={layout.kwok_stages}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={node_selector}",
            f"--cidr={cidr}",
            "--node-ip=10.240.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{layout.kwok_port if port is None else port}",
            *(_extra("kwok") if node_selector == "fake" else ()),
        ),
    )
