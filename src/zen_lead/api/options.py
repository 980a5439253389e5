"""The status API's options (``zen-lead run --api-bind-address ...``), checked before anything starts.

Plaintext is allowed only on a loopback address: a bearer token crossing a network must be encrypted
(TLS from ``--api-tls-cert-file``/``--api-tls-key-file``, files a cert-manager Certificate writes; they
are read again when they change, so a renewed certificate needs no restart)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from zen_lead.runtime.binding import parse_bind_address

BIND_FLAGS = ("--api-bind-address", "--grpc-bind-address")


@dataclass(frozen=True, slots=True)
class ApiOptions:
    http_bind_address: str = "0"  # "0": off
    grpc_bind_address: str = "0"
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    stale_after: float = 10.0  # seconds cut off from the apiserver after which answers are marked stale
    auth_allow_ttl: float = 10.0
    auth_deny_ttl: float = 2.0

    @property
    def enabled(self) -> bool:
        return any(address is not None for address in self.addresses.values())

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def addresses(self) -> dict[str, tuple[str, int] | None]:
        """Each bind flag's parsed address (None: off); ``ValueError`` naming the flag."""
        parsed = {}
        for flag, address in zip(BIND_FLAGS, (self.http_bind_address, self.grpc_bind_address), strict=True):
            try:
                parsed[flag] = parse_bind_address(address)
            except ValueError as error:
                raise ValueError(f"{flag}: {error}") from error
        return parsed


def api_option_problems(options: ApiOptions) -> list[str]:
    """Every rule the API options break, naming the flag (empty: valid)."""
    try:
        addresses = options.addresses
    except ValueError as error:
        return [str(error)]
    problems = []
    if (options.tls_cert_file is None) != (options.tls_key_file is None):
        problems.append("--api-tls-cert-file and --api-tls-key-file go together: give both or neither")
    if not options.tls:
        for flag, address in addresses.items():
            if address is not None and not is_loopback(address[0]):
                problems.append(
                    f"{flag}: {address[0]} is not a loopback address, and plaintext is allowed only on "
                    "loopback (bearer tokens would cross the network unencrypted): give "
                    "--api-tls-cert-file and --api-tls-key-file, or bind 127.0.0.1"
                )
    http, grpc = addresses.values()
    if http is not None and grpc is not None and http[1] == grpc[1] != 0:
        problems.append(f"{' and '.join(BIND_FLAGS)} share port {http[1]}: HTTP and gRPC need a port each")
    if not 0 < options.stale_after <= 3600:
        problems.append("--api-stale-after must be more than 0s and at most 1h")
    if not 0 <= options.auth_deny_ttl <= options.auth_allow_ttl <= 3600:
        problems.append(
            "--api-auth-cache-denied-ttl must be from 0 to --api-auth-cache-allowed-ttl, and that at most 1h"
        )
    return problems


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
