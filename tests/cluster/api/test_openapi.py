"""The OpenAPI document against the real server.

schemathesis generates requests from the document the server serves (valid ones, and invalid ones that
break one of its rules), sends them to a controller on the real cluster as a ServiceAccount that may read
every leader and take locks in the test namespace, and checks every answer: its status code is one the
operation documents, its content type and body are the documented ones (each event of a stream too),
it is never a 5xx, and an invalid request is refused. Known answers (a Lease holder, a Service leader, a
lock's whole life) are checked the same way, and plain tests keep the repo's copy equal to what is
served and the document's routes equal to those the app registers.

schemathesis's own pytest loader (``schemathesis.pytest.from_fixture``) reads ``Node._nodeid``, which
pytest 9.2 no longer has; the tests drive its Hypothesis strategies (``APIOperation.as_strategy``)
directly, one subtest per operation and mode.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import LOCKS, READ_ALL, HttpApi, grant, token_for
from tests.support.controller import ControllerProcess
from tests.support.wait import eventually
from tests.support.workload import deployment, service
from zen_lead.api.http import build_api_app, openapi_document

REPO_DOCUMENT = Path(__file__).parents[3] / "src/zen_lead/api/openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 30  # per operation and mode (valid, invalid, stream): the whole run stays well under a minute
STREAM_EXAMPLES = 10
#: A generated acquire may ask to wait up to the documented 60 s for a lock another example holds:
#: that is the lock's behaviour, not the document's, so examples wait at most this long.
EXAMPLE_WAIT_MAX = 0.2
EVENT_STREAM = {"Accept": "text/event-stream"}
Operation = APIOperation[Any, Any, Any, Any]


@pytest.fixture
def locker_token(kube: Client, namespace: str) -> str:
    """A ServiceAccount that may read every kind of leader and take locks in the namespace."""
    grant(kube, namespace, "locker", [*READ_ALL, *LOCKS])
    return token_for(kube, namespace, "locker")


@pytest.fixture
def served_schema(api_server: ControllerProcess) -> BaseSchema:
    """The document as the server serves it (its JSON form), aimed at that server."""
    base = f"http://127.0.0.1:{api_server.port('api')}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", timeout=10)
    schema.config.update(base_url=base, request_timeout=10)
    schema.config.max_stream_events = 1  # a stream's first event (the snapshot) comes at once
    # Invalid requests break the document's rules, not HTTP's: no unknown query parameters (HTTP APIs
    # ignore those), and the token is always sent (its absence is test_bad_input's 401 case).
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    return schema


def test_answers_conform_to_the_document(
    served_schema: BaseSchema, namespace: str, locker_token: str, subtests: pytest.Subtests
) -> None:
    """Every operation, valid and invalid requests (and the leader routes' streams): each answer
    conforms, and the valid requests were served (not all refused: that would check nothing)."""
    operations = []
    for result in served_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # every operation of the document is usable
        operations.append(result.ok())
    documented = {
        f"{m.upper()} {p}" for p, ops in yaml.safe_load(openapi_document())["paths"].items() for m in ops
    }
    # schemathesis leaves out the document it was loaded from
    assert {o.label for o in operations} == documented - {"GET /openapi.json"}
    token = {"Authorization": f"Bearer {locker_token}"}
    seen: dict[str, Counter[int]] = defaultdict(Counter)
    for operation in operations:
        # an operation without parameters or body has no invalid request to make
        modes = list(GenerationMode) if operation.path.startswith("/v1/") else [GenerationMode.POSITIVE]
        runs = [(mode, token, EXAMPLES) for mode in modes]
        if operation.path.startswith("/v1/leader/"):
            runs.append((GenerationMode.POSITIVE, {**token, **EVENT_STREAM}, STREAM_EXAMPLES))
        for mode, headers, examples in runs:
            label = f"{operation.label} ({mode.value}{', stream' if 'Accept' in headers else ''})"
            query, path = _fixed(operation, namespace)
            strategy = operation.as_strategy(generation_mode=mode, query=query, path_parameters=path)
            with subtests.test(msg=label):
                _send_and_check(strategy, headers, examples, seen[label])
    for label, answers in seen.items():
        if "(positive" not in label:
            continue
        assert not answers.keys() & {401, 403}, f"{label}: the caller was refused: {answers}"
        if not label.startswith(("GET /v1/locks/{name} ", "POST /v1/locks/{name}:renew ")):  # 404, 409
            assert any(200 <= status < 300 for status in answers), f"{label}: no 2xx: {answers}"


def _fixed(operation: Operation, namespace: str) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The namespace, as a query parameter or the Service route's path segment, is the test's."""
    query, path = (
        {"namespace": namespace} if any(p.name == "namespace" for p in parameters) else None
        for parameters in (operation.query, operation.path_parameters)
    )
    return query, path


def _send_and_check(
    strategy: SearchStrategy[Case[Any]], headers: dict[str, str], examples: int, seen: Counter[int]
) -> None:
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def send(case: Case[Any]) -> None:
        _bounded(case, stream="Accept" in headers)
        answer = case.call_and_validate(headers=headers, checks=CHECKS)
        seen[answer.status_code] += 1
        _check_event_data(case, answer)

    send()


def _bounded(case: Case[Any], *, stream: bool) -> None:
    """No example waits: for a lock another example holds, or (a stream resuming after a term this
    cache has not reached) for the cache to catch up."""
    if isinstance(case.body, dict):
        wait = case.body.get("waitSeconds")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > EXAMPLE_WAIT_MAX:
            case.body["waitSeconds"] = EXAMPLE_WAIT_MAX
    if stream:
        case.query = {**(case.query or {}), "afterTerm": 0}
        if case.headers is not None:
            case.headers.pop("Last-Event-ID", None)  # case-insensitive


def _check_event_data(case: Case[Any], answer: Response) -> None:
    """An event's ``data`` is a LeaderState: checked as the operation's JSON answer would be (OpenAPI
    3.0 cannot say that a string holds JSON of a schema; 3.0's event schema checks the rest)."""
    if not answer.headers.get("content-type", [""])[0].startswith("text/event-stream"):
        return
    frames = [frame for frame in answer.content.split(b"\n\n") if frame.strip()]
    assert frames, "a stream without its snapshot"
    for frame in frames:
        data = [line.removeprefix(b"data: ") for line in frame.split(b"\n") if line.startswith(b"data: ")]
        as_json = Response(
            status_code=answer.status_code,
            headers={"content-type": ["application/json"]},
            content=b"\n".join(data),
            request=answer.request,
            elapsed=answer.elapsed,
            verify=answer.verify,
        )
        case.validate_response(as_json, checks=[response_schema_conformance])


def test_known_answers_conform(
    served_schema: BaseSchema, kube: Client, namespace: str, locker_token: str
) -> None:
    """The answers fuzzing rarely reaches: a held Lease, a Service's leader pod (JSON and its
    stream's snapshot), every kind in the list, and a lock acquired, read, renewed and released."""
    now = datetime.now(UTC)
    kube.create(
        Lease(
            metadata=ObjectMeta(name="held.by-someone", namespace=namespace),
            spec=LeaseSpec(holderIdentity="someone", leaseDurationSeconds=60, acquireTime=now, renewTime=now),
        )
    )
    kube.create(deployment("web", namespace, replicas=1))
    kube.create(
        service("web", namespace, selector={"app": "web"}, annotations={"zen-lead.io/enabled": "true"})
    )
    token = {"Authorization": f"Bearer {locker_token}"}
    ns = {"namespace": namespace}
    web: dict[str, Any] = {"path_parameters": {"namespace": namespace, "name": "web"}}
    lock: dict[str, Any] = {"path_parameters": {"name": "job"}, "query": ns}

    def call(path: str, method: str = "GET", *, headers: dict[str, str] | None = None, **parts: Any) -> Any:
        case = served_schema[path][method].Case(**parts)
        answer = case.call_and_validate(headers={**token, **(headers or {})}, checks=CHECKS)
        assert answer.status_code == 200, answer.text
        return answer

    held = call("/v1/leader/lease/{name}", path_parameters={"name": "held.by-someone"}, query=ns).json()
    assert (held["hasLeader"], held["leader"]) == (True, {"identity": "someone"})
    leading = eventually(
        lambda: (s := call("/v1/leader/service/{namespace}/{name}", **web).json())["hasLeader"] and s,
        timeout=60,
        what="a leader pod for web",
    )
    assert set(leading["leader"]) == {"identity", "pod", "uid", "podIP", "node"}
    stream_case = served_schema["/v1/leader/service/{namespace}/{name}"]["GET"].Case(**web)
    stream = stream_case.call_and_validate(headers={**token, **EVENT_STREAM}, checks=CHECKS)
    assert stream.status_code == 200
    assert stream.headers["content-type"][0].startswith("text/event-stream")
    _check_event_data(stream_case, stream)
    assert stream.content.startswith(b"id: 1\nevent: snapshot\n")
    assert b'"hasLeader":true' in stream.content
    for kind in ("pool", "service", "lease"):
        call("/v1/leaders", query={**ns, "kind": kind})
    listed = call("/v1/leaders", query=ns).json()
    assert [(s["kind"], s["name"]) for s in listed["leaders"]] == [("service", "web")]

    tenure = {"holder": "me", "ttlSeconds": 30}
    taken = call("/v1/locks/{name}:acquire", "POST", body=tenure, **lock).json()
    assert (taken["held"], taken["holder"]) == (True, "me")
    assert call("/v1/locks/{name}", **lock).json()["token"] == taken["token"]
    mine = {"holder": "me", "token": taken["token"]}
    call("/v1/locks/{name}:renew", "POST", body=mine, **lock)
    assert call("/v1/locks/{name}:release", "POST", body=mine, **lock).json() == {"released": True}
    assert call("/v1/locks/{name}:release", "POST", body=mine, **lock).json() == {"released": False}
    call("/openapi.yaml")
    call("/openapi.json")


def test_served_document_is_the_repos(http: HttpApi) -> None:
    """The served copy is the repo's, and it is valid OpenAPI 3.0 (schemathesis checks it against the
    specification's own schema)."""
    text = REPO_DOCUMENT.read_text()
    schemathesis.openapi.from_dict(yaml.safe_load(text)).validate()
    as_yaml = http.get("/openapi.yaml")
    assert as_yaml.status == 200
    assert as_yaml.headers["Content-Type"].startswith("application/yaml")
    assert as_yaml.body.decode() == text
    as_json = http.get("/openapi.json")
    assert as_json.status == 200
    assert as_json.body == yaml.safe_load(text)


def test_document_lists_exactly_the_registered_routes(http: HttpApi) -> None:
    app = build_api_app(None)  # type: ignore[arg-type]  # its routes only: it serves no request
    registered = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    document = yaml.safe_load(openapi_document())
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}
    actions = {path.rpartition(":")[2] for _, path in documented if path.startswith("/v1/locks/{name}:")}
    assert actions == {"acquire", "renew", "release"}
    # aiohttp cannot match a suffix after a variable segment: one route, /v1/locks/{action}, parses
    # the lock's name and the action itself
    routed = {(m, "/v1/locks/{action}" if p.startswith("/v1/locks/{name}:") else p) for m, p in documented}
    assert registered == routed, json.dumps(
        {"undocumented": sorted(registered - routed), "not served": sorted(routed - registered)}, indent=1
    )
    # ...and that route knows exactly the documented actions: each gets as far as its body
    for action in sorted(actions):
        answer = http.post(f"/v1/locks/x:{action}", {})
        assert (answer.status, answer.body["field"]) == (400, "holder"), (action, answer.body)
    unknown = http.post("/v1/locks/x:steal", {"holder": "me", "token": 0})
    assert (unknown.status, unknown.body["field"]) == (400, "path")
