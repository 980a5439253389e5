"""zen-lead: Kubernetes-native leader election and single-active routing.

Layering (imports point one way, downwards):

- ``zen_lead.director.core`` / ``zen_lead.election.record`` — the functional core: pure, synchronous,
  typed decisions (who leads, desired objects, port resolution, annotation parsing, Lease arithmetic).
- ``zen_lead.kube`` — the API layer: connection, rate-limited client with metrics, slim cached structs,
  informers (list + watch, 410-safe relist), server-side apply.
- ``zen_lead.workqueue`` — a deduplicating, prioritised, rate-limited work queue.
- ``zen_lead.election`` — the Lease elector, fenced locks, ``is_leader()``.
- ``zen_lead.director`` — the Service director shell: informers -> queue -> reconcile -> apply.
- ``zen_lead.manager`` — ``zen-lead run``: HA, probes, metrics, wiring.
- ``zen_lead.localcluster`` — the embedded local control plane used by the demo, tests and benchmarks.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zen-lead")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
