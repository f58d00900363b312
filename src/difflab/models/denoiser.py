"""Denoisers: every network is wrapped to the one contract ``(x_t, t, **cond) -> x̂₀``.

As in k-diffusion, the wrapper owns the parameterisation. The network sees data
layout ``(B, *shape)`` and time ``t`` in [0, 1]; its output is read as ε, x₀ or
v (regression) or as a *sample* of x₀ (a distributional generator, De Bortoli
et al., arXiv 2502.02483, which also takes generator noise ``xi``). ε and v are
defined in whitened component space and mapped to data layout by the
orthonormal basis alone, so the targets are unit-variance in every basis.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.process.noise import standard_normal
from difflab.process.process import Process

Prediction = Literal["eps", "x0", "v", "eps_gud"]
COND_KEYS = ("labels", "z", "xi", "noise")  # what Denoiser.raw understands; a subclass may add its own


class Denoiser(nn.Module):
    """Network + process -> x̂₀ in data layout.

    Conditioning is one mapping ``cond``: ``labels`` ``(B,)`` class ids, ``z`` ``(B, d)``
    a code, ``xi`` ``(B, *shape)`` generator noise (or ``noise``, a source to draw it from).

    The extension points below have no-op defaults; a model that needs more than
    the network (e.g. :class:`difflab.models.coded.CodedDenoiser`) overrides them,
    so the objectives, ``load_run``, ``train_run`` and ``generate`` never ask what it is.

    Args:
        network: ``net(x_t, t, *, labels, z, extra) -> out`` in data layout.
        process: the forward process (basis, prior, schedule).
        prediction: how the network output is read.
        generator_noise: True for a distributional generator: the network takes
            ``xi ~ N(0, I)`` shaped like the data as ``extra`` input.
    """

    def __init__(
        self, network: nn.Module, process: Process, prediction: Prediction = "v", generator_noise: bool = False
    ):
        super().__init__()
        if prediction == "eps_gud" and process.options is not None and process.options.gaussian_residual:
            raise DifflabError(
                "method.prediction eps_gud has its own residual; it cannot take process.gaussian_residual"
            )
        self.network = network
        self.process = process
        self.prediction = prediction
        self.generator_noise = generator_noise

    # -- extension points --------------------------------------------------------
    def training_cond(
        self, x0: Tensor, t: Tensor, generator: torch.Generator | None
    ) -> tuple[dict[str, Tensor], Tensor | float]:
        """Extra training conditioning and per-sample loss terms, drawn after the objective's own draws.

        Args:
            x0: clean data ``(B, *shape)``.
            t: times ``(B,)``.
            generator: the trainer's generator.

        Returns:
            ``(cond, penalty)``: conditioning to add (default none) and a per-sample ``(B,)``
            term added to the loss (default 0).
        """
        return {}, 0.0

    def default_cond(self, n: int, seed: int, given: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Conditioning ``(n, ...)`` to add for sampling ``n`` samples under ``seed`` (default none).

        Args:
            n: number of samples.
            seed: the base seed of the call (sample i is seeded by ``(seed, i)``).
            given: the conditioning the caller passed; keys in it are never overridden.
        """
        return {}

    def after_training(self, checkpoint_dir: Path, train_data: Tensor) -> None:
        """Called once on the final (EMA) model after training, on the writing rank; may write side files."""

    def on_load(self, checkpoint_dir: Path, train_data: Callable[[], Tensor] | None = None) -> None:
        """Called by ``load_run`` after the weights are loaded.

        Args:
            checkpoint_dir: the checkpoint folder (where :meth:`after_training` wrote its files).
            train_data: loads the normalised training split on demand, to recompute a side file
                that is missing (e.g. in an intermediate checkpoint); ``load_run`` always passes it.
        """

    # -- the contract -------------------------------------------------------------
    def raw(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        """The network's own output ``(B, *shape)`` (ε, x₀ or v in data layout)."""
        unknown = sorted(set(cond) - set(COND_KEYS))
        if unknown:
            raise DifflabError(
                f"conditioning {unknown} is not understood by this model (it takes {', '.join(COND_KEYS)})"
            )
        t = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device).expand(x_t.shape[0])
        extra = None
        if self.generator_noise:
            xi = cond.get("xi")
            extra = (
                xi
                if xi is not None
                else standard_normal(cond.get("noise"), x_t.shape, dtype=x_t.dtype, device=x_t.device)
            )
        x_in = self.process.network_input(x_t, t)  # x_t itself unless process.network_input is "unit"
        return self.network(x_in, t, labels=cond.get("labels"), z=cond.get("z"), extra=extra)

    def output_to_white(self, out: Tensor, w_t: Tensor, t: Tensor) -> Tensor:
        """The network output as the whitened quantity it predicts ``(B, D)`` (ŵ₀, ε̂ or v̂) at times ``t``.

        ``eps``/``v``: the orthonormal image ``U out`` (unit variance in every basis).
        ``eps_gud``: GUD's tutorial ``EpsilonModel(gaussian_default=True)``: the network outputs ε
        in the data layout, ε̂ = S⁻¹ U out + w_t in whitened components (the "Gaussian default"
        residual: a zero network predicts ε = w_t).
        With ``process.gaussian_residual`` the output is added to the exact prediction of independent
        per-component Gaussians (:meth:`~difflab.process.process.Process.gaussian_prediction`).
        """
        if self.prediction == "eps_gud":
            return self.process.data_noise_to_white(out) / self.process.scale.to(out.dtype) + w_t
        base = self.process.gaussian_prediction(w_t, t, self.prediction)
        if base is None:
            return self.process.to_white(out) if self.prediction == "x0" else self.process.data_noise_to_white(out)
        r = self.process.data_noise_to_white(out)
        if self.prediction == "x0":  # a residual in whitened units: no mean, scaled like the components
            r = r / self.process.scale.to(r.dtype)
        return r + base

    def output_to_white_x0(self, out: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """Convert a network output to ŵ₀ ``(B, D)`` in whitened components.

        Deterministic components of the process (``process.deterministic_tol``) are pinned to their
        exact value: the network's output there is ignored.
        """
        w_t = self.process.to_white(x_t)
        if self.prediction == "x0":
            return self.process.pin(self.output_to_white(out, w_t, t))
        alpha, sigma = self.process.alpha_sigma(torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0]))
        alpha, sigma = alpha.to(w_t.dtype), sigma.to(w_t.dtype)
        e = self.output_to_white(out, w_t, t)
        if self.prediction in ("eps", "eps_gud"):
            return self.process.pin(Process.eps_to_x0(w_t, e, alpha, sigma))
        return self.process.pin(Process.v_to_x0(w_t, e, alpha, sigma))

    def forward(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        """x̂₀ ``(B, *shape)`` for ``x_t`` ``(B, *shape)`` at times ``t`` ``(B,)`` under conditioning ``cond``."""
        out = self.raw(x_t, t, **cond)
        if self.prediction == "x0" and self.process.active is None and self.process.data_var is None:
            return out
        return self.process.from_white(self.output_to_white_x0(out, x_t, t))
