"""Objective registry: ``method.kind`` -> the per-sample loss it trains with.

The config schema cannot import this module (``objectives/build.py`` imports the schema, and
sub-packages must not import each other in a cycle), so ``MethodConfig.kind`` spells the names
and ``tests/config/test_registry_drift.py`` proves they are these keys.
"""

from typing import Literal

from difflab.objectives.distributional import distributional_loss
from difflab.objectives.regression import regression_loss

OBJECTIVES = {
    "regression": regression_loss,
    "distributional": distributional_loss,
}
MethodKind = Literal[tuple(OBJECTIVES)]  # type: ignore[valid-type]
