"""The status and lock API's pure core: request rules, leader states, lock decisions, access rules.

Nothing here reads a clock or makes a call: the shell (``zen_lead.api``) passes in what it observed
and the local monotonic time, and writes or answers what these functions decide.
"""
