"""Manual locks: a lock taken declaratively with a ManualLock (``coordination.kube-zen.io/v1alpha1``),
an opt-in module.

A person or a pipeline applies a ManualLock naming a lock (a Lease in the same namespace), a holder
and a ttl or an expiry time; the controller (``zen-lead run --controllers=*,manuallocks``) takes the
Lease in the election library's format — so ``zen_lead.election.lock()`` holders, the API's lock
holders and ManualLocks exclude each other — holds it without renewals until the expiry, and
releases it at the expiry or when the ManualLock is deleted (a finalizer).

Inside: ``core`` (pure: the spec's rules, the plan of one ManualLock, its status and Events) <-
``tracker`` <- ``reconcile`` <- ``controller``; ``rbac`` is read by the manager without the rest.
docs/manuallock.md is the guide.
"""
