"""How much of a quantity a representation holds: R² of probes on held-out data.

A linear probe (ridge regression on standardised features) measures what a
latent space holds linearly; a k-nearest-neighbour regressor on a 2-D
projection measures what a picture of that space shows. Both are fitted on
one part of the frames and scored on the others, so an R² near 1 means the
quantity can be read off the representation, and near 0 (or below) that it
cannot.
"""

from typing import Tuple

import numpy as np

RIDGE_ALPHAS = np.logspace(-6, 6, 25)


def held_out_split(
    n: int, test_fraction: float = 0.5, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """Random split of ``n`` items into probe-training and probe-test indices.

    Parameters
    ----------
    n : int
        Number of items (frames).
    test_fraction : float
        Fraction held out for scoring, in (0, 1).
    seed : int
        Seed of the permutation.

    Returns
    -------
    train, test : ndarray of int
        Sorted, disjoint, together ``range(n)``; each has at least 2 items.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(n * test_fraction))
    if n_test < 2 or n - n_test < 2:
        raise ValueError(
            f"{n} items split {1 - test_fraction:.2f}/{test_fraction:.2f} leave "
            "fewer than 2 on one side; use more frames"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def linear_probe_r2(X_train, y_train, X_test, y_test) -> float:
    """R² on held-out data of a ridge regression from features to a target.

    Features are standardised with the training statistics; the ridge
    penalty is chosen among :data:`RIDGE_ALPHAS` by efficient leave-one-out
    cross-validation on the training part (scikit-learn's ``RidgeCV``).

    Parameters
    ----------
    X_train : array_like, shape (n_train, F)
    y_train : array_like, shape (n_train,)
    X_test : array_like, shape (n_test, F)
    y_test : array_like, shape (n_test,)

    Returns
    -------
    float
        Coefficient of determination on the test part: 1 for a perfect
        prediction, 0 for predicting the mean, negative for worse.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
    probe.fit(np.asarray(X_train, dtype=np.float64), np.asarray(y_train))
    return _r2(y_test, probe.predict(np.asarray(X_test, dtype=np.float64)))


def knn_r2(embedding_train, y_train, embedding_test, y_test, k: int = 5) -> float:
    """R² on held-out points of a k-nearest-neighbour regression in an embedding.

    Parameters
    ----------
    embedding_train : array_like, shape (n_train, D)
        Coordinates (e.g. a 2-D projection) of the probe-training points.
    y_train : array_like, shape (n_train,)
    embedding_test : array_like, shape (n_test, D)
    y_test : array_like, shape (n_test,)
    k : int
        Neighbours averaged (uniform weights); at most ``n_train``.

    Returns
    -------
    float
        Coefficient of determination on the test points.
    """
    from sklearn.neighbors import KNeighborsRegressor

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    embedding_train = np.asarray(embedding_train, dtype=np.float64)
    regressor = KNeighborsRegressor(n_neighbors=min(k, len(embedding_train)))
    regressor.fit(embedding_train, np.asarray(y_train))
    return _r2(y_test, regressor.predict(np.asarray(embedding_test, np.float64)))


def _r2(y_true, y_pred) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(np.asarray(y_true), y_pred))
