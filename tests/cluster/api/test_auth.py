"""Authentication and authorisation by the cluster, with real ServiceAccounts and RoleBindings: no
token 401, a token the cluster rejects 401, not allowed 403 — nothing read or written for any of them —
and a binding taken away denies once the allowed answer's cache time has passed."""

from __future__ import annotations

from lightkube import Client
from lightkube.models.rbac_v1 import PolicyRule
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from tests.support.api import LOCKS, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service

ENABLED = {"zen-lead.io/enabled": "true"}


def _lease_names(kube: Client, namespace: str) -> set[str]:
    return {lease.metadata.name for lease in kube.list(Lease, namespace=namespace)}


def test_no_token_and_rejected_token_are_401_and_nothing_is_read_or_written(
    kube: Client, namespace: str, api_server: ControllerProcess
) -> None:
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    before = _lease_names(kube, namespace)
    for token in (None, "not-a-token"):
        api = HttpApi(api_server.port("api"), token)
        answer = api.get(f"/v1/leader/service/{namespace}/web")
        assert answer.status == 401, answer.body
        assert answer.body["reason"] == "Unauthorized"
        assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert "hasLeader" not in answer.body
        taken = api.post(f"/v1/locks/job:acquire?namespace={namespace}", {"holder": "me", "ttlSeconds": 10})
        assert taken.status == 401
    assert _lease_names(kube, namespace) == before  # no lock Lease made


def test_each_route_needs_its_own_permission(
    kube: Client, namespace: str, api_server: ControllerProcess
) -> None:
    kube.create(deployment("web", namespace, replicas=1))
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    grant(
        kube, namespace, "services-only", [PolicyRule(apiGroups=[""], resources=["services"], verbs=["get"])]
    )
    api = HttpApi(api_server.port("api"), token_for(kube, namespace, "services-only"))
    eventually(lambda: api.get(f"/v1/leader/service/{namespace}/web").body.get("hasLeader"), timeout=60)

    lease = api.get(f"/v1/leader/lease/zen-lead-manager?namespace={namespace}")
    assert lease.status == 403, lease.body
    assert "leases.coordination.k8s.io 'zen-lead-manager'" in lease.body["message"]
    assert "hasLeader" not in lease.body
    pool = api.get(f"/v1/leader/pool/web?namespace={namespace}")
    assert pool.status == 403
    stream = api.get(f"/v1/leader/service/{namespace}/web", headers={"Accept": "text/event-stream"})
    assert stream.status == 403  # watching is its own verb
    before = _lease_names(kube, namespace)
    taken = api.post(f"/v1/locks/job:acquire?namespace={namespace}", {"holder": "me", "ttlSeconds": 10})
    assert taken.status == 403, taken.body
    assert "update locks.coordination.kube-zen.io 'job'" in taken.body["message"]
    assert _lease_names(kube, namespace) == before

    # the lock permission is its own resource: granting it does not grant Leases, and the reverse
    grant(kube, namespace, "locker", LOCKS)
    locker = HttpApi(api_server.port("api"), token_for(kube, namespace, "locker"))
    held = locker.post(f"/v1/locks/job:acquire?namespace={namespace}", {"holder": "me", "ttlSeconds": 10})
    assert held.status == 200, held.body
    assert locker.get(f"/v1/leader/lease/job?namespace={namespace}").status == 403


def test_a_binding_taken_away_denies_after_the_cache_time(
    kube: Client, namespace: str, api_server: ControllerProcess
) -> None:
    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    grant(kube, namespace, "reader", [PolicyRule(apiGroups=[""], resources=["services"], verbs=["get"])])
    api = HttpApi(api_server.port("api"), token_for(kube, namespace, "reader"))
    path = f"/v1/leader/service/{namespace}/web"
    assert api.get(path).status == 200
    assert api_server.metric("zen_lead_api_authorizations_total", result="allowed") >= 1
    kube.delete(RoleBinding, "reader", namespace=namespace)
    # allowed answers are cached for 2 s here (--api-auth-cache-allowed-ttl): then the review says no
    denied = eventually(lambda: (a := api.get(path)).status == 403 and a, timeout=15, what="a 403")
    assert denied.body["reason"] == "Forbidden"
    assert api_server.metric("zen_lead_api_authorizations_total", result="denied") >= 1
    assert api_server.metric("zen_lead_api_authorizations_total", cache="hit") >= 0


def test_concurrent_first_requests_share_one_review(
    kube: Client, namespace: str, api_server: ControllerProcess
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    kube.create(service("web", namespace, selector={"app": "web"}, annotations=ENABLED))
    grant(kube, namespace, "many", [PolicyRule(apiGroups=[""], resources=["services"], verbs=["get"])])
    api = HttpApi(api_server.port("api"), token_for(kube, namespace, "many"))

    def misses() -> tuple[float, float]:
        return (
            api_server.metric("zen_lead_api_authentications_total", cache="miss"),
            api_server.metric("zen_lead_api_authorizations_total", cache="miss"),
        )

    before = misses()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: api.get(f"/v1/leader/service/{namespace}/web").status, range(20)))
    assert answers == [200] * 20
    after = misses()
    # one TokenReview and one SubjectAccessReview for all twenty (the others waited for them or hit the cache)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
