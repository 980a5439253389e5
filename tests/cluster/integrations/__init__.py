"""Cluster tests of zen-lead's integrations (frameworks, other languages), run as real replicas."""
