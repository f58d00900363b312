"""The fixed train/test split of scikit-learn's bundled 8x8 digits.

One function owns the split so the dataset loader and the shipped digits
classifier (used for classifier-Fréchet distance) can never disagree on it.
"""

import numpy as np

DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the fixed digits split, raw values in [0, 16].

    Returns:
        ``(x_train, y_train, x_test, y_test)``: images ``(N, 8, 8)`` float32 in
        [0, 16] and labels ``(N,)`` int64; 1437 train and 360 test images,
        stratified by label.
    """
    from sklearn.datasets import load_digits  # sklearn takes ~1 s to import: only when the split is built
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images.astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SPLIT_SEED, stratify=y
    )
    return x_tr, y_tr, x_te, y_te
