"""Sampling conditioned on known components: one mechanism for inpainting, super-resolution and extension.

Given observed values of a set of components — a pixel mask, the coarse band of a Haar or DCT
basis, the leading PCA components, the first columns under a column schedule — every sampler
draws the rest from the model. Before each denoiser call the known components of the state are
replaced by an exact forward noising of the observation at that time's per-component (α, σ),
``w_k = α_k y_k + σ_k ε_k`` with fresh ε from the sample's own noise stream (Song et al. 2021,
"imputation"; Lugmayr et al. 2022, RePaint), and the denoiser's x̂₀ is set to the observation on
the known components, so the sample equals the observation there at t = 0. With ``resample = r``
each step is first harmonised r times RePaint's way: a DDPM posterior step t → s, then the exact
forward transition s → t (jump length one step), re-imposing the known components each time.

The known set is a mask over the components of an orthonormal basis B′ (the pixels by default):

* B′ is the run's own basis (``basis="run"``, or a pixel mask on a pixel-basis run): the known
  components are whitened components of the process; valid for any schedule and prior.
* any other B′ (a pixel mask or a coarse Haar/DCT band on a run in another basis): valid when the
  process is *isotropic* — one γ for all components and one prior scale — because then the
  process is the same in every orthonormal basis (GUD, arXiv 2410.02667). Otherwise a
  :class:`~difflab.errors.DifflabError` asks for the known set in the run's own components.

The replacement is exact for the known components but leaves the denoiser to infer their clean
values from a noisy copy, so the unknown components follow the model's conditional only
approximately (exactly when known and unknown components are independent, or as the known
components' SNR outruns the unknown ones', e.g. under a sequential schedule); resampling
reduces the gap. ``docs/conditional.md`` measures it on the Gaussian oracle.

``method="moment"`` (difflab's named option; the default ``"replace"`` is GUD/RePaint's) instead
conditions the denoiser's posterior p(w₀ | w_t) on the observation through its Tweedie moments
(Boys et al. 2023, "Tweedie moment projected diffusions", TMPD; Song et al. 2023, ΠGDM). In
whitened components with per-component α, σ the second-order Tweedie formula gives, for any data
law, ``C = Cov[w₀ | w_t] = J diag(σ²/α)`` with ``J = ∂ŵ₀/∂w_t``. For a linear observation
``y = M w₀`` (the known components, in whichever basis B′) the denoiser's ŵ₀ is replaced by

    ŵ₀ + C Mᵀ (M C Mᵀ + Λ)⁻¹ (y − M ŵ₀),

the Gaussian conditioning of N(ŵ₀, C) on M w₀ = y. Only the k columns ``C Mᵀ = diag(σ²/α) Jᵀ Mᵀ``
are needed: k vector-Jacobian products, done as one backward pass through a batch of k replicas
of the state (in chunks of at most ``max_rows`` rows). For Gaussian data p(w₀ | w_t) is Gaussian,
so this is E[w₀ | w_t, y] exactly, the exact denoiser of the conditional law, and every sampler
draws the exact conditional up to its discretisation error; for a learned model it is the TMPD
approximation (the posterior's first two moments are right, its shape is taken Gaussian). The
solve: the k×k matrix is symmetrised and inverted on its eigen-directions with eigenvalue above
``jitter · max|eigenvalue| + 1e-12`` only (a truncated pseudo-inverse); directions below are left
uncorrected. A learned J is not a valid covariance at high noise (α(t) → 0: the exact C ≈ α K is
swamped by the network's Jacobian error, so the matrix is indefinite); flooring its eigenvalues
instead made the correction explode on the digits run (values ~5e9), dropping them is stable. The
known components of the state
are still re-noised from the observation before each call (fresh α y + σ ε), which keeps the state
on the conditional law's marginal (the known components given y are independent of the rest);
``docs/conditional.md`` measures both variants. ``resample`` is refused with ``"moment"`` (it
would only repeat the cost). A model's call then costs k times the rows of a plain call.

Samplers need no code for this: :func:`difflab.sampling._common.start` takes the ``known`` entry
out of ``cond`` and :meth:`Run.denoise <difflab.sampling._common.Run.denoise>` applies it.
"""

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis
from difflab.process.bases.dct import DCTBasis
from difflab.process.bases.haar import HaarBasis
from difflab.process.process import Process
from difflab.sampling.bridge import bridge_step

COND_KEY = "known"
METHODS = ("replace", "moment")


@dataclass(frozen=True)
class Known:
    """Observed values of some components, to condition sampling on.

    Args:
        values: observation in normalised data layout ``(B, *shape)`` (or ``(*shape)`` for all rows);
            only its known components are used.
        mask: 1 where known, 0 elsewhere. With a ``basis`` other than ``"run"``: in that basis's
            component layout — for the default pixel basis, data layout broadcastable to
            ``(B, *shape)``; otherwise ``(D,)`` or ``(B, D)`` over B′'s components. With
            ``basis="run"``: ``(D,)`` or ``(B, D)`` over the run's own components.
        basis: B′, the orthonormal basis the mask refers to: ``None`` for pixels, a
            :class:`~difflab.process.bases.base.Basis`, or ``"run"`` for the process's own basis.
        resample: RePaint harmonisation rounds per step (0 = plain replacement); ``"replace"`` only.
        method: ``"replace"`` (GUD/RePaint: known components replaced by their forward noising; exact
            only when known and unknown components are independent) or ``"moment"`` (also condition
            the denoiser's x̂₀ on the observation through its Tweedie covariance; exact for Gaussian
            data, k = number of known components times the network rows per call).
        jitter: relative eigenvalue cut of the k×k pseudo-inverse of ``"moment"`` (module docstring).
        max_rows: most replicated rows per forward/backward pass of ``"moment"``.
    """

    values: Tensor
    mask: Tensor
    basis: Basis | str | None = None
    resample: int = 0
    method: str = "replace"
    jitter: float = 1e-6
    max_rows: int = 16384

    def __post_init__(self):
        if int(self.resample) != self.resample or self.resample < 0:
            raise DifflabError(f"resample must be a non-negative integer, got {self.resample}")
        if self.method not in METHODS:
            raise DifflabError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.method == "moment" and self.resample:
            raise DifflabError("resample is a 'replace' option; method 'moment' conditions x̂₀ exactly, use resample=0")
        if not (0.0 <= float(self.jitter) < 1.0):
            raise DifflabError(f"jitter must be in [0, 1), got {self.jitter}")
        if int(self.max_rows) != self.max_rows or self.max_rows < 1:
            raise DifflabError(f"max_rows must be a positive integer, got {self.max_rows}")
        m = torch.as_tensor(self.mask)
        if not bool(((m == 0) | (m == 1)).all()):
            raise DifflabError("the mask must hold only 0 (unknown) and 1 (known)")

    @property
    def empty(self) -> bool:
        """True when nothing is known (sampling is then plain sampling, bit for bit)."""
        return not bool(torch.as_tensor(self.mask).any())

    def rows(self, start: int, stop: int) -> "Known":
        """Rows ``start:stop`` of an observation made :meth:`batched` (as ``cond`` tensors are sliced)."""
        return replace(self, values=self.values[start:stop], mask=self.mask[start:stop])

    def batched(self, process: Process, n: int) -> "Known":
        """The same observation with values ``(n, *shape)`` and the mask expanded to ``n`` rows.

        Raises:
            DifflabError: if the values or the mask do not fit ``n`` rows of the process's data.
        """
        shape, d = tuple(process.shape), process.dim
        values = torch.as_tensor(self.values)
        if tuple(values.shape) in (shape, (1, *shape)):
            values = values.reshape(1, *shape).expand(n, *shape)
        if tuple(values.shape) != (n, *shape):
            raise DifflabError(
                f"known values must be shaped {shape} or ({n}, {', '.join(map(str, shape))}), got {tuple(values.shape)}"
            )
        mask = torch.as_tensor(self.mask)
        data_mask = self.basis is None or (self.basis != "run" and self.basis.name == "pixel")
        if data_mask:
            mask = _broadcast(mask, (n, *shape))
        else:
            dim = d if self.basis == "run" else self.basis.dim
            if tuple(mask.shape) not in ((dim,), (1, dim), (n, dim)):
                raise DifflabError(f"a component mask must be shaped ({dim},) or ({n}, {dim}), got {tuple(mask.shape)}")
            mask = mask.reshape(-1, dim).expand(n, dim)
        return replace(self, values=values, mask=mask)

    def resolve(self, process: Process, batch: int) -> "Constraint | None":
        """The constraint for ``batch`` rows under ``process`` (``None`` if nothing is known).

        Raises:
            DifflabError: for shapes that do not fit, or a known set that this process cannot use.
        """
        if self.empty:
            return None
        return Constraint(process, self, batch)


def is_isotropic(process: Process) -> bool:
    """True when every component has the same γ(t) and the same prior scale (the process is basis-free)."""
    scale = process.scale
    if not bool(torch.allclose(scale, scale[0].expand_as(scale), rtol=1e-12, atol=0.0)):
        return False
    t = torch.linspace(0.0, 1.0, 17, dtype=torch.float64, device=scale.device)
    g = process.gamma(t)
    return bool(torch.allclose(g, g[:, :1].expand_as(g), rtol=1e-12, atol=1e-12))


def _same_basis(a: Basis, b: Basis) -> bool:
    if type(a) is not type(b) or tuple(a.shape) != tuple(b.shape) or getattr(a, "needs_data", False):
        return False
    return getattr(a, "levels", None) == getattr(b, "levels", None)


def _broadcast(mask: Tensor, shape: tuple) -> Tensor:
    try:
        return torch.broadcast_to(mask, shape)
    except RuntimeError:
        raise DifflabError(
            f"the mask must broadcast to the data shape ({', '.join(map(str, shape))}), got {tuple(mask.shape)}"
        ) from None


class Constraint:
    """A :class:`Known` bound to a process and a batch: applies the replacement in whitened components.

    Args:
        process: the forward process.
        known: the observation; shapes are checked through :meth:`Known.batched`.
        batch: number of rows B.
    """

    def __init__(self, process: Process, known: Known, batch: int):
        known = known.batched(process, batch)
        self.process = process
        self.resample = int(known.resample)
        self.method, self.jitter, self.max_rows = known.method, float(known.jitter), int(known.max_rows)
        dev = process.scale.device
        values = known.values.to(device=dev, dtype=torch.float64)
        mask = known.mask.to(device=dev, dtype=torch.float64)
        basis = process.basis if known.basis is None and process.basis.name == "pixel" else known.basis
        self.own = basis == "run" or (isinstance(basis, Basis) and _same_basis(basis, process.basis))
        if self.own:
            self.mask = mask.reshape(batch, process.dim)
            self.w_y = process.to_white(values)
            self.extra = None
            return
        if not is_isotropic(process):
            where = "pixel mask" if basis is None else f"{basis.name}-basis mask"
            raise DifflabError(
                f"a {where} needs one schedule and one prior scale for every component; this run "
                f"({process.basis.name} basis) has a component-wise schedule or a data prior, so give the known "
                "set over its own components (Known(..., basis='run'))"
            )
        self.extra = basis  # None = pixels
        self.mask = mask if basis is None else mask.reshape(batch, -1)
        self.c_y = values if basis is None else basis.to_components(values)
        self.s = float(process.scale[0])

    def impose(self, w: Tensor, alpha: Tensor, sigma: Tensor, eps: Tensor | None) -> Tensor:
        """``w (B, D)`` with the known components set to ``α y + σ ε`` (``eps=None``: σ = 0, the observation)."""
        if self.own:
            target = alpha * self.w_y + (sigma * eps if eps is not None else 0.0)
            return torch.lerp(w, target, self.mask)
        a, s = float(alpha.reshape(-1)[0]), float(sigma.reshape(-1)[0])
        x = self.process.from_white(w)
        if self.extra is None:  # pixels
            noise = self.s * eps.reshape(x.shape) if eps is not None else 0.0
            x = torch.lerp(x, a * self.c_y + s * noise, self.mask)
        else:
            c = self.extra.to_components(x)
            noise = self.s * eps if eps is not None else 0.0
            x = self.extra.from_components(torch.lerp(c, a * self.c_y + s * noise, self.mask))
        return self.process.to_white(x)

    def observe(self, w: Tensor, linear: bool = False) -> Tensor:
        """The coordinates ``(B, D′)`` of whitened ``w (B, D)`` in the mask's basis B′ (``linear``: without μ)."""
        if self.own:
            return w
        x = self.process.basis.from_components(w * self.process.scale.to(w.dtype))
        if not linear and self.process.mean is not None:
            x = x + self.process.mean.to(x.dtype)
        return x.reshape(w.shape[0], -1) if self.extra is None else self.extra.to_components(x)

    def observation(self) -> Tensor:
        """The observed coordinates ``(B, D′)`` in B′ (only the known ones matter)."""
        return self.w_y if self.own else self.c_y.reshape(self.mask.shape[0], -1)

    def condition(self, w: Tensor, t: float, denoise_rows, alpha: Tensor, sigma: Tensor) -> Tensor:
        """ŵ₀ conditioned on the observation through its Tweedie covariance (``method="moment"``).

        Args:
            w: state ``(B, D)`` float64 (its known components already imposed).
            t: the time.
            denoise_rows: ``denoise_rows(w_rep (R, D), repeats) -> ŵ₀ (R, D)`` for ``repeats``
                stacked copies of (chunks of) the batch, differentiable in ``w_rep``.
            alpha: ``(D,)`` α at ``t``.
            sigma: ``(D,)`` σ at ``t``.

        Returns:
            ``(ŵ₀, ŵ₀ + C Mᵀ (M C Mᵀ + Λ)⁻¹ (y − M ŵ₀))``, each ``(B, D)`` float64.
        """
        b, d = w.shape
        mask = self.mask.reshape(b, -1) > 0.5
        counts = mask.sum(1)
        k = int(counts.max())
        if k == 0:  # nothing known in these rows (a slice of a batch): the plain ŵ₀
            w0 = denoise_rows(w, 1, 0, b)
            return w0, w0
        # idx[b, j]: the j-th known coordinate of row b (padded with its last one); valid[b, j] marks real ones.
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :k]
        valid = torch.arange(k, device=w.device)[None, :] < counts[:, None]
        ratio = (sigma**2 / alpha.clamp_min(1e-30)).to(w.device)  # Cov[w₀|w_t] = J diag(σ²/α); J = 0 where α = 0
        rows_per = max(1, self.max_rows // k)  # batch rows per pass (each replicated k times)
        w0_parts, cols_parts = [], []
        for lo in range(0, b, rows_per):
            hi = min(b, lo + rows_per)
            n = hi - lo
            rep = w[lo:hi].repeat(k, 1).detach().requires_grad_(True)  # row j·n + i: copy j of row lo + i
            with torch.enable_grad():
                w0 = denoise_rows(rep, k, lo, hi)
                obs = self.observe(w0)  # (k n, D′)
                cot = torch.zeros(k, n, obs.shape[1], dtype=obs.dtype, device=obs.device)
                cot.scatter_(2, order[lo:hi].T.reshape(k, n, 1), valid[lo:hi].T.reshape(k, n, 1).to(obs.dtype))
                (g,) = torch.autograd.grad((obs * cot.reshape(k * n, -1)).sum(), rep)  # rows: m_jᵀ J
            w0_parts.append(w0.detach()[:n])
            cols_parts.append((g * ratio).reshape(k, n, d).permute(1, 0, 2))  # (n, k, D): (C Mᵀ)ᵀ rows
        w0 = torch.cat(w0_parts)
        cols = torch.cat(cols_parts)  # (B, k, D)
        m_cols = self.observe(cols.reshape(b * k, d), linear=True).reshape(b, k, -1)  # (B, k, D′)
        s = torch.gather(m_cols, 2, order[:, None, :].expand(b, k, k))  # s[b, j, i] = m_i · C m_j
        s = 0.5 * (s + s.transpose(1, 2))
        pad = ~(valid[:, :, None] & valid[:, None, :])
        s = s.masked_fill(pad, 0.0)
        vals, vecs = torch.linalg.eigh(s + torch.diag_embed((~valid).to(s.dtype)))
        floor = self.jitter * vals.abs().amax(1, keepdim=True) + 1e-12
        resid = torch.gather(self.observation() - self.observe(w0), 1, order) * valid  # (B, k)
        inv = torch.where(vals > floor, 1.0 / vals.clamp_min(floor), torch.zeros_like(vals))  # pseudo-inverse
        z = vecs @ ((vecs.transpose(1, 2) @ resid[..., None]) * inv[..., None])
        return w0, w0 + (cols * z).sum(1)

    def harmonise(self, run, w: Tensor, t: float, s: float, denoise) -> Tensor:
        """``resample`` RePaint rounds at ``t``: DDPM step to ``s``, forward jump back to ``t``, re-impose."""
        (a_t, s_t), (a_s, s_s) = run.coeffs(t), run.coeffs(s)
        ratio = a_t / a_s
        jump = (s_t**2 - ratio**2 * s_s**2).clamp_min(0.0).sqrt()
        for _ in range(self.resample):
            w0 = self.impose(denoise(w), torch.ones_like(a_t), torch.zeros_like(s_t), None)
            w_s = bridge_step(w, w0, a_t, s_t, a_s, s_s, 1.0, run.randn())
            w = self.impose(ratio * w_s + jump * run.randn(), a_t, s_t, run.randn())
        return w


def coarse_known(process: Process, lowres: Tensor, resample: int = 0, method: str = "replace") -> Known:
    """Super-resolution: the coarse band of a ``(N, C, H/f, W/f)`` image is known, the detail is generated.

    * a Haar run (levels ≥ log₂ f) or a DCT run: the top-left ``(H/f, W/f)`` block of the run's own
      components, any schedule or prior. Haar's block holds the f×f block means (the low-res image
      upsampled by repetition); DCT's holds the low frequencies (DCT interpolation of the low-res image).
    * any run with an isotropic process (one γ, one prior scale — e.g. a plain pixel DDPM): the f×f
      block means, i.e. the coarse band of an auxiliary Haar basis (DCT band when f is not a power of 2).

    Args:
        process: the run's process; its data must be images ``(C, H, W)``.
        lowres: normalised low-resolution images ``(N, C, H/f, W/f)``.
        resample: RePaint rounds per step.
        method: ``"replace"`` or ``"moment"`` (:class:`Known`).

    Raises:
        DifflabError: for a size that does not divide the run's, or a run that cannot use a coarse band.
    """
    shape = tuple(process.shape)
    if len(shape) != 3 or lowres.ndim != 4 or lowres.shape[1] != shape[0]:
        raise DifflabError(
            f"upsampling needs image runs and low-res images (N, {shape[0]}, h, w), got {tuple(lowres.shape)}"
        )
    c, h, w = shape
    f = h // lowres.shape[2]
    if f < 2 or h != f * lowres.shape[2] or w != f * lowres.shape[3]:
        raise DifflabError(
            f"the low-res size {tuple(lowres.shape[2:])} must be the run's {(h, w)} divided by an integer ≥ 2"
        )
    levels = f.bit_length() - 1
    pow2 = f == 2**levels
    low = lowres.to(torch.float64)
    block = torch.zeros(c, h, w, dtype=torch.float64)
    block[:, : h // f, : w // f] = 1
    repeated = low.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3)

    def dct_values() -> Tensor:
        comps = torch.zeros(low.shape[0], c, h, w, dtype=torch.float64)
        comps[:, :, : h // f, : w // f] = f * DCTBasis(tuple(low.shape[1:])).to_components(low).reshape(low.shape)
        return DCTBasis(shape).from_components(comps.reshape(low.shape[0], -1))

    name = process.basis.name
    if name == "haar" and pow2 and process.basis.levels >= levels:
        return Known(repeated, block.reshape(-1), basis="run", resample=resample, method=method)
    if name == "dct":
        return Known(dct_values(), block.reshape(-1), basis="run", resample=resample, method=method)
    if is_isotropic(process):
        if pow2:
            haar = HaarBasis(shape, levels=levels)
            return Known(repeated, block.reshape(-1), basis=haar, resample=resample, method=method)
        return Known(dct_values(), block.reshape(-1), basis=DCTBasis(shape), resample=resample, method=method)
    raise DifflabError(
        f"upsampling needs a Haar (levels >= {levels}) or DCT run, or a process with one schedule and one prior "
        f"scale for every component; this run has the {name} basis with a component-wise schedule or a data prior"
    )
