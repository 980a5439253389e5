"""Defaults taken from the environment: who we are and which namespace we live in."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def default_identity() -> str:
    """The pod name (``POD_NAME``, else ``HOSTNAME``, else the host name) plus a random suffix.

    The suffix makes the identity unique per process: two containers of one pod, or a restarted
    process that finds its own old record, never pass for one another.
    """
    base = os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname() or "candidate"
    return f"{base}_{secrets.token_hex(4)}"


def own_namespace() -> str | None:
    """The pod's own namespace (service-account mount, else ``POD_NAMESPACE``); None outside a pod."""
    try:
        namespace = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    except OSError:
        namespace = ""
    return namespace or os.environ.get("POD_NAMESPACE") or None


def default_namespace() -> str:
    """The pod's own namespace, else ``default``."""
    return own_namespace() or "default"
