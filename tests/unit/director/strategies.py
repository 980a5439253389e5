"""Hypothesis strategies: pods and Services biased towards the interesting cases (about half healthy)."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.unit.director.builders import APP, HTTP, NOW, make_pod, make_service
from zen_lead.director.core import DirectorConfig
from zen_lead.kube.structs import ContainerPort, Pod, Service, ServicePort

POD_NAMES = tuple(f"web-{i}" for i in range(8))
NAMED_HTTP = ServicePort(port=80, name="http", target_port="http")
METRICS = ServicePort(port=9090, name="metrics", target_port=9090)
HTTP_TCP = ContainerPort(container_port=8080, name="http", protocol="TCP")
HTTP_UDP = ContainerPort(container_port=8080, name="http", protocol="UDP")

FAMILY_SETS: tuple[tuple[str, ...], ...] = ((), ("IPv4",), ("IPv6",), ("IPv4", "IPv6"), ("IPv6", "IPv4"))
IP_SETS: tuple[tuple[str, ...], ...] = (
    ("10.0.0.1",),
    ("fd00::1",),
    ("10.0.0.1", "fd00::1"),
    (),
    ("not-an-ip",),
)


@st.composite
def pods(draw: st.DrawFn, name: str) -> Pod:
    """A healthy pod, a healthy pod with exactly one defect (so that each rule alone decides), or a pod
    with every attribute drawn at random."""
    index = POD_NAMES.index(name)
    v4, v6 = f"10.0.0.{index + 1}", f"fd00::{index + 1}"
    attributes: dict[str, object] = {
        "labels": APP,
        "phase": "Running",
        "ready": True,
        "ips": (v4, v6),
        "terminating": False,
        "container_ports": (HTTP_TCP,),
    }
    kind = draw(st.sampled_from(["healthy", "one defect", "one defect", "random"]))
    if kind == "one defect":
        defects: dict[str, list[object]] = {
            "labels": [{"app": "other"}, {}],
            "phase": ["Pending", "Succeeded", None],
            "ready": [False],
            "ips": [(), ("not-an-ip",), (v4,), (v6,)],  # one family only: a defect for some Services
            "terminating": [True],
            "container_ports": [(), (HTTP_UDP,)],  # a defect for Services with a named targetPort
        }
        defect = draw(st.sampled_from(sorted(defects)))
        attributes[defect] = draw(st.sampled_from(defects[defect]))
    elif kind == "random":
        attributes = {
            "labels": draw(st.sampled_from([APP, {"app": "other"}, {}, {**APP, "tier": "x"}])),
            "phase": draw(st.sampled_from(["Running", "Pending", "Succeeded", None])),
            "ready": draw(st.booleans()),
            "ips": draw(st.sampled_from(IP_SETS)),
            "terminating": draw(st.booleans()),
            "container_ports": draw(st.sampled_from([(), (HTTP_TCP,), (HTTP_UDP,)])),
        }
    return make_pod(
        name,
        ready_at=draw(st.none() | st.integers(-30, 600).map(lambda ago: NOW - ago)),
        created_at=draw(st.none() | st.integers(0, 1000).map(lambda ago: NOW - ago)),
        **attributes,  # type: ignore[arg-type]
    )


pod_lists = st.lists(st.sampled_from(POD_NAMES), unique=True, max_size=len(POD_NAMES)).flatmap(
    lambda names: st.tuples(*(pods(name) for name in names)).map(list)
)

services: st.SearchStrategy[Service] = st.builds(
    lambda selector, ports, families: make_service(selector=selector, ports=ports, ip_families=families),
    selector=st.sampled_from([APP, APP, APP, None, {}]),
    ports=st.sampled_from([(HTTP,), (NAMED_HTTP,), (NAMED_HTTP, METRICS), ()]),
    families=st.sampled_from(FAMILY_SETS),
)

configs: st.SearchStrategy[DirectorConfig] = st.builds(
    DirectorConfig,
    enabled=st.just(True),
    leader_service_name=st.just("web-leader"),
    sticky=st.booleans(),
    min_ready_seconds=st.sampled_from([0.0, 0.0, 30.0, 120.5]),
)
