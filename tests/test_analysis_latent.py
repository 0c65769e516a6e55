"""Last-layer features per atom and per structure, and their projections."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_model

from mlpot.analysis.latent import project, structure_features
from mlpot.data import Frames, read_frames
from mlpot.model.base import UnknownSpeciesError
from mlpot.train.batches import random_orthogonal_matrices

TRAIN_FILE = Path(__file__).parent / "data" / "rmd17_ethanol_train_01_subset.npz"


@pytest.fixture(scope="module")
def frames():
    return read_frames(TRAIN_FILE).subset(range(6))


def turned(frames, seed=0):
    """The frames, each turned by its own random rotation or improper rotation."""
    generator = torch.Generator().manual_seed(seed)
    matrices = random_orthogonal_matrices(len(frames), generator).numpy()
    positions = frames.positions.reshape(len(frames), -1, 3)
    moved = np.einsum("fnj,fij->fni", positions, matrices) + 2.5
    assert (np.linalg.det(matrices) < 0).any() and (np.linalg.det(matrices) > 0).any()
    return Frames(moved.reshape(-1, 3), frames.numbers, frames.n_atoms)


def test_shapes_and_pooling(frames):
    model = make_model("equivariant")
    per_atom, pooled = structure_features(model, frames)
    width = model.config.num_features
    assert per_atom.shape == (int(frames.n_atoms.sum()), width)
    assert pooled.shape == (len(frames), width)
    assert per_atom.dtype == pooled.dtype == np.float64
    np.testing.assert_allclose(pooled[2], per_atom[18:27].mean(axis=0))


def test_features_are_deterministic_and_independent_of_batching(frames):
    model = make_model("invariant")
    first = structure_features(model, frames, batch_size=4)
    second = structure_features(model, frames, batch_size=4)
    one_by_one = structure_features(model, frames, batch_size=1)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_allclose(first[1], one_by_one[1], atol=1e-12)


def test_float32_model_is_evaluated_in_float64_and_left_as_it_was(frames):
    model64 = make_model("invariant")
    model32 = make_model("invariant").float()
    model32.load_state_dict(model64.state_dict())
    _, pooled64 = structure_features(model64, frames)
    _, pooled32 = structure_features(model32, frames)
    np.testing.assert_allclose(pooled32, pooled64, atol=1e-5)
    assert next(model32.parameters()).dtype == torch.float32


@pytest.mark.parametrize("kind", ["equivariant", "invariant"])
def test_scalar_features_are_invariant_under_rotations_and_inversions(kind, frames):
    model = make_model(kind)
    per_atom, _ = structure_features(model, frames)
    moved, _ = structure_features(model, turned(frames))
    assert np.abs(per_atom).max() > 1e-3
    np.testing.assert_allclose(moved, per_atom, atol=1e-10)


def test_cartesian_features_change_under_rotations(frames):
    model = make_model("cartesian")
    per_atom, _ = structure_features(model, frames)
    moved, _ = structure_features(model, turned(frames))
    assert np.abs(moved - per_atom).max() > 1e-2 * np.abs(per_atom).max()


def test_unknown_elements_are_refused(frames):
    model = make_model("invariant", species=(1, 6))
    with pytest.raises(UnknownSpeciesError, match="O"):
        structure_features(model, frames)


def test_pca_recovers_a_plane_and_tsne_is_seeded():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(60, 2))
    mixing = rng.normal(size=(2, 6))
    features = factors @ mixing + 1e-6 * rng.normal(size=(60, 6))
    plane = project(features, "pca")
    assert plane.shape == (60, 2)
    # The two components span the plane of the factors: a linear map recovers them.
    design = np.column_stack([plane, np.ones(60)])
    residual = np.linalg.lstsq(design, factors, rcond=None)[1]
    assert residual.max() < 1e-8 * (factors**2).sum()
    first = project(features, "tsne", seed=3)
    assert first.shape == (60, 2)
    np.testing.assert_array_equal(first, project(features, "tsne", seed=3))


def test_project_explains_bad_input():
    with pytest.raises(ValueError, match="unknown projection 'umap'"):
        project(np.zeros((5, 3)), "umap")
    with pytest.raises(ValueError, match="n >= 3"):
        project(np.zeros((2, 3)))
