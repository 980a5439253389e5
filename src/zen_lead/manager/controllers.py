"""The controllers ``zen-lead run`` can run, by name, and ``--controllers`` (kube-controller-manager's
convention): a comma-separated list where ``*`` enables every controller that is on by default,
``name`` enables one, and ``-name`` disables one. The default, ``*``, runs the director alone.

Each controller is built on the manager's shared pieces (API client, informer cache, Event recorder,
write gate) and declares the RBAC it needs, which the chart renders (``deploy/render.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from zen_lead.api.rbac import RULES as API_RULES
from zen_lead.director.controller import NODE_RULES, DirectorOptions, build_director
from zen_lead.director.controller import RULES as DIRECTOR_RULES
from zen_lead.kube.client import ApiClient
from zen_lead.kube.resources import Rule
from zen_lead.manager.options import ManagerOptions
from zen_lead.manuallocks.rbac import RULES as MANUAL_LOCK_RULES
from zen_lead.pools.rbac import POD_WRITE_RULES
from zen_lead.pools.rbac import RULES as POOL_RULES
from zen_lead.runtime.cache import InformerCache
from zen_lead.runtime.controller import Controller
from zen_lead.runtime.events import EventRecorder
from zen_lead.runtime.runnable import WriteGate


@dataclass(frozen=True, slots=True)
class Shared:
    """What every controller is built on."""

    client: ApiClient
    cache: InformerCache
    events: EventRecorder
    gate: WriteGate
    options: ManagerOptions


@dataclass(frozen=True, slots=True)
class ControllerSpec:
    name: str
    on_by_default: bool
    build: Callable[[Shared], Controller]
    rules: tuple[Rule, ...]  # in every managed namespace (a Role there, or the ClusterRole)


def _director(shared: Shared) -> Controller:
    options = DirectorOptions(
        workers=shared.options.workers,
        node_zones=shared.options.node_zones,
        startup_grace=shared.options.startup_grace,
    )
    return build_director(
        client=shared.client, cache=shared.cache, events=shared.events, gate=shared.gate, options=options
    )


def _pools(shared: Shared) -> Controller:
    # imported here: an opt-in module costs no memory (about 1 MB) where it is not enabled
    from zen_lead.pools.controller import build_pools

    return build_pools(
        client=shared.client,
        cache=shared.cache,
        events=shared.events,
        gate=shared.gate,
        workers=shared.options.workers,
    )


def _manuallocks(shared: Shared) -> Controller:
    from zen_lead.manuallocks.controller import build_manuallocks  # opt-in, as pools

    options = shared.options
    manager_lease = (options.leader_election_namespace, options.leader_election_id)
    return build_manuallocks(
        client=shared.client,
        cache=shared.cache,
        events=shared.events,
        gate=shared.gate,
        workers=options.workers,
        reserved=frozenset([manager_lease] if options.leader_elect else []),
    )


CONTROLLERS: Mapping[str, ControllerSpec] = {
    spec.name: spec
    for spec in (
        ControllerSpec("director", True, _director, DIRECTOR_RULES),
        ControllerSpec("pools", False, _pools, POOL_RULES),
        ControllerSpec("manuallocks", False, _manuallocks, MANUAL_LOCK_RULES),
    )
}
# Cluster-scoped read access that options (not controllers) add: --node-zones.
NODE_ZONE_RULES = NODE_RULES
# The status API's (--api-bind-address), in every managed namespace; chart: api.enabled.
STATUS_API_RULES = API_RULES
# Writes to member pods, granted apart (chart: pools.podWrites): role annotations, pod-deletion cost.
POOL_POD_WRITE_RULES = POD_WRITE_RULES


def parse_controllers(items: Iterable[str], known: Mapping[str, bool]) -> frozenset[str]:
    """The enabled controllers for ``--controllers`` ``items`` (``known``: name -> on by default).

    Raises ``ValueError`` naming the problem: an unknown name, or a name both enabled and disabled."""
    enabled: set[str] = set()
    disabled: set[str] = set()
    star = False
    for raw in items:
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            if item == "*":
                star = True
                continue
            name = item.removeprefix("-")
            if name not in known:
                raise ValueError(
                    f"--controllers: unknown controller {name!r}; known: {', '.join(sorted(known))} "
                    "(and * for those on by default)"
                )
            (disabled if item.startswith("-") else enabled).add(name)
    both = enabled & disabled
    if both:
        raise ValueError(f"--controllers: {', '.join(sorted(both))} both enabled and disabled")
    if star:
        enabled |= {name for name, on in known.items() if on and name not in disabled}
    return frozenset(enabled)
