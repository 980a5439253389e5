"""Talking to the status API from tests as its users do: HTTP/JSON with a ServiceAccount's bearer token,
and its event streams read line by line."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lightkube import Client
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.core_v1 import ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

LOCKS_GROUP = "coordination.kube-zen.io"


def token_for(kube: Client, namespace: str, name: str) -> str:
    """A one-hour TokenRequest token of ServiceAccount ``namespace/name`` (made if missing)."""
    try:
        kube.create(ServiceAccount(metadata=ObjectMeta(name=name, namespace=namespace)))
    except Exception as error:  # already there
        if "AlreadyExists" not in str(error) and "already exists" not in str(error):
            raise
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=TokenRequestSpec(audiences=[], expirationSeconds=3600),
    )
    return str(kube.create(request, name, namespace=namespace).status.token)


def grant(kube: Client, namespace: str, name: str, rules: list[PolicyRule]) -> None:
    """A Role of ``rules`` bound to ServiceAccount ``name`` (both named ``name``)."""
    kube.create(Role(metadata=ObjectMeta(name=name, namespace=namespace), rules=rules))
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name=name, namespace=namespace),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        )
    )


READ_ALL = [
    PolicyRule(apiGroups=[""], resources=["services"], verbs=["get", "list", "watch"]),
    PolicyRule(apiGroups=["coordination.k8s.io"], resources=["leases"], verbs=["get", "list", "watch"]),
    PolicyRule(apiGroups=[LOCKS_GROUP], resources=["leaderpolicies"], verbs=["get", "list", "watch"]),
]
LOCKS = [PolicyRule(apiGroups=[LOCKS_GROUP], resources=["locks"], verbs=["get", "update"])]


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class HttpApi:
    port: int
    token: str | None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 70,
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            extra = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers=self._headers({**extra, **(headers or {})}))
            response = connection.getresponse()
            text = response.read()
            parsed = (
                json.loads(text)
                if text and response.getheader("Content-Type", "").startswith("application/json")
                else text
            )
            return Answer(response.status, parsed, dict(response.getheaders()))
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: object = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, body, **kwargs)

    @contextmanager
    def stream(
        self, path: str, *, last_event_id: str | None = None, timeout: float = 30
    ) -> Iterator[Iterator[tuple[str, str, dict[str, Any]]]]:
        """An event stream's events as (event, id, data), read as they come."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = self._headers({"Accept": "text/event-stream"})
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise AssertionError(f"stream {path}: HTTP {response.status}: {response.read()[:300]!r}")

        def events() -> Iterator[tuple[str, str, dict[str, Any]]]:
            fields: dict[str, str] = {}
            while True:
                line = response.fp.readline()
                if not line:
                    return
                text = line.decode().rstrip("\n")
                if not text:
                    if fields:
                        yield fields.get("event", "message"), fields.get("id", ""), json.loads(fields["data"])
                    fields = {}
                    continue
                key, _, value = text.partition(": ")
                fields[key] = value

        try:
            yield events()
        finally:
            connection.close()
