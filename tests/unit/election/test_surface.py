"""The public surface without a cluster: argument validation, defaults, wire format, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from prometheus_client import REGISTRY

import zen_lead.election as election
from zen_lead.election import LeaderElector, Leadership, LeaseRef, SyncLeaderElector, Timing, lock
from zen_lead.election.identity import default_identity, default_namespace
from zen_lead.election.record import LeaseRecord
from zen_lead.election.store import record_of, spec_fields
from zen_lead.kube.structs import Lease

KUBECONFIG = "/nonexistent/kubeconfig"  # never read: nothing here talks to an API


def ref(name: str, namespace: str = "") -> LeaseRef:
    return LeaseRef(name, namespace, kubeconfig=KUBECONFIG)


async def idle(leadership: Leadership) -> None:
    del leadership


def test_bad_timing_is_refused_at_construction_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"lease_duration \(3s\) must be greater than renew_deadline \(3s\)"):
        LeaderElector(
            ref("a"),
            on_started_leading=idle,
            timing=Timing(lease_duration=3, renew_deadline=3, retry_period=1),
        )


@pytest.mark.parametrize("name", ["", "UPPER", "under_score", "-dash", "x" * 254])
def test_lease_names_must_be_dns_subdomains(name: str) -> None:
    with pytest.raises(ValueError, match="invalid Lease name"):
        LeaderElector(ref(name), on_started_leading=idle)


def test_empty_identity_and_missing_callback_are_refused() -> None:
    with pytest.raises(ValueError, match="identity must not be empty"):
        LeaderElector(ref("a"), on_started_leading=idle, identity="")
    with pytest.raises(TypeError, match="on_started_leading"):
        LeaderElector(ref("a"), on_started_leading=None)  # type: ignore[arg-type]


def test_sync_facade_validates_in_the_callers_thread() -> None:
    with pytest.raises(ValueError, match="invalid leader-election timing"):
        SyncLeaderElector(ref("a"), timing=Timing(renew_deadline=1, retry_period=1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"ttl": 0.5}, "ttl must be at least 1 second"), ({"ttl": 5, "timeout": -1}, "timeout must be None")],
)
def test_lock_arguments_are_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lock(ref("a", "ns"), **kwargs)


def test_identity_is_the_pod_name_plus_a_suffix_unique_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "web-7d9f")
    first, second = default_identity(), default_identity()
    assert first.startswith("web-7d9f_")
    assert second.startswith("web-7d9f_")
    assert first != second
    monkeypatch.delenv("POD_NAME")
    monkeypatch.setenv("HOSTNAME", "host-1")
    assert default_identity().startswith("host-1_")


def test_namespace_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import zen_lead.election.identity as identity

    monkeypatch.setattr(identity, "SERVICE_ACCOUNT_NAMESPACE", tmp_path / "absent")
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert default_namespace() == "default"
    monkeypatch.setenv("POD_NAMESPACE", "from-env")
    assert default_namespace() == "from-env"
    mounted = tmp_path / "namespace"
    mounted.write_text("from-mount\n")
    monkeypatch.setattr(identity, "SERVICE_ACCOUNT_NAMESPACE", mounted)
    assert default_namespace() == "from-mount"
    elector = LeaderElector(ref("a"), on_started_leading=idle)
    assert elector.lease.namespace == "from-mount"


def test_we_send_all_five_fields_with_client_gos_names_and_string_times() -> None:
    record = LeaseRecord("me", 15, "2024-01-01T00:00:00.000000Z", "2024-01-01T00:00:01.000000Z", 3)
    wire = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": "ns"},
        "spec": spec_fields(record),
    }
    assert json.loads(msgspec.json.encode(wire)) == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": "ns"},
        "spec": {
            "holderIdentity": "me",
            "leaseDurationSeconds": 15,
            "acquireTime": "2024-01-01T00:00:00.000000Z",
            "renewTime": "2024-01-01T00:00:01.000000Z",
            "leaseTransitions": 3,
        },
    }
    assert record_of(msgspec.convert(wire, Lease).spec) == record


def test_a_released_record_keeps_the_empty_holder_on_the_wire() -> None:
    """client-go writes ``holderIdentity: ""`` on release; dropping the field would read the same but
    differ from client-go byte for byte."""
    fields = spec_fields(LeaseRecord("", 1, "t", "t", 2))
    assert fields["holderIdentity"] == ""


def test_missing_fields_read_like_client_go() -> None:
    decoded = msgspec.json.decode(b'{"metadata": {"name": "l", "namespace": "n"}, "spec": {}}', type=Lease)
    assert record_of(decoded.spec) == LeaseRecord("", 0, None, None, 0)


def test_metrics_are_registered_once_with_the_documented_names() -> None:
    names = {metric.name for metric in REGISTRY.collect()}
    for expected in (
        "zen_lead_election_is_leader",
        "zen_lead_election_transitions",
        "zen_lead_election_leadership_duration_seconds",
        "zen_lead_election_api_errors",
    ):
        assert expected in names
    # constructing more electors registers nothing new (no "Duplicated timeseries" error)
    LeaderElector(ref("a"), on_started_leading=idle)
    LeaderElector(ref("a"), on_started_leading=idle)


def test_public_api_is_exported() -> None:
    for name in election.__all__:
        assert getattr(election, name) is not None
    assert "does NOT guarantee" in (election.__doc__ or "")
