"""The main job as plain functions: train a run, load it, generate, evaluate, report.

The CLI only wires these together; each is callable from a notebook. Loading and
generating live in the core (:mod:`difflab.models`) and are re-exported here.
"""

from difflab.models.generate import generate
from difflab.models.run import LoadedRun, load_run
from difflab.pipeline.evaluate import evaluate_run
from difflab.pipeline.run import train_run

__all__ = ["LoadedRun", "evaluate_run", "generate", "load_run", "train_run"]
