"""The user's configuration: annotations on the source Service, parsed into a ``DirectorConfig``.

Parsing never fails. Every value that cannot be honoured becomes a ``ConfigProblem`` (the shell turns
each into a Warning Event ``InvalidAnnotation`` on the source Service) and the documented default is
used instead, so a typo degrades to default behaviour, never to a crash loop. The one exception is
``enabled``: a malformed value leaves the Service *not* opted in, because routing is opt-in.

Leader Service type (decision): the leader Service is ``ClusterIP`` whatever the source's type. A
``NodePort`` or ``LoadBalancer`` source does not get a second node port or cloud load balancer unless
``zen-lead.io/leader-service-type`` asks for one, and node ports are never copied (the apiserver
allocates new ones; copying would collide with the source's). A headless source (``clusterIP: None``)
gets a headless leader Service, so the leader name resolves straight to the leader pod's IP; headless
Services can only be ``ClusterIP``, so another requested type is reported and ignored. ``ExternalName``
sources have no pods and cannot be opted in: they are told so (``UnsupportedServiceType``).

``ANNOTATIONS`` is the single source of the generated reference (``docs/annotations.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from zen_lead.constants import (
    ANNOTATION_ENABLED,
    ANNOTATION_LEADER_SERVICE_NAME,
    ANNOTATION_LEADER_SERVICE_TYPE,
    ANNOTATION_MIN_READY_DURATION,
    ANNOTATION_STICKY,
    LEADER_SERVICE_SUFFIX,
    PREFIX,
)
from zen_lead.director.core.durations import parse_duration
from zen_lead.director.core.names import is_dns1035_label, leader_service_name
from zen_lead.kube.structs import Service
from zen_lead.routing.manifests import HEADLESS_CLUSTER_IP

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
LEADER_SERVICE_TYPES = (CLUSTER_IP, NODE_PORT, LOAD_BALANCER)

_TRUE = "true"
_FALSE = "false"
_YES_LIKE = frozenset({"true", "yes", "y", "1", "on"})
_NO_LIKE = frozenset({"false", "no", "n", "0", "off"})


@dataclass(frozen=True, slots=True)
class AnnotationSpec:
    """One row of the annotation reference."""

    key: str
    allowed: str
    default: str
    description: str


ANNOTATIONS: tuple[AnnotationSpec, ...] = (
    AnnotationSpec(
        key=ANNOTATION_ENABLED,
        allowed='"true"',
        default="(absent: not opted in)",
        description=(
            'Opt the Service in. Only the exact string "true" enables zen-lead; "false" disables it '
            "quietly; any other value (yes, True, 1, ...) leaves it disabled and is reported."
        ),
    ),
    AnnotationSpec(
        key=ANNOTATION_LEADER_SERVICE_NAME,
        allowed="a DNS-1035 label other than the Service's own name",
        default=f"`<service>{LEADER_SERVICE_SUFFIX}` (shortened with a hash suffix beyond 63 characters)",
        description="Name of the selector-less Service that routes to the leader.",
    ),
    AnnotationSpec(
        key=ANNOTATION_STICKY,
        allowed='"true", "false"',
        default='"true"',
        description=(
            "Keep the current leader while it stays eligible. With false the leader is re-chosen on "
            "every change: the pod Ready the longest (ties: oldest, then name)."
        ),
    ),
    AnnotationSpec(
        key=ANNOTATION_MIN_READY_DURATION,
        allowed="Go duration: 500ms, 30s, 1m30s, 1.5h, 0 (units ns, us, ms, s, m, h)",
        default='"0"',
        description=(
            "A pod must have been Ready this long before it can become leader. The current sticky "
            "leader is exempt. Negative or invalid values are reported and read as 0."
        ),
    ),
    AnnotationSpec(
        key=ANNOTATION_LEADER_SERVICE_TYPE,
        allowed=", ".join(f'"{t}"' for t in LEADER_SERVICE_TYPES),
        default=f'"{CLUSTER_IP}" (headless when the Service is headless)',
        description=(
            "Type of the leader Service, independent of the source's type; node ports are never "
            "copied. Must be ClusterIP for a headless Service."
        ),
    ),
)
_KNOWN_KEYS = frozenset(spec.key for spec in ANNOTATIONS)


@dataclass(frozen=True, slots=True)
class DirectorConfig:
    """How zen-lead treats one source Service.

    ``leader_service_name`` is final (validated, defaulted, shortened); ``min_ready_seconds`` is >= 0;
    ``leader_service_type`` is one of ``LEADER_SERVICE_TYPES``; ``headless`` mirrors the source.
    """

    enabled: bool
    leader_service_name: str
    sticky: bool = True
    min_ready_seconds: float = 0.0
    leader_service_type: str = CLUSTER_IP
    headless: bool = False


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """An annotation value that was not honoured; ``message`` says what was done instead; ``reason``
    is the Event reason it is told with."""

    key: str
    value: str
    message: str
    reason: str = "InvalidAnnotation"


class ParsedConfig(NamedTuple):
    config: DirectorConfig
    problems: tuple[ConfigProblem, ...]


def mentions_zen_lead(annotations: Mapping[str, str]) -> bool:
    """Cheap pre-filter: does any annotation key start with ``zen-lead.io/``?"""
    prefix = f"{PREFIX}/"
    return any(key.startswith(prefix) for key in annotations)


def is_opted_in(annotations: Mapping[str, str]) -> bool:
    """True only for ``zen-lead.io/enabled: "true"`` exactly."""
    return annotations.get(ANNOTATION_ENABLED) == _TRUE


def is_headless(service: Service) -> bool:
    return service.spec.cluster_ip == HEADLESS_CLUSTER_IP


def parse_config(source: Service) -> ParsedConfig:
    """Read every ``zen-lead.io/`` annotation of ``source``; see the module docstring."""
    annotations = source.metadata.annotations
    problems: list[ConfigProblem] = []
    headless = is_headless(source)
    config = DirectorConfig(
        enabled=_enabled(source, problems),
        leader_service_name=_leader_name(source.metadata.name, annotations, problems),
        sticky=_sticky(annotations, problems),
        min_ready_seconds=_min_ready(annotations, problems),
        leader_service_type=_service_type(annotations, headless=headless, problems=problems),
        headless=headless,
    )
    prefix = f"{PREFIX}/"
    problems.extend(
        ConfigProblem(key, value, f"unknown annotation; known: {', '.join(sorted(_KNOWN_KEYS))}")
        for key, value in sorted(annotations.items())
        if key.startswith(prefix) and key not in _KNOWN_KEYS
    )
    return ParsedConfig(config=config, problems=tuple(problems))


def told_problems(parsed: ParsedConfig) -> tuple[ConfigProblem, ...]:
    """The problems to tell the user: all of them for an opted-in Service; for one that is not, only
    a malformed ``enabled`` value (an opted-out Service hears nothing about its other annotations)."""
    if parsed.config.enabled:
        return parsed.problems
    return tuple(p for p in parsed.problems if p.key == ANNOTATION_ENABLED)


def _enabled(source: Service, problems: list[ConfigProblem]) -> bool:
    value = source.metadata.annotations.get(ANNOTATION_ENABLED)
    if value is None or value == _FALSE:
        return False
    if value != _TRUE:
        problems.append(ConfigProblem(ANNOTATION_ENABLED, value, _enabled_message(value)))
        return False
    if source.spec.type == EXTERNAL_NAME:
        message = "an ExternalName Service has no pods to lead: no leader Service is made"
        problems.append(ConfigProblem(ANNOTATION_ENABLED, value, message, reason="UnsupportedServiceType"))
        return False
    return True


def _enabled_message(value: str) -> str:
    normalized = value.strip().lower()
    if normalized in _YES_LIKE:
        return 'not recognised, zen-lead stays disabled: set exactly "true" to enable it (case-sensitive)'
    if normalized in _NO_LIKE:
        return 'read as disabled: set exactly "true" to enable zen-lead or "false" to disable it'
    return 'not a valid value, zen-lead stays disabled: set exactly "true" to enable it or "false" not to'


def _leader_name(source_name: str, annotations: Mapping[str, str], problems: list[ConfigProblem]) -> str:
    default = leader_service_name(source_name, None)
    custom = annotations.get(ANNOTATION_LEADER_SERVICE_NAME)
    if custom is None:
        return default
    if not is_dns1035_label(custom):
        message = (
            "not a valid DNS-1035 label (lowercase letters, digits and '-', starting with a letter, "
            f"ending with a letter or digit, at most 63 characters); using {default!r}"
        )
        problems.append(ConfigProblem(ANNOTATION_LEADER_SERVICE_NAME, custom, message))
        return default
    if custom == source_name:
        message = f"the leader Service cannot have the source Service's own name; using {default!r}"
        problems.append(ConfigProblem(ANNOTATION_LEADER_SERVICE_NAME, custom, message))
        return default
    return leader_service_name(source_name, custom)


def _sticky(annotations: Mapping[str, str], problems: list[ConfigProblem]) -> bool:
    value = annotations.get(ANNOTATION_STICKY)
    if value is None or value == _TRUE:
        return True
    if value == _FALSE:
        return False
    problems.append(ConfigProblem(ANNOTATION_STICKY, value, 'expected "true" or "false"; using "true"'))
    return True


def _min_ready(annotations: Mapping[str, str], problems: list[ConfigProblem]) -> float:
    value = annotations.get(ANNOTATION_MIN_READY_DURATION)
    if value is None:
        return 0.0
    seconds = parse_duration(value)
    if seconds is None:
        message = "not a duration such as 30s, 1m30s or 500ms; using 0"
        problems.append(ConfigProblem(ANNOTATION_MIN_READY_DURATION, value, message))
        return 0.0
    if seconds < 0:
        problems.append(ConfigProblem(ANNOTATION_MIN_READY_DURATION, value, "must not be negative; using 0"))
        return 0.0
    return seconds


def _service_type(annotations: Mapping[str, str], *, headless: bool, problems: list[ConfigProblem]) -> str:
    value = annotations.get(ANNOTATION_LEADER_SERVICE_TYPE)
    if value is None or value == CLUSTER_IP:
        return CLUSTER_IP
    if value not in LEADER_SERVICE_TYPES:
        message = f"expected one of {', '.join(LEADER_SERVICE_TYPES)}; using {CLUSTER_IP}"
        problems.append(ConfigProblem(ANNOTATION_LEADER_SERVICE_TYPE, value, message))
        return CLUSTER_IP
    if headless:
        message = f"a headless Service's leader Service is headless, which requires {CLUSTER_IP}; ignored"
        problems.append(ConfigProblem(ANNOTATION_LEADER_SERVICE_TYPE, value, message))
        return CLUSTER_IP
    return value
