"""What the coordinator claims, for any pair of kinds: a descriptor names the kinds and the fields.

``ClaimDescriptor`` says which resource is claimed (a Host) and which claims it (a Machine), the field
on the claimable that names its consumer (``spec.consumerRef``, as bare-metal providers write it), the
field on the claimant that holds its reservation, and where each side keeps its tags. Fields are dotted
paths into the object; a path under ``status.`` is written through the ``status`` subresource.

Objects are read as ``GenericObject`` (typed metadata, ``spec``/``status`` as JSON) and turned into the
core's plain values here, and the core's decisions are turned back into conditional merge patches:
every patch carries the ``metadata.resourceVersion`` the decision was made on, so the apiserver
applies it only if the object did not change since (409 Conflict otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zen_lead.claims.core.model import Claimable, Claimant, Consumer
from zen_lead.kube.resources import Resource
from zen_lead.kube.structs import GenericObject
from zen_lead.kube.times import parse_time

ANNOTATION_PREFIX = "claims.zen-lead.io/"
CLAIMED_BY = ANNOTATION_PREFIX + "claimed-by"  # the identity of the replica that wrote the claim
TOKEN = ANNOTATION_PREFIX + "token"  # its fencing token (the coordinator Lease's transitions), "" in fallback
CLAIM_MODE = ANNOTATION_PREFIX + "mode"  # leader | fallback
FENCE = ANNOTATION_PREFIX + "fence"  # changed when a reservation moves off the claimable (core.steps)


@dataclass(frozen=True, slots=True)
class ClaimDescriptor:
    claimable: Resource[GenericObject]
    claimant: Resource[GenericObject]
    consumer_field: str = "spec.consumerRef"  # on the claimable: {kind, name, uid}
    reservation_field: str = "status.hostRef"  # on the claimant: {name, uid}
    tags_field: str = "spec.tags"  # on the claimable: a list of strings
    required_field: str = "spec.requiredTags"  # on the claimant
    preferred_field: str = "spec.preferredTags"  # on the claimant

    def __post_init__(self) -> None:
        for label in (
            "consumer_field",
            "reservation_field",
            "tags_field",
            "required_field",
            "preferred_field",
        ):
            path = getattr(self, label)
            top = path.split(".", 1)[0]
            if top not in ("spec", "status") or "." not in path or "" in path.split("."):
                raise ValueError(f"{label}={path!r}: a dotted path under spec. or status. is required")

    # ---- reading ----------------------------------------------------------------------------------
    def to_claimant(self, obj: GenericObject) -> Claimant:
        meta = obj.metadata
        reservation = _get(obj, self.reservation_field)
        host = reservation.get("name") if isinstance(reservation, dict) else None
        return Claimant(
            namespace=meta.namespace,
            name=meta.name,
            uid=meta.uid,
            created=parse_time(meta.creation_timestamp) or 0.0,
            required=_tags(_get(obj, self.required_field)),
            preferred=_tags(_get(obj, self.preferred_field)),
            host=host if isinstance(host, str) and host else None,
            deleting=meta.deletion_timestamp is not None,
        )

    def to_claimable(self, obj: GenericObject) -> Claimable:
        meta = obj.metadata
        ref = _get(obj, self.consumer_field)
        consumer = None
        if isinstance(ref, dict) and isinstance(ref.get("uid"), str) and ref.get("uid"):
            consumer = Consumer(name=str(ref.get("name", "")), uid=ref["uid"])
        return Claimable(
            namespace=meta.namespace,
            name=meta.name,
            tags=_tags(_get(obj, self.tags_field)),
            consumer=consumer,
            deleting=meta.deletion_timestamp is not None,
        )

    def attempt(self, claimant: GenericObject) -> str | None:
        """The ``attempt`` nonce of the claimant's reservation, as stored."""
        reservation = _get(claimant, self.reservation_field)
        value = reservation.get("attempt") if isinstance(reservation, dict) else None
        return value if isinstance(value, str) else None

    # ---- writing ----------------------------------------------------------------------------------
    def subresource(self, path: str) -> str | None:
        return "status" if path.startswith("status.") else None

    def reserve_patch(
        self, claimant: GenericObject, claimable: GenericObject, *, attempt: str, stamp: dict[str, str]
    ) -> dict[str, Any]:
        """The claimant's reservation of ``claimable``, conditional on the claimant's version; the stamp
        (who reserved, with which token) travels inside it, and ``attempt`` (new for every attempt)
        makes even a restamp of the same reservation a change (``core.steps``, rule 1)."""
        value = {
            "name": claimable.metadata.name,
            "uid": claimable.metadata.uid,
            "claimedBy": stamp.get(CLAIMED_BY, ""),
            "token": stamp.get(TOKEN, ""),
            "attempt": attempt,
        }
        return _patch(claimant, self.reservation_field, value, {})

    def fence_patch(self, claimable: GenericObject, *, attempt: str) -> dict[str, Any]:
        """A new version of ``claimable`` and nothing else that matters, conditional on its version:
        binds decided on an older version fail (``core.steps``, rule 3)."""
        meta = {"resourceVersion": claimable.metadata.resource_version, "annotations": {FENCE: attempt}}
        return {"metadata": meta}

    def bind_patch(
        self, claimable: GenericObject, claimant: GenericObject, *, stamp: dict[str, str]
    ) -> dict[str, Any]:
        """The claimable's consumer, conditional on the claimable's version."""
        meta = claimant.metadata
        value = {"kind": self.claimant.kind, "name": meta.name, "uid": meta.uid}
        return _patch(claimable, self.consumer_field, value, stamp)

    def release_patch(self, claimable: GenericObject) -> dict[str, Any]:
        """No consumer (and no stamp), conditional on the claimable's version."""
        stamp_off: dict[str, str | None] = {CLAIMED_BY: None, TOKEN: None, CLAIM_MODE: None}
        return _patch(claimable, self.consumer_field, None, stamp_off)


def _get(obj: GenericObject, path: str) -> Any:
    top, *rest = path.split(".")
    value: Any = obj.spec if top == "spec" else obj.status
    for part in rest:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _tags(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(str(v) for v in value if isinstance(v, str) and v)
    return frozenset()


def _patch(obj: GenericObject, path: str, value: Any, annotations: dict[str, Any]) -> dict[str, Any]:
    """A merge patch setting ``path`` to ``value`` (None deletes it), conditional on ``obj``'s version.
    Annotations go only with a spec write (a status-subresource write ignores them)."""
    top, *rest = path.split(".")
    body: Any = value
    for part in reversed(rest):
        body = {part: body}
    metadata: dict[str, Any] = {"resourceVersion": obj.metadata.resource_version}
    if top == "spec" and annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, top: body}
