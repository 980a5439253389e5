"""Bad input to the status and lock API, on the real cluster: each bad request gets its precise error
(HTTP status, ``reason``, and ``field`` naming what broke a rule), writes nothing (no Lease in the
namespace changes, the controller sends the apiserver no Lease write) and leaves the server serving;
a refused caller (401, 403) is told nothing about any leader or lock. And a stream that never reads
costs bounded memory, does not slow other requests, and is dropped once a write has waited
``WRITE_TIMEOUT``.

The server runs without leader election (``--no-leader-elect``): no manager Lease is renewed in the
namespace, so the controller's only Lease writes would be the API's and "nothing written" is exact.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.types import PatchType

from tests.cluster.api.conftest import ServerFactory
from tests.support.api import LOCKS, READ_ALL, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.metrics import metric_sum
from tests.support.wait import eventually
from zen_lead.api.http import MAX_BODY, WRITE_TIMEOUT

WRITE_VERBS = ("create", "patch", "update", "apply", "delete")
HOLDER = "holder-only-the-locker-knows"  # the lock's holder: no refused caller may see it
LEASE_HOLDER = "lease-holder-only-readers-know"
ERROR_KEYS = {"code", "reason", "message", "field"}
TOKEN = 0  # the first tenure's fencing token


REASONS = {400: "Invalid", 401: "Unauthorized", 403: "Forbidden", 413: "TooLarge"}


@dataclass(frozen=True)
class Bad:
    """One bad request and the error it must get: ``status`` (its ``reason`` follows from it) and
    ``field``, the field the error names (None: it names none)."""

    id: str
    method: str
    path: str  # {ns} is the test namespace
    status: int
    field: str | None
    body: object = None
    raw: bytes | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    caller: str = "locker"  # locker | nobody (no permission) | none (no token) | bogus (rejected token)

    @property
    def reason(self) -> str:
        return REASONS[self.status]


ACQUIRE = "/v1/locks/free:acquire?namespace={ns}"  # a free lock: an acquire let through would write
RENEW = "/v1/locks/job:renew?namespace={ns}"  # the held lock: a renewal let through would write
RELEASE = "/v1/locks/job:release?namespace={ns}"
LOCK = "/v1/locks/job?namespace={ns}"
LEASE = "/v1/leader/lease/held?namespace={ns}"
GOOD = {"holder": "me", "ttlSeconds": 30}
MINE = {"holder": HOLDER, "token": TOKEN}  # the held lock's tenure: only a broken request is refused
STREAM = {"Accept": "text/event-stream"}

# fmt: off
CASES = [
    # bodies: not JSON, not an object, unknown fields, wrong types, missing fields
    Bad("malformed-json", "POST", ACQUIRE, 400, "body", raw=b'{"holder": "me", "ttlSeconds": 30'),
    Bad("empty-body", "POST", ACQUIRE, 400, "body", raw=b""),
    Bad("json-array", "POST", ACQUIRE, 400, "body", raw=b'[{"holder": "me", "ttlSeconds": 30}]'),
    Bad("json-string", "POST", RENEW, 400, "body", raw=b'"holder"'),
    Bad("unknown-field", "POST", ACQUIRE, 400, "owner", body={**GOOD, "owner": "someone-else"}),
    Bad("unknown-field-renew", "POST", RENEW, 400, "ttlSeconds", body={**MINE, "ttlSeconds": 30}),
    Bad("string-ttl", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": "30"}),
    Bad("bool-ttl", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": True}),
    Bad("float-ttl", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": 30.5}),
    Bad("float-token", "POST", RENEW, 400, "token", body={**MINE, "token": float(TOKEN)}),
    Bad("string-token", "POST", RENEW, 400, "token", body={**MINE, "token": str(TOKEN)}),
    Bad("negative-token", "POST", RENEW, 400, "token", body={**MINE, "token": -1}),
    Bad("huge-token", "POST", RENEW, 400, "token", body={**MINE, "token": 10**20}),
    Bad("missing-token", "POST", RELEASE, 400, "token", body={"holder": HOLDER}),
    Bad("missing-holder", "POST", ACQUIRE, 400, "holder", body={"ttlSeconds": 30}),
    Bad("null-holder", "POST", ACQUIRE, 400, "holder", body={**GOOD, "holder": None}),
    Bad("empty-holder", "POST", ACQUIRE, 400, "holder", body={**GOOD, "holder": ""}),
    Bad("long-holder", "POST", ACQUIRE, 400, "holder", body={**GOOD, "holder": "h" * 129}),
    Bad("control-char-holder", "POST", ACQUIRE, 400, "holder", body={**GOOD, "holder": "me\nyou"}),
    # numbers out of range
    Bad("ttl-0", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": 0}),
    Bad("ttl-1", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": 1}),
    Bad("ttl-3601", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": 3601}),
    Bad("ttl-huge", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": 10**30}),
    Bad("ttl-negative", "POST", ACQUIRE, 400, "ttlSeconds", body={**GOOD, "ttlSeconds": -30}),
    Bad("wait-negative", "POST", ACQUIRE, 400, "waitSeconds", body={**GOOD, "waitSeconds": -1}),
    Bad("wait-61", "POST", ACQUIRE, 400, "waitSeconds", body={**GOOD, "waitSeconds": 61}),
    Bad("wait-nan-string", "POST", ACQUIRE, 400, "waitSeconds", body={**GOOD, "waitSeconds": "NaN"}),
    Bad("wait-infinite", "POST", ACQUIRE, 400, "waitSeconds", raw=b'{"holder": "me", "ttlSeconds": 30, '
        b'"waitSeconds": 1e999}'),
    Bad("wait-nan-literal", "POST", ACQUIRE, 400, "body", raw=b'{"holder": "me", "ttlSeconds": 30, '
        b'"waitSeconds": NaN}'),  # NaN is not JSON
    # names that are not DNS labels (a lock's) or subdomains (a Lease's)
    Bad("lock-upper-case", "POST", "/v1/locks/Free:acquire?namespace={ns}", 400, "name", body=GOOD),
    Bad("lock-64-chars", "POST", "/v1/locks/" + "a" * 64 + ":acquire?namespace={ns}", 400, "name", body=GOOD),
    Bad("lock-unicode", "POST", "/v1/locks/fr%C3%A9e:acquire?namespace={ns}", 400, "name", body=GOOD),
    Bad("lock-dots", "POST", "/v1/locks/free.lock:acquire?namespace={ns}", 400, "name", body=GOOD),
    Bad("lock-get-dots", "GET", "/v1/locks/job.x?namespace={ns}", 400, "name"),
    Bad("namespace-upper-case", "POST", ACQUIRE.format(ns="Upper"), 400, "namespace", body=GOOD),
    Bad("pool-upper-case", "GET", "/v1/leader/pool/Web?namespace={ns}", 400, "name"),
    Bad("lease-underscore", "GET", "/v1/leader/lease/held_lease?namespace={ns}", 400, "name"),
    Bad("service-namespace", "GET", "/v1/leader/service/Bad_NS/web", 400, "namespace"),
    # query parameters and stream headers
    Bad("leaders-kind", "GET", "/v1/leaders?namespace={ns}&kind=pods", 400, "kind"),
    Bad("fresh-value", "GET", LEASE + "&fresh=maybe", 400, "fresh"),
    Bad("after-term", "GET", LEASE + "&afterTerm=-1", 400, "afterTerm"),
    Bad("heartbeat-range", "GET", LEASE + "&heartbeatSeconds=0.5", 400, "heartbeatSeconds", headers=STREAM),
    Bad("last-event-id", "GET", LEASE, 400, "Last-Event-ID", headers={**STREAM, "Last-Event-ID": "7t"}),
    Bad("stream-after-term", "GET", LEASE + "&afterTerm=7x", 400, "afterTerm", headers=STREAM),
    # sizes and actions
    Bad("oversized-body", "POST", ACQUIRE, 413, None, body={**GOOD, "holder": "h" * (MAX_BODY + 1)}),
    Bad("unknown-action", "POST", "/v1/locks/job:steal?namespace={ns}", 400, "path", body=MINE),
    Bad("no-action", "POST", LOCK, 400, "path", body=MINE),
    # refused callers: told nothing (no leader, no lock), and nothing written for them
    Bad("no-token", "GET", LEASE, 401, None, caller="none"),
    Bad("no-token-acquire", "POST", ACQUIRE, 401, None, body=GOOD, caller="none"),
    Bad("basic-auth", "GET", LOCK, 401, None, caller="none", headers={"Authorization": "Basic bWU6cGFzcw=="}),
    Bad("rejected-token", "GET", LOCK, 401, None, caller="bogus"),
    Bad("rejected-token-renew", "POST", RENEW, 401, None, body=MINE, caller="bogus"),
    Bad("forbidden-leader", "GET", LEASE, 403, None, caller="nobody"),
    Bad("forbidden-stream", "GET", LEASE, 403, None, caller="nobody", headers=STREAM),
    Bad("forbidden-list", "GET", "/v1/leaders?namespace={ns}&kind=lease", 403, None, caller="nobody"),
    Bad("forbidden-lock", "GET", LOCK, 403, None, caller="nobody"),
    Bad("forbidden-acquire", "POST", ACQUIRE, 403, None, body=GOOD, caller="nobody"),
    Bad("forbidden-release", "POST", RELEASE, 403, None, body=MINE, caller="nobody"),
]
# fmt: on


@pytest.fixture
def quiet_server(api_servers: ServerFactory) -> ControllerProcess:
    return api_servers(extra=["--no-leader-elect"])


@pytest.fixture
def callers(kube: Client, namespace: str, quiet_server: ControllerProcess) -> dict[str, HttpApi]:
    grant(kube, namespace, "locker", [*READ_ALL, *LOCKS])
    port = quiet_server.port("api")
    return {
        "locker": HttpApi(port, token_for(kube, namespace, "locker")),
        "nobody": HttpApi(port, token_for(kube, namespace, "nobody")),  # a ServiceAccount, no Role
        "none": HttpApi(port, None),
        "bogus": HttpApi(port, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl"),
    }


def _hold(kube: Client, namespace: str, name: str, holder: str, *, transitions: int = 1) -> None:
    spec = LeaseSpec(
        holderIdentity=holder,
        leaseDurationSeconds=3600,
        leaseTransitions=transitions,
        acquireTime=datetime.now(UTC),
        renewTime=datetime.now(UTC),
    )
    kube.create(Lease(metadata=ObjectMeta(name=name, namespace=namespace), spec=spec))


def _lease_versions(kube: Client, namespace: str) -> dict[str, str]:
    versions = {}
    for lease in kube.list(Lease, namespace=namespace):
        assert lease.metadata is not None
        versions[str(lease.metadata.name)] = str(lease.metadata.resourceVersion)
    return versions


def _lease_writes(server: ControllerProcess) -> float:
    """The Lease writes the controller sent the apiserver (``zen_lead_api_requests_total``)."""
    text = server.metrics()
    return sum(
        metric_sum(text, "zen_lead_api_requests_total", resource="leases", verb=verb) for verb in WRITE_VERBS
    )


def test_bad_requests_get_precise_errors_and_write_nothing(
    kube: Client,
    namespace: str,
    quiet_server: ControllerProcess,
    callers: dict[str, HttpApi],
    subtests: pytest.Subtests,
) -> None:
    locker = callers["locker"]
    taken = locker.post(
        f"/v1/locks/job:acquire?namespace={namespace}", {"holder": HOLDER, "ttlSeconds": 3600}
    )
    assert taken.status == 200, taken.body
    token = taken.body["token"]
    assert token == TOKEN  # the cases' renewals carry the right holder and token but a broken body
    _hold(kube, namespace, "held", LEASE_HOLDER)
    eventually(lambda: locker.get(f"/v1/leader/lease/held?namespace={namespace}").body["hasLeader"])
    versions, writes = _lease_versions(kube, namespace), _lease_writes(quiet_server)
    assert set(versions) == {"job", "held"}

    for case in CASES:
        with subtests.test(msg=case.id):
            answer = _send(callers, case, namespace)
            assert answer.status == case.status, answer.body
            body = answer.body
            assert isinstance(body, dict), body
            assert body.keys() <= ERROR_KEYS
            assert (body["code"], body["reason"], body.get("field")) == (case.status, case.reason, case.field)
            if case.field is not None:  # the message says which field and which rule
                assert body["message"].startswith(f"{case.field}: "), body["message"]
            if case.status == 401:
                assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer"), answer.headers
            if case.status in (401, 403):
                assert body.keys() == {"code", "reason", "message"}  # no lock, no leader, no token
                assert not {HOLDER, LEASE_HOLDER} & set(re.findall(r"[\w-]+", json.dumps(body))), body
            assert _lease_versions(kube, namespace) == versions, "a Lease was written"
            assert _lease_writes(quiet_server) == writes, "the controller wrote a Lease"
            good = locker.get(f"/v1/locks/job?namespace={namespace}", timeout=5)
            assert good.status == 200, good.body
            assert (good.body["holder"], good.body["token"], good.body["held"]) == (HOLDER, token, True)


def _send(callers: dict[str, HttpApi], case: Bad, namespace: str) -> Any:
    client = callers[case.caller]
    return client.request(
        case.method, case.path.format(ns=namespace), case.body, raw=case.raw, headers=case.headers, timeout=10
    )


# ---- a stream that never reads --------------------------------------------------------------------
BIG_HOLDER = 200_000  # characters of holder identity: each event is ~200 KB, so 200 of them (40 MB)
UPDATES = 200  # overflow every socket buffer between the server and a reader that does not read
RSS_GROWTH_MAX = 20 * 1024 * 1024


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _open_stream(port: int, token: str, path: str) -> socket.socket:
    """Send a stream request on a socket with a tiny receive buffer, and never read it here."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window stays small
    sock.connect(("127.0.0.1", port))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


def _server_side(port: int, client: socket.socket) -> tuple[str, int] | None:
    """The server's end of ``client``'s connection in /proc/net/tcp: (state, bytes queued to send)."""
    client_port = client.getsockname()[1]
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
                tx_queue = int(fields[4].split(":")[0], 16)
                return {"01": "ESTABLISHED"}.get(state, state), tx_queue
    return None


def _read_events(sock: socket.socket, *, until_term: int, timeout: float) -> list[tuple[int, str]]:
    """(term, event) of each event read, until one of ``until_term`` arrived."""
    sock.settimeout(timeout)
    buffer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buffer += chunk
        events = [(int(t), e.decode()) for t, e in re.findall(rb"id: (\d+)\nevent: (\w+)\n", buffer)]
        if events and events[-1][0] >= until_term:
            return events
    raise AssertionError(f"no event of term {until_term} within {timeout}s: {buffer[-300:]!r}")


@pytest.fixture
def big_lease(kube: Client, namespace: str) -> str:
    _hold(kube, namespace, "big", "0" * BIG_HOLDER, transitions=0)
    return "big"


def test_a_stream_that_never_reads_costs_bounded_memory_and_is_dropped(
    kube: Client, namespace: str, quiet_server: ControllerProcess, callers: dict[str, HttpApi], big_lease: str
) -> None:
    locker = callers["locker"]
    port = quiet_server.port("api")
    pid = quiet_server.proc.pid if quiet_server.proc else 0
    path = f"/v1/leader/lease/{big_lease}?namespace={namespace}&heartbeatSeconds=300"
    assert locker.get(path).status == 200  # the paths warmed up before measuring
    assert locker.token is not None
    never_read = _open_stream(port, locker.token, path)
    read_late = _open_stream(port, locker.token, path)  # read once the changes are over
    eventually(lambda: (s := _server_side(port, never_read)) and s[1] > 0, what="the snapshot sent")
    before = _rss(pid)

    for term in range(1, UPDATES + 1):
        holder = f"{term:06d}" + "x" * (BIG_HOLDER - 6)
        change = {"spec": {"holderIdentity": holder, "leaseTransitions": term}}
        kube.patch(Lease, big_lease, change, namespace=namespace, patch_type=PatchType.MERGE)
    latest = eventually(
        lambda: (a := locker.get(path)).body["term"] == UPDATES and a,
        timeout=60,
        what="the last change served",
    )
    started = time.monotonic()
    assert locker.get(f"/v1/locks/none?namespace={namespace}", timeout=5).status == 404
    assert time.monotonic() - started < 2.0, "the server is slow to answer while writers are stuck"
    assert latest.body["leader"]["identity"].startswith(f"{UPDATES:06d}")
    state, queued = _server_side(port, never_read) or ("gone", 0)
    assert (state, queued > 0) == ("ESTABLISHED", True), (state, queued)  # its writer is stuck
    grown = _rss(pid) - before
    assert grown < RSS_GROWTH_MAX, f"RSS grew {grown / 2**20:.1f} MiB with {UPDATES} unread ~200 KB events"

    # coalesced: the late reader gets what the buffers held, then the latest state, not every change
    events = _read_events(read_late, until_term=UPDATES, timeout=30)
    assert events[0][1] == "snapshot"
    assert events[-1] == (UPDATES, "change")
    assert len(events) < UPDATES / 2, f"{len(events)} events: not coalesced"
    assert [t for t, _ in events] == sorted({t for t, _ in events})
    read_late.close()

    # dropped: past WRITE_TIMEOUT the server lets the writer go (its end of the connection closes)
    eventually(
        lambda: (s := _server_side(port, never_read)) is None or s[0] != "ESTABLISHED",
        timeout=WRITE_TIMEOUT + 15,
        interval=0.5,
        what="the never-reading stream dropped",
    )
    never_read.close()
    assert locker.get(f"/v1/locks/none?namespace={namespace}", timeout=5).status == 404
