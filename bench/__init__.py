"""zen-lead's benchmarks: ``python -m bench`` (full scale), ``python -m bench --quick`` (a few minutes).

What is measured (docs/performance.md has the numbers and the method):

- ``failover`` — per trial, a leader pod is made NotReady (status subresource) or deleted, and a watch on
  EndpointSlices timestamps (a) zen-lead's leader slice pointing at a new pod and (b) the upstream
  EndpointSlice controller's slice of the source Service marking the old pod not ready. Same cluster,
  same run, side by side.
- ``scale`` — cold start at 1,000 Services / 10,000 pods, a quiet period's API requests, a warm restart
  that should write nothing, RSS, event-loop lag, CPU per 1,000 pod events.
- ``burst`` — every pod of one node NotReady at once (status writes), and one node's heartbeat stopped
  (the node lifecycle controller marks its pods): time until every affected Service routes elsewhere.
- ``pools`` — 1,000 LeaderPolicies x 3 members (Deployments): a pool leader NotReady -> a watch on Leases
  sees another holder, beside the director's failover of the same run; writes per failover (1 Lease,
  then status and role annotations), none in a quiet window; RSS and CPU.
- ``elector`` — graceful handoff and crash takeover, zen-lead's elector vs the official Python client's.

Layout (imports point downwards):

- ``profiles`` (parameters per scale), ``stats``, ``machine`` — plain values and arithmetic;
- ``kube`` (raw async API calls, identities), ``apiserver`` (the apiserver's own metrics), ``procstat``
  (RSS/CPU from /proc), ``watcher`` (a subprocess that timestamps watch events on arrival) and
  ``observer`` (its records, replayed per Service or per pool), ``workload`` (namespaces of Services and
  pods), ``controller`` (the real controller as a subprocess);
- ``failover``, ``scale``, ``burst``, ``pools``, ``elector`` (+ ``candidate``, the elector subprocess) — one
  benchmark each;
- ``runner`` (the order of a run and its JSON), ``plots``, ``__main__`` (the command line).
- tools outside a run: ``ab`` (the controller at two revisions or settings, alternated on one cluster),
  ``transport`` (HTTP clients, one write each), ``pyspy`` (a py-spy profile of the controller, by layer).

Timestamps: every latency is a difference of ``time.monotonic()`` values taken on this machine
(CLOCK_MONOTONIC is system-wide, so the watcher process's stamps compare with the harness's). Watch
events are stamped by a separate process the moment their line arrives, before decoding, so the
harness's own work (thousands of concurrent writes) cannot delay an observation.
"""
