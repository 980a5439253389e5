"""Errors of the API layer."""

from __future__ import annotations


class ApiError(Exception):
    """The apiserver answered with an error status (the message is the apiserver's own)."""

    def __init__(self, code: int, reason: str = "", message: str = "") -> None:
        super().__init__(f"{code} {reason}: {message}".strip())
        self.code = code
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409

    @property
    def gone(self) -> bool:
        return self.code == 410


class TransportError(OSError):
    """The request did not complete: connection refused or reset, a timeout, a truncated body.

    An ``OSError``, so callers that retry on network trouble catch it with the rest."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout
