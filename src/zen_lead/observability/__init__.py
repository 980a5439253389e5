"""Metrics, structured logging and event-loop lag: the manager's observability, defined once."""
