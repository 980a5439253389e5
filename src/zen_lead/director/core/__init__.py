"""The director's functional core: pure, synchronous, typed decisions for one source Service.

Modules, lower ones first (imports point upwards in this list only): ``durations``,
``addresses``, ``names`` and ``ports`` (leaf helpers); ``config`` (annotations -> ``DirectorConfig``);
``selection`` (who leads); ``desired`` (the objects to apply); ``drift`` (does observed differ from
desired?); ``ownership`` (what is ours); ``events`` (what is told, and how); ``decision`` (all of it
for one reconcile); ``reference``
(the generated annotation reference). No I/O, no clock: time is always a parameter.
"""

from zen_lead.director.core.config import (
    ANNOTATIONS,
    AnnotationSpec,
    ConfigProblem,
    DirectorConfig,
    ParsedConfig,
    is_headless,
    is_opted_in,
    mentions_zen_lead,
    parse_config,
    told_problems,
)
from zen_lead.director.core.decision import (
    STARTUP_GRACE,
    LeaderRef,
    Plan,
    SlicePlan,
    current_leader,
    name_conflicts,
    plan_leader,
    plan_slices,
)
from zen_lead.director.core.desired import JsonObject, desired_endpoint_slices, desired_leader_service
from zen_lead.director.core.durations import parse_duration
from zen_lead.director.core.events import EventReason, EventType, PlannedEvent, problem_events
from zen_lead.director.core.names import endpoint_slice_name, is_dns1035_label, leader_service_name
from zen_lead.director.core.selection import select_leader, service_rules
from zen_lead.eligibility.addresses import ip_family, pod_addresses, served_families
from zen_lead.eligibility.ports import PortResolution, ResolvedPort, required_port_names, resolve_ports
from zen_lead.eligibility.selection import (
    Ineligibility,
    Rules,
    Selection,
    SelectionReason,
    ineligibility,
    ready_since,
    selects,
)
from zen_lead.routing.drift import (
    service_must_replace,
    service_needs_update,
    slice_must_replace,
    slice_needs_update,
)
from zen_lead.routing.ownership import is_leader_service, owns_leader_service, owns_slice

__all__ = [
    "ANNOTATIONS",
    "STARTUP_GRACE",
    "AnnotationSpec",
    "ConfigProblem",
    "DirectorConfig",
    "EventReason",
    "EventType",
    "Ineligibility",
    "JsonObject",
    "LeaderRef",
    "ParsedConfig",
    "Plan",
    "PlannedEvent",
    "PortResolution",
    "ResolvedPort",
    "Rules",
    "Selection",
    "SelectionReason",
    "SlicePlan",
    "current_leader",
    "desired_endpoint_slices",
    "desired_leader_service",
    "endpoint_slice_name",
    "ineligibility",
    "ip_family",
    "is_dns1035_label",
    "is_headless",
    "is_leader_service",
    "is_opted_in",
    "leader_service_name",
    "mentions_zen_lead",
    "name_conflicts",
    "owns_leader_service",
    "owns_slice",
    "parse_config",
    "parse_duration",
    "plan_leader",
    "plan_slices",
    "pod_addresses",
    "problem_events",
    "ready_since",
    "required_port_names",
    "resolve_ports",
    "select_leader",
    "selects",
    "served_families",
    "service_must_replace",
    "service_needs_update",
    "service_rules",
    "slice_must_replace",
    "slice_needs_update",
    "told_problems",
]
