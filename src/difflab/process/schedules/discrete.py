"""A discrete-time schedule: a pretrained DDPM's own β table, read in continuous time.

DDPM (Ho et al. 2020) trains at integer timesteps k = 0 … T−1 with ᾱ_k = ∏_{j≤k} (1 − β_j). difflab runs
in continuous t ∈ [0, 1], so this schedule places table entry k at

    t_k = (k + 1) / T          (k = tT − 1;  t = 1 is k = T − 1,  t = 1/T is k = 0),

and interpolates γ = log((1 − ᾱ)/ᾱ) (minus the log-SNR) linearly in t between entries, as k-diffusion's
``DiscreteEpsDDPMDenoiser`` interpolates log σ between its table entries. t = 0 is then free to mean clean
data: a sampler's last step to t = 0 returns x̂₀, which is diffusers' DDIM step to ``final_alpha_cumprod = 1``
(``set_alpha_to_one=True``). Below the first entry (t < 1/T) the table says nothing, so γ holds γ_0 (β = 0).

The network is fed :func:`timestep_of` (t) = tT − 1, which is the integer it was trained on at every table
point. The β tables are computed exactly as diffusers computes them (float32, then ᾱ by a float32 cumulative
product), so ᾱ here equals ``DDPMScheduler.alphas_cumprod`` bit for bit before the float64 γ.
"""

import math

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.schedules.base import Schedule

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")


def timestep_of(t: Tensor, num_train_timesteps: int, snap: float = 1e-9) -> Tensor:
    """The network's timestep k = tT − 1 for difflab time ``t`` (any shape); the one t ↔ timestep formula.

    Within ``snap`` of an integer, k is that integer: rounding of t = (k + 1)/T must not move the network
    off the timestep it was trained on. The network adapter passes ``snap=1e-3``, because the denoiser
    hands the network t in the data's dtype and float32 t = 1/1000 gives k = 4.7e-8, not 0.
    """
    k = t * num_train_timesteps - 1
    near = k.round()
    return torch.where((k - near).abs() < snap, near, k)


def time_of(k: Tensor, num_train_timesteps: int) -> Tensor:
    """Difflab time t = (k + 1)/T of timestep ``k`` (float64), the inverse of :func:`timestep_of`."""
    return (torch.as_tensor(k, dtype=torch.float64) + 1) / num_train_timesteps


def beta_table(
    num_train_timesteps: int,
    beta_schedule: str = "linear",
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    trained_betas: list[float] | None = None,
) -> Tensor:
    """β_k ``(T,)`` float32, as diffusers' ``DDPMScheduler`` builds it.

    Raises:
        DifflabError: unknown ``beta_schedule``, a table of the wrong length, or β outside (0, 1).
    """
    n = int(num_train_timesteps)
    if n < 2:
        raise DifflabError(f"num_train_timesteps must be >= 2, got {num_train_timesteps}")
    if trained_betas is not None:
        betas = torch.tensor(list(trained_betas), dtype=torch.float32)
        if betas.numel() != n:
            raise DifflabError(f"trained_betas has {betas.numel()} entries but num_train_timesteps is {n}")
    elif beta_schedule == "linear":
        betas = torch.linspace(beta_start, beta_end, n, dtype=torch.float32)
    elif beta_schedule == "scaled_linear":
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float32) ** 2
    elif beta_schedule == "squaredcos_cap_v2":

        def alpha_bar(s: float) -> float:
            return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = torch.tensor(
            [min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)], dtype=torch.float32
        )
    else:
        raise DifflabError(
            f"unknown beta_schedule {beta_schedule!r}; choose one of {', '.join(BETA_SCHEDULES)} or give trained_betas"
        )
    if not torch.isfinite(betas).all() or (betas < 0).any() or (betas >= 1).any() or betas[0] <= 0:
        raise DifflabError(
            "every β of a discrete schedule must lie in [0, 1) and β_0 > 0 (a zero-terminal-SNR table has β = 1)"
        )
    return betas


class DiscreteSchedule(Schedule):
    """γ(t) from a DDPM β table (see the module docstring for the t ↔ timestep map).

    Args:
        num_train_timesteps: T, the table length.
        beta_schedule, beta_start, beta_end, trained_betas: the table, as in diffusers' schedulers.

    Buffers: ``table`` ``(T,)`` float64, γ_k = log((1 − ᾱ_k)/ᾱ_k).
    """

    name = "discrete"

    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        trained_betas: list[float] | None = None,
    ):
        super().__init__()
        betas = beta_table(num_train_timesteps, beta_schedule, beta_start, beta_end, trained_betas)
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0).to(torch.float64)  # float32 product, as diffusers
        self.num_train_timesteps = int(num_train_timesteps)
        self.register_buffer("table", torch.log1p(-alphas_cumprod) - torch.log(alphas_cumprod))

    def alphas_cumprod(self) -> Tensor:
        """ᾱ_k ``(T,)`` float64, recovered from the table."""
        return torch.sigmoid(-self.table)

    def _index(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        t = torch.as_tensor(t, dtype=torch.float64, device=self.table.device)
        k = timestep_of(t, self.num_train_timesteps).clamp(0, self.num_train_timesteps - 1)
        lo = k.floor().long().clamp(max=self.num_train_timesteps - 2)
        return k, lo, k - lo

    def gamma(self, t: Tensor) -> Tensor:
        _, lo, frac = self._index(t)
        g0, g1 = self.table[lo], self.table[lo + 1]
        # Exact at table points: frac is 0 there (or 1 at k = T − 1), so one end is returned untouched.
        return torch.where(frac == 0, g0, torch.where(frac == 1, g1, g0 + frac * (g1 - g0))).unsqueeze(-1)

    def dgamma_dt(self, t: Tensor) -> Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=self.table.device)
        _, lo, _ = self._index(t)
        slope = (self.table[lo + 1] - self.table[lo]) * self.num_train_timesteps
        inside = timestep_of(t, self.num_train_timesteps) >= 0
        return torch.where(inside, slope, torch.zeros_like(slope)).unsqueeze(-1)
