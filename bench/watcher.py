"""The watcher: a process of its own that watches EndpointSlices (or pods) and stamps each event.

Run by ``bench.observer`` as ``python -m bench.watcher --kubeconfig K --namespace NS --resource R ...``
(one or more resources, each its own watch in the one process: EndpointSlices, pods, Leases,
LeaderPolicies). It lists, prints the current objects,
prints ``{"k": "synced"}``, then watches from each list's resourceVersion and prints one JSON line per
event. Each event is stamped with ``time.monotonic()``
the moment its line arrived, before it is decoded, and the process does nothing else, so the harness's
own load (thousands of concurrent writes, decoding, bookkeeping) cannot delay an observation.

Independent of the controller's informer on purpose: a benchmark should not measure the code under test
with itself. A ``410 Gone`` relists and reports objects that vanished in the gap as deleted.

Output records (short keys: thousands per second at times):

- slices: ``{"k": "s", "t", "e": ADDED|MODIFIED|DELETED|SYNC, "n": name, "l": service-name label,
  "m": managed-by label, "ep": [[pod, ready, node], ...]}``
- pods: ``{"k": "p", "t", "e", "n": name, "node": node, "ready": bool, "del": terminating,
  "role": the zen-lead/role annotation or null, "rv": resourceVersion}``
- leases: ``{"k": "l", "t", "e", "n": name, "h": holderIdentity, "tr": leaseTransitions,
  "rv": resourceVersion}``
- LeaderPolicies: ``{"k": "lp", "t", "e", "n": name, "leader": status.leader.pod, "term", "eligible", "rv"}``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError

WATCH_SECONDS = 3600
RECONNECT_DELAY = 0.2


class _Meta(msgspec.Struct, frozen=True):
    name: str = ""
    resourceVersion: str = ""
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    deletionTimestamp: str | None = None


class _Ref(msgspec.Struct, frozen=True):
    name: str = ""


class _EpConditions(msgspec.Struct, frozen=True):
    ready: bool | None = None


class _Endpoint(msgspec.Struct, frozen=True):
    conditions: _EpConditions = _EpConditions()
    targetRef: _Ref | None = None
    nodeName: str | None = None


class _Slice(msgspec.Struct, frozen=True):
    metadata: _Meta = _Meta()
    endpoints: list[_Endpoint] | None = None


class _Condition(msgspec.Struct, frozen=True):
    type: str = ""
    status: str = ""


class _PodSpec(msgspec.Struct, frozen=True):
    nodeName: str | None = None


class _PodStatus(msgspec.Struct, frozen=True):
    conditions: list[_Condition] | None = None


class _Pod(msgspec.Struct, frozen=True):
    metadata: _Meta = _Meta()
    spec: _PodSpec = _PodSpec()
    status: _PodStatus = _PodStatus()


class _LeaseSpec(msgspec.Struct, frozen=True):
    holderIdentity: str | None = None
    leaseTransitions: int | None = None


class _Lease(msgspec.Struct, frozen=True):
    metadata: _Meta = _Meta()
    spec: _LeaseSpec = _LeaseSpec()


class _PolicyLeader(msgspec.Struct, frozen=True):
    pod: str = ""


class _PolicyMembers(msgspec.Struct, frozen=True):
    eligible: int = 0


class _PolicyStatus(msgspec.Struct, frozen=True):
    leader: _PolicyLeader | None = None
    term: int | None = None
    members: _PolicyMembers = _PolicyMembers()


class _Policy(msgspec.Struct, frozen=True):
    metadata: _Meta = _Meta()
    status: _PolicyStatus = _PolicyStatus()


class _Event(msgspec.Struct, frozen=True):
    type: str
    object: msgspec.Raw


class _Status(msgspec.Struct, frozen=True):
    code: int = 0
    reason: str = ""
    message: str = ""


class _ListMeta(msgspec.Struct, frozen=True):
    resourceVersion: str = ""
    # named "continue" in the API, a keyword in Python
    next: str | None = msgspec.field(default=None, name="continue")


class _List(msgspec.Struct, frozen=True):
    metadata: _ListMeta = _ListMeta()
    items: list[Any] = []


_event = msgspec.json.Decoder(_Event)
_status = msgspec.json.Decoder(_Status)
_encoder = msgspec.json.Encoder()


def _slice_record(obj: _Slice) -> dict[str, Any]:
    labels = obj.metadata.labels
    return {
        "k": "s",
        "n": obj.metadata.name,
        "l": labels.get("kubernetes.io/service-name", ""),
        "m": labels.get("endpointslice.kubernetes.io/managed-by", ""),
        "ep": [
            [e.targetRef.name if e.targetRef else "", e.conditions.ready is not False, e.nodeName or ""]
            for e in obj.endpoints or ()
        ],
    }


def _pod_record(obj: _Pod) -> dict[str, Any]:
    ready = any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions or ())
    return {
        "k": "p",
        "n": obj.metadata.name,
        "node": obj.spec.nodeName or "",
        "ready": ready,
        "del": obj.metadata.deletionTimestamp is not None,
        "role": obj.metadata.annotations.get("zen-lead/role"),
        "rv": obj.metadata.resourceVersion,
    }


def _lease_record(obj: _Lease) -> dict[str, Any]:
    return {
        "k": "l",
        "n": obj.metadata.name,
        "h": obj.spec.holderIdentity or "",
        "tr": obj.spec.leaseTransitions,
        "rv": obj.metadata.resourceVersion,
    }


def _policy_record(obj: _Policy) -> dict[str, Any]:
    status = obj.status
    return {
        "k": "lp",
        "n": obj.metadata.name,
        "leader": status.leader.pod if status.leader is not None else "",
        "term": status.term,
        "eligible": status.members.eligible,
        "rv": obj.metadata.resourceVersion,
    }


# resource -> (path under the namespace, the object's struct, its record, the record's kind)
_KINDS: dict[str, tuple[str, type[Any], Callable[[Any], dict[str, Any]], str]] = {
    "endpointslices": ("/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices", _Slice, _slice_record, "s"),
    "pods": ("/api/v1/namespaces/{}/pods", _Pod, _pod_record, "p"),
    "leases": ("/apis/coordination.k8s.io/v1/namespaces/{}/leases", _Lease, _lease_record, "l"),
    "leaderpolicies": (
        "/apis/coordination.kube-zen.io/v1alpha1/namespaces/{}/leaderpolicies",
        _Policy,
        _policy_record,
        "lp",
    ),
}


class Watcher:
    def __init__(
        self, client: ApiClient, *, namespace: str, resource: str, field_selector: str | None
    ) -> None:
        self.client = client
        self.resource = resource
        self.field_selector = field_selector
        path, struct, self.record, self.kind = _KINDS[resource]
        self.path = path.format(namespace)
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(struct)
        self.list_decoder = msgspec.json.Decoder(_List)
        self.known: set[str] = set()
        self.version = ""

    def emit(self, record: dict[str, Any]) -> None:
        sys.stdout.buffer.write(_encoder.encode(record) + b"\n")
        sys.stdout.buffer.flush()

    def _params(self, extra: dict[str, str]) -> dict[str, str]:
        params = dict(extra)
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        return params

    async def relist(self) -> None:
        seen: set[str] = set()
        token: str | None = None
        while True:
            params = self._params({"limit": "500", **({"continue": token} if token else {})})
            body = await self.client.request("list", self.path, resource=self.resource, params=params)
            page = self.list_decoder.decode(body)
            stamp = time.monotonic()
            for raw in page.items:
                obj = msgspec.convert(raw, type=self.decoder.type)
                seen.add(obj.metadata.name)
                self.emit({"t": stamp, "e": "SYNC", **self.record(obj)})
            token = page.metadata.next
            if not token:
                self.version = page.metadata.resourceVersion
                break
        for name in sorted(self.known - seen):
            self.emit({"t": time.monotonic(), "k": self.kind, "e": "DELETED", "n": name})
        self.known = seen

    async def watch(self) -> None:
        params = self._params(
            {
                "watch": "1",
                "allowWatchBookmarks": "true",
                "resourceVersion": self.version,
                "timeoutSeconds": str(WATCH_SECONDS),
            }
        )
        async with self.client.stream(self.path, params=params, read_timeout=WATCH_SECONDS + 60) as lines:
            async for line in lines:
                stamp = time.monotonic()  # first: the moment the event arrived
                self.handle(stamp, line)

    def handle(self, stamp: float, line: bytes) -> None:
        event = _event.decode(line)
        if event.type == "ERROR":
            status = _status.decode(event.object)
            raise ApiError(status.code, status.reason, status.message)
        obj = self.decoder.decode(event.object)
        if obj.metadata.resourceVersion:
            self.version = obj.metadata.resourceVersion
        if event.type == "BOOKMARK":
            return
        if event.type == "DELETED":
            self.known.discard(obj.metadata.name)
        else:
            self.known.add(obj.metadata.name)
        self.emit({"t": stamp, "e": event.type, **self.record(obj)})

    async def run(self) -> None:
        """Watch (after ``relist``) until cancelled."""
        while True:
            try:
                await self.watch()
            except ApiError as error:
                if error.code != 410:
                    raise
                await self.relist()
            except OSError:
                await asyncio.sleep(RECONNECT_DELAY)


async def _main(args: argparse.Namespace) -> None:
    client = ApiClient.from_kubeconfig(args.kubeconfig, qps=0)
    watchers = [
        Watcher(client, namespace=args.namespace, resource=resource, field_selector=args.field_selector)
        for resource in args.resource
    ]
    try:
        for watcher in watchers:
            await watcher.relist()
        watchers[0].emit({"t": time.monotonic(), "k": "synced"})
        await asyncio.gather(*(watcher.run() for watcher in watchers))
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.watcher")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--resource", choices=tuple(_KINDS), action="append", required=True)
    parser.add_argument("--field-selector", default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
