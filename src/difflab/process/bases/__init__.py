"""Orthonormal bases between data layout and components."""
