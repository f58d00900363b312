"""Objective registry: the one place the ``method.kind`` names are written.

Each kind names the per-sample loss it trains with; entries load lazily (this module
imports no torch, so the config schema can take its allowed values from it).
"""

from difflab.registry import Registry

OBJECTIVES = Registry("method kind", {
    "regression": "difflab.objectives.regression:regression_loss",
    "distributional": "difflab.objectives.distributional:distributional_loss",
})
MethodKind = OBJECTIVES.literal()
