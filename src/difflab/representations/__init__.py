"""Trajectory representations: features of a diffusion model along t, mixed by attention or recurrence.

Mittal, Lajoie, Bauer, Mehrjou, *From Points to Functions: Infinite-dimensional
Representations in Diffusion Models* (arXiv 2210.13774), building on
Abstreiter et al., *Diffusion-Based Representation Learning*.

Flow: :func:`represent` (source -> trajectories ``(N, K, F)``, cached) ->
:func:`run_study` (mixers x seeds -> mean ± std) -> figures.
"""

from difflab.representations.cache import load_trajectories, require_trajectories, save_trajectories
from difflab.representations.downstream import represent
from difflab.representations.extract import Trajectories, corrupt, extract_trajectory
from difflab.representations.figures import (
    plot_accuracy_vs_t,
    plot_attention,
    plot_attention_attributes,
    plot_attributes,
)
from difflab.representations.grid import replayable, train_probe_grid
from difflab.representations.mixers import (
    MIXERS,
    AttentionMixer,
    Concat,
    GRUMixer,
    SingleTime,
    build_mixer,
    sinusoidal_positions,
)
from difflab.representations.probe import (
    PAPER_LRS,
    PROTOCOLS,
    ProbeConfig,
    ProbeResult,
    probe_protocol,
    standardise,
    train_probe,
)
from difflab.representations.sources import EncoderCode, UNetFeatures, build_source, example_seeds
from difflab.representations.study import best_single, probe_mixer, probe_single_times, run_study, summarise
from difflab.representations.times import parse_times, trajectory_times

__all__ = [
    "MIXERS",
    "PAPER_LRS",
    "PROTOCOLS",
    "AttentionMixer",
    "Concat",
    "EncoderCode",
    "GRUMixer",
    "ProbeConfig",
    "ProbeResult",
    "SingleTime",
    "Trajectories",
    "UNetFeatures",
    "best_single",
    "build_mixer",
    "build_source",
    "corrupt",
    "example_seeds",
    "extract_trajectory",
    "load_trajectories",
    "parse_times",
    "plot_accuracy_vs_t",
    "plot_attention",
    "plot_attention_attributes",
    "plot_attributes",
    "probe_mixer",
    "probe_protocol",
    "probe_single_times",
    "replayable",
    "represent",
    "require_trajectories",
    "run_study",
    "save_trajectories",
    "sinusoidal_positions",
    "standardise",
    "summarise",
    "train_probe",
    "train_probe_grid",
    "trajectory_times",
]
