"""Objective registry: ``method.kind`` -> the builder of its objective term.

A builder takes the ``method`` config and returns ``term(model, x0, t, eps, cond, generator) -> (B,)``,
the kind's per-sample loss given the draws every kind shares (see :func:`difflab.objectives.build.build_objective`).

The config schema cannot import this module (``objectives/build.py`` imports the schema, and
sub-packages must not import each other in a cycle), so ``MethodConfig.kind`` spells the names
and ``tests/config/test_registry_drift.py`` proves they are these keys.
"""

from typing import Literal

from difflab.objectives.distributional import scoring_rule_term
from difflab.objectives.regression import regression_term

OBJECTIVES = {
    "regression": regression_term,
    "distributional": scoring_rule_term,
}
MethodKind = Literal[tuple(OBJECTIVES)]  # type: ignore[valid-type]
