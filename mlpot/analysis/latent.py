"""Latent spaces: last-layer features per atom and per structure, 2-D projections.

The features are those the energy readout sees (`Potential.features`): for
the equivariant model its scalar (0e) channels, invariant under rotations and
inversions; for the invariant model its node features.
"""

import copy
from typing import Tuple

import numpy as np
import torch

from mlpot.data import Frames
from mlpot.graph import collate, from_frames
from mlpot.model.base import Potential

PROJECTIONS = ("pca", "tsne")


def structure_features(
    model: Potential, frames: Frames, batch_size: int = 16
) -> Tuple[np.ndarray, np.ndarray]:
    """Last-layer features of every atom, and their mean over each structure.

    The model is evaluated in float64 (a float64 copy is used when it is in
    another precision; the caller's model is left as it is), so the result is
    deterministic and does not depend on ``batch_size`` beyond rounding.

    Parameters
    ----------
    model : Potential
        Any mlpot potential.
    frames : Frames
        Structures (labels are not needed); positions in Å.
    batch_size : int
        Structures per forward pass.

    Returns
    -------
    per_atom : ndarray, shape (A, F), float64
        Features of all A atoms, in the order of ``frames``.
    pooled : ndarray, shape (n_frames, F), float64
        Mean of the features over the atoms of each frame.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(frames) == 0:
        raise ValueError("no frames given: features need at least one structure")
    model.check_species(frames.numbers)
    if next(model.parameters()).dtype != torch.float64:
        model = copy.deepcopy(model).double()
    graphs = from_frames(frames, model.r_max)
    chunks = []
    with torch.no_grad():
        for start in range(0, len(graphs), batch_size):
            batch = collate(graphs[start : start + batch_size])
            chunks.append(model.features(batch).double().cpu().numpy())
    per_atom = np.concatenate(chunks)
    pooled = np.add.reduceat(per_atom, frames.offsets[:-1], axis=0)
    return per_atom, pooled / frames.n_atoms[:, None]


def project(
    features, method: str = "pca", seed: int = 0, perplexity: float = 30.0
) -> np.ndarray:
    """Two-dimensional projection of standardised features.

    Each feature is centred and scaled to unit variance first, so that no
    channel dominates by its scale alone.

    Parameters
    ----------
    features : array_like, shape (n, F)
        One row per structure, e.g. the ``pooled`` output of
        :func:`structure_features`.
    method : str
        ``"pca"`` (the two leading principal components) or ``"tsne"``
        (scikit-learn's t-SNE, initialised from PCA).
    seed : int
        Random state of the projection.
    perplexity : float
        t-SNE perplexity; lowered to ``(n - 1) / 3`` for small ``n``.

    Returns
    -------
    ndarray, shape (n, 2), float64
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 3:
        raise ValueError(
            f"features must have shape (n, F) with n >= 3; got {features.shape}"
        )
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection '{method}'; choose one of {PROJECTIONS}")
    scaled = StandardScaler().fit_transform(features)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(scaled)
    tsne = TSNE(
        n_components=2,
        perplexity=min(perplexity, (len(features) - 1) / 3),
        init="pca",
        random_state=seed,
    )
    return tsne.fit_transform(scaled).astype(np.float64)
