"""The claim coordinator's functional core: pure, synchronous decisions over plain values.

- ``model`` — ``Claimant``, ``Claimable`` and the ``ClaimState`` derived from them (who holds what,
  who waits, which claims are orphaned);
- ``priority`` — the default priority (base 100, +1 per minute of age, +50 without tags) and the
  order it induces (ties by creation time, then UID);
- ``plan`` — the leader's plan (every pending claimant in priority order, best matching free host)
  and the fallback's pick (first free matching host: plain optimistic claiming);
- ``steps`` — the writes of one claim attempt, in the order that keeps a claimant from being the
  consumer of two claimables;
- ``mode`` — lead, delegate or fall back, from what this replica has seen of the Lease.

Nothing here reads a clock, the API or a metric: callers pass ``now``.
"""
