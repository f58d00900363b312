"""Shared machinery for the samplers: spaces, denoiser calls, checks, callbacks.

The contract (see ``docs/design.md``): a denoiser maps data-layout
``x_t (B, *shape)`` and times ``t (B,)`` to ``x̂₀`` in data layout. Samplers
keep their state in whitened components ``w (B, D)`` in float64, compute every
step coefficient per component from ``process.alpha_sigma`` in float64, and
call the denoiser in the dtype of ``x_T`` only.

End of the grid: when the last time is exactly 0, the last step returns the
denoiser's x̂₀ at the previous time (the DDIM/DDPM/Euler/DPM-Solver step to the
idealised α = 1, σ = 0, as in k-diffusion's final step to σ = 0). When the
grid ends at t > 0 the sampler returns the state x_t at that time.
"""

import itertools
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.noise import NoiseLike, standard_normal
from difflab.process.process import Process
from difflab.sampling.grids import user as validate_grid
from difflab.sampling.known import COND_KEY as KNOWN_KEY
from difflab.sampling.known import Constraint

Denoiser = Callable[..., Tensor]
Callback = Callable[[int, float, float, Tensor, Tensor], None]

# The sampler step in progress, published around every denoiser call of a Run: ``(run_id, step)``.
# Wrappers that cache across calls (difflab.analysis.shortcuts) key on it rather than on t, so
# both calls of a Heun step and a guided pair belong to one step; None outside a sampler.
_STEP: ContextVar[tuple[int, int] | None] = ContextVar("difflab_sampler_step", default=None)
_RUN_IDS = itertools.count()


def current_step() -> tuple[int, int] | None:
    """``(run_id, step_index)`` of the sampler call in progress (a new run_id per sampling run), or None."""
    return _STEP.get()


@dataclass
class Run:
    """One sampling run: the pieces every step needs.

    Attributes:
        denoiser: ``denoiser(x_t, t, **cond) -> x̂₀`` in data layout.
        process: the forward process.
        dtype: dtype of ``x_T``; the denoiser sees this dtype.
        batch: number of samples B.
        times: validated float64 grid ``(n + 1,)`` on the CPU.
        noise: source of fresh Gaussian noise.
        cond: keyword arguments for the denoiser.
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` or ``None``.
        known: known components to condition on (:mod:`difflab.sampling.known`) or ``None``.
    """

    denoiser: Denoiser
    process: Process
    dtype: torch.dtype
    batch: int
    times: Tensor
    noise: NoiseLike
    cond: dict
    callback: Callback | None
    run_id: int = field(default_factory=lambda: next(_RUN_IDS))
    known: "Constraint | None" = None

    @property
    def device(self) -> torch.device:
        return self.process.scale.device

    def steps(self):
        """Yield ``(i, t, s, last)``: step i goes from ``t`` to ``s``; ``last`` means s == 0 at the end."""
        n = self.times.numel() - 1
        for i in range(n):
            t, s = float(self.times[i]), float(self.times[i + 1])
            yield i, t, s, (i == n - 1 and s == 0.0)

    def coeffs(self, t: float) -> tuple[Tensor, Tensor]:
        """α(t), σ(t) as float64 ``(D,)``."""
        return self.process.alpha_sigma(torch.tensor(t, dtype=torch.float64))

    def beta(self, t: float) -> Tensor:
        """β(t) = σ² dγ/dt per component, float64 ``(D,)`` (:meth:`Process.beta`)."""
        return self.process.beta(torch.tensor(t, dtype=torch.float64))

    def to_data(self, w: Tensor) -> Tensor:
        """Whitened float64 ``(B, D)`` -> data layout in the run's dtype."""
        return self.process.from_white(w).to(self.dtype)

    def denoise(self, w: Tensor, t: float, index: int) -> Tensor:
        """Call the denoiser on state ``w`` at time ``t``; return ŵ₀ ``(B, D)`` float64.

        With known components (:mod:`difflab.sampling.known`) the state ``w`` is updated *in place*
        first: its known components are replaced by a fresh forward noising of the observation at
        ``t`` (after ``resample`` RePaint rounds on a step's first call), so every sampler's state
        follows the constraint without code of its own; the returned ŵ₀ equals the observation there.

        Raises:
            DifflabError: if the denoiser returns NaN/Inf or the wrong shape.
        """
        if self.known is not None:
            return self._denoise_known(w, t, index)
        return self._denoise(w, t, index)

    def _denoise_known(self, w: Tensor, t: float, index: int) -> Tensor:
        a_t, s_t = self.coeffs(t)
        new = self.known.impose(w, a_t, s_t, self.randn())
        n = self.times.numel() - 1
        first_call = t == float(self.times[index])  # not Heun's corrector call at the step's end
        if first_call and self.known.resample and index < n - 1:
            s = float(self.times[index + 1])
            new = self.known.harmonise(self, new, t, s, lambda v: self._denoise(v, t, index))
        w.copy_(new)
        if self.known.method == "moment":

            def rows(rep: Tensor, k: int, lo: int, hi: int) -> Tensor:
                cond = {key: _tile(v, self.batch, lo, hi, k) for key, v in self.cond.items()}
                return self._denoise(rep, t, index, cond)

            _, w0 = self.known.condition(w, t, rows, a_t, s_t)
        else:
            w0 = self._denoise(w, t, index)
        return self.known.impose(w0, torch.ones_like(a_t), torch.zeros_like(s_t), None)

    def _denoise(self, w: Tensor, t: float, index: int, cond: dict | None = None) -> Tensor:
        x = self.to_data(w)
        tt = torch.full((w.shape[0],), t, dtype=torch.float64, device=x.device)
        token = _STEP.set((self.run_id, index))
        try:
            x0 = self.denoiser(x, tt, **(self.cond if cond is None else cond))
        finally:
            _STEP.reset(token)
        if tuple(x0.shape) != tuple(x.shape):
            raise DifflabError(
                f"the denoiser returned shape {tuple(x0.shape)} at step {index} (t={t:.4g}); expected {tuple(x.shape)}"
            )
        if not torch.isfinite(x0).all():
            raise DifflabError(
                f"the denoiser returned NaN/Inf at step {index} (t={t:.4g}); "
                "check the model, its dtype and the time grid"
            )
        return self.process.to_white(x0.to(device=w.device, dtype=torch.float64))

    def randn(self) -> Tensor:
        """Fresh N(0, I) noise ``(B, D)`` float64 from the run's noise source."""
        return standard_normal(self.noise, (self.batch, self.process.dim), dtype=torch.float64, device=self.device)

    def report(self, i: int, t: float, s: float, w: Tensor, w0: Tensor) -> None:
        """Invoke the callback (if any) with data-layout tensors."""
        if self.callback is not None:
            self.callback(i, t, s, self.to_data(w), self.to_data(w0))


def _tile(value, batch: int, lo: int, hi: int, k: int):
    """Rows ``lo:hi`` of a per-sample ``cond`` entry ``(batch, ...)``, stacked ``k`` times (others unchanged)."""
    if isinstance(value, Tensor) and value.ndim >= 1 and value.shape[0] == batch:
        return value[lo:hi].repeat(k, *([1] * (value.ndim - 1)))
    return value


def start(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    noise: NoiseLike,
    callback: Callback | None,
    cond: dict | None,
) -> tuple[Run, Tensor]:
    """Validate inputs, build the :class:`Run` and return it with the initial state ``w (B, D)`` float64.

    A :class:`~difflab.sampling.known.Known` under ``cond["known"]`` is taken out of ``cond`` (the
    denoiser never sees it) and becomes the run's constraint.
    """
    cond = dict(cond or {})
    known = cond.pop(KNOWN_KEY, None)
    if tuple(x_T.shape[1:]) != tuple(process.shape):
        raise DifflabError(f"x_T must be shaped (B, {', '.join(map(str, process.shape))}), got {tuple(x_T.shape)}")
    run = Run(
        denoiser=denoiser,
        process=process,
        dtype=x_T.dtype,
        batch=x_T.shape[0],
        times=validate_grid(times),
        noise=noise,
        cond=cond,
        callback=callback,
        known=known.resolve(process, x_T.shape[0]) if known is not None else None,
    )
    w = process.to_white(x_T.to(device=run.device, dtype=torch.float64))
    return run, w
