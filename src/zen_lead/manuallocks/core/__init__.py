"""The manuallocks controller's functional core: pure functions over plain values, no I/O, no clock.

- ``spec`` — Go durations, the rules of each spec field, the expiry a spec asks for;
- ``plan`` — the phase of one ManualLock and the one Lease write that gets it there, from the spec,
  the Lease as the controller observed it (``election.record.Observation``), the monotonic ``now``
  and the wall-clock ``wall``;
- ``status`` — the status to write and the Events to tell, against what the object shows.
"""
