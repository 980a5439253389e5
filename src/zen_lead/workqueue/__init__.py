"""A deduplicating work queue with a failover lane, delayed adds and per-key retry backoff."""

from zen_lead.workqueue.queue import WorkQueue

__all__ = ["WorkQueue"]
