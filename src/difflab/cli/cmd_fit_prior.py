"""Fit a learned prior over a DMZ run's bits (a MADE) on the codes of its training split.

The prior is stored beside the run's checkpoint (code_prior.safetensors + code_prior.json);
`difflab sample RUN --codes prior` and `difflab evaluate RUN --codes prior` then draw z from it.
Prints its NLL in bits per code against the plug-in entropy of the training codes and the d bits of fair coins.
"""

from difflab.cli.common import add_device_argument, add_seed_argument, positive_int
from difflab.errors import DifflabError

HELP = "fit-prior: difflab fit-prior RUN [--epochs 200 --hidden 256] (a MADE over the bits of a DMZ run)"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder of a binary-code (DMZ) run")
    p.add_argument("--hidden", type=positive_int, default=256, help="width of the MADE's hidden layers")
    p.add_argument("--layers", type=positive_int, default=2, help="hidden layers of the MADE")
    p.add_argument(
        "--epochs", type=positive_int, default=200, help="passes over the training codes (best held-out epoch kept)"
    )
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    add_seed_argument(p, help="seed of the held-out split, the initialisation and the batch order")
    add_device_argument(p)


def run(args):
    if not args.lr > 0:
        raise DifflabError(f"--lr must be > 0, got {args.lr}")
    from difflab.dmz.prior import fit_code_prior
    from difflab.pipeline import load_run

    loaded = load_run(args.run, device=args.device)
    s = fit_code_prior(loaded, hidden=args.hidden, layers=args.layers, epochs=args.epochs, lr=args.lr, seed=args.seed)
    print(
        f"code prior (MADE, {s['dim']} bits) written to {loaded.path}/code_prior.safetensors: NLL bits/code "
        f"held-out train {s['nll_bits_val']:.3f} (fit {s['nll_bits_fit']:.3f}), test {s['nll_bits_test']:.3f}; "
        f"plug-in entropy of the {s['n_fit'] + s['n_val']} training codes {s['empirical_entropy_bits']:.3f} "
        f"({s['unique_codes']} distinct); fair bits {s['fair_bits']}"
    )
