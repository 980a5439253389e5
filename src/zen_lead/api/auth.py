"""Authentication and authorisation by the cluster: TokenReview for the caller's bearer token,
SubjectAccessReview for each operation (``core.access`` fixes the attributes), both answers cached
(allowed longer than denied, ``core.access.CachePolicy``) and counted.

An answer the apiserver could not give (unreachable, 5xx) is not cached and fails the request with
503: the caller is neither let in nor told it is unknown.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec
from prometheus_client import Counter

from zen_lead.api.core.access import Attributes, CachePolicy
from zen_lead.kube.client import ApiClient
from zen_lead.kube.errors import ApiError, TransportError

AUTHN = Counter(
    "zen_lead_api_authentications_total",
    "Bearer tokens checked, by result (authenticated, rejected, error) and whether the cache answered.",
    ["result", "cache"],
)
AUTHZ = Counter(
    "zen_lead_api_authorizations_total",
    "Operations authorised, by verb, resource, result (allowed, denied, error) and whether the cache "
    "answered.",
    ["verb", "resource", "result", "cache"],
)
MAX_CACHED = 10_000
_TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


class Unavailable(Exception):
    """The apiserver could not answer a review: the request cannot be decided now."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """A bounded map whose entries expire (the oldest go first when full)."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._size = size

    def get(self, key: K, now: float) -> tuple[bool, V | None]:
        found = self._items.get(key)
        if found is None or found[0] <= now:
            return False, None
        return True, found[1]

    def put(self, key: K, value: V, until: float) -> None:
        self._items[key] = (until, value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class _UserInfo(msgspec.Struct):
    username: str = ""
    uid: str = ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}


class _TokenStatus(msgspec.Struct):
    authenticated: bool = False
    user: _UserInfo = msgspec.field(default_factory=_UserInfo)
    error: str = ""


class _TokenReview(msgspec.Struct):
    status: _TokenStatus = msgspec.field(default_factory=_TokenStatus)


class _AccessStatus(msgspec.Struct):
    allowed: bool = False
    denied: bool = False
    reason: str = ""


class _AccessReview(msgspec.Struct):
    status: _AccessStatus = msgspec.field(default_factory=_AccessStatus)


class Authenticator:
    def __init__(self, client: ApiClient, policy: CachePolicy, *, timeout: float = 5.0) -> None:
        self.client = client
        self.policy = policy
        self.timeout = timeout
        self._tokens: _Expiring[bytes, User | None] = _Expiring(MAX_CACHED)
        self._access: _Expiring[tuple[User, Attributes], bool] = _Expiring(MAX_CACHED)
        # reviews in flight: a thousand streams opened at once with one token make one review each kind
        self._pending_tokens: dict[bytes, asyncio.Task[User | None]] = {}
        self._pending_access: dict[tuple[User, Attributes], asyncio.Task[bool]] = {}

    async def authenticate(self, token: str) -> User | None:
        """The user ``token`` belongs to, or None when the cluster does not accept it."""
        key = hashlib.sha256(token.encode()).digest()  # the token itself is never kept
        now = time.monotonic()
        hit, user = self._tokens.get(key, now)
        if hit:
            AUTHN.labels("authenticated" if user else "rejected", "hit").inc()
            return user
        return await _joined(self._pending_tokens, key, lambda: self._review_token(key, token, now))

    async def _review_token(self, key: bytes, token: str, now: float) -> User | None:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            review = msgspec.json.decode(
                await self._create(_TOKEN_REVIEWS, "tokenreviews", body), type=_TokenReview
            )
        except Unavailable:
            AUTHN.labels("error", "miss").inc()
            raise
        status = review.status
        user = None
        if status.authenticated and status.user.username:
            info = status.user
            extra = tuple(sorted((k, tuple(v)) for k, v in info.extra.items()))
            user = User(info.username, info.uid, tuple(info.groups), extra)
        self._tokens.put(key, user, now + self.policy.ttl(user is not None))
        AUTHN.labels("authenticated" if user else "rejected", "miss").inc()
        return user

    async def authorize(self, user: User, attributes: Attributes) -> bool:
        now = time.monotonic()
        labels = (attributes.verb, f"{attributes.resource}.{attributes.group}".rstrip("."))
        hit, allowed = self._access.get((user, attributes), now)
        if hit:
            AUTHZ.labels(*labels, "allowed" if allowed else "denied", "hit").inc()
            return bool(allowed)
        key = (user, attributes)
        return await _joined(
            self._pending_access, key, lambda: self._review_access(user, attributes, labels, now)
        )

    async def _review_access(
        self, user: User, attributes: Attributes, labels: tuple[str, str], now: float
    ) -> bool:
        resource = {
            "verb": attributes.verb,
            "group": attributes.group,
            "resource": attributes.resource,
            "namespace": attributes.namespace,
        }
        if attributes.name:
            resource["name"] = attributes.name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user.name,
                "uid": user.uid,
                "groups": list(user.groups),
                "extra": {k: list(v) for k, v in user.extra},
                "resourceAttributes": resource,
            },
        }
        try:
            review = msgspec.json.decode(
                await self._create(_ACCESS_REVIEWS, "subjectaccessreviews", body), type=_AccessReview
            )
        except Unavailable:
            AUTHZ.labels(*labels, "error", "miss").inc()
            raise
        allowed = review.status.allowed and not review.status.denied
        self._access.put((user, attributes), allowed, now + self.policy.ttl(allowed))
        AUTHZ.labels(*labels, "allowed" if allowed else "denied", "miss").inc()
        return allowed

    async def _create(self, path: str, resource: str, body: Mapping[str, object]) -> bytes:
        try:
            return await self.client.request(
                "create", path, resource=resource, body=msgspec.json.encode(body), timeout=self.timeout
            )
        except (ApiError, TransportError, TimeoutError) as error:
            raise Unavailable(f"the apiserver did not answer the {resource[:-1]}: {error}") from error


async def _joined(pending: dict[K, asyncio.Task[V]], key: K, review: Callable[[], Awaitable[V]]) -> V:
    """The answer of the review of ``key`` already in flight, or of a new one (shielded: a caller that
    gives up does not cancel it for the others)."""
    task = pending.get(key)
    if task is None:
        task = asyncio.ensure_future(review())
        pending[key] = task
        task.add_done_callback(lambda _: pending.pop(key, None))
    return await asyncio.shield(task)
