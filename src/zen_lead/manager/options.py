"""The manager's options, validated before anything starts.

Flag names follow kube-controller-manager where it has one (``--leader-elect-lease-duration``,
``--kube-api-qps``) and controller-runtime otherwise (``--metrics-bind-address``); each is also settable
from an environment variable ``ZEN_LEAD_<FLAG>`` (``--kube-api-qps`` -> ``ZEN_LEAD_KUBE_API_QPS``).

``ManagerOptions`` refuses, at construction, values that break a rule of their own (names that are not
Kubernetes names, an election timing that breaks ``lease > renew deadline > 1.2 x retry``, a bind
address that does not parse). ``build_options`` adds what depends on the machine: the kubeconfig loads
(file, YAML, TLS files) and the bind addresses can be bound. Either way the user gets ``StartupError``,
one line naming the flag, before the manager logs or opens anything; the manager itself meets only
errors of the running system (an apiserver that does not answer) and real bugs.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ConfigError

from zen_lead.api.options import ApiOptions, api_option_problems
from zen_lead.director.core import STARTUP_GRACE
from zen_lead.election import Timing, default_identity
from zen_lead.election.identity import SERVICE_ACCOUNT_NAMESPACE, own_namespace
from zen_lead.election.names import validate_lease_name
from zen_lead.kube.client import ApiClient
from zen_lead.kube.config import load_config
from zen_lead.manager.http import parse_bind_address, probe_bind

SERVICE_ACCOUNT_TOKEN = SERVICE_ACCOUNT_NAMESPACE.with_name("token")

# Client-side limits sized for a node-death burst: ~500 failovers at one write each clear in well under
# a second on a healthy apiserver (see docs/decisions.md). The apiserver's priority-and-fairness still
# protects it; 429s are honoured with Retry-After.
DEFAULT_QPS = 500.0
DEFAULT_BURST = 1000
DEFAULT_WORKERS = 64

# The election timing's fields as the flags that set them, so that ``Timing``'s own sentences name
# something the user can change.
TIMING_FLAGS = {
    "lease_duration": "--leader-elect-lease-duration",
    "renew_deadline": "--leader-elect-renew-deadline",
    "retry_period": "--leader-elect-retry-period",
    "jitter_factor": "the jitter factor",
}
_TIMING_FIELD = re.compile(r"\b(" + "|".join(TIMING_FLAGS) + r")\b")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BIND_FLAGS = ("--metrics-bind-address", "--health-probe-bind-address")
API_OFF = ApiOptions()


class StartupError(Exception):
    """A user error found before the manager starts; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class ManagerOptions:
    kubeconfig: str | None
    namespaces: list[str] | None  # None = all namespaces
    metrics_bind_address: str
    health_probe_bind_address: str
    leader_elect: bool
    leader_election_id: str
    leader_election_namespace: str
    lease_duration: float  # seconds, as every duration here
    renew_deadline: float
    retry_period: float
    qps: float
    burst: int
    workers: int
    node_zones: bool
    log_level: str
    log_format: str
    identity: str
    controllers: frozenset[str] = frozenset({"director"})
    addresses_file: str | None = None  # --addresses-file: where to write the bound addresses as JSON
    startup_grace: float = STARTUP_GRACE  # --startup-grace: a new leader Service's wait for a first pod
    api: ApiOptions = API_OFF  # the status and lock API (off unless given an address)

    def __post_init__(self) -> None:
        problems = option_problems(self)
        if problems:
            raise StartupError("; ".join(problems))

    @property
    def timing(self) -> Timing:
        return Timing(
            lease_duration=self.lease_duration,
            renew_deadline=self.renew_deadline,
            retry_period=self.retry_period,
        )

    @property
    def bind_addresses(self) -> dict[str, tuple[str, int] | None]:
        """Each bind flag and its parsed address (None: disabled); ``ValueError`` naming the flag."""
        parsed = {}
        for flag, address in zip(
            BIND_FLAGS, (self.metrics_bind_address, self.health_probe_bind_address), strict=True
        ):
            try:
                parsed[flag] = parse_bind_address(address)
            except ValueError as error:
                raise ValueError(f"{flag}: {error}") from error
        return parsed


def option_problems(options: ManagerOptions) -> list[str]:
    """Every rule the options break, as sentences naming the flag (empty when valid)."""
    problems = [
        f"{flag} {namespace!r} is not a valid namespace name: {problem}"
        for flag, namespace in [
            *(("--namespace", namespace) for namespace in options.namespaces or []),
            *(
                [("--leader-elect-resource-namespace", options.leader_election_namespace)]
                if options.leader_election_namespace not in (options.namespaces or [])
                else []
            ),
        ]
        if (problem := dns_label_problem(namespace))
    ]
    if options.leader_elect:
        try:
            validate_lease_name(options.leader_election_id)
        except ValueError as error:
            problems.append(f"--leader-elect-resource-name: {error}")
        try:
            options.timing  # noqa: B018 - constructing it is what validates it
        except ValueError as error:
            problems.append(_TIMING_FIELD.sub(lambda field: TIMING_FLAGS[field[1]], str(error)))
    if not options.identity:
        problems.append("--identity must not be empty")
    try:
        addresses = [address for address in options.bind_addresses.values() if address is not None]
    except ValueError as error:
        problems.append(str(error))
    else:
        if len(addresses) == 2 and addresses[0] != addresses[1] and addresses[0][1] == addresses[1][1] != 0:
            problems.append(
                f"{' and '.join(BIND_FLAGS)} share port {addresses[0][1]} on different hosts: give them "
                "one address (both are then served together) or two ports"
            )
    problems += api_option_problems(options.api)
    return problems


def dns_label_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS label (RFC 1123, as namespace names are), or None."""
    if len(name) > 63 or not _DNS_LABEL.match(name):
        return "at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def build_options(
    *,
    kubeconfig: str | None,
    namespaces: list[str] | None,
    leader_election_namespace: str | None,
    identity: str | None,
    metrics_bind_address: str,
    health_probe_bind_address: str,
    leader_elect: bool,
    leader_election_id: str,
    lease_duration: float,
    renew_deadline: float,
    retry_period: float,
    qps: float,
    burst: int,
    workers: int,
    node_zones: bool,
    log_level: str,
    log_format: str,
    controllers: frozenset[str] = frozenset({"director"}),
    addresses_file: str | None = None,
    startup_grace: float = STARTUP_GRACE,
    api: ApiOptions = API_OFF,
) -> ManagerOptions:
    """The validated options of ``zen-lead run``; raises ``StartupError`` for any user error.

    ``namespaces`` None means all namespaces, empty means the default: the pod's own namespace, else the
    kubeconfig context's, else ``default``. The Lease lives in the first managed namespace unless told;
    the identity defaults to the pod name plus a random suffix.
    """
    config = load_kubeconfig(kubeconfig)
    scope = None if namespaces is None else namespaces or [own_namespace() or config.namespace or "default"]
    options = ManagerOptions(
        kubeconfig=kubeconfig,
        namespaces=scope,
        metrics_bind_address=metrics_bind_address,
        health_probe_bind_address=health_probe_bind_address,
        leader_elect=leader_elect,
        leader_election_id=leader_election_id,
        leader_election_namespace=leader_election_namespace
        or (scope[0] if scope else own_namespace() or "default"),
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        qps=qps,
        burst=burst,
        workers=workers,
        node_zones=node_zones,
        log_level=log_level,
        log_format=log_format,
        identity=default_identity() if identity is None else identity,
        controllers=controllers,
        addresses_file=addresses_file,
        startup_grace=startup_grace,
        api=api,
    )
    for path, flag in ((api.tls_cert_file, "--api-tls-cert-file"), (api.tls_key_file, "--api-tls-key-file")):
        if path is not None and not os.access(path, os.R_OK):
            raise StartupError(f"{flag}: cannot read {path}")
    for flag, address in {**options.bind_addresses, **api.addresses}.items():
        if address is not None:
            try:
                probe_bind(*address)
            except OSError as error:
                raise StartupError(
                    f"{flag}: cannot listen on {address[0]}:{address[1]}: {_reason(error)}"
                ) from error
    return options


def load_kubeconfig(path: str | None) -> SingleConfig:
    """The kubeconfig the manager will use, loaded once here so that a wrong one is one line."""
    if path is None and not os.environ.get("KUBECONFIG") and not SERVICE_ACCOUNT_TOKEN.exists():
        default = Path.home() / ".kube" / "config"
        if not default.exists():
            raise StartupError(
                "no kubeconfig: pass --kubeconfig or set KUBECONFIG (outside a pod, without either, "
                f"{default} is used, and it does not exist)"
            )
    where = path or os.environ.get("KUBECONFIG") or "the in-cluster configuration"
    if path is not None and Path(path).exists() and not Path(path).is_file():
        raise StartupError(f"cannot use kubeconfig {path}: not a file")
    try:
        config = load_config(path)
        ApiClient(config)  # builds the TLS context: the CA and client certificate files must load
    except (ConfigError, OSError, ValueError, yaml.YAMLError) as error:
        raise StartupError(f"cannot use kubeconfig {where}: {_reason(error)}") from error
    except (KeyError, AttributeError, TypeError) as error:  # lightkube's loader on a malformed file
        raise StartupError(
            f"cannot use kubeconfig {where}: not a kubeconfig (a YAML mapping of clusters, contexts and "
            f"users; {type(error).__name__}: {error})"
        ) from error
    return config


def _reason(error: Exception) -> str:
    """One line saying why ``error`` happened, without Python's multi-line decorations."""
    if isinstance(error, OSError) and error.strerror and not isinstance(error, ssl.SSLError):
        return error.strerror + (f": {error.filename}" if error.filename else "")
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        return f"not valid YAML ({error.problem} at line {error.problem_mark.line + 1})"
    return " ".join(str(error).split()) or type(error).__name__
