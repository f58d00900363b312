"""Linear probe of codes: k-fold logistic regression (DMZ, arXiv 2506.00136, probes its soft codes)."""

import numpy as np
from torch import Tensor

from difflab.errors import DifflabError


def linear_probe(
    codes: Tensor | np.ndarray, labels: Tensor | np.ndarray, folds: int = 5, seed: int = 0
) -> tuple[float, float]:
    """Accuracy of a standardised logistic regression on ``codes`` ``(N, d)`` for ``labels`` ``(N,)``.

    Stratified ``folds``-fold cross-validation; returns ``(mean accuracy, std over folds)``.
    """
    from sklearn.linear_model import LogisticRegression  # sklearn takes ~1 s to import: only when probing
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    y = np.asarray(labels).astype(int)
    if x.shape[0] != y.shape[0]:
        raise DifflabError(f"codes ({x.shape[0]}) and labels ({y.shape[0]}) must have the same length")
    counts = np.bincount(y - y.min()) if y.size else np.zeros(1, int)
    if folds < 2 or y.size == 0 or counts[counts > 0].min() < folds:
        raise DifflabError(f"need folds >= 2 and at least {folds} examples of every class for {folds}-fold probing")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(clf, x, y, cv=cv)
    return float(scores.mean()), float(scores.std())
