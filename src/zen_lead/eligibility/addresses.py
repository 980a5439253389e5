"""IP families: which ones a Service serves and which addresses a pod has in each.

A Service serves the families in ``spec.ipFamilies`` (the apiserver fills it on every Service with a
cluster IP or a selector); when it is empty, IPv4 alone is assumed. A pod's addresses come from
``status.podIPs`` (one per family on dual-stack nodes), falling back to ``status.podIP``. The family of an
address is what ``ipaddress`` says it is, not what its position in the list suggests; unparsable
addresses belong to no family and are never routed to.
"""

from __future__ import annotations

import ipaddress

from zen_lead.kube.structs import Pod, Service

IPV4 = "IPv4"
IPV6 = "IPv6"
FAMILIES = (IPV4, IPV6)


def ip_family(address: str) -> str | None:
    """``"IPv4"``, ``"IPv6"`` or ``None`` for text that is not an IP address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    return IPV4 if parsed.version == 4 else IPV6


def served_families(service: Service) -> tuple[str, ...]:
    """The Service's known families in its order (primary first), without duplicates; IPv4 if none."""
    families = tuple(dict.fromkeys(f for f in service.spec.ip_families if f in FAMILIES))
    return families or (IPV4,)


def pod_addresses(pod: Pod, family: str) -> tuple[str, ...]:
    """The pod's addresses of ``family``, in status order, without duplicates."""
    status = pod.status
    candidates = [entry.ip for entry in status.pod_ips] or ([status.pod_ip] if status.pod_ip else [])
    return tuple(dict.fromkeys(ip for ip in candidates if ip_family(ip) == family))
