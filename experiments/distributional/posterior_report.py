"""Tables and figure for docs/distributional.md from posterior_check.py and few_steps_fair.py outputs.

Usage::

    python experiments/distributional/posterior_report.py --runs runs/posterior_check/gmm2 --figures docs/figures
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LABELS = {
    "energy": "conditional energy, λ=1 β=1 m=8 (paper)",
    "m2": "m=2",
    "lam0": "λ=0 (no interaction)",
    "beta2": "β=2 (not strictly proper)",
    "joint": "joint energy form",
    "marginal": "marginal energy form",
}


def fmt(v: float) -> str:
    return f"{v:.3g}"


def load(runs: Path) -> dict:
    merged: dict = {}
    for f in sorted(runs.glob("posterior_*.json")):
        for name, seeds in json.loads(f.read_text()).items():
            merged.setdefault(name, {}).update(seeds)
    return merged


def stat(res: dict, name: str, key: str, t: str) -> tuple[float, float, int]:
    vals = [s[t][key] for s in res[name].values() if t in s]
    return float(np.mean(vals)), float(np.std(vals)), len(vals)


def posterior_tables(res: dict) -> str:
    times = sorted(next(iter(res["energy"].values())).keys(), key=float)
    lines = []
    tables = [
        ("energy", "energy distance"),
        ("mmd", "MMD² (RBF, per-x_t median bandwidth)"),
        ("var_ratio", "tr Cov(G) / tr Cov(exact)"),
    ]
    for key, title in tables:
        lines += [f"**{title}**, mean over K x_t per t (± std over seeds where there are 3):", ""]
        lines += ["| model | " + " | ".join(f"t={t}" for t in times) + " |", "|---|" + "---:|" * len(times)]
        if key != "var_ratio":
            row = [stat(res, "energy", f"{key}_floor", t) for t in times]
            lines.append("| floor: exact vs exact | " + " | ".join(f"{fmt(m)}" for m, _, _ in row) + " |")
        for name in [n for n in LABELS if n in res]:
            row = [stat(res, name, key, t) for t in times]
            cells = [f"{fmt(m)} ± {fmt(s)}" if n > 1 else fmt(m) for m, s, n in row]
            lines.append(f"| {LABELS[name]} (seeds: {row[0][2]}) | " + " | ".join(cells) + " |")
        if key != "var_ratio":
            row = [stat(res, "energy", f"{key}_point", t) for t in times]
            lines.append("| point mass at the exact posterior mean | " + " | ".join(fmt(m) for m, _, _ in row) + " |")
            if f"{key}_regression" in next(iter(res["energy"].values()))[times[0]]:
                row = [stat(res, "energy", f"{key}_regression", t) for t in times]
                cells = [f"{fmt(m)} ± {fmt(s)}" for m, s, _ in row]
                lines.append("| point mass at a regression model's x̂₀ (equal steps) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def posterior_figure(res: dict, path: Path) -> None:
    times = sorted(next(iter(res["energy"].values())).keys(), key=float)
    tf = [float(t) for t in times]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    for name in [n for n in LABELS if n in res]:
        m = [stat(res, name, "energy", t)[0] for t in times]
        s = [stat(res, name, "energy", t)[1] for t in times]
        ax.errorbar(tf, np.maximum(m, 1e-5), yerr=s, marker="o", ms=3, label=LABELS[name], capsize=2)
    floor_sd = [np.mean([sd[t]["energy_floor_sd"] for sd in res["energy"].values()]) for t in times]
    k = 48
    ax.plot(tf, 2 * np.array(floor_sd) / np.sqrt(k), "k:", label="floor noise (2 s.e. of exact vs exact)")
    ax.plot(tf, [stat(res, "energy", "energy_point", t)[0] for t in times], "k--", label="posterior mean (point mass)")
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("energy distance to exact p(x₀|x_t)")
    ax.legend(fontsize=6)
    ax = axes[1]
    for name in [n for n in LABELS if n in res]:
        ax.plot(tf, [stat(res, name, "var_ratio", t)[0] for t in times], marker="o", ms=3, label=LABELS[name])
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("tr Cov(G) / tr Cov(exact)")
    fig.suptitle("gmm 2-D: generator draws vs exact posterior draws (K=48 x_t per t, n=256 each)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def fair_tables(fair: dict) -> str:
    seeds = list(fair["seeds"].values())
    steps = list(seeds[0]["gen_churn0.0"].keys())
    tm, tg = fair["timing"], fair["targets"]
    lines = [
        f"seconds per training step (median of 3 rounds, 1 thread): generator {tm['gen_s_per_step']:.4f}, "
        f"regression {tm['reg_s_per_step']:.4f}, ratio {tm['ratio']:.2f}. Regression checkpoints: "
        + ", ".join(f"{k.replace('_', ' ')} = step {v}" for k, v in tg.items())
        + f" (nearest kept: {', '.join(str(seeds[0][f'reg_{k}_step']) for k in tg)}).",
        "",
        f"Energy distance to the test split (n = 1000; train-vs-test floor {fair['floor']:.4f}; the metric's own "
        f"noise, |ED| difference of two sample sets of one generator at 4 steps: "
        f"{np.mean([s['noise'] for s in seeds]):.4f} mean over seeds). Mean ± std over {len(seeds)} seeds; "
        "ε and the regression sampler chosen per step count on the selection split:",
        "",
        "| model | " + " | ".join(f"{k} steps" for k in steps) + " |",
        "|---|" + "---:|" * len(steps),
    ]

    def chosen(prefix_options: list[str], k: str) -> tuple[list[float], str]:
        # per seed: the option best on the selection split, reported on test
        vals, picks = [], []
        for s in seeds:
            best = min(prefix_options, key=lambda o: s[o][k]["select"])
            vals.append(s[best][k]["test"])
            picks.append(best.rsplit("_", 1)[-1])
        return vals, "/".join(sorted(set(picks)))

    gen_opts = ["gen_churn0.0", "gen_churn1.0"]
    rows = [("generator (ε chosen)", gen_opts)]
    for label in tg:
        opts = [f"reg_{label}_{n}" for n in ("ddim", "dpmpp2m", "ddpm")]
        rows.append((f"best regression sampler, {label.replace('_', ' ')}", opts))
    for label in ("equal_steps",):
        for n in ("ddim", "dpmpp2m", "ddpm"):
            rows.append((f"regression {n}, {label.replace('_', ' ')}", [f"reg_{label}_{n}"]))
    for title, opts in rows:
        cells = []
        for k in steps:
            vals, pick = chosen(opts, k)
            extra = f" ({pick})" if len(opts) > 1 else ""
            cells.append(f"{np.mean(vals):.3g} ± {np.std(vals):.2g}{extra}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=Path, default=Path("runs/posterior_check/gmm2"))
    p.add_argument("--figures", type=Path, default=None)
    a = p.parse_args()
    res = load(a.runs)
    print(posterior_tables(res))
    if a.figures:
        posterior_figure(res, a.figures / "distributional_posterior_check.png")
    fair = a.runs / "few_steps_fair.json"
    if fair.exists():
        print(fair_tables(json.loads(fair.read_text())))


if __name__ == "__main__":
    main()
