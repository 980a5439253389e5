"""The pools controller, assembled: a second controller on the manager's shared cache (the pod
informer is the director's own), over LeaderPolicies, their Leases and HorizontalPodAutoscalers, and
— for pools with a leader Service — the Services and zen-lead's EndpointSlices (the director's too).

Opt-in: it runs with ``zen-lead run --controllers=director,pools`` (or ``*,pools``) and needs the
LeaderPolicy CRD installed (``/readyz`` names it while it is not) and the RBAC below, which the chart
renders with ``pools.enabled``.
"""

from __future__ import annotations

from zen_lead.constants import LABEL_POOL
from zen_lead.kube.client import ApiClient
from zen_lead.kube.resources import (
    ENDPOINT_SLICES,
    HPAS,
    LEADER_POLICIES,
    LEASES,
    PODS,
    SERVICES,
)
from zen_lead.pools.reconcile import PoolReconciler
from zen_lead.pools.routing import PoolRouting
from zen_lead.pools.scaledown import ScaleDown
from zen_lead.pools.tracker import PoolTracker
from zen_lead.routing.ownership import SLICE_SELECTOR
from zen_lead.runtime.cache import InformerCache
from zen_lead.runtime.controller import Controller
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate

NAME = "pools"


def build_pools(
    *, client: ApiClient, cache: InformerCache, events: EventRecorder, gate: WriteGate, workers: int
) -> Controller:
    tracker = PoolTracker()
    policies = cache.informer(LEADER_POLICIES)
    pods = cache.informer(PODS)
    leases = cache.informer(LEASES, label_selector=LABEL_POOL)
    hpas = cache.informer(HPAS)
    services = cache.informer(SERVICES)
    slices = cache.informer(ENDPOINT_SLICES, label_selector=SLICE_SELECTOR)
    routing = PoolRouting(
        client=client, gate=gate, events=events, services=services, slices=slices, tracker=tracker
    )
    scaledown = ScaleDown(
        client=client, gate=gate, events=events, hpas=hpas, pods=pods, policies=policies, tracker=tracker
    )
    reconciler = PoolReconciler(
        client=client,
        events=events,
        gate=gate,
        policies=policies,
        pods=pods,
        leases=leases,
        tracker=tracker,
        scaledown=scaledown,
        routing=routing,
    )

    async def synced() -> None:
        for informer in (policies, pods, leases, hpas, services, slices):
            await informer.wait_synced()

    controller = Controller(NAME, reconciler, workers=workers, events=events, synced=synced)
    policies.add_handler(controller.enqueuer(tracker.policy_changed))
    pods.add_handler(controller.enqueuer(tracker.pod_changed))
    leases.add_handler(controller.enqueuer(tracker.lease_changed))
    hpas.add_handler(controller.enqueuer(tracker.hpa_changed))
    services.add_handler(controller.enqueuer(tracker.routed_changed))
    slices.add_handler(controller.enqueuer(tracker.routed_changed))
    return controller
