"""Counting one client's requests on the apiserver's side.

``apiserver_request_total`` carries no user. API Priority and Fairness does: a FlowSchema that
matches one ServiceAccount (and, here, only its write verbs) gets its own series of
``apiserver_flowcontrol_dispatched_requests_total{flow_schema=...}``, counted by the apiserver as it
dispatches each request — whatever the client itself reports.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lightkube import Client
from lightkube.generic_resource import create_global_resource

from tests.support.wait import eventually
from zen_lead.kube.client import ApiClient

FlowSchema = create_global_resource("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas")
WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"]


@contextmanager
def counted_writes(kube: Client, *, name: str, namespace: str, account: str) -> Iterator[str]:
    """A FlowSchema (yielded: its name) for the write requests of ServiceAccount ``namespace/account``,
    in the built-in ``workload-low`` priority level (the one such requests would use anyway)."""
    kube.create(
        FlowSchema.from_dict(
            {
                "metadata": {"name": name},
                "spec": {
                    "matchingPrecedence": 100,
                    "priorityLevelConfiguration": {"name": "workload-low"},
                    "distinguisherMethod": {"type": "ByUser"},
                    "rules": [
                        {
                            "subjects": [
                                {
                                    "kind": "ServiceAccount",
                                    "serviceAccount": {"name": account, "namespace": namespace},
                                }
                            ],
                            "resourceRules": [
                                {
                                    "verbs": WRITE_VERBS,
                                    "apiGroups": ["*"],
                                    "resources": ["*"],
                                    "namespaces": ["*"],
                                    "clusterScope": True,
                                }
                            ],
                        }
                    ],
                },
            }
        )
    )

    def in_effect() -> bool:
        # The apiserver's APF configuration controller marks a FlowSchema it has taken in with the
        # condition Dangling (False when its priority level exists): only then does it route requests.
        status = kube.get(FlowSchema, name).status or {}
        return any(
            c.get("type") == "Dangling" and c.get("status") == "False" for c in status.get("conditions", [])
        )

    try:
        eventually(in_effect, what=f"FlowSchema {name} in effect")
        yield name
    finally:
        kube.delete(FlowSchema, name)


def dispatched(kubeconfig: Path, flow_schema: str) -> float:
    """Requests the apiserver has dispatched through ``flow_schema`` so far (its own /metrics)."""

    async def scrape() -> str:
        client = ApiClient.from_kubeconfig(kubeconfig)
        try:
            return (await client.request("get", "/metrics", resource="metrics")).decode()
        finally:
            await client.aclose()

    pattern = re.compile(
        r'^apiserver_flowcontrol_dispatched_requests_total\{[^}]*flow_schema="'
        + re.escape(flow_schema)
        + r'"[^}]*\} (\S+)$'
    )
    return sum(float(m.group(1)) for line in asyncio.run(scrape()).splitlines() if (m := pattern.match(line)))
