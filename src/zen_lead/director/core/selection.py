"""The director's view of the shared selection core: the rules a source Service and its config give."""

from __future__ import annotations

from collections.abc import Iterable

from zen_lead.director.core.config import DirectorConfig
from zen_lead.eligibility.addresses import served_families
from zen_lead.eligibility.selection import Rules, Selection, choose_leader
from zen_lead.kube.structs import Pod, Service


def service_rules(service: Service, config: DirectorConfig) -> Rules:
    """The eligibility rules for ``service``'s leader (a selector-less Service selects nothing)."""
    return Rules(
        selector=service.spec.selector or {},
        ports=service.spec.ports,
        families=served_families(service),
        min_ready_seconds=config.min_ready_seconds,
        sticky=config.sticky,
    )


def select_leader(
    *,
    pods: Iterable[Pod],
    service: Service,
    config: DirectorConfig,
    current_leader_uid: str | None,
    now: float,
) -> Selection:
    """Choose the leader among ``pods`` for ``service`` (``eligibility.selection`` has the rules)."""
    return choose_leader(
        pods=pods, rules=service_rules(service, config), current_leader_uid=current_leader_uid, now=now
    )
