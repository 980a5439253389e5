"""Who may lead, and who does: the eligibility rules and the choice of one pod, pure and shared by the
director and pools (one core, not a copy). ``addresses`` and ``ports`` are the pod facts the rules read."""
