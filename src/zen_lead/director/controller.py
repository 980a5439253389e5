"""The Service director, assembled: shared informers -> tracker -> work queue -> reconcile -> apply.

The director asks the manager's ``InformerCache`` for Services, Pods, zen-lead's own EndpointSlices
(label-selected) and, with ``--node-zones``, Nodes (for endpoint zones). Its handlers hand every
change to the ``Tracker``, which answers with the source keys (``namespace/source-service``) and
lanes to queue — failover lane when the changed pod currently leads a Service, or when a Service has
no leader. The generic ``runtime.Controller`` runs the workers; each in-flight reconcile has a pooled
connection of its own (see ``kube.client``). The reconcile lives in ``reconcile.py``; everything it
decides comes from the pure ``director.core``.

The informers run on every replica (a new leader starts with warm caches and its first pass writes
only differences); the controller — the only part that writes — runs while this replica leads.
"""

from __future__ import annotations

from dataclasses import dataclass

from zen_lead.director.core import STARTUP_GRACE
from zen_lead.director.reconcile import ServiceReconciler
from zen_lead.director.tracker import Tracker
from zen_lead.kube.client import ApiClient
from zen_lead.kube.resources import ENDPOINT_SLICES, EVENTS, NODES, PODS, SERVICES, Rule
from zen_lead.routing.ownership import SLICE_SELECTOR
from zen_lead.runtime.cache import InformerCache
from zen_lead.runtime.controller import Controller
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate

NAME = "director"
_WRITE = ("get", "list", "watch", "create", "patch", "delete")
_READ = ("get", "list", "watch")

# The RBAC the director needs in every namespace it manages (the chart renders them from here;
# docs/deployment.md explains each verb; tests/cluster/deploy proves they suffice).
RULES = (
    Rule(SERVICES, _WRITE),
    Rule(ENDPOINT_SLICES, _WRITE),
    Rule(PODS, _READ),
    Rule(EVENTS, ("create", "patch")),
)
NODE_RULES = (Rule(NODES, _READ),)  # cluster-scoped, only with --node-zones


@dataclass(frozen=True, slots=True)
class DirectorOptions:
    workers: int = 64
    node_zones: bool = False  # opt-in: it needs cluster-scoped read access to Nodes
    startup_grace: float = STARTUP_GRACE  # a new leader Service's wait for its first pod, told as Normal


def build_director(
    *,
    client: ApiClient,
    cache: InformerCache,
    events: EventRecorder,
    gate: WriteGate,
    options: DirectorOptions,
) -> Controller:
    """The director as a controller on the shared cache (its informers are registered here)."""
    tracker = Tracker()
    services = cache.informer(SERVICES)
    pods = cache.informer(PODS)
    slices = cache.informer(ENDPOINT_SLICES, label_selector=SLICE_SELECTOR)
    nodes = cache.informer(NODES) if options.node_zones else None
    reconciler = ServiceReconciler(
        client=client,
        events=events,
        gate=gate,
        services=services,
        slices=slices,
        nodes=nodes,
        tracker=tracker,
        startup_grace=options.startup_grace,
    )

    async def synced() -> None:
        for informer in (services, pods, slices, nodes):
            if informer is not None:
                await informer.wait_synced()

    controller = Controller(NAME, reconciler, workers=options.workers, events=events, synced=synced)
    services.add_handler(controller.enqueuer(tracker.service_changed))
    pods.add_handler(controller.enqueuer(tracker.pod_changed))
    slices.add_handler(controller.enqueuer(tracker.slice_changed))
    return controller
