"""The harness's API calls: raw JSON over zen-lead's own ``ApiClient`` (no client-side rate limit, a pool
of keep-alive connections), so thousands of objects are created and burst writes land concurrently.

Also the identities of the measured processes: each gets a ServiceAccount, a token kubeconfig and a
FlowSchema of its own, so the apiserver's ``apiserver_flowcontrol_*`` metrics count its requests
(``apiserver_request_total`` has no user or user-agent label). The FlowSchemas map to ``workload-low``,
the priority level a ServiceAccount gets by default, so attribution changes nothing else.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError

T = TypeVar("T")
JSON = dict[str, Any]
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
SYSTEM_NAMESPACE = "zl-bench-system"
FLOW_PRIORITY_LEVEL = "workload-low"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Kube:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.api = ApiClient.from_kubeconfig(kubeconfig, qps=0, timeout=60.0)

    async def aclose(self) -> None:
        await self.api.aclose()

    # ---- generic -------------------------------------------------------------------------------
    async def get(self, path: str, *, resource: str) -> JSON:
        data: JSON = json.loads(await self.api.request("get", path, resource=resource))
        return data

    async def list_all(self, path: str, *, resource: str, params: dict[str, str] | None = None) -> list[JSON]:
        items: list[JSON] = []
        query = {"limit": "1000", **(params or {})}
        while True:
            page = json.loads(await self.api.request("list", path, resource=resource, params=query))
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query = {**query, "continue": token}

    async def create(self, path: str, manifest: JSON, *, resource: str, exist_ok: bool = False) -> None:
        try:
            await self.api.request("create", path, resource=resource, body=json.dumps(manifest).encode())
        except ApiError as error:
            if not (exist_ok and error.code == 409):
                raise

    async def patch(self, path: str, patch: JSON, *, resource: str, content_type: str = MERGE) -> None:
        await self.api.request(
            "patch", path, resource=resource, body=json.dumps(patch).encode(), content_type=content_type
        )

    async def delete(self, path: str, *, resource: str) -> bool:
        """Delete; False when it was already gone."""
        try:
            await self.api.request("delete", path, resource=resource)
        except ApiError as error:
            if error.not_found:
                return False
            raise
        return True

    # ---- namespaces and pods -------------------------------------------------------------------
    async def create_namespace(self, name: str) -> None:
        await self.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            resource="namespaces",
            exist_ok=True,
        )

    async def delete_namespace(self, name: str) -> None:
        await self.delete(f"/api/v1/namespaces/{name}", resource="namespaces")

    async def set_pod_ready(self, namespace: str, name: str, *, ready: bool) -> float:
        """Flip Ready and ContainersReady through the status subresource, as a kubelet would.
        Returns ``time.monotonic()`` when the write had landed (the response arrived)."""
        status = "True" if ready else "False"
        now = _now()
        conditions = [
            {"type": kind, "status": status, "lastTransitionTime": now}
            for kind in ("Ready", "ContainersReady")
        ]
        await self.patch(
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            {"status": {"conditions": conditions}},
            resource="pods",
            content_type=STRATEGIC,
        )
        return time.monotonic()

    async def delete_pod(self, namespace: str, name: str) -> float:
        await self.delete(f"/api/v1/namespaces/{namespace}/pods/{name}", resource="pods")
        return time.monotonic()

    async def node_pods(self, namespace: str, node: str) -> list[JSON]:
        return await self.list_all(
            f"/api/v1/namespaces/{namespace}/pods",
            resource="pods",
            params={"fieldSelector": f"spec.nodeName={node}"},
        )

    # ---- identities ----------------------------------------------------------------------------
    async def identity(self, name: str, target: Path) -> Path:
        """A ServiceAccount ``name`` (cluster-admin), a FlowSchema ``bench-<name>`` matching only it,
        and a kubeconfig at ``target`` authenticating with a fresh token of it."""
        ns = SYSTEM_NAMESPACE
        await self.create_namespace(ns)
        await self.create(
            f"/api/v1/namespaces/{ns}/serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}},
            resource="serviceaccounts",
            exist_ok=True,
        )
        await self.create(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"bench-{name}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            },
            resource="clusterrolebindings",
            exist_ok=True,
        )
        await self.create(
            "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
            flow_schema(name, ns),
            resource="flowschemas",
            exist_ok=True,
        )
        token = json.loads(
            await self.api.request(
                "create",
                f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
                resource="serviceaccounts",
                body=json.dumps(
                    {
                        "apiVersion": "authentication.k8s.io/v1",
                        "kind": "TokenRequest",
                        "spec": {"audiences": [], "expirationSeconds": 6 * 3600},
                    }
                ).encode(),
            )
        )["status"]["token"]
        admin = yaml.safe_load(self.kubeconfig.read_text())
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": admin["clusters"],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": admin["clusters"][0]["name"], "user": name}}],
            "current-context": name,
        }
        _write(target, yaml.safe_dump(config))
        return target


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def flow_schema(name: str, namespace: str) -> JSON:
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": f"bench-{name}"},
        "spec": {
            "priorityLevelConfiguration": {"name": FLOW_PRIORITY_LEVEL},
            "matchingPrecedence": 800,  # before "service-accounts" (9000), after the system schemas
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [
                        {"kind": "ServiceAccount", "serviceAccount": {"name": name, "namespace": namespace}}
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["*"],
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "namespaces": ["*"],
                            "clusterScope": True,
                        }
                    ],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }
            ],
        },
    }


async def bounded(
    items: Iterable[T], action: Callable[[T], Awaitable[Any]], *, concurrency: int
) -> list[Any]:
    """Run ``action`` over ``items`` with at most ``concurrency`` in flight; results in input order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item: T) -> Any:
        async with gate:
            return await action(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
