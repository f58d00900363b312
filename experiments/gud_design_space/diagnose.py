"""Why does a softness-0.1 model barely learn? Its loss, split by what each component is doing.

For trained runs (and for any study process without training) this evaluates, on a fixed set of test
images × a fixed grid of times × fixed noise, the squared error of ŵ₀ per whitened component and splits
it by the component's state at that time, using its *true* SNR_i(t) = Σ_i e^{−γ_i(t)}:

- ``clean``: SNR_i ≥ 100 (already generated; its ε/v target is noise the model cannot predict),
- ``active``: 1/100 < SNR_i < 100 (being generated now: the only part with something to learn),
- ``noised``: SNR_i ≤ 1/100 (not started; the best prediction is the mean).

Every model is scored in two currencies: its training objective's squared error (its own target, ε or
v, summed over the components of a class) and the x₀-MSE of the active components (comparable across
parameterisations). Two references use the same draws:

- ``gauss``: the exact denoiser of a Gaussian with the training mean and covariance (a linear model);
- ``diag``: the exact denoiser of independent per-component Gaussians (knows Σ_i only, no correlations);
  a network that learned nothing about the images does about this well.

A trained model that is not below ``diag`` on the active components has learned nothing about the
images; one below ``gauss`` has learned more than linear structure.

Usage (the CLI of every number in docs/process.md, "Why softness 0.1 barely learned"):

    python experiments/gud_design_space/diagnose.py --runs RUN_DIR[,RUN_DIR...] [--n 256 --times 20]
    python experiments/gud_design_space/diagnose.py --processes pixel:0.1:gud_code,pixel:inf:one_gamma
"""

import argparse
import json
import math
from pathlib import Path

import torch

from difflab.data import load_dataset
from difflab.models.run import load_run
from difflab.objectives.regression import regression_target
from difflab.pipeline.run import load_data
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle

SNR_CLEAN, SNR_NOISED = 100.0, 0.01
CLASSES = ("clean", "active", "noised")


def component_variance(process, train: torch.Tensor) -> torch.Tensor:
    """Σ_i: variance of each whitened component over the (centred) training split."""
    w = process.to_white(train.double())
    return w.var(0, correction=0).clamp_min(1e-12)


def classes_at(process, var: torch.Tensor, t: float) -> dict[str, torch.Tensor]:
    """Boolean ``(D,)`` masks of the clean / active / noised live components at time ``t``."""
    gamma = process.gamma(torch.tensor(t, dtype=torch.float64)).reshape(-1).cpu()
    snr = var * torch.exp(-gamma)
    live = process.active if process.active is not None else torch.ones_like(var, dtype=torch.bool)
    return {
        "clean": live & (snr >= SNR_CLEAN),
        "active": live & (snr > SNR_NOISED) & (snr < SNR_CLEAN),
        "noised": live & (snr <= SNR_NOISED),
    }


@torch.no_grad()
def evaluate_process(process, denoiser, train, test, times, seed) -> list[dict]:
    """Per time: summed v-MSE and x₀-MSE by component class, for the model (if any) and the references."""
    var = component_variance(process, train)
    x = train.double().flatten(1)
    gauss = GaussianOracle(process, x.mean(0), torch.cov(x.T, correction=0))
    g = torch.Generator().manual_seed(seed)
    w0 = process.to_white(test.double())
    rows = []
    for t in times:
        alpha, sigma = (c.double().cpu() for c in process.alpha_sigma(torch.tensor(t, dtype=torch.float64)))
        eps = torch.randn(w0.shape, generator=g, dtype=torch.float64)
        w_t = process.pin(alpha * w0 + sigma * eps)
        x_t = process.from_white(w_t)
        preds = {
            "gauss": process.to_white(gauss(x_t, t)),
            "diag": alpha * var * w_t / (alpha**2 * var + sigma**2),
        }
        # The diag predictor's error divided by σ, r = (ŵ₀ − w₀)/σ, in closed form (no cancellation where
        # σ ≈ 0): its error on a v target is r, on an ε target α r, on an x₀ target σ r.
        r = (alpha * var * eps - sigma * w0) / (alpha**2 * var + sigma**2)
        objective = {"diag": r}
        prediction = "v"
        if denoiser is not None:
            tt = torch.full((x_t.shape[0],), t, dtype=torch.float32)
            xf, wf = x_t.float(), w_t.float()
            out = denoiser.raw(xf, tt)
            preds["model"] = denoiser.output_to_white_x0(out, xf, tt).double()
            prediction = denoiser.prediction
            target = regression_target(prediction, w0, eps, alpha, sigma)
            objective["model"] = denoiser.output_to_white(out, wf, tt).double() - target
        if prediction in ("eps", "eps_gud"):
            objective["diag"] = alpha * r
        elif prediction == "x0":
            objective["diag"] = sigma * r
        masks = classes_at(process, var, t)
        row = {"t": t, "target": prediction, **{f"n_{c}": int(m.sum()) for c, m in masks.items()}}
        for name, w_hat in preds.items():
            sq = (w_hat - w0).pow(2)
            for c, m in masks.items():
                row[f"{name}_x0_{c}"] = float(sq[:, m].sum(1).mean())
                if name in objective:  # the training objective's squared error (model's own target)
                    row[f"{name}_obj_{c}"] = float(objective[name][:, m].pow(2).sum(1).mean())
        rows.append(row)
    return rows


def summarise(name: str, process, rows: list[dict]) -> str:
    """Averages over the uniform time grid (= the expected training loss split by class) and a per-t table."""
    names = [k for k in ("model", "gauss", "diag") if f"{k}_x0_clean" in rows[0]]
    avg = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k not in ("t", "target")}
    delta = float(process.schedule.delta) if hasattr(process.schedule, "delta") else float("nan")
    out = [f"### {name} (Δγ = {delta:.1f}; objective: {rows[0]['target']}-MSE summed over components)", ""]
    out.append(
        f"Components per class, averaged over uniform t: clean {avg['n_clean']:.1f}, active {avg['n_active']:.1f},"
        f" noised {avg['n_noised']:.1f}."
    )
    out.append("")
    head = ("predictor", "objective clean", "objective active", "objective noised", "objective total", "x₀-MSE active")
    out.append("| " + " | ".join(head) + " |")
    out.append("|---|---|---|---|---|---|")
    for k in names:
        obj = [avg.get(f"{k}_obj_{c}") for c in CLASSES]
        cells = " | ".join("—" if v is None else f"{v:.2f}" for v in obj)
        tot = "—" if None in obj else f"{sum(obj):.2f}"
        out.append(f"| {k} | {cells} | {tot} | {avg[f'{k}_x0_active']:.3f} |")
    out.append("")
    out.append("| t | clean/active/noised | " + " | ".join(f"{k} x₀-MSE active" for k in names) + " |")
    out.append("|---|---|" + "---|" * len(names))
    for r in rows:
        out.append(
            f"| {r['t']:.3f} | {r['n_clean']}/{r['n_active']}/{r['n_noised']} | "
            + " | ".join(f"{r[f'{k}_x0_active']:.3f}" for k in names)
            + " |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="", help="comma-separated run directories (EMA weights are scored)")
    ap.add_argument("--processes", default="", help="basis:softness:form,... scored without a model (digits)")
    ap.add_argument("--n", type=int, default=256, help="test images")
    ap.add_argument("--times", type=int, default=20, help="midpoints of a uniform grid on [0, 1]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write all rows here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    times = [(k + 0.5) / args.times for k in range(args.times)]
    results = {}
    for run_dir in filter(None, args.runs.split(",")):
        run = load_run(run_dir)
        data = load_data(run.cfg)
        process = run.denoiser.process
        rows = evaluate_process(process, run.denoiser, data.train, data.test[: args.n], times, args.seed)
        results[run_dir] = rows
        print(summarise(Path(run_dir).name, process, rows), flush=True)
    if args.processes:
        ds = load_dataset("digits")
        for spec in args.processes.split(","):
            basis, soft, form = spec.split(":")
            process = build_process(
                ds.train.shape[1:],
                basis=basis,
                schedule="soft",
                softness=math.inf if soft == "inf" else float(soft),
                soft_form=form,
                ordering="variance",
                center=True,
                deterministic_tol=1e-6,
                data=ds.train,
            )
            rows = evaluate_process(process, None, ds.train, ds.test[: args.n], times, args.seed)
            results[spec] = rows
            print(summarise(spec, process, rows), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
