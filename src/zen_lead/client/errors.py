"""The client's errors. Every failed call raises an ``ApiError`` (its ``code`` is the gRPC status
name); the lock's own outcomes have their own types. Nothing here needs grpc."""

from __future__ import annotations


class ClientError(Exception):
    """Any error of ``zen_lead.client``."""


class ApiError(ClientError):
    """The server (or the connection to it) refused or failed a call."""

    def __init__(self, code: str, details: str, *, method: str = "") -> None:
        super().__init__(f"{method + ': ' if method else ''}{code}: {details}")
        self.code = code  # a grpc.StatusCode name: "UNAVAILABLE", "PERMISSION_DENIED", ...
        self.details = details
        self.method = method


class UnauthenticatedError(ApiError):
    """No token, or the cluster did not accept it (UNAUTHENTICATED)."""


class PermissionDeniedError(ApiError):
    """The cluster's authorisation refused this call to the token's user (PERMISSION_DENIED)."""


class UnavailableError(ApiError):
    """No server answered, or it refused to answer from a stale view (UNAVAILABLE)."""


class LockNotAcquiredError(ClientError, TimeoutError):
    """The lock stayed held by someone else for as long as the caller would wait."""


class LockLostError(ClientError):
    """A held lock was lost: no renewal succeeded for 2/3 of its ttl, or someone else holds it now."""


_BY_CODE: dict[str, type[ApiError]] = {
    "UNAUTHENTICATED": UnauthenticatedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "UNAVAILABLE": UnavailableError,
}


def api_error(code: str, details: str, *, method: str = "") -> ApiError:
    """The ``ApiError`` (of the most precise type) for a status ``code`` name."""
    return _BY_CODE.get(code, ApiError)(code, details, method=method)
