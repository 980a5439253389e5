"""Where the client's credentials come from: the bearer token (a string, a file, or the pod's
ServiceAccount token) and the TLS files. No grpc here: ``transport`` turns these into a channel."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zen_lead.client.core import bearer_metadata, is_loopback

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
TOKEN_REFRESH = 60.0  # seconds between re-reads of a token file: the kubelet rotates projected tokens


class TokenSource:
    """The bearer token sent with every call: ``token`` as given, or read from ``token_file``
    (default: the pod's ServiceAccount token, when that file exists) and re-read every
    ``TOKEN_REFRESH`` seconds, so a rotated token is picked up. No token: calls carry none (the
    server answers UNAUTHENTICATED)."""

    def __init__(
        self,
        token: str | None = None,
        token_file: str | Path | None = None,
        *,
        default_file: Path = SERVICE_ACCOUNT_TOKEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        if token is not None and not token.strip():
            raise ValueError("token is empty")
        self._token = token.strip() if token is not None else None
        if token is None and token_file is None and default_file.exists():
            token_file = default_file
        self.file = Path(token_file) if token_file is not None else None
        self._clock = clock
        self._read_at: float | None = None

    def token(self) -> str | None:
        if self.file is not None and (
            self._read_at is None or self._clock() - self._read_at >= TOKEN_REFRESH
        ):
            text = self.file.read_text().strip()
            if not text:
                raise ValueError(f"token file {self.file} is empty")
            self._token, self._read_at = text, self._clock()
        return self._token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer_metadata(self.token())


@dataclass(frozen=True)
class Tls:
    """How to reach the server. TLS by default, verified with ``ca_file`` (else the system's roots),
    optionally presenting a client certificate (``cert_file`` + ``key_file``) and checking the server
    under ``server_name``. ``insecure=True`` is plaintext, refused unless the address is loopback (the
    server allows plaintext only there, and a token must not cross a network in the clear)."""

    ca_file: str | Path | None = None
    cert_file: str | Path | None = None
    key_file: str | Path | None = None
    server_name: str | None = None
    insecure: bool = False

    def check(self, address: str) -> None:
        if self.insecure:
            if not is_loopback(address):
                raise ValueError(f"plaintext (insecure=True) is for loopback addresses only, not {address!r}")
            if any(value is not None for value in (self.ca_file, self.cert_file, self.key_file)):
                raise ValueError("insecure=True takes no TLS files")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")

    def files(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(root certificates, private key, certificate chain), as grpc's credentials want them."""

        def read(path: str | Path | None) -> bytes | None:
            return Path(path).read_bytes() if path is not None else None

        return read(self.ca_file), read(self.key_file), read(self.cert_file)
