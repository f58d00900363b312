"""The unified forward process (GUD): bases, priors, schedules, process, oracles."""
