"""Stale answers: with the apiserver paused (SIGSTOP), the server keeps answering from its cache but
says the answer may be stale once it has been cut off past its bound, refuses it when asked to
(``?fresh=true``: 503), tells its watchers, and is fresh again once the apiserver answers."""

from __future__ import annotations

import os
import signal
import time

from lightkube import Client

from tests.cluster.api.conftest import ServerFactory
from tests.cluster.election.test_outage import apiserver_pid
from tests.support.api import HttpApi
from tests.support.wait import eventually
from tests.support.workload import deployment, service
from zen_lead.localcluster import ClusterInfo

ENABLED = {"zen-lead.io/enabled": "true"}


def test_paused_apiserver_makes_answers_stale_then_fresh_again(
    kube: Client, namespace: str, cluster: ClusterInfo, api_servers: ServerFactory, reader_token: str
) -> None:
    # reviews cached for a minute: a request during the pause is decided without the apiserver
    server = api_servers(extra=["--api-auth-cache-allowed-ttl=60s", "--no-leader-elect"])
    kube.create(deployment("web", namespace, replicas=1))
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    api = HttpApi(server.port("api"), reader_token)
    path = f"/v1/leader/service/{namespace}/web"
    leader = eventually(lambda: (a := api.get(path).body).get("hasLeader") and a, timeout=60, what="a leader")
    assert leader["stale"] is False
    assert api.get(path + "?fresh=true").status == 200
    with api.stream(path, timeout=30) as events:
        kind, _, snapshot = next(events)
        assert (kind, snapshot["stale"]) == ("snapshot", False)
        pid = apiserver_pid(cluster)
        os.kill(pid, signal.SIGSTOP)
        try:
            paused = time.monotonic()
            stale = eventually(
                lambda: (a := api.get(path, timeout=5).body).get("stale") and a,
                timeout=15,
                what="a stale answer",
            )
            assert time.monotonic() - paused >= 3 - 0.5  # not before the bound (3 s here)
            assert stale["staleSeconds"] >= 3
            assert stale["hasLeader"] is True
            assert stale["leader"] == leader["leader"]
            refused = api.get(path + "?fresh=true", timeout=5)
            assert (refused.status, refused.body["reason"]) == (503, "Stale"), refused.body
            kind, _, told = next(events)
            assert (kind, told["stale"]) == ("change", True)
        finally:
            os.kill(pid, signal.SIGCONT)
        kind, _, fresh = next(events)
        assert (kind, fresh["stale"]) == ("change", False)
    eventually(lambda: api.get(path + "?fresh=true").status == 200, timeout=30, what="fresh answers")
