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


K = 48  # conditioning points per t (posterior_check.py --k)


def fmt(v: float) -> str:
    return f"{v:.2g}" if abs(v) < 10 else f"{v:.0f}"


def load(runs: Path) -> dict:
    merged: dict = {}
    for f in sorted(runs.glob("posterior_*.json")):
        for name, seeds in json.loads(f.read_text()).items():
            merged.setdefault(name, {}).update(seeds)
    return merged


def stat(res: dict, name: str, key: str, t: str, scale: float = 1.0) -> tuple[float, float, int]:
    vals = [scale * s[t][key] for s in res[name].values() if t in s]
    return float(np.mean(vals)), float(np.std(vals)), len(vals)


def posterior_tables(res: dict) -> str:
    times = sorted(next(iter(res["energy"].values())).keys(), key=float)
    lines = []
    tables = [
        ("energy", "energy distance × 10³"),
        ("mmd", "MMD² × 10³ (RBF, per-x_t median bandwidth)"),
        ("var_ratio", "tr Cov(G) / tr Cov(exact)"),
    ]
    for key, title in tables:
        sc = 1.0 if key == "var_ratio" else 1e3
        lines += [f"**{title}**, mean over K x_t per t (± std over seeds where there are 3):", ""]
        lines += ["| model | " + " | ".join(f"t={t}" for t in times) + " |", "|---|" + "---:|" * len(times)]
        if key != "var_ratio":
            row = [stat(res, "energy", f"{key}_floor", t, sc) for t in times]
            se = [2 * stat(res, "energy", f"{key}_floor_sd", t, sc)[0] / np.sqrt(K) for t in times]
            cells = [f"{fmt(m)} (2 s.e. {fmt(e)})" for (m, _, _), e in zip(row, se)]
            lines.append("| floor: exact vs exact | " + " | ".join(cells) + " |")
        for name in [n for n in LABELS if n in res]:
            row = [stat(res, name, key, t, sc) for t in times]
            cells = [f"{fmt(m)} ± {fmt(s)}" if n > 1 else fmt(m) for m, s, n in row]
            lines.append(f"| {LABELS[name]} (seeds: {row[0][2]}) | " + " | ".join(cells) + " |")
        if key != "var_ratio":
            row = [stat(res, "energy", f"{key}_point", t, sc) for t in times]
            lines.append("| point mass at the exact posterior mean | " + " | ".join(fmt(m) for m, _, _ in row) + " |")
            if f"{key}_regression" in next(iter(res["energy"].values()))[times[0]]:
                row = [stat(res, "energy", f"{key}_regression", t, sc) for t in times]
                cells = [f"{fmt(m)} ± {fmt(s)}" for m, s, _ in row]
                lines.append("| point mass at a regression model's x̂₀ (equal steps) | " + " | ".join(cells) + " |")
        lines.append("")
    title = "**energy distance relative to the posterior-mean point mass** (1 = no better than a regression model):"
    lines += [title, ""]
    lines += ["| model | " + " | ".join(f"t={t}" for t in times) + " |", "|---|" + "---:|" * len(times)]
    for name in [n for n in LABELS if n in res]:
        cells = []
        for t in times:
            vals = [sd[t]["energy"] / sd[t]["energy_point"] for sd in res[name].values()]
            cells.append(f"{fmt(np.mean(vals))}" + (f" ± {fmt(np.std(vals))}" if len(vals) > 1 else ""))
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
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
    ax.plot(tf, 2 * np.array(floor_sd) / np.sqrt(K), "k:", label="floor noise (2 s.e. of exact vs exact)")
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
        f"Energy distance × 10³ to the test split (n = 1000; train-vs-test floor {1e3 * fair['floor']:.2f}; the "
        f"metric's own noise, |ED| difference of two sample sets of one generator at 4 steps: "
        f"{1e3 * np.mean([s['noise'] for s in seeds]):.2f} mean over seeds). Mean ± std over {len(seeds)} seeds; "
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
            extra = f" ({pick.replace('churn', 'ε=')})" if len(opts) > 1 else ""
            cells.append(f"{1e3 * np.mean(vals):.3g} ± {1e3 * np.std(vals):.2g}{extra}")
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
    parts = [json.loads(f.read_text()) for f in sorted(a.runs.glob("few_steps_fair_*.json"))]
    if parts:  # one file per batch of seeds; the timing and targets are shared (timing.json)
        fair = parts[0] | {"seeds": {k: v for part in parts for k, v in part["seeds"].items()}}
        print(fair_tables(fair))


if __name__ == "__main__":
    main()
