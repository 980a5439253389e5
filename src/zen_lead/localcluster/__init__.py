"""The embedded local control plane: real upstream binaries built from Go modules.

``build`` compiles (once, cached by go.sum hash) one multi-call binary holding etcd, kube-apiserver,
kube-controller-manager and kube-scheduler, plus kwok. ``supervisor`` runs those processes under one
parent that takes them down with it, even when it is killed. ``cluster`` is the public face used by the
CLI, the demo, the test fixtures and the benchmarks: ``up``, ``down``, ``status``.
"""

from zen_lead.localcluster.cluster import ClusterInfo, LocalCluster
from zen_lead.localcluster.errors import ClusterError

__all__ = ["ClusterError", "ClusterInfo", "LocalCluster"]
