"""A small controller runtime, shared by every component that watches and writes.

- ``cache`` — the manager-owned ``InformerCache``: one list+watch per (resource, namespace, label
  selector), shared by every controller and reader; handler registration; readiness reasons.
- ``queue`` — the lane-aware, deduplicating ``WorkQueue`` (failover before routine work).
- ``controller`` — the generic ``Controller`` loop around a one-method ``Reconciler``: workers,
  retry with backoff, ``TerminalError`` for what retrying cannot fix, metrics labelled ``controller``.
- ``events`` — the ``EventRecorder``: Events about any object, posted off the critical path.
- ``runnable`` — the ``Runnable`` protocol, ``run_all`` and the ``WriteGate`` between leadership and
  writes.

Layering: ``runtime`` builds on ``kube`` (and ``observability``, ``constants``) only; components
(``director``, ...) build on it; ``manager`` composes them.
"""
