"""Taking a trained UNet apart: named components, time-windowed interventions, costs.

After Prasad et al., *Unraveling the Temporal Dynamics of the Unet in Diffusion
Models* (arXiv 2312.14965), with caching in the spirit of DeepCache and Block
Caching. Works on ``difflab.nn.UNet`` and ``diffusers.UNet2DModel``.
"""

from difflab.analysis.clock import Always, Clock, StepWindow, TimeWindow, as_window
from difflab.analysis.cost import measure_component_cost
from difflab.analysis.interventions import Identity, Intervention, InterventionSession, Remove, Reuse, Skip, intervene
from difflab.nn.components import SkipSlot, component_registry, resolve, route_skips

__all__ = [
    "Always",
    "Clock",
    "Identity",
    "Intervention",
    "InterventionSession",
    "Remove",
    "Reuse",
    "Skip",
    "SkipSlot",
    "StepWindow",
    "TimeWindow",
    "as_window",
    "component_registry",
    "intervene",
    "measure_component_cost",
    "resolve",
    "route_skips",
]
