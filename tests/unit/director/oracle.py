"""Who may lead and who leads, written from docs/director.md ("Who leads"), not from the code.

The selection properties need an oracle that does not share the code's mistakes: this module reads the
raw fields of the slim structs and imports nothing from ``zen_lead.director.core``. It returns the
reasons as the strings the docs and Events use (``NotReady``, ...), in the order the docs list the
rules, so a property can compare the first broken rule too.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from datetime import datetime

from zen_lead.kube.structs import Pod, Service


def epoch(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 time as the builders write it (``...Z``), or None."""
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def ready_time(pod: Pod) -> float | None:
    """When the pod became Ready: the transition time of its ``Ready=True`` condition (None if not Ready)."""
    times = [
        c.last_transition_time for c in pod.status.conditions if c.type == "Ready" and c.status == "True"
    ]
    return epoch(times[0]) if times else None


def _family(address: str) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(address).version == 4 else "IPv6"
    except ValueError:
        return None


def verdict(pod: Pod, service: Service, *, now: float, min_ready: float, exempt: bool) -> str | None:
    """The first rule of "Who leads" that ``pod`` breaks for ``service``, or None when it is eligible."""
    selector = service.spec.selector or {}
    if not selector or any(pod.metadata.labels.get(key) != value for key, value in selector.items()):
        return "SelectorMismatch"  # a selector-less Service selects no pod
    if pod.metadata.deletion_timestamp is not None:
        return "Terminating"
    if pod.status.phase != "Running":
        return "NotRunning"
    if not any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions):
        return "NotReady"
    served = [f for f in service.spec.ip_families if f in ("IPv4", "IPv6")] or ["IPv4"]
    addresses = [entry.ip for entry in pod.status.pod_ips] or [a for a in [pod.status.pod_ip] if a]
    if not any(_family(address) in served for address in addresses):
        return "NoAddress"
    declared = {
        (port.name, port.protocol)
        for container in (*pod.spec.containers, *pod.spec.init_containers)
        for port in container.ports
    }
    named = [(p.target_port, p.protocol) for p in service.spec.ports if isinstance(p.target_port, str)]
    if any(name and (name, protocol) not in declared for name, protocol in named):
        return "PortUnresolvable"
    if min_ready > 0 and not exempt:
        since = ready_time(pod)
        if since is None or since + min_ready > now:
            return "NotReadyLongEnough"
    return None


def seniority(pod: Pod) -> tuple[float, float, str, str]:
    """Ready the longest first; ties by creation time, then name (then UID); missing times last."""
    ready, created = ready_time(pod), epoch(pod.metadata.creation_timestamp)
    return (
        math.inf if ready is None else ready,
        math.inf if created is None else created,
        pod.metadata.name,
        pod.metadata.uid,
    )


def eligible_pods(
    pods: Sequence[Pod], service: Service, *, now: float, min_ready: float, sticky: bool, current: str | None
) -> list[Pod]:
    """The pods that may lead; the current leader is exempt from the minimum Ready time when sticky."""
    return [
        pod
        for pod in pods
        if verdict(pod, service, now=now, min_ready=min_ready, exempt=sticky and pod.metadata.uid == current)
        is None
    ]


def expected_leader(
    pods: Sequence[Pod], service: Service, *, now: float, min_ready: float, sticky: bool, current: str | None
) -> Pod | None:
    """Sticky: the current leader while it is eligible; otherwise the eligible pod Ready the longest."""
    eligible = eligible_pods(pods, service, now=now, min_ready=min_ready, sticky=sticky, current=current)
    kept = [pod for pod in eligible if pod.metadata.uid == current]
    if sticky and kept:
        return kept[0]
    return min(eligible, key=seniority, default=None)
