"""Per-component noise schedules γ_i(t)."""
