"""The informer's handling of one watch line, alone: a deletion always tells its handlers what was
deleted, also when the cache never held the object (a handler given nothing raised, and the event was
lost: a director test saw a leader name never re-served)."""

from __future__ import annotations

import json
from typing import Any

from zen_lead.kube.client import ApiClient
from zen_lead.kube.informer import Change, Informer
from zen_lead.kube.resources import SERVICES
from zen_lead.kube.structs import Service


def line(kind: str, name: str, version: str, labels: dict[str, str]) -> bytes:
    obj = {"metadata": {"name": name, "namespace": "ns", "resourceVersion": version, "labels": labels}}
    return json.dumps({"type": kind, "object": obj}).encode()


def informer(seen: list[tuple[Change, Any, Any]]) -> Informer[Service]:
    client = ApiClient.__new__(ApiClient)  # never used: only the line handling is exercised
    return Informer(client, SERVICES, namespace="ns", handlers=[lambda c, o, n: seen.append((c, o, n))])


def test_a_deletion_the_cache_never_saw_is_dispatched_with_the_events_object() -> None:
    seen: list[tuple[Change, Any, Any]] = []
    informer(seen)._handle_line(line("DELETED", "shared", "7", {"zen-lead.io/source-service": "second"}))
    [(change, old, new)] = seen
    assert change is Change.DELETED
    assert new is None
    assert old is not None
    assert old.metadata.labels["zen-lead.io/source-service"] == "second"


def test_a_deletion_of_a_cached_object_is_dispatched_with_the_cached_object() -> None:
    seen: list[tuple[Change, Any, Any]] = []
    watched = informer(seen)
    watched._handle_line(line("ADDED", "shared", "5", {"a": "1"}))
    watched._handle_line(line("DELETED", "shared", "6", {"a": "1"}))
    assert [c for c, _, _ in seen] == [Change.ADDED, Change.DELETED]
    assert seen[1][1] is seen[0][2]
    assert "ns/shared" not in watched.cache
