"""``zen-lead demo``: a live failover on the embedded local cluster (the README's first command)."""
