"""Fit the learned prior over a DMZ run's bits (a MADE, :mod:`difflab.models.code_prior`).

The prior is fitted *after* the autoencoder, on the hard codes of the training split
(10 % of them held out to pick the epoch), and stored beside the run's checkpoint;
``difflab sample`` / ``evaluate`` ``--codes prior`` then draw z from it. The statistics
say how much the joint law of the bits matters: the NLL in bits per code (on held-out
training codes and on the test split's codes) against the plug-in entropy of the training
codes (≤ log₂ N) and the d bits that fair coins spend.
"""

from difflab.dmz.codes import coded_model
from difflab.errors import DifflabError
from difflab.models.code_prior import fit_made, save_prior
from difflab.models.coded import encode_batch
from difflab.models.run import LoadedRun, load_data


def fit_code_prior(
    run: LoadedRun, *, hidden: int = 256, layers: int = 2, epochs: int = 200, lr: float = 3e-3, seed: int = 0
) -> dict:
    """Fit a MADE to the run's training codes, store it in the checkpoint folder, return its statistics."""
    model = coded_model(run)
    if model.encoder.kind != "binary":
        raise DifflabError(f"{run.path}: a learned code prior is for binary (DMZ) codes, not {model.encoder.kind}")
    data = load_data(run.cfg)
    codes = encode_batch(model, data.train, hard=True)
    made, stats = fit_made(codes, hidden=hidden, layers=layers, epochs=epochs, lr=lr, seed=seed)
    stats["nll_bits_test"] = made.nll_bits(encode_batch(model, data.test, hard=True))
    stats["fair_bits"] = int(codes.shape[1])
    stats.update(hidden=hidden, layers=layers, lr=lr)
    save_prior(run.path, made, stats)
    model._prior.clear()  # the next draw reads the new file
    return stats
