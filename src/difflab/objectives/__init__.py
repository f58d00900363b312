"""Training objectives: unreduced per-sample losses (regression and scoring rules)."""
