"""``zen-lead exec``: run any program only while this process leads a Lease (docs/exec.md).

Layering: ``core`` (pure: option rules, the stop bound, environment, exit codes, slot records) <-
``child`` (the process), ``slots`` (the Lease's record of done slots, a CronJob's slot) <-
``wrapper`` (a ``LeaderElector`` whose leader work is the program).
"""
