"""The main job as plain functions: train a run, load it, generate, evaluate, report.

The CLI only wires these together; each is callable from a notebook.
"""

from difflab.pipeline.evaluate import evaluate_run
from difflab.pipeline.generate import generate
from difflab.pipeline.run import LoadedRun, load_run, train_run

__all__ = ["LoadedRun", "evaluate_run", "generate", "load_run", "train_run"]
