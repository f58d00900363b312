"""Shared test set-up: one thread per worker (pytest-xdist runs two on 2 cores)."""

import torch

torch.set_num_threads(1)
