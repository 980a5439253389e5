"""A node with a "kubelet" of its own: a second kwok process that manages only this node.

Killing that process is how a node's heartbeat stops (its Lease is no longer renewed), as when a kubelet
dies; the node lifecycle controller then declares the node unreachable and marks its pods NotReady.
Removing the node's ``kwok.x-k8s.io/node`` annotation does NOT work: the shared kwok keeps renewing
the Lease of a node it once managed (checked on this cluster). Same technique as
``tests/cluster/director/test_node_burst.py``.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

from bench.kube import Kube
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.components import KWOK_NODE_ANNOTATION, kwok_component
from zen_lead.localcluster.state import load_layout

SOLO_CIDR = "10.245.0.1/16"  # apart from the shared kwok's 10.244.0.0/16: pod IPs stay unique
READY_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SoloNode:
    def __init__(self, cluster: ClusterInfo, name: str, zone: str, log: Path) -> None:
        self.name = name
        self.zone = zone
        self.selector = f"solo-{name}"
        self.layout = load_layout(cluster.state)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> None:
        argv = kwok_component(
            self.layout, node_selector=self.selector, port=_free_port(), cidr=SOLO_CIDR
        ).argv
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    async def start(self, kube: Kube) -> None:
        await kube.create(
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": self.name,
                    "annotations": {KWOK_NODE_ANNOTATION: self.selector, "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "type": "kwok",
                        "kubernetes.io/hostname": self.name,
                        "kubernetes.io/os": "linux",
                        "topology.kubernetes.io/zone": self.zone,
                    },
                },
            },
            resource="nodes",
            exist_ok=True,
        )
        self._spawn()
        await self.wait_ready(kube)

    async def wait_ready(self, kube: Kube) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            node = await kube.get(f"/api/v1/nodes/{self.name}", resource="nodes")
            conditions = (node.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"node {self.name} not Ready after {READY_TIMEOUT:.0f}s; see {self.log}")

    def kill(self) -> None:
        """The kubelet dies: no more heartbeats."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    async def revive(self, kube: Kube) -> None:
        self.kill()
        self._spawn()
        await self.wait_ready(kube)

    def stop(self) -> None:
        self.kill()
