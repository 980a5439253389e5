"""Once per schedule slot: the record of completed slots on the Lease, and the slot of a CronJob's Job.

The record is an annotation of the election Lease itself (``core.DONE_SLOTS_ANNOTATION``), so it is
read and written by whoever holds the Lease and by nobody else, and needs no object or RBAC of its
own. A holder checks it after acquiring and before starting the program (every earlier holder's mark
was written before our acquiring write, which was conditional on the version we read, so the mark is
visible to our read); it marks its slot after the program succeeded, with a write conditional on a
version that still shows its own tenure. A mark written while the tenure was still ours is the only
kind there is.
"""

from __future__ import annotations

import asyncio

from zen_lead.election.fence import Fence
from zen_lead.election.record import record_of, still_ours
from zen_lead.election.store import LeaseRef
from zen_lead.exec import core
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError
from zen_lead.kube.resources import JOBS, LEASES


class SlotError(Exception):
    """The slot cannot be known (the Job is gone, or was not made by a CronJob)."""


async def slot_of_job(client: ApiClient, namespace: str, job: str) -> str:
    """The schedule slot the CronJob controller stamped on Job ``job``."""
    try:
        found = await client.get(JOBS, namespace, job)
    except ApiError as error:
        raise SlotError(
            f"--slot-from-job {job}: cannot read Job {namespace}/{job}: {error.message}"
        ) from error
    slot = found.metadata.annotations.get(core.SCHEDULED_ANNOTATION, "")
    if not slot:
        raise SlotError(
            f"--slot-from-job {job}: Job {namespace}/{job} has no annotation {core.SCHEDULED_ANNOTATION} "
            "(it was not created by a CronJob: use --slot VALUE to name the slot)"
        )
    return slot


async def is_done(client: ApiClient, ref: LeaseRef, slot: str, *, limit: float) -> bool:
    async with asyncio.timeout(limit):
        lease = await client.get(LEASES, ref.namespace, ref.name)
    return slot in core.done_slots(lease.metadata.annotations.get(core.DONE_SLOTS_ANNOTATION))


async def mark_done(client: ApiClient, ref: LeaseRef, slot: str, fence: Fence, *, limit: float) -> bool:
    """Record ``slot`` as done while ``fence``'s tenure still shows on the Lease; False if it does not
    (the next holder runs the slot again: at least once, fenced by the token)."""
    while fence.valid():
        async with asyncio.timeout(limit):
            lease = await client.get(LEASES, ref.namespace, ref.name)
        if not still_ours(record_of(lease.spec), identity=fence.identity, transitions=fence.token):
            return False
        annotation = core.with_slot_done(lease.metadata.annotations.get(core.DONE_SLOTS_ANNOTATION), slot)
        patch = {
            "metadata": {
                "resourceVersion": lease.metadata.resource_version,
                "annotations": {core.DONE_SLOTS_ANNOTATION: annotation},
            }
        }
        try:
            async with asyncio.timeout(limit):
                await client.patch(LEASES, ref.namespace, ref.name, patch)
        except ApiError as error:
            if error.conflict:  # our own renewal moved the version: read again
                continue
            raise
        return True
    return False
