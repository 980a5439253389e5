"""Fixtures of the manual locks tests: the ManualLock CRD installed once per session (from the chart's
one copy), a controller running the manuallocks controller alone, and builders and readers for
ManualLocks, their Leases and their Events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Event

from tests.support.controller import ControllerProcess
from tests.support.crds import MANUAL_LOCK_CRD, install_crd
from tests.support.wait import eventually
from zen_lead.election import LeaseLock, LeaseRef, lock
from zen_lead.localcluster import ClusterInfo
from zen_lead.localcluster.build import HELM, ensure_go_tool

ManualLock = create_namespaced_resource("coordination.kube-zen.io", "v1alpha1", "ManualLock", "manuallocks")
FINALIZER = "coordination.kube-zen.io/release-lock"


@pytest.fixture(scope="session")
def mlock_crd(kube: Client) -> None:
    install_crd(kube, MANUAL_LOCK_CRD)


@pytest.fixture(scope="session")
def helm() -> Path:
    """Helm, built from its Go module on first use (the chart's tests)."""
    return ensure_go_tool(HELM)


@pytest.fixture
def mlock_controller(
    cluster: ClusterInfo, namespace: str, tmp_path: Path, mlock_crd: None, request: pytest.FixtureRequest
) -> Iterator[ControllerProcess]:
    process = ControllerProcess(
        kubeconfig=cluster.kubeconfig,
        namespace=namespace,
        log_dir=tmp_path,
        extra=["--no-leader-elect", "--controllers=manuallocks"],
    )
    process.start()
    yield process
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- controller log ({process.log_path}) ---\n{process.tail(80)}")


def manual_lock(name: str, namespace: str, **spec: Any) -> Any:
    body = {"lockName": "db", "holder": "ops", **spec}
    if "ttl" not in body and "expiresAt" not in body:
        body["ttl"] = "30m"
    return ManualLock.from_dict(
        {
            "apiVersion": "coordination.kube-zen.io/v1alpha1",
            "kind": "ManualLock",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {k: v for k, v in body.items() if v is not None},
        }
    )


def status(kube: Client, name: str, namespace: str) -> dict[str, Any]:
    return dict(kube.get(ManualLock, name, namespace=namespace).get("status") or {})


def held_condition(found: dict[str, Any]) -> dict[str, Any]:
    [condition] = [c for c in found.get("conditions", []) if c["type"] == "Held"]
    return dict(condition)


def in_phase(kube: Client, name: str, namespace: str, phase: str, **fields: Any) -> dict[str, Any]:
    """Wait until ManualLock ``name`` is in ``phase`` (and its status has ``fields``); return the status."""

    def check() -> dict[str, Any] | None:
        found = status(kube, name, namespace)
        if found.get("phase") != phase or any(found.get(k) != v for k, v in fields.items()):
            return None
        return found

    return eventually(check, timeout=30, what=f"ManualLock {name} {phase} {fields or ''}")


def lease_spec(kube: Client, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        lease = kube.get(Lease, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return lease.spec.to_dict() if lease.spec else {}


def gone(kube: Client, name: str, namespace: str) -> bool:
    try:
        kube.get(ManualLock, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return True
        raise
    return False


def events(kube: Client, namespace: str, name: str, reason: str) -> list[Event]:
    return [
        e
        for e in kube.list(Event, namespace=namespace)
        if e.reason == reason and e.involvedObject.kind == "ManualLock" and e.involvedObject.name == name
    ]


def library_lock(
    cluster: ClusterInfo, namespace: str, *, identity: str, ttl: float = 10, **kwargs: Any
) -> LeaseLock:
    """A ``zen_lead.election.lock()`` holder of Lease ``db`` in ``namespace``, as an application runs it."""
    return lock(
        LeaseRef("db", namespace, kubeconfig=cluster.kubeconfig), ttl=ttl, identity=identity, **kwargs
    )


@asynccontextmanager
async def holding(held: LeaseLock) -> AsyncIterator[int]:
    """Acquire ``held`` (waiting as configured), yield its token, release on exit."""
    fence = await held.acquire()
    try:
        yield fence.token
    finally:
        await held.release()
