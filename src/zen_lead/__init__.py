"""zen-lead: Kubernetes-native leader election and single-active routing.

Layering (imports point one way, downwards; docs/architecture.md draws it, ``lint-imports`` checks it):

- ``zen_lead.cli`` -> ``zen_lead.demo`` -> ``zen_lead.manager`` — ``zen-lead run``: options,
  ``--controllers``, runnables, HA on a Lease, probes, metrics.
- ``zen_lead.director`` — the Service director: tracker -> queue -> reconcile -> apply, deciding
  with its pure functional core ``zen_lead.director.core``.
- ``zen_lead.runtime`` — the controller runtime: the shared informer cache, the work queue, the
  generic controller loop, Events, runnables and the write gate.
- ``zen_lead.election`` — the Lease elector, fenced locks, ``is_leader()``; ``election.record`` is
  its pure core.
- ``zen_lead.kube`` — the API layer: resource descriptors, a rate-limited instrumented client, slim
  structs, informers (list + watch, 410-safe relist), times and metadata helpers.
- ``zen_lead.observability``, ``zen_lead.constants`` — logging, loop lag, shared metric parts; names.
- ``zen_lead.localcluster`` — the embedded local control plane used by the demo, tests and benchmarks.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zen-lead")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
