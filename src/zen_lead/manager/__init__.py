"""``zen-lead run``: the controller process — options, HTTP endpoints, HA via the Lease elector."""
