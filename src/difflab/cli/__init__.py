"""The ``difflab`` command line: thin wiring over :mod:`difflab.pipeline`."""
