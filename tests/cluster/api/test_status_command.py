"""``zen-lead status`` as a user runs it: the table of pools, Services and Leases with their leaders,
and ``--watch`` redrawing when the leader changes."""

from __future__ import annotations

import subprocess
import sys

from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service

ENABLED = {"zen-lead.io/enabled": "true"}


def _status(server: ControllerProcess, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "zen_lead",
            "status",
            "--server",
            f"http://127.0.0.1:{server.port('api')}",
            "--token",
            token,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_lists_leaders_and_watch_redraws(
    kube: Client, namespace: str, api_server: ControllerProcess, reader_token: str
) -> None:
    kube.create(deployment("web", namespace, replicas=1))
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    kube.create(
        Lease(
            metadata=ObjectMeta(name="job", namespace=namespace),
            spec=LeaseSpec(holderIdentity="worker-1", leaseDurationSeconds=60, leaseTransitions=7),
        )
    )

    def table() -> str | None:
        done = _status(api_server, reader_token, "--leases")
        assert done.returncode == 0, done.stderr
        return done.stdout if "web-" in done.stdout else None

    text = eventually(table, timeout=60, what="the Service's leader in the table")
    header, *rows = text.splitlines()
    assert header.split() == ["KIND", "NAME", "LEADER", "TERM", "SINCE", "STATE"]
    by_name = {row.split()[1]: row.split() for row in rows}
    assert by_name["web"][0] == "service"
    assert by_name["web"][2].startswith("web-")
    assert by_name["job"][:4] == ["lease", "job", "worker-1", "7"]

    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zen_lead",
            "status",
            "--server",
            f"http://127.0.0.1:{api_server.port('api')}",
            "--token",
            reader_token,
            "--leases",
            "--watch",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split()[0] == "KIND"  # the first table
        lease = kube.get(Lease, "job", namespace=namespace)
        lease.spec.holderIdentity, lease.spec.leaseTransitions = "worker-2", 8
        kube.replace(lease)
        for line in watcher.stdout:
            if line.split()[:4] == ["lease", "job", "worker-2", "8"]:
                break
        else:
            raise AssertionError("the watch ended without showing the new holder")
    finally:
        watcher.kill()
        watcher.wait()


def test_status_says_what_is_wrong(api_server: ControllerProcess) -> None:
    refused = _status(api_server, "not-a-token")
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
    assert "does not accept this token" in refused.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "zen_lead", "status", "--server", "http://127.0.0.1:1", "--token", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unreachable.returncode == 1
    assert "cannot reach the status API at http://127.0.0.1:1" in unreachable.stderr
